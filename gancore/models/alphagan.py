"""alphaGAN's search space and networks (Tian et al., §4.2, Fig. 2; App. 9.1).

* Operations (§4.2): normal {conv 1×1, 3×3, 5×5 (ReLU→conv), DARTS sep-conv 3×3, 5×5, 7×7 (two ReLU→depthwise→
  pointwise→BN stages)}; up-sampling {deconv (transposed conv, kernel 2, stride 2), nearest, bilinear}. A ×4
  cross-cell edge applies its op twice (one deconv applied twice, as the authors' code does).
* :class:`AlphaGANGenerator` is the SN-GAN/AutoGAN topology: linear z → C×w×w (w = 4 at 32², 6 at 48²), three cells
  that double the resolution, then BN-ReLU-conv3×3-tanh. Without a genotype it is the **supernet**: every edge holds
  all candidate ops, mixed by softmax(α) (eq. 7) or by Gumbel-softmax((α + g)/τ) (eq. 8, App. 10.2). With a genotype
  each edge holds one op: the plain network that is retrained.
* :class:`AlphaGANDiscriminator` is the fixed AutoGAN/SN-GAN ResNet D (an optimized first block, one down-sampling
  block, two plain blocks, ReLU, global sum pooling, SN linear) built from BigGAN's D block. ``searchable=True``
  makes its eight 3×3 convs mixed edges over {SN conv 1×1, 3×3, 5×5}: the "Search D" row of Table 4 (the paper
  defines no D space; this small one is the authors' ``PRIMITIVES_NORMAL_DIS_wo_skip_none``).

Sep-convs keep BatchNorm's affine parameters off in the supernet and on in a retrained network, as DARTS and the
authors' code do: a mixed edge's ops then cannot rescale themselves to win α's softmax.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gancore.nn import DiscriminatorBlock
from gancore.nn import SNConv2d, SNLinear, downsample2x
from gancore.models.alphagan_space import (CELLS, CROSS_EDGES, NORMAL_OPS, UP_OPS, Genotype, normal_edge_names,
                                     up_edge_names)

IMAGE_CHANNELS = 3
D_OPS = ("conv_1x1", "conv_3x3", "conv_5x5")  # the "Search D" switch's per-conv choices (SN convs)


# ---------------------------------------------------------------------------------------------------------------------
# Operations (§4.2)
# ---------------------------------------------------------------------------------------------------------------------
class ReLUConv(nn.Module):
    """ReLU → k×k "same" conv with bias (the space's conv_1x1 / 3×3 / 5×5)."""

    def __init__(self, *, channels: int, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.relu(x))


class SepConv(nn.Module):
    """DARTS separable conv: (ReLU → depthwise k×k → pointwise 1×1 → BN) twice, no conv biases."""

    def __init__(self, *, channels: int, kernel_size: int, affine: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(2):
            layers += [nn.ReLU(),
                       nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels,
                                 bias=False),
                       nn.Conv2d(channels, channels, 1, bias=False),
                       nn.BatchNorm2d(channels, affine=affine)]
        self.op = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x)


class UpOp(nn.Module):
    """×2 up-sampling, applied ``times`` times (2 for the ×4 cross-cell edge): deconv, nearest or bilinear."""

    def __init__(self, *, name: str, channels: int, times: int = 1) -> None:
        super().__init__()
        if name not in UP_OPS:
            raise ValueError(f"unknown up-sampling op {name!r}; valid: {', '.join(UP_OPS)}")
        self.name, self.times = name, times
        # One transposed conv, reused for both doublings of a ×4 edge (so its parameters are those of one deconv).
        self.deconv = nn.ConvTranspose2d(channels, channels, 2, stride=2) if name == "deconv" else None

    def forward(self, x: Tensor) -> Tensor:
        for _ in range(self.times):
            if self.deconv is not None:
                x = self.deconv(x)
            else:
                x = F.interpolate(x, scale_factor=2, mode=self.name,
                                  **({"align_corners": False} if self.name == "bilinear" else {}))
        return x


def normal_op(name: str, *, channels: int, affine: bool) -> nn.Module:
    """The normal op ``name`` of §4.2 on ``channels`` channels."""
    if name not in NORMAL_OPS:
        raise ValueError(f"unknown normal op {name!r}; valid: {', '.join(NORMAL_OPS)}")
    kind, k = name.rsplit("_", 1)
    kernel = int(k.split("x")[0])
    if kind == "conv":
        return ReLUConv(channels=channels, kernel_size=kernel)
    return SepConv(channels=channels, kernel_size=kernel, affine=affine)


