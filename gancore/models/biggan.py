"""BigGAN generator and discriminator (Brock et al. 2019, §3 and App. B).

ResNet G and D of SAGAN/SN-GAN with BigGAN's changes: spectral norm in both nets (eps 1e-4, App. C), one SAGAN
self-attention block per net (at 64×64 for the 128×128 model), class-conditional BatchNorm in G fed by a single shared
class embedding (§3), hierarchical latents (z split into one chunk for the input linear layer plus one per G block, §3,
App. B), a projection discriminator (Miyato & Koyama 2018) and orthogonal initialisation (App. C).

The App. B architecture tables were lost in the paper extraction shipped with the project; the channel patterns below
(`biggan_arch`) follow the published tables as reproduced by the authors' BigGAN-PyTorch code: e.g. at 128×128 the G
blocks go ch·[16, 16, 8, 4, 2] → ch·[16, 8, 4, 2, 1] and the D blocks 3, ch·[1, 2, 4, 8, 16] → ch·[1, 2, 4, 8, 16, 16].
With those, G+D at ch=96 with shared embedding and hierarchical z has the 158.3M parameters of Table 1 (see tests).

Table 1's ablation switches:

* ``shared=False`` — no shared embedding: every CBN layer owns class-embedding tables for its gain and bias
  (SAGAN's per-layer embeddings; Table 1's first rows). Implemented as bias-free, not spectrally normalised linear
  maps of the one-hot class (an embedding lookup written as a matrix product); with ``hier=True`` the block's z chunk
  is concatenated to the one-hot, so the same maps also receive the chunk.
* ``hier=False`` — the whole z goes to the input linear layer only and the CBN condition is the class information
  alone.

CIFAR-10 (resolution 32) uses BigGAN-PyTorch's 32×32 layout: G blocks of 4·ch channels (App. B's 256-channel CIFAR
G corresponds to ch=64) and D blocks of 4·ch with no downsampling in the last two. The extracted paper text does not
let us confirm the CIFAR table, so this is documented rather than verified.

BigGAN-deep (App. B, Fig. 16) is `GeneratorDeep` / `DiscriminatorDeep`: bottleneck residual blocks (1×1 channel
reduction by 4), parameter-free skips that drop (G) or keep-and-extend (D) channels, two blocks per resolution, and
z (128) concatenated with the shared embedding instead of a hierarchical split. Its channel tables again follow
BigGAN-PyTorch; 512×512 BigGAN-deep is not in the default table (it could not be checked against the extracted paper):
`GeneratorDeep(stage_mults=...)` builds it, e.g. from the converted TF-Hub release (`gancore.models.biggan_pretrained`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gancore.nn import (  # noqa: F401  (count_params is re-exported)
    ConditionalBatchNorm2d,
    DiscriminatorBlock,
    SelfAttention,
    SNConv2d,
    SNEmbedding,
    SNLinear,
    count_params,
    downsample2x,
    upsample2x,
)

__all__ = ["BigGANArch", "biggan_arch", "Generator", "Discriminator", "GeneratorDeep", "DiscriminatorDeep",
           "count_params"]

IMAGE_CHANNELS = 3
BOTTOM_WIDTH = 4  # G starts from a 4×4 feature map at every resolution (App. B).

# Channel multipliers per output resolution (App. B tables, BigGAN-PyTorch layout). G: per block (in, out), every block
# upsamples 2×. D: per block (in, out, downsample); the first D input is the 3 image channels, marked by 0.
_G_MULTS: dict[int, tuple[list[int], list[int]]] = {
    32: ([4, 4, 4], [4, 4, 4]),
    64: ([16, 16, 8, 4], [16, 8, 4, 2]),
    128: ([16, 16, 8, 4, 2], [16, 8, 4, 2, 1]),
    256: ([16, 16, 8, 8, 4, 2], [16, 8, 8, 4, 2, 1]),
    512: ([16, 16, 8, 8, 4, 2, 1], [16, 8, 8, 4, 2, 1, 1]),
}
_D_MULTS: dict[int, tuple[list[int], list[int], list[bool]]] = {
    32: ([0, 4, 4, 4], [4, 4, 4, 4], [True, True, False, False]),
    64: ([0, 1, 2, 4, 8], [1, 2, 4, 8, 16], [True] * 4 + [False]),
    128: ([0, 1, 2, 4, 8, 16], [1, 2, 4, 8, 16, 16], [True] * 5 + [False]),
    256: ([0, 1, 2, 4, 8, 8, 16], [1, 2, 4, 8, 8, 16, 16], [True] * 6 + [False]),
    512: ([0, 1, 1, 2, 4, 8, 8, 16], [1, 1, 2, 4, 8, 8, 16, 16], [True] * 7 + [False]),
}


@dataclass(frozen=True)
class BigGANArch:
    """Block layout of one BigGAN network: per block its input/output channels and output resolution."""

    in_channels: tuple[int, ...]
    out_channels: tuple[int, ...]
    out_resolution: tuple[int, ...]
    resample: tuple[bool, ...]


def biggan_arch(*, resolution: int, ch: int, net: str) -> BigGANArch:
    """Block layout of BigGAN's G (`net="G"`) or D (`net="D"`) at `resolution` with channel multiplier `ch` (App. B)."""
    if resolution not in _G_MULTS:
        raise ValueError(f"resolution={resolution!r} is not supported; choose one of {sorted(_G_MULTS)}")
    if not isinstance(ch, int) or ch < 1:
        raise ValueError(f"ch must be a positive int, got {ch!r}")
    if net == "G":
        ins, outs = _G_MULTS[resolution]
        res = tuple(BOTTOM_WIDTH * 2 ** (i + 1) for i in range(len(ins)))
        return BigGANArch(tuple(m * ch for m in ins), tuple(m * ch for m in outs), res, (True,) * len(ins))
    if net == "D":
        ins, outs, down = _D_MULTS[resolution]
        res, r = [], resolution
        for d in down:
            r = r // 2 if d else r
            res.append(r)
        in_ch = tuple(m * ch if m else IMAGE_CHANNELS for m in ins)
        return BigGANArch(in_ch, tuple(m * ch for m in outs), tuple(res), tuple(down))
    raise ValueError(f"net={net!r} is not supported; choose one of ['G', 'D']")


