"""Progressively growing generator and discriminator of ProGAN (Karras et al. 2018), §2–§4 and App. A (Table 2).

Both networks are built whole at construction: one block per resolution 4, 8, …, `resolution` in an nn.ModuleDict keyed
by the resolution (so state_dict keys never change while the nets grow), plus a toRGB (G) / fromRGB (D) layer for every
resolution. `forward(..., resolution=r, alpha=a)` runs the blocks up to r and fades the newest one in with weight a
(ProGAN §2, Fig. 2). The switches reproduce the Table 1 training configurations: e.g. row (a) "Gulrajani et al." is
`Generator(eq_lr=False, pixelnorm=False, norm="batch", act="relu", out_act="tanh", normalize_latent=False,
latent_dim=128)` with `Discriminator(eq_lr=False, mbstd=False, norm="layer")` (App. A.2).
"""
from __future__ import annotations

import numbers
from typing import Literal

import torch
from torch import Tensor, nn

from gancore.latents import sample_latents  # noqa: F401  (re-exported: ProGAN App. A.1 latents)
from gancore.nn import (  # noqa: F401  (count_params is re-exported)
    count_params,
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
from gancore.nn.progressive import BASE_RESOLUTION, LatentProjection, progan_channels, resolution_ladder

__all__ = ["progan_channels", "Generator", "Discriminator", "sample_latents", "count_params"]

IMAGE_CHANNELS = 3
_ACTIVATIONS = ("lrelu", "relu")
_G_NORMS = ("none", "batch")
_D_NORMS = ("none", "layer")
_OUT_ACTIVATIONS = ("linear", "tanh")


# ---------------------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------------------
def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not supported; choose one of {list(choices)}")


def _activation(act: str) -> nn.Module:
    # ProGAN App. A.1: leaky ReLU with leakiness 0.2; App. A.2 baseline: ReLU.
    return nn.LeakyReLU(0.2) if act == "lrelu" else nn.ReLU()


def _resolve_channels(resolution: int, channels: dict[int, int] | None, fmap_base: int, fmap_max: int,
                      low_capacity: bool) -> dict[int, int]:
    if channels is None:
        return progan_channels(resolution, fmap_base=fmap_base, fmap_max=fmap_max, low_capacity=low_capacity)
    if low_capacity:
        raise ValueError("low_capacity=True has no effect when explicit channels are given; pass one or the other")
    needed = resolution_ladder(resolution)
    missing = [r for r in needed if r not in channels]
    if missing:
        raise ValueError(f"channels is missing resolutions {missing}; it needs an entry for each of {needed}")
    bad = {r: channels[r] for r in needed if not isinstance(channels[r], int) or channels[r] < 1}
    if bad:
        raise ValueError(f"channels must be positive ints, got {bad}")
    return {r: channels[r] for r in needed}


def _check_stage(resolutions: list[int], resolution: int | None, alpha: float) -> tuple[int, float]:
    res = resolutions[-1] if resolution is None else resolution
    if not isinstance(res, numbers.Integral) or int(res) not in resolutions:
        raise ValueError(f"resolution={resolution!r} is not one of this network's resolutions {resolutions}")
    res = int(res)
    alpha = float(alpha)
    if not 0.0 <= alpha <= 1.0:  # also rejects NaN
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    return res, alpha


# ---------------------------------------------------------------------------------------------------------------------
# Generator
# ---------------------------------------------------------------------------------------------------------------------
class Generator(nn.Module):
    """ProGAN generator with every resolution built in (ProGAN §2, §4, App. A.1 Table 2).

    Structure: [PixelNorm(z)] → Conv 4×4 (dense) → Conv 3×3 at 4×4; then per resolution: upsample, 2× Conv 3×3;
    toRGB (1×1 conv, gain 1) per resolution. Each conv is followed by [BatchNorm] → act → [PixelNorm].

    Args:
        resolution: final output resolution (power of two, 4..1024).
        latent_dim: size of z (512 in ProGAN, 128 in the App. A.2 Gulrajani baseline).
        channels: explicit feature maps per resolution {4: ..., resolution: ...}; overrides fmap_base/fmap_max.
        fmap_base: channel budget, n_r = fmap_base / (r/2) (see `progan_channels`).
        fmap_max: upper clamp on feature maps per resolution.
        low_capacity: App. A.2 lower-capacity network used in §6.1 / Table 1.
        eq_lr: equalized learning rate (§4.1); False gives plain He-initialised layers (App. A.2 baseline).
        pixelnorm: pixelwise feature normalization after each conv (§4.2).
        normalize_latent: PixelNorm on z, which maps latents onto the hypersphere (App. A.1).
        norm: "batch" puts BatchNorm2d after each conv instead of PixelNorm (Table 1 row a); "none" otherwise.
        act: "lrelu" (slope 0.2, App. A.1) or "relu" (App. A.2 baseline).
        out_act: toRGB activation, "linear" (App. A.1) or "tanh" (App. A.2 baseline).
    """

    resolutions: list[int]

    def __init__(self, *, resolution: int = 1024, latent_dim: int = 512, channels: dict[int, int] | None = None,
                 fmap_base: int = 8192, fmap_max: int = 512, low_capacity: bool = False, eq_lr: bool = True,
                 pixelnorm: bool = True, normalize_latent: bool = True, norm: Literal["none", "batch"] = "none",
                 act: Literal["lrelu", "relu"] = "lrelu", out_act: Literal["linear", "tanh"] = "linear") -> None:
        super().__init__()
        _check_choice("norm", norm, _G_NORMS)
        _check_choice("act", act, _ACTIVATIONS)
        _check_choice("out_act", out_act, _OUT_ACTIVATIONS)
        if norm == "batch" and pixelnorm:
            raise ValueError("norm='batch' replaces PixelNorm (ProGAN App. A.2, Table 1 row a); pass pixelnorm=False")
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1, got {latent_dim}")
        self.resolutions = resolution_ladder(resolution)
        self.resolution = resolution
        self.latent_dim = latent_dim
        self.channels = _resolve_channels(resolution, channels, fmap_base, fmap_max, low_capacity)
        self._eq_lr, self._pixelnorm, self._norm, self._act = eq_lr, pixelnorm, norm, act

        ch = self.channels
        self.latent_norm = PixelNorm() if normalize_latent else nn.Identity()
        blocks = {
            BASE_RESOLUTION: nn.Sequential(
                LatentProjection(latent_dim=latent_dim, channels=ch[4], equalized=eq_lr),
                *self._post_conv(ch[4]),
                *self._conv(ch[4], ch[4]),
            )
        }
        for r in self.resolutions[1:]:
            blocks[r] = nn.Sequential(Upsample2x(), *self._conv(ch[r // 2], ch[r]), *self._conv(ch[r], ch[r]))
        self.blocks = nn.ModuleDict({str(r): b for r, b in blocks.items()})
        self.to_rgb = nn.ModuleDict({
            str(r): nn.Sequential(
                EqualizedConv2d(in_channels=ch[r], out_channels=IMAGE_CHANNELS, kernel_size=1, gain=1.0,
                                equalized=eq_lr),
                *([nn.Tanh()] if out_act == "tanh" else []),
            )
            for r in self.resolutions
        })

    def _post_conv(self, channels: int) -> list[nn.Module]:
        # BatchNorm goes between conv and activation as in the WGAN-GP generator; PixelNorm follows the activation as
        # in the official ProGAN code (§4.2 "after each convolutional layer").
        layers: list[nn.Module] = [nn.BatchNorm2d(channels)] if self._norm == "batch" else []
        layers.append(_activation(self._act))
        if self._pixelnorm:
            layers.append(PixelNorm())
        return layers

    def _conv(self, cin: int, cout: int) -> list[nn.Module]:
        return [EqualizedConv2d(in_channels=cin, out_channels=cout, kernel_size=3, equalized=self._eq_lr),
                *self._post_conv(cout)]

    def forward(self, z: Tensor, *, resolution: int | None = None, alpha: float = 1.0) -> Tensor:
        """Images N×3×r×r at r = `resolution` (default: full), fading in block r with weight alpha (ProGAN §2, Fig. 2).

        Output = lerp(upsample2x(toRGB_{r/2}(h_{r/2})), toRGB_r(block_r(h_{r/2})), alpha). At the base resolution
        there is nothing to fade from, so alpha is ignored there.
        """
        res, alpha = _check_stage(self.resolutions, resolution, alpha)
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape N×{self.latent_dim}, got {tuple(z.shape)}")
        h = self.latent_norm(z)
        h_prev = h
        for r in self.resolutions[: self.resolutions.index(res) + 1]:
            h_prev, h = h, self.blocks[str(r)](h)
        out = self.to_rgb[str(res)](h)
        if alpha < 1.0 and res > BASE_RESOLUTION:
            skip = upsample2x(self.to_rgb[str(res // 2)](h_prev))
            out = torch.lerp(skip, out, alpha)
        return out


# ---------------------------------------------------------------------------------------------------------------------
# Discriminator
# ---------------------------------------------------------------------------------------------------------------------
class Discriminator(nn.Module):
    """ProGAN discriminator (critic) with every resolution built in (ProGAN §2, §3, App. A.1 Table 2).

    Structure: fromRGB (1×1 conv + act) per resolution; per resolution top-down: 2× Conv 3×3, downsample; at 4×4:
    [minibatch stddev] → Conv 3×3 (C+1→C) → Conv 4×4 valid (→ C×1×1) → [minibatch discrimination] → Linear → 1.
    Each Conv 3×3 / 4×4 is followed by [LayerNorm] → act.

    Minibatch discrimination (Table 1 row e*) sits on the C features after the Conv 4×4, right before the final
    linear layer: Salimans et al. place it on the critic's last hidden features, and ProGAN §3 describes it as a
    layer "towards the end of the discriminator".

    Args:
        resolution: input resolution (power of two, 4..1024).
        channels: explicit feature maps per resolution {4: ..., resolution: ...}; overrides fmap_base/fmap_max.
        fmap_base: channel budget, n_r = fmap_base / (r/2) (see `progan_channels`).
        fmap_max: upper clamp on feature maps per resolution.
        low_capacity: App. A.2 lower-capacity network used in §6.1 / Table 1.
        eq_lr: equalized learning rate (§4.1); False gives plain He-initialised layers (App. A.2 baseline).
        mbstd: minibatch-stddev feature map at 4×4 (§3, Table 1 row e).
        mbstd_group: group size of the minibatch stddev (4 in App. A.1).
        mbdisc: minibatch discrimination before the final linear layer (Table 1 row e*).
        norm: "layer" adds layer norm after every Conv 3×3 and Conv 4×4 (App. A.2, row a); "none" otherwise.
        act: "lrelu" (slope 0.2, App. A.1) or "relu".
        mbdisc_kernels: number of minibatch-discrimination statistics B (Salimans et al. use 100).
        mbdisc_kernel_dim: size C of each minibatch-discrimination kernel (Salimans et al. use 5).
    """

    resolutions: list[int]

    def __init__(self, *, resolution: int = 1024, channels: dict[int, int] | None = None, fmap_base: int = 8192,
                 fmap_max: int = 512, low_capacity: bool = False, eq_lr: bool = True, mbstd: bool = True,
                 mbstd_group: int = 4, mbdisc: bool = False, norm: Literal["none", "layer"] = "none",
                 act: Literal["lrelu", "relu"] = "lrelu", mbdisc_kernels: int = 100,
                 mbdisc_kernel_dim: int = 5) -> None:
        super().__init__()
        _check_choice("norm", norm, _D_NORMS)
        _check_choice("act", act, _ACTIVATIONS)
        self.resolutions = resolution_ladder(resolution)
        self.resolution = resolution
        self.channels = _resolve_channels(resolution, channels, fmap_base, fmap_max, low_capacity)
        self._eq_lr, self._norm, self._act = eq_lr, norm, act

        ch = self.channels
        self.from_rgb = nn.ModuleDict({
            str(r): nn.Sequential(
                EqualizedConv2d(in_channels=IMAGE_CHANNELS, out_channels=ch[r], kernel_size=1, equalized=eq_lr),
                _activation(act),
            )
            for r in self.resolutions
        })
        c4 = ch[BASE_RESOLUTION]
        blocks = {
            BASE_RESOLUTION: nn.Sequential(
                *([MinibatchStdDev(group_size=mbstd_group)] if mbstd else []),
                *self._conv(c4 + int(mbstd), c4, kernel_size=3),
                *self._conv(c4, c4, kernel_size=4, padding=0),
                nn.Flatten(),
            )
        }
        for r in self.resolutions[1:]:
            blocks[r] = nn.Sequential(*self._conv(ch[r], ch[r], kernel_size=3),
                                      *self._conv(ch[r], ch[r // 2], kernel_size=3), Downsample2x())
        self.blocks = nn.ModuleDict({str(r): b for r, b in blocks.items()})
        head: list[nn.Module] = []
        features = c4
        if mbdisc:
            head.append(MinibatchDiscrimination(in_features=c4, num_kernels=mbdisc_kernels,
                                                kernel_dim=mbdisc_kernel_dim))
            features += mbdisc_kernels
        head.append(EqualizedLinear(in_features=features, out_features=1, gain=1.0, equalized=eq_lr))
        self.head = nn.Sequential(*head)

    def _conv(self, cin: int, cout: int, *, kernel_size: int, padding: int | None = None) -> list[nn.Module]:
        # Layer norm sits between conv and activation, as in the WGAN-GP critic it reproduces.
        layers: list[nn.Module] = [EqualizedConv2d(in_channels=cin, out_channels=cout, kernel_size=kernel_size,
                                                   padding=padding, equalized=self._eq_lr)]
        if self._norm == "layer":
            layers.append(LayerNorm2d(num_channels=cout))
        layers.append(_activation(self._act))
        return layers

    def forward(self, x: Tensor, *, resolution: int | None = None, alpha: float = 1.0) -> Tensor:
        """Scores of shape (N,) for images N×3×r×r at r = `resolution` (default: full) (ProGAN §2, Fig. 2).

        The input path is lerp(fromRGB_{r/2}(downsample2x(x)), block_r(fromRGB_r(x)), alpha); at the base resolution
        there is nothing to fade from, so alpha is ignored there.
        """
        res, alpha = _check_stage(self.resolutions, resolution, alpha)
        expected = (IMAGE_CHANNELS, res, res)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"x must have shape N×{IMAGE_CHANNELS}×{res}×{res} at resolution {res}, "
                             f"got {tuple(x.shape)}")
        h = self.blocks[str(res)](self.from_rgb[str(res)](x))
        if res > BASE_RESOLUTION:
            if alpha < 1.0:
                skip = self.from_rgb[str(res // 2)](downsample2x(x))
                h = torch.lerp(skip, h, alpha)
            for r in reversed(self.resolutions[: self.resolutions.index(res)]):
                h = self.blocks[str(r)](h)
        return self.head(h).squeeze(1)
