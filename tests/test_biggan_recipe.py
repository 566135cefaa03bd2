"""BigGAN's training recipe on the shared loop (gancore.recipes.biggan): config, one iteration, accumulation, ortho
reg, R1, EMA start, cross-replica BN, exact resume and the claims table."""
from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from gancore import losses
from gancore.config import ConfigError
from gancore.recipes import biggan
from gancore.recipes.biggan.config import BigGANConfig, table1_rows

TINY = dict(resolution=32, ch=4, dim_z=8, shared_dim=6, attention_res=[], batch_size=8, accumulate=1,
            lr_g=2e-4, lr_d=2e-4, num_classes=3, sv_every_kimg=0.0)


def _method(**changes) -> biggan.BigGANMethod:
    cfg = BigGANConfig(**{**TINY, **changes})
    return biggan.BigGANMethod(cfg=cfg, num_classes=3, device=torch.device("cpu"))


def _fixed_reals(n_total: int = 64, seed: int = 0):
    """A reals() callable handing out consecutive slices of one fixed batch, and a record of what it handed out."""
    g = torch.Generator().manual_seed(seed)
    x, y = torch.rand(n_total, 3, 32, 32, generator=g) * 2 - 1, torch.randint(3, (n_total,), generator=g)
    pos = [0]

    def reals(n):
        out = x[pos[0]:pos[0] + n], y[pos[0]:pos[0] + n]
        pos[0] += n
        return out
    return reals


# ---- config -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["", "imagenet256", "imagenet512", "deep128", "cifar10"])
def test_full_presets_resolve(preset):
    cfg = biggan.load_config(scale="full", preset=preset, dry_run=True)
    assert cfg.batch_size % cfg.accumulate == 0
    assert cfg.iterations() > 1e5


@pytest.mark.parametrize("scale", ["smoke", "reduced"])
def test_small_presets_resolve(scale):
    cfg = biggan.load_config(scale=scale)
    assert cfg.resolution == 32 and cfg.dataset == "shapes"


def test_reduced_classes_preset_only_trains_longer():
    base, long = biggan.load_config(scale="reduced"), biggan.load_config(scale="reduced", preset="classes")
    differ = {k for k, v in vars(base).items() if getattr(long, k) != v}
    assert differ == {"total_kimg", "preset", "out_dir"} and long.iterations() == 8000  # out_dir names the preset


def test_full_default_is_table1_final_row():
    cfg = biggan.load_config(scale="full", dry_run=True)
    final = table1_rows()[7]
    assert (cfg.batch_size, cfg.ch, cfg.shared, cfg.hier, cfg.ortho) == (final["batch"], final["ch"], True, True,
                                                                          True)
    assert (cfg.lr_g, cfg.lr_d, cfg.beta1, cfg.beta2, cfg.d_steps) == (5e-5, 2e-4, 0.0, 0.999, 2)
    assert cfg.ema_decay == 0.9999 and cfg.ortho_beta == 1e-4


@pytest.mark.parametrize("row", range(9))
def test_table1_row_sets_its_columns(row):
    cfg = biggan.load_config(scale="full", table1_row=row, dry_run=True)
    r = table1_rows()[row]
    assert (cfg.batch_size, cfg.ch, cfg.shared, cfg.hier, cfg.ortho) == (r["batch"], r["ch"], r["shared"],
                                                                          r["hier"], r["ortho"])


@pytest.mark.parametrize("scale", ["smoke", "reduced"])
@pytest.mark.parametrize("row", [0, 4, 8])
def test_table1_row_below_full_scale_sets_only_the_switches(scale, row):
    base = biggan.load_config(scale=scale, dry_run=True)
    cfg = biggan.load_config(scale=scale, table1_row=row, dry_run=True)
    r = table1_rows()[row]
    assert (cfg.shared, cfg.hier, cfg.ortho) == (r["shared"], r["hier"], r["ortho"])
    assert (cfg.batch_size, cfg.ch) == (base.batch_size, base.ch)  # the scale keeps its batch and width


@pytest.mark.parametrize("preset, classes", [("cifar10", 10), ("", 1000)])
def test_full_dry_run_without_data_sizes_the_model_for_the_dataset(tmp_path, preset, classes):
    cfg = biggan.load_config(scale="full", preset=preset, dry_run=True, out_dir=str(tmp_path / "run"))
    r = biggan.run(cfg, progress=False)
    assert r.summary["num_classes"] == classes


