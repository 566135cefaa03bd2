"""Tests for gancore.widgets: pure render functions and the ipywidgets front end, on a tiny fake generator."""
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

from gancore.latents import gaussian_latent_walk, interpolate_latents, sample_latents
from gancore.widgets import (
    generate_uint8,
    interpolation_captions,
    interpolation_widget,
    latent_interpolation_panel,
    render_interpolation,
    render_latent_walk,
    render_samples,
)

DIM = 6


class FakeGenerator(nn.Module):
    """Fixed random linear map z -> 3×8×8 with tanh; records the mode and grad state it ran under."""

    def __init__(self, *, dim: int = DIM, num_classes: int = 0) -> None:
        super().__init__()
        with torch.random.fork_rng():  # fixed weights without disturbing the caller's global RNG
            torch.manual_seed(0)
            self.linear = nn.Linear(dim, 3 * 8 * 8)
            self.embed = nn.Embedding(num_classes, 3 * 8 * 8) if num_classes else None
        self.dropout = nn.Dropout(0.5)  # makes a forgotten eval() visible as non-determinism
        self.seen: list[tuple[bool, bool]] = []

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None, gain: float = 1.0) -> torch.Tensor:
        self.seen.append((self.training, torch.is_grad_enabled()))
        h = self.linear(z)
        if self.embed is not None:
            h = h + self.embed(y)
        return torch.tanh(gain * self.dropout(h)).view(-1, 3, 8, 8)


def _expected_uint8(gen: FakeGenerator, z: torch.Tensor, **kwargs) -> torch.Tensor:
    with torch.no_grad():
        gen.eval()
        x = gen(z, **kwargs)
    return ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)


def _decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


@pytest.mark.parametrize("truncation", [None, 0.5])
def test_render_samples_shape_values_and_determinism(truncation: float | None) -> None:
    gen = FakeGenerator()
    images = render_samples(gen, seed=3, n=5, dim=DIM, truncation=truncation)
    assert images.shape == (5, 3, 8, 8) and images.dtype == torch.uint8
    assert torch.equal(images, render_samples(gen, seed=3, n=5, dim=DIM, truncation=truncation))
    assert not torch.equal(images, render_samples(gen, seed=4, n=5, dim=DIM, truncation=truncation))
    expected = _expected_uint8(FakeGenerator(), sample_latents(5, DIM, seed=3, truncation=truncation))
    assert torch.equal(images, expected)


def test_render_runs_in_eval_no_grad_and_restores_mode() -> None:
    gen = FakeGenerator()
    gen.train()
    gen.dropout.eval()  # mixed per-module modes must come back exactly
    render_samples(gen, seed=0, n=2, dim=DIM)
    assert gen.seen == [(False, False)]
    assert gen.training and gen.linear.training and not gen.dropout.training

    gen.eval()
    render_samples(gen, seed=0, n=2, dim=DIM)
    assert not gen.training


@pytest.mark.parametrize("mode", ["slerp", "lerp"])
def test_render_interpolation_endpoints_equal_seeded_samples(mode: str) -> None:
    gen = FakeGenerator()
    z0, z1 = sample_latents(1, DIM, seed=10)[0], sample_latents(1, DIM, seed=11)[0]
    strip = render_interpolation(gen, z0, z1, steps=5, mode=mode)
    assert strip.shape == (5, 3, 8, 8) and strip.dtype == torch.uint8
    assert torch.equal(strip[0], render_samples(gen, seed=10, n=1, dim=DIM)[0])
    assert torch.equal(strip[-1], render_samples(gen, seed=11, n=1, dim=DIM)[0])
    assert torch.equal(strip, _expected_uint8(gen, interpolate_latents(z0, z1, 5, mode=mode)))
    assert torch.equal(strip, render_interpolation(gen, z0, z1, steps=5, mode=mode))


