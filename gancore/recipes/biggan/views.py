"""BigGAN's views for the notebook as pure render functions (§3.1 truncation, Fig. 2(a) strips, Fig. 8 latent and
class interpolation): each returns uint8 images and is unit-tested; :mod:`gancore.recipes.biggan.widgets` puts
ipywidgets controls in front of them.

``G`` here is a class-conditional BigGAN generator (:class:`gancore.models.biggan.Generator` or ``GeneratorDeep``):
it has ``dim_z``, ``num_classes``, ``class_vector(y)`` and accepts ``G(z, y)`` or ``G(z, class_vec=V)``.
"""
from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any, Iterable, Literal, Sequence

import torch
from torch import Tensor, nn

from gancore.latents import INTERPOLATION_MODES, lerp, sample_latents
from gancore.sampling import eval_mode, generate_uint8, module_device
from gancore.widgets import render_interpolation, render_samples

BIGGAN_VIEWS = ("samples", "truncation strip", "latent interpolation", "class interpolation")
# BigGAN Fig. 2(a): "from left to right, the threshold is set to 2, 1, 0.5, 0.04".
FIG2_THRESHOLDS: tuple[float, ...] = (2.0, 1.0, 0.5, 0.04)


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
    device = module_device(G)
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
