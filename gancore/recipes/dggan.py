"""DGGAN (Dynamically Grown GANs): the top-K greedy growth search (Alg. 1) over candidate runs.

A search's ``out_dir`` holds:

* ``config.json`` (the resolved search config) and ``log.jsonl`` (one event per finished candidate and step);
* ``search_state.json`` (:class:`~gancore.search.dggan.SearchState`), written atomically after every finished
  candidate, so a crash and a rerun of the same command go on where it stopped and retrain no finished candidate
  (a candidate cut off mid-training resumes from its own checkpoint);
* ``candidates/<id>/``: one run folder per candidate (:mod:`gancore.recipes.dggan_candidate`), ``<id>`` being
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
trains, and the top K children by normalized FID replace the parents. The search stops when no child fits in
``max_layers`` (G + D convs), after ``max_steps`` steps, or once a step's best child reaches ``stop_resolution``.
"""
from __future__ import annotations

import json
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from gancore.config import ConfigError, resolve, save_config
from gancore.claims import mean, spread
from gancore.models.dggan import Action, ArchSpec, base_spec, build
from gancore.recipes import common
from gancore.recipes.dggan_candidate import candidate_seed, train_candidate
from gancore.recipes.dggan_config import CandidateConfig, DGGANConfig, candidate_config
from gancore.search.dggan import SearchState, sample_children, top_k
from gancore.search.executors import check_ray_address, make_executor
from gancore.train import count_params, pick_device

PAPER = "dggan"
STATE_FILE = "search_state.json"


def load_config(*, scale: str = "reduced", preset: str = "", **overrides: Any) -> DGGANConfig:
    """Resolve a DGGAN config: dataclass defaults ← papers/dggan/<scale>[-preset].yaml ← overrides."""
    return resolve(DGGANConfig, paper=PAPER, scale=scale, preset=preset, overrides=overrides)


def initial_spec(cfg: DGGANConfig) -> ArchSpec:
    """The initial candidate: ProGAN's G and D up to d0 (the paper's only initial candidate)."""
    return base_spec(latent_dim=cfg.latent_dim, base_resolution=cfg.base_resolution, max_resolution=cfg.resolution,
                     fmap_base=cfg.fmap_base, fmap_max=cfg.fmap_max)


def build_data(cfg: DGGANConfig):
    """The training images at every resolution of the search (None in a dry run on real data)."""
    return common.build_data(cfg, resolution=cfg.resolution)


def metrics_key(cfg: DGGANConfig) -> str:
    return common.fidelity_cache_key(cfg, resolution=0, n=0).rsplit("-res", 1)[0]


def check_inputs(cfg: DGGANConfig) -> None:
    """Called by :func:`gancore.preflight.check`: a Ray address that cannot be reached, and a search state that
    cannot be read or belongs to another config, fail before anything trains."""
    if cfg.executor == "ray":
        check_ray_address(cfg.ray_address)
    path = Path(cfg.out_dir) / STATE_FILE
    if path.exists() and not cfg.restart:
        _check_same_search(SearchState.load(path), cfg, path)


def _check_same_search(state: SearchState, cfg: DGGANConfig, path: Path) -> None:
    current = _jsonable(cfg.search_values())
    changed = {k: (state.config.get(k), v) for k, v in current.items() if state.config.get(k) != v}
    if changed:
        detail = ", ".join(f"{k}: {old!r} → {new!r}" for k, (old, new) in changed.items())
        raise ConfigError(f"{path} belongs to a search with another config ({detail}). Rerun with the saved values "
                          "to resume it, give this search a new out_dir, or pass restart=True to move the old "
                          "search aside into out_dir/previous-<time>/ and start over")


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(values, default=str))


