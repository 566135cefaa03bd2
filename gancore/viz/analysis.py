"""BigGAN analysis plots: the variety–fidelity truncation curve (§3.1, Fig. 2(a), App. D Fig. 16), per-class
accuracy (§5.1 class leakage, App. H class collapse) and top singular values over training (§4.1, §4.2, Fig. 3, App. F).
"""
from __future__ import annotations

from typing import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gancore.viz.images import new_figure


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
