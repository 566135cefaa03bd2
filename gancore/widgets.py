"""Latent-space explorers for the notebooks: pure render functions plus thin ipywidgets front ends.

Latent interpolation and the ProGAN §6.2 latent walk (:func:`latent_interpolation_panel`), for any generator; a
paper's own explorer lives in its package (BigGAN's truncation and class explorer:
:mod:`gancore.recipes.biggan.widgets`). Widgets sit above sampling (:mod:`gancore.sampling`), never below training.

Every widget callback only calls a render function below, and those are unit-tested. The notebook entry point
:func:`latent_interpolation_panel` also calls them directly before building any widget, because an exception
inside an ipywidgets callback is shown in the widget and does not fail a papermill/nbval run (DESIGN "Known
traps"), and headless runs still need a static figure.

A generator is any callable ``gen(z, **gen_kwargs)`` returning N×3×H×W float images in [-1, 1] (or uint8).
``gen_kwargs`` carries model-specific inputs, e.g. ``{"alpha": 1.0}`` for ProGAN's fade-in or ``{"y": labels}``
for BigGAN's class conditioning: a tensor whose first dimension is 1 is repeated for the whole batch, one whose
first dimension equals the batch size is split along with the latents, anything else is passed as is.
"""
from __future__ import annotations

import html
import importlib.util
from typing import TYPE_CHECKING, Any, Literal, Sequence

import torch
from torch import Tensor

from gancore.latents import (
    INTERPOLATION_MODES,
    gaussian_latent_walk,
    interpolate_latents,
    lerp,
    sample_latents,
    slerp,
)
from gancore.sampling import Generator, eval_mode, generate_uint8  # noqa: F401  (eval_mode: re-exported)
from gancore.viz import captioned_grid_png, grid_png, show_strip

if TYPE_CHECKING:
    import ipywidgets
    from matplotlib.figure import Figure

SLIDER_WIDTH = "420px"  # wide enough to set a value by mouse (issue 13: the default track was ~46 px)


def render_samples(
    gen: Generator,
    *,
    seed: int,
    n: int,
    dim: int,
    gen_kwargs: dict[str, Any] | None = None,
    truncation: float | None = None,
) -> Tensor:
    """``n`` samples from seeded latents (:func:`gancore.latents.sample_latents`), uint8 n×3×H×W.

    ``truncation`` applies the BigGAN §3.1 truncation trick to the latents.
    """
    z = sample_latents(n, dim, seed=seed, truncation=truncation)
    return generate_uint8(gen, z, gen_kwargs=gen_kwargs)


def render_interpolation(
    gen: Generator,
    z0: Tensor,
    z1: Tensor,
    *,
    steps: int = 8,
    mode: Literal["slerp", "lerp"] = "slerp",
    gen_kwargs: dict[str, Any] | None = None,
) -> Tensor:
    """Images along the path from ``z0`` to ``z1`` (endpoints included), uint8 steps×3×H×W.

    For BigGAN-style class interpolation pass per-step conditioning in ``gen_kwargs`` (first dimension = steps).
    """
    return generate_uint8(gen, interpolate_latents(z0, z1, steps, mode=mode), gen_kwargs=gen_kwargs)


def render_latent_walk(
    gen: Generator,
    *,
    num_frames: int,
    dim: int,
    sigma_frames: float = 45.0,
    seed: int = 0,
    every: int = 1,
    gen_kwargs: dict[str, Any] | None = None,
) -> Tensor:
    """Frames of the ProGAN §6.2 video walk (:func:`gancore.latents.gaussian_latent_walk`), keeping every
    ``every``-th frame: uint8 ceil(num_frames / every)×3×H×W."""
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"every={every!r} must be an int >= 1")
    walk = gaussian_latent_walk(num_frames, dim, sigma_frames=sigma_frames, seed=seed)
    return generate_uint8(gen, walk[::every], gen_kwargs=gen_kwargs)


def interpolation_captions(steps: int) -> list[str]:
    """``t=0.00 … t=1.00``: the position of each image of an interpolation strip of ``steps`` images."""
    return [f"t={t:.2f}" for t in torch.linspace(0.0, 1.0, steps).tolist()]


def caption_html(title: str, labels: Sequence[str]) -> str:
    """The title and column captions of a captioned grid as page text: the PNG draws them too, but text in the page
    can be read by a screen reader, found with the browser's search, copied, and checked by the browser test."""
    cells = " · ".join(html.escape(str(label)) for label in labels)
    return f'<div class="gancore-caption"><b>{html.escape(title)}</b><br>{cells}</div>'


