"""Evaluation in lower precision (issue 25), on the shipped shapes extractor: bf16 generation moves FID by under
0.1%; bf16 features move it by up to 0.15% (measured here), which is why runs keep fp32 features; the real-set cache
keeps precisions apart."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from gancore.data.shapes import render_shapes
from gancore.metrics.fidelity import fidelity_metrics
from gancore.sampling import sample_conditional, sample_uint8


def _noisy(images: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    noise = torch.randn(images.shape, generator=torch.Generator().manual_seed(seed)) * sigma
    return (images.float() + noise).round().clamp(0, 255).to(torch.uint8)


@pytest.mark.parametrize("sigma", [8.0, 40.0])
def test_bf16_features_move_fid_by_a_sixth_of_a_percent_at_most(tmp_path, sigma):
    real = render_shapes(400, resolution=32, seed=1)[0]
    fake = _noisy(render_shapes(400, resolution=32, seed=2)[0], sigma, seed=3)
    common = dict(metrics=("fid",), extractor="shapes", cache_dir=tmp_path, cache_key="shapes-32-400")
    fp32 = fidelity_metrics(fake, real, **common)["fid"]
    bf16 = fidelity_metrics(fake, real, **common, precision="bf16")["fid"]
    # measured: +0.08% (sigma 8), +0.15% (sigma 40); above the 0.1% bar, so eval_precision keeps fp32 features
    assert fp32 > 0 and bf16 != fp32 and abs(bf16 - fp32) <= 2e-3 * fp32, (fp32, bf16)
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".npz").__len__() == 2  # one cache per precision
    assert fidelity_metrics(fake, real, **common)["fid"] == fp32  # the fp32 cache was not touched by bf16 features


class _TinyG(nn.Module):
    def __init__(self, conditional: bool = False):
        super().__init__()
        torch.manual_seed(0)
        self.dim_z, self.num_classes = 16, 3
        self.embed = nn.Embedding(3, 16) if conditional else None
        self.net = nn.Sequential(nn.Linear(16, 12 * 16 * 16), nn.Unflatten(1, (12, 16, 16)),
                                 nn.Conv2d(12, 3, 3, padding=1), nn.Tanh())

    def forward(self, z, y=None):
        if self.embed is not None:
            z = z + self.embed(y)
        return self.net(z)


def test_bf16_generation_round_off_stays_a_pixel_level_and_moves_fid_below_a_tenth_of_a_percent():
    G = _TinyG()
    fp32 = sample_uint8(G, n=300, dim=16, seed=0)
    bf16 = sample_uint8(G, n=300, dim=16, seed=0, precision="bf16", batch_size=1000)
    assert bf16.shape == fp32.shape == (300, 3, 16, 16) and bf16.dtype == torch.uint8
    diff = (bf16.int() - fp32.int()).abs()
    assert 0 < diff.float().mean() < 1.0 and int(diff.max()) <= 4
    real = render_shapes(300, resolution=16, seed=1)[0]
    a = fidelity_metrics(fp32, real, metrics=("fid",))["fid"]
    b = fidelity_metrics(bf16, real, metrics=("fid",))["fid"]
    assert abs(a - b) <= 1e-3 * a, (a, b)


def test_conditional_sampling_in_bf16_keeps_labels_and_shapes():
    G = _TinyG(conditional=True)
    (a, ya), (b, yb) = (sample_conditional(G, n=10, seed=0, precision=p) for p in ("fp32", "bf16"))
    assert torch.equal(ya, yb) and a.shape == b.shape == (10, 3, 16, 16)
    assert (a.int() - b.int()).abs().float().mean() < 1.0


def test_an_unknown_precision_is_refused():
    real = render_shapes(8, resolution=32, seed=1)[0]
    with pytest.raises(ValueError, match="precision"):
        fidelity_metrics(real, real, metrics=("fid",), precision="fp8")


@pytest.mark.parametrize("paper", ["progan", "biggan", "alphagan", "dggan"])
def test_every_paper_takes_eval_precision_and_eval_batch(paper):
    from gancore.config import ConfigError
    from gancore.engine.registry import recipe

    load = recipe(paper).load_config
    cfg = load(scale="smoke", eval_precision="bf16", eval_batch=1000)
    assert (cfg.eval_precision, cfg.eval_batch) == ("bf16", 1000)
    assert {"eval_precision", "eval_batch"} <= set(type(cfg).RESUMABLE_CHANGES)
    with pytest.raises(ConfigError, match="eval_batch"):
        load(scale="smoke", eval_batch=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision, bound", [("fp16", 1e-3), ("bf16", 2e-3)])
def test_cuda_features_in_lower_precision(precision, bound):
    real = render_shapes(2000, resolution=32, seed=1)[0]
    fake = _noisy(render_shapes(2000, resolution=32, seed=2)[0], 40.0, seed=3)
    fp32 = fidelity_metrics(fake, real, metrics=("fid",), device="cuda")["fid"]
    low = fidelity_metrics(fake, real, metrics=("fid",), device="cuda", precision=precision)["fid"]
    assert abs(low - fp32) <= bound * fp32, (precision, fp32, low)
