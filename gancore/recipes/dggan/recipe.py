"""DGGAN as the engine runs it: a pipeline whose parts are the search's candidate runs (:mod:`.search`), the
symmetric baseline and the final pair, all in one run folder; ``run`` and the run handle."""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gancore import engine
from gancore.engine.recipe import Paper, Pipeline
from gancore.models.dggan import Action, ArchSpec, build
from gancore.nn import count_params
from gancore.recipes.dggan.config import DGGANConfig
from gancore.recipes.dggan.identity import changes, check_same_search, search_identity
from gancore.recipes.dggan.search import STATE_FILE, Search, initial_spec
from gancore.search.dggan import SearchState
from gancore.search.executors import check_ray_address, make_executor

PAPER = "dggan"


@dataclass
class DGGANRun(engine.Run):
    state: SearchState | None = None
    search: Search | None = None

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


class DGGANRecipe(Paper, Pipeline):
    paper = PAPER
    config_class = DGGANConfig
    demo_seconds = 230.0  # the reduced notebook, fp32, AMD EPYC Zen 3 (AVX2 only, 2 cores), measured by papermill
    single_process = ("DGGAN's search runs its candidates in parallel through Ray (--set executor=ray workers=N "
                      "[ray_address=HOST:PORT])")
    run_class = DGGANRun
    folder_entries = (STATE_FILE, "candidates", "baseline", "final", "log.jsonl", "summary.json", "config.json")

    def stale(self, cfg: DGGANConfig) -> bool:
        path = Path(cfg.out_dir) / STATE_FILE
        return path.exists() and bool(changes(SearchState.load(path).config, search_identity(cfg, lenient=True)))

    def pipeline(self, ctx: engine.PipelineContext) -> DGGANRun:
        """The whole search, the baseline and the final training (resumes in ``out_dir``)."""
        cfg, out = ctx.cfg, ctx.folder.out
        G, D = build(initial_spec(cfg))
        summary: dict[str, Any] = {"paper": PAPER, "scale": cfg.scale, "preset": cfg.preset, "dataset": cfg.dataset,
                                   "resolution": cfg.resolution, "claims": ctx.previous.get("claims", []),
                                   "params": {"G": count_params(G), "D": count_params(D)}}
        if cfg.dry_run:
            if (out / STATE_FILE).exists():
                SearchState.load(out / STATE_FILE)  # a corrupt state is reported by a dry run too
            summary.update(status="dry_run", actions=[a.name for a in cfg.action_set()])
            return DGGANRun(cfg, summary)
        data = ctx.data if ctx.data is not None else build_data(cfg)
        if cfg.extractor == "shapes" and cfg.dataset != "shapes":
            warnings.warn("the shipped shapes network scores this data: its FIDs rank the candidates of this search, "
                          "but mean nothing beside published numbers (pass extractor='inception' and "
                          "inception_weights)", stacklevel=2)
        t0 = time.perf_counter()
        executor = make_executor(kind=cfg.executor, address=cfg.ray_address, workers=cfg.workers,
                                 gpus_per_candidate=cfg.gpus_per_candidate, use_gpu=ctx.device.type == "cuda")
        if hasattr(executor, "check_paths"):  # Ray: the workers open the store and the run folders by path
            store = getattr(getattr(data, "store", None), "folder", None)
            executor.check_paths([str(p) for p in (store, out) if p is not None])
        search = Search(cfg=cfg, data=data, executor=executor, on_event=_say if ctx.progress else None)
        state = search.run()
        final = search.train_final()
        summary.update(search_summary(search), status="complete", final_info=final,
                       wall_seconds_this_call=round(time.perf_counter() - t0, 2))
        return DGGANRun(cfg, summary, data=data, state=state, search=search)

    def check_inputs(self, cfg: DGGANConfig) -> None:
        """A Ray address that cannot be reached, and a search state that cannot be read or belongs to another
        config, fail before anything trains."""
        if cfg.executor == "ray":
            check_ray_address(cfg.ray_address)
        path = Path(cfg.out_dir) / STATE_FILE
        if path.exists() and not cfg.restart:
            check_same_search(SearchState.load(path).config, search_identity(cfg, lenient=True), path)

    def memory_estimate(self, cfg: DGGANConfig):
        """The one candidate every search trains at the top resolution, the symmetric baseline there, with one
        batch of activations (a grown candidate needs more)."""
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
        return MemoryEstimate(parts, knobs={"state": "fmap_base, fmap_max, resolution", "activations": "batch_size"})

    def reference_generator(self, cfg: DGGANConfig, info: dict[str, Any]) -> nn.Module:
        """A grown architecture: the manifest keeps the spec the search arrived at."""
        return build(ArchSpec.from_dict(info["search"]["spec"]))[0]

    def reference_export(self, run: DGGANRun):
        """The search's final G (the best architecture at the top resolution, trained longer: Alg. 1's last line).
        Its architecture was grown, not configured, so the manifest keeps the spec that rebuilds it, and the
        symmetric baseline trained alike gives its FID beside it."""
        records, s = run.records(), run.summary
        final = records.get("final")
        if not final or final.get("status") != "complete":
            raise RuntimeError(f"the search in {run.out_dir} trained no final model ({s.get('final_info')}); "
                               "a reference needs final_iterations > 0 and a complete final run")
        base = records.get("baseline/final") or {}
        summary = {"kimg": final["kimg"], "iterations_done": final["iterations"],
                   # the whole cost of the model: the search that found it, the baseline, and the final pair
                   "train_seconds": s["train_seconds"], "img_per_s": final.get("img_per_s"),
                   "final": {"fid": final["fid"]},
                   "search": {"cid": final["cid"], "history": final.get("history"), "spec": final["spec"],
                              "steps": s.get("steps"), "candidates": s.get("candidates"),
                              "stop_reason": s.get("stop_reason"), "baseline_fid": base.get("fid"),
                              "baseline_cid": base.get("cid"), "final_seconds": final.get("train_seconds")}}
        return summary, run.load_generator("final"), run.out_dir / "final" / "log.jsonl"

    def result_line(self, run: DGGANRun) -> str:
        s, final = run.summary, run.summary.get("final") or {}
        return (f"{PAPER} {run.cfg.scale}: {s.get('status')}; {s.get('steps', 0)} steps, {s.get('candidates', 0)} "
                f"candidates ({s.get('failed', 0)} failed), stop: {s.get('stop_reason', '')}; final "
                f"{final.get('cid', '—')} FID {final.get('fid')}")

    def demo_lines(self, summary: dict[str, Any]) -> list[str]:
        final, base = summary.get("final") or {}, summary.get("baseline_final") or {}
        lines = [f"- search: {summary.get('steps')} steps, {summary.get('candidates')} candidates "
                 f"({summary.get('failed')} failed), {summary.get('train_seconds', 0):.0f} s of training; stop: "
                 f"{summary.get('stop_reason')}"]
        if final.get("fid") is not None:
            lines.append(f"- final {final['cid']} ({final.get('resolution')}²) FID {final['fid']:.1f} vs symmetric "
                         f"baseline {base.get('fid', float('nan')):.1f}")
        return lines