@pytest.mark.parametrize("bad, match", [
    (dict(batch_size=10, accumulate=3), "multiple of accumulate"),
    (dict(resolution=48), "resolution"),
    (dict(attention_res=[12]), "attention_res"),
    (dict(truncations=[0.5, 0.0]), "truncations"),
    (dict(table1_row=9), "table1_row"),
    (dict(lr_g=0.0), "lr_g"),
    (dict(d_steps=0), "d_steps"),
])
def test_config_rejects_bad_values(bad, match):
    with pytest.raises(ConfigError, match=match):
        biggan.load_config(scale="smoke", **bad)


def test_iterations_count_every_d_step_batch():
    cfg = BigGANConfig(**{**TINY, "batch_size": 2048, "d_steps": 2, "accumulate": 8, "total_kimg": 4096.0})
    assert cfg.iterations() == 1000 and cfg.micro_batch == 256


# ---- one iteration ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("d_steps", [1, 2])
@pytest.mark.parametrize("accumulate", [1, 2])
@pytest.mark.parametrize("loss", ["hinge", "ns"])
def test_train_step_counts_steps_and_images(d_steps, accumulate, loss):
    m = _method(d_steps=d_steps, accumulate=accumulate, loss=loss)
    g0 = copy.deepcopy(m.G.state_dict())
    out, used = m.train_step(0, _fixed_reals(), torch.Generator().manual_seed(0))
    assert used == d_steps * 8
    assert all(torch.isfinite(v) for v in out.values())
    assert m.opt_d.state[next(iter(m.D.parameters()))]["step"] == d_steps
    assert m.opt_g.state[next(iter(m.G.parameters()))]["step"] == 1
    assert any(not torch.equal(g0[k], v) for k, v in m.G.state_dict().items())
    assert all(p.requires_grad for p in m.D.parameters())  # restored after the G step


def test_gradient_accumulation_equals_the_full_batch(monkeypatch):
    """D's update from 2 micro-batches of 4 equals the one from a batch of 8 (D has no BatchNorm)."""
    g = torch.Generator().manual_seed(1)
    z, y = torch.randn(8, 8, generator=g), torch.randint(3, (8,), generator=g)
    results = []
    for acc in (1, 2):
        m = _method(d_steps=1, accumulate=acc, ortho=False)
        m.G.eval()  # BN on running statistics: the fakes do not depend on the micro-batch split
        # Spectral norm runs one power iteration per train-mode forward, so 2 micro-batches advance u twice as often
        # (as in the authors' code); eval mode freezes u and leaves only the gradient arithmetic to compare.
        m.D.eval()
        draws = iter([(z, y)] if acc == 1 else [(z[:4], y[:4]), (z[4:], y[4:])])
        calls = {"n": 0}

        def sample_inputs(n, rng, draws=draws, calls=calls):
            calls["n"] += 1
            return next(draws) if calls["n"] <= acc else (torch.randn(n, 8), torch.randint(3, (n,)))
        monkeypatch.setattr(m, "sample_inputs", sample_inputs)
        m.train_step(0, _fixed_reals(), torch.Generator().manual_seed(0))
        results.append(copy.deepcopy(m.D.state_dict()))
    for k in results[0]:
        torch.testing.assert_close(results[0][k], results[1][k], atol=1e-6, rtol=1e-5)


def test_ortho_weights_skip_embeddings_and_match_the_reported_penalty():
    m = _method(ortho=True, ortho_beta=1e-2)
    names = {id(p): n for n, p in m.G.named_parameters()}
    picked = [names[id(p)] for p in biggan.ortho_weights(m.G)]
    assert picked and not any(n.startswith("shared") for n in picked)
    assert all(p.ndim >= 2 for p in biggan.ortho_weights(m.G))
    expected = losses.orthogonal_regularization([p.detach().clone() for p in biggan.ortho_weights(m.G)], beta=1e-2)
    out, _ = m.train_step(0, _fixed_reals(), torch.Generator().manual_seed(0))
    torch.testing.assert_close(out["ortho"], expected)
    # Non-shared G: the per-layer one-hot CBN maps are class tables and are skipped too.
    plain = _method(shared=False, hier=False, ortho=True)
    cbn = [n for n, p in plain.G.named_parameters() if ".bn" in n and p.ndim >= 2]
    kept = {id(p) for p in biggan.ortho_weights(plain.G)}
    assert cbn and not any(id(dict(plain.G.named_parameters())[n]) in kept for n in cbn)


def test_ortho_off_reports_zero():
    m = _method(ortho=False)
    out, _ = m.train_step(0, _fixed_reals(), torch.Generator().manual_seed(0))
    assert float(out["ortho"]) == 0.0


