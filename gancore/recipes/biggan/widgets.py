"""BigGAN's explorer for the notebook: truncation slider, class picker, latent and class interpolation, in front
of the render functions of :mod:`gancore.recipes.biggan.views`.

Every widget callback only calls a render function, and :func:`biggan_widget_panel` calls them directly before
building any widget (an exception inside an ipywidgets callback does not fail a papermill run), so headless runs
still get the static figures.
"""
from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Sequence

from torch import nn

from gancore.recipes.biggan.views import (BIGGAN_VIEWS, FIG2_THRESHOLDS, _check_int, _check_label, _check_mode,
                                          _check_seed, _check_thresholds, _check_truncation, _class_options,
                                          _require_biggan, _threshold_label, biggan_view_captions, render_biggan_view,
                                          render_class_interpolation, render_latent_interpolation,
                                          render_truncation_strip)
from gancore.latents import INTERPOLATION_MODES
from gancore.viz import captioned_grid_png, show_strip
from gancore.widgets import SLIDER_WIDTH, caption_html, import_ipywidgets, in_kernel, interpolation_captions

if TYPE_CHECKING:
    import ipywidgets
    from matplotlib.figure import Figure

# Above ~3 a truncated normal is indistinguishable from N(0, 1) at these latent sizes; "untruncated" is the checkbox.
_SLIDER_MAX_TRUNCATION = 3.0


class BigGANPanel(NamedTuple):
    """What :func:`biggan_widget_panel` returns: the static figures (always) and the explorer (kernel only)."""

    truncation: Figure
    latent_interpolation: Figure
    class_interpolation: Figure
    widget: ipywidgets.VBox | None


def biggan_explorer(
    G: nn.Module,
    *,
    class_names: Sequence[str],
    view: str = "samples",
    seed: int = 0,
    label: int = 0,
    seed_b: int | None = None,
    label_b: int | None = None,
    truncation: float | None = 0.5,
    n: int = 8,
    thresholds: Sequence[float | None] = FIG2_THRESHOLDS,
    steps: int = 8,
    mode: Literal["slerp", "lerp"] = "slerp",
    image_px: int = 96,
) -> ipywidgets.VBox:
    """Interactive BigGAN explorer: truncation slider, class picker, seed, and four views.

    Views: class samples (§3.1 truncation at the slider's threshold), the truncation strip (Fig. 2(a), one column
    per threshold), latent interpolation between two seeds at a fixed class (z part of Fig. 8) and class
    interpolation at a fixed z (Fig. 9).
    Unticking "truncate" samples untruncated N(0, 1). Controls a view does not use are disabled. Every change
    calls :func:`render_biggan_view` and shows its grid; nothing else happens in the callback.

    Args:
        G: BigGAN generator.
        class_names: one name per class, in label order (the class dropdowns).
        view: initial view, one of :data:`BIGGAN_VIEWS`.
        seed: initial seed.
        label: initial class.
        seed_b: initial second seed for latent interpolation (default ``seed + 1``).
        label_b: initial second class for class interpolation (default the next class).
        truncation: initial threshold; ``None`` starts with truncation off.
        n: images in the samples view.
        thresholds: thresholds of the truncation strip.
        steps: images in the interpolation strips.
        mode: initial latent-interpolation path (slerp or lerp).
        image_px: on-screen width of one image in the grid.
    """
    widgets = import_ipywidgets()
    _require_biggan(G)
    options = _class_options(class_names, G.num_classes)
    label = _check_label(label, G.num_classes, "label")
    label_b = (label + 1) % G.num_classes if label_b is None else _check_label(label_b, G.num_classes, "label_b")
    seed = _check_seed(seed, "seed")
    seed_b = seed + 1 if seed_b is None else _check_seed(seed_b, "seed_b")
    truncation = _check_truncation(truncation)
    thresholds = _check_thresholds(thresholds)
    _check_mode(mode)
    if view not in BIGGAN_VIEWS:
        raise ValueError(f"view={view!r} is not one of {BIGGAN_VIEWS}")
    steps = _check_int(steps, "steps", minimum=2, why=" (both endpoints are included)")
    n = _check_int(n, "n", minimum=1)

    view_box = widgets.ToggleButtons(options=list(BIGGAN_VIEWS), value=view, description="view")
    class_box = widgets.Dropdown(options=options, value=label, description="class")
    class_b_box = widgets.Dropdown(options=options, value=label_b, description="class B")
    # Seeds feed torch.Generator.manual_seed; bounding the boxes keeps typed values valid.
    seed_box = widgets.BoundedIntText(value=seed, min=0, max=2**63 - 1, description="seed")
    seed_b_box = widgets.BoundedIntText(value=seed_b, min=0, max=2**63 - 1, description="seed B")
    truncate_box = widgets.Checkbox(value=truncation is not None, description="truncate")
    slider_value = 0.5 if truncation is None else truncation
    # ipywidgets' default slider track is ~46 px next to a long description: too short to set by mouse.
    truncation_slider = widgets.FloatSlider(
        value=slider_value, min=0.02, max=max(_SLIDER_MAX_TRUNCATION, slider_value), step=0.02,
        description="truncation", readout_format=".2f", continuous_update=False,
        layout=widgets.Layout(width=SLIDER_WIDTH), style={"description_width": "initial"},
    )
    mode_box = widgets.Dropdown(options=list(INTERPOLATION_MODES), value=mode, description="path")
    image = widgets.Image(format="png")
    caption = widgets.HTML()  # the title and column captions as page text (they are drawn into the image too)

    def refresh(_change: Any = None) -> None:
        current = view_box.value
        # Disable what the view ignores, so the controls never suggest an effect they do not have.
        truncate_box.disabled = current == "truncation strip"
        truncation_slider.disabled = current == "truncation strip" or not truncate_box.value
        seed_b_box.disabled = mode_box.disabled = current != "latent interpolation"
        class_b_box.disabled = current != "class interpolation"
        args = dict(view=current, seed=int(seed_box.value), label=int(class_box.value),
                    truncation=float(truncation_slider.value) if truncate_box.value else None,
                    seed_b=int(seed_b_box.value), label_b=int(class_b_box.value), n=n, thresholds=thresholds,
                    steps=steps, mode=mode_box.value)
        images, nrow = render_biggan_view(G, **args)
        captions, title = biggan_view_captions(class_names=class_names, **args)
        image.value = captioned_grid_png(images, nrow=nrow, labels=captions[:nrow], title=title, cell_px=image_px)
        caption.value = caption_html(title, captions[:nrow])

    controls = (view_box, class_box, class_b_box, seed_box, seed_b_box, truncate_box, truncation_slider, mode_box)
    for control in controls:
        control.observe(refresh, names="value")
    refresh()
    return widgets.VBox([
        view_box,
        widgets.HBox([class_box, seed_box, truncate_box, truncation_slider]),
        widgets.HBox([class_b_box, seed_b_box, mode_box]),
        caption,
        image,
    ])


