"""benchmarks/throughput.py measures what it says on tiny configs (it must not rot between GPU sessions)."""
import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "throughput.py"
spec = importlib.util.spec_from_file_location("throughput", _PATH)
throughput = importlib.util.module_from_spec(spec)
spec.loader.exec_module(throughput)


@pytest.mark.parametrize("paper, res, precision, channels_last, switches", [
    ("progan", 8, "fp32", False, {}),  # the gradient penalty's double backward is counted too (gancore.flops)
    ("progan", 8, "bf16", True, {"conv_gradfix": "on"}),
    ("biggan", 32, "fp32", False, {}),
    ("biggan", 32, "bf16", True, {"fused_attention": True}),
    ("dggan", 8, "fp32", False, {}),
    ("dggan", 8, "bf16", True, {"conv_gradfix": "on"}),
])
def test_measure_reports_throughput_and_flops(paper, res, precision, channels_last, switches):
    r = throughput.measure(paper, "smoke", "", res, "cpu", steps=1, warmup=0, threads=1, batch=4,
                           precision=precision, channels_last=channels_last, peak_tflops=1.0, overrides=switches)
    assert r["img_s"] > 0 and r["ms_step"] > 0 and r["peak_mib"] > 0
    assert r["tflops"] > 0 and 0 < r["mfu"] < 1
    assert r["batch"] == 4 and r["res"] == res
    assert all(f"+{k}=" in r["precision"] for k in switches)


def test_biggan_counts_every_d_step_batch():
    r = throughput.measure("biggan", "smoke", "", 32, "cpu", steps=2, warmup=0, threads=1, batch=4)
    assert r["img_s"] == pytest.approx(2 * 2 * 4 / (r["ms_step"] * 2 / 1000), rel=1e-6)  # 2 D steps × 4 reals


def test_alphagan_search_counts_every_real_image_of_an_epoch():
    # T = R = S = 1 at batch 4: 4 training-half reals (weight part) + 4 (D̄) + 4 (arch part) validation-half reals.
    r = throughput.measure("alphagan", "smoke", "", 32, "cpu", steps=1, warmup=0, threads=1, batch=4,
                           part="search", epoch_steps=1)  # no FLOP count here: it costs another (slow) epoch
    assert r["part"] == "search" and r["epoch"] == "T=1 R=1 S=1" and r["batch"] == 4 and r["res"] == 32
    assert r["img_s"] == pytest.approx(3 * 4 / r["s_epoch"], rel=1e-6)
    assert r["s_epoch"] == pytest.approx(r["ms_step"] / 1000, rel=1e-6) and r["peak_mib"] > 0
    assert throughput.per_step(r).endswith("s/epoch (T=1 R=1 S=1)")


def test_alphagan_retrain_counts_d_reals_per_g_iteration():
    r = throughput.measure("alphagan", "smoke", "", 32, "cpu", steps=2, warmup=0, threads=1, batch=4,
                           peak_tflops=1.0, part="retrain")
    assert r["part"] == "retrain" and r["batch"] == 4 and r["peak_mib"] > 0
    assert r["it_s"] == pytest.approx(1000 / r["ms_step"], rel=1e-6)
    assert r["img_s"] == pytest.approx(4 * r["it_s"], rel=1e-6)  # smoke: retrain_n_critic 1, D batch 4
    assert r["tflops"] > 0 and throughput.per_step(r).endswith("it/s")


def test_alphagan_is_fp32_only():
    with pytest.raises(SystemExit, match="fp32"):
        throughput.measure("alphagan", "smoke", "", 32, "cpu", steps=1, warmup=0, threads=1, batch=4,
                           precision="bf16", part="retrain")


def test_dggan_benchmark_runs_both_executors_and_the_full_candidate_estimate(capsys):
    spec_ = importlib.util.spec_from_file_location("dggan_candidates", _PATH.parent / "dggan_candidates.py")
    bench = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(bench)
    assert bench.main(["--scale", "smoke", "--candidates", "2", "--workers", "2", "--full-steps", "1", "--full-scale", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "local" in out and "ray ×2" in out and "2 candidates (2 ok)" in out and "device-days" in out


def test_data_pipeline_benchmark_measures_prepare_and_both_loader_paths(tmp_path):
    spec_ = importlib.util.spec_from_file_location("data_pipeline", _PATH.parent / "data_pipeline.py")
    bench = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(bench)
    out = tmp_path / "rows.json"
    assert bench.main(["--sets", "300x16", "--batch", "32", "--batches", "3", "--loader-workers", "0", "2",
                       "--prepare-images", "20", "--prepare-resolution", "16", "--workers", "0",
                       "--dir", str(tmp_path / "stores"), "--json", str(out)]) == 0
    rows = __import__("json").loads(out.read_text())
    paths = {(r.get("path"), r["workers"]) for r in rows}
    assert {("in memory", 0), ("streamed", 0), ("streamed", 2), (None, 0)} <= paths
    assert all(r["img_s"] > 0 for r in rows) and all(r["peak_mib"] > 0 for r in rows if "peak_mib" in r)


def test_gpu_report_plumbing_on_tiny_nets(tmp_path, capsys):
    """benchmarks/gpu_report.py must work the first time on a GPU node: every kind of row (training steps through
    throughput.py's workers, the FID timing with its precision check, candidates packed on one device) and the
    projections run here on smoke nets, from the checkout alone (PYTHONPATH set by the script)."""
    spec_ = importlib.util.spec_from_file_location("gpu_report", _PATH.parent / "gpu_report.py")
    report = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(report)
    out = tmp_path / "report.json"
    rows = ["biggan-128", "progan-1024", "fid-50k", "dggan-32", "alphagan-search", "alphagan-retrain"]
    assert report.main(["--tiny", "--device", "cpu", "--peak-tflops", "1", "--budget", "400", "--json", str(out),
                        "--rows", *rows]) == 0
    got = __import__("json").loads(out.read_text())["rows"]
    assert [r for r in got if "error" in r] == []
    assert {(r["name"], r["mode"]) for r in got} >= {("progan-1024", "plain"), ("progan-1024", "fast"),
                                                      ("fid-50k", "fast"), ("dggan-32", "fast ×2 on one GPU")}
    assert all(r["img_s"] > 0 for r in got)
    assert all(r["mfu"] > 0 for r in got if r.get("kind", "train") == "train")  # counted, penalties included
    assert all(r["first_step_s"] > 0 for r in got if r.get("kind", "train") == "train" and r.get("warmup", 2))
    fid = next(r for r in got if r["name"] == "fid-50k" and r["mode"] == "fast")
    assert abs(fid["fid_rel"]) < 1e-3 and fid["gen_s"] > 0 and fid["feat_s"] > 0
    text = capsys.readouterr().out
    assert "full runs, projected" in text and "GPU-days" in text and "alphaGAN(s) (fast)" in text
