"""Tests for gancore.models.progan: growth/fade-in (ProGAN §2), every Table 1 switch, Table 2 sizes."""
from __future__ import annotations

import math

import pytest
import torch

from gancore.models.progan import Discriminator, Generator, count_params, progan_channels, sample_latents

TINY = dict(fmap_base=64, fmap_max=16)  # channels {4: 16, 8: 16, 16: 8, 32: 4}
FULL_RES = 32
N = 4

# Table 1 configurations as switches; "row_a" is the Gulrajani et al. baseline of App. A.2.
G_OPTIONS = {
    "default": {},
    "no_eq_lr": dict(eq_lr=False),
    "no_pixelnorm": dict(pixelnorm=False),
    "no_latent_norm": dict(normalize_latent=False),
    "relu": dict(act="relu"),
    "tanh": dict(out_act="tanh"),
    "row_a": dict(eq_lr=False, pixelnorm=False, norm="batch", act="relu", out_act="tanh", normalize_latent=False),
}
D_OPTIONS = {
    "default": {},
    "no_eq_lr": dict(eq_lr=False),
    "no_mbstd": dict(mbstd=False),
    "mbstd_group2": dict(mbstd_group=2),
    "mbdisc": dict(mbdisc=True, mbdisc_kernels=6, mbdisc_kernel_dim=3),
    "relu": dict(act="relu"),
    "row_a": dict(eq_lr=False, mbstd=False, norm="layer"),
}


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _make_g(option: str) -> Generator:
    return Generator(resolution=FULL_RES, latent_dim=8, **TINY, **G_OPTIONS[option])


def _make_d(option: str) -> Discriminator:
    return Discriminator(resolution=FULL_RES, **TINY, **D_OPTIONS[option])


def _upsample_reference(x: torch.Tensor) -> torch.Tensor:
    return x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)


def _downsample_reference(x: torch.Tensor) -> torch.Tensor:
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).mean(dim=(3, 5))


def _used_and_unused(module: torch.nn.Module, used_prefixes: list[str]) -> tuple[list, list]:
    used, unused = [], []
    for name, p in module.named_parameters():
        (used if any(name.startswith(pref) for pref in used_prefixes) else unused).append((name, p))
    return used, unused


def _assert_grads(module: torch.nn.Module, used_prefixes: list[str]) -> None:
    used, unused = _used_and_unused(module, used_prefixes)
    assert used, "no parameter matched the used prefixes"
    for name, p in used:
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        # Conv biases followed by BatchNorm legitimately get ~0 gradient (BN removes the mean), so only weights must
        # receive a non-zero signal.
        if p.dim() > 1:
            assert p.grad.abs().sum() > 0, name
    for name, p in unused:
        assert p.grad is None, f"{name} should not be used"


# --- channels (Table 2, App. A.2) --------------------------------------------------------------------------------
def test_progan_channels_match_table2() -> None:
    assert progan_channels(1024) == {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}


def test_progan_channels_low_capacity_leaves_32_maps_at_128() -> None:
    # App. A.2: halve at 16×16, divide by 4 afterwards, "32 feature maps to the last Conv 3×3 layers".
    assert progan_channels(128, low_capacity=True) == {4: 512, 8: 512, 16: 256, 32: 128, 64: 64, 128: 32}


@pytest.mark.parametrize("kwargs,expected", [
    (dict(resolution=32, **TINY), {4: 16, 8: 16, 16: 8, 32: 4}),
    (dict(resolution=32, fmap_base=64, fmap_max=16, fmap_min=6), {4: 16, 8: 16, 16: 8, 32: 6}),
    (dict(resolution=4), {4: 512}),
])
def test_progan_channels_clamp(kwargs: dict, expected: dict) -> None:
    assert progan_channels(**kwargs) == expected


