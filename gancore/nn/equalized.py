"""ProGAN §4.1 equalized learning rate (and the plain He-initialised baseline of App. A.2), §4.2 pixelwise
normalization, and the WGAN-GP critic's layer norm (App. A.2, Table 1 row a)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gancore.nn import gradfix
from gancore.nn.fused_scale import upsample_conv2d


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
        # Gradient penalties differentiate through D twice: gancore.nn.gradfix keeps those derivatives on fast
        # convolution kernels (switched on per run, gancore.nn.gradfix.enable); off, this is plain F.conv2d.
        self.gradfix = False
        # Set with the Upsample2x before it (gancore.nn.fused_scale.fuse_upsample): upsample 2× and convolve as one
        # stride-2 transposed convolution, the authors' fused_scale; same function, 0.44× the multiply-adds at k=3.
        self.upsample_first = False

    def forward(self, x: Tensor) -> Tensor:
        if self.upsample_first:
            return upsample_conv2d(x, self.scaled_weight(), self.scaled_bias(), use_gradfix=self.gradfix)
        conv = gradfix.conv2d if self.gradfix else F.conv2d
        return conv(x, self.scaled_weight(), self.scaled_bias(), padding=self.padding)

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
