"""The shared loop: run contract, exact resume, NaN guard, checkpoints."""
import json
import math
from pathlib import Path

import pytest
import torch

from gancore import checkpoint as ckpt_io
from gancore import losses
from gancore.config import ConfigError
from gancore.recipes import progan
from gancore.engine import TrainingDiverged


def _run(overrides, **kw):
    cfg = progan.load_config(scale="smoke", **overrides)
    return progan.run(cfg, progress=False, evaluate=False, **kw)


def _state(r):
    return {"G": r.method.G.state_dict(), "D": r.method.D.state_dict(), "ema": r.trainer.ema.state_dict(),
            "optG": r.method.opt_g.state_dict()["state"], "optD": r.method.opt_d.state_dict()["state"]}


def _assert_same(a, b, path=""):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _assert_same(a[k], b[k], f"{path}.{k}")
    elif torch.is_tensor(a):
        assert torch.equal(a, b), path
    else:
        assert a == b, path


def test_run_contract_files(tiny_progan_overrides):
    r = _run(tiny_progan_overrides)
    out = Path(r.cfg.out_dir)
    for name in ("config.json", "log.jsonl", "summary.json"):
        assert (out / name).is_file(), name
    assert ckpt_io.list_checkpoints(out / "checkpoints")
    assert list((out / "samples").glob("*.png"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["params"]["G"] > 0 and summary["params"]["D"] > 0
    records = [json.loads(l) for l in (out / "log.jsonl").read_text().splitlines()]
    train = [rec for rec in records if rec["kind"] == "train"]
    assert train and all(math.isfinite(rec["loss_d"]) for rec in train)
    assert {rec["res"] for rec in train} == {4, 8}  # it grew
    config = json.loads((out / "config.json").read_text())
    assert config["resolution"] == 8 and config["paper"] == "progan"


@pytest.mark.parametrize("stop_kimg", [0.008, 0.024, 0.04])  # mid stab4, mid fade8 (α = 0.5), mid stab8
def test_resume_is_exact(tiny_progan_overrides, tmp_path, stop_kimg):
    straight = _run({**tiny_progan_overrides, "out_dir": str(tmp_path / "a"), "total_kimg": 0.056})
    part = {**tiny_progan_overrides, "out_dir": str(tmp_path / "b")}
    first = _run({**part, "total_kimg": stop_kimg})
    ck = torch.load(ckpt_io.list_checkpoints(tmp_path / "b" / "checkpoints")[-1], weights_only=True)
    phase, alpha = first.method.growth.at(ck["nimg"])
    assert ck["where"]["phase"] == phase.name and ck["where"]["alpha"] == pytest.approx(alpha)
    resumed = _run({**part, "total_kimg": 0.056})
    assert resumed.trainer.resumed_from is not None
    _assert_same(_state(straight), _state(resumed))
    log_a = [json.loads(l) for l in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    log_b = [json.loads(l) for l in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    key = lambda recs: [(r["nimg"], r.get("loss_d")) for r in recs if r["kind"] == "train"]  # noqa: E731
    assert key(log_a) == key(log_b)  # no duplicated or missing records across the resume


def test_fade_alpha_recorded_in_checkpoint(tiny_progan_overrides):
    r = _run({**tiny_progan_overrides, "total_kimg": 0.024})
    ck = ckpt_io.load_checkpoint(ckpt_io.list_checkpoints(Path(r.cfg.out_dir) / "checkpoints")[-1])
    assert ck["where"]["phase"] == "fade8" and ck["where"]["alpha"] == pytest.approx(0.5)


def test_resume_with_other_config_is_refused(tiny_progan_overrides):
    _run({**tiny_progan_overrides, "total_kimg": 0.016})
    with pytest.raises(ConfigError, match="different config.*lr: 0.005 → 0.01"):
        _run({**tiny_progan_overrides, "lr": 0.01})


def test_truncated_newest_checkpoint_falls_back(tiny_progan_overrides):
    r = _run({**tiny_progan_overrides, "total_kimg": 0.032, "ckpt_every_kimg": 0.016})
    folder = Path(r.cfg.out_dir) / "checkpoints"
    newest = ckpt_io.list_checkpoints(folder)[-1]
    newest.write_bytes(newest.read_bytes()[:200])
    with pytest.raises(ckpt_io.CheckpointError, match="truncated or corrupt"):
        ckpt_io.load_checkpoint(newest)
    with pytest.warns(UserWarning, match="skipping unreadable checkpoint"):
        again = _run({**tiny_progan_overrides, "total_kimg": 0.048, "ckpt_every_kimg": 0.016})
    assert again.trainer.resumed_from != newest
    assert again.summary["nimg"] == 48


def test_summary_is_rewritten_when_a_rerun_had_to_retrain(tiny_progan_overrides):
    overrides = {**tiny_progan_overrides, "total_kimg": 0.032, "ckpt_every_kimg": 0.016}
    cfg = progan.load_config(scale="smoke", **overrides)
    progan.run(cfg, progress=False, evaluate=True, baseline=False)
    summary_path = Path(cfg.out_dir) / "summary.json"
    stale = {**json.loads(summary_path.read_text()), "train_seconds": -1.0}
    summary_path.write_text(json.dumps(stale))
    assert progan.run(cfg, progress=False, evaluate=True).summary["train_seconds"] == -1.0  # nothing retrained
    newest = ckpt_io.list_checkpoints(Path(cfg.out_dir) / "checkpoints")[-1]
    newest.write_bytes(newest.read_bytes()[:100])
    with pytest.warns(UserWarning, match="skipping unreadable checkpoint"):
        again = progan.run(cfg, progress=False, evaluate=True)
    assert again.summary["train_seconds"] > 0 and again.summary["nimg"] == 32


def test_every_checkpoint_corrupt_restarts_with_the_old_log_set_aside(tiny_progan_overrides):
    first = _run({**tiny_progan_overrides, "total_kimg": 0.032, "ckpt_every_kimg": 0.016})
    out = Path(first.cfg.out_dir)
    old_log = (out / "log.jsonl").read_text()
    for ck in ckpt_io.list_checkpoints(out / "checkpoints"):
        ck.write_bytes(ck.read_bytes()[:100])
    with pytest.warns(UserWarning, match="starts over from 0 kimg"):
        again = _run({**tiny_progan_overrides, "total_kimg": 0.032, "ckpt_every_kimg": 0.016})
    assert again.trainer.resumed_from is None and again.summary["nimg"] == 32
    backups = list(out.glob("log-before-restart-*.jsonl"))
    assert len(backups) == 1 and backups[0].read_text() == old_log  # nothing lost
    nimgs = [json.loads(line)["nimg"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert nimgs == sorted(nimgs)  # one run's records, no duplicates


def test_nan_guard_stops_and_keeps_last_good_checkpoint(tiny_progan_overrides, monkeypatch):
    calls = {"n": 0}
    real = losses.wgan_d_loss

    def poisoned(*a, **k):
        calls["n"] += 1
        out = real(*a, **k)
        return out * float("nan") if calls["n"] >= 5 else out

    monkeypatch.setattr(losses, "wgan_d_loss", poisoned)
    overrides = {**tiny_progan_overrides, "ckpt_every_kimg": 0.016}
    with pytest.raises(TrainingDiverged, match=r"non-finite loss \(loss_d.*last good checkpoint.*ckpt-000000032"):
        _run(overrides)
    folder = Path(overrides["out_dir"]) / "checkpoints"
    kept = ckpt_io.list_checkpoints(folder)
    assert kept and ckpt_io.load_checkpoint(kept[-1])["nimg"] == 32  # written before step 5 went bad
    for p in kept:
        ck = ckpt_io.load_checkpoint(p)
        assert all(torch.isfinite(v).all() for v in ck["G"].values())
    log = [json.loads(l) for l in (Path(overrides["out_dir"]) / "log.jsonl").read_text().splitlines()]
    assert log[-1]["kind"] == "error"


def test_dry_run_builds_and_trains_nothing(tiny_progan_overrides):
    r = _run({**tiny_progan_overrides, "dry_run": True})
    out = Path(r.cfg.out_dir)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "dry_run" and summary["params"]["G"] == sum(
        p.numel() for p in r.method.G.parameters())
    assert (out / "config.json").is_file()
    assert not ckpt_io.list_checkpoints(out / "checkpoints")


def test_dry_run_full_config_without_data(tmp_path):
    cfg = progan.load_config(scale="full", preset="lsun256", dry_run=True, out_dir=str(tmp_path / "full"))
    r = progan.run(cfg, progress=False)
    assert r.summary["status"] == "dry_run" and r.summary["resolution"] == 256
    assert [p["resolution"] for p in r.summary["schedule"]][-1] == 256


def test_atomic_save_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "ck.pt"
    ckpt_io.atomic_save({"format": 1, "x": torch.ones(2)}, target)

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError):
        ckpt_io.atomic_save({"format": 1, "x": torch.zeros(2)}, target)
    assert torch.equal(ckpt_io.load_checkpoint(target)["x"], torch.ones(2))  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]


def test_checkpoint_is_weights_only_loadable(tiny_progan_overrides):
    r = _run(tiny_progan_overrides)
    path = ckpt_io.list_checkpoints(Path(r.cfg.out_dir) / "checkpoints")[-1]
    ck = torch.load(path, weights_only=True)
    assert {"G", "D", "G_ema", "optimizers", "stream", "rng", "nimg", "where"} <= set(ck)


def test_foreign_file_is_not_a_checkpoint(tmp_path):
    p = tmp_path / "ckpt-000000001.pt"
    torch.save({"weights": torch.ones(1)}, p)
    with pytest.raises(ckpt_io.CheckpointError, match="not a gancore checkpoint"):
        ckpt_io.load_checkpoint(p)


def test_mirror_augment_flips_some_reals_and_resumes_exactly(tiny_progan_overrides, tmp_path):
    from gancore.data import build_dataset
    from gancore.engine import RealImages

    data = build_dataset("shapes", resolution=8, size=16, seed=0)
    reals = RealImages(data=data)
    idx = torch.arange(4)
    plain, _ = reals.batch(idx, resolution=8, device=torch.device("cpu"))
    flip = torch.tensor([True, False, True, False])
    mixed, _ = reals.batch(idx, resolution=8, device=torch.device("cpu"), flip=flip)
    assert torch.equal(mixed[0], plain[0].flip(-1)) and torch.equal(mixed[1], plain[1])
    over = {**tiny_progan_overrides, "mirror_augment": True}
    straight = _run({**over, "out_dir": str(tmp_path / "a"), "total_kimg": 0.04})
    _run({**over, "out_dir": str(tmp_path / "b"), "total_kimg": 0.024})
    resumed = _run({**over, "out_dir": str(tmp_path / "b"), "total_kimg": 0.04})
    _assert_same(_state(straight), _state(resumed))


def test_unreadable_summary_is_recomputed(tiny_progan_overrides):
    r = _run(tiny_progan_overrides)
    (Path(r.cfg.out_dir) / "summary.json").write_text("{not json")
    with pytest.warns(UserWarning, match="unreadable"):
        again = _run(tiny_progan_overrides)
    assert again.summary["status"] == "complete"
    assert json.loads((Path(r.cfg.out_dir) / "summary.json").read_text())["status"] == "complete"


@pytest.mark.parametrize("budget,expected", [(0, "cpu"), (1 << 30, "meta")])
def test_real_levels_go_to_device_only_within_budget(budget, expected):
    from gancore.data import build_dataset
    from gancore.engine import RealImages

    data = build_dataset("shapes", resolution=8, size=16, seed=0)
    reals = RealImages(data=data, device=torch.device("meta"), device_budget_bytes=budget)
    assert reals.source_device.type == expected  # a too-large data set stays on the host, batches move instead


def test_one_latent_sampler_for_seeds_and_generators():
    from gancore.latents import sample_latents
    from gancore.models import progan as progan_models

    assert progan_models.sample_latents is sample_latents
    by_seed = sample_latents(3, 5, seed=7)
    by_gen = sample_latents(3, 5, generator=torch.Generator().manual_seed(7))
    assert torch.equal(by_seed, by_gen)
    with pytest.raises(ValueError, match="either seed or generator"):
        sample_latents(3, 5, seed=1, generator=torch.Generator())