# --- Table 2 parameter counts ---------------------------------------------------------------------------------------
def test_table2_parameter_counts_at_1024() -> None:
    g, d = Generator(), Discriminator()
    # Table 2 lists only the final toRGB / fromRGB, so the asserted number leaves out the lower-resolution ones that
    # exist only for fading in; the full count (every toRGB/fromRGB built) is checked too, as it differs by <0.05%.
    g_table = count_params(g) - sum(count_params(g.to_rgb[str(r)]) for r in g.resolutions[:-1])
    d_table = count_params(d) - sum(count_params(d.from_rgb[str(r)]) for r in d.resolutions[:-1])
    for n in (g_table, d_table, count_params(g), count_params(d)):
        assert n == pytest.approx(23.1e6, rel=0.01)
    # Individual rows of Table 2.
    assert count_params(g.blocks["4"][0]) == pytest.approx(4.2e6, rel=0.01)  # G "Conv 4×4"
    assert count_params(g.to_rgb["1024"]) == 51
    assert count_params(d.from_rgb["1024"]) == 64
    assert count_params(d.head) == 513
    assert count_params(d.blocks["4"]) == pytest.approx(2.4e6 + 4.2e6, rel=0.01)


def test_count_params_matches_manual_sum_and_trainable_flag() -> None:
    g = _make_g("default")
    assert count_params(g) == sum(p.numel() for p in g.parameters())
    g.to_rgb.requires_grad_(False)
    assert count_params(g) == sum(p.numel() for p in g.parameters()) - sum(p.numel() for p in g.to_rgb.parameters())
    assert count_params(g, trainable_only=False) == sum(p.numel() for p in g.parameters())


# --- generator ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("resolution", [4, 8, 16, 32])
@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("option", list(G_OPTIONS))
def test_generator_shapes_and_gradients(option: str, resolution: int, alpha: float) -> None:
    g = _make_g(option)
    x = g(sample_latents(N, 8), resolution=resolution, alpha=alpha)
    assert x.shape == (N, 3, resolution, resolution)
    assert torch.isfinite(x).all()
    if G_OPTIONS[option].get("out_act") == "tanh":
        assert x.abs().max() <= 1.0
    x.square().mean().backward()
    used = [f"blocks.{r}." for r in g.resolutions if r <= resolution] + [f"to_rgb.{resolution}."]
    if alpha < 1.0 and resolution > 4:
        used.append(f"to_rgb.{resolution // 2}.")
    if alpha == 0.0 and resolution > 4:
        # At alpha=0 the new block and toRGB are computed but multiplied by zero.
        used = [u for u in used if u not in (f"blocks.{resolution}.", f"to_rgb.{resolution}.")]
        for name, p in g.named_parameters():
            if name.startswith((f"blocks.{resolution}.", f"to_rgb.{resolution}.")):
                assert p.grad is None or p.grad.abs().sum() == 0, name
                p.grad = None
    _assert_grads(g, used)