@pytest.mark.parametrize(("frames", "every"), [(10, 1), (10, 3), (7, 7)])
def test_render_latent_walk_shape_and_determinism(frames: int, every: int) -> None:
    gen = FakeGenerator()
    video = render_latent_walk(gen, num_frames=frames, dim=DIM, sigma_frames=2.0, seed=1, every=every)
    assert video.shape == (-(-frames // every), 3, 8, 8) and video.dtype == torch.uint8
    walk = gaussian_latent_walk(frames, DIM, sigma_frames=2.0, seed=1)[::every]
    assert torch.equal(video, _expected_uint8(gen, walk))
    assert torch.equal(video, render_latent_walk(gen, num_frames=frames, dim=DIM, sigma_frames=2.0, seed=1, every=every))
    with pytest.raises(ValueError, match="every"):
        render_latent_walk(gen, num_frames=frames, dim=DIM, every=0)


@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_generate_uint8_chunks_and_broadcasts_kwargs(batch_size: int) -> None:
    gen = FakeGenerator(num_classes=4)
    z = sample_latents(7, DIM, seed=2)
    labels = torch.tensor([0, 1, 2, 3, 0, 1, 2])
    per_sample = generate_uint8(gen, z, gen_kwargs={"y": labels, "gain": 2.0}, batch_size=batch_size)
    assert torch.equal(per_sample, _expected_uint8(gen, z, y=labels, gain=2.0))
    one_class = generate_uint8(gen, z, gen_kwargs={"y": torch.tensor([2])}, batch_size=batch_size)
    assert torch.equal(one_class, _expected_uint8(gen, z, y=torch.full((7,), 2)))


def test_generate_uint8_accepts_plain_callables_and_rejects_bad_output() -> None:
    weight = torch.randn(DIM, 3 * 4 * 4)
    images = generate_uint8(lambda z: torch.tanh(z @ weight).view(-1, 3, 4, 4), sample_latents(2, DIM, seed=0))
    assert images.shape == (2, 3, 4, 4) and images.dtype == torch.uint8
    with pytest.raises(ValueError, match="generator must return"):
        generate_uint8(lambda z: torch.zeros(3, 8, 8), sample_latents(2, DIM, seed=0))
    with pytest.raises(ValueError, match="z must have shape"):
        generate_uint8(lambda z: z, torch.zeros(DIM))


def test_interpolation_widget_builds_headless_and_callbacks_render(widget_controls) -> None:
    gen = FakeGenerator()
    steps = 4
    tab = interpolation_widget(gen, dim=DIM, steps=steps, seed_a=5, seed_b=6, walk_frames=9, walk_every=2)
    assert isinstance(tab, ipywidgets.Tab) and tab.titles == ("interpolation", "latent walk")
    controls = widget_controls(tab)
    interp_page, walk_page = tab.children
    image_at_t, strip = [child for child in interp_page.children if isinstance(child, ipywidgets.Image)]
    frame_image = walk_page.children[-1]

    expected_strip = render_interpolation(
        gen, sample_latents(1, DIM, seed=5)[0], sample_latents(1, DIM, seed=6)[0], steps=steps
    )
    # The strip is a captioned grid: a title line and a t= caption line, then 96 px cells (8 px images ×12).
    shown = _decode(strip.value)
    assert shown.shape[1] == steps * 96 + (steps + 1) * 2
    np.testing.assert_array_equal(shown[38:38 + 96:12, 2:2 + 96:12], expected_strip[0].permute(1, 2, 0).numpy())
    assert interpolation_captions(steps) == ["t=0.00", "t=0.33", "t=0.67", "t=1.00"]
    band = shown[18:36].min(axis=2)
    assert all(band[:, 2 + c * 98 + 20:2 + c * 98 + 76].min() < 100 for c in range(steps))  # text in every column
    assert int(controls["t"].layout.width.rstrip("px")) >= 400
    caption = next(c for c in interp_page.children if isinstance(c, ipywidgets.HTML))
    assert "slerp: seed 5 → seed 6" in caption.value and all(t in caption.value for t in interpolation_captions(steps))

    controls["t"].value = 0.0  # observers run synchronously, so errors in callbacks surface here
    np.testing.assert_array_equal(_decode(image_at_t.value), expected_strip[0].permute(1, 2, 0).numpy())
    controls["t"].value = 1.0
    np.testing.assert_array_equal(_decode(image_at_t.value), expected_strip[-1].permute(1, 2, 0).numpy())

    before = strip.value
    controls["seed A"].value = 7
    assert strip.value != before
    controls["mode"].value = "lerp"
    np.testing.assert_array_equal(_decode(image_at_t.value), expected_strip[-1].permute(1, 2, 0).numpy())

    walk = render_latent_walk(gen, num_frames=9, dim=DIM, seed=5, every=2)
    assert controls["frame"].max == walk.shape[0] - 1
    controls["frame"].value = 3
    np.testing.assert_array_equal(_decode(frame_image.value), walk[3].permute(1, 2, 0).numpy())


def test_interpolation_widget_without_walk_and_bad_steps() -> None:
    tab = interpolation_widget(FakeGenerator(), dim=DIM, steps=3, walk_frames=0)
    assert tab.titles == ("interpolation",)
    with pytest.raises(ValueError, match="steps"):
        interpolation_widget(FakeGenerator(), dim=DIM, steps=1)


@pytest.mark.parametrize("interactive", [None, False, True])
def test_latent_interpolation_panel_always_returns_static_figure(interactive: bool | None) -> None:
    fig, widget = latent_interpolation_panel(
        FakeGenerator(), dim=DIM, steps=3, interactive=interactive, walk_frames=4
    )
    assert isinstance(fig, Figure)
    assert [ax.get_title() for ax in fig.axes] == ["t=0.00", "t=0.50", "t=1.00"]
    fig.savefig(io.BytesIO(), format="png")
    # pytest runs outside a Jupyter kernel, so the default stays static.
    assert isinstance(widget, ipywidgets.Tab) if interactive else widget is None


def test_latent_interpolation_panel_surfaces_generator_errors() -> None:
    def broken(z: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("generator exploded")

    with pytest.raises(RuntimeError, match="exploded"):
        latent_interpolation_panel(broken, dim=DIM, interactive=True)
