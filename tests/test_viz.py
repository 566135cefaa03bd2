"""Tests for gancore.latents (ProGAN §6.2 walk, slerp, BigGAN §3.1 truncation) and gancore.viz."""
from __future__ import annotations

import io
import json
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image
from scipy import stats

from gancore.latents import (
    gaussian_latent_walk,
    hypersphere,
    interpolate_latents,
    sample_latents,
    slerp,
    truncated_normal,
)
from gancore.viz import (
    grid_png,
    image_grid,
    plot_metric_curves,
    plot_table,
    read_log,
    save_grid,
    show_grid,
    show_strip,
    to_uint8,
)


def _pair(dim: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(dim, generator=g, dtype=torch.float64), torch.randn(dim, generator=g, dtype=torch.float64)


def _angle(u: torch.Tensor, v: torch.Tensor) -> float:
    return math.acos(float(torch.dot(u, v) / (u.norm() * v.norm())))


# ---------------------------------------------------------------- latents


@pytest.mark.parametrize("equal_norms", [True, False])
def test_slerp_endpoints_and_midpoint_closed_form(equal_norms: bool) -> None:
    a, b = _pair()
    if equal_norms:
        a, b = hypersphere(a), hypersphere(b)
    torch.testing.assert_close(slerp(a, b, 0.0), a)
    torch.testing.assert_close(slerp(a, b, 1.0), b)
    # Both weights at t=1/2 equal sin(w/2)/sin(w) = 1/(2 cos(w/2)).
    expected_mid = (a + b) / (2 * math.cos(_angle(a, b) / 2))
    torch.testing.assert_close(slerp(a, b, 0.5), expected_mid)


def test_slerp_keeps_norm_and_spaces_angles_evenly_for_equal_norm_inputs() -> None:
    a, b = (hypersphere(v) for v in _pair(dim=32))
    t = torch.linspace(0, 1, 9, dtype=torch.float64)
    path = slerp(a, b, t)
    assert path.shape == (9, 32)
    torch.testing.assert_close(path.norm(dim=1), torch.full((9,), math.sqrt(32), dtype=torch.float64))
    steps = [_angle(path[i], path[i + 1]) for i in range(8)]
    np.testing.assert_allclose(steps, _angle(a, b) / 8, rtol=1e-6)


def test_slerp_batched_shapes() -> None:
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g)
    assert slerp(a, b, 0.3).shape == (5, 7)
    assert slerp(a, b, torch.tensor(0.3)).shape == (5, 7)
    out = slerp(a, b, torch.linspace(0, 1, 4))
    assert out.shape == (4, 5, 7)
    torch.testing.assert_close(out[2, 3], slerp(a[3], b[3], float(torch.linspace(0, 1, 4)[2])))