@pytest.mark.parametrize("resolution", [8, 16, 32])
@pytest.mark.parametrize("option", list(G_OPTIONS))
def test_generator_fade_in_interpolates_previous_stage(option: str, resolution: int) -> None:
    g = _make_g(option).eval()  # eval: BatchNorm uses fixed running stats, so separate calls are comparable
    z = sample_latents(N, 8)
    with torch.no_grad():
        prev = _upsample_reference(g(z, resolution=resolution // 2, alpha=1.0))
        new = g(z, resolution=resolution, alpha=1.0)
        torch.testing.assert_close(g(z, resolution=resolution, alpha=0.0), prev)
        torch.testing.assert_close(g(z, resolution=resolution, alpha=0.25), 0.75 * prev + 0.25 * new)


def test_generator_default_resolution_and_alpha_ignored_at_base() -> None:
    g = _make_g("default")
    z = sample_latents(2, 8)
    assert g.resolutions == [4, 8, 16, 32]
    torch.testing.assert_close(g(z), g(z, resolution=32, alpha=1.0))
    torch.testing.assert_close(g(z, resolution=4, alpha=0.0), g(z, resolution=4, alpha=1.0))


def test_generator_latent_normalisation_projects_to_hypersphere() -> None:
    g = Generator(resolution=4, latent_dim=16, **TINY)
    z = sample_latents(3, 16)
    # PixelNorm on z makes ‖z‖ = sqrt(dim), so a rescaled latent gives the same image (App. A.1 hypersphere).
    torch.testing.assert_close(g.latent_norm(z).norm(dim=1), torch.full((3,), 4.0))
    torch.testing.assert_close(g(z), g(5 * z))


def test_generator_state_dict_keys_are_stable_under_growth() -> None:
    small = Generator(resolution=16, latent_dim=8, **TINY)
    big = _make_g("default")
    assert set(small.state_dict()) < set(big.state_dict())
    # A 16² generator's weights load into the 32² one, and reproduce its 16² output there.
    big.load_state_dict(small.state_dict(), strict=False)
    z = sample_latents(2, 8)
    torch.testing.assert_close(big(z, resolution=16), small(z))


@pytest.mark.parametrize("kwargs,match", [
    (dict(resolution=48), "power of two"),
    (dict(resolution=2), "power of two"),
    (dict(norm="group"), "norm"),
    (dict(act="tanh"), "act"),
    (dict(out_act="sigmoid"), "out_act"),
    (dict(norm="batch"), "pixelnorm=False"),
    (dict(latent_dim=0), "latent_dim"),
    (dict(channels={4: 8, 8: 8}), "missing resolutions"),
    (dict(channels={4: 8, 8: 8, 16: 0, 32: 4}), "positive"),
    (dict(channels={4: 8, 8: 8, 16: 8, 32: 4}, low_capacity=True), "low_capacity"),
])
def test_generator_rejects_bad_construction(kwargs: dict, match: str) -> None:
    args = dict(resolution=FULL_RES, **TINY) | kwargs
    with pytest.raises(ValueError, match=match):
        Generator(**args)


@pytest.mark.parametrize("kwargs,match", [
    (dict(resolution=12), "resolutions"),
    (dict(resolution=64), "resolutions"),
    (dict(resolution=16.0), "resolutions"),
    (dict(alpha=-0.1), "alpha"),
    (dict(alpha=1.5), "alpha"),
    (dict(alpha=math.nan), "alpha"),
])
def test_generator_rejects_bad_stage(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _make_g("default")(sample_latents(2, 8), **kwargs)
    with pytest.raises(ValueError, match="N×8"):
        _make_g("default")(sample_latents(2, 7))


def test_explicit_channels_are_used() -> None:
    g = Generator(resolution=8, latent_dim=8, channels={4: 6, 8: 5})
    assert g.channels == {4: 6, 8: 5} and g.to_rgb["8"][0].in_channels == 5


# --- discriminator ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("resolution", [4, 8, 16, 32])
@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("option", list(D_OPTIONS))
def test_discriminator_shapes_and_gradients(option: str, resolution: int, alpha: float) -> None:
    d = _make_d(option)
    x = torch.randn(N, 3, resolution, resolution, requires_grad=True)
    score = d(x, resolution=resolution, alpha=alpha)
    assert score.shape == (N,)
    assert torch.isfinite(score).all()
    # WGAN-GP needs the input gradient and its double backward.
    (grad_x,) = torch.autograd.grad(score.sum(), x, create_graph=True)
    assert torch.isfinite(grad_x).all() and grad_x.abs().sum() > 0
    (score.mean() + grad_x.square().mean()).backward()
    used = [f"blocks.{r}." for r in d.resolutions if r <= resolution] + ["head."]
    used += [f"from_rgb.{resolution}."] if alpha > 0.0 or resolution == 4 else []
    if alpha < 1.0 and resolution > 4:
        used.append(f"from_rgb.{resolution // 2}.")
    if alpha == 0.0 and resolution > 4:
        # The new block still runs on fromRGB_r but is multiplied by zero.
        for name, p in d.named_parameters():
            if name.startswith((f"blocks.{resolution}.", f"from_rgb.{resolution}.")):
                assert p.grad is None or p.grad.abs().sum() == 0, name
                p.grad = None
        used.remove(f"blocks.{resolution}.")
    _assert_grads(d, used)


@pytest.mark.parametrize("resolution", [8, 16, 32])
@pytest.mark.parametrize("option", list(D_OPTIONS))
def test_discriminator_fade_in_interpolates_previous_stage(option: str, resolution: int) -> None:
    d = _make_d(option)
    x = torch.randn(N, 3, resolution, resolution)
    with torch.no_grad():
        torch.testing.assert_close(d(x, resolution=resolution, alpha=0.0),
                                   d(_downsample_reference(x), resolution=resolution // 2, alpha=1.0))
        # Fade-in mixes the features right after the new block, so check against a hand-built lerp of those.
        feats_new = d.blocks[str(resolution)](d.from_rgb[str(resolution)](x))
        feats_old = d.from_rgb[str(resolution // 2)](_downsample_reference(x))
        h = 0.3 * feats_new + 0.7 * feats_old
        for r in [r for r in reversed(d.resolutions) if r < resolution]:
            h = d.blocks[str(r)](h)
        torch.testing.assert_close(d(x, resolution=resolution, alpha=0.3), d.head(h).squeeze(1))


@pytest.mark.parametrize("batch", [1, 3, 6])
def test_discriminator_accepts_batches_not_divisible_by_group(batch: int) -> None:
    score = _make_d("default")(torch.randn(batch, 3, 8, 8), resolution=8)
    assert score.shape == (batch,) and torch.isfinite(score).all()


def test_discriminator_mbstd_adds_one_channel() -> None:
    with_mbstd, without = _make_d("default"), _make_d("no_mbstd")
    assert with_mbstd.blocks["4"][1].in_channels == 16 + 1
    assert without.blocks["4"][0].in_channels == 16


@pytest.mark.parametrize("kwargs,match", [
    (dict(resolution=24), "power of two"),
    (dict(norm="batch"), "norm"),
    (dict(act="elu"), "act"),
    (dict(mbstd_group=0), "group_size"),
])
def test_discriminator_rejects_bad_construction(kwargs: dict, match: str) -> None:
    args = dict(resolution=FULL_RES, **TINY) | kwargs
    with pytest.raises(ValueError, match=match):
        Discriminator(**args)


@pytest.mark.parametrize("shape,kwargs,match", [
    ((2, 3, 16, 16), dict(resolution=8), "N×3×8×8"),
    ((2, 1, 8, 8), dict(resolution=8), "N×3×8×8"),
    ((2, 3, 8, 8), dict(resolution=8, alpha=2.0), "alpha"),
    ((2, 3, 2, 2), dict(resolution=2), "resolutions"),
])
def test_discriminator_rejects_bad_input(shape: tuple[int, ...], kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _make_d("default")(torch.zeros(shape), **kwargs)


# --- latents --------------------------------------------------------------------------------------------------------
def test_sample_latents_seeded_and_standard_normal() -> None:
    a = sample_latents(2000, 16, generator=torch.Generator().manual_seed(1))
    b = sample_latents(2000, 16, generator=torch.Generator().manual_seed(1))
    assert a.shape == (2000, 16) and torch.equal(a, b)
    assert abs(a.mean().item()) < 0.02 and a.std().item() == pytest.approx(1.0, abs=0.02)
    with pytest.raises(ValueError, match="dim"):
        sample_latents(2, 0)


def test_row_a_generator_uses_batchnorm_not_pixelnorm() -> None:
    g = _make_g("row_a")
    kinds = {type(m).__name__ for m in g.modules()}
    assert "BatchNorm2d" in kinds and "PixelNorm" not in kinds and "ReLU" in kinds and "Tanh" in kinds
    d = _make_d("row_a")
    n_ln = sum(type(m).__name__ == "LayerNorm2d" for m in d.modules())
    n_conv = sum(type(m).__name__ == "EqualizedConv2d" and m.kernel_size > 1 for m in d.modules())
    assert n_ln == n_conv == 2 * len(d.resolutions)  # every Conv 3×3 and the Conv 4×4