# ---------------------------------------------------------------------------------------------------------------------
# The search
# ---------------------------------------------------------------------------------------------------------------------
class Search:
    """Alg. 1 over run folders, with its state on disk after every finished candidate."""

    def __init__(self, *, cfg: DGGANConfig, data: Any, executor: Any, on_event: Callable[[dict], None] | None = None):
        self.cfg, self.data, self.executor = cfg, data, executor
        self.out = Path(cfg.out_dir)
        self.state_path = self.out / STATE_FILE
        self.actions = cfg.action_set()
        self.on_event = on_event
        self.specs: dict[str, ArchSpec] = {"base": initial_spec(cfg)}
        if self.state_path.exists():
            self.state = SearchState.load(self.state_path)
            _check_same_search(self.state, cfg, self.state_path)
        else:
            self.state = SearchState(config=_jsonable(cfg.search_values()))
        for rec in self.state.records.values():
            if rec.get("spec"):
                self.specs.setdefault(rec["cid"], ArchSpec.from_dict(rec["spec"]))

    # ---- jobs ------------------------------------------------------------------------------------------------
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

    def run_jobs(self, jobs: list[tuple[str, CandidateConfig]]) -> None:
        todo = [(k, c) for k, c in jobs if not self.state.done(k)]
        by_key = dict(todo)

        def done(key: str, result: dict[str, Any]) -> None:
            c = by_key[key]
            rec = {"cid": c.cid, "parent": c.parent, "action": c.action, "spec": c.spec, "seed": c.seed, **result}
            rec.setdefault("resolution", ArchSpec.from_dict(c.spec).resolution)
            self.state.records[key] = rec
            self.state.save(self.state_path)
            self.event({"kind": "candidate", "key": key, "cid": c.cid, "status": rec.get("status"),
                        "fid": rec.get("fid"), "resolution": rec["resolution"], "error": rec.get("error"),
                        "seconds": rec.get("train_seconds", rec.get("seconds"))})

        self.executor.run(train_candidate, todo, shared=self.data, on_done=done)

    def event(self, record: dict[str, Any]) -> None:
        record = {"time": round(time.time(), 3), **record}
        with open(self.out / "log.jsonl", "a") as f:
            f.write(json.dumps(record, default=float) + "\n")
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
        if cfg.max_steps and step > cfg.max_steps:
            return f"max_steps={cfg.max_steps} reached"
        parents = [(pid, self.spec_of(pid)) for pid in st.parents]
        children = [c for c in sample_children(parents, self.actions, p=cfg.sample_p, seed=cfg.seed, step=step,
                                               force_grow=cfg.force_grow) if sum(c.spec.num_layers()) <= cfg.max_layers]
        if not children:
            return f"no child within max_layers={cfg.max_layers} (G + D convs)"
        for c in children:
            self.specs[c.id] = c.spec
        self.run_jobs([self.job(key=f"candidates/{c.id}", cid=c.id, parent=c.parent, action=c.action, spec=c.spec,
                                seed=cfg.seed, parent_key=f"candidates/{c.parent}") for c in children])
        if cfg.baseline_match == "depth":
            self.ensure_depth_baselines({(c.spec.resolution, step) for c in children})
        for c in children:  # kept in the record, so the analysis reads the same normalization the ranking used
            st.records[f"candidates/{c.id}"]["nfid"] = self.nfid(st.records[f"candidates/{c.id}"])
        scores = [(c.id, self.nfid(st.records[f"candidates/{c.id}"])) for c in children]
        ranked = top_k(scores, k=cfg.top_k)
        st.steps.append({"step": step, "parents": [p for p, _ in parents], "children": [c.id for c in children],
                         "kept": ranked})
        self.event({"kind": "step", "step": step, "children": len(children), "kept": ranked,
                    "failed": sum(1 for _, s in scores if s is None)})
        if not ranked:
            return f"every child of step {step} failed"
        st.parents = ranked  # "P = C′": the children replace their parents
        self.prune_checkpoints()
        best_res = st.records[f"candidates/{ranked[0]}"]["resolution"]
        if cfg.stop_resolution and best_res >= cfg.stop_resolution:
            return f"the best child of step {step} is at stop_resolution={cfg.stop_resolution}"
        return ""

    # ---- bookkeeping --------------------------------------------------------------------------------------------
    def best(self, *, resolution: int | None = None) -> str | None:
        """The search candidate (a child of some step, or the base) with the lowest normalized FID."""
        searched = {"base"} | {cid for s in self.state.steps for cid in s["children"]}
        scored = [(self.nfid(self.state.records[f"candidates/{cid}"]), cid) for cid in searched
                  if f"candidates/{cid}" in self.state.records]
        scored = [(s, cid) for s, cid in scored if s is not None and
                  (resolution is None or self.state.records[f"candidates/{cid}"]["resolution"] == resolution)]
        return min(scored)[1] if scored else None

    def prune_checkpoints(self, *, final: bool = False) -> None:
        """Drop the checkpoints of candidates no later step can need (not a parent, not the best at the top
        resolution, not the baseline's top stage): a full search trains thousands (samples and summaries stay)."""
        if not self.cfg.prune_checkpoints:
            return
        keep = {f"candidates/{p}" for p in self.state.parents} if not final else set()
        best = self.best(resolution=self.cfg.resolution) or self.best()
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
                         fid_images=cfg.final_num_images, training=cfg.final_training())]
        if self.state.records.get(base_key, {}).get("status") == "complete":
            jobs.append(self.job(key="baseline/final", cid=base_cid, parent=base_cid, action="",
                                 spec=self.spec_of(base_cid), seed=cfg.seed + 7, parent_key=base_key,
                                 iterations=cfg.final_iterations, fid_images=cfg.final_num_images,
                                 training=cfg.final_training()))
        self.run_jobs(jobs)
        return {"note": note, "best": best}


