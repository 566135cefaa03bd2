"""ProGAN's claims, tested beside the main run (papers/progan/paper.yaml): Fig. 4 (progressive growing beats a
fixed-resolution run in equal time) and Table 1 rows (d)–(g) (minibatch stddev, equalized learning rate and pixelwise
normalization, one by one), with verdicts that mean the same on every machine (:mod:`gancore.claims`)."""
from __future__ import annotations

import math
from typing import Any, Iterator

from gancore.errors import TrainingDiverged
from gancore.recipes import common
from gancore.recipes.progan.config import ProGANConfig
from gancore.recipes.progan.recipe import PAPER, run


def _claim_config(cfg: ProGANConfig, name: str, **changes: Any) -> ProGANConfig:
    """A claims side run (:func:`gancore.recipes.common.claim_config`); Table 1 rows are its switches."""
    return common.claim_config(cfg, name=name, ablation_key="ablation",
                               changes={"metrics_every_kimg": 0.0, "log_every_kimg": 0.5, **changes})


def claim_experiments(cfg: ProGANConfig, *, progress: bool = False) -> dict[str, dict[str, Any]]:
    """Short runs beside the main one, each a full resumable run under ``out_dir/claims/<name>``.

    - ``progressive`` vs ``fixed`` (Fig. 4: progressive growing reaches a better SWD in the same wall-clock time).
      The budget is set so that every machine reaches the compared state: the progressive run trains first, to the
      end of its schedule (grown to ``claims_resolution`` and stabilized there, a fixed number of images), and the
      fixed-resolution run then gets the seconds the progressive run took *on this machine*. A fixed number of
      seconds would leave a slow CPU's progressive run at a lower resolution, with nothing to compare.
    - Table 1 rows (d), (e), (f), (g) for ``claims_kimg`` at ``claims_resolution``: minibatch stddev, equalized
      learning rate and pixelwise normalization enabled one by one. ``low_capacity`` is left as the preset has it
      so all rows share the reduced networks.

    The pair and row (g) repeat over ``claims_seeds`` seeds (``seed``, ``seed + 1``, …): their seed-to-seed spread
    is the noise band of the verdicts (:mod:`gancore.claims`). Results are keyed ``<name>`` for the first seed and
    ``<name>@<k>`` for the k-th further one.
    """
    # Fewer final images than the main run: these runs compare configurations, and MS-SSIM costs ~5 ms a pair.
    sizes = dict(final_num_images=min(cfg.final_num_images, 512), metric_num_images=min(cfg.metric_num_images, 512))
    res = min(cfg.claims_resolution, cfg.resolution)
    results: dict[str, dict[str, Any]] = {}

    def one(name: str, **changes: Any) -> dict[str, Any]:
        sub = _claim_config(cfg, name, **sizes, **changes)
        try:
            r = run(sub, progress=progress, evaluate=True, baseline=False)
        except TrainingDiverged as e:  # a diverging configuration is a result, not a reason to stop the notebook
            results[name] = {"diverged": str(e)}
            return results[name]
        results[name] = {"kimg": r.summary.get("kimg"), "train_seconds": r.summary.get("train_seconds"),
                         "resolution": r.summary.get("final_resolution"), "alpha": r.summary.get("final_alpha"),
                         "seed": sub.seed, **{k: v for k, v in r.summary.get("final", {}).items()}}
        return results[name]

    for k in range(cfg.claims_seeds):
        tag = "" if k == 0 else f"@{k}"
        prog = one("progressive" + tag, **_progressive_claim_changes(cfg, k))
        seconds = prog.get("train_seconds") or 0.0
        if seconds > 0:  # a diverged progressive run leaves no time to match
            one("fixed" + tag, progressive=False, max_seconds=seconds, total_kimg=1e6, ablation="", resolution=res,
                seed=cfg.seed + k)
    for name, changes in _row_claim_changes(cfg):
        one(name, **changes)
    return results


def _progressive_claim_changes(cfg: ProGANConfig, k: int) -> dict[str, Any]:
    """The Fig. 4 progressive run of seed ``seed + k``: grown to ``claims_resolution`` and to its schedule's end."""
    return dict(progressive=True, stabilize_kimg=cfg.claims_phase_kimg, fade_kimg=cfg.claims_phase_kimg,
                total_kimg=0.0, max_seconds=0.0, ablation="", resolution=min(cfg.claims_resolution, cfg.resolution),
                seed=cfg.seed + k)


def claim_runs(cfg: ProGANConfig, **sizes: Any) -> Iterator[tuple[str, ProGANConfig]]:
    """("progressive" | "row", config) of the claim runs whose length is known before any of them trains (a fixed
    run gets its progressive partner's seconds), for the notebook's time estimate."""
    for k in range(cfg.claims_seeds):
        yield "progressive", _claim_config(cfg, "progressive", **sizes, **_progressive_claim_changes(cfg, k))
    for name, changes in _row_claim_changes(cfg):
        yield "row", _claim_config(cfg, name, **sizes, **changes)