def test_slerp_parallel_inputs_fall_back_to_lerp() -> None:
    a = torch.randn(8, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    out = slerp(a, 2 * a, torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64))
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, torch.stack([a, 1.5 * a, 2 * a]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_slerp_rejects_antipodal_and_2d_t(dtype: torch.dtype) -> None:
    a = torch.randn(8, generator=torch.Generator().manual_seed(3), dtype=dtype)
    with pytest.raises(ValueError, match="antipodal"):
        slerp(a, -a, 0.5)
    with pytest.raises(ValueError, match="t must be"):
        slerp(a, a, torch.zeros(2, 2))


@pytest.mark.parametrize("mode", ["slerp", "lerp"])
@pytest.mark.parametrize("steps", [2, 5])
def test_interpolate_latents_shapes_and_endpoints(mode: str, steps: int) -> None:
    a, b = _pair(dim=12)
    path = interpolate_latents(a.unsqueeze(0), b, steps, mode=mode)
    assert path.shape == (steps, 12)
    torch.testing.assert_close(path[0], a)
    torch.testing.assert_close(path[-1], b)


def test_interpolate_latents_lerp_is_linear() -> None:
    a, b = _pair(dim=6)
    path = interpolate_latents(a, b, 5, mode="lerp")
    torch.testing.assert_close(path[2], (a + b) / 2)
    torch.testing.assert_close(path[1], 0.75 * a + 0.25 * b)


@pytest.mark.parametrize(
    ("b_dim", "steps", "mode", "message"), [(4, 1, "slerp", "steps"), (4, 4, "cubic", "slerp"), (3, 4, "slerp", "same")]
)
def test_interpolate_latents_rejects_bad_input(b_dim: int, steps: int, mode: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        interpolate_latents(torch.ones(4), torch.ones(b_dim), steps, mode=mode)  # type: ignore[arg-type]


def test_hypersphere_matches_pixelnorm() -> None:
    z = torch.randn(6, 10, dtype=torch.float64) * torch.arange(1, 7, dtype=torch.float64).unsqueeze(1)
    out = hypersphere(z)
    torch.testing.assert_close(out.norm(dim=1), torch.full((6,), math.sqrt(10), dtype=torch.float64))
    torch.testing.assert_close(out, z / torch.sqrt((z**2).mean(dim=1, keepdim=True) + 1e-8))


@pytest.mark.parametrize("sigma", [0.0, 3.0, 45.0])
def test_gaussian_latent_walk_shape_and_hypersphere(sigma: float) -> None:
    walk = gaussian_latent_walk(50, 24, sigma_frames=sigma, seed=1)
    assert walk.shape == (50, 24) and walk.dtype == torch.float32
    assert torch.isfinite(walk).all()
    torch.testing.assert_close(walk.norm(dim=1), torch.full((50,), math.sqrt(24)), rtol=1e-5, atol=1e-5)


def _mean_cosine(walk: torch.Tensor, lag: int) -> float:
    unit = walk / walk.norm(dim=1, keepdim=True)
    return float((unit * unit.roll(-lag, dims=0)).sum(dim=1).mean())


def test_gaussian_latent_walk_is_smooth_and_loops() -> None:
    walk = gaussian_latent_walk(200, 64, sigma_frames=8.0, seed=0)
    near, far = _mean_cosine(walk, 1), _mean_cosine(walk, 100)
    assert near > 0.95 and abs(far) < 0.3
    # Circular blur: the last frame is as close to the first as any two neighbours.
    first_last = float(torch.nn.functional.cosine_similarity(walk[0], walk[-1], dim=0))
    assert first_last > 0.9


def test_gaussian_latent_walk_matches_circular_convolution() -> None:
    frames, dim, sigma, seed = 120, 5, 4.0, 3
    noise = torch.randn(frames, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).numpy()
    offsets = np.arange(frames)
    offsets = np.minimum(offsets, frames - offsets)  # distance on the time circle
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    blurred = np.real(np.fft.ifft(np.fft.fft(noise, axis=0) * np.fft.fft(kernel)[:, None], axis=0))
    expected = blurred * np.sqrt(dim) / np.linalg.norm(blurred, axis=1, keepdims=True)
    walk = gaussian_latent_walk(frames, dim, sigma_frames=sigma, seed=seed).double().numpy()
    np.testing.assert_allclose(walk, expected, atol=2e-3)


def test_gaussian_latent_walk_deterministic_in_seed() -> None:
    torch.testing.assert_close(gaussian_latent_walk(20, 8, seed=4), gaussian_latent_walk(20, 8, seed=4))
    assert not torch.allclose(gaussian_latent_walk(20, 8, seed=4), gaussian_latent_walk(20, 8, seed=5))


@pytest.mark.parametrize(
    "kwargs", [{"num_frames": 0, "dim": 4}, {"num_frames": 4, "dim": 0}, {"num_frames": 4, "dim": 4, "sigma_frames": -1.0}]
)
def test_gaussian_latent_walk_rejects_bad_input(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="must be"):
        gaussian_latent_walk(**kwargs)


@pytest.mark.parametrize("threshold", [0.5, 1.0, 2.0])
def test_truncated_normal_matches_truncated_distribution(threshold: float) -> None:
    z = truncated_normal((100, 200), threshold=threshold, generator=torch.Generator().manual_seed(0))
    assert z.shape == (100, 200)
    assert float(z.abs().max()) <= threshold
    reference = stats.truncnorm(-threshold, threshold)
    # Clipping would put P(|z| > threshold) of all mass exactly on ±threshold; resampling leaves none there.
    near_edge = float((z.abs() > 0.99 * threshold).double().mean())
    expected_near_edge = 2 * (reference.cdf(threshold) - reference.cdf(0.99 * threshold))
    assert near_edge == pytest.approx(expected_near_edge, abs=0.005)
    assert float(z.std()) == pytest.approx(reference.std(), rel=0.02)
    assert stats.kstest(z.flatten().numpy(), reference.cdf).pvalue > 1e-3


def test_truncated_normal_deterministic_with_generator() -> None:
    first = truncated_normal(50, threshold=0.3, generator=torch.Generator().manual_seed(7))
    second = truncated_normal(50, threshold=0.3, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(first, second)


@pytest.mark.parametrize("threshold", [0.0, -1.0, float("nan")])
def test_truncated_normal_rejects_nonpositive_threshold(threshold: float) -> None:
    with pytest.raises(ValueError, match="threshold"):
        truncated_normal((3,), threshold=threshold)


@pytest.mark.parametrize("truncation", [None, 0.7])
def test_sample_latents_seeded(truncation: float | None) -> None:
    z = sample_latents(4, 9, seed=3, truncation=truncation)
    assert z.shape == (4, 9)
    torch.testing.assert_close(z, sample_latents(4, 9, seed=3, truncation=truncation))
    if truncation is not None:
        assert float(z.abs().max()) <= truncation


# ---------------------------------------------------------------- images


def test_to_uint8_round_trip_and_clamp() -> None:
    pixels = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    assert torch.equal(to_uint8(pixels.float() / 127.5 - 1.0), pixels)
    assert to_uint8(pixels) is pixels
    assert to_uint8(torch.tensor([-3.0, -1.0, 0.0, 1.0, 3.0])).tolist() == [0, 0, 128, 255, 255]
    with pytest.raises(ValueError, match="dtype"):
        to_uint8(torch.zeros(3, dtype=torch.int64))


@pytest.mark.parametrize(("n", "nrow", "padding"), [(5, 2, 2), (8, 8, 0), (3, 4, 1)])
def test_image_grid_layout(n: int, nrow: int, padding: int) -> None:
    images = torch.rand(n, 3, 6, 5) * 2 - 1
    grid = image_grid(images, nrow=nrow, padding=padding)
    cols = min(n, nrow)
    rows = math.ceil(n / cols)
    assert grid.dtype == torch.uint8
    assert grid.shape == (3, rows * (6 + padding) + padding, cols * (5 + padding) + padding)
    expected = to_uint8(images)
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = padding + r * (6 + padding), padding + c * (5 + padding)
        assert torch.equal(grid[:, y : y + 6, x : x + 5], expected[i])


def test_image_grid_accepts_list_single_image_and_grayscale() -> None:
    images = [torch.rand(3, 4, 4) * 2 - 1 for _ in range(3)]
    assert torch.equal(image_grid(images, nrow=3), image_grid(torch.stack(images), nrow=3))
    assert torch.equal(image_grid(images[0]), to_uint8(images[0]))  # torchvision leaves one image unpadded
    assert image_grid(torch.zeros(2, 1, 4, 4, dtype=torch.uint8)).shape[0] == 3


@pytest.mark.parametrize("bad", [[], torch.zeros(2, 4, 4, 4), torch.zeros(4, 4), "images"])
def test_image_grid_rejects_bad_input(bad: object) -> None:
    with pytest.raises(ValueError, match="images"):
        image_grid(bad)  # type: ignore[arg-type]


def test_save_grid_and_grid_png_decode_to_the_grid(tmp_path) -> None:
    images = torch.randint(0, 256, (6, 3, 5, 5), dtype=torch.uint8)
    expected = image_grid(images, nrow=3).permute(1, 2, 0).numpy()
    path = save_grid(images, tmp_path / "nested" / "dir" / "grid.png", nrow=3)
    assert path.is_file()
    np.testing.assert_array_equal(np.asarray(Image.open(path).convert("RGB")), expected)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(grid_png(images, nrow=3)))), expected)
    with pytest.raises(ValueError, match="png"):
        save_grid(images, tmp_path / "grid.jpg")


