"""Time estimates (gancore.estimate, the recipes' estimate functions), the trainer's progress.json and what
`make demo` prints while a notebook runs (scripts/run_demo.py)."""
from __future__ import annotations

import importlib.util
import json
import math
import time
from pathlib import Path

import nbformat
import pytest

from gancore import estimate as est
from gancore.recipes import biggan, progan
from gancore.schedule import progressive_schedule

ROOT = Path(__file__).resolve().parents[1]


def _demo():
    spec = importlib.util.spec_from_file_location("run_demo", ROOT / "scripts" / "run_demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    return demo


def test_images_by_resolution_counts_each_phase_once():
    sched = progressive_schedule(start_resolution=4, resolution=16, stabilize_kimg=2, fade_kimg=1, batch_sizes={},
                                 default_batch=8)
    # stab4 2k, fade8 1k, stab8 2k, fade16 1k, stab16 open-ended: to 10k images, 16² gets 1k + 3k.
    assert est.images_by_resolution(sched, 10_000) == {4: 2000, 8: 3000, 16: 5000}
    assert est.images_by_resolution(sched, 2_500) == {4: 2000, 8: 500}
    assert est.seconds({4: 2000, 8: 3000}, {4: 1000.0, 8: 100.0}) == pytest.approx(32.0)


def test_measured_rates_are_positive_per_resolution(tiny_progan_overrides):
    cfg = progan.load_config(scale="smoke", **tiny_progan_overrides)
    method = progan.ProGANMethod(cfg=cfg, device=__import__("torch").device("cpu"))
    rates = est.measure_img_per_s(method, method.growth.measure_points(), steps=1, warmup=0)
    assert sorted(rates) == [4, 8] and all(math.isfinite(r) and r > 0 for r in rates.values())


def test_progan_estimate_adds_the_schedule_and_the_claims(monkeypatch):
    monkeypatch.setattr(est, "measure_img_per_s", lambda *a, **k: {4: 100.0, 8: 100.0, 16: 100.0, 32: 50.0})
    cfg = progan.load_config(scale="reduced")
    e = progan.estimate(cfg)
    # Independent count: the reduced schedule ends at 36 kimg: 6 at 4², 10 at 8² and 16², 10 at 32² (fade + stab).
    assert e.parts["main run"] == pytest.approx(26_000 / 100 + 10_000 / 50)
    # Fig. 4 pair: each seed's progressive run grows 4→16 in 1.5-kimg phases (7.5 kimg) and the fixed run gets
    # the same seconds; rows d, e, f, g, g@1 train 2.5 kimg each.
    assert e.parts["Fig. 4 pair"] == pytest.approx(cfg.claims_seeds * 2 * 7_500 / 100)
    assert e.parts["Table 1 rows"] == pytest.approx(5 * 2_500 / 100)
    assert e.total == pytest.approx(sum(e.parts.values())) and "min" in e.text and "32²" in e.text
    assert list(progan.estimate(cfg, claims=False).parts) == ["main run"]


def test_biggan_estimate_counts_every_claim_column(monkeypatch):
    monkeypatch.setattr(est, "measure_img_per_s", lambda *a, **k: {32: 40.0})
    cfg = biggan.load_config(scale="reduced")
    e = biggan.estimate(cfg)
    assert e.parts == pytest.approx({"main run": cfg.total_kimg * 1000 / 40,
                                     "Table 1 columns": 3 * cfg.claims_seeds * cfg.claims_kimg * 1000 / 40})


def test_estimate_is_skipped_where_it_would_mislead(tmp_path):
    cfg = progan.load_config(scale="smoke", out_dir=str(tmp_path / "run"))
    assert est.worth_estimating(cfg)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "summary.json").write_text(json.dumps({"status": "complete"}))
    assert not est.worth_estimating(cfg)  # a finished run resumes as complete
    assert not est.worth_estimating(progan.load_config(scale="smoke", dry_run=True))


def test_trainer_writes_progress_with_an_eta(tiny_progan_overrides):
    cfg = progan.load_config(scale="smoke", **tiny_progan_overrides)
    r = progan.run(cfg, progress=False, evaluate=False)
    p = json.loads((r.trainer.out / "progress.json").read_text())
    assert p["nimg"] == p["total_nimg"] == r.trainer.total_nimg and p["eta_s"] == 0.0 and p["img_s"] > 0
    assert p["res"] == cfg.resolution and time.time() - p["updated"] < 60


def test_demo_prints_the_section_and_the_training_eta(tmp_path):
    demo = _demo()
    run_dir = tmp_path / "run"
    (run_dir / "claims" / "row_g").mkdir(parents=True)
    old = {"nimg": 6000, "total_nimg": 36000, "img_s": 80.0, "eta_s": 300.0, "res": 32, "updated": time.time() - 30}
    new = {"nimg": 1250, "total_nimg": 2500, "img_s": 125.0, "eta_s": 10.0, "res": 16, "updated": time.time()}
    (run_dir / "progress.json").write_text(json.dumps(old))
    (run_dir / "claims" / "row_g" / "progress.json").write_text(json.dumps(new))
    assert demo._training_progress(run_dir) == "training claims/row_g: 1.2/2.5 kimg at 16², 125 img/s, ETA 0.2 min"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("## 3. Training\ntext"), nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_code_cell("train()")]
    nb.cells[1].metadata["papermill"] = {"status": "completed"}
    nb.cells[2].metadata["papermill"] = {"status": "running"}
    nbformat.write(nb, tmp_path / "out.ipynb")
    assert demo._running_cell(tmp_path / "out.ipynb") == "cell 3/3 (3. Training)"
    new.update(nimg=2500, eta_s=0.0)
    (run_dir / "claims" / "row_g" / "progress.json").write_text(json.dumps(new))
    assert demo._training_progress(run_dir).startswith("training main run: 6.0/36.0 kimg")  # the finished one drops out
    old["updated"] = time.time() - 600
    (run_dir / "progress.json").write_text(json.dumps(old))
    assert demo._training_progress(run_dir) is None  # stale: that run is not training now
    (tmp_path / "bad.ipynb").write_text("{half a notebook")
    assert demo._running_cell(tmp_path / "bad.ipynb") is None  # mid-write: skipped, never an error
