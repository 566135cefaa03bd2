"""DGGAN's growable generator and discriminator, built from a spec (Dynamically Grown GANs, "Generator and
Discriminator Base Architecture" and "Action Search Space").

* **Spec** (:class:`ArchSpec`): the latent size, ProGAN's channel table for the fade-in blocks, and the conv layers of
  G (in forward order) and D (from the top resolution down), each a :class:`ConvLayer` with a stable name. A child is
  its parent's spec plus one :class:`Action`; ``ArchSpec.to_dict`` is what a run folder's ``config.json`` holds.
* **Base** at d0 × d0 (d0 = 8): ProGAN's nets up to 8² (equalized LR, PixelNorm in G, minibatch stddev in D),
  built from ProGAN's layers (:mod:`gancore.nn`).
* **Where growth happens**: G grows just before its last convolution (toRGB), D just after its first (fromRGB);
  they need not stay symmetric.
* **Actions** (25): add a conv (k ∈ {3, 7}, f ∈ {32, …, 1024}, same padding) to G or to D, or grow both to twice the
  resolution through a ProGAN fade-in block (``forward(..., alpha=a)`` blends the new path in, ProGAN §2).
* **Weight inheritance** (:func:`inherit`): a child copies every tensor it shares with its parent by name. The one
  neighbour whose shape an insertion changes (G's toRGB gets the new conv's f inputs; D's layer after fromRGB gets
  f inputs) keeps the overlapping channel slice of the parent's weight and a fresh init for the rest: those input
  channels now come from a random new layer, so no copy could keep their meaning. The slice's *stored* weights
  and the whole bias are copied, but with equalized learning rate the runtime scale is gain / √fan-in of the
  *child's* fan-in, so the slice's effective weights are the parent's times √(old fan-in / new fan-in) =
  √(f_old / f_new): smaller where the new conv is wider, larger where it is narrower. gancore keeps the stored
  weights (what a plain copy of an equalized layer does; the fresh channels are at the same He scale, so the
  layer's input-to-output gain stays ProGAN's) and says so in papers/dggan/paper.yaml (``neighbour_slice``).
* **Cost** (:func:`conv_macs`): the multiply-accumulates of G's and D's convs per image, the search's estimate of a
  candidate's training time (longest first) and, optionally, of its GPU share.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import torch
from torch import Tensor, nn

from gancore.errors import ConfigError
from gancore.nn import LatentProjection, progan_channels
from gancore.nn import EqualizedConv2d, EqualizedLinear, MinibatchStdDev, PixelNorm, downsample2x, upsample2x

IMAGE_CHANNELS = 3
KERNELS = (3, 7)
FILTERS = (32, 64, 128, 256, 512, 1024)
FORMAT = "gancore-dggan-arch/1"


# ---------------------------------------------------------------------------------------------------------------------
# Spec and actions
# ---------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConvLayer:
    """One conv of a growable net: stable ``name``, the resolution it runs at, kernel size and filters."""

    name: str
    res: int
    kernel: int
    filters: int


@dataclass(frozen=True)
class Action:
    """``net`` "G" or "D" with a conv (kernel, filters), or "grow" (both nets to twice the resolution)."""

    net: str
    kernel: int = 0
    filters: int = 0

    @property
    def name(self) -> str:
        return "grow" if self.net == "grow" else f"{self.net.lower()}_k{self.kernel}_f{self.filters}"

    @classmethod
    def parse(cls, name: str, *, kernels: tuple[int, ...] = KERNELS, filters: tuple[int, ...] = FILTERS) -> "Action":
        """``g_k3_f64``, ``d_k7_f1024`` or ``grow``; anything else is a :class:`ConfigError` naming the valid set."""
        if name == "grow":
            return cls("grow")
        m = re.fullmatch(r"([gd])_k(\d+)_f(\d+)", str(name))
        valid = f"g_k<k>_f<f>, d_k<k>_f<f> or grow, with k in {list(kernels)} and f in {list(filters)}"
        if not m:
            raise ConfigError(f"unknown action {name!r}; actions are {valid}")
        k, f = int(m.group(2)), int(m.group(3))
        if k not in kernels or f not in filters:
            raise ConfigError(f"action {name!r}: kernel {k} or filters {f} is outside the action set; {valid}")
        return cls(m.group(1).upper(), k, f)


def action_space(*, kernels: tuple[int, ...] = KERNELS, filters: tuple[int, ...] = FILTERS) -> list[Action]:
    """Every action: a conv for G and for D per (k, f), plus grow (2·2·6 + 1 = 25 with the paper's sets)."""
    return [Action(net, k, f) for net in ("G", "D") for k in kernels for f in filters] + [Action("grow")]


@dataclass(frozen=True)
class ArchSpec:
    """A whole G/D pair: enough to rebuild both nets exactly (and to name every layer)."""

    latent_dim: int
    fmap: dict[int, int]  # ProGAN channels of the base and fade-in blocks per resolution
    g: tuple[ConvLayer, ...]
    d: tuple[ConvLayer, ...]
    max_resolution: int = 1024
    history: tuple[str, ...] = field(default=())  # the actions that grew it from the base, in order

    @property
    def resolution(self) -> int:
        return max(layer.res for layer in self.g)

    def num_layers(self) -> tuple[int, int]:
        """Conv layers of G and D (toRGB/fromRGB and D's 4×4 head not counted)."""
        return len(self.g), len(self.d)

    def to_dict(self) -> dict[str, Any]:
        layers = lambda ls: [[l.name, l.res, l.kernel, l.filters] for l in ls]  # noqa: E731
        return {"format": FORMAT, "latent_dim": self.latent_dim, "fmap": {str(k): v for k, v in self.fmap.items()},
                "g": layers(self.g), "d": layers(self.d), "max_resolution": self.max_resolution,
                "history": list(self.history)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ArchSpec":
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ConfigError(f"not a DGGAN architecture spec (expected format {FORMAT!r})")
        layers = lambda ls: tuple(ConvLayer(str(n), int(r), int(k), int(f)) for n, r, k, f in ls)  # noqa: E731
        return cls(latent_dim=int(data["latent_dim"]), fmap={int(k): int(v) for k, v in data["fmap"].items()},
                   g=layers(data["g"]), d=layers(data["d"]), max_resolution=int(data.get("max_resolution", 1024)),
                   history=tuple(data.get("history", ())))

    # ---- growing -------------------------------------------------------------------------------------------------
    def can_apply(self, action: Action) -> bool:
        return action.net != "grow" or self.resolution * 2 <= self.max_resolution

    def child(self, action: Action) -> "ArchSpec":
        """This spec plus one action (the new layers get fresh, never-reused names)."""
        R = self.resolution
        if action.net == "G":  # just before G's last convolution (toRGB_R): the end of stage R
            layer = ConvLayer(self._fresh("g", R), R, action.kernel, action.filters)
            return replace(self, g=self.g + (layer,), history=self.history + (action.name,))
        if action.net == "D":  # just after D's first convolution (fromRGB_R): the start of stage R
            layer = ConvLayer(self._fresh("d", R), R, action.kernel, action.filters)
            return replace(self, d=(layer,) + self.d, history=self.history + (action.name,))
        if action.net != "grow":
            raise ValueError(f"unknown action {action!r}")
        if not self.can_apply(action):
            raise ConfigError(f"grow: resolution {2 * R} exceeds max_resolution={self.max_resolution}")
        r2 = 2 * R
        g_new = (ConvLayer(f"g{r2}.b0", r2, 3, self.fmap[r2]), ConvLayer(f"g{r2}.b1", r2, 3, self.fmap[r2]))
        # D's new block ends in the channels fromRGB_R used to produce, so stage R's first layer keeps its input.
        d_new = (ConvLayer(f"d{r2}.b0", r2, 3, self.fmap[r2]), ConvLayer(f"d{r2}.b1", r2, 3, self.fmap[R]))
        return replace(self, g=self.g + g_new, d=d_new + self.d, history=self.history + ("grow",))

    def _fresh(self, net: str, res: int) -> str:
        used = {l.name for l in (self.g if net == "g" else self.d)}
        n = 0
        while f"{net}{res}.x{n}" in used:
            n += 1
        return f"{net}{res}.x{n}"


def base_spec(*, latent_dim: int = 128, base_resolution: int = 8, max_resolution: int = 32,
              fmap_base: int = 8192, fmap_max: int = 512) -> ArchSpec:
    """ProGAN's G and D up to ``base_resolution`` (d0 = 8 in the paper) with ProGAN's channel table."""
    if base_resolution < 8 or base_resolution & (base_resolution - 1):
        raise ConfigError(f"base_resolution={base_resolution} must be a power of two >= 8")
    fmap = progan_channels(max_resolution, fmap_base=fmap_base, fmap_max=fmap_max)
    g = [ConvLayer("g4.b0", 4, 3, fmap[4])]
    d = []
    r = 8
    while r <= base_resolution:
        g += [ConvLayer(f"g{r}.b0", r, 3, fmap[r]), ConvLayer(f"g{r}.b1", r, 3, fmap[r])]
        d = [ConvLayer(f"d{r}.b0", r, 3, fmap[r]), ConvLayer(f"d{r}.b1", r, 3, fmap[r // 2])] + d
        r *= 2
    return ArchSpec(latent_dim=latent_dim, fmap=dict(fmap), g=tuple(g), d=tuple(d), max_resolution=max_resolution)


def conv_macs(spec: ArchSpec) -> int:
    """Multiply-accumulates per image of G's and D's convs (k² · c_in · c_out · res²): a candidate's relative
    training cost (the k7/1024-filter children cost several times a plain one)."""
    total, ch = 0, spec.fmap[4]
    for layer in spec.g:
        total += layer.kernel ** 2 * ch * layer.filters * layer.res ** 2
        ch = layer.filters
    res, ch = None, None
    for layer in spec.d:
        if layer.res != res:
            res, ch = layer.res, (spec.fmap[layer.res] if ch is None else ch)
        total += layer.kernel ** 2 * ch * layer.filters * layer.res ** 2
        ch = layer.filters
    return int(total)


# ---------------------------------------------------------------------------------------------------------------------
# Networks built from a spec
# ---------------------------------------------------------------------------------------------------------------------
def _key(name: str) -> str:
    return name.replace(".", "_")


class GrowableGenerator(nn.Module):
    """G of a spec: latent projection to 4×4 (ProGAN), then every conv of ``spec.g`` (×2 nearest upsampling where the
    resolution rises), each conv → LeakyReLU(0.2) → PixelNorm, then toRGB at the top resolution. ``alpha < 1``
    fades the top stage in (ProGAN §2): lerp(upsample(toRGB_{R/2}(h_{R/2})), toRGB_R(h_R), α)."""

    def __init__(self, *, spec: ArchSpec) -> None:
        super().__init__()
        self.spec, self.latent_dim, self.resolution = spec, spec.latent_dim, spec.resolution
        self.latent_norm = PixelNorm()
        self.project = LatentProjection(latent_dim=spec.latent_dim, channels=spec.fmap[4])
        self.convs = nn.ModuleDict()
        ch, out_ch = spec.fmap[4], {}
        for layer in spec.g:
            self.convs[_key(layer.name)] = EqualizedConv2d(in_channels=ch, out_channels=layer.filters,
                                                           kernel_size=layer.kernel)
            ch = out_ch[layer.res] = layer.filters
        self.to_rgb = nn.ModuleDict({str(r): EqualizedConv2d(in_channels=c, out_channels=IMAGE_CHANNELS,
                                                              kernel_size=1, gain=1.0)
                                     for r, c in out_ch.items() if r >= self.resolution // 2 and r > 4})
        self.act = nn.LeakyReLU(0.2)
        self.pixelnorm = PixelNorm()

    def forward(self, z: Tensor, *, alpha: float = 1.0) -> Tensor:
        h = self.act(self.project(self.latent_norm(z)))
        h = self.pixelnorm(h)
        res, prev = 4, None
        for layer in self.spec.g:
            if layer.res != res:
                prev, res = h, layer.res
                h = upsample2x(h)
            h = self.pixelnorm(self.act(self.convs[_key(layer.name)](h)))
        out = self.to_rgb[str(res)](h)
        if alpha < 1.0 and prev is not None and str(res // 2) in self.to_rgb:
            out = torch.lerp(upsample2x(self.to_rgb[str(res // 2)](prev)), out, alpha)
        return out


class GrowableDiscriminator(nn.Module):
    """D of a spec: fromRGB at the top resolution, every conv of ``spec.d`` (2×2 average pooling where the
    resolution falls), each conv → LeakyReLU(0.2), then ProGAN's 4×4 head (minibatch stddev, conv 3×3, conv 4×4,
    linear). ``alpha < 1`` fades the top stage in: lerp(fromRGB_{R/2}(downsample(x)), stage_R(fromRGB_R(x)), α)."""

    def __init__(self, *, spec: ArchSpec, mbstd_group: int = 4) -> None:
        super().__init__()
        self.spec, self.resolution = spec, spec.resolution
        self.convs = nn.ModuleDict()
        self.from_rgb = nn.ModuleDict()
        res, ch = None, None
        for layer in spec.d:
            if layer.res != res:
                res = layer.res
                if res >= self.resolution // 2:
                    self.from_rgb[str(res)] = EqualizedConv2d(in_channels=IMAGE_CHANNELS,
                                                              out_channels=spec.fmap[res], kernel_size=1)
                ch = spec.fmap[res] if ch is None else ch
            self.convs[_key(layer.name)] = EqualizedConv2d(in_channels=ch, out_channels=layer.filters,
                                                           kernel_size=layer.kernel)
            ch = layer.filters
        c4 = spec.fmap[4]
        if ch != c4:
            raise ValueError(f"D's last conv must end in fmap[4]={c4} channels, got {ch}")
        self.mbstd = MinibatchStdDev(group_size=mbstd_group)
        self.head_conv = EqualizedConv2d(in_channels=c4 + 1, out_channels=c4, kernel_size=3)
        self.head_dense = EqualizedConv2d(in_channels=c4, out_channels=c4, kernel_size=4, padding=0)
        self.head_linear = EqualizedLinear(in_features=c4, out_features=1, gain=1.0)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: Tensor, *, alpha: float = 1.0) -> Tensor:
        R = self.resolution
        h = self.act(self.from_rgb[str(R)](x))
        res = R
        for i, layer in enumerate(self.spec.d):
            if layer.res != res:
                h = downsample2x(h)
                if res == R and alpha < 1.0 and str(layer.res) in self.from_rgb:
                    h = torch.lerp(self.act(self.from_rgb[str(layer.res)](downsample2x(x))), h, alpha)
                res = layer.res
            h = self.act(self.convs[_key(layer.name)](h))
        h = downsample2x(h)
        h = self.act(self.head_conv(self.mbstd(h)))
        h = self.act(self.head_dense(h)).flatten(1)
        return self.head_linear(h).squeeze(1)


def build(spec: ArchSpec, *, mbstd_group: int = 4) -> tuple[GrowableGenerator, GrowableDiscriminator]:
    """G and D of ``spec`` (fresh init; :func:`inherit` copies a parent's weights in)."""
    return GrowableGenerator(spec=spec), GrowableDiscriminator(spec=spec, mbstd_group=mbstd_group)


# ---------------------------------------------------------------------------------------------------------------------
# Weight inheritance
# ---------------------------------------------------------------------------------------------------------------------
@torch.no_grad()
def inherit(child: nn.Module, parent: nn.Module | Mapping[str, Tensor], *, prefix: str = "") -> dict[str, str]:
    """Copy the parent's tensors into the child by name: equal shapes whole, a changed input width as the
    overlapping slice (the rest keeps its fresh init). ``parent`` is a module or a state dict (a checkpoint's;
    ``prefix`` is stripped from its keys, e.g. ``"module."`` of an EMA). Returns {tensor name: "copied" | "sliced" |
    "new"}."""
    raw = parent.state_dict() if isinstance(parent, nn.Module) else parent
    parent_state = {k[len(prefix):]: v for k, v in raw.items() if k.startswith(prefix)}
    report = {}
    for name, t in child.state_dict().items():
        p = parent_state.get(name)
        if p is None:
            report[name] = "new"
        elif p.shape == t.shape:
            t.copy_(p)
            report[name] = "copied"
        elif p.dim() == t.dim():
            region = tuple(slice(0, min(a, b)) for a, b in zip(p.shape, t.shape))
            t[region] = p[region]
            report[name] = "sliced"
        else:
            report[name] = "new"
    return report


__all__ = ["Action", "ArchSpec", "ConvLayer", "GrowableDiscriminator", "GrowableGenerator", "action_space",
           "base_spec", "build", "conv_macs", "inherit", "KERNELS", "FILTERS"]