class Edge(nn.Module):
    """One edge of a cell: the candidate ops mixed by ``weights`` (eq. 7/8), or the single op of a genotype."""

    def __init__(self, *, ops: dict[str, nn.Module]) -> None:
        super().__init__()
        self.names = tuple(ops)
        self.ops = nn.ModuleList(ops.values())

    def forward(self, x: Tensor, weights: Tensor | None = None) -> Tensor:
        if len(self.ops) == 1:
            return self.ops[0](x)
        if weights is None or weights.shape != (len(self.ops),):
            raise ValueError(f"a mixed edge over {self.names} needs one weight per op, got "
                             f"{None if weights is None else tuple(weights.shape)}")
        out = weights[0] * self.ops[0](x)
        for w, op in zip(weights[1:], self.ops[1:]):
            out = out + w * op(x)
        return out


# ---------------------------------------------------------------------------------------------------------------------
# Generator (Fig. 2)
# ---------------------------------------------------------------------------------------------------------------------
class Cell(nn.Module):
    """Cell ``index`` (1..3) of Fig. 2: up edges input→node1, input→node3; normal edges node1→node2, node2→node4,
    node3→node4; cross-cell edges from earlier cells' node 1 added into node 4. Returns (node1, node4)."""

    def __init__(self, *, channels: int, index: int, normal: list[list[str]], up: list[list[str]],
                 cross: list[tuple[list[str], int]], affine: bool) -> None:
        super().__init__()
        self.index = index
        self.up = nn.ModuleList(Edge(ops={n: UpOp(name=n, channels=channels) for n in names}) for names in up)
        self.normal = nn.ModuleList(
            Edge(ops={n: normal_op(n, channels=channels, affine=affine) for n in names}) for names in normal)
        self.cross = nn.ModuleList(
            Edge(ops={n: UpOp(name=n, channels=channels, times=factor // 2) for n in names}) for names, factor in cross)

    def forward(self, x: Tensor, earlier_node1: list[Tensor], w_normal: list[Tensor | None],
                w_up: list[Tensor | None], w_cross: list[Tensor | None]) -> tuple[Tensor, Tensor]:
        node1 = self.up[0](x, w_up[0])
        node3 = self.up[1](x, w_up[1])
        node2 = self.normal[0](node1, w_normal[0])
        node4 = self.normal[1](node2, w_normal[1]) + self.normal[2](node3, w_normal[2])
        for edge, src, w in zip(self.cross, earlier_node1, w_cross):
            node4 = node4 + edge(src, w)
        return node1, node4


def _cross_into(cell: int) -> list[tuple[int, int, int]]:
    """(row among the 3 cross edges, source cell, factor) of the cross-cell edges entering ``cell``."""
    return [(i, src, factor) for i, (_, src, dst, factor) in enumerate(CROSS_EDGES) if dst == cell]


class AlphaGANGenerator(nn.Module):
    """alphaGAN's G (§4.2, Fig. 2): the supernet when ``genotype`` is None, else the plain retrained network.

    Args:
        channels: feature channels everywhere (256 in the paper).
        dim_z: latent size (128).
        bottom_width: the linear layer's spatial size (4 → 32² output; 6 → 48² for STL-10, §5.2).
        genotype: one op per edge; None builds every candidate op with architecture parameters α.
        relaxation: supernet mixing, "softmax" (eq. 7) or "gumbel" (eq. 8, App. 10.2).
        tau: Gumbel-softmax temperature (eq. 8).
        affine: BatchNorm affine parameters inside sep-convs (default: off in the supernet, on when retraining).
        alpha_init_std: α starts at N(0, std²) (DARTS' 1e-3: all ops equally weighted, ties broken at random).
    """

    def __init__(self, *, channels: int = 256, dim_z: int = 128, bottom_width: int = 4,
                 genotype: Genotype | None = None, relaxation: str = "softmax", tau: float = 1.0,
                 affine: bool | None = None, alpha_init_std: float = 1e-3) -> None:
        super().__init__()
        if relaxation not in ("softmax", "gumbel"):
            raise ValueError(f"relaxation={relaxation!r}; choose 'softmax' or 'gumbel'")
        self.channels, self.dim_z, self.bottom_width = channels, dim_z, bottom_width
        self.resolution = bottom_width * 8
        self.genotype, self.relaxation, self.tau = genotype, relaxation, tau
        affine = genotype is not None if affine is None else affine
        n_ops = (lambda i: [genotype.normal_ops()[i]]) if genotype else (lambda i: list(NORMAL_OPS))
        u_ops = (lambda i: [genotype.up_ops()[i]]) if genotype else (lambda i: list(UP_OPS))
        self.l1 = nn.Linear(dim_z, bottom_width ** 2 * channels)
        self.cells = nn.ModuleList()
        for c in range(1, 4):
            cross = [(u_ops(6 + row), factor) for row, _src, factor in _cross_into(c)]
            self.cells.append(Cell(channels=channels, index=c, normal=[n_ops(3 * (c - 1) + e) for e in range(3)],
                                   up=[u_ops(2 * (c - 1) + e) for e in range(2)], cross=cross, affine=affine))
        self.to_rgb = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(), nn.Conv2d(channels, IMAGE_CHANNELS, 3,
                                                                                   padding=1), nn.Tanh())
        if genotype is None:
            self.alpha_normal = nn.Parameter(alpha_init_std * torch.randn(len(normal_edge_names()), len(NORMAL_OPS)))
            self.alpha_up = nn.Parameter(alpha_init_std * torch.randn(len(up_edge_names()), len(UP_OPS)))

    @property
    def is_supernet(self) -> bool:
        return self.genotype is None

    def arch_parameters(self) -> list[nn.Parameter]:
        return [self.alpha_normal, self.alpha_up] if self.is_supernet else []

    def weight_parameters(self) -> list[nn.Parameter]:
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    def edge_weights(self, *, gumbel_rng: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Per-edge op weights: softmax(α) (eq. 7), or softmax((α + g)/τ) with Gumbel noise g drawn from
        ``gumbel_rng`` (eq. 8; without a generator, e.g. when sampling, the plain softmax)."""
        if not self.is_supernet:
            raise ValueError("a genotype network has no architecture parameters")
        out = []
        for alpha in (self.alpha_normal, self.alpha_up):
            if self.relaxation == "gumbel" and gumbel_rng is not None:
                u = torch.rand(alpha.shape, generator=gumbel_rng).clamp_(1e-10, 1 - 1e-10).to(alpha.device)
                out.append(F.softmax((alpha - torch.log(-torch.log(u))) / self.tau, dim=-1))
            else:
                out.append(F.softmax(alpha, dim=-1))
        return out[0], out[1]

    def forward(self, z: Tensor, *, weights: tuple[Tensor, Tensor] | None = None,
                gumbel_rng: torch.Generator | None = None) -> Tensor:
        """z (N×dim_z) → images N×3×R×R in [-1, 1]. ``weights`` (normal 9×6, up 9×3) override the net's own α
        (a worst-case copy can run on the live α this way)."""
        if z.dim() != 2 or z.shape[1] != self.dim_z:
            raise ValueError(f"z must be N×{self.dim_z}, got {tuple(z.shape)}")
        if self.is_supernet:
            wn, wu = weights if weights is not None else self.edge_weights(gumbel_rng=gumbel_rng)
        else:
            wn, wu = [None] * 9, [None] * 9
        h = self.l1(z).view(-1, self.channels, self.bottom_width, self.bottom_width)
        node1s: list[Tensor] = []
        for c, cell in enumerate(self.cells, start=1):
            srcs = [node1s[src - 1] for _row, src, _f in _cross_into(c)]
            w_cross = [wu[6 + row] for row, _s, _f in _cross_into(c)]
            n1, h = cell(h, srcs, [wn[3 * (c - 1) + e] for e in range(3)], [wu[2 * (c - 1) + e] for e in range(2)],
                         w_cross)
            node1s.append(n1)
        return self.to_rgb(h)


# ---------------------------------------------------------------------------------------------------------------------
# Discriminator (AutoGAN / SN-GAN ResNet D; Table 4 "Search D")
# ---------------------------------------------------------------------------------------------------------------------
class SearchDBlock(nn.Module):
    """A D block whose two convs are mixed edges over SN conv 1×1 / 3×3 / 5×5 (the "Search D" switch)."""

    def __init__(self, *, in_channels: int, out_channels: int, downsample: bool, preactivation: bool,
                 sn_eps: float) -> None:
        super().__init__()
        self.downsample, self.preactivation = downsample, preactivation

        def mixed(c_in: int) -> Edge:
            return Edge(ops={n: SNConv2d(in_channels=c_in, out_channels=out_channels, kernel_size=int(n[-1]),
                                         sn_eps=sn_eps) for n in D_OPS})

        self.conv1, self.conv2 = mixed(in_channels), mixed(out_channels)
        learnable = in_channels != out_channels or downsample
        self.shortcut = (SNConv2d(in_channels=in_channels, out_channels=out_channels, kernel_size=1, sn_eps=sn_eps)
                         if learnable else None)

    def forward(self, x: Tensor, w1: Tensor, w2: Tensor) -> Tensor:
        h = F.relu(x) if self.preactivation else x
        h = self.conv2(F.relu(self.conv1(h, w1)), w2)
        h = downsample2x(h) if self.downsample else h
        s = x
        if self.preactivation:
            s = self.shortcut(s) if self.shortcut is not None else s
            s = downsample2x(s) if self.downsample else s
        else:
            s = downsample2x(s) if self.downsample else s
            s = self.shortcut(s) if self.shortcut is not None else s
        return h + s


class AlphaGANDiscriminator(nn.Module):
    """AutoGAN/SN-GAN D (App. 9.1): optimized block (↓), block (↓), two plain blocks, ReLU, sum pool, SN linear.

    Args:
        channels: D width (128 in the paper).
        resolution: input resolution (32 or 48; any multiple of 4).
        searchable: mixed SN convs with their own α (Table 4 "Search D").
        sn_eps: spectral-norm eps (torch's default 1e-12, as AutoGAN's D).
    """

    def __init__(self, *, channels: int = 128, resolution: int = 32, searchable: bool = False,
                 sn_eps: float = 1e-12, alpha_init_std: float = 1e-3) -> None:
        super().__init__()
        self.resolution, self.searchable = resolution, searchable
        plan = [(IMAGE_CHANNELS, True, False), (channels, True, True), (channels, False, True), (channels, False, True)]
        if searchable:
            self.blocks = nn.ModuleList(SearchDBlock(in_channels=c_in, out_channels=channels, downsample=down,
                                                     preactivation=pre, sn_eps=sn_eps) for c_in, down, pre in plan)
            self.alpha_d = nn.Parameter(alpha_init_std * torch.randn(2 * len(plan), len(D_OPS)))
        else:
            self.blocks = nn.ModuleList(DiscriminatorBlock(in_channels=c_in, out_channels=channels, downsample=down,
                                                           preactivation=pre, sn_eps=sn_eps, ortho_init=False)
                                        for c_in, down, pre in plan)
        self.linear = SNLinear(in_features=channels, out_features=1, bias=False, sn_eps=sn_eps)

    def arch_parameters(self) -> list[nn.Parameter]:
        return [self.alpha_d] if self.searchable else []

    def weight_parameters(self) -> list[nn.Parameter]:
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    def forward(self, x: Tensor, *, weights: Tensor | None = None) -> Tensor:
        """Images N×3×R×R → scores N."""
        if x.dim() != 4 or x.shape[1:] != (IMAGE_CHANNELS, self.resolution, self.resolution):
            raise ValueError(f"x must be N×3×{self.resolution}×{self.resolution}, got {tuple(x.shape)}")
        h = x
        if self.searchable:
            w = F.softmax(self.alpha_d, dim=-1) if weights is None else weights
            for i, block in enumerate(self.blocks):
                h = block(h, w[2 * i], w[2 * i + 1])
        else:
            for block in self.blocks:
                h = block(h)
        return self.linear(F.relu(h).sum(dim=(2, 3))).squeeze(1)


def derive_d_ops(alpha_d: Tensor) -> list[str]:
    """The searched D's conv per position (argmax of α_D), for the run's summary."""
    return [D_OPS[int(i)] for i in alpha_d.argmax(dim=-1)]


# ---------------------------------------------------------------------------------------------------------------------
# FLOPs (Table 2's column) in two conventions
# ---------------------------------------------------------------------------------------------------------------------
@torch.no_grad()
def count_flops(G: AlphaGANGenerator) -> dict[str, int]:
    """Multiply-accumulates of one image through G, in two conventions.

    * ``macs``: true multiply-accumulates. A k×k, stride-k transposed conv does k²·C_in·C_out per *input* pixel.
    * ``paper``: the convention behind Table 2's FLOPs (that of common counters such as thop), which counts a
      transposed conv like a conv *per output pixel*: k²·C_in·C_out per output pixel, k² = 4 times the true count
      for the 2×2 deconv. Convs and linear layers count the same in both; normalisation, activations and
      interpolation add nothing.
    """
    counts = {"macs": 0, "paper": 0}

    def conv_hook(module: nn.Conv2d, inputs, output) -> None:
        per = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        n = output[0].numel() * per
        counts["macs"] += n
        counts["paper"] += n

    def deconv_hook(module: nn.ConvTranspose2d, inputs, output) -> None:
        per = module.out_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        counts["macs"] += inputs[0][0].numel() * per
        counts["paper"] += output[0].numel() * module.in_channels // module.groups * module.kernel_size[0] \
            * module.kernel_size[1]

    def linear_hook(module: nn.Linear, inputs, output) -> None:
        n = module.in_features * module.out_features
        counts["macs"] += n
        counts["paper"] += n

    handles = []
    for m in G.modules():
        if isinstance(m, nn.ConvTranspose2d):
            handles.append(m.register_forward_hook(deconv_hook))
        elif isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was = G.training
    G.eval()
    try:
        G(torch.zeros(1, G.dim_z, device=next(G.parameters()).device))
    finally:
        G.train(was)
        for h in handles:
            h.remove()
    return counts


__all__ = ["AlphaGANGenerator", "AlphaGANDiscriminator", "Cell", "Edge", "SepConv", "ReLUConv", "UpOp", "normal_op",
           "count_flops", "derive_d_ops", "D_OPS", "CELLS"]
