"""Tests for gancore.nn: equalized layers (ProGAN §4.1), PixelNorm (§4.2), minibatch statistics (§3), resampling."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gancore.nn import (
    Downsample2x,
    EqualizedConv2d,
    EqualizedLinear,
    LayerNorm2d,
    MinibatchDiscrimination,
    MinibatchStdDev,
    PixelNorm,
    Upsample2x,
    downsample2x,
    upsample2x,
)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


# --- equalized learning rate (ProGAN §4.1) -----------------------------------------------------------------------------
@pytest.mark.parametrize("gain", [1.0, math.sqrt(2)])
@pytest.mark.parametrize("equalized", [True, False])
def test_linear_effective_weight_std_is_he(gain: float, equalized: bool) -> None:
    layer = EqualizedLinear(in_features=512, out_features=256, gain=gain, equalized=equalized)
    he_std = gain / math.sqrt(512)
    assert layer.scaled_weight().std().item() == pytest.approx(he_std, rel=0.03)
    # Equalized: stored weights are N(0, 1) and the He constant is applied at runtime; plain: stored already at He.
    stored_std = 1.0 if equalized else he_std
    assert layer.weight.std().item() == pytest.approx(stored_std, rel=0.03)
    assert layer.weight_scale == (pytest.approx(he_std) if equalized else 1.0)
    assert torch.count_nonzero(layer.bias) == 0


@pytest.mark.parametrize("equalized", [True, False])
@pytest.mark.parametrize("kernel_size,padding", [(1, None), (3, None), (4, 0), (3, 0)])
def test_conv_matches_functional_conv_with_scaled_weight(equalized: bool, kernel_size: int,
                                                          padding: int | None) -> None:
    conv = EqualizedConv2d(in_channels=6, out_channels=5, kernel_size=kernel_size, padding=padding,
                           equalized=equalized)
    with torch.no_grad():
        conv.bias.normal_()
    x = torch.randn(2, 6, 8, 8)
    c = math.sqrt(2) / math.sqrt(6 * kernel_size**2) if equalized else 1.0
    pad = kernel_size // 2 if padding is None else padding
    expected = F.conv2d(x, conv.weight * c, conv.bias, padding=pad)
    torch.testing.assert_close(conv(x), expected)
    assert conv(x).shape == (2, 5, 8 + 2 * pad - kernel_size + 1, 8 + 2 * pad - kernel_size + 1)


def test_conv_effective_weight_std_uses_full_fan_in() -> None:
    conv = EqualizedConv2d(in_channels=64, out_channels=64, kernel_size=3)
    assert conv.scaled_weight().std().item() == pytest.approx(math.sqrt(2) / math.sqrt(64 * 9), rel=0.03)


def test_linear_matches_functional_linear_and_lr_mul_scales_bias() -> None:
    layer = EqualizedLinear(in_features=7, out_features=3, gain=1.0, lr_mul=0.01)
    with torch.no_grad():
        layer.bias.fill_(2.0)
    x = torch.randn(4, 7)
    expected = F.linear(x, layer.weight * (0.01 / math.sqrt(7)), layer.bias * 0.01)
    torch.testing.assert_close(layer(x), expected)
    # lr_mul stores weights with std 1/lr_mul so the effective weight is still He-scaled.
    big = EqualizedLinear(in_features=512, out_features=256, gain=1.0, lr_mul=0.01)
    assert big.scaled_weight().std().item() == pytest.approx(1 / math.sqrt(512), rel=0.03)


def test_bias_false_has_no_bias() -> None:
    layer = EqualizedConv2d(in_channels=2, out_channels=3, kernel_size=3, bias=False)
    assert layer.bias is None and sum(p.numel() for p in layer.parameters()) == 2 * 3 * 9


@pytest.mark.parametrize("kwargs,match", [
    (dict(in_features=0, out_features=3), "fan_in"),
    (dict(in_features=3, out_features=3, gain=0.0), "gain"),
    (dict(in_features=3, out_features=3, lr_mul=0.0), "lr_mul"),
    (dict(in_features=3, out_features=3, lr_mul=0.5, equalized=False), "equalized"),
])
def test_equalized_linear_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        EqualizedLinear(**kwargs)


def test_equalized_conv_rejects_bad_kernel_and_padding() -> None:
    with pytest.raises(ValueError, match="kernel_size"):
        EqualizedConv2d(in_channels=1, out_channels=1, kernel_size=0)
    with pytest.raises(ValueError, match="padding"):
        EqualizedConv2d(in_channels=1, out_channels=1, kernel_size=3, padding=-1)


# --- PixelNorm (ProGAN §4.2) ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 16), (2, 8, 4, 5)])
def test_pixelnorm_gives_unit_mean_square_and_matches_formula(shape: tuple[int, ...]) -> None:
    x = torch.randn(shape) * 7 + 1
    y = PixelNorm()(x)
    torch.testing.assert_close(y.pow(2).mean(dim=1), torch.ones(shape[:1] + shape[2:]))
    a = x.numpy().astype(np.float64)
    expected = a / np.sqrt((a**2).mean(axis=1, keepdims=True) + 1e-8)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_pixelnorm_finite_on_zero_input_and_rejects_1d() -> None:
    assert torch.equal(PixelNorm()(torch.zeros(2, 4, 3, 3)), torch.zeros(2, 4, 3, 3))
    with pytest.raises(ValueError, match="PixelNorm"):
        PixelNorm()(torch.zeros(5))
    with pytest.raises(ValueError, match="eps"):
        PixelNorm(eps=-1.0)


# --- layer norm of the WGAN-GP critic (ProGAN App. A.2) ------------------------------------------------------------
@pytest.mark.parametrize("hw", [4, 8])
def test_layernorm2d_normalises_each_sample_over_chw(hw: int) -> None:
    x = torch.randn(3, 6, hw, hw) * 5 + 2
    norm = LayerNorm2d(num_channels=6)
    torch.testing.assert_close(norm(x), F.layer_norm(x, (6, hw, hw), eps=1e-5))
    assert sum(p.numel() for p in norm.parameters()) == 2 * 6  # per-channel affine only


# --- minibatch standard deviation (ProGAN §3, App. A.1) -----------------------------------------------------------
def _mbstd_numpy(x: np.ndarray, group: int) -> np.ndarray:
    """Reference written from the paper's description, with explicit loops over samples."""
    n, c, h, w = x.shape
    m = n // group
    out = np.empty((n, c + 1, h, w))
    for i in range(n):
        members = x[[j for j in range(n) if j % m == i % m]]  # sample i's group, official G×(N/G) layout
        std = np.sqrt(((members - members.mean(axis=0)) ** 2).mean(axis=0) + 1e-8)
        out[i, :c] = x[i]
        out[i, c] = std.mean()
    return out


