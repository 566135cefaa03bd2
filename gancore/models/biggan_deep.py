"""BigGAN-deep (Brock et al. 2019, App. B, Fig. 16): bottleneck residual blocks, ``depth`` per resolution stage,
no hierarchical split (c = [z, shared embedding]), a parameter-free G skip and a channel-concatenating D skip.

The same network family as :mod:`gancore.models.biggan`, whose block-layout tables and input checks it uses.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gancore.models.biggan import (BOTTOM_WIDTH, IMAGE_CHANNELS, BigGANArch, _check_attention_res, _check_labels,
                                   _class_part, _orthogonal_init_unwrapped, biggan_arch)
from gancore.nn import ConditionalBatchNorm2d, SelfAttention, SNConv2d, SNEmbedding, SNLinear, downsample2x, upsample2x

# D-deep channel multipliers per stage (in, out, downsample); a 3×3 input conv first maps the image to ch channels.
_D_DEEP_MULTS: dict[int, tuple[list[int], list[int], list[bool]]] = {
    32: ([4, 4, 4], [4, 4, 4], [True, True, False]),
    64: ([1, 2, 4, 8], [2, 4, 8, 16], [True] * 4),
    128: ([1, 2, 4, 8, 16], [2, 4, 8, 16, 16], [True] * 5),
    256: ([1, 2, 4, 8, 8, 16], [2, 4, 8, 8, 16, 16], [True] * 6),
}
_DEEP_RESOLUTIONS = tuple(sorted(_D_DEEP_MULTS))


def _deep_g_arch(*, resolution: int, ch: int, stage_mults: tuple[tuple[int, int], ...]) -> BigGANArch:
    """G-deep layout from explicit per-stage (in, out) multipliers of ch, every stage upsampling 2×."""
    if not isinstance(ch, int) or ch < 1:
        raise ValueError(f"ch must be a positive int, got {ch!r}")
    mults = [tuple(m) for m in stage_mults]
    if not mults or any(len(m) != 2 or not all(isinstance(v, int) and v >= 1 for v in m) for m in mults):
        raise ValueError(f"stage_mults must be a non-empty sequence of (in, out) positive ints, got {stage_mults!r}")
    if resolution != BOTTOM_WIDTH * 2 ** len(mults):
        raise ValueError(f"{len(mults)} upsampling stages from {BOTTOM_WIDTH}×{BOTTOM_WIDTH} give "
                         f"{BOTTOM_WIDTH * 2 ** len(mults)}, not resolution={resolution}")
    res = tuple(BOTTOM_WIDTH * 2 ** (i + 1) for i in range(len(mults)))
    return BigGANArch(tuple(i * ch for i, _ in mults), tuple(o * ch for _, o in mults), res, (True,) * len(mults))


def _check_deep(resolution: int | None, depth: int, channel_ratio: int) -> None:
    # resolution=None: the caller gives an explicit stage layout, so the table's resolutions do not apply.
    if resolution is not None and resolution not in _D_DEEP_MULTS:
        raise ValueError(f"BigGAN-deep resolution={resolution!r} is not supported; choose one of "
                         f"{list(_DEEP_RESOLUTIONS)}")
    if depth < 1:
        raise ValueError(f"depth (blocks per resolution) must be >= 1, got {depth}")
    if channel_ratio < 1:
        raise ValueError(f"channel_ratio must be >= 1, got {channel_ratio}")


class DeepGeneratorBlock(nn.Module):
    """Bottleneck residual block of BigGAN-deep's G (App. B, Fig. 16 left).

    CBN-ReLU-conv1×1 (to in/ratio) → CBN-ReLU-[up]-conv3 → CBN-ReLU-conv3 → CBN-ReLU-conv1×1 (to out). The skip has
    no parameters: upsampled if the block upsamples, and its surplus channels dropped when out < in.

    Args:
        in_channels: input channels.
        out_channels: output channels (<= in_channels).
        cond_dim: size of the CBN condition ([z, shared embedding]).
        upsample: 2× nearest-neighbour upsampling inside the block.
        channel_ratio: bottleneck reduction (4 in BigGAN-deep).
        sn_eps: spectral-norm eps.
        bn_eps: BatchNorm eps.
        ortho_init: orthogonal initialisation.
    """

    def __init__(self, *, in_channels: int, out_channels: int, cond_dim: int, upsample: bool, channel_ratio: int,
                 sn_eps: float, bn_eps: float, ortho_init: bool) -> None:
        super().__init__()
        if out_channels > in_channels:
            raise ValueError(f"G-deep blocks drop channels on the skip and need out <= in, got {in_channels} → "
                             f"{out_channels}")
        hidden = max(in_channels // channel_ratio, 1)
        self.out_channels = out_channels
        self.upsample = upsample
        cbn = dict(cond_dim=cond_dim, eps=bn_eps, spectral_norm=True, sn_eps=sn_eps, ortho_init=ortho_init)
        conv = dict(sn_eps=sn_eps, ortho_init=ortho_init)
        self.bn1 = ConditionalBatchNorm2d(num_features=in_channels, **cbn)
        self.conv1 = SNConv2d(in_channels=in_channels, out_channels=hidden, kernel_size=1, **conv)
        self.bn2 = ConditionalBatchNorm2d(num_features=hidden, **cbn)
        self.conv2 = SNConv2d(in_channels=hidden, out_channels=hidden, **conv)
        self.bn3 = ConditionalBatchNorm2d(num_features=hidden, **cbn)
        self.conv3 = SNConv2d(in_channels=hidden, out_channels=hidden, **conv)
        self.bn4 = ConditionalBatchNorm2d(num_features=hidden, **cbn)
        self.conv4 = SNConv2d(in_channels=hidden, out_channels=out_channels, kernel_size=1, **conv)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        h = self.conv1(F.relu(self.bn1(x, cond)))
        h = F.relu(self.bn2(h, cond))
        if self.upsample:
            h, x = upsample2x(h), upsample2x(x)
        h = self.conv3(F.relu(self.bn3(self.conv2(h), cond)))
        h = self.conv4(F.relu(self.bn4(h, cond)))
        return h + x[:, : self.out_channels]


class GeneratorDeep(nn.Module):
    """BigGAN-deep generator (Brock et al. 2019, App. B, Fig. 16): G(z, y) → N×3×R×R images in [-1, 1].

    No hierarchical split: c = [z, shared embedding(y)] feeds the input linear layer and every CBN. Each resolution
    stage has `depth` bottleneck blocks, the last of which upsamples and reduces the channels (same per-stage channel
    pattern as BigGAN, App. B).

    Args:
        resolution: output resolution, one of 32, 64, 128, 256 (any 4·2^k with `stage_mults`).
        ch: channel multiplier (128 in the paper's BigGAN-deep).
        dim_z: latent size (128).
        shared_dim: size of the shared class embedding (128).
        num_classes: number of classes.
        depth: blocks per resolution stage (2).
        channel_ratio: bottleneck channel reduction (4).
        attention_res: stage output resolutions followed by a self-attention block ((64,) at 128²).
        sn_eps: spectral-norm eps (1e-4).
        bn_eps: BatchNorm eps (1e-4).
        ortho_init: orthogonal initialisation (App. C).
        stage_mults: per-stage (in, out) channel multipliers of ch replacing the App. B table (None); then
            resolution must be 4·2^len(stage_mults). Builds e.g. the converted TF-Hub release's 512² layout.
        rgb_conv_channels: output channels of the last conv, of which the first 3 are the image (3). The TF-Hub
            BigGAN-deep release convolves to ch channels and keeps 3; with spectral norm that differs from a 3-channel
            conv, since σ is taken over all output channels.
    """

    def __init__(self, *, resolution: int = 128, ch: int = 128, dim_z: int = 128, shared_dim: int = 128,
                 num_classes: int = 1000, depth: int = 2, channel_ratio: int = 4,
                 attention_res: tuple[int, ...] = (64,), sn_eps: float = 1e-4, bn_eps: float = 1e-4,
                 ortho_init: bool = True, stage_mults: tuple[tuple[int, int], ...] | None = None,
                 rgb_conv_channels: int = IMAGE_CHANNELS) -> None:
        super().__init__()
        _check_deep(resolution if stage_mults is None else None, depth, channel_ratio)
        arch = (biggan_arch(resolution=resolution, ch=ch, net="G") if stage_mults is None
                else _deep_g_arch(resolution=resolution, ch=ch, stage_mults=stage_mults))
        if rgb_conv_channels < IMAGE_CHANNELS:
            raise ValueError(f"rgb_conv_channels must be >= {IMAGE_CHANNELS}, got {rgb_conv_channels}")
        _check_attention_res(tuple(attention_res), arch.out_resolution, "G-deep")
        if num_classes < 1 or dim_z < 1 or shared_dim < 1:
            raise ValueError(f"num_classes, dim_z and shared_dim must be >= 1, got {num_classes}, {dim_z}, "
                             f"{shared_dim}")
        self.resolution = resolution
        self.dim_z = dim_z
        self.num_classes = num_classes
        self.attention_res = tuple(attention_res)
        self.shared = nn.Embedding(num_classes, shared_dim)
        self.class_dim = shared_dim  # size of class_vector(y)
        cond_dim = dim_z + shared_dim
        self.first_channels = arch.in_channels[0]
        self.linear = SNLinear(in_features=cond_dim, out_features=self.first_channels * BOTTOM_WIDTH ** 2,
                               sn_eps=sn_eps, ortho_init=ortho_init)
        layers: list[nn.Module] = []
        for c_in, c_out, res in zip(arch.in_channels, arch.out_channels, arch.out_resolution):
            for k in range(depth):
                last = k == depth - 1
                layers.append(DeepGeneratorBlock(in_channels=c_in, out_channels=c_out if last else c_in,
                                                 cond_dim=cond_dim, upsample=last, channel_ratio=channel_ratio,
                                                 sn_eps=sn_eps, bn_eps=bn_eps, ortho_init=ortho_init))
            if res in self.attention_res:
                layers.append(SelfAttention(channels=c_out, sn_eps=sn_eps, ortho_init=ortho_init))
        self.layers = nn.ModuleList(layers)
        self.out_bn = nn.BatchNorm2d(arch.out_channels[-1], eps=bn_eps)
        self.to_rgb = SNConv2d(in_channels=arch.out_channels[-1], out_channels=rgb_conv_channels, sn_eps=sn_eps,
                               ortho_init=ortho_init)
        if ortho_init:
            _orthogonal_init_unwrapped(self)

    def class_vector(self, y: Tensor, *, dtype: torch.dtype = torch.float32) -> Tensor:
        """The shared class embedding of labels ``y`` (what class interpolation mixes)."""
        return self.shared(y).to(dtype)

    def condition(self, z: Tensor, y: Tensor | None = None, *, class_vec: Tensor | None = None) -> Tensor:
        """c = [z, shared embedding(y)], the input of the first linear layer and of every CBN."""
        if z.dim() != 2 or z.shape[1] != self.dim_z:
            raise ValueError(f"z must be N×{self.dim_z}, got shape {tuple(z.shape)}")
        return torch.cat([z, _class_part(self, z, y, class_vec)], dim=1)

    def forward(self, z: Tensor, y: Tensor | None = None, *, class_vec: Tensor | None = None) -> Tensor:
        """Images for latents ``z`` and labels ``y``, or for explicit shared-embedding vectors ``class_vec``."""
        cond = self.condition(z, y, class_vec=class_vec)
        h = self.linear(cond).view(z.shape[0], self.first_channels, BOTTOM_WIDTH, BOTTOM_WIDTH)
        for layer in self.layers:
            h = layer(h, cond) if isinstance(layer, DeepGeneratorBlock) else layer(h)
        return torch.tanh(self.to_rgb(F.relu(self.out_bn(h)))[:, :IMAGE_CHANNELS])


class DeepDiscriminatorBlock(nn.Module):
    """Bottleneck residual block of BigGAN-deep's D (App. B, Fig. 16 right).

    ReLU-conv1×1 (to out/ratio) → ReLU-conv3 → ReLU-conv3 → ReLU-[avgpool]-conv1×1 (to out). The skip is
    [avgpool] and, when out > in, the input concatenated with a learnable 1×1 conv producing the missing out − in
    channels (so the identity part of the skip is kept).

    Args:
        in_channels: input channels.
        out_channels: output channels (>= in_channels).
        downsample: 2×2 average pooling inside the block.
        channel_ratio: bottleneck reduction (4 in BigGAN-deep).
        sn_eps: spectral-norm eps.
        ortho_init: orthogonal initialisation.
    """

    def __init__(self, *, in_channels: int, out_channels: int, downsample: bool, channel_ratio: int, sn_eps: float,
                 ortho_init: bool) -> None:
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(f"D-deep blocks add channels on the skip and need out >= in, got {in_channels} → "
                             f"{out_channels}")
        hidden = max(out_channels // channel_ratio, 1)
        conv = dict(sn_eps=sn_eps, ortho_init=ortho_init)
        self.downsample = downsample
        self.conv1 = SNConv2d(in_channels=in_channels, out_channels=hidden, kernel_size=1, **conv)
        self.conv2 = SNConv2d(in_channels=hidden, out_channels=hidden, **conv)
        self.conv3 = SNConv2d(in_channels=hidden, out_channels=hidden, **conv)
        self.conv4 = SNConv2d(in_channels=hidden, out_channels=out_channels, kernel_size=1, **conv)
        self.shortcut = (SNConv2d(in_channels=in_channels, out_channels=out_channels - in_channels, kernel_size=1,
                                  **conv) if out_channels > in_channels else None)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(F.relu(x))
        h = F.relu(self.conv3(F.relu(self.conv2(F.relu(h)))))
        if self.downsample:
            h, x = downsample2x(h), downsample2x(x)
        h = self.conv4(h)
        if self.shortcut is not None:
            x = torch.cat([x, self.shortcut(x)], dim=1)
        return h + x


class DiscriminatorDeep(nn.Module):
    """BigGAN-deep projection discriminator (Brock et al. 2019, App. B, Fig. 16): D(x, y) → N scores.

    A 3×3 input conv to ch channels, then per stage `depth` bottleneck blocks (the first downsamples and widens),
    ReLU, spatial sum, and the projection head of `Discriminator`.

    Args:
        resolution: input resolution, one of 32, 64, 128, 256.
        ch: channel multiplier (128 in the paper's BigGAN-deep).
        num_classes: number of classes of the projection embedding.
        depth: blocks per resolution stage (2).
        channel_ratio: bottleneck channel reduction (4).
        attention_res: stage output resolutions followed by a self-attention block ((64,) at 128²).
        sn_eps: spectral-norm eps (1e-4).
        ortho_init: orthogonal initialisation (App. C).
    """

    def __init__(self, *, resolution: int = 128, ch: int = 128, num_classes: int = 1000, depth: int = 2,
                 channel_ratio: int = 4, attention_res: tuple[int, ...] = (64,), sn_eps: float = 1e-4,
                 ortho_init: bool = True) -> None:
        super().__init__()
        _check_deep(resolution, depth, channel_ratio)
        if not isinstance(ch, int) or ch < 1:
            raise ValueError(f"ch must be a positive int, got {ch!r}")
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        ins, outs, down = _D_DEEP_MULTS[resolution]
        stage_res, r = [], resolution
        for d in down:
            r = r // 2 if d else r
            stage_res.append(r)
        _check_attention_res(tuple(attention_res), tuple(stage_res), "D-deep")
        self.resolution = resolution
        self.num_classes = num_classes
        self.attention_res = tuple(attention_res)
        conv = dict(sn_eps=sn_eps, ortho_init=ortho_init)
        self.input_conv = SNConv2d(in_channels=IMAGE_CHANNELS, out_channels=ins[0] * ch, **conv)
        layers: list[nn.Module] = []
        attended: set[int] = set()
        for m_in, m_out, d, res in zip(ins, outs, down, stage_res):
            for k in range(depth):
                layers.append(DeepDiscriminatorBlock(in_channels=(m_in if k == 0 else m_out) * ch,
                                                     out_channels=m_out * ch, downsample=d and k == 0,
                                                     channel_ratio=channel_ratio, **conv))
            if res in self.attention_res and res not in attended:
                attended.add(res)
                layers.append(SelfAttention(channels=m_out * ch, **conv))
        self.layers = nn.Sequential(*layers)
        feat = outs[-1] * ch
        self.linear = SNLinear(in_features=feat, out_features=1, **conv)
        self.embed = SNEmbedding(num_embeddings=num_classes, embedding_dim=feat, **conv)

    def features(self, x: Tensor) -> Tensor:
        """φ(x): ReLU'd output of the blocks summed over space, N×C."""
        if x.dim() != 4 or x.shape[1:] != (IMAGE_CHANNELS, self.resolution, self.resolution):
            raise ValueError(f"x must be N×{IMAGE_CHANNELS}×{self.resolution}×{self.resolution}, got {tuple(x.shape)}")
        return F.relu(self.layers(self.input_conv(x))).sum(dim=(2, 3))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        _check_labels(y, x.shape[0], self.num_classes)
        h = self.features(x)
        return self.linear(h).squeeze(1) + (self.embed(y) * h).sum(dim=1)
