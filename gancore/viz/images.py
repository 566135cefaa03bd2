"""Figures and image grids: :func:`new_figure`, uint8 conversion, tiled grids, PNG bytes and captioned strips.

Every plotting function returns a ``matplotlib.figure.Figure`` and never calls ``plt.show()`` (see :func:`new_figure`).
"""
from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import Any, Sequence

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor
from torchvision.utils import make_grid

ImageBatch = Tensor | Sequence[Tensor]


def new_figure(**figure_kwargs: Any) -> Figure:
    """A Figure that Jupyter renders when it is returned or passed to ``display``, and that pyplot forgets.

    Made through ``pyplot.figure`` because that is what makes the inline backend register its PNG formatter for
    Figures (a bare ``Figure()`` shows only as text in a kernel), then closed at once so pyplot does not also
    auto-display it at the end of the cell or keep it alive.
    """
    import matplotlib.pyplot as plt

    fig = plt.figure(**figure_kwargs)
    plt.close(fig)
    return fig


def to_uint8(x: Tensor) -> Tensor:
    """Map float images in [-1, 1] to uint8 [0, 255] (rounded, out-of-range values clamped); uint8 passes through."""
    from gancore.data import to_uint8 as float_to_uint8

    if x.dtype == torch.uint8:
        return x
    if not x.is_floating_point():
        raise ValueError(f"images must be float in [-1, 1] or uint8, got dtype {x.dtype}")
    return float_to_uint8(x.float())


def image_grid(images: ImageBatch, *, nrow: int = 8, padding: int = 2) -> Tensor:
    """Tile images into one uint8 3×H×W grid with ``torchvision.utils.make_grid``.

    Args:
        images: N×C×H×W (or one C×H×W) tensor or a list of C×H×W tensors; float in [-1, 1] or uint8; C is 1 or 3.
        nrow: images per row.
        padding: pixels of (black) padding between images; a single image comes back unpadded, as in torchvision.
    """
    batch = _as_uint8_batch(images)
    if nrow < 1:
        raise ValueError(f"nrow={nrow!r} must be >= 1")
    if padding < 0:
        raise ValueError(f"padding={padding!r} must be >= 0")
    return make_grid(batch.cpu(), nrow=nrow, padding=padding)


def save_grid(images: ImageBatch, path: str | Path, *, nrow: int = 8, padding: int = 2) -> Path:
    """Write an image grid as a PNG file, creating parent folders; returns the path."""
    from PIL import Image

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"save_grid writes PNG files; path {str(path)!r} must end in '.png'")
    grid = image_grid(images, nrow=nrow, padding=padding)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid.permute(1, 2, 0).numpy()).save(path)
    return path


def grid_png(images: ImageBatch, *, nrow: int = 8, padding: int = 2) -> bytes:
    """Encode an image grid as PNG bytes (for ``ipywidgets.Image`` and other in-memory displays)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image_grid(images, nrow=nrow, padding=padding).permute(1, 2, 0).numpy()).save(buffer, format="PNG")
    return buffer.getvalue()


def show_grid(
    images: ImageBatch,
    *,
    nrow: int = 8,
    title: str | None = None,
    ax: Axes | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Draw an image grid on ``ax`` (or a new figure sized to the grid) and return the Figure."""
    grid = image_grid(images, nrow=nrow)
    if ax is None:
        height, width = grid.shape[1:]
        fig = new_figure(figsize=figsize or _fit_figsize(width, height))
        ax = fig.add_subplot()
    fig = ax.figure
    ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig


STRIP_MAX_WIDTH_IN = 9.0  # about JupyterLab's cell width at 100 dpi: wider figures are shrunk, and so are labels
STRIP_MAX_PER_ROW = 10  # more images than this wrap onto further rows instead of shrinking below ~0.9 in each