def test_r1_matches_the_loss_module_on_the_same_reals(monkeypatch):
    m = _method(d_steps=1, r1_gamma=10.0)
    reals = _fixed_reals()
    x, y = _fixed_reals()(8)
    D0 = copy.deepcopy(m.D)
    expected = losses.r1_penalty(lambda v: D0(v, y), x)
    out, _ = m.train_step(0, reals, torch.Generator().manual_seed(0))
    torch.testing.assert_close(out["r1"], expected.detach(), rtol=1e-4, atol=1e-6)


def test_sync_batchnorm_only_under_a_process_group_on_gpus(monkeypatch):
    import torch.distributed as dist

    G = biggan.build_networks(BigGANConfig(**TINY), num_classes=3)[0]
    assert biggan.sync_batchnorm_if_distributed(G, torch.device("cuda")) is G  # one process: nothing to sync
    monkeypatch.setattr(dist, "is_available", lambda: True)
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda: 2)
    with pytest.warns(UserWarning, match="per-process BatchNorm"):  # torch's SyncBatchNorm is CUDA-only
        assert biggan.sync_batchnorm_if_distributed(G, torch.device("cpu")) is G
    synced = biggan.sync_batchnorm_if_distributed(G, torch.device("cuda"))
    bns = [mod for mod in synced.modules() if isinstance(mod, nn.modules.batchnorm._BatchNorm)]
    assert bns and all(isinstance(b, nn.SyncBatchNorm) for b in bns)


@pytest.mark.parametrize("arch", ["biggan", "deep"])
def test_build_networks_by_arch(arch):
    changes = dict(arch=arch, ch=8, depth=1) if arch == "deep" else {}
    G, D = biggan.build_networks(BigGANConfig(**{**TINY, **changes}), num_classes=3)
    z, y = torch.randn(2, 8), torch.tensor([0, 2])
    assert G(z, y).shape == (2, 3, 32, 32) and D(G(z, y), y).shape == (2,)


# ---- whole runs ---------------------------------------------------------------------------------------------------
def _smoke(tmp_path, name="run", **changes):
    over = dict(out_dir=str(tmp_path / name), dataset_size=64, total_kimg=0.128, log_every_kimg=0.032,
                ckpt_every_kimg=0.064, sample_every_kimg=0.064, sv_every_kimg=0.032, batch_size=8, accumulate=2,
                standing_stats_batches=1, truncations=[0.5], final_num_images=32, num_threads=1)
    return biggan.load_config(scale="smoke", **{**over, **changes})


def test_resume_is_exact(tmp_path):
    straight = biggan.run(_smoke(tmp_path, "a"), progress=False, evaluate=False)
    biggan.run(_smoke(tmp_path, "b", total_kimg=0.064), progress=False, evaluate=False)
    resumed = biggan.run(_smoke(tmp_path, "b"), progress=False, evaluate=False)
    assert resumed.trainer.resumed_from is not None
    for net in ("G", "D"):
        a, b = getattr(straight.method, net).state_dict(), getattr(resumed.method, net).state_dict()
        for k in a:
            torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=f"{net}.{k}")
    for k, v in straight.trainer.ema.state_dict().items():
        torch.testing.assert_close(v, resumed.trainer.ema.state_dict()[k], rtol=0, atol=0)
    spectral = [r for r in resumed.log() if r.get("kind") == "spectral"]
    assert [r["nimg"] for r in spectral] == [r["nimg"] for r in straight.log() if r.get("kind") == "spectral"]


def test_ema_copies_g_until_its_start(tmp_path):
    r = biggan.run(_smoke(tmp_path, ema_start_kimg=1.0, ema_decay=0.9), progress=False, evaluate=False)
    for k, v in r.method.G.state_dict().items():
        torch.testing.assert_close(r.trainer.ema.module.state_dict()[k].float(), v.float())
    later = biggan.run(_smoke(tmp_path, "late", ema_start_kimg=0.0, ema_decay=0.9), progress=False, evaluate=False)
    assert any(not torch.equal(later.trainer.ema.module.state_dict()[k], v)
               for k, v in later.method.G.state_dict().items() if v.is_floating_point())


def test_dry_run_writes_config_and_counts(tmp_path):
    r = biggan.run(_smoke(tmp_path, dry_run=True), progress=False)
    assert r.summary["status"] == "dry_run" and r.summary["params"]["G"] > 0
    assert (tmp_path / "run" / "config.json").is_file() and not (tmp_path / "run" / "checkpoints").exists()