def _check_attention_res(attention_res: tuple[int, ...], available: tuple[int, ...], net: str) -> None:
    bad = [r for r in attention_res if r not in available]
    if bad:
        raise ValueError(f"attention_res {bad} is not a block output resolution of {net}; "
                         f"choose from {sorted(set(available))}")


def _check_labels(y: Tensor, n: int, num_classes: int) -> None:
    if y.shape != (n,) or y.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"y must be an integer tensor of shape ({n},), got {tuple(y.shape)} {y.dtype}")
    if not n:
        return
    if y.device.type != "cpu":
        # Reading the range back would sync the host with the device on every forward pass (3+ per training
        # step); the asynchronous assertion fails the next CUDA call instead, with this message in the log.
        torch._assert_async((y.min() >= 0) & (y.max() < num_classes),
                            f"class labels must lie in [0, {num_classes})")
        return
    if int(y.min()) < 0 or int(y.max()) >= num_classes:
        raise ValueError(f"class labels must lie in [0, {num_classes}), got range [{int(y.min())}, {int(y.max())}]")


def _class_part(G: nn.Module, z: Tensor, y: Tensor | None, class_vec: Tensor | None) -> Tensor:
    """The class vector of every sample: from labels ``y`` or given directly (exactly one of the two)."""
    if (y is None) == (class_vec is None):
        raise ValueError("pass exactly one of y (class labels) and class_vec (class vectors)")
    if y is not None:
        _check_labels(y, z.shape[0], G.num_classes)
        return G.class_vector(y, dtype=z.dtype)
    expected = G.class_dim
    if class_vec.dim() != 2 or class_vec.shape != (z.shape[0], expected):
        raise ValueError(f"class_vec must be {z.shape[0]}×{expected}, got shape {tuple(class_vec.shape)}")
    return class_vec.to(z.dtype)