def interpolation_widget(
    gen: Generator,
    *,
    dim: int,
    gen_kwargs: dict[str, Any] | None = None,
    steps: int = 8,
    seed_a: int = 0,
    seed_b: int = 1,
    truncation: float | None = None,
    walk_frames: int = 240,
    walk_sigma_frames: float = 45.0,
    walk_every: int = 4,
    image_px: int = 256,
) -> ipywidgets.Tab:
    """Interactive latent explorer: an "interpolation" tab and a "latent walk" tab.

    Interpolation tab: seed A, seed B, mode (slerp/lerp) and a t slider; shows the image at t and the strip of
    ``steps`` images. Latent-walk tab: a frame slider over the ProGAN §6.2 walk, rendered once up front.

    Args:
        gen: generator callable.
        dim: latent size.
        gen_kwargs: extra generator inputs (see module docstring).
        steps: images in the interpolation strip.
        seed_a: initial seed of the start latent.
        seed_b: initial seed of the end latent.
        truncation: BigGAN §3.1 truncation threshold for the seeded latents (None: plain N(0, 1)).
        walk_frames: frames of the latent walk (0 leaves out the walk tab).
        walk_sigma_frames: temporal Gaussian blur of the walk, in frames (paper: 45).
        walk_every: keep every n-th walk frame, to bound the up-front rendering cost.
        image_px: on-screen width of the single images.
    """
    widgets = import_ipywidgets()
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps={steps!r} must be an int >= 2 (both endpoints are included)")
    if isinstance(walk_frames, bool) or not isinstance(walk_frames, int) or walk_frames < 0:
        raise ValueError(f"walk_frames={walk_frames!r} must be an int >= 0 (0 leaves out the latent-walk tab)")

    seed_a_box = widgets.IntText(value=seed_a, description="seed A")
    seed_b_box = widgets.IntText(value=seed_b, description="seed B")
    mode_box = widgets.Dropdown(options=list(INTERPOLATION_MODES), value="slerp", description="mode")
    t_slider = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.01, description="t", continuous_update=False,
                                   layout=widgets.Layout(width=SLIDER_WIDTH))
    image_at_t = widgets.Image(format="png", layout=widgets.Layout(width=f"{image_px}px"))
    strip = widgets.Image(format="png")
    strip_caption = widgets.HTML()
    endpoints: dict[str, Tensor] = {}

    def refresh_image_at_t(_change: Any = None) -> None:
        path = slerp if mode_box.value == "slerp" else lerp
        z = path(endpoints["a"], endpoints["b"], float(t_slider.value)).unsqueeze(0)
        image_at_t.value = grid_png(generate_uint8(gen, z, gen_kwargs=gen_kwargs), padding=0)

    def refresh_pair(_change: Any = None) -> None:
        endpoints["a"] = sample_latents(1, dim, seed=int(seed_a_box.value), truncation=truncation)[0]
        endpoints["b"] = sample_latents(1, dim, seed=int(seed_b_box.value), truncation=truncation)[0]
        images = render_interpolation(
            gen, endpoints["a"], endpoints["b"], steps=steps, mode=mode_box.value, gen_kwargs=gen_kwargs
        )
        title = f"{mode_box.value}: seed {int(seed_a_box.value)} → seed {int(seed_b_box.value)}"
        strip.value = captioned_grid_png(images, nrow=steps, labels=interpolation_captions(steps),
                                         cell_px=min(96, 900 // steps), title=title)
        strip_caption.value = caption_html(title, interpolation_captions(steps))
        refresh_image_at_t()

    for control in (seed_a_box, seed_b_box, mode_box):
        control.observe(refresh_pair, names="value")
    t_slider.observe(refresh_image_at_t, names="value")
    refresh_pair()

    pages = [widgets.VBox([widgets.HBox([seed_a_box, seed_b_box, mode_box]), t_slider, image_at_t, strip_caption, strip])]
    titles = ["interpolation"]
    if walk_frames > 0:
        frames = render_latent_walk(
            gen, num_frames=walk_frames, dim=dim, sigma_frames=walk_sigma_frames, seed=seed_a,
            every=walk_every, gen_kwargs=gen_kwargs,
        )
        frame_slider = widgets.IntSlider(value=0, min=0, max=frames.shape[0] - 1, description="frame")
        frame_image = widgets.Image(format="png", layout=widgets.Layout(width=f"{image_px}px"))

        def show_frame(_change: Any = None) -> None:
            frame_image.value = grid_png(frames[int(frame_slider.value)], padding=0)

        frame_slider.observe(show_frame, names="value")
        show_frame()
        play = widgets.Play(value=0, min=0, max=frames.shape[0] - 1, interval=50, description="play")
        widgets.jslink((play, "value"), (frame_slider, "value"))
        pages.append(widgets.VBox([widgets.HBox([play, frame_slider]), frame_image]))
        titles.append("latent walk")
    return widgets.Tab(children=pages, titles=titles)


def latent_interpolation_panel(
    gen: Generator,
    *,
    dim: int,
    seed_a: int = 0,
    seed_b: int = 1,
    steps: int = 8,
    mode: Literal["slerp", "lerp"] = "slerp",
    gen_kwargs: dict[str, Any] | None = None,
    truncation: float | None = None,
    interactive: bool | None = None,
    **widget_kwargs: Any,
) -> tuple[Figure, ipywidgets.Tab | None]:
    """Notebook entry point: static interpolation strip first, then (optionally) the interactive explorer.

    The static figure is rendered by calling :func:`render_interpolation` directly, so a broken generator fails
    the cell and headless runs keep a figure. ``interactive=None`` builds the widget only inside a Jupyter kernel
    with ipywidgets installed. Typical use: ``fig, explorer = latent_interpolation_panel(G, dim=512)`` then
    ``display(fig)`` and ``explorer``. ``widget_kwargs`` go to :func:`interpolation_widget`.

    Returns:
        (strip figure, widget or None)
    """
    z0 = sample_latents(1, dim, seed=seed_a, truncation=truncation)[0]
    z1 = sample_latents(1, dim, seed=seed_b, truncation=truncation)[0]
    images = render_interpolation(gen, z0, z1, steps=steps, mode=mode, gen_kwargs=gen_kwargs)
    figure = show_strip(images, labels=interpolation_captions(steps), title=f"{mode}: seed {seed_a} → seed {seed_b}")
    if interactive is None:
        interactive = in_kernel() and importlib.util.find_spec("ipywidgets") is not None
    if not interactive:
        return figure, None
    widget = interpolation_widget(
        gen, dim=dim, gen_kwargs=gen_kwargs, steps=steps, seed_a=seed_a, seed_b=seed_b, truncation=truncation,
        **widget_kwargs,
    )
    return figure, widget


def in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def import_ipywidgets() -> Any:
    try:
        import ipywidgets
    except ImportError as err:
        raise ImportError("interactive widgets need ipywidgets; install it or pass interactive=False") from err
    return ipywidgets
