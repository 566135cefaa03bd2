"""A 2× nearest upsample followed by a "same" convolution, computed as one stride-2 transposed convolution.

ProGAN's generator (App. A.1, Table 2) upsamples each block's input 2× by replication and then applies a 3×3
convolution. The authors' released code computes the pair as one transposed convolution (``fused_scale=True``,
``upscale2d_conv2d`` in ``networks.py``), which is the same function: with u = upsample(x),

    y[m] = Σ_{t=-p..p} w[t] · u[m+t] = Σ_{t=-p..p} w[t] · x[⌊(m+t)/2⌋] = Σ_i x[i] · (w[2i-m] + w[2i+1-m]),

which is a stride-2 transposed convolution with padding p and the (k+1)-tap kernel K[j] = w[p-j] + w[p+1-j]
(w zero outside -p..p): the flipped sums of adjacent taps of the zero-padded kernel, per spatial axis. Its output
is 2H × 2W again, and it costs (k+1)²/(4k²) of the upsampled convolution's multiply-adds (0.44× for k = 3) without
writing the 4× larger upsampled map. The values equal the unfused pair's to round-off (tests, float64).
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from gancore.nn import gradfix
from gancore.nn.resample import Upsample2x

__all__ = ["upsample_conv_kernel", "upsample_conv2d", "fuse_upsample"]


def upsample_conv_kernel(weight: Tensor) -> Tensor:
    """The transposed convolution's kernel (in, out, k+1, k+1) for a conv weight (out, in, k, k), k odd."""
    if weight.dim() != 4 or weight.shape[-1] != weight.shape[-2] or weight.shape[-1] % 2 == 0:
        raise ValueError(f"upsample_conv_kernel needs an out×in×k×k weight with odd k, got {tuple(weight.shape)}")
    w = F.pad(weight, (1, 1, 1, 1))
    summed = w[..., 1:, 1:] + w[..., :-1, 1:] + w[..., 1:, :-1] + w[..., :-1, :-1]
    return summed.flip(-1, -2).transpose(0, 1)


def upsample_conv2d(x: Tensor, weight: Tensor, bias: Tensor | None, *, use_gradfix: bool = False) -> Tensor:
    """conv2d(upsample2x(x), weight, bias, padding=k//2) as one stride-2 transposed convolution."""
    pad = weight.shape[-1] // 2
    conv_t = gradfix.conv_transpose2d if use_gradfix else F.conv_transpose2d
    return conv_t(x, upsample_conv_kernel(weight), bias, stride=2, padding=pad)


def fuse_upsample(*modules: nn.Module, on: bool = True) -> int:
    """Fuse every ``Upsample2x`` directly followed (in an ``nn.Sequential``) by a "same" convolution with an odd
    kernel and an ``upsample_first`` flag (``EqualizedConv2d``). Parameters and state-dict keys stay as they are, so
    checkpoints load either way. Returns the number of pairs switched."""
    count = 0
    for root in modules:
        for seq in root.modules():
            if not isinstance(seq, nn.Sequential):
                continue
            children = list(seq)
            for up, conv in zip(children, children[1:]):
                if (isinstance(up, Upsample2x) and hasattr(conv, "upsample_first")
                        and conv.kernel_size % 2 == 1 and conv.padding == conv.kernel_size // 2):
                    up.fused, conv.upsample_first = on, on
                    count += 1
    return count