def _orthogonal_init_unwrapped(module: nn.Module) -> None:
    """Orthogonal init (App. C) of the plain (not spectrally normalised) Linear/Conv/Embedding weights.

    The spectrally normalised layers were initialised by `sn(..., ortho_init=True)` before their power-iteration
    vectors were warmed up; re-initialising them here would leave those vectors stale.
    """
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.Embedding)) and not nn.utils.parametrize.is_parametrized(m):
            nn.init.orthogonal_(m.weight)


# ---------------------------------------------------------------------------------------------------------------------
# Generator
# ---------------------------------------------------------------------------------------------------------------------
class GeneratorBlock(nn.Module):
    """Up-sampling ResNet block of BigGAN's G (App. B): CBN-ReLU-up-conv3 → CBN-ReLU-conv3, plus up-conv1 shortcut.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        cond_dim: size of the CBN condition vector.
        sn_cbn: spectrally normalise the CBN projections (shared embedding) or not (per-layer class embeddings).
        sn_eps: spectral-norm eps.
        bn_eps: BatchNorm eps.
        ortho_init: orthogonal initialisation.
    """

    def __init__(self, *, in_channels: int, out_channels: int, cond_dim: int, sn_cbn: bool, sn_eps: float,
                 bn_eps: float, ortho_init: bool) -> None:
        super().__init__()
        cbn = dict(cond_dim=cond_dim, eps=bn_eps, spectral_norm=sn_cbn, sn_eps=sn_eps, ortho_init=ortho_init)
        conv = dict(sn_eps=sn_eps, ortho_init=ortho_init)
        self.bn1 = ConditionalBatchNorm2d(num_features=in_channels, **cbn)
        self.conv1 = SNConv2d(in_channels=in_channels, out_channels=out_channels, **conv)
        self.bn2 = ConditionalBatchNorm2d(num_features=out_channels, **cbn)
        self.conv2 = SNConv2d(in_channels=out_channels, out_channels=out_channels, **conv)
        # Every G block upsamples, so the shortcut always needs its learnable 1×1 conv (as in SN-GAN/SAGAN).
        self.shortcut = SNConv2d(in_channels=in_channels, out_channels=out_channels, kernel_size=1, **conv)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        h = upsample2x(F.relu(self.bn1(x, cond)))
        h = self.conv2(F.relu(self.bn2(self.conv1(h), cond)))
        return h + self.shortcut(upsample2x(x))


