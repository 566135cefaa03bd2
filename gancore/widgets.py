"""Latent-space explorers for the notebooks: pure render functions plus thin ipywidgets front ends.

Two families: generic latent interpolation and the ProGAN §6.2 latent walk (:func:`latent_interpolation_panel`),
and the BigGAN explorer (truncation, class picker, latent and class interpolation; :func:`biggan_widget_panel`).

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

import importlib.util
import math
from contextlib import contextmanager
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Literal, NamedTuple, Sequence

import torch
from torch import Tensor, nn

from gancore.latents import (
    INTERPOLATION_MODES,
    gaussian_latent_walk,
    interpolate_latents,
    lerp,
    sample_latents,
    slerp,
)
from gancore.viz import captioned_grid_png, grid_png, show_strip, to_uint8

if TYPE_CHECKING:
    import ipywidgets
    from matplotlib.figure import Figure

Generator = Callable[..., Tensor]


@contextmanager
def eval_mode(gen: Generator) -> Iterator[None]:
    """Run ``gen`` in eval mode without autograd, then restore every submodule's previous train/eval flag."""
    modules = list(gen.modules()) if isinstance(gen, nn.Module) else []
    previous = [module.training for module in modules]
    if isinstance(gen, nn.Module):
        gen.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for module, was_training in zip(modules, previous):
            module.training = was_training


