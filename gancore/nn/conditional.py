"""BigGAN's shared layers (Brock et al. 2019, §3, App. B, App. C): SAGAN self-attention, class-conditional
BatchNorm, and the down-sampling ResNet block of D (alphaGAN's fixed D uses it too).

Cross-replica BatchNorm (App. C): these layers use plain nn.BatchNorm2d; under torch.distributed the training code
converts them with ``torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)``, which aggregates the batch statistics
across all devices as the paper's TPU implementation does. On one device the two are identical.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gancore.nn.resample import _require_4d, downsample2x
from gancore.nn.spectral import SNConv2d, SNLinear


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
        # torch's fused attention (F.scaled_dot_product_attention, scale 1 as SAGAN's softmax(θᵀφ)): the same maths
        # without the HW × HW/4 matrix in memory; a run switches it on (BigGAN's fused_attention).
        self.fused = False

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
        if self.fused:
            # Fused kernels (flash, memory-efficient) want 4-D inputs whose heads are all one width, but SAGAN's
            # values are 4× wider than its queries and keys (C/2 against C/8). So the values are cut into four
            # C/8-wide heads that share the one attention map (queries and keys repeated per head): the same
            # maths, and the HW × HW/4 matrix is never stored. Scale 1 as SAGAN's softmax(θᵀφ).
            heads = (c // 2) // (c // 8) if (c // 2) % (c // 8) == 0 else 1  # 1: widths that do not divide
            width = (c // 2) // heads
            # Fused kernels also need unit stride along the head width: a copy for NCHW maps, none for NHWC ones.
            q = theta.transpose(1, 2).contiguous()[:, None].expand(n, heads, -1, -1)
            k = phi.transpose(1, 2).contiguous()[:, None].expand(n, heads, -1, -1)
            v = g.view(n, heads, width, -1).transpose(2, 3).contiguous()
            out = F.scaled_dot_product_attention(q, k, v, scale=1.0)  # N×heads×HW×width
            attended = out.transpose(2, 3).reshape(n, c // 2, h, w)
        else:
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


class DiscriminatorBlock(nn.Module):
    """Down-sampling ResNet block of BigGAN's D (App. B): [ReLU]-conv3-ReLU-conv3-[avgpool], plus conv1 shortcut.

    As App. B notes, the first conv already has the block's output width (SAGAN's channel pattern). The first block
    skips the leading ReLU, which would discard the negative half of the image, and pools its shortcut before the 1×1
    conv (cheaper on 3 channels); later blocks convolve first, as in SN-GAN.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        downsample: 2×2 average pooling at the end of the block.
        preactivation: ReLU before the first conv (all blocks but the first).
        sn_eps: spectral-norm eps.
        ortho_init: orthogonal initialisation.
    """

    def __init__(self, *, in_channels: int, out_channels: int, downsample: bool, preactivation: bool, sn_eps: float,
                 ortho_init: bool) -> None:
        super().__init__()
        conv = dict(sn_eps=sn_eps, ortho_init=ortho_init)
        self.downsample = downsample
        self.preactivation = preactivation
        self.conv1 = SNConv2d(in_channels=in_channels, out_channels=out_channels, **conv)
        self.conv2 = SNConv2d(in_channels=out_channels, out_channels=out_channels, **conv)
        learnable = in_channels != out_channels or downsample
        self.shortcut = (SNConv2d(in_channels=in_channels, out_channels=out_channels, kernel_size=1, **conv)
                         if learnable else None)

    def _shortcut(self, x: Tensor) -> Tensor:
        if self.preactivation:
            x = self.shortcut(x) if self.shortcut is not None else x
            return downsample2x(x) if self.downsample else x
        x = downsample2x(x) if self.downsample else x
        return self.shortcut(x) if self.shortcut is not None else x

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(x) if self.preactivation else x
        h = self.conv2(F.relu(self.conv1(h)))
        h = downsample2x(h) if self.downsample else h
        return h + self._shortcut(x)
