"""The DGGAN notebook's analysis of a search ("Analysis", Fig. 3, Tables 1–3), from its ``search_state.json``.

* :func:`candidate_rows` — every searched candidate: step, lineage, resolution, FID, normalized FID, G/D parameters.
* :func:`ratio_figure` — Fig. 3 left: G-to-D parameter ratio against normalized FID, all candidates and the zoom on
  nFID < 1.2, with the best growth route drawn as arrows.
* :func:`action_stats` — Fig. 3 middle: per action, the share of children that improve on their parent and the mean
  and std of the improvement. The paper computes "normalized FID of a child over normalized FID of its parent";
  gancore reports ``1 − child/parent``, so a positive number is an improvement.
* :func:`parent_quality` — Fig. 3 right top: the share of good children of good and of sub-optimal parents for
  nFID thresholds in [0.5, 1]. "Good" is nFID *below* the threshold (the paper's text says "above", which would
  call the worse candidates good; paper.yaml notes it).
* :func:`replay` — Fig. 3 right bottom, the Efficiency section's simulation: Alg. 1 re-run on the logged tree with a
  smaller K′ or p′, ignoring children the real search never trained. The hash coins make it exact for p′ ≤ p: a
  pair whose coin is below p′ was also sampled by the real search, whenever its parent was a real parent.
* :func:`tree_figure`, :func:`architecture_table`, :func:`table2` — the search tree, the final architecture, and the
  grown model against the symmetric baseline per resolution beside the paper's numbers.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from gancore.config import load_yaml, papers_dir
from gancore.models.dggan import ArchSpec
from gancore.search.dggan import SearchState, coin, top_k

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def baseline_table(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The symmetric baseline per resolution: FID per seed, their mean (the normalizer) and range (the noise)."""
    return [{"resolution": f"{r}²", "FID per seed": ", ".join(f"{f:.2f}" for f in b["fids"]), "mean": b["mean"],
             "seed range": b["spread"]} for r, b in summary.get("baseline", {}).items()]


def candidate_rows(state: SearchState) -> list[dict[str, Any]]:
    """One row per searched candidate (the base and every step's children), in the order they were made, with the
    normalized FID the search ranked it by (kept in its record)."""
    first_step = {"base": 0}
    for s in state.steps:
        for cid in s["children"]:
            first_step.setdefault(cid, s["step"])
    kept = {cid for s in state.steps for cid in s["kept"]} | {"base"}
    rows = []
    for cid, step in first_step.items():
        rec = state.records.get(f"candidates/{cid}")
        if rec is None:
            continue
        nfid = rec.get("nfid")
        g, d = rec.get("params_G"), rec.get("params_D")
        rows.append({"cid": cid, "step": step, "parent": rec.get("parent", ""), "action": rec.get("action", ""),
                     "resolution": rec["resolution"], "fid": rec.get("fid"), "nfid": nfid, "params_G": g,
                     "params_D": d, "g2d": (g / d) if g and d else None, "kept": cid in kept,
                     "layers_G": rec.get("layers_G"), "layers_D": rec.get("layers_D"),
                     "status": rec.get("status"), "error": rec.get("error")})
    return rows


def route(rows: Sequence[dict[str, Any]], cid: str | None) -> list[dict[str, Any]]:
    """The growth route from the base to ``cid`` (the rows of its ancestors, base first)."""
    by_id = {r["cid"]: r for r in rows}
    out = []
    while cid and cid in by_id:
        out.append(by_id[cid])
        cid = by_id[cid]["parent"]
    return out[::-1]


def is_symmetric(row: dict[str, Any]) -> bool:
    """Whether a candidate is a symmetric ProGAN (reached by grow alone)."""
    return all(part == "grow" for part in row["cid"].split("+")[1:])


