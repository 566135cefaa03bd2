"""ProGAN's claims table: verdicts that mean the same on every machine (gancore.claims)."""
from __future__ import annotations

import pytest

from gancore.recipes import progan


def _run(swd: float, *, res: int = 16, alpha: float = 1.0, kimg: float = 5.0, seconds: float = 40.0, ms: float = 0.3):
    return {"swd_avg": swd, "resolution": res, "alpha": alpha, "kimg": kimg, "train_seconds": seconds, "ms_ssim": ms}


def _results(prog: list[float], fixed: list[float], rows: dict[str, float], g2: float, *, prog_res: int = 16):
    out = {}
    for k, (p, f) in enumerate(zip(prog, fixed)):
        tag = "" if k == 0 else f"@{k}"
        out["progressive" + tag] = _run(p, res=prog_res, alpha=1.0 if prog_res == 16 else 0.4)
        out["fixed" + tag] = _run(f)
    for r, v in rows.items():
        out[f"row_{r}"] = _run(v, ms=0.30 + 0.001 * "defg".index(r))
    out["row_g@1"] = _run(g2)
    return out


ROWS = {"d": 200.0, "e": 180.0, "f": 181.0, "g": 150.0}


@pytest.mark.parametrize("prog, fixed, expected", [
    ([100.0, 104.0], [150.0, 155.0], "holds"),          # 50 apart, spread 5
    ([160.0, 164.0], [100.0, 102.0], "does not hold"),
    ([100.0, 130.0], [110.0, 118.0], "within noise"),    # 9 apart, spread 30
])
def test_progressive_vs_fixed_verdict_uses_the_seed_spread(prog, fixed, expected):
    rows = progan.claims_table(_results(prog, fixed, ROWS, 152.0))
    assert rows[0]["verdict"] == expected
    assert rows[0]["holds"] is {"holds": True, "does not hold": False}.get(expected)
    assert "2 seeds" in rows[0]["this run"]


def test_progressive_short_of_the_resolution_is_not_tested_never_fails():
    rows = progan.claims_table(_results([float("nan")] * 2, [150.0, 151.0], ROWS, 152.0, prog_res=8))
    assert rows[0]["verdict"].startswith("not tested")
    assert "did not reach" in rows[0]["verdict"] and rows[0]["holds"] is None


def test_table1_rows_judged_against_row_g_spread():
    rows = {r["claim"]: r for r in progan.claims_table(_results([100, 101], [150, 151], ROWS, 155.0))}
    verdicts = [r["verdict"] for r in rows.values()][1:4]
    # d→e improves by 20 > spread 5: holds; e→f worsens by 1 < 5: within noise; f→g improves by 31: holds.
    assert verdicts == ["holds", "within noise", "holds"]


def test_a_diverged_row_is_not_tested():
    res = _results([100, 101], [150, 151], ROWS, 155.0)
    res["row_e"] = {"diverged": "NaN loss"}
    rows = progan.claims_table(res)
    assert rows[1]["verdict"].startswith("not tested") and rows[2]["verdict"].startswith("not tested")
    assert rows[4]["verdict"].startswith("not tested") and rows[4]["holds"] is None


def test_one_seed_gives_not_tested_for_lack_of_a_noise_band():
    res = {k: v for k, v in _results([100, 101], [150, 151], ROWS, 155.0).items() if "@" not in k}
    rows = progan.claims_table(res)
    assert all(r["verdict"].startswith("not tested") and "2 seeds" in r["verdict"] for r in rows[:4])


def test_a_diverged_progressive_run_is_not_tested():
    res = _results([100, 101], [150, 151], ROWS, 155.0)
    res["progressive@1"] = {"diverged": "NaN loss"}
    del res["fixed@1"]
    row = progan.claims_table(res)[0]
    assert row["verdict"].startswith("not tested") and "diverged" in row["this run"]
