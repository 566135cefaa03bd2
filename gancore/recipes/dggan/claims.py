"""The DGGAN notebook's claims, each against its own noise (:mod:`gancore.claims`).

The noise of a normalized FID is the symmetric baseline's seed-to-seed range at that resolution relative to its mean
(two baseline seeds by default): a candidate whose nFID is below 1 by less than that could be the baseline on a
luckier seed. The "good parents" claim compares two shares, whose noise is the standard error of their difference (Agresti–Caffo) (there is
no seed-to-seed repeat of a whole search at this budget).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from gancore.claims import verdict
from gancore.config import load_yaml, papers_dir
from gancore.recipes.dggan.analysis import is_symmetric, parent_quality


def _baseline(summary: dict[str, Any], res: int) -> dict[str, Any]:
    base = summary.get("baseline", {})
    return base.get(res) or base.get(str(res)) or {}


def _relative_noise(summary: dict[str, Any], res: int) -> float | None:
    b = _baseline(summary, res)
    if b.get("spread") is None or not b.get("mean"):
        return None
    return b["spread"] / b["mean"]


def claims_table(summary: dict[str, Any], rows: Sequence[dict[str, Any]], *, resolution: int) -> list[dict[str, Any]]:
    """Rows of claim | paper | this run | verdict for papers/dggan/paper.yaml's claims."""
    claims = load_yaml(papers_dir() / "dggan" / "paper.yaml")["claims"]

    def row(key: str, this_run: str, v: str) -> dict[str, Any]:
        return {"claim": claims[key]["claim"], "paper": claims[key]["paper"], "this run": this_run, "verdict": v,
                "holds": {"holds": True, "does not hold": False}.get(v)}

    out = []
    asym = [r for r in rows if r["nfid"] is not None and not is_symmetric(r)]
    if asym:
        best = min(asym, key=lambda r: r["nfid"])
        noise = _relative_noise(summary, best["resolution"])
        below = sum(r["nfid"] < 1 for r in asym)
        out.append(row("asymmetric_good", f"{below} of {len(asym)} asymmetric candidates below 1; best "
                                          f"{best['cid']} at {best['resolution']}²: nFID {best['nfid']:.3f} (G2D "
                                          f"{best['g2d']:.2f}); baseline seed range ±{_fmt(noise)} of its mean",
                       verdict(1 - best["nfid"], noise)))
    else:
        out.append(row("asymmetric_good", "—", "not tested: no asymmetric candidate finished"))
    fin, bfin = summary.get("final") or {}, summary.get("baseline_final") or {}
    noise_abs = _baseline(summary, resolution).get("spread")
    if fin.get("resolution") not in (None, resolution):
        out.append(row("grown_beats_baseline", f"the final model is at {fin['resolution']}²: no candidate reached "
                                               f"{resolution}²", f"not tested: no candidate reached {resolution}²"))
    elif fin.get("fid") is not None and bfin.get("fid") is not None:
        effect = bfin["fid"] - fin["fid"]
        out.append(row("grown_beats_baseline", f"{resolution}², both trained longer: grown {fin['fid']:.2f} vs "
                                               f"baseline {bfin['fid']:.2f} (Δ {effect:+.2f}); baseline seed range "
                                               f"{_fmt(noise_abs)}{_extras(summary, fin, bfin)}",
                       verdict(effect, noise_abs)))
    else:
        best = (summary.get("best") or {}).get(resolution) or (summary.get("best") or {}).get(str(resolution))
        b = _baseline(summary, resolution)
        if best and b.get("mean") is not None:
            effect = b["mean"] - best["fid"]
            out.append(row("grown_beats_baseline", f"{resolution}² (no final training): best {best['cid']} "
                                                   f"{best['fid']:.2f} vs baseline mean {b['mean']:.2f}; seed range "
                                                   f"{_fmt(noise_abs)}", verdict(effect, noise_abs)))
        else:
            out.append(row("grown_beats_baseline", "—", f"not tested: no candidate reached {resolution}²"))
    out.append(_good_parents(row, rows))
    return out


def _good_parents(row, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    table = parent_quality(rows, thresholds=(1.0,))[0]
    g, b = table["good share | good parent"], table["good share | sub-optimal parent"]
    ng, nb = table["good parents' children"], table["sub-optimal parents' children"]
    if g is None or b is None:
        return row("good_parents", f"children of good parents: {ng}, of sub-optimal parents: {nb}",
                   "not tested: needs children of both good (nFID < 1) and sub-optimal parents")
    # Agresti–Caffo: one good and one bad child added to each group, so shares of 0 or 1 still have an error.
    ga, ba = (g * ng + 1) / (ng + 2), (b * nb + 1) / (nb + 2)
    se = math.sqrt(ga * (1 - ga) / (ng + 2) + ba * (1 - ba) / (nb + 2))
    return row("good_parents", f"at threshold 1: {100 * g:.0f}% good children of good parents ({ng}) vs "
                               f"{100 * b:.0f}% of sub-optimal parents ({nb}); s.e. {100 * se:.0f} points",
               verdict(g - b, se))


def _extras(summary: dict[str, Any], fin: dict[str, Any], bfin: dict[str, Any]) -> str:
    """IS and SWD of the final pair (Tables 1 and 3; not part of the verdict, which is FID's) and how many drawn
    children the search skipped because they could no longer reach the top resolution."""
    parts = []
    if fin.get("is_mean") is not None and bfin.get("is_mean") is not None:
        parts.append(f"IS {fin['is_mean']:.2f} vs {bfin['is_mean']:.2f}")
    if fin.get("swd_avg") is not None and bfin.get("swd_avg") is not None:
        parts.append(f"SWD×10³ {fin['swd_avg']:.1f} vs {bfin['swd_avg']:.1f}")
    if summary.get("skipped_unreachable") is not None:
        parts.append(f"{summary['skipped_unreachable']} drawn children skipped (could not reach {fin.get('resolution')}²)")
    return "; " + "; ".join(parts) if parts else ""


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3g}"


__all__ = ["claims_table"]
