"""Tests for the BigGAN part of gancore.widgets: truncation strip, class samples, latent and class interpolation,
the explorer widget and the notebook panel, on tiny BigGAN generators."""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import ipywidgets
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image
from torch import nn

from gancore.latents import sample_latents
from gancore.models.biggan import Generator, GeneratorDeep
from gancore.recipes.biggan import (
    BIGGAN_VIEWS,
    FIG2_THRESHOLDS,
    BigGANPanel,
    biggan_explorer,
    biggan_view_captions,
    biggan_widget_panel,
    render_biggan_view,
    render_class_interpolation,
    render_class_samples,
    render_latent_interpolation,
    render_truncation_strip,
    truncation_latents,
)

NAMES = ["circle", "square", "triangle"]
RES = 32


def _tiny(kind: str = "shallow", *, shared: bool = True) -> nn.Module:
    with torch.random.fork_rng():  # fixed weights without disturbing the caller's global RNG
        torch.manual_seed(0)
        if kind == "deep":
            return GeneratorDeep(resolution=RES, ch=8, dim_z=8, shared_dim=6, num_classes=3, attention_res=(), depth=1)
        return Generator(resolution=RES, ch=4, dim_z=8, shared_dim=6, num_classes=3, attention_res=(), shared=shared)


@pytest.fixture(scope="module")
def G() -> nn.Module:
    return _tiny()


def _expected_uint8(G: nn.Module, z: torch.Tensor, **kwargs) -> torch.Tensor:
    """Independent reference: one eval-mode forward pass, then the [-1, 1] → [0, 255] map."""
    was_training = G.training
    G.eval()
    with torch.no_grad():
        x = G(z, **kwargs)
    G.train(was_training)
    return ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    """uint8 images equal up to one grey level (batched vs single forward passes may round differently)."""
    return a.shape == b.shape and bool(((a.int() - b.int()).abs() <= 1).all())


def _decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


# --- truncation latents -------------------------------------------------------------------------------------------


def test_truncation_latents_respect_threshold_and_shrink() -> None:
    thresholds = [None, 2.0, 1.0, 0.5, 0.04]
    z = truncation_latents(seed=3, n=16, dim=64, thresholds=thresholds)
    assert z.shape == (5, 16, 64) and torch.isfinite(z).all()
    for row, threshold in zip(z[1:], thresholds[1:]):
        assert row.abs().max() <= threshold
    mean_norms = z.norm(dim=-1).mean(dim=1)
    assert (mean_norms[1:] < mean_norms[:-1]).all(), mean_norms  # smaller threshold → smaller latents
    assert torch.equal(z, truncation_latents(seed=3, n=16, dim=64, thresholds=thresholds))


@pytest.mark.parametrize("threshold", [2.0, 1.0, 0.5])
def test_truncation_latents_share_one_draw_and_match_sample_latents(threshold: float) -> None:
    base, z = truncation_latents(seed=7, n=4, dim=32, thresholds=[None, threshold])
    assert torch.equal(base, torch.randn(4, 32, generator=torch.Generator().manual_seed(7)))
    inside = base.abs() <= threshold
    assert inside.any() and torch.equal(z[inside], base[inside])  # only the components outside are redrawn
    assert torch.equal(z, sample_latents(4, 32, seed=7, truncation=threshold))


@pytest.mark.parametrize("thresholds", [[], [1.0, 0.0], [-0.5], [float("nan")], [float("inf")], "1.0"])
def test_truncation_latents_reject_bad_thresholds(thresholds) -> None:
    with pytest.raises(ValueError, match="threshold"):
        truncation_latents(seed=0, n=1, dim=4, thresholds=thresholds)


# --- render functions ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("truncation", [None, 0.5])
@pytest.mark.parametrize("label", [0, 2])
def test_render_class_samples_shape_values_and_determinism(G: nn.Module, truncation: float | None, label: int) -> None:
    images = render_class_samples(G, seed=4, label=label, truncation=truncation, n=3)
    assert images.shape == (3, 3, RES, RES) and images.dtype == torch.uint8 and images.device.type == "cpu"
    assert torch.equal(images, render_class_samples(G, seed=4, label=label, truncation=truncation, n=3))
    z = sample_latents(3, G.dim_z, seed=4, truncation=truncation)
    assert _close(images, _expected_uint8(G, z, y=torch.full((3,), label)))
    assert not torch.equal(images, render_class_samples(G, seed=5, label=label, truncation=truncation, n=3))