def test_num_classes_must_match_the_data(tmp_path):
    with pytest.raises(ValueError, match="num_classes=5"):
        biggan.run(_smoke(tmp_path, num_classes=5), progress=False, evaluate=False)


def test_evaluated_run_reports_sweep_accuracy_and_spectra(tmp_path):
    r = biggan.run(_smoke(tmp_path), progress=False)
    final = r.summary["final"]
    assert [row["truncation"] for row in final["truncation_sweep"]] == [None, 0.5]
    assert 0.0 <= final["class_accuracy"]["accuracy"] <= 1.0
    assert len(final["class_accuracy"]["per_class_accuracy"]) == 8
    assert r.summary["initial"]["fid"] > 0
    spectral = [rec for rec in r.log() if rec.get("kind") == "spectral"]
    assert spectral and all(v == v for rec in spectral for k, v in rec.items() if k.startswith("sv/"))


# ---- claims -------------------------------------------------------------------------------------------------------
def _sweep(fids, iss, ts=(None, 1.0, 0.5, 0.04), is_std=0.05):
    return [{"truncation": t, "fid": f, "is_mean": i, "is_std": is_std} for t, f, i in zip(ts, fids, iss)]


@pytest.mark.parametrize("fids, iss, is_std, verdict", [
    ([30, 25, 28, 60], [2.0, 2.5, 3.0, 3.5], 0.05, "holds"),          # IS up, FID dips then rises
    ([30, 35, 40, 60], [2.0, 2.5, 3.0, 3.5], 0.05, "does not hold"),  # FID only worsens
    ([30, 25, 28, 60], [2.0, 1.8, 1.7, 1.5], 0.05, "does not hold"),  # IS falls beyond its split spread
    ([30, 28, 26, 24], [2.0, 2.5, 3.0, 3.5], 0.05, "does not hold"),  # FID never turns back up
    ([30, 25, 28, 60], [2.0, 2.1, 2.1, 2.2], 0.3, "within noise"),    # IS rise smaller than its split spread
])
def test_truncation_claim_logic(fids, iss, is_std, verdict):
    summary = {"final": {"truncation_sweep": _sweep(fids, iss, is_std=is_std)}}
    rows = biggan.claims_table(summary, {})
    assert rows[0]["verdict"] == verdict
    assert rows[0]["holds"] is {"holds": True, "does not hold": False}.get(verdict)
    # No claim runs: undecided with the reason, never "does not hold".
    assert [r["holds"] for r in rows[1:3]] == [None, None]
    assert all(r["verdict"].startswith("not tested: claim runs not done") for r in rows[1:3])


def _side_runs(plain, sh, sho):
    """Claim results over len(plain) seeds: each entry (fid, fid_truncated)."""
    out = {}
    for name, runs in (("plain", plain), ("shared_hier", sh), ("shared_hier_ortho", sho)):
        for k, (fid, fid_t) in enumerate(runs):
            out[name + ("" if k == 0 else f"@{k}")] = {"fid": fid, "fid_truncated": fid_t, "accuracy": 0.5,
                                                       "iterations": 10, "seed": k}
    return out


def test_claims_from_side_runs_over_seeds():
    results = _side_runs(plain=[(40.0, 60.0), (41.0, 61.0)], sh=[(30.0, 45.0), (31.0, 46.0)],
                         sho=[(31.0, 33.0), (30.0, 32.0)])
    acc = {"accuracy": 0.9, "per_class_accuracy": [0.9] * 8, "flagged": [], "n_per_class": 128}
    rows = biggan.claims_table({"final": {"class_accuracy": acc}}, results)
    assert [r["verdict"] for r in rows] == ["not tested: no truncation sweep (needs a shapes run or Inception "
                                            "weights)", "holds", "holds", "holds"]
    assert [r["holds"] for r in rows] == [None, True, True, True]
    assert "mean of 2 seeds" in rows[1]["this run"] and "40.5 (plain) vs 30.5" in rows[1]["this run"]
    assert all({"claim", "paper", "this run", "verdict", "holds"} <= set(r) for r in rows)


def test_claims_within_noise_and_not_tested():
    # FID gap 1.0 below a seed spread of 4.0: within noise, not "holds".
    results = _side_runs(plain=[(33.0, 50.0), (30.0, 45.0)], sh=[(34.0, 50.0), (30.0, 45.0)],
                         sho=[(34.0, 50.0), (30.0, 45.0)])
    rows = biggan.claims_table({}, results)
    assert rows[1]["verdict"] == "within noise" and rows[1]["holds"] is None
    assert rows[2]["verdict"] == "within noise"
    # One seed: no spread, so "not tested" with the reason.
    one = {k: v for k, v in results.items() if "@" not in k}
    assert biggan.claims_table({}, one)[1]["verdict"].startswith("not tested: no seed-to-seed spread")
    # A diverged column: the comparison could not be made.
    results["shared_hier@1"] = {"diverged": "NaN loss", "seed": 1}
    rows = biggan.claims_table({}, results)
    assert rows[1]["verdict"].startswith("not tested: a claim run diverged") and rows[1]["holds"] is None
    assert rows[3]["verdict"].startswith("not tested: needs the shapes dataset")


