"""DGGAN's top-K greedy pruning (Alg. 1): which children a step trains, and which of them become the next parents.

* **Sampling**: every (parent × action) pair becomes a child with probability p. The coin of a pair is a hash of
  (seed, step, parent id, action name), so the children of a step never depend on the order in which parallel
  candidates finished, and a resumed search draws the same ones.
* **At least one grow**: with small K and p a step may sample no grow action at all, and the search would never
  reach a higher resolution. ``force_grow=True`` then adds the grow child of the best parent (the first in rank
  order), documented as gancore's option, not the paper's.
* **Reachability** (:func:`step_children`): Alg. 1 grows "while not reaching maximum number of layers", and a child
  whose convs plus the four convs of every grow it still needs exceed ``max_layers`` could never reach the top
  resolution, where the paper's results are. Such a child is never trained (counted as skipped), so every trained
  candidate can still grow to the top: the search cannot spend its budget on a dead end at low resolution. When a
  step draws nothing trainable (late in a search, parents at their layer budget can only grow, and with few
  parents p = 0.4 often draws no grow), the best parent that can grow gets its grow child (``stall_grow``, gancore's
  rule; the paper is silent), so a search ends only once its parents are at the top resolution and the cap, and
  the top resolution is always reached.
* **State** (:class:`SearchState`): every finished candidate, the steps taken and the parents, in
  ``search_state.json``, written atomically after every finished candidate; a corrupt file is a clear error that
  names it, and nothing is overwritten.
* **Ranking**: children of one step mix resolutions, whose FIDs are not comparable (the paper says so). They are
  ranked by *normalized FID*: FID divided by the FID of the symmetric ProGAN baseline at the same resolution (the
  paper's Fig. 3 axis). Ties break by candidate id, so the ranking is a total order.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from gancore.checkpoint import atomic_write_text

from gancore.errors import ConfigError
from gancore.models.dggan import Action, ArchSpec


def coin(*, seed: int, step: int, parent: str, action: str) -> float:
    """A uniform number in [0, 1) that depends only on (seed, step, parent id, action name)."""
    digest = hashlib.blake2b(f"dggan:{seed}:{step}:{parent}:{action}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2.0 ** 64


@dataclass(frozen=True)
class Child:
    """A child to train: its id (``<parent id>+<action>``), parent id, the action and the spec it builds."""

    id: str
    parent: str
    action: str
    spec: ArchSpec


def sample_children(parents: Sequence[tuple[str, ArchSpec]], actions: Sequence[Action], *, p: float, seed: int,
                    step: int, force_grow: bool = False) -> list[Child]:
    """Alg. 1's inner loop: each applicable (parent, action) pair with probability ``p`` (by :func:`coin`).

    ``parents`` are (id, spec) in rank order (best first); the children come out in a canonical order (parent rank,
    then action order), whatever order anything else happens in."""
    if not 0 < p <= 1:
        raise ConfigError(f"sample_p={p} must be in (0, 1]")
    children = []
    for pid, spec in parents:
        for action in actions:
            if spec.can_apply(action) and coin(seed=seed, step=step, parent=pid, action=action.name) < p:
                children.append(Child(f"{pid}+{action.name}", pid, action.name, spec.child(action)))
    if force_grow and not any(c.action == "grow" for c in children):
        for pid, spec in parents:
            grow = Action("grow")
            if spec.can_apply(grow):
                children.append(Child(f"{pid}+grow", pid, "grow", spec.child(grow)))
                break
    return children


GROW_LAYERS = 4  # convs one grow adds: two in G's new block, two in D's


def layers_to_reach(spec: ArchSpec, *, top_resolution: int) -> int:
    """The fewest G + D convs ``spec`` has once grown to ``top_resolution`` (its own plus four per missing grow)."""
    grows = max(0, (top_resolution // spec.resolution).bit_length() - 1)
    return sum(spec.num_layers()) + GROW_LAYERS * grows


def can_reach(spec: ArchSpec, *, top_resolution: int, max_layers: int) -> bool:
    """Whether ``spec`` can still grow to ``top_resolution`` without exceeding ``max_layers`` convs."""
    return layers_to_reach(spec, top_resolution=top_resolution) <= max_layers


@dataclass(frozen=True)
class StepChildren:
    """What a step trains (``children``, canonical order) and what it drew but skips: ``over_cap`` children have
    more than ``max_layers`` convs, ``unreachable`` ones fit but could no longer grow to the top resolution."""

    children: list[Child]
    over_cap: int
    unreachable: int
    stall_grow: bool = False  # nothing trainable was drawn, so the best parent's grow child was added

    @property
    def skipped(self) -> int:
        return self.over_cap + self.unreachable


def step_children(parents: Sequence[tuple[str, ArchSpec]], actions: Sequence[Action], *, p: float, seed: int,
                  step: int, force_grow: bool, max_layers: int, top_resolution: int) -> StepChildren:
    """One step's children as the search trains them: :func:`sample_children`, then only those that fit in
    ``max_layers`` and can still reach ``top_resolution`` (the real search and :mod:`gancore.recipes.dggan.replay`
    both call this)."""
    drawn = sample_children(parents, actions, p=p, seed=seed, step=step, force_grow=force_grow)
    fit = [c for c in drawn if sum(c.spec.num_layers()) <= max_layers]
    keep = [c for c in fit if can_reach(c.spec, top_resolution=top_resolution, max_layers=max_layers)]
    stall = False
    if not keep:  # a stalled step: the best parent that can still grow grows (see the module docstring)
        for pid, spec in parents:
            grow = Action("grow")
            if spec.can_apply(grow) and can_reach(spec.child(grow), top_resolution=top_resolution,
                                                  max_layers=max_layers):
                keep, stall = [Child(f"{pid}+grow", pid, "grow", spec.child(grow))], True
                break
    return StepChildren(keep, over_cap=len(drawn) - len(fit), unreachable=len(fit) - len(keep) + stall,
                        stall_grow=stall)


def normalized_fid(fid: float, *, resolution: int, baseline: dict[int, float]) -> float:
    """FID divided by the symmetric ProGAN baseline's FID at the same resolution (< 1: better than the baseline)."""
    if resolution not in baseline:
        raise KeyError(f"no baseline FID at {resolution}²; train the symmetric baseline at every resolution first")
    return fid / baseline[resolution]


