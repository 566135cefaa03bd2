"""Tests for gancore.metrics.spectral (BigGAN §4.1/§4.2 spectral monitoring) and viz.plot_singular_values."""
from __future__ import annotations

import math
import warnings

import matplotlib

matplotlib.use("Agg")

import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

from gancore.metrics.spectral import (
    CollapseWarning,
    SpectralMonitor,
    clean_param_name,
    first_layer_name,
    parse_sv_key,
    spectral_record,
    sv_key,
    top_singular_values,
)
from gancore.models.biggan import Discriminator, Generator
from gancore.nn import SNConv2d, SNLinear
from gancore.viz import plot_singular_values

METHODS = ["svd", "power"]


def _with_spectrum(rows: int, cols: int, s: list[float], seed: int = 0) -> torch.Tensor:
    """rows×cols matrix U diag(s) Vᵀ with orthogonal U, V from the QR of seeded Gaussians."""
    g = torch.Generator().manual_seed(seed)
    u = torch.linalg.qr(torch.randn(rows, rows, generator=g, dtype=torch.float64)).Q
    v = torch.linalg.qr(torch.randn(cols, cols, generator=g, dtype=torch.float64)).Q
    r = len(s)
    return (u[:, :r] * torch.tensor(s, dtype=torch.float64)) @ v[:, :r].T


def _set_weight(layer: nn.Module, matrix: torch.Tensor) -> None:
    """Write the (un-normalised) weight of a plain or spectrally normalised layer from its matrix form."""
    target = layer.parametrizations.weight.original if hasattr(layer, "parametrizations") else layer.weight
    with torch.no_grad():
        target.copy_(matrix.reshape(target.shape).to(target.dtype))


def _tiny_nets() -> tuple[nn.Module, nn.Module]:
    G = Generator(resolution=32, ch=4, dim_z=8, shared_dim=6, num_classes=3, attention_res=())
    D = Discriminator(resolution=32, ch=4, num_classes=3, attention_res=())
    return G, D


# ---------------------------------------------------------------- singular values


# (layer factory, matrix rows, matrix cols): conv weights are out × (in·kh·kw), embeddings are tall.
LAYERS = {
    "linear": (lambda: nn.Linear(9, 5), 5, 9),
    "conv": (lambda: nn.Conv2d(4, 6, 3), 6, 36),
    "embedding": (lambda: nn.Embedding(11, 4), 11, 4),
    "sn_linear": (lambda: SNLinear(in_features=8, out_features=6), 6, 8),
    "sn_conv": (lambda: SNConv2d(in_channels=3, out_channels=5, kernel_size=3), 5, 27),
    "big_linear": (lambda: nn.Linear(90, 40), 40, 90),  # wider than power's 3+7 subspace: it must iterate
}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kind", list(LAYERS))
def test_top_singular_values_match_known_spectrum(kind: str, method: str) -> None:
    make, rows, cols = LAYERS[kind]
    layer = make()
    # Geometric spectrum with σ0 = 7 (far from SN's 1), distinct values so the order is checked as well.
    s = [7.0 * 0.8 ** i for i in range(min(rows, cols))]
    _set_weight(layer, _with_spectrum(rows, cols, s))

    values = top_singular_values(layer, k=3, method=method)

    assert list(values) == ["weight"]  # SN's parametrizations.weight.original reported under its clean name
    got = values["weight"]
    assert got.dtype == torch.float32 and got.shape == (3,) and not got.requires_grad
    torch.testing.assert_close(got, torch.tensor(s[:3], dtype=torch.float32), rtol=1e-4, atol=1e-5)


