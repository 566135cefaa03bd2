"""Image grids, training-log plots and result tables for the paper notebooks.

Every plotting function returns a ``matplotlib.figure.Figure`` and never calls ``plt.show()``: the notebook
displays it (once), and headless papermill runs keep it as a static PNG output. See :func:`new_figure`.
"""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor
from torchvision.utils import make_grid

if TYPE_CHECKING:
    import pandas as pd
    from pandas.io.formats.style import Styler

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
    try:
        font = ImageFont.load_default(size=13)
    except TypeError:  # Pillow < 10.1 has one fixed-size bitmap font
        font = ImageFont.load_default()
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


def read_log(path: str | Path) -> list[dict]:
    """Read a JSONL training log, one dict per line.

    A run killed mid-write can leave a partial last line; that line is dropped. A bad line anywhere else means
    the file is corrupt and raises ValueError with its line number.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"log file {str(path)!r} does not exist")
    lines = path.read_text(encoding="utf-8").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    records: list[dict] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            if number == len(lines):
                break  # truncated final write from a killed run
            raise ValueError(f"{path}: line {number} is not valid JSON ({err.msg})") from err
        if not isinstance(record, dict):
            raise ValueError(f"{path}: line {number} is a {type(record).__name__}, expected a JSON object")
        records.append(record)
    return records


def plot_metric_curves(
    records: Sequence[dict] | pd.DataFrame,
    *,
    x: str = "kimg",
    metrics: Sequence[str] | str,
    hue: str | None = None,
    var_name: str = "metric",
    vlines: Sequence[float] | None = None,
    logy: bool = False,
    title: str | None = None,
    ax: Axes | None = None,
    **lineplot_kwargs: Any,
) -> Figure:
    """Line plot of one or more logged metrics against ``x`` with seaborn.

    Several metrics are melted into long form with their names in column ``var_name`` and coloured by it
    (e.g. ``metrics=["swd16", "swd32"], var_name="level"`` for ProGAN's SWD per pyramid level, Table 1). With a
    single metric, ``hue`` colours by another column (e.g. a run name). When both apply, ``hue`` sets the colour
    and the metric name the line style. Records lacking a metric (logged at another cadence) are skipped.

    Args:
        records: log records (``read_log``) or a DataFrame.
        x: column for the x axis (default ``kimg``).
        metrics: column name(s) to plot.
        hue: optional extra column to colour by.
        var_name: column name given to the melted metric names.
        vlines: x positions of dashed vertical markers (e.g. growth points in the α schedule, ProGAN §3).
        logy: log-scale y axis (loss or FID curves).
        title: axes title.
        ax: axes to draw on; a new Figure is made when None.
        **lineplot_kwargs: passed to ``seaborn.lineplot`` (e.g. ``marker="o"``).
    """
    import pandas as pd
    import seaborn as sns

    frame = records.copy() if isinstance(records, pd.DataFrame) else pd.DataFrame(list(records))
    metric_list = [metrics] if isinstance(metrics, str) else list(metrics)
    if not metric_list:
        raise ValueError("metrics must name at least one column")
    needed = [x, *metric_list] + ([hue] if hue else [])
    missing = [name for name in needed if name not in frame.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the records; available columns: {sorted(map(str, frame.columns))}")

    id_columns = [x] + ([hue] if hue and hue not in metric_list else [])
    long = frame.melt(id_vars=id_columns, value_vars=metric_list, var_name=var_name, value_name="value")
    long = long.dropna(subset=["value"])
    long["value"] = long["value"].astype(float)
    if len(metric_list) == 1:
        color, style = hue, None
    elif hue:
        color, style = hue, var_name
    else:
        color, style = var_name, None

    if ax is None:
        fig = new_figure(figsize=(6.0, 3.6), layout="constrained")
        ax = fig.add_subplot()
    lineplot_kwargs.setdefault("errorbar", None)  # logs have one value per step; bootstrapped bands are noise
    groups = [c for c in (color, style) if c]
    shortest = long.groupby(groups).size().min() if groups and len(long) else len(long)
    if shortest < 2:  # a line through one point draws nothing: show a series of one record as a marker
        lineplot_kwargs.setdefault("marker", "o")
    sns.lineplot(data=long, x=x, y="value", hue=color, style=style, ax=ax, **lineplot_kwargs)
    for position in vlines or ():
        ax.axvline(position, color="0.5", linestyle="--", linewidth=0.8)
    ax.set_ylabel(metric_list[0] if len(metric_list) == 1 else "value")
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    return ax.figure


def plot_table(
    rows: Sequence[dict], *, title: str | None = None, styled: bool = False, precision: int = 3
) -> pd.DataFrame | Styler:
    """Claims table (reported vs reproduced numbers) as a DataFrame, or a captioned Styler when ``styled``.

    The plain DataFrame keeps ``title`` in ``df.attrs["title"]`` so it can be written to summary.json as is.
    """
    import pandas as pd

    bad = [i for i, row in enumerate(rows) if not isinstance(row, dict)]
    if bad:
        raise ValueError(f"rows must be dicts; rows at positions {bad} are not")
    frame = pd.DataFrame(list(rows))
    if title:
        frame.attrs["title"] = title
    if not styled:
        return frame
    styler = frame.style.format(lambda v: _table_number(v, precision), na_rep="–").hide(axis="index")
    return styler.set_caption(title) if title else styler


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


def _table_number(value: Any, precision: int) -> str:
    """One table cell: whole numbers without decimals (a float column with a missing value must not turn 160 into
    160.000), other floats with ``precision`` decimals, everything else as ``str``."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    if isinstance(value, numbers.Integral) or float(value).is_integer():
        return f"{int(value):d}"
    return f"{float(value):.{precision}f}"


def _hwc(image: Tensor) -> Any:
    array = image.permute(1, 2, 0).cpu().numpy()
    return array[..., 0] if array.shape[-1] == 1 else array


def _fit_figsize(width: int, height: int) -> tuple[float, float]:
    # Enlarge small grids (8×8 smoke samples) to a readable size but cap big ones at notebook width.
    longest = max(width, height)
    inches = min(10.0, max(3.0, longest / 50.0))
    return (max(width * inches / longest, 1.0), max(height * inches / longest, 1.0))


# ---------------------------------------------------------------------------------------------------------------------
# BigGAN sampling analysis (gancore.sampling): variety–fidelity curve (§3.1, Fig. 2(a), App. D Fig. 16) and per-class
# accuracy (§5.1 class leakage, App. H class collapse)
# ---------------------------------------------------------------------------------------------------------------------
def _truncation_text(threshold: float | None) -> str:
    return "none" if threshold is None else f"{threshold:g}"


def plot_truncation_curve(rows: Sequence[dict], *, ax: Axes | None = None, title: str | None = None) -> Figure:
    """BigGAN's variety–fidelity curve (§3.1, Fig. 2(a), App. D Fig. 16): FID against IS, one point per threshold.

    ``rows`` come from :func:`gancore.sampling.truncation_sweep` (keys ``truncation``, ``is_mean``, ``fid``, optional
    ``is_std``). Points are joined from the largest threshold (or untruncated, "none") to the smallest and
    annotated with their threshold; IS grows to the right like precision, FID is lower for better coverage like
    recall. With ``ax=None`` a second panel shows IS and FID against the threshold, with the untruncated values as
    dashed horizontal lines.
    """
    import math

    rows = list(rows)
    if not rows:
        raise ValueError("rows is empty; pass the output of gancore.sampling.truncation_sweep")
    missing = sorted({key for row in rows for key in ("truncation", "is_mean", "fid") if key not in row})
    if missing:
        raise ValueError(f"every row needs the keys truncation, is_mean and fid; missing {missing}")
    # Untruncated is the widest distribution, so it sits beyond every finite threshold on the curve.
    ordered = sorted(rows, key=lambda r: math.inf if r["truncation"] is None else float(r["truncation"]), reverse=True)
    is_mean = [float(r["is_mean"]) for r in ordered]
    fid = [float(r["fid"]) for r in ordered]
    is_std = [float(r.get("is_std", 0.0)) for r in ordered]

    panel = None
    if ax is None:
        fig = new_figure(figsize=(10.0, 3.8), layout="constrained")
        ax, panel = fig.subplots(1, 2)
    ax.errorbar(is_mean, fid, xerr=is_std, marker="o", color="C0", ecolor="0.7", capsize=2, linewidth=1.2)
    for row, x, y in zip(ordered, is_mean, fid):
        ax.annotate(_truncation_text(row["truncation"]), (x, y), textcoords="offset points", xytext=(4, 4),
                    fontsize=8)
        if row["truncation"] is None:
            ax.plot([x], [y], marker="s", markersize=8, color="C3", linestyle="none", zorder=3, label="untruncated")
    ax.set_xlabel("IS (fidelity →)")
    ax.set_ylabel("FID (lower is better)")
    ax.set_title(title or "variety–fidelity curve (truncation sweep)")
    if any(r["truncation"] is None for r in ordered):
        ax.legend(loc="best", fontsize=8)
    if panel is not None:
        _plot_metrics_vs_threshold(ordered, panel)
    return ax.figure


def _plot_metrics_vs_threshold(rows: list[dict], ax: Axes) -> None:
    truncated = sorted((r for r in rows if r["truncation"] is not None), key=lambda r: r["truncation"])
    untruncated = [r for r in rows if r["truncation"] is None]
    fid_ax = ax.twinx()
    if truncated:
        ts = [float(r["truncation"]) for r in truncated]
        ax.plot(ts, [r["is_mean"] for r in truncated], marker="o", color="C0", label="IS")
        fid_ax.plot(ts, [r["fid"] for r in truncated], marker="s", color="C1", label="FID")
    for row in untruncated:
        ax.axhline(row["is_mean"], color="C0", linestyle="--", linewidth=0.9, label="IS untruncated")
        fid_ax.axhline(row["fid"], color="C1", linestyle="--", linewidth=0.9, label="FID untruncated")
    ax.set_xlabel("truncation threshold")
    ax.set_ylabel("IS", color="C0")
    fid_ax.set_ylabel("FID", color="C1")
    ax.set_title("IS and FID against the threshold")
    handles, labels = ax.get_legend_handles_labels()
    more_handles, more_labels = fid_ax.get_legend_handles_labels()
    ax.legend(handles + more_handles, labels + more_labels, loc="best", fontsize=8)


def plot_class_accuracy(result: dict, *, class_names: Sequence[str] | None = None,
                        title: str | None = None) -> Figure:
    """Per-class accuracy bars and the row-normalised confusion heatmap of :func:`gancore.sampling.class_accuracy`.

    The class-conditional view of BigGAN §5.1 (class leakage) and App. H (class collapse): bars of flagged classes
    (``result["flagged"]``) are red, the dashed line is chance level; heatmap rows are the conditioned class and
    columns the predicted class, so off-diagonal cells show where a class leaks to.

    Args:
        result: dict with ``per_class_accuracy`` and ``confusion`` (optional ``flagged``, ``accuracy``).
        class_names: one name per class (e.g. ``gancore.data.shapes.SHAPE_CLASSES``); default the class indices.
        title: figure title; default reports the overall accuracy.
    """
    import numpy as np
    import seaborn as sns

    per_class = [float(a) for a in result["per_class_accuracy"]]
    confusion = np.asarray(result["confusion"], dtype=float)
    num_classes = len(per_class)
    if confusion.shape != (num_classes, num_classes):
        raise ValueError(f"confusion must be {num_classes}×{num_classes} to match per_class_accuracy, "
                         f"got shape {confusion.shape}")
    names = [str(c) for c in range(num_classes)] if class_names is None else [str(c) for c in class_names]
    if len(names) != num_classes:
        raise ValueError(f"got {len(names)} class_names for {num_classes} classes")
    flagged = set(result.get("flagged", ()))

    fig = new_figure(figsize=(4.0 + 1.1 * num_classes, 0.4 * num_classes + 3.6), layout="constrained")
    bar_ax, heat_ax = fig.subplots(1, 2, width_ratios=[1.0, 1.25])
    palette = {name: ("C3" if c in flagged else "C0") for c, name in enumerate(names)}
    sns.barplot(x=names, y=per_class, hue=names, palette=palette, legend=False, ax=bar_ax)
    bar_ax.axhline(1.0 / num_classes, color="0.5", linestyle="--", linewidth=0.9, label="chance")
    bar_ax.set_ylim(0.0, 1.05)
    bar_ax.set_xlabel("conditioned class")
    bar_ax.set_ylabel("classifier accuracy")
    bar_ax.tick_params(axis="x", labelrotation=45)
    # A class with zero accuracy has no visible bar, so flagged classes are also marked by red tick labels.
    for c, label in enumerate(bar_ax.get_xticklabels()):
        if c in flagged:
            label.set_color("C3")
    bar_ax.legend(loc="lower right", fontsize=8)

    totals = confusion.sum(axis=1, keepdims=True)
    rates = np.divide(confusion, totals, out=np.full_like(confusion, np.nan), where=totals > 0)
    sns.heatmap(rates, vmin=0.0, vmax=1.0, cmap="viridis", annot=num_classes <= 12, fmt=".2f", square=True,
                xticklabels=names, yticklabels=names, cbar_kws={"label": "fraction of the row"}, ax=heat_ax)
    heat_ax.set_xlabel("predicted class")
    heat_ax.set_ylabel("conditioned class")
    heat_ax.tick_params(axis="x", labelrotation=45)
    heat_ax.tick_params(axis="y", labelrotation=0)
    overall = result.get("accuracy")
    fig.suptitle(title or ("class-conditional accuracy" + (f" (overall {overall:.1%})" if overall is not None else "")))
    return fig


def plot_singular_values(
    log_records: Sequence[dict],
    *,
    net: str = "G",
    layers: Sequence[str] | None = None,
    x: str = "kimg",
    logy: bool = False,
    title: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Top singular values of ``net``'s weights over training, like BigGAN Fig. 3 and App. F (§4.1, §4.2).

    σ0 is drawn solid and σ1, σ2 fainter in the same colour, one colour per layer. Records without ``sv/`` keys
    (loss-only records, other cadences) are ignored; keys follow :mod:`gancore.metrics.spectral`.

    Args:
        log_records: log records (``read_log``) holding ``spectral_record`` keys plus ``step``/``kimg``.
        net: ``"G"`` or ``"D"``.
        layers: clean layer names (``"linear.weight"``); default the first layer (the one ``sv/<net>/first0``
            names, which §4.1 singles out for G), the last layer and the layer with the largest final σ0.
        x: x-axis key; falls back to ``"step"`` when no record has it.
        logy: log-scale y axis (σ0 spans orders of magnitude at collapse).
        title: axes title; a default names the net and section.
        ax: axes to draw on; a new Figure is made when None.
    """
    import seaborn as sns

    from gancore.metrics.spectral import parse_sv_key

    if net not in ("G", "D"):
        raise ValueError(f"net must be 'G' or 'D', got {net!r}")
    records = [r for r in log_records if any(parse_sv_key(key) for key in r)]
    if not records:
        raise ValueError("no record holds sv/ keys; log spectral_record(...) output (gancore.metrics.spectral)")
    if not any(x in r for r in records):
        x = "step"
    # layer → index → (xs, ys), in first-seen key order, which is the networks' registration (data-flow) order.
    series: dict[str, dict[int, tuple[list[float], list[float]]]] = {}
    for record in records:
        if x not in record:
            continue
        for key, value in record.items():
            parsed = parse_sv_key(key)
            if parsed is None or parsed[0] != net:
                continue
            xs, ys = series.setdefault(parsed[1], {}).setdefault(parsed[2], ([], []))
            xs.append(float(record[x]))
            ys.append(float(value))
    if not series:
        raise ValueError(f"the records hold no sv/{net}/... keys with an {x!r} value")

    if layers is None:
        names = list(series)
        # The first layer is the one whose σ0 equals sv/<net>/first0 in every record (registration order is not
        # enough: BigGAN's G registers its class embedding before the first layer proper).
        firsts = set(names)
        for record in records:
            if f"sv/{net}/first0" in record:
                firsts &= {n for n in names if record.get(f"sv/{net}/{n}/0") == record[f"sv/{net}/first0"]}
        final0 = {layer: v[0][1][-1] for layer, v in series.items() if 0 in v}
        chosen = [next((n for n in names if n in firsts), names[0]), names[-1],
                  max(final0, key=final0.get, default=names[0])]
        layers = list(dict.fromkeys(chosen))  # drop duplicates, keep order
    unknown = [layer for layer in layers if layer not in series]
    if unknown:
        raise ValueError(f"layers {unknown} have no sv/{net} keys; logged layers: {list(series)}")

    if ax is None:
        fig = new_figure(figsize=(6.0, 3.6), layout="constrained")
        ax = fig.add_subplot()
    palette = sns.color_palette(n_colors=max(len(layers), 1))
    for color, layer in zip(palette, layers):
        for index in sorted(series[layer]):
            xs, ys = series[layer][index]
            faint = index > 0
            ax.plot(xs, ys, color=color, linewidth=0.9 if faint else 1.6, alpha=0.35 if faint else 1.0,
                    label=layer if index == 0 else None)
    ax.set_xlabel(x)
    ax.set_ylabel("singular value (σ0 solid; σ1, σ2 faint)")
    if logy:
        ax.set_yscale("log")
    ax.set_title(title or f"{net}: top singular values before SN (BigGAN §4.1/§4.2)")
    ax.legend(fontsize=8)
    return ax.figure
