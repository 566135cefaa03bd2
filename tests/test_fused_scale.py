"""gancore.nn.fused_scale: a 2× nearest upsample + "same" conv as one stride-2 transposed conv (the authors'
fused_scale), against the unfused pair in float64, through every order of gradient, and as ProGAN's switch."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gancore.nn import EqualizedConv2d, Upsample2x
from gancore.nn.fused_scale import fuse_upsample, upsample_conv2d, upsample_conv_kernel
from gancore.recipes import progan

CPU = torch.device("cpu")


def _pair(x, w, b):
    return F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), w, b, padding=w.shape[-1] // 2)


@pytest.mark.parametrize("k", [1, 3, 5, 7])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("size", [(1, 1), (4, 4), (3, 5)])
def test_fused_upsample_conv_equals_upsample_then_conv(k, bias, size):
    g = torch.Generator().manual_seed(k)
    x = torch.randn(2, 3, *size, dtype=torch.float64, generator=g)
    w = torch.randn(4, 3, k, k, dtype=torch.float64, generator=g)
    b = torch.randn(4, dtype=torch.float64, generator=g) if bias else None
    y = upsample_conv2d(x, w, b)
    assert y.shape == (2, 4, 2 * size[0], 2 * size[1])
    torch.testing.assert_close(y, _pair(x, w, b), rtol=1e-12, atol=1e-12)


def test_the_3x3_kernel_is_the_flipped_adjacent_sums():
    # Independent 1-D check of K[j] = w[p-j] + w[p+1-j] (w zero outside -p..p), then as the outer product in 2-D.
    w1 = torch.tensor([1.0, 10.0, 100.0], dtype=torch.float64)
    expected = torch.tensor([100.0, 110.0, 11.0, 1.0], dtype=torch.float64)
    K = upsample_conv_kernel(torch.outer(w1, w1)[None, None])
    torch.testing.assert_close(K[0, 0], torch.outer(expected, expected))


@pytest.mark.parametrize("use_gradfix", [False, True])
def test_fused_upsample_conv_gradients_of_every_order_match(use_gradfix):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 2, 3, 3, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.randn(3, 2, 3, 3, dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, generator=g, requires_grad=True)
    grads = []
    for f in (lambda: upsample_conv2d(x, w, b, use_gradfix=use_gradfix), lambda: _pair(x, w, b)):
        y = f()
        gx, = torch.autograd.grad(y.square().sum(), x, create_graph=True)  # a penalty-like second order term
        grads.append(torch.autograd.grad(gx.square().sum(), (x, w, b)))
    for a, e in zip(*grads):
        torch.testing.assert_close(a, e, rtol=1e-10, atol=1e-10)
    assert torch.autograd.gradgradcheck(lambda x_, w_: upsample_conv2d(x_, w_, None, use_gradfix=use_gradfix),
                                        (x, w))


def test_upsample_conv_kernel_refuses_even_kernels():
    with pytest.raises(ValueError, match="odd k"):
        upsample_conv_kernel(torch.zeros(2, 2, 4, 4))


def test_fuse_upsample_switches_pairs_and_keeps_the_state_dict():
    torch.manual_seed(0)
    seq = torch.nn.Sequential(Upsample2x(), EqualizedConv2d(in_channels=3, out_channels=4, kernel_size=3),
                              Upsample2x(), torch.nn.LeakyReLU(0.2))  # the second upsample has no conv after it
    x = torch.randn(2, 3, 4, 4)
    keys, before = list(seq.state_dict()), seq(x)
    assert fuse_upsample(seq) == 1
    assert seq[0].fused and seq[1].upsample_first and not seq[2].fused
    assert list(seq.state_dict()) == keys
    torch.testing.assert_close(seq(x), before, rtol=1e-5, atol=1e-6)
    assert fuse_upsample(seq, on=False) == 1 and torch.equal(seq(x), before)


@pytest.mark.parametrize("setting, on", [("on", True), ("off", False), ("auto", False)])
def test_progan_fused_upsample_setting(tiny_progan_overrides, setting, on):
    cfg = progan.load_config(scale="smoke", **tiny_progan_overrides, fused_upsample=setting)
    m = progan.ProGANMethod(cfg=cfg, device=CPU)
    convs = [mod.upsample_first for mod in m.G.modules() if hasattr(mod, "upsample_first")]
    assert sum(convs) == (len(m.G.resolutions) - 1 if on else 0)  # one fused pair per block above 4×4
    assert not any(getattr(mod, "upsample_first", False) for mod in m.D.modules())


def test_a_progan_step_with_fused_upsample_matches_the_plain_step(tiny_progan_overrides):
    out = []
    for setting in ("off", "on"):
        cfg = progan.load_config(scale="smoke", **tiny_progan_overrides, fused_upsample=setting)
        m = progan.ProGANMethod(cfg=cfg, device=CPU)
        res = m.G.resolutions[-1]
        z = torch.randn(4, m.G.latent_dim, generator=torch.Generator().manual_seed(1))
        img = m.G(z, resolution=res, alpha=0.5)
        real = torch.rand(8, 3, res, res, generator=torch.Generator().manual_seed(2)) * 2 - 1
        m.growth.at = lambda nimg: (m.schedule.phases[-1], 0.5)  # the top resolution, mid fade-in
        stats, _ = m.train_step(0, lambda n, resolution=None: (real[:n], None), torch.Generator().manual_seed(0))
        out.append((img.detach(), stats, [p.detach().clone() for p in m.G.parameters()]))
    (i0, s0, p0), (i1, s1, p1) = out
    torch.testing.assert_close(i1, i0, rtol=1e-4, atol=1e-5)
    for k in ("loss_d", "loss_g", "gp"):
        torch.testing.assert_close(s1[k], s0[k], rtol=1e-4, atol=1e-5)
    for a, b in zip(p0, p1):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6)
