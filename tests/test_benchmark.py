"""benchmarks/throughput.py measures what it says on tiny configs (it must not rot between GPU sessions)."""
import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "throughput.py"
spec = importlib.util.spec_from_file_location("throughput", _PATH)
throughput = importlib.util.module_from_spec(spec)
spec.loader.exec_module(throughput)


@pytest.mark.parametrize("paper, res, precision, channels_last, counted", [
    ("progan", 8, "fp32", False, False),  # FlopCounterMode cannot follow the gradient penalty's autograd.grad
    ("progan", 8, "bf16", True, False),
    ("biggan", 32, "fp32", False, True),
    ("biggan", 32, "bf16", True, True),
])
def test_measure_reports_throughput_and_flops(paper, res, precision, channels_last, counted):
    r = throughput.measure(paper, "smoke", "", res, "cpu", steps=1, warmup=0, threads=1, batch=4,
                           precision=precision, channels_last=channels_last, peak_tflops=1.0)
    assert r["img_s"] > 0 and r["ms_step"] > 0 and r["peak_mib"] > 0
    assert (r["tflops"] > 0 and 0 < r["mfu"] < 1) if counted else r["tflops"] == r["mfu"] == 0
    assert r["batch"] == 4 and r["res"] == res


def test_biggan_counts_every_d_step_batch():
    r = throughput.measure("biggan", "smoke", "", 32, "cpu", steps=2, warmup=0, threads=1, batch=4)
    assert r["img_s"] == pytest.approx(2 * 2 * 4 / (r["ms_step"] * 2 / 1000), rel=1e-6)  # 2 D steps × 4 reals
