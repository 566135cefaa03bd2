"""The alphaGAN notebook's claims, each measured against its own seed-to-seed noise (:mod:`gancore.claims`).

Side runs live under ``out_dir/claims/<name>/`` (each a resumable run folder):

* ``frozen-seed<k>`` — the α-frozen control search, as long as the main search, for ``claims_seeds`` seeds. The gap
  also falls from weight training alone (Fig. 4 shows the search alone), so the claim compares the search's drop
  with the control's, and the range of the control's drop over seeds is the noise.
* ``retrain-<genotype>-seed<k>`` — the searched genotype, ``claims_random`` random genotypes of the same space and the
  published alphaGAN(s), each retrained with the same budget for ``claims_seeds`` seeds (Table 2's "Random search"
  row and §5.1). The noise is the largest range of one genotype's FID over its seeds.
* ``baseline-*`` — with the Gumbel-max trick or warm-up switched on, the default search (softmax, no warm-up) and
  its retrain, for Table 9's rows.
"""
from __future__ import annotations

import json
from typing import Any

from gancore.claims import mean, spread, verdict
from gancore.config import ConfigError, load_yaml, papers_dir
from gancore.recipes import common
from gancore.recipes.alphagan.data import ImageBank
from gancore.recipes.alphagan.recipe import PAPER, AlphaGANRun, run
from gancore.recipes.alphagan.config import AlphaGANConfig
from gancore.models.alphagan_space import load_genotype
from gancore.errors import TrainingDiverged


def _side(cfg: AlphaGANConfig, name: str, **changes: Any) -> AlphaGANConfig:
    """A side run's config. It checkpoints on the main run's cadence (searches: ``ckpt_every_epochs``, retrains:
    ``ckpt_every_kimg``), not only at exit: at full scale a side retrain is a 100k-iteration run that must resume.
    Each side run is one search or one retrain, so ``search_seeds`` is 1 there."""
    return common.claim_config(cfg, name=name, ablation_key="mode",
                               changes={"ckpt_every_kimg": cfg.ckpt_every_kimg, "search_seeds": 1, **changes})


def claims_cost(cfg: AlphaGANConfig, summary: dict[str, Any]) -> dict[str, Any]:
    """What ``claim_experiments`` will train after the main run of ``summary``: α-frozen searches (one per claim
    seed), retrains (searched, random and published genotypes × seeds, less the main retrain it reuses) and, with a
    Table 9 switch on, a baseline search with its retrains. ``seconds`` prices them at the main run's measured
    search and retrain times (scaled by the claims' retrain length); ``ratio`` is that over the main run's time."""
    searched = "search" in summary
    seeds, its = cfg.claims_seeds, cfg.claims_retrain_iterations or cfg.retrain_iterations
    searches = seeds if searched else 0
    contenders = 1 + cfg.claims_random + (cfg.genotype != "alphagan_s" or searched)
    reuse = 1 if its == cfg.retrain_iterations and "retrain" in summary else 0
    retrains = contenders * seeds - reuse
    if searched and (cfg.relaxation == "gumbel" or cfg.warmup):
        searches, retrains = searches + 1, retrains + seeds
    t_search = summary.get("search", {}).get("train_seconds") or 0.0
    t_retrain = (summary.get("retrain", {}).get("train_seconds") or 0.0) * its / max(cfg.retrain_iterations, 1)
    seconds = searches * t_search + retrains * t_retrain
    main = t_search + (summary.get("retrain", {}).get("train_seconds") or 0.0)
    return {"searches": searches, "retrains": retrains, "retrain_iterations": its, "seconds": round(seconds, 1),
            "ratio": round(seconds / main, 2) if main else None}


def planned_claims_cost(cfg: AlphaGANConfig) -> dict[str, Any]:
    """:func:`claims_cost` before anything has run: the search and the retrain priced by the images their nets
    process (a search epoch: T weight steps, R steps for each of D̄ and Ḡ, S architecture steps; a retrain iteration:
    n_critic D batches and a G batch), which is what their wall times scale with on one device."""
    search = cfg.epochs * (cfg.weight_steps + 2 * cfg.worst_steps + cfg.arch_steps) * cfg.batch_size
    retrain = cfg.retrain_iterations * (cfg.retrain_n_critic * cfg.retrain_d_batch + cfg.retrain_g_batch)
    summary: dict[str, Any] = {}
    if cfg.mode != "retrain":
        summary["search"] = {"train_seconds": float(search) * cfg.search_seeds}
    if cfg.mode != "search":
        summary["retrain"] = {"train_seconds": float(retrain) * cfg.search_seeds}
    return claims_cost(cfg, summary)