def generate_uint8(
    gen: Generator, z: Tensor, *, gen_kwargs: dict[str, Any] | None = None, batch_size: int = 64
) -> Tensor:
    """Images for latents ``z`` (N×D) as uint8 N×3×H×W on the CPU, generated in chunks of ``batch_size``.

    Latents move to the generator's device when ``gen`` is an ``nn.Module`` with parameters.
    """
    if z.ndim != 2 or z.shape[0] == 0:
        raise ValueError(f"z must have shape N×D with N >= 1, got {tuple(z.shape)}")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be >= 1")
    device = _module_device(gen)
    n = z.shape[0]
    chunks = []
    with eval_mode(gen):
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            kwargs = _batch_kwargs(gen_kwargs or {}, n, start, stop, device)
            chunk_z = z[start:stop] if device is None else z[start:stop].to(device)
            images = gen(chunk_z, **kwargs)
            if not isinstance(images, Tensor) or images.ndim != 4 or images.shape[0] != stop - start:
                shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
                raise ValueError(f"generator must return a {stop - start}×C×H×W tensor for {stop - start} latents, got {shape}")
            chunks.append(to_uint8(images).cpu())
    return torch.cat(chunks)


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
    widgets = _import_ipywidgets()
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
        strip.value = captioned_grid_png(
            images, nrow=steps, labels=interpolation_captions(steps), cell_px=min(96, 900 // steps),
            title=f"{mode_box.value}: seed {int(seed_a_box.value)} → seed {int(seed_b_box.value)}")
        refresh_image_at_t()

    for control in (seed_a_box, seed_b_box, mode_box):
        control.observe(refresh_pair, names="value")
    t_slider.observe(refresh_image_at_t, names="value")
    refresh_pair()

    pages = [widgets.VBox([widgets.HBox([seed_a_box, seed_b_box, mode_box]), t_slider, image_at_t, strip])]
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
        interactive = _in_kernel() and importlib.util.find_spec("ipywidgets") is not None
    if not interactive:
        return figure, None
    widget = interpolation_widget(
        gen, dim=dim, gen_kwargs=gen_kwargs, steps=steps, seed_a=seed_a, seed_b=seed_b, truncation=truncation,
        **widget_kwargs,
    )
    return figure, widget


# ---------------------------------------------------------------------------------------------------------------------
# BigGAN: truncation slider, class picker, latent and class interpolation
#
# ``G`` here is a class-conditional BigGAN generator (gancore.models.biggan.Generator or GeneratorDeep): it has
# ``dim_z``, ``num_classes``, ``class_vector(y)`` and accepts ``G(z, y)`` or ``G(z, class_vec=V)``.
# ---------------------------------------------------------------------------------------------------------------------

SLIDER_WIDTH = "420px"  # wide enough to set a value by mouse (issue 13: the default track was ~46 px)
BIGGAN_VIEWS = ("samples", "truncation strip", "latent interpolation", "class interpolation")
# BigGAN Fig. 2(a): "from left to right, the threshold is set to 2, 1, 0.5, 0.04".
FIG2_THRESHOLDS: tuple[float, ...] = (2.0, 1.0, 0.5, 0.04)
# Above ~3 a truncated normal is indistinguishable from N(0, 1) at these latent sizes; "untruncated" is the checkbox.
_SLIDER_MAX_TRUNCATION = 3.0


class BigGANPanel(NamedTuple):
    """What :func:`biggan_widget_panel` returns: the static figures (always) and the explorer (kernel only)."""

    truncation: Figure
    latent_interpolation: Figure
    class_interpolation: Figure
    widget: ipywidgets.VBox | None


def truncation_latents(*, seed: int, n: int, dim: int, thresholds: Sequence[float | None]) -> Tensor:
    """Latents of the truncation strip, shape T×n×dim for T thresholds (BigGAN §3.1, Fig. 2(a)).

    Row ``t`` is ``sample_latents(n, dim, seed=seed, truncation=thresholds[t])``: the generator is re-seeded for
    every threshold, so all thresholds start from the same N(0, 1) draw and :func:`gancore.latents.truncated_normal`
    only redraws the components that fall outside the threshold. Components already inside stay identical, which is
    what makes the columns of a strip comparable ("elements of z are truncated towards zero"), and a column equals
    what :func:`render_class_samples` shows for that truncation and seed. ``None`` means untruncated N(0, 1).
    """
    seed = _check_seed(seed, "seed")
    return torch.stack([sample_latents(n, dim, seed=seed, truncation=t) for t in _check_thresholds(thresholds)])


def render_class_samples(
    G: nn.Module, *, seed: int, label: int, truncation: float | None = None, n: int = 8
) -> Tensor:
    """``n`` samples of class ``label`` from seeded latents, uint8 n×3×H×W: the class-picker view.

    ``truncation`` is the BigGAN §3.1 threshold (exact resampling); ``None`` samples plain N(0, 1).
    """
    _require_biggan(G)
    label = _check_label(label, G.num_classes, "label")
    return render_samples(
        G, seed=_check_seed(seed, "seed"), n=n, dim=G.dim_z, truncation=_check_truncation(truncation),
        gen_kwargs={"y": torch.tensor([label])},
    )


def render_truncation_strip(
    G: nn.Module, *, seed: int, label: int, thresholds: Sequence[float | None] = FIG2_THRESHOLDS, n_per: int = 1
) -> Tensor:
    """One seed's latents at every truncation threshold, one class: uint8 (n_per·T)×3×H×W (BigGAN §3.1, Fig. 2(a)).

    Images are sample-major: image ``i·T + t`` is sample ``i`` at ``thresholds[t]``, so
    ``show_grid(images, nrow=T)`` draws one latent per row and one threshold per column. See
    :func:`truncation_latents` for how one seed maps to comparable latents across thresholds.
    """
    _require_biggan(G)
    label = _check_label(label, G.num_classes, "label")
    z = truncation_latents(seed=seed, n=n_per, dim=G.dim_z, thresholds=thresholds)
    z = z.transpose(0, 1).reshape(-1, G.dim_z)
    return generate_uint8(G, z, gen_kwargs={"y": torch.tensor([label])})


def render_latent_interpolation(
    G: nn.Module,
    *,
    seed_a: int,
    seed_b: int,
    label: int,
    steps: int = 8,
    truncation: float | None = None,
    mode: Literal["slerp", "lerp"] = "slerp",
) -> Tensor:
    """Interpolation between two seeds' latents at a fixed class, uint8 steps×3×H×W (BigGAN §5.1, App. A).

    BigGAN Fig. 8 interpolates (z, c) pairs; this is its z part with the class held fixed (for the c part see
    :func:`render_class_interpolation`). ``mode`` picks the path: slerp (default) or lerp.
    The endpoints equal ``render_class_samples(G, seed=seed_a / seed_b, label=label, truncation=truncation, n=1)``.
    """
    _require_biggan(G)
    label = _check_label(label, G.num_classes, "label")
    _check_mode(mode)
    truncation = _check_truncation(truncation)
    z0 = sample_latents(1, G.dim_z, seed=_check_seed(seed_a, "seed_a"), truncation=truncation)[0]
    z1 = sample_latents(1, G.dim_z, seed=_check_seed(seed_b, "seed_b"), truncation=truncation)[0]
    return render_interpolation(G, z0, z1, steps=steps, mode=mode, gen_kwargs={"y": torch.tensor([label])})


def render_class_interpolation(
    G: nn.Module, *, seed: int, label_a: int, label_b: int, steps: int = 8, truncation: float | None = None
) -> Tensor:
    """Class interpolation at a fixed latent, uint8 steps×3×H×W (BigGAN §5.1, App. A Fig. 9: "z is held constant").

    The class vectors ``G.class_vector(label_a)`` and ``G.class_vector(label_b)`` are linearly interpolated and fed
    as ``G(z, class_vec=...)``. Interpolating the class *vectors* rather than the labels is what gives in-between
    images: the shared embedding (or the one-hot class without one) is linear in what every CBN layer sees.
    The endpoints equal ``render_class_samples(G, seed=seed, label=label_a / label_b, truncation=truncation, n=1)``.
    """
    _require_biggan(G)
    label_a = _check_label(label_a, G.num_classes, "label_a")
    label_b = _check_label(label_b, G.num_classes, "label_b")
    steps = _check_int(steps, "steps", minimum=2, why=" (both endpoints are included)")
    z = sample_latents(1, G.dim_z, seed=_check_seed(seed, "seed"), truncation=_check_truncation(truncation))
    device = _module_device(G)
    with eval_mode(G):
        ends = G.class_vector(torch.tensor([label_a, label_b], device=device))
    # torch.lerp is exact at t=0 and t=1, so the endpoints reproduce G(z, y) for y = label_a / label_b.
    class_vec = lerp(ends[0], ends[1], torch.linspace(0.0, 1.0, steps, device=ends.device))
    return generate_uint8(G, z.expand(steps, -1), gen_kwargs={"class_vec": class_vec})


def render_biggan_view(
    G: nn.Module,
    *,
    view: str,
    seed: int,
    label: int,
    truncation: float | None = None,
    seed_b: int | None = None,
    label_b: int | None = None,
    n: int = 8,
    thresholds: Sequence[float | None] = FIG2_THRESHOLDS,
    steps: int = 8,
    mode: Literal["slerp", "lerp"] = "slerp",
) -> tuple[Tensor, int]:
    """Dispatch one explorer view (one of :data:`BIGGAN_VIEWS`) to its render function: (uint8 images, grid columns).

    ``seed_b`` defaults to ``seed + 1`` and ``label_b`` to the next class. ``truncation`` is ignored by the
    truncation strip, which uses ``thresholds`` instead.
    """
    if view not in BIGGAN_VIEWS:
        raise ValueError(f"view={view!r} is not one of {BIGGAN_VIEWS}")
    _require_biggan(G)
    if view == "samples":
        return render_class_samples(G, seed=seed, label=label, truncation=truncation, n=n), min(n, 8)
    if view == "truncation strip":
        thresholds = _check_thresholds(thresholds)
        return render_truncation_strip(G, seed=seed, label=label, thresholds=thresholds), len(thresholds)
    if view == "latent interpolation":
        seed_b = _check_seed(seed, "seed") + 1 if seed_b is None else seed_b
        images = render_latent_interpolation(
            G, seed_a=seed, seed_b=seed_b, label=label, steps=steps, truncation=truncation, mode=mode
        )
        return images, steps
    label_b = (_check_label(label, G.num_classes, "label") + 1) % G.num_classes if label_b is None else label_b
    images = render_class_interpolation(
        G, seed=seed, label_a=label, label_b=label_b, steps=steps, truncation=truncation
    )
    return images, steps


def biggan_view_captions(
    view: str,
    *,
    class_names: Sequence[str],
    seed: int,
    label: int,
    truncation: float | None = None,
    seed_b: int | None = None,
    label_b: int | None = None,
    n: int = 8,
    thresholds: Sequence[float | None] = FIG2_THRESHOLDS,
    steps: int = 8,
    mode: Literal["slerp", "lerp"] = "slerp",
) -> tuple[list[str], str]:
    """(column captions, title) of what :func:`render_biggan_view` draws with the same arguments: the threshold of
    every truncation-strip column, the position t of every interpolation step, and class *names*, not indices."""
    if view not in BIGGAN_VIEWS:
        raise ValueError(f"view={view!r} is not one of {BIGGAN_VIEWS}")
    names = [str(c) for c in class_names]
    label = _check_label(label, len(names), "label")
    at = "untruncated" if truncation is None else f"truncation {truncation:g}"
    positions = [f"t={t:.2f}" for t in torch.linspace(0.0, 1.0, steps).tolist()]
    if view == "samples":
        return [f"#{i}" for i in range(min(n, 8))], f"{names[label]}, seed {seed}, {at}"
    if view == "truncation strip":
        return ([_threshold_label(t) for t in _check_thresholds(thresholds)],
                f"{names[label]}, seed {seed}: truncation threshold per column (BigGAN §3.1)")
    if view == "latent interpolation":
        seed_b = seed + 1 if seed_b is None else seed_b
        return positions, f"{names[label]}: {mode} seed {seed} → seed {seed_b} ({at})"
    label_b = (label + 1) % len(names) if label_b is None else _check_label(label_b, len(names), "label_b")
    return positions, f"seed {seed}, same z: {names[label]} → {names[label_b]} ({at})"


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
    widgets = _import_ipywidgets()
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

    controls = (view_box, class_box, class_b_box, seed_box, seed_b_box, truncate_box, truncation_slider, mode_box)
    for control in controls:
        control.observe(refresh, names="value")
    refresh()
    return widgets.VBox([
        view_box,
        widgets.HBox([class_box, seed_box, truncate_box, truncation_slider]),
        widgets.HBox([class_b_box, seed_b_box, mode_box]),
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
        interactive = _in_kernel() and importlib.util.find_spec("ipywidgets") is not None
    widget = None
    if interactive:
        widget = biggan_explorer(
            G, class_names=names, seed=seed, label=label, seed_b=seed_b, label_b=label_b, truncation=truncation,
            thresholds=thresholds, steps=steps, mode=mode, **widget_kwargs,
        )
    return BigGANPanel(truncation_figure, latent_figure, class_figure, widget)


def _require_biggan(G: Any) -> None:
    missing = [name for name in ("dim_z", "num_classes", "class_vector") if not hasattr(G, name)]
    if missing or not isinstance(G, nn.Module):
        raise TypeError(
            f"G must be a BigGAN generator (gancore.models.biggan.Generator or GeneratorDeep); "
            f"{type(G).__name__} lacks {missing or ['nn.Module']}"
        )


def _check_int(value: Any, name: str, *, minimum: int | None = None, why: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or (minimum is not None and value < minimum):
        bound = f" >= {minimum}" if minimum is not None else ""
        raise ValueError(f"{name}={value!r} must be an int{bound}{why}")
    return int(value)


def _check_seed(seed: Any, name: str) -> int:
    return _check_int(seed, name, minimum=0)


def _check_label(label: Any, num_classes: int, name: str) -> int:
    if isinstance(label, bool) or not isinstance(label, Integral) or not 0 <= label < num_classes:
        raise ValueError(f"{name}={label!r} is not a class label: expected an int in [0, {num_classes})")
    return int(label)


def _check_truncation(truncation: Any) -> float | None:
    if truncation is None:
        return None
    if isinstance(truncation, bool) or not isinstance(truncation, Real) or not (
        math.isfinite(truncation) and truncation > 0
    ):
        raise ValueError(f"truncation={truncation!r} must be a finite number > 0, or None for untruncated N(0, 1)")
    return float(truncation)


def _check_thresholds(thresholds: Any) -> list[float | None]:
    """The thresholds as a list (any iterable, e.g. a NumPy array, is accepted), each checked."""
    if isinstance(thresholds, (str, bytes)) or not isinstance(thresholds, Iterable):
        raise ValueError(f"thresholds={thresholds!r} must be a non-empty sequence of numbers > 0 (or None)")
    values = list(thresholds)
    if not values:
        raise ValueError("thresholds must name at least one truncation threshold")
    try:
        return [_check_truncation(threshold) for threshold in values]
    except ValueError:
        raise ValueError(
            f"thresholds={values!r}: every threshold must be a finite number > 0, or None for untruncated"
        ) from None


def _check_mode(mode: Any) -> None:
    if mode not in INTERPOLATION_MODES:
        raise ValueError(f"mode={mode!r} is not one of {INTERPOLATION_MODES}")


def _class_options(class_names: Sequence[str], num_classes: int) -> list[tuple[str, int]]:
    names = list(class_names)
    if len(names) != num_classes:
        raise ValueError(f"got {len(names)} class_names for a generator with {num_classes} classes")
    return [(str(name), label) for label, name in enumerate(names)]


def _threshold_label(threshold: float | None) -> str:
    return "untruncated" if threshold is None else f"trunc {threshold:g}"


def _batch_kwargs(
    gen_kwargs: dict[str, Any], n: int, start: int, stop: int, device: torch.device | None
) -> dict[str, Any]:
    out = {}
    for name, value in gen_kwargs.items():
        if isinstance(value, Tensor) and value.ndim >= 1:
            if value.shape[0] == n:
                value = value[start:stop]
            elif value.shape[0] == 1:
                value = value.expand(stop - start, *value.shape[1:])
            if device is not None:
                value = value.to(device)
        out[name] = value
    return out


def _module_device(gen: Generator) -> torch.device | None:
    if isinstance(gen, nn.Module):
        parameter = next(gen.parameters(), None)
        if parameter is not None:
            return parameter.device
    return None


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def _import_ipywidgets() -> Any:
    try:
        import ipywidgets
    except ImportError as err:
        raise ImportError("interactive widgets need ipywidgets; install it or pass interactive=False") from err
    return ipywidgets