RECIPE = DGGANRecipe()


def load_config(*, scale: str = "reduced", preset: str = "", **overrides: Any) -> DGGANConfig:
    """Resolve a DGGAN config: dataclass defaults ← papers/dggan/<scale>[-preset].yaml ← overrides."""
    return RECIPE.load_config(scale=scale, preset=preset, **overrides)


def run(cfg: DGGANConfig, *, data: Any = None, progress: bool = True) -> DGGANRun:
    """The whole search, the baseline and the final training under the run contract (resumes in ``out_dir``)."""
    return engine.run(RECIPE, cfg, data=data, progress=progress)


def build_data(cfg: DGGANConfig):
    """The training images at every resolution of the search (None in a dry run on real data)."""
    from gancore.engine.data import build_data as build_images

    return build_images(cfg, resolution=cfg.resolution)


def check_inputs(cfg: DGGANConfig) -> None:
    RECIPE.check_inputs(cfg)


def memory_estimate(cfg: DGGANConfig):
    return RECIPE.memory_estimate(cfg)


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
           "skipped_unreachable": sum(s.get("skipped_unreachable", 0) for s in st.steps),
           "skipped_over_cap": sum(s.get("skipped_over_cap", 0) for s in st.steps),
           "retried": sum(1 for r in recs.values() if r.get("attempts", 1) > 1),
           "candidates": len(cands), "failed": sum(1 for r in cands if r.get("status") != "complete"),
           "train_seconds": round(sum(r.get("train_seconds", 0) or 0 for r in recs.values()), 2)}
    for key in ("final", "baseline/final"):
        r = recs.get(key)
        if r:
            out[key.replace("/", "_")] = {"cid": r["cid"], "fid": r.get("fid"), "status": r.get("status"),
                                          "is_mean": r.get("is_mean"), "is_std": r.get("is_std"),
                                          "swd_avg": r.get("swd_avg"),
                                          "resolution": r.get("resolution"),
                                          "params_G": r.get("params_G"), "params_D": r.get("params_D"),
                                          "error": r.get("error")}
    if "final" in recs and recs["final"].get("params"):
        out["params"] = recs["final"]["params"]
    return out