@pytest.mark.parametrize("n,group_size,expected_group", [
    (8, 4, 4), (4, 4, 4), (2, 4, 2), (6, 4, 3), (5, 4, 1), (3, 4, 3), (1, 4, 1), (8, 2, 2), (6, 1, 1),
])
def test_mbstd_matches_numpy_and_falls_back_to_divisor(n: int, group_size: int, expected_group: int) -> None:
    layer = MinibatchStdDev(group_size=group_size)
    assert layer.effective_group_size(n) == expected_group
    x = torch.randn(n, 5, 3, 3, dtype=torch.float64)
    y = layer(x)
    assert y.shape == (n, 6, 3, 3)
    np.testing.assert_allclose(y.numpy(), _mbstd_numpy(x.numpy(), expected_group), rtol=1e-10)


def test_mbstd_gradient_is_finite_for_identical_samples() -> None:
    x = torch.ones(4, 3, 2, 2, requires_grad=True)
    y = MinibatchStdDev()(x)
    torch.testing.assert_close(y[:, 3], torch.full((4, 2, 2), 1e-4))
    y.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_mbstd_rejects_bad_group_and_input() -> None:
    with pytest.raises(ValueError, match="group_size"):
        MinibatchStdDev(group_size=0)
    with pytest.raises(ValueError, match="N×C×H×W"):
        MinibatchStdDev()(torch.zeros(4, 3))


# --- minibatch discrimination (Salimans et al. 2016; ProGAN Table 1 row e*) ------------------------------------------
@pytest.mark.parametrize("n,a,b,c", [(4, 16, 8, 3), (3, 5, 2, 1)])
def test_mbdisc_shape_and_matches_loop(n: int, a: int, b: int, c: int) -> None:
    layer = MinibatchDiscrimination(in_features=a, num_kernels=b, kernel_dim=c).double()
    x = torch.randn(n, a, dtype=torch.float64)
    y = layer(x)
    assert y.shape == (n, a + b) and layer.out_features == a + b
    m = (x.numpy() @ layer.T.detach().numpy()).reshape(n, b, c)
    expected = np.array([[sum(np.exp(-np.abs(m[i, k] - m[j, k]).sum()) for j in range(n) if j != i)
                          for k in range(b)] for i in range(n)])
    np.testing.assert_allclose(y[:, a:].detach().numpy(), expected, rtol=1e-10)
    torch.testing.assert_close(y[:, :a], x)


def test_mbdisc_identical_samples_get_identical_features() -> None:
    layer = MinibatchDiscrimination(in_features=6, num_kernels=4, kernel_dim=2)
    x = torch.randn(1, 6).expand(5, 6)
    y = layer(x)
    torch.testing.assert_close(y, y[:1].expand(5, 10))
    # Every other sample is at L1 distance 0, so each statistic is the number of other samples.
    torch.testing.assert_close(y[:, 6:], torch.full((5, 4), 4.0))
    y.sum().backward()
    assert torch.isfinite(layer.T.grad).all()


def test_mbdisc_rejects_wrong_shapes() -> None:
    with pytest.raises(ValueError, match="num_kernels"):
        MinibatchDiscrimination(in_features=4, num_kernels=0, kernel_dim=2)
    with pytest.raises(ValueError, match="N×4"):
        MinibatchDiscrimination(in_features=4, num_kernels=2, kernel_dim=2)(torch.zeros(3, 5))


# --- resampling (ProGAN App. A.1) --------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(2, 3, 4, 4), (1, 2, 6, 8)])
def test_up_and_downsample_match_numpy(shape: tuple[int, ...]) -> None:
    x = torch.randn(shape)
    a = x.numpy()
    up = np.repeat(np.repeat(a, 2, axis=2), 2, axis=3)
    np.testing.assert_allclose(upsample2x(x).numpy(), up, rtol=0, atol=0)
    np.testing.assert_allclose(Upsample2x()(x).numpy(), up, rtol=0, atol=0)
    n, c, h, w = shape
    down = a.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))
    np.testing.assert_allclose(downsample2x(x).numpy(), down, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(Downsample2x()(x).numpy(), down, rtol=1e-6, atol=1e-6)
    # Average pooling exactly undoes replication.
    torch.testing.assert_close(downsample2x(upsample2x(x)), x)


def test_resampling_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="even"):
        downsample2x(torch.zeros(1, 1, 5, 4))
    with pytest.raises(ValueError, match="N×C×H×W"):
        upsample2x(torch.zeros(3, 4))
