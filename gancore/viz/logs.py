"""Training logs, metric curves and result tables: :func:`read_log` (JSONL), :func:`plot_metric_curves`,
:func:`plot_table`."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gancore.engine.run_folder import read_log  # noqa: F401  (re-exported: the log is the run folder's)
from gancore.viz.images import new_figure

if TYPE_CHECKING:
    import pandas as pd
    from pandas.io.formats.style import Styler


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
    if {"verdict", "holds"} <= set(frame.columns):
        # Claims rows keep ``holds`` (True/False/None) for summary.json's readers; on screen it only repeats the
        # verdict, which also says "within noise" and "not tested: why".
        styler = styler.hide(subset=["holds"], axis="columns")
    return styler.set_caption(title) if title else styler


# What a run's summary numbers are, for people: (name, unit or reading). Unlisted keys keep their own name.
_SUMMARY_NAMES = {
    "status": ("status", ""), "mode": ("mode", ""), "kimg": ("real images shown to D", "thousands"),
    "iterations_done": ("G iterations", ""), "steps": ("search steps", ""), "candidates": ("candidates trained", ""),
    "failed": ("candidates failed", ""), "skipped_unreachable": ("children skipped (cannot reach the top)", ""),
    "train_seconds": ("training time", "s"), "img_per_s": ("throughput", "real images / s"),
    "fid": ("FID", "lower is better"), "is_mean": ("Inception score", "higher is better"),
    "is_std": ("Inception score, spread over splits", ""), "kid_mean": ("KID", "lower is better"),
    "kid_std": ("KID, spread over subsets", ""), "swd_avg": ("SWD ×10³, mean of levels", "lower is better"),
    "ms_ssim": ("MS-SSIM of sample pairs", "lower = more varied"), "precision": ("precision", "higher is better"),
    "recall": ("recall", "higher is better"), "retried": ("candidates retried", ""),
    "stop_reason": ("why the search stopped", ""),
}


def summary_table(values: dict[str, Any], *, title: str | None = None, precision: int = 4) -> Styler:
    """A run's summary numbers (final metrics, status, time) as a small table of quantity, value and unit, instead
    of a printed dictionary. Nested dictionaries (``params: {G: .., D: ..}``) become one row per entry."""
    def named(key: str) -> tuple[str, str]:
        if key.startswith("swd") and key[3:].isdigit():
            return f"SWD ×10³ at {key[3:]}²", "lower is better"
        return _SUMMARY_NAMES.get(key, (key, ""))

    rows = []
    for key, value in values.items():
        if isinstance(value, dict):
            for sub, v in value.items():
                name, unit = (f"{sub} parameters", "weights") if key == "params" else named(sub)
                rows.append({"quantity": name if key == "params" else f"{key}: {name}", "value": v, "unit": unit})
        else:
            name, unit = named(key)
            rows.append({"quantity": name, "value": value, "unit": unit})
    return plot_table(rows, title=title, styled=True, precision=precision)


def _table_number(value: Any, precision: int) -> str:
    """One table cell: whole numbers without decimals (a float column with a missing value must not turn 160 into
    160.000), other floats with ``precision`` decimals, everything else as ``str``."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    if isinstance(value, numbers.Integral) or float(value).is_integer():
        return f"{int(value):d}"
    return f"{float(value):.{precision}f}"