def test_show_grid_returns_renderable_figure() -> None:
    images = torch.rand(4, 3, 8, 8) * 2 - 1
    fig = show_grid(images, nrow=2, title="samples")
    assert isinstance(fig, Figure)
    assert fig.axes[0].get_title() == "samples"
    fig.savefig(io.BytesIO(), format="png")  # headless rendering works
    host = Figure()
    ax = host.add_subplot()
    assert show_grid(images, ax=ax) is host


def test_figures_stay_out_of_pyplot_state() -> None:
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    show_grid(torch.rand(2, 3, 4, 4))
    show_strip(torch.rand(2, 3, 4, 4))
    plot_metric_curves(_records(), metrics="loss")
    assert plt.get_fignums() == before  # so nothing is displayed twice or leaks across notebook cells


def test_show_strip_with_labels() -> None:
    images = torch.rand(3, 3, 8, 8) * 2 - 1
    fig = show_strip(images, labels=["a", "b", "c"], title="strip")
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c"]
    assert len(show_strip(images).axes) == 3
    fig.savefig(io.BytesIO(), format="png")
    with pytest.raises(ValueError, match="labels"):
        show_strip(images, labels=["only one"])


# ---------------------------------------------------------------- logs and plots


def test_read_log_drops_truncated_last_line(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text(json.dumps({"kimg": 1, "loss": 0.5}) + "\n\n" + json.dumps({"kimg": 2}) + '\n{"kimg": 3, "lo')
    assert read_log(path) == [{"kimg": 1, "loss": 0.5}, {"kimg": 2}]


def test_read_log_rejects_corrupt_middle_and_missing_file(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"kimg": 1}\n{"kimg": \n{"kimg": 3}\n')
    with pytest.raises(ValueError, match="line 2"):
        read_log(path)
    with pytest.raises(FileNotFoundError, match="missing.jsonl"):
        read_log(tmp_path / "missing.jsonl")


def _records() -> list[dict]:
    records = []
    for run in ("a", "b"):
        for kimg in range(5):
            record = {"run": run, "kimg": kimg, "loss": 1.0 / (kimg + 1), "alpha": min(1.0, kimg / 3)}
            if kimg % 2 == 0:  # metrics logged at a slower cadence than losses
                record.update({"swd16": 10.0 - kimg, "swd32": 8.0 - kimg})
            records.append(record)
    return records


@pytest.mark.parametrize(
    ("metrics", "hue", "vlines", "expected_lines"),
    [
        ("loss", None, None, 1),
        ("loss", "run", [1.0, 3.0], 4),
        (["swd16", "swd32"], None, [2.0], 3),
        (["swd16", "swd32"], "run", None, 4),
    ],
)
def test_plot_metric_curves_line_count(metrics, hue, vlines, expected_lines: int) -> None:
    fig = plot_metric_curves(_records(), metrics=metrics, hue=hue, vlines=vlines, title="t", var_name="level")
    assert isinstance(fig, Figure)
    # seaborn also parks empty proxy lines on the axes for its legend; count only lines that draw data.
    drawn = [line for line in fig.axes[0].lines if len(line.get_xdata()) > 0]
    assert len(drawn) == expected_lines
    fig.savefig(io.BytesIO(), format="png")


def test_plot_metric_curves_plots_the_logged_values() -> None:
    import pandas as pd

    frame = pd.DataFrame([r for r in _records() if r["run"] == "a"])
    fig = plot_metric_curves(frame, metrics=["swd16"], logy=True)
    line = fig.axes[0].lines[0]
    np.testing.assert_allclose(line.get_xdata(), [0, 2, 4])
    np.testing.assert_allclose(line.get_ydata(), [10.0, 8.0, 6.0])
    assert fig.axes[0].get_yscale() == "log"


def test_plot_metric_curves_names_missing_columns() -> None:
    with pytest.raises(ValueError, match=r"fid.*available columns"):
        plot_metric_curves(_records(), metrics=["fid"])


def test_plot_table_plain_and_styled() -> None:
    rows = [{"claim": "SWD", "paper": 7.48, "ours": 9.1234}, {"claim": "MS-SSIM", "paper": 0.2838, "ours": None}]
    frame = plot_table(rows, title="Claims")
    assert list(frame.columns) == ["claim", "paper", "ours"] and len(frame) == 2
    assert frame.attrs["title"] == "Claims"
    html = plot_table(rows, title="Claims", styled=True).to_html()
    assert "Claims" in html and "9.123" in html
    with pytest.raises(ValueError, match="positions \\[1\\]"):
        plot_table([{"a": 1}, 3])  # type: ignore[list-item]


def test_plot_table_shows_whole_numbers_without_decimals() -> None:
    # A column with a missing value turns into floats; its whole numbers must not read 160.000 beside 160.
    rows = [{"phase": "stab4", "end_nimg": 6000, "lr": 0.0015}, {"phase": "stab32", "end_nimg": None, "lr": 0.5}]
    html = plot_table(rows, styled=True).to_html()
    assert ">6000<" in html and "6000.000" not in html and ">0.002<" in html and ">0.500<" in html and "–" in html


@pytest.mark.parametrize("n", [1, 2])
def test_plot_metric_curves_draws_a_single_record(n: int) -> None:
    records = [{"kimg": float(k), "swd16": 5.0 + k, "swd32": 7.0 + k} for k in range(n)]
    fig = plot_metric_curves(records, metrics=["swd16", "swd32"], var_name="level")
    lines = [ln for ln in fig.axes[0].lines if len(ln.get_xdata())]
    assert len(lines) == 2
    # One record per series: a line through one point is invisible, so each series carries a marker.
    assert all((ln.get_marker() not in (None, "None", "")) == (n == 1) for ln in lines)


@pytest.mark.parametrize("n, rows, cols", [(3, 1, 3), (10, 1, 10), (12, 2, 10)])
def test_show_strip_fits_the_notebook_width(n: int, rows: int, cols: int) -> None:
    from gancore.viz import STRIP_MAX_WIDTH_IN

    fig = show_strip(torch.rand(n, 3, 8, 8), labels=[f"t={i}" for i in range(n)], title="strip")
    width, _ = fig.get_size_inches()
    assert width <= STRIP_MAX_WIDTH_IN + 1e-6
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == n and len(fig.axes) == rows * cols
    # 9-point captions at the figure's own size: nothing is shrunk when the figure fits the cell.
    assert {ax.title.get_fontsize() for ax in shown} == {9.0}


def test_captioned_grid_png_draws_captions_and_title() -> None:
    from gancore.viz import captioned_grid_png

    images = torch.zeros(4, 3, 8, 8, dtype=torch.uint8) + 255  # white tiles: only text can be dark
    plain = np.asarray(Image.open(io.BytesIO(captioned_grid_png(images, nrow=4, cell_px=40))))
    shown = np.asarray(Image.open(io.BytesIO(captioned_grid_png(images, nrow=4, labels=["a", "b", "c", "d"],
                                                                  title="title", cell_px=40))))
    assert plain.shape == (2 + 40 + 2, 4 * 42 + 2, 3) and plain.min() == 255
    assert shown.shape[0] == plain.shape[0] + 36 and shown[:36].min() < 128
    with pytest.raises(ValueError, match="column labels"):
        captioned_grid_png(images, nrow=4, labels=["a"])


def test_caption_font_draws_the_glyphs_the_captions_use():
    # Pillow's built-in font draws "§", "→" and "θ" as the same empty box: "(BigGAN ⊠3.1)" in a browser.
    from gancore.viz.images import _caption_font

    font = _caption_font(13)
    masks = {ch: bytes(font.getmask(ch)) for ch in "§→θx"}
    assert len(set(masks.values())) == len(masks)
    missing = bytes(font.getmask("\U000F0000"))  # a private-use code point: the font's "missing glyph" box
    assert all(m != missing for m in masks.values())


def test_summary_table_names_units_and_nested_entries():
    from gancore import viz

    table = viz.summary_table({"fid": 167.07981, "kimg": 12.0, "params": {"G": 1000, "D": 2000},
                               "final": {"swd16": 3.5, "is_mean": 1.32}, "custom": "x"}, title="this run")
    frame = table.data
    assert list(frame.columns) == ["quantity", "value", "unit"]
    assert frame["quantity"].tolist() == ["FID", "real images shown to D", "G parameters", "D parameters",
                                          "final: SWD ×10³ at 16²", "final: Inception score", "custom"]
    html = table.to_html()
    assert "167.0798" in html and "lower is better" in html and "this run" in html and ">12<" in html


def test_claims_tables_show_the_verdict_once():
    from gancore import viz

    rows = [{"claim": "c", "paper": "p", "this run": "r", "verdict": "within noise", "holds": None}]
    html = viz.plot_table(rows, styled=True).to_html()
    assert "within noise" in html and ">holds<" not in html
    assert "holds" in viz.plot_table(rows).columns  # summary.json keeps it