def top_k(scores: Iterable[tuple[str, float | None]], *, k: int) -> list[str]:
    """The ``k`` best ids by normalized FID (lower is better); failed candidates (None or non-finite) never win."""
    if k < 1:
        raise ConfigError(f"top_k={k} must be >= 1")
    ok = [(s, cid) for cid, s in scores if s is not None and math.isfinite(s)]
    return [cid for _, cid in sorted(ok)[:k]]


STATE_FORMAT = "gancore-dggan-search/1"


@dataclass
class SearchState:
    """What a search has done: ``records`` of finished candidates keyed by their run folder relative to ``out_dir``
    (``candidates/<id>``, ``baseline/seed<k>/<id>``, ``final``, ``baseline/final``), the ``steps`` taken (children and
    the parents they left), the current ``parents`` and, once it ends, why it stopped."""

    config: dict[str, Any]
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    stop_reason: str = ""

    @property
    def step(self) -> int:
        """The last finished search step (0: only the initial candidates so far)."""
        return len(self.steps)

    def done(self, key: str) -> bool:
        return key in self.records

    def to_dict(self) -> dict[str, Any]:
        return {"format": STATE_FORMAT, "config": self.config, "records": self.records, "steps": self.steps,
                "parents": self.parents, "stop_reason": self.stop_reason}

    def save(self, path: str | Path) -> None:
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1, default=float))

    @classmethod
    def load(cls, path: str | Path) -> "SearchState":
        path = Path(path)
        how = (f"Nothing was overwritten. Move {path.name} aside to start the search over in this folder (finished "
               "candidates are then reused from their own summary.json), or give the search a new out_dir.")
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ConfigError(f"the search state {path} is unreadable ({type(e).__name__}: {e}). {how}") from None
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise ConfigError(f"the search state {path} is not a DGGAN search state (format {STATE_FORMAT!r}). {how}")
        try:
            return cls(config=dict(data["config"]), records=dict(data["records"]), steps=list(data["steps"]),
                       parents=list(data["parents"]), stop_reason=str(data.get("stop_reason", "")))
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"the search state {path} is incomplete ({type(e).__name__}: {e}). {how}") from None


__all__ = ["Child", "GROW_LAYERS", "SearchState", "StepChildren", "can_reach", "coin", "layers_to_reach",
           "normalized_fid", "sample_children", "step_children", "top_k"]
