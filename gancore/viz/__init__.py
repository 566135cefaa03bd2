"""Image grids, training-log plots and result tables for the paper notebooks.

Every plotting function returns a ``matplotlib.figure.Figure`` and never calls ``plt.show()``: the notebook
displays it (once), and headless papermill runs keep it as a static PNG output. See :func:`new_figure`.

Submodules: :mod:`~gancore.viz.images` (figures, image grids and strips), :mod:`~gancore.viz.logs` (JSONL logs,
metric curves, tables) and :mod:`~gancore.viz.analysis` (BigGAN truncation, class-accuracy and singular-value plots);
every name is importable from ``gancore.viz`` itself.
"""
from __future__ import annotations

from gancore.viz.analysis import _plot_metrics_vs_threshold as _plot_metrics_vs_threshold
from gancore.viz.analysis import _truncation_text as _truncation_text
from gancore.viz.analysis import plot_class_accuracy, plot_singular_values, plot_truncation_curve
from gancore.viz.images import (
    STRIP_MAX_PER_ROW,
    STRIP_MAX_WIDTH_IN,
    ImageBatch,
    captioned_grid_png,
    grid_png,
    image_grid,
    new_figure,
    save_grid,
    show_grid,
    show_strip,
    to_uint8,
)
from gancore.viz.images import _as_uint8_batch as _as_uint8_batch
from gancore.viz.images import _fit_figsize as _fit_figsize
from gancore.viz.images import _hwc as _hwc
from gancore.viz.logs import _table_number as _table_number
from gancore.viz.logs import plot_metric_curves, plot_table, read_log, summary_table

__all__ = [
    "ImageBatch",
    "STRIP_MAX_PER_ROW",
    "STRIP_MAX_WIDTH_IN",
    "captioned_grid_png",
    "grid_png",
    "image_grid",
    "new_figure",
    "plot_class_accuracy",
    "plot_metric_curves",
    "plot_singular_values",
    "plot_table",
    "summary_table",
    "plot_truncation_curve",
    "read_log",
    "save_grid",
    "show_grid",
    "show_strip",
    "to_uint8",
]