def test_sn_layer_reports_unnormalised_weight() -> None:
    layer = SNLinear(in_features=8, out_features=6)
    _set_weight(layer, _with_spectrum(6, 8, [5.0, 4.0, 3.0, 2.0, 1.0, 0.5]))
    for _ in range(20):  # let SN's power iteration converge so the normalised weight is really σ0 ≈ 1
        layer(torch.randn(2, 8))
    normalised = torch.linalg.svdvals(layer.weight.detach())[0]
    assert normalised == pytest.approx(1.0, abs=1e-3)
    assert top_singular_values(layer)["weight"][0] == pytest.approx(5.0, rel=1e-5)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_k_is_capped_by_rank_bound(k: int) -> None:
    layer = nn.Linear(2, 4)  # 4×2: at most 2 singular values
    assert top_singular_values(layer, k=k)["weight"].shape == (min(k, 2),)


def test_nonfinite_weight_gives_nan() -> None:
    layer = nn.Linear(5, 5)
    with torch.no_grad():
        layer.weight[0, 0] = math.nan
    assert torch.isnan(top_singular_values(layer)["weight"]).all()


def test_clean_param_name() -> None:
    assert clean_param_name("blocks.0.conv1.parametrizations.weight.original") == "blocks.0.conv1.weight"
    assert clean_param_name("shared.weight") == "shared.weight"