def action_stats(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fig. 3 middle: per action, how often a child improves on its parent, and the improvement's mean and std."""
    by_id = {r["cid"]: r for r in rows}
    per: dict[str, list[float]] = {}
    for r in rows:
        parent = by_id.get(r["parent"])
        if r["action"] and parent and r["nfid"] is not None and parent["nfid"]:
            per.setdefault(r["action"], []).append(1.0 - r["nfid"] / parent["nfid"])
    out = []
    for action, vals in sorted(per.items()):
        m = sum(vals) / len(vals)
        sd = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else None
        out.append({"action": action, "children": len(vals), "improved share": sum(v > 0 for v in vals) / len(vals),
                    "mean improvement": m, "std": sd})
    return out


def parent_quality(rows: Sequence[dict[str, Any]], *, thresholds: Sequence[float] = THRESHOLDS
                   ) -> list[dict[str, Any]]:
    """Fig. 3 right top: per threshold t, the share of good children (nFID < t) of good parents (nFID < t) and of
    sub-optimal parents (nFID ≥ t), with the number of children in each group."""
    by_id = {r["cid"]: r for r in rows}
    pairs = [(by_id[r["parent"]]["nfid"], r["nfid"]) for r in rows
             if r["parent"] in by_id and r["nfid"] is not None and by_id[r["parent"]]["nfid"] is not None]
    out = []
    for t in thresholds:
        good = [c < t for p, c in pairs if p < t]
        bad = [c < t for p, c in pairs if p >= t]
        out.append({"threshold": t, "good parents' children": len(good),
                    "good share | good parent": sum(good) / len(good) if good else None,
                    "sub-optimal parents' children": len(bad),
                    "good share | sub-optimal parent": sum(bad) / len(bad) if bad else None})
    return out


def replay(state: SearchState, rows: Sequence[dict[str, Any]], *, k: int, p: float, seed: int,
           actions: Sequence[str], force_grow: bool) -> dict[str, Any]:
    """Alg. 1 re-run on the logged tree with top-K ``k`` and sampling ``p`` (Efficiency section); children the real
    search did not train are ignored. Returns the best normalized FID reached and the candidates it trains."""
    by_id = {r["cid"]: r for r in rows}
    parents, trained, best = ["base"], 0, by_id.get("base", {}).get("nfid")
    for s in state.steps:
        children = [f"{pid}+{a}" for pid in parents for a in actions
                    if coin(seed=seed, step=s["step"], parent=pid, action=a) < p]
        if force_grow and not any(c.endswith("+grow") for c in children) and parents:
            children.append(f"{parents[0]}+grow")
        reached = [c for c in children if c in by_id]
        trained += len(reached)
        ranked = top_k([(c, by_id[c]["nfid"]) for c in reached], k=k)
        if not ranked:
            break
        parents = ranked
        scores = [by_id[c]["nfid"] for c in ranked]
        best = min([b for b in (best, *scores) if b is not None], default=None)
    return {"K": k, "p": p, "best nFID": best, "candidates trained": trained}


def replay_table(state: SearchState, rows: Sequence[dict[str, Any]], *, cfg: Any) -> list[dict[str, Any]]:
    """The replay for every K′ ≤ K and p′ ≤ p on a small grid (the real search is its own first row)."""
    names = [a.name for a in cfg.action_set()]
    ks = sorted({cfg.top_k, max(1, cfg.top_k // 2), max(1, cfg.top_k * 2 // 5), 1}, reverse=True)
    ps = sorted({cfg.sample_p, round(cfg.sample_p / 2, 4)}, reverse=True)
    return [replay(state, rows, k=k, p=p, seed=cfg.seed, actions=names, force_grow=cfg.force_grow)
            for k in ks for p in ps]


def architecture_table(spec: ArchSpec) -> list[dict[str, Any]]:
    """The final architecture as a table: every conv of G (forward order) and D (from the image down)."""
    rows = [{"net": "G", "layer": l.name, "resolution": l.res, "kernel": l.kernel, "filters": l.filters,
             "origin": "action" if ".x" in l.name else "ProGAN block"} for l in spec.g]
    rows += [{"net": "D", "layer": l.name, "resolution": l.res, "kernel": l.kernel, "filters": l.filters,
              "origin": "action" if ".x" in l.name else "ProGAN block"} for l in spec.d]
    return rows


def table2(summary: dict[str, Any], *, dataset: str) -> list[dict[str, Any]]:
    """Grown vs symmetric baseline per resolution (Table 2's form), with the paper's numbers beside ours."""
    reported = load_yaml(papers_dir() / "dggan" / "paper.yaml")["reported"]
    paper = reported["table2_lsun" if dataset != "cifar10" else "cifar10_resolutions"]
    rows = []
    base, best = summary.get("baseline", {}), summary.get("best", {})
    for res in sorted({int(r) for r in base} | {int(r) for r in best}):
        b, g = base.get(res) or base.get(str(res)) or {}, best.get(res) or best.get(str(res)) or {}
        ours = g.get("fid")
        pb = paper.get(res) or paper.get(str(res)) or {}
        rows.append({"resolution": f"{res}²", "baseline FID (mean of seeds)": b.get("mean"),
                     "baseline seed range": b.get("spread"), "grown FID (best)": ours,
                     "improvement": (1 - ours / b["mean"]) if ours is not None and b.get("mean") else None,
                     "paper ProGAN": pb.get("progan"), "paper DGGAN": pb.get("dggan"),
                     "paper improvement": pb.get("improvement_printed")})
    fin, bfin = summary.get("final"), summary.get("baseline_final")
    if fin and bfin and fin.get("fid") is not None and bfin.get("fid") is not None:
        rows.append({"resolution": "final (trained longer)", "baseline FID (mean of seeds)": bfin["fid"],
                     "baseline seed range": None, "grown FID (best)": fin["fid"],
                     "improvement": 1 - fin["fid"] / bfin["fid"], "paper ProGAN": None, "paper DGGAN": None,
                     "paper improvement": None})
    return rows


def final_metrics(summary: dict[str, Any], *, dataset: str) -> list[dict[str, Any]]:
    """The final pair's FID, IS (Table 1) and SWD ×10³ averaged over levels (Table 3), with the paper's row (CIFAR-10:
    Table 1; otherwise LSUN 256²: Table 3). IS and SWD mean what the paper's mean only with Inception at full scale."""
    reported = load_yaml(papers_dir() / "dggan" / "paper.yaml")["reported"]
    rows = []
    for name, key in (("grown (final)", "final"), ("symmetric baseline (final)", "baseline_final")):
        r = summary.get(key) or {}
        rows.append({"model": name, "resolution": r.get("resolution"), "FID": r.get("fid"), "IS": r.get("is_mean"),
                     "IS std": r.get("is_std"), "SWD ×10³ avg": r.get("swd_avg")})
    if dataset == "cifar10":
        t = reported["table1_cifar10"]
        rows.append({"model": "paper DGGAN (Table 1)", "resolution": 32, "FID": t["dggan_fid"], "IS": t["dggan_is"],
                     "IS std": None, "SWD ×10³ avg": None})
    else:
        t = reported["table3_lsun256"]
        rows.append({"model": "paper DGGAN (Table 3)", "resolution": 256, "FID": t["dggan_fid"], "IS": None,
                     "IS std": None, "SWD ×10³ avg": t["dggan_swd_avg"]})
    return rows


__all__ = ["action_stats", "architecture_table", "baseline_table", "candidate_rows", "final_metrics",
           "parent_quality", "replay", "replay_table", "route", "table2"]