def _row_claim_changes(cfg: ProGANConfig) -> list[tuple[str, dict[str, Any]]]:
    """(name, changes) of the Table 1 row runs (d), (e), (f) and (g), row (g) over ``claims_seeds`` seeds."""
    out = []
    for row in ("d", "e", "f", "g"):
        for k in range(cfg.claims_seeds if row == "g" else 1):
            out.append((f"row_{row}" + ("" if k == 0 else f"@{k}"), dict(
                ablation=row, resolution=min(cfg.claims_resolution, cfg.resolution), total_kimg=cfg.claims_kimg,
                stabilize_kimg=cfg.claims_kimg / 4, fade_kimg=cfg.claims_kimg / 4, low_capacity=cfg.low_capacity,
                batch_size=cfg.batch_size, latent_dim=cfg.latent_dim, seed=cfg.seed + k)))
    return out


def claims_table(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of paper claim | paper's figure | this run | verdict, fed from papers/progan/paper.yaml.

    Verdicts follow :mod:`gancore.claims`: *holds* / *does not hold* only when the effect exceeds the seed-to-seed
    spread, *within noise* otherwise, and *not tested* (with the reason) when the comparison could not be made.
    ``holds`` is kept for older readers: True / False for a decided verdict, None otherwise.
    """
    from gancore.claims import mean, spread, verdict
    from gancore.config import load_yaml, papers_dir

    claims = load_yaml(papers_dir() / PAPER / "paper.yaml")["claims"]

    def swd(r: dict[str, Any]) -> float | None:
        v = r.get("swd_avg")
        return float(v) if v is not None and math.isfinite(float(v)) else None

    def row(key: str, this_run: str, v: str) -> dict[str, Any]:
        c = claims[key]
        holds = True if v == "holds" else False if v == "does not hold" else None
        return {"claim": c["claim"], "paper": c["paper"], "this run": this_run, "verdict": v, "holds": holds}

    def fmt(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.2f}"

    # Fig. 4: progressive vs fixed at equal time, each seed's pair timed on this machine.
    progs, fixeds = common.seeds_of(results, "progressive"), common.seeds_of(results, "fixed")
    reached = [p for p in progs if p.get("alpha") == 1.0 and fixeds and p.get("resolution") == fixeds[0].get("resolution")]
    p_swd, f_swd = [swd(p) for p in progs], [swd(f) for f in fixeds]
    p_mean, f_mean = mean(p_swd), mean(f_swd)
    noise = max((x for x in (spread(p_swd), spread(f_swd)) if x is not None), default=None)
    res = fixeds[0].get("resolution") if fixeds else None
    if not progs or not fixeds or any("diverged" in r for r in progs + fixeds):
        text, v = "a run of the pair diverged or was not run", verdict(None, None, untested="no pair to compare")
    elif len(reached) < len(progs):
        text = f"progressive stopped at {progs[0].get('resolution')}², α={progs[0].get('alpha') or 0:.2f}"
        v = verdict(None, None, untested="the progressive run did not reach the compared resolution")
    else:
        text = (f"avg SWD×10³ at {res}², mean of {len(progs)} seeds: {fmt(p_mean)} (progressive, "
                f"{mean([p.get('kimg') for p in progs]) or 0:.1f} kimg) vs {fmt(f_mean)} (fixed, "
                f"{mean([f.get('kimg') for f in fixeds]) or 0:.1f} kimg), each pair in the seconds the progressive "
                f"run took here ({mean([p.get('train_seconds') for p in progs]) or 0:.0f} s); seed spread {fmt(noise)}")
        effect = None if p_mean is None or f_mean is None else f_mean - p_mean
        v = verdict(effect, noise, untested="an SWD was not finite")
    out = [row("progressive_vs_fixed", text, v)]

    # Table 1 rows: one seed per row; row (g) over several seeds gives the spread of one row's SWD.
    g_noise = spread([swd(r) for r in common.seeds_of(results, "row_g")])
    for key, (a, b) in {"mbstd": ("d", "e"), "eq_lr": ("e", "f"), "pixelnorm": ("f", "g")}.items():
        sa, sb = swd(results.get(f"row_{a}", {})), swd(results.get(f"row_{b}", {}))
        effect = None if sa is None or sb is None else sa - sb
        out.append(row(key, f"avg SWD×10³ ({a}) {fmt(sa)} → ({b}) {fmt(sb)}; seed spread of (g) {fmt(g_noise)}",
                       verdict(effect, g_noise, untested=f"row ({a}) or ({b}) diverged or has no finite SWD")))
    ms = [results.get(f"row_{r}", {}).get("ms_ssim") for r in "defg"]
    sw = [swd(results.get(f"row_{r}", {})) for r in "defg"]
    if any(x is None or not math.isfinite(float(x)) for x in ms) or any(x is None for x in sw):
        out.append(row("msssim_blind", "a row diverged or has no finite MS-SSIM / SWD",
                       verdict(None, None, untested="needs finite MS-SSIM and SWD for rows d–g")))
    else:
        ms_spread, sw_spread = (spread(x) / max(1e-9, mean(x)) for x in (ms, sw))
        # Both are relative spreads of the same four runs, so they need no seed band: the claim is their order.
        out.append(row("msssim_blind", f"relative spread over rows d–g: MS-SSIM {ms_spread:.1%}, SWD {sw_spread:.1%}",
                       "holds" if ms_spread < sw_spread else "does not hold"))
    return out