# ---------------------------------------------------------------------------------------------------------------------
# Whole runs
# ---------------------------------------------------------------------------------------------------------------------
@dataclass
class DGGANRun(common.RunAccess):
    cfg: DGGANConfig
    summary: dict[str, Any]
    state: SearchState | None = None
    search: Search | None = field(default=None, repr=False)
    data: Any = field(default=None, repr=False)

    @property
    def out_dir(self) -> Path:
        return Path(self.cfg.out_dir)

    def records(self) -> dict[str, dict[str, Any]]:
        return self.state.records if self.state else {}

    def load_generator(self, key: str = "final") -> torch.nn.Module:
        """The EMA G of a run folder of this search (``final``, ``candidates/<id>``, ``baseline/final``)."""
        from gancore import checkpoint as ckpt_io

        rec = self.records()[key]
        G, _ = build(ArchSpec.from_dict(rec["spec"]))
        found = ckpt_io.latest_good_checkpoint(self.out_dir / key / "checkpoints")
        if found is None:
            raise FileNotFoundError(f"{self.out_dir / key} keeps no checkpoint (pruned: prune_checkpoints=True)")
        state = {k[len("module."):]: v for k, v in found[1]["G_ema"].items() if k.startswith("module.")}
        G.load_state_dict(state)
        return G.eval()


def _say(record: dict[str, Any]) -> None:
    if record["kind"] == "candidate":
        what = (f"FID {record['fid']:.2f}" if record.get("fid") is not None
                else f"FAILED: {record.get('error')}")
        print(f"  {record['key']} ({record['resolution']}²): {what}", flush=True)
    elif record["kind"] == "step":
        print(f"step {record['step']}: {record['children']} children, kept {record['kept']}", flush=True)


def _executor(cfg: DGGANConfig):
    use_gpu = pick_device(cfg.device).type == "cuda"
    return make_executor(kind=cfg.executor, address=cfg.ray_address, workers=cfg.workers,
                         gpus_per_candidate=cfg.gpus_per_candidate, use_gpu=use_gpu)


def _move_aside(out: Path) -> None:
    aside = out / f"previous-{time.strftime('%Y%m%d-%H%M%S')}"
    aside.mkdir()
    for name in (STATE_FILE, "candidates", "baseline", "final", "log.jsonl", "summary.json", "config.json"):
        if (out / name).exists():
            (out / name).replace(aside / name)
    warnings.warn(f"restart=True: the previous search in {out} was moved to {aside.name}/", stacklevel=3)


