"""DGGAN's search (Alg. 1): the top-K greedy growth search over candidate runs, with its state on disk.

A search's ``out_dir`` holds:

* ``config.json`` (the resolved search config) and ``log.jsonl`` (one event per finished candidate and step);
* ``search_state.json`` (:class:`~gancore.search.dggan.SearchState`), written atomically after every finished
  candidate, so a crash and a rerun of the same command go on where it stopped and retrain no finished candidate
  (a candidate cut off mid-training resumes from its own checkpoint);
* ``candidates/<id>/``: one run folder per candidate (:mod:`gancore.recipes.dggan.candidate`), ``<id>`` being
  ``<parent id>+<action>``, the initial candidate ``base``;
* ``baseline/``: the symmetric ProGAN baseline, i.e. ``base`` grown by ``grow`` alone, at every resolution of the
  search and for ``baseline_seeds`` seeds. Seed 0's chain *is* the search's own ``base``, ``base+grow``, … (the same
  jobs), kept in ``candidates/``; the other seeds live in ``baseline/seed<k>/``. The baseline's FID at a resolution
  (the mean over seeds) normalizes every candidate's FID there (Fig. 3's axis; FIDs at two resolutions are not
  comparable), and its seed-to-seed range is the noise of the claims;
* ``final/`` and ``baseline/final/``: the best architecture at the top resolution, and the baseline's, trained
  ``final_iterations`` longer ("we further train the fixed architecture longer");
* ``summary.json``: the baseline, the best candidates, the final models and the claims table.

Steps follow Alg. 1: the initial candidate is trained and evaluated; in each step every (parent × action) pair is a
child with probability p (hash coins, :func:`gancore.search.dggan.coin`), each child inherits from its parent and
trains, and the top K children by normalized FID replace the parents. A child that could no longer grow to the top
resolution within ``max_layers`` (G + D convs) is never trained (:func:`gancore.search.dggan.step_children`; the
step's log counts the skipped ones). The search stops when no child is left, after ``max_steps`` steps, or once a
step's best child reaches ``stop_resolution``.

Cost at full scale ("Discussion on Efficiency": ~2k candidates): a finished candidate keeps only its last checkpoint,
and as a step's children finish only the best K so far (and the best at the top resolution) keep theirs, so a
200-child step holds ~K checkpoints instead of 3 per child. A step's children start longest-first
(:func:`gancore.models.dggan.conv_macs`), so the slow k7/1024-filter children do not finish last on an idle cluster.

Reruns: a failed candidate the search asks for again (the base, the baseline, the children of the step that was
cut off) is retried up to ``retry_failed`` times, each retry logged with the error that ended the previous attempt;
``restart=True`` on the same config retries every failed one whatever the count. Children of a finished step stay
as they are: that step's ranking is done.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from gancore.claims import mean, spread
from gancore.engine.run_folder import RunFolder
from gancore import checkpoint as ckpt_io
from gancore.models.dggan import Action, ArchSpec, base_spec, conv_macs
from gancore.recipes import common
from gancore.recipes.dggan.candidate import candidate_seed, train_candidate
from gancore.recipes.dggan.config import CandidateConfig, DGGANConfig, candidate_config
from gancore.recipes.dggan.identity import check_same_search, search_identity
from gancore.search.dggan import SearchState, StepChildren, step_children, top_k

STATE_FILE = "search_state.json"


def initial_spec(cfg: DGGANConfig) -> ArchSpec:
    """The initial candidate: ProGAN's G and D up to d0 (the paper's only initial candidate)."""
    return base_spec(latent_dim=cfg.latent_dim, base_resolution=cfg.base_resolution, max_resolution=cfg.resolution,
                     fmap_base=cfg.fmap_base, fmap_max=cfg.fmap_max)


def metrics_key(cfg: DGGANConfig) -> str:
    return common.fidelity_cache_key(cfg, resolution=0, n=0).rsplit("-res", 1)[0]


def plan_step(cfg: DGGANConfig, parents: list[tuple[str, ArchSpec]], actions: list[Action], step: int
              ) -> StepChildren:
    """The children step ``step`` trains from ``parents`` (rank order): sampled, within ``max_layers``, and able to
    reach the top resolution. The search and :func:`gancore.recipes.dggan.replay.replay_search` both use it."""
    return step_children(parents, actions, p=cfg.sample_p, seed=cfg.seed, step=step, force_grow=cfg.force_grow,
                         max_layers=cfg.max_layers, top_resolution=cfg.resolution)


def stop_before(cfg: DGGANConfig, step: int, plan: StepChildren | None = None) -> str:
    """Why the search stops before step ``step`` ("" to go on)."""
    if cfg.max_steps and step > cfg.max_steps:
        return f"max_steps={cfg.max_steps} reached"
    if plan is not None and not plan.children:
        return (f"no child within max_layers={cfg.max_layers} (G + D convs) that can still reach "
                f"{cfg.resolution}²")
    return ""


def stop_after(cfg: DGGANConfig, step: int, best_resolution: int) -> str:
    """Why the search stops after step ``step`` whose best child is at ``best_resolution`` ("" to go on)."""
    if cfg.stop_resolution and best_resolution >= cfg.stop_resolution:
        return f"the best child of step {step} is at stop_resolution={cfg.stop_resolution}"
    return ""


def gpu_share(cfg: DGGANConfig, spec: ArchSpec) -> float:
    """A candidate's GPUs under Ray: ``gpus_per_candidate``, or with ``gpus_follow_size`` that share scaled by the
    candidate's conv cost relative to the symmetric top-resolution candidate, in 1/8 steps, between 1/8 and 1."""
    if not cfg.gpus_follow_size:
        return cfg.gpus_per_candidate
    top = initial_spec(cfg)
    while top.resolution < cfg.resolution:
        top = top.child(Action("grow"))
    share = cfg.gpus_per_candidate * conv_macs(spec) / conv_macs(top)
    return min(1.0, max(0.125, -(-share * 8 // 1) / 8))


class Search:
    """Alg. 1 over run folders, with its state on disk after every finished candidate."""

    def __init__(self, *, cfg: DGGANConfig, data: Any, executor: Any, on_event: Callable[[dict], None] | None = None):
        self.cfg, self.data, self.executor = cfg, data, executor
        self.folder = RunFolder(cfg.out_dir)
        self.out = self.folder.out
        self.state_path = self.out / STATE_FILE
        self.actions = cfg.action_set()
        self.on_event = on_event
        self.specs: dict[str, ArchSpec] = {"base": initial_spec(cfg)}
        identity = search_identity(cfg)
        if self.state_path.exists():
            self.state = SearchState.load(self.state_path)
            check_same_search(self.state.config, identity, self.state_path)
            self.state.config.update(identity)  # a state written before the fingerprints existed gains them
        else:
            self.state = SearchState(config=identity)
        self.retry = self.retries()
        for rec in self.state.records.values():
            if rec.get("spec"):
                self.specs.setdefault(rec["cid"], ArchSpec.from_dict(rec["spec"]))

    # ---- jobs ------------------------------------------------------------------------------------------------
    def retries(self) -> dict[str, str]:
        """Failed candidates a run asks for again that it retrains: {key: why}, each one logged."""
        out = {}
        for key, rec in self.state.records.items():
            if rec.get("status") != "failed":
                continue
            attempts = int(rec.get("attempts", 1))
            if rec.get("diverged") and not self.cfg.restart:
                continue  # the same seed from the same checkpoint diverges again; restart=True insists
            if self.cfg.restart or attempts <= self.cfg.retry_failed:
                how = "restart=True" if self.cfg.restart else f"attempt {attempts + 1} of {self.cfg.retry_failed + 1}"
                out[key] = f"{how}; the last attempt failed with: {rec.get('error')}"
        return out

    def job(self, *, key: str, cid: str, parent: str, action: str, spec: ArchSpec, seed: int,
            parent_key: str = "", iterations: int | None = None, fid_images: int | None = None,
            training: dict[str, Any] | None = None) -> tuple[str, CandidateConfig]:
        cfg = self.cfg
        ccfg = candidate_config(
            cfg, cid=cid, parent=parent, action=action, spec=spec.to_dict(), out_dir=str(self.out / key),
            seed=candidate_seed(seed, cid), inherit_from=str(self.out / parent_key) if parent_key else "",
            iterations=iterations or cfg.candidate_iterations, metrics_cache=str(self.out / ".metrics-cache"),
            metrics_key=metrics_key(cfg), progress=cfg.progress and cfg.executor == "local",
            ckpt_every_kimg=cfg.ckpt_every_kimg, sample_every_kimg=1e9,
            fid_num_images=fid_images or cfg.fid_num_images, **(training or {}))
        return key, ccfg

    def run_jobs(self, jobs: list[tuple[str, CandidateConfig]], *, on_done: Callable[[str], None] | None = None
                 ) -> None:
        """Train the jobs not yet done (and the failed ones to retry), longest first; ``on_done(key)`` after each."""
        todo = [(k, c) for k, c in jobs if not self.state.done(k) or k in self.retry]
        todo.sort(key=lambda job: -conv_macs(ArchSpec.from_dict(job[1].spec)))  # stable: ties keep their order
        by_key = dict(todo)
        attempts = {}
        for key, _ in todo:
            if key in self.retry:
                attempts[key] = int(self.state.records[key].get("attempts", 1)) + 1
                self.event({"kind": "retry", "key": key, "attempt": attempts[key], "reason": self.retry.pop(key)})

        def done(key: str, result: dict[str, Any]) -> None:
            c = by_key[key]
            rec = {"cid": c.cid, "parent": c.parent, "action": c.action, "spec": c.spec, "seed": c.seed, **result,
                   "attempts": attempts.get(key, 1)}
            rec.setdefault("resolution", ArchSpec.from_dict(c.spec).resolution)
            self.state.records[key] = rec
            if self.cfg.prune_checkpoints and rec.get("status") == "complete":
                ckpt_io.prune_checkpoints(self.out / key / "checkpoints", keep=1)  # a finished run needs its last
            self.state.save(self.state_path)
            self.event({"kind": "candidate", "key": key, "cid": c.cid, "status": rec.get("status"),
                        "fid": rec.get("fid"), "resolution": rec["resolution"], "error": rec.get("error"),
                        "attempt": rec["attempts"], "seconds": rec.get("train_seconds", rec.get("seconds"))})
            if on_done:
                on_done(key)

        kw = {"resources": lambda c: {"num_gpus": gpu_share(self.cfg, ArchSpec.from_dict(c.spec))}} \
            if self.cfg.gpus_follow_size else {}
        self.executor.run(train_candidate, todo, shared=self.data, on_done=done, **kw)

    def event(self, record: dict[str, Any]) -> None:
        record = {"time": round(time.time(), 3), **record}
        self.folder.append_log(record)
        if self.on_event:
            self.on_event(record)

    # ---- the baseline ------------------------------------------------------------------------------------------
    def baseline_keys(self, k: int) -> list[tuple[str, str]]:
        """(folder key, candidate id) of seed ``k``'s symmetric chain base, base+grow, … up to the top resolution."""
        out, cid = [], "base"
        for _ in self.cfg.resolutions():
            out.append((f"candidates/{cid}" if k == 0 else f"baseline/seed{k}/{cid}", cid))
            cid += "+grow"
        return out

    def train_baseline(self) -> None:
        chains = [self.baseline_keys(k) for k in range(self.cfg.baseline_seeds)]
        for level in range(len(chains[0])):  # every seed's chain one resolution at a time (parallel over seeds)
            jobs = []
            for k, chain in enumerate(chains):
                key, cid = chain[level]
                parent_key, parent = chain[level - 1] if level else ("", "")
                spec = self.spec_of(cid)
                if level and self.state.records.get(parent_key, {}).get("status") != "complete":
                    continue  # a failed baseline stage ends that seed's chain
                jobs.append(self.job(key=key, cid=cid, parent=parent, action="grow" if level else "", spec=spec,
                                     seed=self.cfg.seed + k, parent_key=parent_key))
            self.run_jobs(jobs)

    def spec_of(self, cid: str) -> ArchSpec:
        if cid not in self.specs:
            parent, _, action = cid.rpartition("+")
            self.specs[cid] = self.spec_of(parent).child(Action.parse(action, kernels=tuple(self.cfg.kernels),
                                                                      filters=tuple(self.cfg.filters)))
        return self.specs[cid]

    def baseline_fids(self) -> dict[int, dict[str, Any]]:
        """Per resolution: the baseline's FID per seed after its ProGAN stages, their mean and range (the noise)."""
        out = {}
        for level, res in enumerate(self.cfg.resolutions()):
            fids = [self.state.records.get(self.baseline_keys(k)[level][0], {}).get("fid")
                    for k in range(self.cfg.baseline_seeds)]
            fids = [f for f in fids if f is not None]
            if fids:
                out[res] = {"fids": fids, "mean": mean(fids), "spread": spread(fids)}
        return out

    def stage(self, res: int) -> int:
        """How many grows the symmetric chain needs to reach ``res`` (its depth there)."""
        return (res // self.cfg.base_resolution).bit_length() - 1

    def depth_key(self, res: int, depth: int) -> str:
        """Folder of the symmetric baseline at ``res`` trained ``depth`` candidate lengths past the base."""
        level = self.stage(res)
        if depth <= level:
            return self.baseline_keys(0)[level][0]
        return f"baseline/depth{depth}/{self.baseline_keys(0)[level][1]}"

    def ensure_depth_baselines(self, needs: set[tuple[int, int]]) -> None:
        """``baseline_match="depth"``: train the baseline continuations (res, depth) that ``needs`` asks for, each
        one candidate length on from (res, depth − 1), depth by depth (seed 0; the noise stays the stage chain's)."""
        todo = {(r, d) for r, d in needs if d > self.stage(r)}
        closure = set()
        for r, d in todo:
            closure |= {(r, k) for k in range(self.stage(r) + 1, d + 1)}
        for depth in sorted({d for _, d in closure}):
            jobs = []
            for r, d in sorted(closure):
                if d != depth:
                    continue
                parent_key, cid = self.depth_key(r, d - 1), self.baseline_keys(0)[self.stage(r)][1]
                if self.state.records.get(parent_key, {}).get("status") != "complete":
                    continue
                jobs.append(self.job(key=self.depth_key(r, d), cid=cid, parent=cid, action="",
                                     spec=self.spec_of(cid), seed=self.cfg.seed + 1000 * d, parent_key=parent_key))
            self.run_jobs(jobs)

    def normalizer(self, res: int, depth: int) -> float | None:
        """The baseline FID a candidate at ``res`` whose lineage took ``depth`` actions is divided by."""
        if self.cfg.baseline_match == "depth" and depth > self.stage(res):
            return self.state.records.get(self.depth_key(res, depth), {}).get("fid")
        base = self.baseline_fids().get(res)
        return base["mean"] if base else None

    def nfid(self, rec: dict[str, Any]) -> float | None:
        if rec.get("status") != "complete" or rec.get("fid") is None:
            return None
        norm = self.normalizer(rec["resolution"], len(rec.get("history") or []))
        return rec["fid"] / norm if norm else None

    # ---- Alg. 1 ----------------------------------------------------------------------------------------------------
    def run(self) -> SearchState:
        cfg, st = self.cfg, self.state
        self.run_jobs([self.job(key="candidates/base", cid="base", parent="", action="", spec=self.specs["base"],
                                seed=cfg.seed)])
        if st.records["candidates/base"].get("status") != "complete":
            raise RuntimeError(f"the initial candidate failed: {st.records['candidates/base'].get('error')}")
        self.train_baseline()
        st.records["candidates/base"]["nfid"] = self.nfid(st.records["candidates/base"])
        if not st.parents and not st.steps:
            st.parents = ["base"]
        while not st.stop_reason:
            st.stop_reason = self.next_step()
            st.save(self.state_path)
        self.prune_checkpoints(final=True)
        return st

    def next_step(self) -> str:
        """Run one Alg. 1 step; returns why the search stops after it ("" to go on)."""
        cfg, st = self.cfg, self.state
        step = st.step + 1
        if stop_before(cfg, step):
            return stop_before(cfg, step)
        parents = [(pid, self.spec_of(pid)) for pid in st.parents]
        plan = plan_step(cfg, parents, self.actions, step)
        children = plan.children
        if stop_before(cfg, step, plan):
            self.event({"kind": "step", "step": step, "children": 0, "skipped_over_cap": plan.over_cap,
                        "skipped_unreachable": plan.unreachable, "kept": [], "failed": 0})
            return stop_before(cfg, step, plan)
        for c in children:
            self.specs[c.id] = c.spec
        keys = [f"candidates/{c.id}" for c in children]
        self.run_jobs([self.job(key=f"candidates/{c.id}", cid=c.id, parent=c.parent, action=c.action, spec=c.spec,
                                seed=cfg.seed, parent_key=f"candidates/{c.parent}") for c in children],
                      on_done=lambda key: self.prune_checkpoints(step_keys=[k for k in keys if k in st.records]))
        if cfg.baseline_match == "depth":
            self.ensure_depth_baselines({(c.spec.resolution, step) for c in children})
        for c in children:  # kept in the record, so the analysis reads the same normalization the ranking used
            st.records[f"candidates/{c.id}"]["nfid"] = self.nfid(st.records[f"candidates/{c.id}"])
        scores = [(c.id, self.nfid(st.records[f"candidates/{c.id}"])) for c in children]
        ranked = top_k(scores, k=cfg.top_k)
        st.steps.append({"step": step, "parents": [p for p, _ in parents], "children": [c.id for c in children],
                         "kept": ranked, "skipped_over_cap": plan.over_cap, "skipped_unreachable": plan.unreachable})
        self.event({"kind": "step", "step": step, "children": len(children), "kept": ranked,
                    "skipped_over_cap": plan.over_cap, "skipped_unreachable": plan.unreachable,
                    "failed": sum(1 for _, s in scores if s is None)})
        if not ranked:
            return f"every child of step {step} failed"
        st.parents = ranked  # "P = C′": the children replace their parents
        self.prune_checkpoints()
        return stop_after(cfg, step, st.records[f"candidates/{ranked[0]}"]["resolution"])

    # ---- bookkeeping --------------------------------------------------------------------------------------------
    def best(self, *, resolution: int | None = None, also: Sequence[str] = ()) -> str | None:
        """The search candidate (a child of some step, the base, or one of ``also``) with the lowest normalized
        FID."""
        searched = {"base"} | {cid for s in self.state.steps for cid in s["children"]} | set(also)
        scored = [(self.nfid(self.state.records[f"candidates/{cid}"]), cid) for cid in searched
                  if f"candidates/{cid}" in self.state.records]
        scored = [(s, cid) for s, cid in scored if s is not None and
                  (resolution is None or self.state.records[f"candidates/{cid}"]["resolution"] == resolution)]
        return min(scored)[1] if scored else None

    def prune_checkpoints(self, *, final: bool = False, step_keys: Sequence[str] = ()) -> None:
        """Drop the checkpoints of candidates no later step can need (not a parent, not the best at the top
        resolution, not the baseline's top stage): a full search trains thousands (samples and summaries stay).
        ``step_keys``: the finished children of the running step, of which the best K so far keep theirs (a child
        out of the best K of the finished ones can only fall further as more finish)."""
        if not self.cfg.prune_checkpoints:
            return
        keep = {f"candidates/{p}" for p in self.state.parents} if not final else set()
        current = [k.split("/", 1)[1] for k in step_keys]
        scores = [(cid, self.nfid(self.state.records[f"candidates/{cid}"])) for cid in current]
        if current and self.cfg.baseline_match == "depth" and any(s is None for _, s in scores):
            keep |= set(step_keys)  # their normalizer (the depth baselines) is trained after the step: rank later
        keep |= {f"candidates/{cid}" for cid in top_k(scores, k=self.cfg.top_k)} if current else set()
        best = self.best(resolution=self.cfg.resolution, also=current) or self.best(also=current)
        keep |= {f"candidates/{best}"} if best else set()
        keep.add(self.baseline_keys(0)[-1][0])
        # A depth-matched baseline is continued from its deepest stage at a later step (or for the final pair).
        for res in self.cfg.resolutions() if self.cfg.baseline_match == "depth" else ():
            depths = [d for d in range(self.stage(res), self.state.step + 2) if self.depth_key(res, d) in
                      self.state.records]
            keep |= {self.depth_key(res, max(depths))} if depths else set()
        for key in self.state.records:
            folder = self.out / key / "checkpoints"
            if key not in keep and key.startswith(("candidates/", "baseline/seed", "baseline/depth")) and folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)

    # ---- the final models ---------------------------------------------------------------------------------------
    def train_final(self) -> dict[str, Any]:
        """The best architecture at the top resolution and the baseline's, trained ``final_iterations`` longer."""
        cfg = self.cfg
        best = self.best(resolution=cfg.resolution)
        note = ""
        swd = {"swd_num_images": min(cfg.final_num_images, 16384)}  # Table 3: ProGAN's SWD on 16384 images
        if best is None:
            best, note = self.best(), f"no candidate reached {cfg.resolution}²; the best one overall was trained on"
        if best is None or not cfg.final_iterations:
            return {"note": note or "final_iterations=0: no final training"}
        base_key, base_cid = self.baseline_keys(0)[-1]
        if cfg.baseline_match == "depth" and self.spec_of(best).resolution == cfg.resolution:
            # The baseline's lineage as long as the final model's, then the same longer training.
            depth = len(self.spec_of(best).history)
            self.ensure_depth_baselines({(cfg.resolution, depth)})
            base_key = self.depth_key(cfg.resolution, depth)
        jobs = [self.job(key="final", cid=best, parent=best, action="", spec=self.spec_of(best), seed=cfg.seed + 7,
                         parent_key=f"candidates/{best}", iterations=cfg.final_iterations,
                         fid_images=cfg.final_num_images, training=cfg.final_training() | swd)]
        if self.state.records.get(base_key, {}).get("status") == "complete":
            jobs.append(self.job(key="baseline/final", cid=base_cid, parent=base_cid, action="",
                                 spec=self.spec_of(base_cid), seed=cfg.seed + 7, parent_key=base_key,
                                 iterations=cfg.final_iterations, fid_images=cfg.final_num_images,
                                 training=cfg.final_training() | swd))
        self.run_jobs(jobs)
        return {"note": note, "best": best}
