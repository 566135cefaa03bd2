"""Tests for gancore.sampling (BigGAN §3.1 truncation, App. C.1 standing statistics, §5.1/App. H class accuracy) and
its plots in gancore.viz."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from torch import nn  # noqa: E402

from gancore.data.shapes import SHAPE_CLASSES, render_shapes  # noqa: E402
from gancore.metrics import fidelity  # noqa: E402
from gancore.models.biggan import Generator, GeneratorDeep  # noqa: E402
from gancore.nn import ConditionalBatchNorm2d  # noqa: E402
from gancore.sampling import (  # noqa: E402
    batchnorm_layers,
    class_accuracy,
    conditional_inputs,
    sample_conditional,
    standing_stats,
    summarize_class_predictions,
    truncation_sweep,
)
from gancore.viz import plot_class_accuracy, plot_truncation_curve  # noqa: E402

TINY = dict(resolution=32, ch=4, dim_z=8, shared_dim=6, attention_res=())


def _tiny_g(num_classes: int = 3, deep: bool = False) -> nn.Module:
    torch.manual_seed(0)
    if deep:
        return GeneratorDeep(num_classes=num_classes, **TINY)
    return Generator(num_classes=num_classes, **TINY)


def _sn_buffers(G: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in G.named_buffers() if k.endswith("._u") or k.endswith("._v")}


def _flags(G: nn.Module) -> list[bool]:
    return [m.training for m in G.modules()]


def _assert_same_images(a: torch.Tensor, b: torch.Tensor) -> None:
    """Equal up to float round-off: CPU convolutions pick kernels by batch size (measured ~3e-6 apart in [-1, 1]),
    which can flip the uint8 rounding of a rare pixel by one level."""
    diff = (a.int() - b.int()).abs()
    assert int(diff.max()) <= 1 and float((diff > 0).float().mean()) < 1e-3


# ---------------------------------------------------------------------------------------------------------------------
# Latents and sampling (§3.1)
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("truncation", [None, 0.3, 1.0])
@pytest.mark.parametrize("num_classes", [3, 8])
def test_conditional_inputs_are_balanced_seeded_and_truncated(truncation, num_classes):
    G = _tiny_g(num_classes)
    z, y = conditional_inputs(G, n=50, seed=4, truncation=truncation)
    assert z.shape == (50, G.dim_z) and z.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.equal(y, torch.arange(50) % num_classes)
    z2, _ = conditional_inputs(G, n=50, seed=4, truncation=truncation)
    assert torch.equal(z, z2)
    assert not torch.equal(z, conditional_inputs(G, n=50, seed=5, truncation=truncation)[0])
    if truncation is not None:
        assert float(z.abs().max()) <= truncation
        # Resampling, not clipping: no mass piles up at the bound.
        assert int((z.abs() == truncation).sum()) == 0
    else:
        assert float(z.abs().max()) > 1.0


@pytest.mark.parametrize("bad", [0.0, -0.5, math.nan, math.inf])
def test_truncation_must_be_positive_and_finite(bad):
    with pytest.raises(ValueError, match="truncation"):
        conditional_inputs(_tiny_g(), n=4, seed=0, truncation=bad)


@pytest.mark.parametrize("deep", [False, True])
@pytest.mark.parametrize("truncation", [None, 0.5])
def test_sample_conditional_shapes_determinism_and_batch_size_independence(deep, truncation):
    G = _tiny_g(3, deep=deep)
    G.train()
    flags = _flags(G)
    images, labels = sample_conditional(G, n=11, seed=1, truncation=truncation, batch_size=4)
    assert images.shape == (11, 3, 32, 32) and images.dtype == torch.uint8 and images.device.type == "cpu"
    assert torch.equal(labels, torch.arange(11) % 3)
    assert _flags(G) == flags  # train flags restored
    assert torch.equal(sample_conditional(G, n=11, seed=1, truncation=truncation, batch_size=4)[0], images)
    for batch_size in (1, 11, 256):
        again, _ = sample_conditional(G, n=11, seed=1, truncation=truncation, batch_size=batch_size)
        _assert_same_images(again, images)
    other, _ = sample_conditional(G, n=11, seed=2, truncation=truncation, batch_size=4)
    assert not torch.equal(other, images)


def test_sample_conditional_with_labels_matches_forward():
    G = _tiny_g(3)
    labels = torch.tensor([2, 2, 0, 1])
    images, y = sample_conditional(G, n=4, seed=3, labels=labels)
    assert torch.equal(y, labels)
    z, _ = conditional_inputs(G, n=4, seed=3)
    G.eval()
    with torch.no_grad():
        expected = ((G(z, labels) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    assert torch.equal(images, expected)


@pytest.mark.parametrize("labels", [torch.tensor([0, 1, 3, 0]), torch.tensor([0, 1]), torch.tensor([0.0, 1, 2, 0])])
def test_sample_conditional_rejects_bad_labels(labels):
    with pytest.raises(ValueError, match="labels"):
        sample_conditional(_tiny_g(3), n=4, seed=0, labels=labels)


# ---------------------------------------------------------------------------------------------------------------------
# Standing statistics (App. C.1)
# ---------------------------------------------------------------------------------------------------------------------
def _record_bn_inputs(G: nn.Module) -> tuple[dict[nn.Module, list], list]:
    """Per BN: the (mean, unbiased var) of every input batch, computed here rather than by BatchNorm."""
    records: dict[nn.Module, list] = {bn: [] for bn in batchnorm_layers(G)}

    def hook(module, args):
        x = args[0].double()
        records[module].append((x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), unbiased=True)))

    handles = [bn.register_forward_pre_hook(hook) for bn in records]
    return records, handles


def test_batchnorm_layers_include_the_affine_free_cbn_ones():
    G = _tiny_g(3)
    layers = batchnorm_layers(G)
    cbn = [m.bn for m in G.modules() if isinstance(m, ConditionalBatchNorm2d)]
    assert cbn and all(any(bn is layer for layer in layers) for bn in cbn)
    assert any(layer is G.out_bn for layer in layers)
    assert len(layers) == len(cbn) + 1


@pytest.mark.parametrize("deep", [False, True])
@pytest.mark.parametrize("start_training", [True, False])
@pytest.mark.parametrize("truncation", [None, 0.7])
def test_standing_stats_equal_the_average_of_batch_statistics(deep, start_training, truncation):
    G = _tiny_g(3, deep=deep)
    G.train(start_training)
    flags = _flags(G)
    momenta = [bn.momentum for bn in batchnorm_layers(G)]
    records, handles = _record_bn_inputs(G)
    standing_stats(G, num_batches=3, batch_size=5, seed=7, truncation=truncation)
    for handle in handles:
        handle.remove()
    for bn, stats in records.items():
        assert len(stats) == 3  # exactly one forward pass per batch
        mean = torch.stack([m for m, _ in stats]).mean(dim=0)
        var = torch.stack([v for _, v in stats]).mean(dim=0)
        torch.testing.assert_close(bn.running_mean.double(), mean, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(bn.running_var.double(), var, rtol=1e-4, atol=1e-5)
        assert int(bn.num_batches_tracked) == 3
    assert [bn.momentum for bn in batchnorm_layers(G)] == momenta
    assert _flags(G) == flags


def test_standing_stats_change_eval_samples_and_make_them_batch_size_invariant():
    G = _tiny_g(8)
    before, _ = sample_conditional(G, n=16, seed=0)
    standing_stats(G, num_batches=4, batch_size=8, seed=1)
    after, _ = sample_conditional(G, n=16, seed=0, batch_size=16)
    assert not torch.equal(before, after)
    # App. C.1: with standing statistics a single sample looks the same as inside a batch.
    single, _ = sample_conditional(G, n=16, seed=0, batch_size=1)
    _assert_same_images(single, after)
    # Deterministic per seed.
    stats = [bn.running_mean.clone() for bn in batchnorm_layers(G)]
    standing_stats(G, num_batches=4, batch_size=8, seed=1)
    assert all(torch.equal(a, bn.running_mean) for a, bn in zip(stats, batchnorm_layers(G)))


def test_spectral_norm_power_iteration_does_not_advance():
    G = _tiny_g(3)
    G.train()
    sn_before = _sn_buffers(G)
    params_before = {k: v.clone() for k, v in G.named_parameters()}
    assert sn_before
    standing_stats(G, num_batches=2, batch_size=4)
    assert all(torch.equal(v, _sn_buffers(G)[k]) for k, v in sn_before.items())
    assert all(torch.equal(v, dict(G.named_parameters())[k]) for k, v in params_before.items())
    # Why it matters: a plain train-mode forward does advance torch's parametrized spectral norm.
    with torch.no_grad():
        G(torch.randn(4, G.dim_z), torch.arange(4) % 3)
    assert any(not torch.equal(v, _sn_buffers(G)[k]) for k, v in sn_before.items())


@pytest.mark.parametrize("labels", [2, torch.full((4,), 2)])
def test_standing_stats_with_fixed_labels(labels):
    G = _tiny_g(3)
    seen = []
    handle = G.register_forward_pre_hook(lambda module, args: seen.append(args[1].clone()))
    standing_stats(G, num_batches=2, batch_size=4, labels=labels)
    handle.remove()
    assert len(seen) == 2 and all(torch.equal(y, torch.full((4,), 2)) for y in seen)


def test_standing_stats_draws_random_labels_by_default():
    G = _tiny_g(3)
    seen = []
    handle = G.register_forward_pre_hook(lambda module, args: seen.append(args[1].clone()))
    standing_stats(G, num_batches=3, batch_size=16)
    handle.remove()
    labels = torch.cat(seen)
    assert labels.min() >= 0 and labels.max() < 3 and len(labels.unique()) == 3


def test_standing_stats_restores_everything_when_a_forward_pass_fails():
    G = _tiny_g(3)
    G.train()
    flags = _flags(G)
    state = {k: v.clone() for k, v in G.state_dict().items()}
    calls = []

    def fail_on_second(module, args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")

    handle = G.register_forward_pre_hook(fail_on_second)
    with pytest.raises(RuntimeError, match="boom"):
        standing_stats(G, num_batches=3, batch_size=4)
    handle.remove()
    assert all(torch.equal(v, G.state_dict()[k]) for k, v in state.items())
    assert all(bn.momentum == 0.1 for bn in batchnorm_layers(G))
    assert _flags(G) == flags


@pytest.mark.parametrize("kwargs", [dict(num_batches=0), dict(batch_size=0), dict(truncation=0.0),
                                    dict(labels=torch.zeros(3, dtype=torch.long)), dict(labels=5)])
def test_standing_stats_validates_before_touching_g(kwargs):
    G = _tiny_g(3)
    state = {k: v.clone() for k, v in G.state_dict().items()}
    with pytest.raises(ValueError):
        standing_stats(G, **{"batch_size": 4, **kwargs})
    assert all(torch.equal(v, G.state_dict()[k]) for k, v in state.items())


# ---------------------------------------------------------------------------------------------------------------------
# Class accuracy (§5.1 leakage, App. H collapse)
# ---------------------------------------------------------------------------------------------------------------------
def test_class_accuracy_with_a_known_prediction_pattern():
    G = _tiny_g(3)
    # Samples come in round-robin label order 0,1,2,0,1,2,...
    predictions = torch.tensor([0, 1, 0, 0, 2, 0, 1, 1, 2, 0, 1, 0])
    received = []

    def classifier(images):
        received.append(images)
        return predictions

    result = class_accuracy(G, n_per_class=4, seed=0, classifier=classifier)
    assert len(received) == 1
    assert torch.equal(received[0], sample_conditional(G, n=12, seed=0)[0])
    assert result["confusion"] == [[3, 1, 0], [0, 3, 1], [3, 0, 1]]
    assert result["per_class_accuracy"] == [0.75, 0.75, 0.25]
    assert result["accuracy"] == pytest.approx(7 / 12)
    assert result["leakage"] == [0.25, 0.25, 0.75]
    assert result["leaks_to"] == [1, 2, 0]
    assert result["leaking"] == [2] and result["collapsed"] == [] and result["flagged"] == [2]
    assert result["n_per_class"] == 4 and result["truncation"] is None


def test_confusion_matrix_matches_a_loop():
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(5, (200,), generator=gen)
    predictions = torch.randint(5, (200,), generator=gen)
    result = summarize_class_predictions(labels, predictions, num_classes=5)
    expected = [[0] * 5 for _ in range(5)]
    for y, p in zip(labels.tolist(), predictions.tolist()):
        expected[y][p] += 1
    assert result["confusion"] == expected
    for c in range(5):
        assert result["per_class_accuracy"][c] == pytest.approx(expected[c][c] / sum(expected[c]))
    assert result["diversity"] is None


class _CollapsingG(nn.Module):
    """Stub conditional G whose class 1 ignores z (App. H's class-conditional collapse)."""

    dim_z = 4
    num_classes = 3

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        images = torch.tanh(self.scale * z[:, :3, None, None]).expand(-1, 3, 8, 8)
        return torch.where((y == 1)[:, None, None, None], torch.zeros_like(images), images)


def test_collapsed_class_is_flagged():
    result = class_accuracy(_CollapsingG(), n_per_class=6, seed=0, classifier=lambda images: torch.arange(18) % 3)
    assert result["accuracy"] == 1.0 and result["leaking"] == []
    assert result["diversity"][1] == 0.0 and result["diversity"][0] > 0
    assert result["collapsed"] == [1] and result["flagged"] == [1]


def test_default_classifier_needs_the_shapes_class_count():
    with pytest.raises(ValueError, match=f"{len(SHAPE_CLASSES)} classes"):
        class_accuracy(_tiny_g(3), n_per_class=2, seed=0)


def test_default_classifier_on_an_eight_class_g():
    result = class_accuracy(_tiny_g(8), n_per_class=2, seed=0)
    confusion = torch.tensor(result["confusion"])
    assert confusion.shape == (8, 8) and torch.equal(confusion.sum(dim=1), torch.full((8,), 2))
    assert 0.0 <= result["accuracy"] <= 1.0 and len(result["per_class_accuracy"]) == 8


@pytest.mark.parametrize("classifier", [lambda images: torch.zeros(3, dtype=torch.long),
                                        lambda images: torch.full((images.shape[0],), 7)])
def test_bad_classifier_output_is_an_error(classifier):
    with pytest.raises(ValueError):
        class_accuracy(_tiny_g(3), n_per_class=2, seed=0, classifier=classifier)


# ---------------------------------------------------------------------------------------------------------------------
# Truncation sweep (§3.1, Fig. 16)
# ---------------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_32() -> torch.Tensor:
    return render_shapes(64, resolution=32, seed=0)[0]


@pytest.mark.parametrize("include_untruncated", [True, False])
def test_truncation_sweep_returns_finite_metrics(real_32, tmp_path, include_untruncated):
    G = _tiny_g(8)
    rows = truncation_sweep(G, thresholds=[1.0, 0.5], real_uint8=real_32, n=32, seed=0, cache_dir=tmp_path,
                            cache_key="test-real", include_untruncated=include_untruncated,
                            classifier=lambda images: torch.zeros(images.shape[0], dtype=torch.long))
    expected = [None, 1.0, 0.5] if include_untruncated else [1.0, 0.5]
    assert [row["truncation"] for row in rows] == expected
    for row in rows:
        assert all(math.isfinite(row[key]) for key in ("is_mean", "is_std", "fid"))
        assert row["accuracy"] == pytest.approx(1 / 8) and len(row["per_class_accuracy"]) == 8
    assert list(tmp_path.glob("test-real*"))  # real features were cached


def test_truncation_sweep_uses_one_seed_and_one_cache_key(real_32, monkeypatch):
    G = _tiny_g(3)
    calls = []

    def fake_metrics(fake, real, **kwargs):
        calls.append((fake, kwargs))
        return {"fid": 1.0, "is_mean": 2.0, "is_std": 0.1}

    monkeypatch.setattr(fidelity, "fidelity_metrics", fake_metrics)
    rows = truncation_sweep(G, thresholds=[0.5, 2.0], real_uint8=real_32, n=6, seed=9)
    assert [row["truncation"] for row in rows] == [None, 0.5, 2.0]
    for (fake, kwargs), t in zip(calls, (None, 0.5, 2.0)):
        assert torch.equal(fake, sample_conditional(G, n=6, seed=9, truncation=t)[0])
        assert kwargs["metrics"] == ("fid", "is") and kwargs["extractor"] == "shapes"
    keys = {kwargs["cache_key"] for _, kwargs in calls}
    assert len(keys) == 1 and keys.pop().startswith("sweep-")
    assert all(kwargs["cache_dir"] is not None for _, kwargs in calls)  # never the user's TORCH_HOME cache


@pytest.mark.parametrize("thresholds", [[0.0], [1.0, -0.5], [math.nan]])
def test_truncation_sweep_rejects_bad_thresholds(real_32, thresholds):
    with pytest.raises(ValueError, match="truncation"):
        truncation_sweep(_tiny_g(8), thresholds=thresholds, real_uint8=real_32, n=8, seed=0)


# ---------------------------------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------------------------------
_ROWS = [{"truncation": None, "is_mean": 3.0, "is_std": 0.2, "fid": 20.0},
         {"truncation": 1.0, "is_mean": 3.5, "is_std": 0.2, "fid": 18.0},
         {"truncation": 0.25, "is_mean": 4.5, "is_std": 0.1, "fid": 30.0}]


def test_plot_truncation_curve_returns_figure():
    fig = plot_truncation_curve(_ROWS)
    assert isinstance(fig, Figure) and len(fig.axes) == 3  # curve, IS vs threshold and its FID twin axis
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert texts == {"none", "1", "0.25"}
    line_x = fig.axes[0].lines[0].get_xdata()
    assert list(line_x) == [3.0, 3.5, 4.5]  # ordered from untruncated to the smallest threshold


def test_plot_truncation_curve_on_given_axes():
    from gancore.viz import new_figure

    fig = new_figure()
    ax = fig.add_subplot()
    assert plot_truncation_curve(_ROWS[1:], ax=ax) is fig and len(fig.axes) == 1
    with pytest.raises(ValueError):
        plot_truncation_curve([])


def test_plot_class_accuracy_returns_figure():
    result = summarize_class_predictions(torch.arange(16) % 8, torch.arange(16) % 4, num_classes=8)
    fig = plot_class_accuracy(result, class_names=SHAPE_CLASSES)
    assert isinstance(fig, Figure) and len(fig.axes) >= 2
    with pytest.raises(ValueError, match="class_names"):
        plot_class_accuracy(result, class_names=SHAPE_CLASSES[:3])