class Generator(nn.Module):
    """BigGAN generator (Brock et al. 2019, §3, App. B): G(z, y) → N×3×R×R images in [-1, 1].

    Args:
        resolution: output resolution R, one of 32, 64, 128, 256, 512.
        ch: channel multiplier (96 for the main 128×128 models, Table 1).
        dim_z: latent size (120 at 128², 140 at 256², 128 at 512²); with hier it must split into len(blocks)+1
            equal chunks.
        shared_dim: size of the shared class embedding (128).
        num_classes: number of classes (1000 for ImageNet).
        hier: hierarchical latents — first z chunk to the input linear layer, one chunk per block into its CBN (§3).
        shared: one shared class embedding linearly projected in every CBN; False gives per-layer class embeddings.
        attention_res: block output resolutions followed by a self-attention block ((64,) at 128², App. B).
        sn_eps: spectral-norm eps (1e-4, App. C).
        bn_eps: BatchNorm eps (1e-4, App. C).
        ortho_init: orthogonal initialisation of all weights (App. C).
    """

    def __init__(self, *, resolution: int = 128, ch: int = 96, dim_z: int = 120, shared_dim: int = 128,
                 num_classes: int = 1000, hier: bool = True, shared: bool = True,
                 attention_res: tuple[int, ...] = (64,),
                 sn_eps: float = 1e-4, bn_eps: float = 1e-4, ortho_init: bool = True) -> None:
        super().__init__()
        arch = biggan_arch(resolution=resolution, ch=ch, net="G")
        _check_attention_res(tuple(attention_res), arch.out_resolution, "G")
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if shared and shared_dim < 1:
            raise ValueError(f"shared_dim must be >= 1 with shared=True, got {shared_dim}")
        num_chunks = len(arch.in_channels) + 1 if hier else 1
        if dim_z < 1 or dim_z % num_chunks:
            raise ValueError(f"dim_z={dim_z} must be a positive multiple of {num_chunks} (hier={hier} splits z into "
                             f"{num_chunks} equal chunks at resolution {resolution})")
        self.resolution = resolution
        self.dim_z = dim_z
        self.num_classes = num_classes
        self.hier = hier
        self.num_chunks = num_chunks
        self.chunk_size = dim_z // num_chunks
        self.attention_res = tuple(attention_res)
        # Shared: the embedding (plus z chunk) is projected by SN'd linears. Non-shared: the CBN maps read the one-hot
        # class directly, i.e. they are per-layer embedding tables, which SAGAN did not spectrally normalise.
        self.shared = nn.Embedding(num_classes, shared_dim) if shared else None
        self.class_dim = class_dim = shared_dim if shared else num_classes  # size of class_vector(y)
        cond_dim = class_dim + (self.chunk_size if hier else 0)

        self.first_channels = arch.in_channels[0]
        self.linear = SNLinear(in_features=self.chunk_size, out_features=self.first_channels * BOTTOM_WIDTH ** 2,
                               sn_eps=sn_eps, ortho_init=ortho_init)
        self.blocks = nn.ModuleList()
        self.attention = nn.ModuleDict()
        for i, (c_in, c_out, res) in enumerate(zip(arch.in_channels, arch.out_channels, arch.out_resolution)):
            self.blocks.append(GeneratorBlock(in_channels=c_in, out_channels=c_out, cond_dim=cond_dim,
                                              sn_cbn=shared, sn_eps=sn_eps, bn_eps=bn_eps, ortho_init=ortho_init))
            if res in self.attention_res:
                self.attention[str(i)] = SelfAttention(channels=c_out, sn_eps=sn_eps, ortho_init=ortho_init)
        self.out_bn = nn.BatchNorm2d(arch.out_channels[-1], eps=bn_eps)
        self.to_rgb = SNConv2d(in_channels=arch.out_channels[-1], out_channels=IMAGE_CHANNELS, sn_eps=sn_eps,
                               ortho_init=ortho_init)
        if ortho_init:
            _orthogonal_init_unwrapped(self)

    def split_latent(self, z: Tensor) -> list[Tensor]:
        """z split into the input-layer chunk and one chunk per block (hier), or [z] (§3 hierarchical latents)."""
        if z.dim() != 2 or z.shape[1] != self.dim_z:
            raise ValueError(f"z must be N×{self.dim_z}, got shape {tuple(z.shape)}")
        return list(torch.split(z, self.chunk_size, dim=1))

    def class_vector(self, y: Tensor, *, dtype: torch.dtype = torch.float32) -> Tensor:
        """Class part of every CBN condition: the shared embedding, or the one-hot class (as `dtype`) if not shared."""
        if self.shared is not None:
            return self.shared(y)
        return F.one_hot(y.long(), self.num_classes).to(dtype)

    def forward(self, z: Tensor, y: Tensor | None = None, *, class_vec: Tensor | None = None) -> Tensor:
        """Images for latents ``z`` and labels ``y``, or for explicit class vectors ``class_vec`` (N×dim of
        :meth:`class_vector`): mixing two classes' vectors with z fixed is the class interpolation of Fig. 9 (App. A)."""
        chunks = self.split_latent(z)
        class_vec = _class_part(self, z, y, class_vec)
        conds = [torch.cat([class_vec, c], dim=1) for c in chunks[1:]] if self.hier else [class_vec] * len(self.blocks)
        h = self.linear(chunks[0]).view(z.shape[0], self.first_channels, BOTTOM_WIDTH, BOTTOM_WIDTH)
        for i, (block, cond) in enumerate(zip(self.blocks, conds)):
            h = block(h, cond)
            if str(i) in self.attention:
                h = self.attention[str(i)](h)
        return torch.tanh(self.to_rgb(F.relu(self.out_bn(h))))


