"""Metrics: SWD against a slow reference, MS-SSIM, torch-fidelity wrapper, ShapesNet, registry."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import torch
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from gancore.data.shapes import render_shapes
from gancore.metrics import METRICS, compute_metric, parse_metric_name
from gancore.metrics import fidelity as fidelity_module
from gancore.metrics.fidelity import fidelity_metrics
from gancore.metrics.msssim import STANDARD_WEIGHTS, ms_ssim_batch, ms_ssim_pairs, msssim_settings
from gancore.metrics.shapes_net import (
    SHAPES_NET_NAME,
    ShapesNet,
    ShapesNetFeatureExtractor,
    classify,
    load_shapes_net,
    register_shapes_net,
)
from gancore.metrics.swd import SWDReference, extract_descriptors, laplacian_pyramid, sliced_wasserstein, swd


def _shapes(n: int, resolution: int, seed: int = 0) -> torch.Tensor:
    return render_shapes(n, resolution=resolution, seed=seed)[0]


def _add_noise(images: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    noise = torch.randn(images.shape, generator=torch.Generator().manual_seed(seed)) * sigma
    return (images.float() + noise).round().clamp(0, 255).to(torch.uint8)


# ----------------------------------------------------------------------------------------
# SWD (ProGAN §5)
# ----------------------------------------------------------------------------------------

_BINOMIAL = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256.0


def _slow_pyramid(image: np.ndarray, levels: int) -> list[np.ndarray]:
    """One 3×R×R image, float64, scipy mirror-mode convolutions, channel by channel."""
    def down(x):
        return np.stack([scipy.ndimage.convolve(c, _BINOMIAL, mode="mirror")[::2, ::2] for c in x])

    def up(x):
        out = []
        for c in x:
            z = np.zeros((2 * c.shape[0], 2 * c.shape[1]))
            z[::2, ::2] = c
            out.append(scipy.ndimage.convolve(z, 4 * _BINOMIAL, mode="mirror"))
        return np.stack(out)

    pyramid = [image.astype(np.float64)]
    for _ in range(levels - 1):
        pyramid.append(down(pyramid[-1]))
        pyramid[-2] = pyramid[-2] - up(pyramid[-1])
    return pyramid


def _slow_swd(real: torch.Tensor, fake: torch.Tensor, *, per_image: int, n_proj: int, seed: int) -> dict:
    """Independent SWD: explicit patch loops and numpy; only the random draws come from torch."""
    resolution = real.shape[-1]
    resolutions = [resolution >> k for k in range(int(np.log2(resolution // 16)) + 1)]
    half = 3

    def descriptors(images):
        gen = torch.Generator().manual_seed(seed)
        positions = []
        for res in resolutions:
            rows = torch.randint(half, res - half, (len(images), per_image), generator=gen).numpy()
            cols = torch.randint(half, res - half, (len(images), per_image), generator=gen).numpy()
            positions.append((rows, cols))
        sets = [[] for _ in resolutions]
        for n in range(len(images)):
            pyramid = _slow_pyramid(images[n].numpy(), len(resolutions))
            for lvl, (rows, cols) in enumerate(positions):
                for k in range(per_image):
                    r, c = rows[n, k], cols[n, k]
                    sets[lvl].append(pyramid[lvl][:, r - half : r + half + 1, c - half : c + half + 1])
        out = []
        for patches in sets:
            d = np.stack(patches)  # M, 3, 7, 7
            d = (d - d.mean(axis=(0, 2, 3), keepdims=True)) / d.std(axis=(0, 2, 3), keepdims=True)
            out.append(d.reshape(len(d), -1))
        return out

    a_sets, b_sets = descriptors(real), descriptors(fake)
    gen = torch.Generator().manual_seed(seed + 1)
    result = {}
    for res, a, b in zip(resolutions, a_sets, b_sets):
        dirs = torch.randn(a.shape[1], n_proj, generator=gen).double().numpy()
        dirs /= np.sqrt((dirs**2).sum(axis=0, keepdims=True))
        dist = np.abs(np.sort(a @ dirs, axis=0) - np.sort(b @ dirs, axis=0)).mean()
        result[f"swd{res}"] = dist * 1e3
    result["swd_avg"] = float(np.mean(list(result.values())))
    return result


@pytest.mark.parametrize("resolution", [32, 64])
def test_swd_matches_slow_reference(resolution):
    real = _shapes(6, resolution, seed=1)
    fake = _add_noise(_shapes(6, resolution, seed=2), 12.0)
    fast = swd(real, fake, descriptors_per_image=8, n_projections=32, seed=5)
    slow = _slow_swd(real, fake, per_image=8, n_proj=32, seed=5)
    assert list(fast) == list(slow)
    np.testing.assert_allclose([fast[k] for k in slow], [slow[k] for k in slow], rtol=1e-4)


@pytest.mark.parametrize(
    "resolution, keys",
    [(16, ["swd16", "swd_avg"]), (32, ["swd32", "swd16", "swd_avg"]), (64, ["swd64", "swd32", "swd16", "swd_avg"])],
)
def test_swd_level_keys_and_identity(resolution, keys):
    images = _shapes(8, resolution)
    result = swd(images, images, descriptors_per_image=16, n_projections=16)
    assert list(result) == keys
    assert all(value == 0.0 for value in result.values())


def test_swd_grows_with_noise():
    real = _shapes(24, 32, seed=3)
    scores = [
        swd(real, _add_noise(real, sigma, seed=9), descriptors_per_image=32, n_projections=64)["swd_avg"]
        for sigma in (4.0, 16.0, 48.0)
    ]
    assert all(np.isfinite(scores)) and 0 < scores[0] < scores[1] < scores[2]


@pytest.mark.parametrize("bad_shape", [(2, 3, 8, 8), (2, 3, 24, 24), (2, 3, 32, 16), (2, 1, 32, 32)])
def test_swd_rejects_bad_images(bad_shape):
    images = torch.zeros(bad_shape, dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"resolution|square|N×3×H×W"):
        swd(images, images)


def test_laplacian_pyramid_collapses_back_to_the_image():
    images = _shapes(3, 64)
    pyramid = laplacian_pyramid(images)
    assert [level.shape[-1] for level in pyramid] == [64, 32, 16]
    from gancore.metrics.swd import _pyr_up

    image = pyramid[-1]
    for band in reversed(pyramid[:-1]):
        image = band + _pyr_up(image)
    torch.testing.assert_close(image, images.float(), atol=1e-3, rtol=0)


def test_descriptors_are_normalized_per_channel():
    desc = extract_descriptors(_shapes(10, 32), descriptors_per_image=20)
    assert set(desc) == {32, 16}
    for d in desc.values():
        assert d.shape == (200, 147)
        per_channel = d.view(200, 3, 49)
        torch.testing.assert_close(per_channel.mean(dim=(0, 2)), torch.zeros(3), atol=1e-4, rtol=0)
        torch.testing.assert_close(per_channel.std(dim=(0, 2), correction=0), torch.ones(3), atol=1e-4, rtol=0)


def test_sliced_wasserstein_of_shifted_gaussians():
    # Shifting a set by t along every axis moves each unit-direction projection by t·Σd_i,
    # so the exact SWD is the mean of |t·Σd_i| over the drawn directions.
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(4000, 4, generator=gen)
    dist = sliced_wasserstein(a, a + 0.5, n_projections=64, generator=torch.Generator().manual_seed(1))
    dirs = torch.randn(4, 64, generator=torch.Generator().manual_seed(1))
    expected = (0.5 * (dirs / dirs.norm(dim=0)).sum(dim=0)).abs().mean().item()
    assert dist == pytest.approx(expected, rel=1e-4)
    with pytest.raises(ValueError, match="equal-shaped"):
        sliced_wasserstein(a, a[:10])


def test_swd_reference_matches_one_shot_and_checks_sizes():
    real, fake = _shapes(8, 32, seed=1), _shapes(8, 32, seed=2)
    reference = SWDReference(real, descriptors_per_image=16, n_projections=16, seed=3)
    assert reference.score(fake) == swd(real, fake, descriptors_per_image=16, n_projections=16, seed=3)
    assert reference.score(fake) == reference.score(fake)
    with pytest.raises(ValueError, match="num_images=8"):
        reference.score(fake[:4])


# ----------------------------------------------------------------------------------------
# MS-SSIM
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("resolution", [16, 32, 64])
def test_ms_ssim_identical_pairs_one_and_noise_low(resolution):
    one = _shapes(1, resolution)
    assert ms_ssim_pairs(one.repeat(4, 1, 1, 1), num_pairs=8) == pytest.approx(1.0, abs=1e-6)
    noise = torch.randint(0, 256, (16, 3, resolution, resolution), generator=torch.Generator().manual_seed(0))
    low = ms_ssim_pairs(noise.to(torch.uint8), num_pairs=32)
    shapes = ms_ssim_pairs(_shapes(16, resolution), num_pairs=32)
    assert 0 <= low < 0.15 and low < shapes < 1


def test_ms_ssim_small_image_loop_equals_library():
    # At 128 px the library's own ms_ssim applies, so both code paths can be compared.
    from pytorch_msssim import ms_ssim

    from gancore.metrics.msssim import _ms_ssim_few_scales

    x = _shapes(3, 128, seed=1).float()
    y = _add_noise(_shapes(3, 128, seed=1), 20.0).float()
    win, weights = msssim_settings(128)
    expected = ms_ssim(x, y, data_range=255, size_average=False, win_size=win, weights=weights)
    torch.testing.assert_close(_ms_ssim_few_scales(x, y, win_size=win, weights=weights), expected)


@pytest.mark.parametrize(
    "side, win, scales", [(8, 7, 1), (16, 7, 2), (32, 7, 3), (64, 7, 4), (128, 7, 5), (256, 11, 5)]
)
def test_ms_ssim_settings(side, win, scales):
    got_win, weights = msssim_settings(side)
    assert (got_win, len(weights)) == (win, scales)
    assert sum(weights) == pytest.approx(sum(STANDARD_WEIGHTS) if scales == 5 else 1.0)


def test_ms_ssim_bad_input():
    with pytest.raises(ValueError, match="at least 2"):
        ms_ssim_pairs(_shapes(1, 16))
    with pytest.raises(ValueError, match="at least 7"):
        ms_ssim_batch(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4))


# ----------------------------------------------------------------------------------------
# ShapesNet
# ----------------------------------------------------------------------------------------


def test_shapes_net_classifies_fresh_images():
    images, labels = render_shapes(256, resolution=32, seed=777)
    accuracy = (classify(images) == labels).float().mean().item()
    assert accuracy >= 0.95


@pytest.mark.parametrize("resolution", [8, 16, 64])
def test_shapes_net_any_resolution_and_float_input(resolution):
    net = load_shapes_net()
    assert not net.training
    images = _shapes(4, resolution)
    features, logits = net.features_and_logits(images)
    assert features.shape == (4, 128) and logits.shape == (4, 8)
    assert torch.isfinite(features).all()
    torch.testing.assert_close(net(images.float() / 127.5 - 1), logits)


def test_shapes_net_weights_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="train_shapes_net"):
        load_shapes_net(tmp_path / "missing.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="corrupt.pt"):
        load_shapes_net(corrupt)
    wrong = tmp_path / "wrong.pt"
    torch.save(ShapesNet(base_width=8).state_dict(), wrong)
    with pytest.raises(ValueError, match="not a ShapesNet state_dict"):
        load_shapes_net(wrong)


def test_registration_is_idempotent():
    assert register_shapes_net() == register_shapes_net() == SHAPES_NET_NAME
    assert FEATURE_EXTRACTORS_REGISTRY[SHAPES_NET_NAME] is ShapesNetFeatureExtractor
    extractor = ShapesNetFeatureExtractor(SHAPES_NET_NAME, ["logits", "features"])
    logits, features = extractor(_shapes(2, 16))
    assert logits.shape == (2, 8) and features.shape == (2, 128)
    with pytest.raises(ValueError, match="uint8"):
        extractor(torch.zeros(2, 3, 16, 16))


# ----------------------------------------------------------------------------------------
# torch-fidelity wrapper
# ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_32():
    return _shapes(160, 32, seed=11)


def test_fid_kid_prc_of_identical_sets(real_32):
    result = fidelity_metrics(real_32, real_32, metrics=("fid", "kid", "prc"), kid_subset_size=80)
    assert set(result) == {"fid", "kid_mean", "kid_std", "precision", "recall"}
    assert abs(result["fid"]) < 1e-3
    # Subsets of one set share samples, which biases the unbiased MMD estimate slightly
    # negative; "≈ 0" is judged against a visibly different set (σ = 32 pixel noise).
    other = fidelity_metrics(_add_noise(real_32, 32.0), real_32, metrics=("kid",), kid_subset_size=80)
    assert abs(result["kid_mean"]) < 0.2 * other["kid_mean"]
    assert 0 <= result["precision"] <= 1 and 0 <= result["recall"] <= 1


def test_fid_grows_with_noise(real_32):
    fids = [
        fidelity_metrics(_add_noise(real_32, sigma), real_32, metrics=("fid",))["fid"] for sigma in (8.0, 32.0, 96.0)
    ]
    assert all(np.isfinite(fids)) and 0 < fids[0] < fids[1] < fids[2]


def test_inception_score_of_one_repeated_image():
    images = _shapes(1, 32).repeat(40, 1, 1, 1)
    result = fidelity_metrics(images, None, metrics=("is",))
    assert result["is_mean"] == pytest.approx(1.0, abs=1e-4)
    varied = fidelity_metrics(_shapes(200, 32), None, metrics=("is",))
    assert varied["is_mean"] > 4  # 8 balanced classes, confidently classified


def test_sampler_input_matches_tensor_input(real_32):
    fake = _shapes(96, 32, seed=13)
    cursor = iter(range(0, 96, 32))

    def sample(batch_size: int) -> torch.Tensor:
        start = next(cursor)
        return fake[start : start + batch_size]

    from_sampler = fidelity_metrics(sample, real_32, metrics=("fid",), num_fake=96, batch_size=32)
    from_tensor = fidelity_metrics(fake, real_32, metrics=("fid",), batch_size=32)
    assert from_sampler["fid"] == pytest.approx(from_tensor["fid"], rel=1e-6)


def test_real_features_are_cached(real_32, tmp_path, monkeypatch):
    calls = []
    original = ShapesNetFeatureExtractor.forward

    def counting_forward(self, x):
        calls.append(x.shape[0])
        return original(self, x)

    monkeypatch.setattr(ShapesNetFeatureExtractor, "forward", counting_forward)
    fake = _shapes(64, 32, seed=14)
    options = dict(metrics=("fid", "kid"), cache_dir=tmp_path, cache_key="shapes32-seed11", kid_subset_size=32)
    first = fidelity_metrics(fake, real_32, **options)
    assert sum(calls) == 64 + 160
    calls.clear()
    second = fidelity_metrics(fake, real_32, **options)
    assert sum(calls) == 64  # only the generated images went through the extractor
    assert second["fid"] == pytest.approx(first["fid"])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(extractor="inception"), ValueError, "inception_weights"),
        (dict(extractor="inception", inception_weights="/nonexistent/inception.pth"), FileNotFoundError, "nonexistent"),
        (dict(extractor="vgg"), ValueError, "valid choices"),
        (dict(metrics=("fid", "ppl")), ValueError, "subset"),
        (dict(metrics=("kid",), kid_subset_size=500), ValueError, "kid_subset_size"),
    ],
)
def test_fidelity_bad_arguments(kwargs, error, match):
    images = _shapes(8, 16)
    with pytest.raises(error, match=match):
        fidelity_metrics(images, images, **kwargs)


def test_fidelity_rejects_float_images():
    with pytest.raises(ValueError, match="uint8"):
        fidelity_metrics(torch.zeros(4, 3, 16, 16), _shapes(4, 16))


# ----------------------------------------------------------------------------------------
# Registry
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, expected",
    [
        ("fid10k", ("fid", 10000)),
        ("swd16ki", ("swd", 16384)),
        ("kid50k", ("kid", 50000)),
        ("is500", ("is", 500)),
        ("msssim", ("msssim", None)),
        ("prc2k", ("prc", 2000)),
    ],
)
def test_parse_metric_name(name, expected):
    assert parse_metric_name(name) == expected
    assert expected[0] in METRICS


@pytest.mark.parametrize("name", ["fidx", "lpips10k", "10k", "fid10m", ""])
def test_parse_metric_name_rejects(name):
    with pytest.raises(ValueError, match="valid metrics"):
        parse_metric_name(name)


def test_compute_metric_uses_the_sample_count():
    real, fake = _shapes(12, 32, seed=1), _shapes(12, 32, seed=2)
    result = compute_metric("swd8", fake, real, descriptors_per_image=8, n_projections=8)
    assert result == swd(real, fake[:8], num_images=8, descriptors_per_image=8, n_projections=8)
    assert compute_metric("msssim20", fake)["msssim"] == ms_ssim_pairs(fake, num_pairs=20)
    with pytest.raises(ValueError, match="needs 20 generated images"):
        compute_metric("fid20", fake, real)
    assert set(compute_metric("fid", fake, real)) == {"fid"}
    assert fidelity_module.FIDELITY_METRICS == ("fid", "is", "kid", "prc")
