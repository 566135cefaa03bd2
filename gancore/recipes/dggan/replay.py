"""How many candidates a DGGAN preset trains, and whether they can reach the top resolution, without training any
("Discussion on Efficiency": ~2k CIFAR-10 models, 1k+ LSUN models).

:func:`replay_search` runs Alg. 1's loop with the search's own pieces — :func:`~gancore.recipes.dggan.search.plan_step`
(the hash coins, the layer cap and the reachability rule), :func:`~gancore.search.dggan.top_k`, and the stop rules
:func:`~gancore.recipes.dggan.search.stop_before` / :func:`~gancore.recipes.dggan.search.stop_after` — and replaces
training by a synthetic normalized FID, a pure function of the child:

* ``"random"``: a hash of the child's id (no preference);
* ``"low"``: lower resolutions rank first (what per-stage normalization did at reduced scale: the 8² children won);
* ``"high"``: higher resolutions rank first;
* ``"deep"``: more conv layers rank first (the cap binds soonest).

Each ranking is a tie-broken total order, as the real ranking is, so the replay is exact for that ordering.
"""
from __future__ import annotations

from typing import Any, Callable

from gancore.models.dggan import ArchSpec
from gancore.recipes.dggan.config import DGGANConfig
from gancore.recipes.dggan.search import initial_spec, plan_step, stop_after, stop_before
from gancore.search.dggan import Child, can_reach, coin, top_k

RANKINGS = ("random", "low", "high", "deep")


def synthetic_score(ranking: str, *, top_resolution: int) -> Callable[[Child], float]:
    """A normalized FID for a child under ``ranking`` (lower ranks first), with a hash jitter below one rank."""
    if ranking not in RANKINGS:
        raise ValueError(f"ranking={ranking!r}; choose one of {list(RANKINGS)}")

    def score(child: Child) -> float:
        jitter = coin(seed=0, step=0, parent=child.id, action="replay")
        if ranking == "random":
            return jitter
        if ranking == "low":
            return child.spec.resolution / top_resolution + 1e-3 * jitter
        if ranking == "high":
            return top_resolution / child.spec.resolution + 1e-3 * jitter
        return 1.0 / sum(child.spec.num_layers()) + 1e-6 * jitter

    return score


def replay_search(cfg: DGGANConfig, *, ranking: str = "random") -> dict[str, Any]:
    """Alg. 1 on ``cfg`` with a synthetic ranking. Returns the step count, the children per step, the candidates
    trained (``search``: the base and every child; ``total``: plus the other baseline seeds' chains), how many were
    skipped as unreachable or over the cap, how many trained children are at the top resolution, whether every
    trained one could reach it, and why the replay stopped."""
    score = synthetic_score(ranking, top_resolution=cfg.resolution)
    actions = cfg.action_set()
    base = initial_spec(cfg)
    specs: dict[str, ArchSpec] = {"base": base}
    parents, per_step, trained = ["base"], [], [base]
    over_cap = unreachable = 0
    stop, step = "", 0
    while not stop:
        step += 1
        if stop_before(cfg, step):
            stop = stop_before(cfg, step)
            break
        plan = plan_step(cfg, [(pid, specs[pid]) for pid in parents], actions, step)
        over_cap, unreachable = over_cap + plan.over_cap, unreachable + plan.unreachable
        if stop_before(cfg, step, plan):
            stop = stop_before(cfg, step, plan)
            break
        per_step.append(len(plan.children))
        for c in plan.children:
            specs[c.id] = c.spec
            trained.append(c.spec)
        parents = top_k([(c.id, score(c)) for c in plan.children], k=cfg.top_k)
        stop = stop_after(cfg, step, specs[parents[0]].resolution)
    levels = len(cfg.resolutions())
    return {"ranking": ranking, "steps": len(per_step), "children_per_step": per_step,
            "search": len(trained), "total": len(trained) + (cfg.baseline_seeds - 1) * levels,
            "skipped_unreachable": unreachable, "skipped_over_cap": over_cap,
            "at_top": sum(s.resolution == cfg.resolution for s in trained),
            "all_can_reach": all(can_reach(s, top_resolution=cfg.resolution, max_layers=cfg.max_layers)
                                 for s in trained),
            "stop_reason": stop}


def replay_table(cfg: DGGANConfig) -> list[dict[str, Any]]:
    """:func:`replay_search` under every ranking (the notebook's check of a preset's size)."""
    return [replay_search(cfg, ranking=r) for r in RANKINGS]


__all__ = ["RANKINGS", "replay_search", "replay_table", "synthetic_score"]