def biggan_widget_panel(
    G: nn.Module,
    *,
    class_names: Sequence[str],
    seed: int = 0,
    label: int = 0,
    seed_b: int | None = None,
    label_b: int | None = None,
    truncation: float | None = 0.5,
    thresholds: Sequence[float | None] = FIG2_THRESHOLDS,
    steps: int = 8,
    mode: Literal["slerp", "lerp"] = "slerp",
    interactive: bool | None = None,
    **widget_kwargs: Any,
) -> BigGANPanel:
    """Notebook entry point for BigGAN: static strips first, then (optionally) :func:`biggan_explorer`.

    The truncation strip (§3.1, Fig. 2(a)), the latent interpolation (cf. Fig. 8) and the class interpolation (Fig. 9)
    are rendered by calling the render functions directly, so a broken generator fails the cell and headless runs
    keep static figures. ``interactive=None`` builds the widget only inside a Jupyter kernel with ipywidgets
    installed. Like :func:`latent_interpolation_panel` it returns the figures for the notebook to ``display``::

        panel = widgets.biggan_widget_panel(G_ema, class_names=SHAPE_CLASSES, seed=cfg.seed)
        display(panel.truncation, panel.latent_interpolation, panel.class_interpolation)
        if panel.widget is not None:
            display(panel.widget)

    ``widget_kwargs`` go to :func:`biggan_explorer` (e.g. ``n``, ``image_px``, ``view``).
    """
    _require_biggan(G)
    names = [name for name, _ in _class_options(class_names, G.num_classes)]
    label = _check_label(label, G.num_classes, "label")
    label_b = (label + 1) % G.num_classes if label_b is None else _check_label(label_b, G.num_classes, "label_b")
    seed = _check_seed(seed, "seed")
    seed_b = seed + 1 if seed_b is None else _check_seed(seed_b, "seed_b")
    steps = _check_int(steps, "steps", minimum=2, why=" (both endpoints are included)")
    thresholds = _check_thresholds(thresholds)
    positions = interpolation_captions(steps)
    at_truncation = "untruncated" if truncation is None else f"truncation {truncation:g}"

    strip = render_truncation_strip(G, seed=seed, label=label, thresholds=thresholds)
    truncation_figure = show_strip(
        strip, labels=[_threshold_label(t) for t in thresholds],
        title=f"{names[label]}, seed {seed}: truncation threshold (BigGAN §3.1)",
    )
    latent = render_latent_interpolation(
        G, seed_a=seed, seed_b=seed_b, label=label, steps=steps, truncation=truncation, mode=mode
    )
    latent_figure = show_strip(
        latent, labels=positions, title=f"{names[label]}: {mode} seed {seed} → seed {seed_b} ({at_truncation})"
    )
    classes = render_class_interpolation(
        G, seed=seed, label_a=label, label_b=label_b, steps=steps, truncation=truncation
    )
    class_figure = show_strip(
        classes, labels=positions,
        title=f"seed {seed}, same z: {names[label]} → {names[label_b]} ({at_truncation})",
    )
    if interactive is None:
        interactive = in_kernel() and importlib.util.find_spec("ipywidgets") is not None
    widget = None
    if interactive:
        widget = biggan_explorer(
            G, class_names=names, seed=seed, label=label, seed_b=seed_b, label_b=label_b, truncation=truncation,
            thresholds=thresholds, steps=steps, mode=mode, **widget_kwargs,
        )
    return BigGANPanel(truncation_figure, latent_figure, class_figure, widget)