def show_strip(
    images: ImageBatch, *, labels: Sequence[str] | None = None, title: str | None = None
) -> Figure:
    """Draw images side by side, each with an optional caption (e.g. interpolation positions).

    The figure is at most :data:`STRIP_MAX_WIDTH_IN` wide, so the notebook shows it at its own size and the 9 pt
    captions stay readable; more than :data:`STRIP_MAX_PER_ROW` images wrap onto further rows.
    """
    batch = _as_uint8_batch(images)
    n = batch.shape[0]
    if labels is not None and len(labels) != n:
        raise ValueError(f"got {len(labels)} labels for {n} images; pass one label per image or labels=None")
    cols = min(n, STRIP_MAX_PER_ROW)
    rows = -(-n // cols)
    cell = min(1.6, STRIP_MAX_WIDTH_IN / cols)
    caption = 0.3 if labels is not None else 0.0
    fig = new_figure(figsize=(cell * cols, rows * (cell + caption) + (0.35 if title else 0.0)), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).flatten()
    for i, ax in enumerate(axes):
        ax.set_axis_off()
        if i >= n:
            continue
        ax.imshow(_hwc(batch[i]), cmap="gray", interpolation="nearest")
        if labels is not None:
            ax.set_title(labels[i], fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


@functools.lru_cache(maxsize=4)
def _caption_font(size: int):
    """DejaVu Sans (shipped with matplotlib): it has the "§", "→" and "θ" the captions use, which Pillow's built-in
    font draws as empty boxes (a browser showed "(BigGAN ⊠3.1)"). Pillow's own font only if matplotlib's is gone."""
    from PIL import ImageFont

    try:
        from matplotlib import font_manager

        return ImageFont.truetype(font_manager.findfont("DejaVu Sans", fallback_to_default=False), size)
    except (ImportError, OSError, ValueError):
        try:
            return ImageFont.load_default(size=size)
        except TypeError:  # Pillow < 10.1 has one fixed-size bitmap font
            return ImageFont.load_default()


def captioned_grid_png(images: ImageBatch, *, nrow: int, labels: Sequence[str] | None = None,
                       title: str | None = None, cell_px: int = 96) -> bytes:
    """A PNG of an image grid with one caption above each column and a title line: what the widgets show.

    Images are scaled (nearest) to ``cell_px`` so small samples and the text are drawn at one readable size; the
    captions are part of the picture, so a screenshot or a saved PNG keeps them.
    """
    from PIL import Image, ImageDraw, ImageFont

    batch = _as_uint8_batch(images)
    n = batch.shape[0]
    if nrow < 1:
        raise ValueError(f"nrow={nrow} must be >= 1")
    if labels is not None and len(labels) != min(n, nrow):
        raise ValueError(f"got {len(labels)} column labels for {min(n, nrow)} columns")
    font = _caption_font(13)
    pad, line = 2, 18
    cols, rows = min(n, nrow), -(-n // nrow)
    top = (line if title else 0) + (line if labels is not None else 0)
    canvas = Image.new("RGB", (cols * (cell_px + pad) + pad, top + rows * (cell_px + pad) + pad), "white")
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((pad, 2), title, fill="black", font=font)
    for c, text in enumerate(labels or []):
        x = pad + c * (cell_px + pad) + cell_px / 2
        draw.text((x, top - line + 2), str(text), fill="black", font=font, anchor="ma")
    for i in range(n):
        tile = Image.fromarray(_hwc(batch[i])).convert("RGB").resize((cell_px, cell_px), Image.NEAREST)
        r, c = divmod(i, nrow)
        canvas.paste(tile, (pad + c * (cell_px + pad), top + pad + r * (cell_px + pad)))
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()



def _as_uint8_batch(images: ImageBatch) -> Tensor:
    if isinstance(images, (list, tuple)):
        if not images:
            raise ValueError("images is an empty list; need at least one image")
        images = torch.stack([torch.as_tensor(image) for image in images])
    if not isinstance(images, Tensor):
        raise ValueError(f"images must be a tensor or a list of tensors, got {type(images).__name__}")
    if images.ndim == 3:
        images = images.unsqueeze(0)
    if images.ndim != 4 or images.shape[1] not in (1, 3) or images.shape[0] == 0:
        raise ValueError(f"images must have shape N×C×H×W with C in (1, 3) and N >= 1, got {tuple(images.shape)}")
    return to_uint8(images)


def _hwc(image: Tensor) -> Any:
    array = image.permute(1, 2, 0).cpu().numpy()
    return array[..., 0] if array.shape[-1] == 1 else array


def _fit_figsize(width: int, height: int) -> tuple[float, float]:
    # Enlarge small grids (8×8 smoke samples) to a readable size but cap big ones at notebook width.
    longest = max(width, height)
    inches = min(10.0, max(3.0, longest / 50.0))
    return (max(width * inches / longest, 1.0), max(height * inches / longest, 1.0))