@pytest.mark.parametrize("n_per", [1, 2])
def test_render_truncation_strip_columns_equal_class_samples(G: nn.Module, n_per: int) -> None:
    thresholds = [None, 1.0, 0.04]
    strip = render_truncation_strip(G, seed=2, label=1, thresholds=thresholds, n_per=n_per)
    assert strip.shape == (n_per * 3, 3, RES, RES) and strip.dtype == torch.uint8
    assert torch.equal(strip, render_truncation_strip(G, seed=2, label=1, thresholds=thresholds, n_per=n_per))
    grid = strip.view(n_per, 3, 3, RES, RES)  # sample-major: row = latent, column = threshold
    for column, threshold in enumerate(thresholds):
        samples = render_class_samples(G, seed=2, label=1, truncation=threshold, n=n_per)
        assert _close(grid[:, column], samples)
    assert not torch.equal(grid[:, 0], grid[:, 2])


def test_render_truncation_strip_default_thresholds_are_fig2(G: nn.Module) -> None:
    assert FIG2_THRESHOLDS == (2.0, 1.0, 0.5, 0.04)
    assert render_truncation_strip(G, seed=0, label=0).shape == (4, 3, RES, RES)


@pytest.mark.parametrize("mode", ["slerp", "lerp"])
@pytest.mark.parametrize("truncation", [None, 0.8])
def test_render_latent_interpolation_endpoints(G: nn.Module, mode: str, truncation: float | None) -> None:
    strip = render_latent_interpolation(G, seed_a=1, seed_b=2, label=2, steps=5, truncation=truncation, mode=mode)
    assert strip.shape == (5, 3, RES, RES) and strip.dtype == torch.uint8
    assert torch.equal(strip, render_latent_interpolation(
        G, seed_a=1, seed_b=2, label=2, steps=5, truncation=truncation, mode=mode
    ))
    assert _close(strip[:1], render_class_samples(G, seed=1, label=2, truncation=truncation, n=1))
    assert _close(strip[-1:], render_class_samples(G, seed=2, label=2, truncation=truncation, n=1))


@pytest.mark.parametrize("kind", ["shallow", "shallow-unshared", "deep"])
@pytest.mark.parametrize("truncation", [None, 0.5])
def test_render_class_interpolation_same_z_endpoints(kind: str, truncation: float | None) -> None:
    gen = _tiny("deep" if kind == "deep" else "shallow", shared=kind != "shallow-unshared")
    strip = render_class_interpolation(gen, seed=3, label_a=0, label_b=2, steps=5, truncation=truncation)
    assert strip.shape == (5, 3, RES, RES) and strip.dtype == torch.uint8
    assert torch.equal(strip, render_class_interpolation(gen, seed=3, label_a=0, label_b=2, steps=5,
                                                         truncation=truncation))
    first = render_class_samples(gen, seed=3, label=0, truncation=truncation, n=1)
    last = render_class_samples(gen, seed=3, label=2, truncation=truncation, n=1)
    assert _close(strip[:1], first) and _close(strip[-1:], last)
    assert not _close(strip[2:3], first) and not _close(strip[2:3], last)
    # Independent midpoint: the average of the two class vectors fed with the same z.
    z = sample_latents(1, gen.dim_z, seed=3, truncation=truncation)
    with torch.no_grad():
        ends = gen.class_vector(torch.tensor([0, 2]))
    assert _close(strip[2:3], _expected_uint8(gen, z, class_vec=ends.mean(dim=0, keepdim=True)))