def decide_run_claims(cfg: AlphaGANConfig, run_claims: bool | None) -> bool:
    """The notebook's ``run_claims``: True/False as given; None (its default) runs them, except where a full-scale
    preset's claim runs would more than double the run (the full presets: 3 α-frozen searches and ~11 retrains of
    100k iterations), which must be asked for: that refuses with the cost, before anything trains."""
    if run_claims is not None:
        return bool(run_claims)
    cost = planned_claims_cost(cfg)
    if cfg.scale != "full" or not cost["ratio"] or cost["ratio"] <= 2:
        return True
    what = (f"{cost['searches']} α-frozen searches and {cost['retrains']} retrains of {cost['retrain_iterations']} "
            f"iterations, ≈ {cost['ratio']:.1f}× this run")
    if cfg.dry_run:
        print(f"run_claims not given: a full run would ask for it (the claims add {what})")
        return False
    raise ConfigError(f"the claims of this full-scale run add {what}. Choose: -p run_claims True to run them (the "
                      "claims table), or -p run_claims False to skip them (the table then says 'not tested')")


def _seeds(cfg: AlphaGANConfig) -> list[int]:
    return [cfg.seed + k for k in range(cfg.claims_seeds)]


def gap_drop(gaps: list[float]) -> float | None:
    """How much the duality gap fell over a search: the mean of the first quarter of epochs minus the mean of the
    last quarter (at least one epoch each), so single-epoch spikes (Fig. 4's alphaGAN(l)) weigh less."""
    if len(gaps) < 2:
        return None
    w = max(1, len(gaps) // 4)
    return sum(gaps[:w]) / w - sum(gaps[-w:]) / w


def _search_side(cfg: AlphaGANConfig, name: str, images: ImageBank | None, progress: bool,
                 **changes: Any) -> dict[str, Any]:
    sub = _side(cfg, name, mode="search", genotype="", **changes)
    try:
        r = run(sub, images=images, progress=progress)
    except TrainingDiverged as e:  # a diverging side run is a result, not a reason to stop the notebook
        return {"name": name, "diverged": str(e)}
    s = r.summary["search"]
    return {"name": name, "seed": sub.seed, "gap": s.get("gap", []), "train_seconds": s.get("train_seconds"),
            "genotype": s.get("genotype"), "gap_drop": gap_drop(s.get("gap", []))}


def _retrain_side(cfg: AlphaGANConfig, name: str, genotype: str, seed: int, images: ImageBank | None,
                  progress: bool) -> dict[str, Any]:
    iterations = cfg.claims_retrain_iterations or cfg.retrain_iterations
    sub = _side(cfg, f"retrain-{name}-seed{seed}", mode="retrain", genotype=genotype, seed=seed,
                retrain_iterations=iterations)
    try:
        r = run(sub, images=images, progress=progress)
    except TrainingDiverged as e:
        return {"genotype": name, "seed": seed, "diverged": str(e)}
    return _retrain_row(name, seed, r.summary["retrain"])


def _retrain_row(name: str, seed: int, s: dict[str, Any]) -> dict[str, Any]:
    """One retrain's line of the searched-vs-random comparison, from its summary."""
    final = s.get("final", {})
    return {"genotype": name, "seed": seed, "iterations": s.get("iterations_done"), "fid": final.get("fid"),
            "is_mean": final.get("is_mean"), "kid_mean": final.get("kid_mean"), "params_G": s.get("params_G"),
            "train_seconds": s.get("train_seconds")}


def claim_experiments(cfg: AlphaGANConfig, main: AlphaGANRun, *, progress: bool = False) -> dict[str, Any]:
    """Every side run of the claims table (resumable; a finished one is read back, not retrained)."""
    images = main.images
    out: dict[str, Any] = {"controls": [], "retrains": [], "baseline": {}}
    if main.search is not None:
        out["controls"] = [_search_side(cfg, f"frozen-seed{s}", images, progress, freeze_alpha=True, warmup=False,
                                        seed=s) for s in _seeds(cfg)]
    searched = None
    if main.retrain is not None:
        searched = main.retrain.genotype.compact()
    elif main.search is not None:
        searched = main.search.genotype.compact()
    contenders = ([("searched", searched)] if searched else []) + [
        (f"random{k}", f"random:{k}") for k in range(cfg.claims_random)]
    if searched != load_genotype("alphagan_s").compact():  # mode=retrain of alphagan_s: already the first entry
        contenders.append(("alphagan_s", "alphagan_s"))
    iterations = cfg.claims_retrain_iterations or cfg.retrain_iterations
    for name, spec in contenders:
        for s in _seeds(cfg):
            # (the main retrain's seed is that of the chosen search when search_seeds > 1)
            if name == "searched" and main.retrain is not None and s == main.retrain.cfg.seed \
                    and iterations == cfg.retrain_iterations \
                    and main.retrain.summary.get("final"):
                # The main retrain is this very run (same genotype, seed and length; only the folder differs).
                out["retrains"].append(_retrain_row(name, s, main.retrain.summary))
                continue
            out["retrains"].append(_retrain_side(cfg, name, spec, s, images, progress))
    if main.search is not None and (cfg.relaxation == "gumbel" or cfg.warmup):
        base = _search_side(cfg, "baseline-search", images, progress, relaxation="softmax", warmup=False,
                            freeze_alpha=False)
        out["baseline"] = {"search": base, "retrains": []}
        if base.get("genotype"):
            spec = load_genotype(json.dumps(base["genotype"])).compact()
            out["baseline"]["retrains"] = [_retrain_side(cfg, "baseline", spec, s, images, progress)
                                           for s in _seeds(cfg)]
    return out


def fid_rule(cfg: AlphaGANConfig) -> str:
    """Which of a retrain's evaluations its FID is (the claims say it: the best of several is optimistic)."""
    if cfg.retrain_select == "best" and cfg.retrain_eval_every_epochs:
        return (f"FIDs: each retrain's best evaluation (every {cfg.retrain_eval_every_epochs} passes over the data "
                "and at the end, the authors' rule)")
    return "FIDs: each retrain's final G_ema"


def _fids(results: list[dict[str, Any]], name: str) -> list[float]:
    return [r["fid"] for r in results if r.get("genotype") == name and r.get("fid") is not None]


def claims_table(cfg: AlphaGANConfig, summary: dict[str, Any], results: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of claim | paper | this run | verdict, for papers/alphagan/paper.yaml's claims."""
    claims = load_yaml(papers_dir() / PAPER / "paper.yaml")["claims"]

    def row(key: str, this_run: str, v: str) -> dict[str, Any]:
        holds = {"holds": True, "does not hold": False}.get(v)  # within noise / not tested: no yes-or-no answer
        return {"claim": claims[key]["claim"], "paper": claims[key]["paper"], "this run": this_run, "verdict": v,
                "holds": holds}

    rows = []
    gaps = summary.get("search", {}).get("gap", [])
    controls = [c for c in results.get("controls", []) if c.get("gap_drop") is not None]
    drop = gap_drop(gaps)
    if drop is not None and controls:
        c_drops = [c["gap_drop"] for c in controls]
        # Paired with the control of the search's own seed (same data, latents and init; only α's updates differ);
        # the control's range over seeds says how much the drop moves by chance alone.
        seed = summary.get("chosen_seed", cfg.seed)  # the search shown is the chosen one under search_seeds > 1
        paired = next((c["gap_drop"] for c in controls if c.get("seed") == seed), mean(c_drops))
        effect = drop - paired
        rows.append(row("gap_falls", f"gap drop over the search {drop:+.3f} (V {gaps[0]:.3f} → {gaps[-1]:.3f}); "
                                     f"α-frozen control drops {', '.join(f'{d:+.3f}' for d in c_drops)} (seeds "
                                     f"{', '.join(str(c.get('seed')) for c in controls)}); search − control at the "
                                     f"same seed {effect:+.3f}, seed-to-seed range of the control "
                                     f"{_fmt(spread(c_drops))}", verdict(effect, spread(c_drops))))
    else:
        rows.append(row("gap_falls", "—", "not tested: needs a search (mode search or search+retrain) and the "
                                           "control runs (run_claims=True)"))
    retrains = results.get("retrains", [])
    noise = _retrain_noise(retrains)
    searched = _fids(retrains, "searched")
    randoms = sorted({r["genotype"] for r in retrains if r["genotype"].startswith("random")})
    label = "searched" if "search" in summary else f"retrained ({cfg.genotype or 'genotype.json'}, no search here)"
    for name in randoms:
        rf = _fids(retrains, name)
        if searched and rf:
            effect = mean(rf) - mean(searched)
            rows.append(row("searched_beats_random", f"FID {label} {_fmts(searched)} vs {name} {_fmts(rf)} (same "
                                                     f"retrain budget); difference {effect:+.2f}, seed-to-seed "
                                                     f"noise {_fmt(noise)}; {fid_rule(cfg)}",
                                     verdict(effect, noise)))
        else:
            rows.append(row("searched_beats_random", f"{name}: no FID", "not tested: no FID (the shapes network "
                                                                         "scores only shapes; give Inception weights)"))
    if not randoms:
        rows.append(row("searched_beats_random", "—", "not tested: claims_random = 0 or run_claims=False"))
    pub = _fids(retrains, "alphagan_s") or (searched if cfg.genotype == "alphagan_s" else [])
    rand_all = [f for n in randoms for f in _fids(retrains, n)]
    if pub and rand_all:
        effect = mean(rand_all) - mean(pub)
        rows.append(row("published_beats_random", f"FID alphaGAN(s) {_fmts(pub)} vs random genotypes "
                                                  f"{_fmts(rand_all)}; difference {effect:+.2f}, noise {_fmt(noise)}; "
                                                  f"{fid_rule(cfg)}",
                        verdict(effect, noise)))
    else:
        rows.append(row("published_beats_random", "—", "not tested: no retrain FIDs (run_claims=False, or no FID "
                                                        "for this dataset)"))
    rows += _table9_rows(cfg, summary, results, row, noise)
    return rows


def _retrain_noise(retrains: list[dict[str, Any]]) -> float | None:
    spreads = [spread(_fids(retrains, n)) for n in {r["genotype"] for r in retrains}]
    spreads = [s for s in spreads if s is not None]
    return max(spreads) if spreads else None


def _table9_rows(cfg, summary, results, row, noise) -> list[dict[str, Any]]:
    base = results.get("baseline") or {}
    base_fids = _fids(base.get("retrains", []), "baseline")
    main_fids = _fids(results.get("retrains", []), "searched")
    out = []
    for key, on, how in (("gumbel", cfg.relaxation == "gumbel", "relaxation='gumbel'"),
                         ("warmup", cfg.warmup, "warmup=True")):
        if not on:
            out.append(row(key, "—", f"not tested: the switch is off (rerun with {how} and run_claims=True)"))
            continue
        if not (base_fids and main_fids):
            out.append(row(key, "—", "not tested: no retrain FIDs of the baseline search"))
            continue
        effect = mean(main_fids) - mean(base_fids)  # the paper: the switch gives a worse (higher) FID
        text = (f"FID with {how} {_fmts(main_fids)} vs baseline search {_fmts(base_fids)}; difference {effect:+.2f}, "
                f"noise {_fmt(noise)}; {fid_rule(cfg)}")
        if key == "warmup":
            t_main = summary.get("search", {}).get("train_seconds")
            t_base = (base.get("search") or {}).get("train_seconds")
            if t_main and t_base:  # warm-up epochs skip D̄, Ḡ and V (the authors' saving) unless warmup_measure_gap
                text += f"; search time {t_main:.0f} s vs {t_base:.0f} s"
        out.append(row(key, text, verdict(effect, noise)))
    return out


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def _fmts(values: list[float]) -> str:
    return "/".join(f"{v:.1f}" for v in values)


__all__ = ["claim_experiments", "claims_cost", "claims_table", "fid_rule", "gap_drop"]