@pytest.mark.parametrize("method", METHODS)
def test_every_weight_of_tiny_biggan_is_covered(method: str) -> None:
    G, D = _tiny_nets()
    for net in (G, D):
        # Independent count and reference values straight from named_parameters.
        expected = {name.replace(".parametrizations.weight.original", ".weight"): p.detach().reshape(p.shape[0], -1)
                    for name, p in net.named_parameters() if p.dim() >= 2}
        assert len(expected) > 10
        values = top_singular_values(net, method=method)
        assert set(values) == set(expected)
        assert not any("parametrizations" in name for name in values)
        for name, matrix in expected.items():
            reference = torch.linalg.svdvals(matrix.double())[:3].float()
            torch.testing.assert_close(values[name], reference, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("max_elements", [1, 1 << 26])
def test_batching_same_shapes_does_not_change_values(max_elements: int, monkeypatch) -> None:
    import gancore.metrics.spectral as spectral

    G, _ = _tiny_nets()
    reference = {name: torch.linalg.svdvals(m)[:3] for name, m in spectral.weight_matrices(G).items()}
    monkeypatch.setattr(spectral, "_MAX_BATCH_ELEMENTS", max_elements)  # 1: one matrix per call
    values = top_singular_values(G)
    assert list(values) == list(reference)  # registration order kept
    for name in reference:
        torch.testing.assert_close(values[name], reference[name], rtol=1e-4, atol=1e-6)


def test_first_layer_skips_the_shared_embedding() -> None:
    G, D = _tiny_nets()
    assert first_layer_name(G) == "linear.weight"  # §4.1's overcomplete, non-convolutional first layer
    assert first_layer_name(D) == "blocks.0.conv1.weight"


def test_spectral_record_keys_and_summaries() -> None:
    G, D = _tiny_nets()
    record = spectral_record(G, D)
    assert all(isinstance(v, float) and math.isfinite(v) for v in record.values())
    for net_name, net in (("G", G), ("D", D)):
        values = top_singular_values(net)
        per_layer = {key for key in record if (p := parse_sv_key(key)) and p[0] == net_name}
        assert per_layer == {sv_key(net_name, layer, i) for layer, v in values.items() for i in range(v.numel())}
        assert record[f"sv/{net_name}/max0"] == pytest.approx(max(float(v[0]) for v in values.values()))
        assert record[f"sv/{net_name}/first0"] == pytest.approx(float(values[first_layer_name(net)][0]))
    assert parse_sv_key("sv/G/blocks.0.conv1.weight/2") == ("G", "blocks.0.conv1.weight", 2)
    assert parse_sv_key("sv/G/max0") is None and parse_sv_key("d_loss") is None


# ---------------------------------------------------------------- monitor


class _Net(nn.Module):
    """Three linear layers whose weights the tests scale to fake σ0 growth or explosion."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.first = nn.Linear(6, 8)
        self.middle = nn.Linear(8, 8)
        self.last = nn.Linear(8, 4)
        for i, layer in enumerate((self.first, self.middle, self.last)):
            rows, cols = layer.weight.shape
            _set_weight(layer, _with_spectrum(rows, cols, [2.0, 1.5, 1.0, 0.5], seed=seed + i))
        self.base = {name: p.detach().clone() for name, p in self.named_parameters()}

    def scale(self, factors: dict[str, float]) -> None:
        """Set each named layer's weight to its initial weight × factor (others × 1)."""
        with torch.no_grad():
            for layer in ("first", "middle", "last"):
                getattr(self, layer).weight.copy_(self.base[f"{layer}.weight"] * factors.get(layer, 1.0))


def _run(monitor: SpectralMonitor, G: _Net, D: _Net, schedule: list[dict]) -> tuple[list[dict], list[str]]:
    """Feed ``schedule`` (per call: step, G/D scale factors, d_loss) to the monitor; records and warning texts."""
    records, messages = [], []
    for item in schedule:
        G.scale(item.get("G", {}))
        D.scale(item.get("D", {}))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            records.append(monitor.update(item["step"], G, D, d_loss=item.get("d_loss")))
        messages += [str(w.message) for w in caught if issubclass(w.category, CollapseWarning)]
    return records, messages


def _steady(n: int, *, every: int = 10, start: int = 0, growth: float = 1.02, d_loss: float = 1.0) -> list[dict]:
    """σ0 of every layer slowly growing by ``growth`` per record, D loss steady (with a little noise)."""
    return [{"step": start + i * every, "G": {k: growth ** i for k in ("first", "middle", "last")},
             "D": {k: growth ** i for k in ("first", "middle", "last")}, "d_loss": d_loss * (1 + 0.05 * (-1) ** i)}
            for i in range(n)]


def _monitor(**overrides) -> SpectralMonitor:
    return SpectralMonitor(**{"every_steps": 10, "window": 5, "min_history": 3, **overrides})


@pytest.mark.parametrize("options", [{}, {"d_loss_drop_factor": 4.0, "watch": "first"}, {"method": "power"}])
def test_no_warning_on_steady_slow_growth(options: dict) -> None:
    records, messages = _run(_monitor(**options), _Net(0), _Net(10), _steady(20))
    assert messages == []
    assert all(records)  # every call was due (steps are multiples of every_steps)
    assert all(isinstance(v, float) and math.isfinite(v) for r in records for v in r.values())


@pytest.mark.parametrize("net,layer,watch,expect", [
    ("G", "first", "all", True),
    ("G", "first", "first", True),
    ("G", "last", "all", True),
    ("G", "last", "first", False),  # only first layers watched
    ("D", "middle", "all", True),
])
def test_warns_once_on_sigma0_explosion(net: str, layer: str, watch: str, expect: bool) -> None:
    G, D = _Net(0), _Net(10)
    monitor = _monitor(watch=watch)
    _, messages = _run(monitor, G, D, _steady(4))
    assert messages == []
    exploded = {"step": 40, net: {layer: 10.0}, "d_loss": 1.0}
    if expect:
        G.scale(exploded.get("G", {}))
        D.scale(exploded.get("D", {}))
        with pytest.warns(CollapseWarning, match=rf"{net} layer '{layer}.weight'.*step 40"):
            monitor.update(40, G, D, d_loss=1.0)
        assert monitor.events[-1]["kind"] == "sigma0_explosion" and monitor.events[-1]["value"] > 19
    else:
        _, messages = _run(monitor, G, D, [exploded])
        assert messages == []
    # The symptom persists: no second warning for the same occurrence.
    _, messages = _run(monitor, G, D, [{**exploded, "step": 50}, {**exploded, "step": 60}])
    assert messages == []


def test_first_layer_warning_names_section() -> None:
    G, D = _Net(0), _Net(10)
    monitor = _monitor()
    _run(monitor, G, D, _steady(3))
    G.scale({"first": 10.0})
    with pytest.warns(CollapseWarning, match="first layer of G.*§4.1"):
        monitor.update(30, G, D)


def _losses(values: list[float], *, every: int = 10) -> list[dict]:
    return [{"step": i * every, "d_loss": v} for i, v in enumerate(values)]


@pytest.mark.parametrize("losses,kind,options", [
    ([1.0, 1.1, 0.9, 1.0, 0.01], "d_loss_floor", {}),  # falls to ~0 (§4.2: D memorises)
    ([1.0, 1.1, 0.9, 1.0, 0.2], "d_loss_drop", {"d_loss_drop_factor": 4.0}),  # sharp drop above the floor (opt-in)
    ([0.3, 0.25, 0.3, 0.28, 1.5], "d_loss_jump", {}),  # sharp upward jump at collapse (§4.2)
])
def test_warns_on_d_loss_collapse(losses: list[float], kind: str, options: dict) -> None:
    monitor = _monitor(**options)
    _, messages = _run(monitor, _Net(0), _Net(10), _losses(losses[:-1]))
    assert messages == []
    G, D = _Net(0), _Net(10)
    with pytest.warns(CollapseWarning, match="D loss"):
        monitor.update(len(losses) * 10, G, D, d_loss=losses[-1])
    assert kind in {event["kind"] for event in monitor.events}
    # Stays collapsed: no repeated warning.
    _, messages = _run(monitor, G, D, [{"step": 100, "d_loss": losses[-1]}])
    assert messages == []


@pytest.mark.parametrize("drop_factor,expect", [(None, False), (4.0, True)])
def test_initial_loss_transient(drop_factor: float | None, expect: bool) -> None:
    # D's hinge loss measured on a tiny BigGAN in its first 150 steps: a fast fall from a large initial value,
    # which is why the drop test is opt-in (the floor and the jump tests stay quiet on it).
    losses = [68.3, 10.6, 3.16, 2.25, 1.60, 1.42, 1.17]
    _, messages = _run(_monitor(d_loss_drop_factor=drop_factor), _Net(0), _Net(10), _losses(losses))
    assert bool(messages) == expect


def test_d_loss_is_averaged_between_records_and_not_due_steps_return_empty() -> None:
    monitor = _monitor(every_steps=4)
    G, D = _Net(0), _Net(10)
    out = [monitor.update(step, G, D, d_loss=torch.tensor(float(step + 1))) for step in range(9)]
    assert [bool(r) for r in out] == [True, False, False, False, True, False, False, False, True]
    assert out[0]["monitor/d_loss"] == 1.0
    assert out[4]["monitor/d_loss"] == pytest.approx((2 + 3 + 4 + 5) / 4)
    assert out[8]["monitor/d_loss"] == pytest.approx((6 + 7 + 8 + 9) / 4)
    assert monitor.update(8, G, D) == {}  # the same step again (e.g. right after a resume) does not re-record


def test_nonfinite_weight_warns_and_is_left_out() -> None:
    G, D = _Net(0), _Net(10)
    monitor = _monitor()
    with torch.no_grad():
        G.middle.weight[0, 0] = math.inf
    with pytest.warns(CollapseWarning, match="non-finite weights in G layer 'middle.weight'"):
        record = monitor.update(0, G, D)
    assert not any(key.startswith("sv/G/middle.weight/") for key in record)
    assert all(math.isfinite(v) for v in record.values())


def test_warmup_suppresses_warnings() -> None:
    G, D = _Net(0), _Net(10)
    monitor = _monitor(warmup_steps=100)
    schedule = _steady(3) + [{"step": 30, "G": {"first": 10.0}, "d_loss": 0.0}]
    _, messages = _run(monitor, G, D, schedule)
    assert messages == []


@pytest.mark.parametrize("split", [2, 4, 5])
def test_state_dict_round_trip_reproduces_behaviour(split: int, tmp_path) -> None:
    # Explosion at record 4, persisting afterwards, D-loss collapse at record 6, and a mid-interval d_loss (step 55)
    # so that resuming also has to restore the running loss sum.
    schedule = _steady(4) + [
        {"step": 40, "G": {"first": 10.0}, "d_loss": 1.0},
        {"step": 50, "G": {"first": 10.0}, "d_loss": 1.0},
        {"step": 55, "G": {"first": 10.0}, "d_loss": 3.0},
        {"step": 60, "G": {"first": 10.0}, "d_loss": 0.01},
        {"step": 70, "G": {"first": 10.5}, "d_loss": 0.01},
    ]
    uninterrupted = _monitor()
    full_records, full_messages = _run(uninterrupted, _Net(0), _Net(10), schedule)
    assert len(full_messages) >= 2

    first = _monitor()
    head_records, head_messages = _run(first, _Net(0), _Net(10), schedule[:split + 2])
    path = tmp_path / "monitor.pt"
    torch.save({"monitor": first.state_dict()}, path)
    resumed = _monitor()
    resumed.load_state_dict(torch.load(path, weights_only=True)["monitor"])
    tail_records, tail_messages = _run(resumed, _Net(0), _Net(10), schedule[split + 2:])

    assert head_records + tail_records == full_records
    assert head_messages + tail_messages == full_messages
    assert resumed.events == uninterrupted.events


def test_constructor_validates() -> None:
    with pytest.raises(ValueError, match="every_steps"):
        SpectralMonitor(every_steps=0)
    with pytest.raises(ValueError, match="explode_factor"):
        SpectralMonitor(explode_factor=0.5)
    with pytest.raises(ValueError, match="method"):
        SpectralMonitor(method="lanczos")
    with pytest.raises(TypeError):
        SpectralMonitor(100)  # keyword-only


# ---------------------------------------------------------------- plot


def _synthetic_log() -> list[dict]:
    log = []
    for i in range(6):
        step = 100 * i
        log.append({"step": step, "kimg": step * 0.256, "loss_D": 1.0})  # a loss-only record is ignored
        record = {"step": step, "kimg": step * 0.256}
        for layer, base in (("shared.weight", 3.0), ("linear.weight", 1.0), ("blocks.0.conv1.weight", 2.0),
                            ("to_rgb.weight", 0.5)):
            grow = 10.0 if layer == "linear.weight" and i == 5 else 1.0 + 0.1 * i
            for j in range(3):
                record[sv_key("G", layer, j)] = base * grow * 0.8 ** j
        record["sv/G/first0"] = record[sv_key("G", "linear.weight", 0)]
        record["sv/G/max0"] = max(v for k, v in record.items() if k.endswith("/0"))
        record[sv_key("D", "blocks.0.conv1.weight", 0)] = 1.0 + i
        log.append(record)
    return log


@pytest.mark.parametrize("net,layers,n_lines", [
    ("G", None, 6),  # first (linear.weight, found via first0) = largest at the end, and last (to_rgb.weight)
    ("G", ["blocks.0.conv1.weight"], 3),
    ("D", None, 1),
])
def test_plot_singular_values_returns_figure(net: str, layers, n_lines: int) -> None:
    fig = plot_singular_values(_synthetic_log(), net=net, layers=layers)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert len(ax.lines) == n_lines
    assert ax.get_xlabel() == "kimg"


def test_plot_default_layers_and_errors() -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    try:
        assert plot_singular_values(_synthetic_log(), net="G", ax=ax) is fig
        labels = [line.get_label() for line in ax.lines if not line.get_label().startswith("_")]
        assert labels == ["linear.weight", "to_rgb.weight"]  # linear is both first and largest at the end
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="net"):
        plot_singular_values(_synthetic_log(), net="E")
    with pytest.raises(ValueError, match="no sv"):
        plot_singular_values(_synthetic_log(), net="G", layers=["nope.weight"])
    with pytest.raises(ValueError, match="sv/"):
        plot_singular_values([{"step": 0, "loss_D": 1.0}])
