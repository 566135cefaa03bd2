"""Embedded procedural "shapes" dataset: the default data for tests and reduced-scale runs.

Each image shows exactly one anti-aliased foreground shape (its class is the label) on a
background made of a solid colour, a random linear gradient, a smooth sinusoidal texture and
light per-pixel noise. Every scene parameter is drawn in normalized coordinates, so the same
``(seed, index)`` depicts the same scene at any resolution; the papers' multi-resolution
training (ProGAN §2) can therefore use this data at 4×4 … 256×256 without any download.

Determinism contract: image ``i`` depends only on ``(seed, i, resolution)``. Parameters come
from fixed-size chunks of ``PARAM_CHUNK`` indices whose generator seed is a hash of
``(seed, chunk)``, so any slice of the stream can be rendered on its own.
"""
from __future__ import annotations

import hashlib
import math
from typing import Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset

__all__ = [
    "SHAPE_CLASSES",
    "VALID_RESOLUTIONS",
    "render_shapes",
    "ShapesDataset",
    "check_resolution",
]

SHAPE_CLASSES: tuple[str, ...] = (
    "circle",
    "square",
    "triangle",
    "star",
    "ring",
    "cross",
    "crescent",
    "heart",
)

VALID_RESOLUTIONS: tuple[int, ...] = tuple(2**k for k in range(2, 9))  # 4 .. 256

# Parameter tables are generated per chunk of this many stream indices. Changing it changes
# every image of every seed, so it is part of the dataset definition.
PARAM_CHUNK = 1024

# Pixels rendered at once (images × H × W). Blocks of ~2 MB per float temporary stay in the
# CPU cache and the allocator's free lists; much larger blocks were measured ~2× slower.
_PIXELS_PER_RENDER = 1 << 19

# Columns of the per-image uniform parameter table (order is part of the dataset definition).
_COL_CLASS = 0
_COL_SIZE = 1
_COL_CX, _COL_CY = 2, 3
_COL_ANGLE = 4
_COL_BG_A = slice(5, 8)
_COL_BG_DELTA = slice(8, 11)
_COL_GRAD_ANGLE = 11
_COL_TEX = slice(12, 18)  # two sinusoids: (freq, direction, phase) each
_COL_TEX_AMP = 18
_COL_NOISE_AMP = 19
_COL_NOISE_PHASE = 20
_COL_FG = slice(21, 21 + 3 * 8)  # 8 candidate foreground colours
_NUM_COLS = 21 + 3 * 8
_NUM_FG_CANDIDATES = 8

# Minimum RGB distance (in [0,1] units) between the shape colour and both gradient end colours,
# so the class is always visible.
_MIN_CONTRAST = 0.5
_SIZE_RANGE = (0.45, 0.8)  # shape bounding radius as a fraction of the image half-width
_MARGIN = 0.97  # keep the shape's bounding circle inside this fraction of the half-width


def check_resolution(resolution: int) -> int:
    """Return ``resolution`` if it is a power of two in 4..256, else raise ValueError."""
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution not in VALID_RESOLUTIONS:
        raise ValueError(
            f"resolution={resolution!r} is not supported; valid values are {list(VALID_RESOLUTIONS)}"
        )
    return resolution