# ---------------------------------------------------------------------------------------------------------------------
# Discriminator
# ---------------------------------------------------------------------------------------------------------------------
class Discriminator(nn.Module):
    """BigGAN projection discriminator (Brock et al. 2019, App. B; Miyato & Koyama 2018): D(x, y) → N scores.

    score = w·φ(x) + b + ⟨embed(y), φ(x)⟩ with φ(x) the ReLU'd, spatially summed output of the ResNet blocks.

    Args:
        resolution: input resolution, one of 32, 64, 128, 256, 512.
        ch: channel multiplier (96 for the main 128×128 models).
        num_classes: number of classes of the projection embedding.
        attention_res: block output resolutions followed by a self-attention block ((64,) at 128²).
        sn_eps: spectral-norm eps (1e-4, App. C).
        ortho_init: orthogonal initialisation of all weights (App. C).
    """

    def __init__(self, *, resolution: int = 128, ch: int = 96, num_classes: int = 1000,
                 attention_res: tuple[int, ...] = (64,), sn_eps: float = 1e-4, ortho_init: bool = True) -> None:
        super().__init__()
        arch = biggan_arch(resolution=resolution, ch=ch, net="D")
        _check_attention_res(tuple(attention_res), arch.out_resolution, "D")
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.resolution = resolution
        self.num_classes = num_classes
        self.attention_res = tuple(attention_res)
        self.blocks = nn.ModuleList()
        self.attention = nn.ModuleDict()
        attended: set[int] = set()
        for i, (c_in, c_out, res, down) in enumerate(zip(arch.in_channels, arch.out_channels, arch.out_resolution,
                                                        arch.resample)):
            self.blocks.append(DiscriminatorBlock(in_channels=c_in, out_channels=c_out, downsample=down,
                                                  preactivation=i > 0, sn_eps=sn_eps, ortho_init=ortho_init))
            # Once per resolution: at 32² several D blocks keep the 8×8 size.
            if res in self.attention_res and res not in attended:
                attended.add(res)
                self.attention[str(i)] = SelfAttention(channels=c_out, sn_eps=sn_eps, ortho_init=ortho_init)
        feat = arch.out_channels[-1]
        self.linear = SNLinear(in_features=feat, out_features=1, sn_eps=sn_eps, ortho_init=ortho_init)
        self.embed = SNEmbedding(num_embeddings=num_classes, embedding_dim=feat, sn_eps=sn_eps, ortho_init=ortho_init)

    def features(self, x: Tensor) -> Tensor:
        """φ(x): ReLU'd block output summed over space (App. B), N×C."""
        if x.dim() != 4 or x.shape[1:] != (IMAGE_CHANNELS, self.resolution, self.resolution):
            raise ValueError(f"x must be N×{IMAGE_CHANNELS}×{self.resolution}×{self.resolution}, got {tuple(x.shape)}")
        h = x
        for i, block in enumerate(self.blocks):
            h = block(h)
            if str(i) in self.attention:
                h = self.attention[str(i)](h)
        return F.relu(h).sum(dim=(2, 3))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        _check_labels(y, x.shape[0], self.num_classes)
        h = self.features(x)
        return self.linear(h).squeeze(1) + (self.embed(y) * h).sum(dim=1)


# BigGAN-deep shares this file's layout tables and checks; it lives in its own module for size.
from gancore.models.biggan_deep import (DeepDiscriminatorBlock, DeepGeneratorBlock, DiscriminatorDeep,  # noqa: E402,F401
                                        GeneratorDeep)