@pytest.mark.parametrize(
    "render",
    [
        lambda G: render_class_samples(G, seed=0, label=1, n=2),
        lambda G: render_truncation_strip(G, seed=0, label=1, thresholds=[1.0, 0.5]),
        lambda G: render_latent_interpolation(G, seed_a=0, seed_b=1, label=1, steps=3),
        lambda G: render_class_interpolation(G, seed=0, label_a=0, label_b=1, steps=3),
    ],
    ids=["samples", "truncation", "latent", "class"],
)
def test_render_runs_in_eval_and_restores_train_mode(render) -> None:
    gen = _tiny()
    gen.train()
    state = {name: value.clone() for name, value in gen.state_dict().items()}
    first = render(gen)
    assert gen.training and all(module.training for module in gen.modules())
    # Eval mode: BatchNorm running stats and spectral-norm vectors are untouched, and the output is repeatable.
    assert all(torch.equal(state[name], value) for name, value in gen.state_dict().items())
    assert torch.equal(first, render(gen))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda G: render_class_samples(G, seed=0, label=3), "label"),
        (lambda G: render_class_samples(G, seed=0, label=-1), "label"),
        (lambda G: render_class_samples(G, seed=0, label=True), "label"),
        (lambda G: render_class_samples(G, seed=0, label=0, truncation=0.0), "truncation"),
        (lambda G: render_class_samples(G, seed=0, label=0, truncation=-1.0), "truncation"),
        (lambda G: render_class_samples(G, seed=-1, label=0), "seed"),
        (lambda G: render_truncation_strip(G, seed=0, label=0, thresholds=[1.0, -0.5]), "threshold"),
        (lambda G: render_truncation_strip(G, seed=0, label=5), "label"),
        (lambda G: render_latent_interpolation(G, seed_a=0, seed_b=1, label=0, steps=1), "steps"),
        (lambda G: render_latent_interpolation(G, seed_a=0, seed_b=1, label=0, mode="cubic"), "mode"),
        (lambda G: render_class_interpolation(G, seed=0, label_a=0, label_b=3), "label_b"),
        (lambda G: render_class_interpolation(G, seed=0, label_a=0, label_b=1, steps=1), "steps"),
        (lambda G: render_biggan_view(G, view="nope", seed=0, label=0), "view"),
    ],
)
def test_render_functions_reject_bad_inputs(G: nn.Module, call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call(G)


def test_render_functions_reject_non_biggan_generators() -> None:
    with pytest.raises(TypeError, match="BigGAN generator"):
        render_class_samples(nn.Linear(8, 8), seed=0, label=0)


@pytest.mark.parametrize("view", BIGGAN_VIEWS)
def test_render_biggan_view_dispatches(G: nn.Module, view: str) -> None:
    images, nrow = render_biggan_view(G, view=view, seed=1, label=0, truncation=0.5, n=3, steps=4)
    expected = {
        "samples": (render_class_samples(G, seed=1, label=0, truncation=0.5, n=3), 3),
        "truncation strip": (render_truncation_strip(G, seed=1, label=0), 4),
        "latent interpolation": (render_latent_interpolation(G, seed_a=1, seed_b=2, label=0, steps=4,
                                                             truncation=0.5), 4),
        "class interpolation": (render_class_interpolation(G, seed=1, label_a=0, label_b=1, steps=4,
                                                           truncation=0.5), 4),
    }[view]
    assert torch.equal(images, expected[0]) and nrow == expected[1]


# --- widget and panel ---------------------------------------------------------------------------------------------


def _shown(box: ipywidgets.VBox) -> np.ndarray:
    return _decode(box.children[-1].value)


def _first_image(images: torch.Tensor) -> np.ndarray:
    return images[0].permute(1, 2, 0).numpy()


CELL, PAD, TOP = 96, 2, 36  # captioned_grid_png: 96 px cells (image_px), 2 px padding, title + caption lines


def _tile(shown: np.ndarray, col: int, row: int = 0) -> np.ndarray:
    """Image (row, col) of a captioned widget grid, back at RES: the grid scales each image ×3 (nearest)."""
    y, x = TOP + PAD + row * (CELL + PAD), PAD + col * (CELL + PAD)
    return shown[y:y + CELL:CELL // RES, x:x + CELL:CELL // RES]


def test_biggan_explorer_builds_and_every_control_rerenders(G: nn.Module, widget_controls) -> None:
    box = biggan_explorer(G, class_names=NAMES, seed=5, label=1, truncation=0.5, n=2, steps=3)
    assert isinstance(box, ipywidgets.VBox)
    controls = widget_controls(box)
    assert controls["class"].options == (("circle", 0), ("square", 1), ("triangle", 2))
    samples = render_class_samples(G, seed=5, label=1, truncation=0.5, n=2)
    np.testing.assert_array_equal(_tile(_shown(box), 0), _first_image(samples))
    assert controls["seed B"].disabled and controls["class B"].disabled

    # Observers run synchronously, so any error in the callback surfaces here.
    controls["truncate"].value = False
    untruncated = render_class_samples(G, seed=5, label=1, truncation=None, n=2)
    np.testing.assert_array_equal(_tile(_shown(box), 0), _first_image(untruncated))
    assert controls["truncation"].disabled
    controls["truncate"].value = True
    controls["truncation"].value = 1.0
    controls["class"].value = 2
    controls["seed"].value = 6
    expected = render_class_samples(G, seed=6, label=2, truncation=1.0, n=2)
    np.testing.assert_array_equal(_tile(_shown(box), 0), _first_image(expected))

    controls["view"].value = "truncation strip"
    assert _shown(box).shape[1] == 4 * CELL + 5 * PAD and controls["truncation"].disabled
    controls["view"].value = "latent interpolation"
    assert not controls["seed B"].disabled and not controls["path"].disabled
    controls["path"].value = "lerp"
    controls["seed B"].value = 9
    latent = render_latent_interpolation(G, seed_a=6, seed_b=9, label=2, steps=3, truncation=1.0, mode="lerp")
    np.testing.assert_array_equal(_tile(_shown(box), 1), latent[1].permute(1, 2, 0).numpy())
    controls["view"].value = "class interpolation"
    controls["class B"].value = 0
    classes = render_class_interpolation(G, seed=6, label_a=2, label_b=0, steps=3, truncation=1.0)
    assert not controls["class B"].disabled and controls["seed B"].disabled
    np.testing.assert_array_equal(_tile(_shown(box), 1), classes[1].permute(1, 2, 0).numpy())


@pytest.mark.parametrize("view, captions, title", [
    ("samples", ["#0", "#1"], "square, seed 5, truncation 0.5"),
    ("truncation strip", ["trunc 2", "trunc 1", "trunc 0.5", "trunc 0.04"], "square, seed 5: truncation threshold"),
    ("latent interpolation", ["t=0.00", "t=0.50", "t=1.00"], "square: slerp seed 5 → seed 6 (truncation 0.5)"),
    ("class interpolation", ["t=0.00", "t=0.50", "t=1.00"], "seed 5, same z: square → triangle (truncation 0.5)"),
])
def test_every_explorer_view_is_captioned_with_names(G: nn.Module, widget_controls, view, captions, title) -> None:
    got, got_title = biggan_view_captions(view, class_names=NAMES, seed=5, label=1, truncation=0.5, n=2, steps=3)
    assert got == captions and got_title.startswith(title)
    box = biggan_explorer(G, class_names=NAMES, seed=5, label=1, truncation=0.5, n=2, steps=3, view=view)
    shown = _shown(box)
    # Text is drawn above every column: each column's caption band holds dark pixels, the band between does not.
    band = shown[TOP - 18:TOP].min(axis=2)
    for c in range(len(captions)):
        assert band[:, PAD + c * (CELL + PAD) + 10:PAD + c * (CELL + PAD) + CELL - 10].min() < 100, c
    assert shown[:18].min() < 100  # the title line
    # The same title and captions are page text too (the browser test reads them there).
    caption = next(c for c in box.children if isinstance(c, ipywidgets.HTML))
    assert all(text in caption.value for text in captions) and title.split(",")[0] in caption.value


def test_truncation_slider_is_wide_enough_to_drag(G: nn.Module, widget_controls) -> None:
    slider = widget_controls(biggan_explorer(G, class_names=NAMES))["truncation"]
    assert int(slider.layout.width.rstrip("px")) >= 400


def test_biggan_explorer_starts_untruncated_and_rejects_bad_arguments(G: nn.Module, widget_controls) -> None:
    box = biggan_explorer(G, class_names=NAMES, truncation=None, view="class interpolation", steps=2)
    assert widget_controls(box)["truncate"].value is False
    with pytest.raises(ValueError, match="class_names"):
        biggan_explorer(G, class_names=NAMES[:2])
    with pytest.raises(ValueError, match="view"):
        biggan_explorer(G, class_names=NAMES, view="video")
    with pytest.raises(ValueError, match="label"):
        biggan_explorer(G, class_names=NAMES, label=3)
    with pytest.raises(ValueError, match="steps"):
        biggan_explorer(G, class_names=NAMES, steps=1)


@pytest.mark.parametrize("interactive", [None, False, True])
def test_biggan_widget_panel_always_draws_static_strips(G: nn.Module, interactive: bool | None) -> None:
    panel = biggan_widget_panel(G, class_names=NAMES, seed=1, label=2, steps=3, interactive=interactive, n=2)
    assert isinstance(panel, BigGANPanel)
    for figure in panel[:3]:
        assert isinstance(figure, Figure)
        figure.savefig(io.BytesIO(), format="png")
    assert [ax.get_title() for ax in panel.truncation.axes] == ["trunc 2", "trunc 1", "trunc 0.5", "trunc 0.04"]
    assert [ax.get_title() for ax in panel.class_interpolation.axes] == ["t=0.00", "t=0.50", "t=1.00"]
    assert "triangle → circle" in panel.class_interpolation._suptitle.get_text()
    # pytest runs outside a Jupyter kernel, so the default stays static.
    assert isinstance(panel.widget, ipywidgets.VBox) if interactive else panel.widget is None


def test_biggan_widget_panel_surfaces_errors() -> None:
    class Broken(Generator):
        def forward(self, z, y=None, *, class_vec=None):
            raise RuntimeError("generator exploded")

    with torch.random.fork_rng():
        broken = Broken(resolution=RES, ch=4, dim_z=8, shared_dim=6, num_classes=3, attention_res=())
    with pytest.raises(RuntimeError, match="exploded"):
        biggan_widget_panel(broken, class_names=NAMES, interactive=True)
    with pytest.raises(ValueError, match="label"):
        biggan_widget_panel(_tiny(), class_names=NAMES, label=7)