@pytest.mark.parametrize("accuracy, n_per_class, verdict", [
    (0.9, 128, "holds"), (0.5, 128, "does not hold"), (0.81, 16, "within noise"), (0.79, 16, "within noise")])
def test_class_correct_verdict_uses_the_binomial_band(accuracy, n_per_class, verdict):
    # An independent check of the band: 1.96 * sqrt(p (1 - p) / n) around the 80% bar.
    n = 8 * n_per_class
    band = 1.96 * math.sqrt(accuracy * (1 - accuracy) / n)
    assert (abs(accuracy - 0.8) <= band) == (verdict == "within noise")
    names = ["circle", "square", "triangle", "cross", "ring", "star", "stripes", "checker"]
    acc = {"accuracy": accuracy, "per_class_accuracy": [accuracy] * 7 + [0.2], "flagged": [7],
           "n_per_class": n_per_class}
    row = biggan.claims_table({"final": {"class_accuracy": acc}, "class_names": names}, {})[3]
    assert row["verdict"] == verdict
    assert "worst class checker" in row["this run"] and "flagged: checker" in row["this run"]


def test_claim_experiments_repeat_over_seeds(tmp_path):
    cfg = biggan.load_config(scale="smoke", out_dir=str(tmp_path / "run"), claims_seeds=2, claims_kimg=0.032,
                             claims_num_images=32)
    results = biggan.claim_experiments(cfg)
    assert sorted(results) == sorted(f"{n}{t}" for n in biggan.CLAIM_RUNS for t in ("", "@1"))
    assert {r["seed"] for r in results.values()} == {cfg.seed, cfg.seed + 1}
    assert results["plain"]["fid"] != results["plain@1"]["fid"]  # a different seed is a different run
    assert all(r["iterations"] == results["plain"]["iterations"] for r in results.values())  # equal steps


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_precision_and_layout_keep_fp32_weights(precision, channels_last):
    m = _method(precision=precision, channels_last=channels_last)
    out, _ = m.train_step(0, _fixed_reals(), torch.Generator().manual_seed(0))
    assert all(torch.isfinite(v) and v.dtype == torch.float32 for v in out.values())
    assert all(p.dtype == torch.float32 for p in [*m.G.parameters(), *m.D.parameters()])
    img = m.generate(m.G, torch.randn(4, 8), torch.tensor([0, 1, 2, 0]), nimg=0)
    assert img.dtype == torch.float32 and img.shape == (4, 3, 32, 32)


def test_bf16_step_tracks_fp32():
    """Mixed precision changes the arithmetic, not the algorithm: one step's losses agree to bf16 accuracy."""
    a, b = _method(precision="fp32"), _method(precision="bf16")
    la, _ = a.train_step(0, _fixed_reals(), torch.Generator().manual_seed(0))
    lb, _ = b.train_step(0, _fixed_reals(), torch.Generator().manual_seed(0))
    for k in ("loss_d", "loss_g"):
        assert float(lb[k]) == pytest.approx(float(la[k]), rel=0.05, abs=0.05)


def test_standing_statistics_run_once_for_the_untruncated_copy(tmp_path, monkeypatch):
    import gancore.sampling as sampling

    r = biggan.run(_smoke(tmp_path), progress=False, evaluate=False)
    calls = []
    real = sampling.standing_stats
    monkeypatch.setattr(sampling, "standing_stats", lambda G, **kw: (calls.append(kw["truncation"]), real(G, **kw)))
    final = r.evaluator.metrics(r.G_ema, n=32)
    assert calls == [None, 0.5]  # the sweep's untruncated point and the class accuracy share one copy
    assert r.sampling_G() is r.evaluator.prepared(r.G_ema) and len(calls) == 2
    assert final["class_accuracy"]["accuracy"] >= 0


def test_num_classes_needs_two_classes():
    class OneClass:
        num_classes = 1
    with pytest.raises(ValueError, match="at least 2 classes"):
        biggan.class_count(BigGANConfig(**{**TINY, "num_classes": 0}), OneClass())
