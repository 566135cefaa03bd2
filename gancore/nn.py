"""Shared network layers for the four papers, organised by the paper section that introduces them.

Sections in this file:

* Resampling              — ProGAN App. A.1 (2×2 replication / 2×2 average pooling)
* Equalized learning rate — ProGAN §4.1 (runtime He scaling) and the plain He-init baseline of App. A.2
* Normalization           — ProGAN §4.2 PixelNorm; the WGAN-GP critic's layer norm (ProGAN App. A.2, Table 1 row a)
* Minibatch statistics    — ProGAN §3 / App. A.1 minibatch stddev; Salimans et al. 2016 minibatch
                            discrimination (ProGAN Table 1 row e*)

BigGAN layers (spectral norm, self-attention, conditional BN) belong in further sections of this file.
"""
from __future__ import annotations

import contextlib
import math
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "upsample2x",
    "downsample2x",
    "Upsample2x",
    "Downsample2x",
    "EqualizedLinear",
    "EqualizedConv2d",
    "PixelNorm",
    "LayerNorm2d",
    "MinibatchStdDev",
    "MinibatchDiscrimination",
]


def count_params(module: nn.Module, *, trainable_only: bool = True) -> int:
    """Number of (trainable, by default) parameters, as in ProGAN Table 2's "Total trainable parameters"."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def _require_4d(x: Tensor, name: str) -> None:
    if x.dim() != 4:
        raise ValueError(f"{name} expects an N×C×H×W tensor, got shape {tuple(x.shape)}")


# ---------------------------------------------------------------------------------------------------------------------
# Resampling — ProGAN App. A.1
# ---------------------------------------------------------------------------------------------------------------------
def upsample2x(x: Tensor) -> Tensor:
    """Nearest-neighbour 2× upsampling, i.e. 2×2 element replication (ProGAN App. A.1, Fig. 2 "[2×]")."""
    _require_4d(x, "upsample2x")
    return F.interpolate(x, scale_factor=2, mode="nearest")


def downsample2x(x: Tensor) -> Tensor:
    """2×2 average pooling (ProGAN App. A.1, Fig. 2 "[0.5×]"). H and W must be even."""
    _require_4d(x, "downsample2x")
    if x.shape[-1] % 2 or x.shape[-2] % 2:
        raise ValueError(f"downsample2x needs even H and W, got {tuple(x.shape[-2:])}")
    return F.avg_pool2d(x, kernel_size=2)


class Upsample2x(nn.Module):
    """Module form of `upsample2x`, so it can sit inside an nn.Sequential block (ProGAN Table 2 "Upsample")."""

    def forward(self, x: Tensor) -> Tensor:
        return upsample2x(x)


class Downsample2x(nn.Module):
    """Module form of `downsample2x`, so it can sit inside an nn.Sequential block (ProGAN Table 2 "Downsample")."""

    def forward(self, x: Tensor) -> Tensor:
        return downsample2x(x)


# ---------------------------------------------------------------------------------------------------------------------
# Equalized learning rate — ProGAN §4.1 (and the He-initialised baseline of App. A.2)
# ---------------------------------------------------------------------------------------------------------------------
class _EqualizedWeight(nn.Module):
    """Common weight/bias handling of the equalized layers (ProGAN §4.1).

    equalized=True: w ~ N(0, 1/lr_mul²) stored, used as w · (gain/sqrt(fan_in)) · lr_mul at runtime, so Adam sees
    every weight with the same dynamic range. equalized=False: w ~ N(0, gain²/fan_in) stored and used as is
    (He et al. 2015 initialisation, the "Gulrajani" configuration of App. A.2). Biases start at zero either way.
    """

    def __init__(self, *, shape: tuple[int, ...], fan_in: int, out_features: int, bias: bool, gain: float,
                 lr_mul: float, equalized: bool) -> None:
        super().__init__()
        if fan_in <= 0 or out_features <= 0:
            raise ValueError(f"layer sizes must be positive, got fan_in={fan_in}, out_features={out_features}")
        if gain <= 0:
            raise ValueError(f"gain must be > 0, got {gain}")
        if lr_mul <= 0:
            raise ValueError(f"lr_mul must be > 0, got {lr_mul}")
        if not equalized and lr_mul != 1.0:
            # A learning-rate multiplier only exists through the runtime scale; silently ignoring it would hide a
            # misconfiguration.
            raise ValueError(f"lr_mul={lr_mul} requires equalized=True (plain layers have no runtime scale)")
        self.equalized = equalized
        self.gain = gain
        self.lr_mul = lr_mul
        he_std = gain / math.sqrt(fan_in)
        if equalized:
            self.weight = nn.Parameter(torch.randn(shape) / lr_mul)
            self.weight_scale = he_std * lr_mul
        else:
            self.weight = nn.Parameter(torch.randn(shape) * he_std)
            self.weight_scale = 1.0
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.bias_scale = lr_mul if equalized else 1.0

    def scaled_weight(self) -> Tensor:
        """The weight actually applied in forward (stored weight times the runtime constant)."""
        return self.weight * self.weight_scale if self.weight_scale != 1.0 else self.weight

    def scaled_bias(self) -> Tensor | None:
        if self.bias is None or self.bias_scale == 1.0:
            return self.bias
        return self.bias * self.bias_scale


class EqualizedLinear(_EqualizedWeight):
    """Fully-connected layer with equalized learning rate (ProGAN §4.1).

    Args:
        in_features: input feature count (the fan-in of the He constant).
        out_features: output feature count.
        bias: whether to add a (zero-initialised) bias.
        gain: He gain; sqrt(2) for (leaky) ReLU layers, 1 for linear outputs.
        lr_mul: learning-rate multiplier folded into the runtime scale (1 = ProGAN).
        equalized: False gives a plain He-initialised layer with no runtime scale (ProGAN App. A.2 baseline).
    """

    def __init__(self, *, in_features: int, out_features: int, bias: bool = True, gain: float = math.sqrt(2),
                 lr_mul: float = 1.0, equalized: bool = True) -> None:
        super().__init__(shape=(out_features, in_features), fan_in=in_features, out_features=out_features,
                         bias=bias, gain=gain, lr_mul=lr_mul, equalized=equalized)
        self.in_features = in_features
        self.out_features = out_features

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.scaled_weight(), self.scaled_bias())

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                f"gain={self.gain:.4g}, lr_mul={self.lr_mul}, equalized={self.equalized}")


class EqualizedConv2d(_EqualizedWeight):
    """2-D convolution with equalized learning rate (ProGAN §4.1).

    Args:
        in_channels: input channels (fan-in = in_channels · kernel_size²).
        out_channels: output channels.
        kernel_size: square kernel size.
        padding: zero padding; None means kernel_size // 2 ("same" size for odd kernels).
        bias: whether to add a (zero-initialised) per-channel bias.
        gain: He gain; sqrt(2) for (leaky) ReLU layers, 1 for toRGB / linear outputs.
        lr_mul: learning-rate multiplier folded into the runtime scale (1 = ProGAN).
        equalized: False gives a plain He-initialised conv with no runtime scale (ProGAN App. A.2 baseline).
    """

    def __init__(self, *, in_channels: int, out_channels: int, kernel_size: int, padding: int | None = None,
                 bias: bool = True, gain: float = math.sqrt(2), lr_mul: float = 1.0, equalized: bool = True) -> None:
        if kernel_size < 1:
            raise ValueError(f"kernel_size must be >= 1, got {kernel_size}")
        super().__init__(shape=(out_channels, in_channels, kernel_size, kernel_size),
                         fan_in=in_channels * kernel_size * kernel_size, out_features=out_channels, bias=bias,
                         gain=gain, lr_mul=lr_mul, equalized=equalized)
        if padding is not None and padding < 0:
            raise ValueError(f"padding must be >= 0 or None, got {padding}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.padding = kernel_size // 2 if padding is None else padding

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.scaled_weight(), self.scaled_bias(), padding=self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, padding={self.padding}, "
                f"bias={self.bias is not None}, gain={self.gain:.4g}, lr_mul={self.lr_mul}, "
                f"equalized={self.equalized}")


# ---------------------------------------------------------------------------------------------------------------------
# Normalization — ProGAN §4.2 and the WGAN-GP critic (ProGAN App. A.2)
# ---------------------------------------------------------------------------------------------------------------------
class PixelNorm(nn.Module):
    """Pixelwise feature-vector normalization b = a / sqrt(mean_c(a²) + eps) (ProGAN §4.2).

    Args:
        eps: stabiliser inside the square root (1e-8 in the paper).
    """

    def __init__(self, *, eps: float = 1e-8) -> None:
        super().__init__()
        if eps < 0:
            raise ValueError(f"eps must be >= 0, got {eps}")
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() < 2:
            raise ValueError(f"PixelNorm expects N×C[×H×W], got shape {tuple(x.shape)}")
        # dim=1 is the feature axis for both latents (N×C) and feature maps (N×C×H×W).
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + self.eps)

    def extra_repr(self) -> str:
        return f"eps={self.eps}"


class LayerNorm2d(nn.GroupNorm):
    """Layer normalization of conv features over (C, H, W) per sample, as in the WGAN-GP critic
    (Gulrajani et al. 2017; ProGAN App. A.2 / Table 1 row a).

    Implemented as GroupNorm with one group rather than nn.LayerNorm: it normalises over exactly (C, H, W), its
    affine parameters are per channel (like the original critic's), and it does not need H×W at construction, so one
    module works at every resolution of a growing network.

    Args:
        num_channels: feature channels C.
        eps: variance stabiliser.
    """

    def __init__(self, *, num_channels: int, eps: float = 1e-5) -> None:
        super().__init__(num_groups=1, num_channels=num_channels, eps=eps, affine=True)


# ---------------------------------------------------------------------------------------------------------------------
# Minibatch statistics — ProGAN §3 / App. A.1 and Salimans et al. 2016 (ProGAN Table 1 row e*)
# ---------------------------------------------------------------------------------------------------------------------
def _largest_divisor_at_most(n: int, limit: int) -> int:
    return next(d for d in range(min(n, limit), 0, -1) if n % d == 0)


class MinibatchStdDev(nn.Module):
    """Minibatch standard deviation as one extra constant feature map (ProGAN §3, App. A.1).

    The batch is split into groups of G samples; per group, the (biased) std over the group is taken for every feature
    and pixel, averaged over features and pixels, and broadcast as channel C+1 to that group's samples. As in the
    official implementation, sample n belongs to group n mod (N/G) (the batch is viewed as G×(N/G)).

    G = min(group_size, N) when that divides N. Otherwise G falls back to the largest divisor of N that is ≤ group_size,
    so odd-sized batches (the paper's 1024² batch of 3, an evaluation tail batch) still run instead of failing; the
    statistic stays a per-group std, only over fewer samples. G = 1 (e.g. a prime N > group_size) yields a constant
    sqrt(1e-8) map, which is harmless but carries no information.

    Args:
        group_size: maximum number of samples that share one std statistic (4 in ProGAN).
    """

    def __init__(self, *, group_size: int = 4) -> None:
        super().__init__()
        if group_size < 1:
            raise ValueError(f"group_size must be >= 1, got {group_size}")
        self.group_size = group_size

    def effective_group_size(self, batch_size: int) -> int:
        """The group size used for a batch of `batch_size` samples (see class docstring)."""
        if batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {batch_size}")
        return _largest_divisor_at_most(batch_size, self.group_size)

    def forward(self, x: Tensor) -> Tensor:
        _require_4d(x, "MinibatchStdDev")
        n, c, h, w = x.shape
        g = self.effective_group_size(n)
        # Statistics in at least float32: in half precision the +1e-8 would vanish and the variance underflow.
        y = x.reshape(g, n // g, c, h, w).to(torch.promote_types(x.dtype, torch.float32))
        # Biased variance with +1e-8 inside the sqrt, as in the official code, keeps the gradient finite at std=0.
        std = torch.sqrt(y.var(dim=0, correction=0) + 1e-8)  # (N/G)×C×H×W
        stat = std.mean(dim=(1, 2, 3)).to(x.dtype)  # N/G
        stat_map = stat.view(1, n // g, 1, 1, 1).expand(g, n // g, 1, h, w).reshape(n, 1, h, w)
        return torch.cat([x, stat_map], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"


class MinibatchDiscrimination(nn.Module):
    """Minibatch discrimination of Salimans et al. 2016 §3.2 (ProGAN §3, Table 1 row e*).

    A learnable tensor T ∈ R^{A×B×C} maps features f(x_i) ∈ R^A to M_i ∈ R^{B×C}; for every kernel b,
    o(x_i)_b = Σ_{j≠i} exp(-‖M_{i,b} − M_{j,b}‖₁). The B statistics are concatenated to the features (A+B outputs).
    The sum leaves out j = i: its term is always exp(0) = 1 and carries no information.

    Args:
        in_features: feature size A of the (flattened) input.
        num_kernels: number of statistics B appended per sample.
        kernel_dim: size C of each projected kernel row used in the L1 distance.
    """

    def __init__(self, *, in_features: int, num_kernels: int, kernel_dim: int) -> None:
        super().__init__()
        if min(in_features, num_kernels, kernel_dim) < 1:
            raise ValueError(f"in_features, num_kernels and kernel_dim must be >= 1, got "
                             f"{in_features}, {num_kernels}, {kernel_dim}")
        self.in_features = in_features
        self.num_kernels = num_kernels
        self.kernel_dim = kernel_dim
        # Scaled so that, for unit-variance features, the initial L1 distances are O(1): exp(-d) then starts away from
        # 0, where it would have vanishing gradient.
        std = 1.0 / (kernel_dim * math.sqrt(in_features))
        self.T = nn.Parameter(torch.randn(in_features, num_kernels * kernel_dim) * std)

    @property
    def out_features(self) -> int:
        return self.in_features + self.num_kernels

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"MinibatchDiscrimination expects N×{self.in_features}, got shape {tuple(x.shape)}")
        m = (x @ self.T).view(-1, self.num_kernels, self.kernel_dim)  # N×B×C
        l1 = (m.unsqueeze(0) - m.unsqueeze(1)).abs().sum(dim=3)  # N×N×B
        o = torch.exp(-l1).sum(dim=1) - 1.0  # drop the j = i term, exp(0) = 1
        return torch.cat([x, o], dim=1)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, num_kernels={self.num_kernels}, kernel_dim={self.kernel_dim}"


# ---------------------------------------------------------------------------------------------------------------------
# BigGAN (Brock et al. 2019) — spectral norm, self-attention, conditional BatchNorm (§3, App. B, App. C)
# ---------------------------------------------------------------------------------------------------------------------
# Cross-replica BatchNorm (App. C): these layers use plain nn.BatchNorm2d; under DistributedDataParallel the training
# code converts them with `torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)`, which aggregates the batch statistics
# across all devices as the paper's TPU implementation does. On one device the two are identical.
__all__ += ["sn", "skip_spectral_norm", "SNConv2d", "SNLinear", "SNEmbedding", "SelfAttention", "ConditionalBatchNorm2d"]

_SKIP_SN = False


@contextlib.contextmanager
def skip_spectral_norm() -> Iterator[None]:
    """Build networks without registering spectral norm, for shape-only uses such as parameter counts on the meta
    device: SN adds no parameters, but its registration runs 15 power iterations per layer (seconds per big net)."""
    global _SKIP_SN
    previous, _SKIP_SN = _SKIP_SN, True
    try:
        yield
    finally:
        _SKIP_SN = previous


def sn(module: nn.Module, *, eps: float = 1e-4, ortho_init: bool = False, n_power_iterations: int = 1) -> nn.Module:
    """Spectral normalization (Miyato et al. 2018; BigGAN App. C) of `module.weight` via torch's parametrization.

    Args:
        module: a layer with a `weight` (Conv2d, Linear, Embedding).
        eps: stabiliser of the power-iteration vector norms; BigGAN raises it from 1e-8 (here torch's 1e-12) to 1e-4.
        ortho_init: orthogonally initialise the weight first (BigGAN App. C), so the power-iteration vectors that
            `spectral_norm` warms up at registration already belong to the final weight.
        n_power_iterations: power iterations per training forward pass (1, as in SN-GAN/SAGAN/BigGAN).
    """
    if eps <= 0:
        raise ValueError(f"spectral-norm eps must be > 0, got {eps}")
    if not isinstance(getattr(module, "weight", None), torch.Tensor):
        raise ValueError(f"sn() needs a module with a weight tensor, got {type(module).__name__}")
    if ortho_init:
        nn.init.orthogonal_(module.weight)
    if _SKIP_SN:
        return module
    return nn.utils.parametrizations.spectral_norm(module, n_power_iterations=n_power_iterations, eps=eps)


def SNConv2d(*, in_channels: int, out_channels: int, kernel_size: int = 3, bias: bool = True, sn_eps: float = 1e-4,
             ortho_init: bool = False) -> nn.Module:
    """Spectrally normalised "same"-padded convolution (BigGAN App. B). Arguments as nn.Conv2d plus `sn`'s."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=bias)
    return sn(conv, eps=sn_eps, ortho_init=ortho_init)


def SNLinear(*, in_features: int, out_features: int, bias: bool = True, sn_eps: float = 1e-4,
             ortho_init: bool = False) -> nn.Module:
    """Spectrally normalised fully-connected layer (BigGAN App. B). Arguments as nn.Linear plus `sn`'s."""
    return sn(nn.Linear(in_features, out_features, bias=bias), eps=sn_eps, ortho_init=ortho_init)


def SNEmbedding(*, num_embeddings: int, embedding_dim: int, sn_eps: float = 1e-4,
                ortho_init: bool = False) -> nn.Module:
    """Spectrally normalised class embedding, used by the projection discriminator (BigGAN App. B)."""
    return sn(nn.Embedding(num_embeddings, embedding_dim), eps=sn_eps, ortho_init=ortho_init)


class SelfAttention(nn.Module):
    """SAGAN non-local block (Zhang et al. 2019), inserted at one resolution of BigGAN's G and D (App. B, App. C).

    θ and φ are 1×1 convs to C/8 channels, g to C/2; φ and g are 2×2 max-pooled (4× fewer keys, as in SAGAN/BigGAN);
    β = softmax_keys(θᵀφ); o = 1×1 conv of g·βᵀ back to C channels; output x + γ·o with a learnable γ that starts at
    0, so the block begins as the identity and the network learns how much non-local evidence to use.

    Args:
        channels: feature channels C (at least 8, so θ/φ keep one channel).
        sn_eps: spectral-norm eps of the four 1×1 convs.
        ortho_init: orthogonal initialisation of the convs (BigGAN App. C).
    """

    def __init__(self, *, channels: int, sn_eps: float = 1e-4, ortho_init: bool = False) -> None:
        super().__init__()
        if channels < 8:
            raise ValueError(f"SelfAttention needs channels >= 8 (θ/φ use channels // 8), got {channels}")
        self.channels = channels
        conv = dict(kernel_size=1, bias=False, sn_eps=sn_eps, ortho_init=ortho_init)
        self.theta = SNConv2d(in_channels=channels, out_channels=channels // 8, **conv)
        self.phi = SNConv2d(in_channels=channels, out_channels=channels // 8, **conv)
        self.g = SNConv2d(in_channels=channels, out_channels=channels // 2, **conv)
        self.o = SNConv2d(in_channels=channels // 2, out_channels=channels, **conv)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        _require_4d(x, "SelfAttention")
        n, c, h, w = x.shape
        if c != self.channels:
            raise ValueError(f"SelfAttention built for {self.channels} channels, got input with {c}")
        if h % 2 or w % 2:
            raise ValueError(f"SelfAttention pools keys 2×2 and needs even H and W, got {(h, w)}")
        theta = self.theta(x).flatten(2)  # N×C/8×HW
        phi = F.max_pool2d(self.phi(x), 2).flatten(2)  # N×C/8×HW/4
        g = F.max_pool2d(self.g(x), 2).flatten(2)  # N×C/2×HW/4
        beta = torch.softmax(theta.transpose(1, 2) @ phi, dim=-1)  # N×HW×HW/4, each query's weights over keys
        attended = (g @ beta.transpose(1, 2)).view(n, c // 2, h, w)
        return x + self.gamma * self.o(attended)

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


class ConditionalBatchNorm2d(nn.Module):
    """Class-conditional BatchNorm with per-sample gain and bias (BigGAN §3, App. B; de Vries/Dumoulin et al. 2017).

    y = BN(x)·(1 + W_γ c) + W_β c: BatchNorm without its own affine, then a one-centred gain and a zero-centred bias,
    both linear projections (no bias) of the condition vector c — in BigGAN the shared class embedding concatenated
    with this block's z chunk. With `spectral_norm=False` and a one-hot c the projections are exactly per-layer class
    embedding tables (the non-shared CBN of SAGAN / Table 1's first rows). Cross-replica BN: see the section comment.

    Args:
        num_features: channels C of the normalised feature map.
        cond_dim: size of the condition vector c.
        eps: BatchNorm variance stabiliser (BigGAN raises it to 1e-4, App. C).
        momentum: running-statistics momentum of nn.BatchNorm2d.
        spectral_norm: spectrally normalise the two projections (True in BigGAN's shared-embedding G).
        sn_eps: spectral-norm eps of the projections.
        ortho_init: orthogonal initialisation of the projections (BigGAN App. C).
    """

    def __init__(self, *, num_features: int, cond_dim: int, eps: float = 1e-4, momentum: float = 0.1,
                 spectral_norm: bool = True, sn_eps: float = 1e-4, ortho_init: bool = False) -> None:
        super().__init__()
        if num_features < 1 or cond_dim < 1:
            raise ValueError(f"num_features and cond_dim must be >= 1, got {num_features}, {cond_dim}")
        self.num_features = num_features
        self.cond_dim = cond_dim
        self.bn = nn.BatchNorm2d(num_features, eps=eps, momentum=momentum, affine=False)
        if spectral_norm:
            proj = dict(in_features=cond_dim, out_features=num_features, bias=False, sn_eps=sn_eps,
                        ortho_init=ortho_init)
            self.gain = SNLinear(**proj)
            self.bias = SNLinear(**proj)
        else:
            self.gain = nn.Linear(cond_dim, num_features, bias=False)
            self.bias = nn.Linear(cond_dim, num_features, bias=False)
            if ortho_init:
                nn.init.orthogonal_(self.gain.weight)
                nn.init.orthogonal_(self.bias.weight)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        _require_4d(x, "ConditionalBatchNorm2d")
        if cond.dim() != 2 or cond.shape[0] != x.shape[0] or cond.shape[1] != self.cond_dim:
            raise ValueError(f"condition must be N×{self.cond_dim} with N={x.shape[0]}, got shape {tuple(cond.shape)}")
        gain = 1.0 + self.gain(cond)
        bias = self.bias(cond)
        return self.bn(x) * gain[:, :, None, None] + bias[:, :, None, None]

    def extra_repr(self) -> str:
        return f"num_features={self.num_features}, cond_dim={self.cond_dim}"