def _chunk_seed(seed: int, chunk: int) -> int:
    # A cryptographic hash decorrelates neighbouring (seed, chunk) pairs, which a linear mix
    # of the two integers would not.
    digest = hashlib.blake2b(f"gancore-shapes:{seed}:{chunk}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & 0x7FFF_FFFF_FFFF_FFFF


def _param_table(seed: int, start: int, n: int) -> Tensor:
    """Uniform [0,1) parameter rows for stream indices start..start+n-1 (float64 → exact slicing)."""
    first, last = start // PARAM_CHUNK, (start + n - 1) // PARAM_CHUNK
    rows = []
    for chunk in range(first, last + 1):
        gen = torch.Generator().manual_seed(_chunk_seed(seed, chunk))
        rows.append(torch.rand(PARAM_CHUNK, _NUM_COLS, generator=gen, dtype=torch.float64))
    table = torch.cat(rows)
    offset = start - first * PARAM_CHUNK
    return table[offset : offset + n]


# ----------------------------------------------------------------------------------------
# Signed distance functions in local shape coordinates (bounding radius ≈ 1, negative inside).
# ----------------------------------------------------------------------------------------

def _sd_circle(x: Tensor, y: Tensor) -> Tensor:
    return torch.hypot(x, y) - 0.95


def _sd_square(x: Tensor, y: Tensor) -> Tensor:
    half = 0.7  # corner at radius 0.99
    qx, qy = x.abs() - half, y.abs() - half
    outside = torch.hypot(qx.clamp(min=0), qy.clamp(min=0))
    return outside + torch.maximum(qx, qy).clamp(max=0)


def _sd_triangle(x: Tensor, y: Tensor) -> Tensor:
    # Equilateral triangle with circumradius 1 (half side r = √3/2), centred on its centroid.
    k = math.sqrt(3.0)
    r = k / 2
    px = x.abs() - r
    py = y + r / k
    fold = (px + k * py) > 0
    px, py = (
        torch.where(fold, (px - k * py) / 2, px),
        torch.where(fold, (-k * px - py) / 2, py),
    )
    px = px - px.clamp(min=-2 * r, max=0.0)
    return -torch.hypot(px, py) * torch.sign(py)


def _sd_star(x: Tensor, y: Tensor) -> Tensor:
    # Five-pointed star, outer radius 1, inner radius ≈ 0.45 (mirror folds into one edge).
    k1x, k1y = 0.809016994375, -0.587785252292
    k2x, k2y = -k1x, k1y
    px, py = x.abs(), y
    d = (k1x * px + k1y * py).clamp(min=0) * 2
    px, py = px - d * k1x, py - d * k1y
    d = (k2x * px + k2y * py).clamp(min=0) * 2
    px, py = px - d * k2x, py - d * k2y
    px = px.abs()
    py = py - 1.0
    rf = 0.45
    bax, bay = rf * -k1y, rf * k1x - 1.0
    h = ((px * bax + py * bay) / (bax * bax + bay * bay)).clamp(0.0, 1.0)
    ex, ey = px - bax * h, py - bay * h
    return torch.hypot(ex, ey) * torch.sign(py * bax - px * bay)


def _sd_ring(x: Tensor, y: Tensor) -> Tensor:
    return (torch.hypot(x, y) - 0.7).abs() - 0.27


def _sd_cross(x: Tensor, y: Tensor) -> Tensor:
    # Plus sign: two bars of half-size (0.95, 0.3).
    bx, by = 0.95, 0.3
    px, py = x.abs(), y.abs()
    px, py = torch.maximum(px, py), torch.minimum(px, py)
    qx, qy = px - bx, py - by
    k = torch.maximum(qx, qy)
    wx = torch.where(k > 0, qx, by - px)
    wy = torch.where(k > 0, qy, -k)
    return torch.sign(k) * torch.hypot(wx.clamp(min=0), wy.clamp(min=0))


def _sd_crescent(x: Tensor, y: Tensor) -> Tensor:
    outer = torch.hypot(x, y) - 0.95
    bite = torch.hypot(x - 0.5, y) - 0.8
    return torch.maximum(outer, -bite)  # bound (not exact) SDF; fine for a 1-pixel smoothstep


def _sd_heart(x: Tensor, y: Tensor) -> Tensor:
    # The classic heart SDF spans y∈[0,1.1]; recentre it and scale its bounding radius to ≈1.
    scale = 1.45
    px, py = x.abs() / scale, (-y) / scale + 0.55
    lobe = torch.hypot(px - 0.25, py - 0.75) - math.sqrt(2.0) / 4
    t = (px + py).clamp(min=0) * 0.5
    tip = torch.sqrt(torch.minimum(px * px + (py - 1.0) ** 2, (px - t) ** 2 + (py - t) ** 2))
    body = tip * torch.sign(px - py)
    return torch.where(px + py > 1.0, lobe, body) * scale


_SDFS = (
    _sd_circle,
    _sd_square,
    _sd_triangle,
    _sd_star,
    _sd_ring,
    _sd_cross,
    _sd_crescent,
    _sd_heart,
)
assert len(_SDFS) == len(SHAPE_CLASSES)


# ----------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------

def _scene_params(table: Tensor, labels: Tensor) -> dict[str, Tensor]:
    """Map uniform rows to scene parameters (float32, resolution independent)."""
    t = table.float()
    n = t.shape[0]
    lo, hi = _SIZE_RANGE
    size = lo + (hi - lo) * t[:, _COL_SIZE]
    reach = (_MARGIN - size).clamp(min=0)
    cx = (2 * t[:, _COL_CX] - 1) * reach
    cy = (2 * t[:, _COL_CY] - 1) * reach
    angle = 2 * math.pi * t[:, _COL_ANGLE]

    bg_a = t[:, _COL_BG_A]
    bg_b = (bg_a + 0.6 * (t[:, _COL_BG_DELTA] - 0.5)).clamp(0, 1)
    grad_angle = 2 * math.pi * t[:, _COL_GRAD_ANGLE]

    cand = t[:, _COL_FG].reshape(n, _NUM_FG_CANDIDATES, 3)
    dist = torch.minimum(
        (cand - bg_a[:, None]).norm(dim=-1), (cand - bg_b[:, None]).norm(dim=-1)
    )
    ok = dist >= _MIN_CONTRAST
    # First candidate that meets the contrast bound keeps colours varied; if none does, the
    # most distant one is still the best visible choice.
    pick = torch.where(ok.any(dim=1), ok.float().argmax(dim=1), dist.argmax(dim=1))
    fg = cand[torch.arange(n), pick]

    tex = t[:, _COL_TEX].reshape(n, 2, 3)
    tex_freq = 2.0 + 6.0 * tex[..., 0]  # cycles across the image: smooth, not noise-like
    tex_dir = 2 * math.pi * tex[..., 1]
    tex_phase = 2 * math.pi * tex[..., 2]
    return {
        "label": labels,
        "size": size,
        "cx": cx,
        "cy": cy,
        "cos": torch.cos(angle),
        "sin": torch.sin(angle),
        "bg_a": bg_a,
        "bg_b": bg_b,
        "grad_cos": torch.cos(grad_angle),
        "grad_sin": torch.sin(grad_angle),
        "tex_kx": math.pi * tex_freq * torch.cos(tex_dir),
        "tex_ky": math.pi * tex_freq * torch.sin(tex_dir),
        "tex_phase": tex_phase,
        "tex_amp": 0.06 * t[:, _COL_TEX_AMP],
        "noise_amp": 0.04 * t[:, _COL_NOISE_AMP],
        "noise_phase": 1000.0 * t[:, _COL_NOISE_PHASE],
        "fg": fg,
    }


def _pixel_hash(resolution: int) -> Tensor:
    """Fixed pseudo-random value in [0, 4096) per pixel of an R×R grid (shared by all images)."""
    i = torch.arange(resolution, dtype=torch.float64)
    h = torch.sin(i.view(-1, 1) * 12.9898 + i.view(1, -1) * 78.233) * 43758.5453
    return ((h - torch.floor(h)) * 4096.0).float()


_PIXEL_HASH_CACHE: dict[int, Tensor] = {}


def _render_block(p: dict[str, Tensor], resolution: int) -> Tensor:
    """Render one block whose rows are sorted by label; returns float N×3×R×R in [0,1]."""
    n = p["size"].shape[0]
    res = resolution
    coords = (torch.arange(res, dtype=torch.float32) + 0.5) * (2.0 / res) - 1.0
    gx = coords.view(1, 1, res)
    gy = coords.view(1, res, 1)
    col = lambda key: p[key].view(-1, 1, 1)  # noqa: E731

    # Shape coverage: alpha = smoothstep over ~one pixel of signed distance (anti-aliasing).
    alpha = torch.empty(n, res, res)
    counts = torch.bincount(p["label"], minlength=len(SHAPE_CLASSES)).tolist()
    a = 0
    for cls, count in enumerate(counts):
        if count == 0:
            continue
        b = a + count
        size = p["size"][a:b].view(-1, 1, 1)
        # Rotation and scale folded into per-image coefficients so the full-size work is two
        # broadcast multiply-adds.
        c, s = p["cos"][a:b].view(-1, 1, 1) / size, p["sin"][a:b].view(-1, 1, 1) / size
        dx, dy = gx - p["cx"][a:b].view(-1, 1, 1), gy - p["cy"][a:b].view(-1, 1, 1)
        lx = c * dx + s * dy
        ly = c * dy - s * dx
        edge = _SDFS[cls](lx, ly).mul_(size * (-res / 2.0)).add_(0.5).clamp_(0.0, 1.0)
        # smoothstep: e²(3 - 2e)
        torch.mul(edge, edge, out=alpha[a:b]).mul_(edge.mul_(-2.0).add_(3.0))
        a = b

    # Smooth texture: sin(kx·x + ky·y + φ) expanded as a separable sum, avoiding a full-size sin.
    tex_x = p["tex_kx"].view(n, 2, 1, 1) * gx.unsqueeze(1) + p["tex_phase"].view(n, 2, 1, 1)
    tex_y = p["tex_ky"].view(n, 2, 1, 1) * gy.unsqueeze(1)
    amp = (p["tex_amp"] * 0.5).view(n, 1, 1, 1)
    shift = (torch.sin(tex_x) * amp) * torch.cos(tex_y)
    shift += (torch.cos(tex_x) * amp) * torch.sin(tex_y)
    shift = shift.sum(dim=1)
    # Light per-pixel noise: frac(h_pixel·m_image + b_image) with a fixed large per-pixel h is a
    # cheap hash that decorrelates images without a random generator (chunk-exact).
    h = _PIXEL_HASH_CACHE.get(res)
    if h is None:
        h = _PIXEL_HASH_CACHE.setdefault(res, _pixel_hash(res))
    noise = h * (1.0 + col("noise_phase") / 1000.0) + col("noise_phase")
    noise.sub_(torch.floor(noise)).sub_(0.5).mul_(2.0 * col("noise_amp"))
    shift += noise

    # Background = colour A → B along a random direction, plus texture and noise.
    ramp = (p["grad_cos"].view(-1, 1, 1) * gx + p["grad_sin"].view(-1, 1, 1) * gy).mul_(
        0.5 / math.sqrt(2.0)
    ).add_(0.5)
    bg_a = p["bg_a"].view(n, 3, 1, 1)
    out = shift.unsqueeze(1) + bg_a
    out.addcmul_(p["bg_b"].view(n, 3, 1, 1) - bg_a, ramp.unsqueeze(1))
    out.lerp_(p["fg"].view(n, 3, 1, 1).expand_as(out), alpha.unsqueeze(1))
    # Light noise on the shape too, so it is not perfectly flat.
    out.add_(noise.mul_(alpha).unsqueeze(1), alpha=0.5)
    return out


def render_shapes(
    n: int,
    *,
    resolution: int,
    seed: int,
    start: int = 0,
    classes: Sequence[int] | Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Render images ``start .. start+n-1`` of the shapes stream defined by ``seed``.

    Args:
        n: number of images.
        resolution: output side, a power of two in 4..256.
        seed: stream seed; image ``i`` depends only on ``(seed, i, resolution)``.
        start: index of the first image in the stream.
        classes: optional class index per image (length ``n``) that overrides the drawn class,
            e.g. to sample class-conditional references; all other scene parameters stay.

    Returns:
        ``(images, labels)``: uint8 N×3×R×R RGB and int64 labels of shape N.
    """
    check_resolution(resolution)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n={n!r} must be a non-negative int")
    if isinstance(start, bool) or not isinstance(start, int) or start < 0:
        raise ValueError(f"start={start!r} must be a non-negative int")
    num_classes = len(SHAPE_CLASSES)
    if n == 0:
        return (
            torch.empty(0, 3, resolution, resolution, dtype=torch.uint8),
            torch.empty(0, dtype=torch.int64),
        )

    table = _param_table(int(seed), start, n)
    if classes is None:
        labels = (table[:, _COL_CLASS] * num_classes).long().clamp_(max=num_classes - 1)
    else:
        labels = torch.as_tensor(classes, dtype=torch.int64, device="cpu").flatten()
        if labels.numel() != n:
            raise ValueError(f"classes has {labels.numel()} entries but n={n}; pass one class per image")
        bad = (labels < 0) | (labels >= num_classes)
        if bad.any():
            raise ValueError(
                f"classes contains {labels[bad][0].item()}, valid class indices are 0..{num_classes - 1} "
                f"({', '.join(SHAPE_CLASSES)})"
            )
        labels = labels.clone()

    images = torch.empty(n, 3, resolution, resolution, dtype=torch.uint8)
    block = max(1, _PIXELS_PER_RENDER // (resolution * resolution))
    for a in range(0, n, block):
        b = min(n, a + block)
        order = torch.argsort(labels[a:b], stable=True)
        params = _scene_params(table[a:b][order], labels[a:b][order])
        rendered = _render_block(params, resolution)
        rendered = rendered.mul_(255.0).round_().clamp_(0.0, 255.0).to(torch.uint8)
        images[a:b][order] = rendered
    return images, labels


class ShapesDataset(Dataset):
    """Map-style dataset of the first ``size`` shapes images (rendered eagerly, held as uint8)."""

    def __init__(self, *, resolution: int, size: int, seed: int = 0) -> None:
        """
        Args:
            resolution: image side, a power of two in 4..256.
            size: number of images (stream indices 0..size-1).
            seed: stream seed.
        """
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"size={size!r} must be a positive int")
        self.resolution = resolution
        self.seed = seed
        self.class_names = list(SHAPE_CLASSES)
        self.images, self.labels = render_shapes(size, resolution=resolution, seed=seed)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return self.images[index], int(self.labels[index])