@common.locked_run
def run(cfg: DGGANConfig, *, data: Any = None, progress: bool = True) -> DGGANRun:
    """The whole search, the baseline and the final training under the run contract (resumes in ``out_dir``)."""
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    previous = common.read_summary(out)
    if cfg.restart and (out / STATE_FILE).exists() and not cfg.dry_run:
        if SearchState.load(out / STATE_FILE).config != _jsonable(cfg.search_values()):
            _move_aside(out)
            previous = {}
    save_config(cfg, out / "config.json")
    G, D = build(initial_spec(cfg))
    summary: dict[str, Any] = {"paper": PAPER, "scale": cfg.scale, "preset": cfg.preset, "dataset": cfg.dataset,
                               "resolution": cfg.resolution, "claims": previous.get("claims", []),
                               "params": {"G": count_params(G), "D": count_params(D)}}
    if cfg.dry_run:
        if (out / STATE_FILE).exists():
            SearchState.load(out / STATE_FILE)  # a corrupt state is reported by a dry run too
        summary.update(status="dry_run", actions=[a.name for a in cfg.action_set()])
        common.write_summary(out, summary)
        return DGGANRun(cfg, summary)
    if data is None:
        data = build_data(cfg)
    if cfg.extractor == "shapes" and cfg.dataset != "shapes":
        warnings.warn("the shipped shapes network scores this data: its FIDs rank the candidates of this search, "
                      "but mean nothing beside published numbers (pass extractor='inception' and inception_weights)",
                      stacklevel=2)
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    t0 = time.perf_counter()
    executor = _executor(cfg)
    search = Search(cfg=cfg, data=data, executor=executor, on_event=_say if progress else None)
    state = search.run()
    final = search.train_final()
    summary.update(search_summary(search), status="complete", final_info=final,
                   wall_seconds_this_call=round(time.perf_counter() - t0, 2))
    common.write_summary(out, summary)
    return DGGANRun(cfg, summary, state, search, data)


def search_summary(search: Search) -> dict[str, Any]:
    """The numbers summary.json holds: baseline per resolution, best per resolution, the final pair, counts."""
    cfg, st = search.cfg, search.state
    recs = st.records
    searched = {"base"} | {cid for s in st.steps for cid in s["children"]}
    cands = [recs[f"candidates/{c}"] for c in searched if f"candidates/{c}" in recs]
    best_per_res = {}
    for res in cfg.resolutions():
        cid = search.best(resolution=res)
        if cid:
            r = recs[f"candidates/{cid}"]
            best_per_res[res] = {"cid": cid, "fid": r["fid"], "nfid": search.nfid(r), "params_G": r["params_G"],
                                 "params_D": r["params_D"], "history": r["history"]}
    out = {"baseline": search.baseline_fids(), "best": best_per_res, "steps": st.step, "stop_reason": st.stop_reason,
           "candidates": len(cands), "failed": sum(1 for r in cands if r.get("status") != "complete"),
           "train_seconds": round(sum(r.get("train_seconds", 0) or 0 for r in recs.values()), 2)}
    for key in ("final", "baseline/final"):
        r = recs.get(key)
        if r:
            out[key.replace("/", "_")] = {"cid": r["cid"], "fid": r.get("fid"), "status": r.get("status"),
                                          "resolution": r.get("resolution"),
                                          "params_G": r.get("params_G"), "params_D": r.get("params_D"),
                                          "error": r.get("error")}
    if "final" in recs and recs["final"].get("params"):
        out["params"] = recs["final"]["params"]
    return out


def memory_estimate(cfg: DGGANConfig):
    """Lower bound of a search's memory (:mod:`gancore.preflight`): the one candidate every search trains at the
    top resolution, the symmetric baseline there, with one batch of activations (a grown candidate needs more)."""
    from gancore.preflight import MemoryEstimate, layer_output_bytes, state_bytes

    spec = initial_spec(cfg)
    while spec.resolution < cfg.resolution:
        spec = spec.child(Action("grow"))
    with torch.device("meta"):
        G, D = build(spec)
    parts = {"weights, gradients, Adam state and EMA (the symmetric top-resolution candidate)": state_bytes(G, D)}
    if not cfg.dry_run:
        z = torch.empty(2, cfg.latent_dim, device="meta")
        parts[f"activations (batch {cfg.batch_size})"] = layer_output_bytes(
            [G, D], lambda: D(G(z)), batch=2) * cfg.batch_size
    if cfg.dataset == "shapes":
        parts["dataset"] = cfg.dataset_size * 3 * cfg.resolution ** 2 * 4 // 3
    return MemoryEstimate(parts, knobs={"state": "fmap_base, fmap_max, resolution", "activations": "batch_size",
                                        "dataset": "dataset_size"}, host_only=("dataset",))


def sample_uint8(G: torch.nn.Module, *, n: int, seed: int) -> torch.Tensor:
    """``n`` samples of a grown G (eval mode) as uint8, from latents seeded apart from training."""
    from gancore.recipes.dggan_candidate import sample_uint8 as draw

    return draw(G, n=n, seed=seed)


update_summary = common.update_summary

__all__ = ["DGGANConfig", "DGGANRun", "Search", "build_data", "check_inputs", "initial_spec", "load_config", "run",
           "search_summary", "update_summary"]
