"""alphaGAN as the engine runs it: a pipeline of the search (in ``out_dir``) and the retrain (in ``out_dir/retrain``),
whose ``out_dir/summary.json`` holds both parts."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from gancore import engine
from gancore.engine.recipe import Paper, Pipeline
from gancore.errors import ConfigError
from gancore.models.alphagan_space import Genotype, load_genotype
from gancore.nn import count_params
from gancore.recipes.alphagan.config import AlphaGANConfig
from gancore.recipes.alphagan.data import ImageBank, build_images
from gancore.recipes.alphagan.nets import build_networks
from gancore.recipes.alphagan.retrain import RetrainPart, resolve_genotype, retrain_config
from gancore.recipes.alphagan.search import SearchPart

PAPER = "alphagan"


@dataclass
class SearchResult(engine.Run):
    @property
    def genotype(self) -> Genotype:
        """The derived genotype now (argmax per edge), with its α softmax in ``meta``."""
        return self.method.genotype()

    def search_log(self) -> list[dict]:
        return [r for r in self.log() if r.get("kind") == "search"]


@dataclass
class RetrainResult(engine.Run):
    @property
    def genotype(self) -> Genotype:
        return self.method.genotype


@dataclass
class AlphaGANRun(engine.Run):
    @property
    def search(self) -> SearchResult | None:
        return self.parts.get("search")

    @property
    def retrain(self) -> RetrainResult | None:
        return self.parts.get("retrain")

    @property
    def images(self) -> ImageBank | None:
        return self.data


class _Search(SearchPart):
    run_class = SearchResult


class _Retrain(RetrainPart):
    run_class = RetrainResult


class AlphaGANRecipe(Paper, Pipeline):
    paper = PAPER
    config_class = AlphaGANConfig
    demo_seconds = 214.0  # the reduced notebook, fp32, AMD EPYC Zen 3 (AVX2 only, 2 cores), measured by papermill
    single_process = ("alphaGAN's search and retrain run in one process (one GPU searches alphaGAN(s) in the paper's "
                      "3 GPU-hours)")
    run_class = AlphaGANRun

    def pipeline(self, ctx: engine.PipelineContext) -> AlphaGANRun:
        cfg, out = ctx.cfg, ctx.folder.out
        images = ctx.data if ctx.data is not None else build_images(cfg)
        summary: dict[str, Any] = {"paper": PAPER, "scale": cfg.scale, "preset": cfg.preset, "mode": cfg.mode,
                                   "dataset": cfg.dataset, "resolution": cfg.resolution,
                                   "claims": ctx.previous.get("claims", [])}
        parts: dict[str, engine.Run] = {}
        if cfg.mode in ("search", "search+retrain"):
            search = parts["search"] = ctx.train(_Search(), cfg, data=images)
            if not cfg.dry_run:
                genotype = _finish_search(search, out)
            summary["search"] = search.summary
        if cfg.mode in ("retrain", "search+retrain"):
            if cfg.genotype:
                genotype = load_genotype(cfg.genotype, run_dir=out)
            else:
                genotype = parts["search"].genotype if "search" in parts else resolve_genotype(cfg)
            # The retrain folder's config names the genotype by its content, so a new search result (or an edited
            # genotype.json) is never resumed on top of another architecture's checkpoint.
            rcfg = retrain_config(cfg, genotype=genotype.compact(), out_dir=out / "retrain")
            parts["retrain"] = ctx.train(_Retrain(genotype), rcfg, data=images, evaluate=ctx.evaluate)
            summary["retrain"] = parts["retrain"].summary
        if cfg.mode == "search+retrain" and cfg.search_seeds > 1 and not cfg.dry_run:
            self._more_seeds(ctx, images, parts, summary)
        last = parts.get("retrain") or parts["search"]
        train_seconds = sum(p.summary.get("train_seconds", 0.0) for p in parts.values())
        summary.update({
            "status": "dry_run" if cfg.dry_run else last.summary["status"],
            # The network a user ends up with: the retrained G when there is one, else the supernet.
            "params": {"G": count_params(last.method.G), "D": count_params(last.method.D)},
            "kimg": sum(p.trainer.state.nimg for p in parts.values()) / 1000,
            "train_seconds": round(train_seconds, 2)})
        summary["img_per_s"] = round(summary["kimg"] * 1000 / max(summary["train_seconds"], 1e-9), 2)
        if "retrain" in parts and "final" in parts["retrain"].summary:
            summary["final"] = parts["retrain"].summary["final"]
            summary["initial"] = parts["retrain"].summary.get("initial", {})
        return AlphaGANRun(cfg, summary, data=images, parts=parts)

    def _more_seeds(self, ctx: engine.PipelineContext, images, parts: dict[str, engine.Run],
                    summary: dict[str, Any]) -> None:
        """Table 2 reports the best of 3 runs (§5.1): ``search_seeds`` searches (seeds seed, seed+1, …; the first is
        the main run, the others in ``out_dir/seeds/seed<k>/``), each retrained with its own seed; the genotype whose
        retrain scored the lowest FID becomes the run's search and retrain (``genotype_chosen.json``). Every run is
        an ordinary resumable run folder."""
        cfg, out = ctx.cfg, ctx.folder.out
        rows = [_seed_row(cfg.seed, parts["search"], parts["retrain"], out)]
        for k in range(1, cfg.search_seeds):
            seed, folder = cfg.seed + k, out / "seeds" / f"seed{cfg.seed + k}"
            search = parts[f"search@{seed}"] = ctx.train(_Search(), dataclasses.replace(cfg, seed=seed,
                                                                                        out_dir=str(folder)),
                                                         data=images)
            genotype = _finish_search(search, folder)
            rcfg = retrain_config(cfg, genotype=genotype.compact(), out_dir=folder / "retrain", seed=seed)
            retrain = parts[f"retrain@{seed}"] = ctx.train(_Retrain(genotype), rcfg, data=images,
                                                           evaluate=ctx.evaluate)
            rows.append(_seed_row(seed, search, retrain, folder))
        scored = [r for r in rows if r["fid"] is not None]
        chosen = min(scored, key=lambda r: r["fid"]) if scored else rows[0]  # no FID: keep the main seed
        if chosen["seed"] != cfg.seed:  # the main run's parts move aside under their seed's name
            parts[f"search@{cfg.seed}"], parts[f"retrain@{cfg.seed}"] = parts["search"], parts["retrain"]
            parts["search"], parts["retrain"] = parts[f"search@{chosen['seed']}"], parts[f"retrain@{chosen['seed']}"]
            del parts[f"search@{chosen['seed']}"], parts[f"retrain@{chosen['seed']}"]
        parts["search"].genotype.save(out / "genotype_chosen.json")
        summary.update(search=parts["search"].summary, retrain=parts["retrain"].summary, search_seeds=rows,
                       chosen_seed=chosen["seed"],
                       chosen_by="lowest retrain FID" if scored else "no FID: the main seed is kept")

    def check_inputs(self, cfg: AlphaGANConfig) -> None:
        """A genotype to retrain must load before anything is built."""
        if cfg.genotype or cfg.mode == "retrain":
            resolve_genotype(cfg)

    def memory_estimate(self, cfg: AlphaGANConfig):
        """The supernet's and D's state with the worst-case copies, and the activations of one search batch (or the
        retrain net's, when only retraining)."""
        from gancore.nn import skip_spectral_norm
        from gancore.preflight import MemoryEstimate, layer_output_bytes, state_bytes

        with torch.device("meta"), skip_spectral_norm():
            G, D = build_networks(cfg, genotype=resolve_genotype(cfg) if cfg.mode == "retrain" else None)
        parts = {"weights, gradients, Adam state, EMA and worst-case copies": 2 * state_bytes(G, D)}
        if not cfg.dry_run:
            z = torch.empty(2, cfg.dim_z, device="meta")
            per_image = layer_output_bytes([G, D], lambda: D(torch.cat([G(z)] * 2)), batch=2)
            batch = cfg.batch_size if cfg.mode != "retrain" else max(cfg.retrain_g_batch, cfg.retrain_d_batch)
            parts[f"activations (batch {batch})"] = per_image * batch
        return MemoryEstimate(parts, knobs={"state": "g_channels, d_channels, dim_z, resolution",
                                            "activations": "batch_size (search), retrain_g_batch / retrain_d_batch"})

    def reference_generator(self, cfg: AlphaGANConfig, info: dict[str, Any]) -> nn.Module:
        return build_networks(cfg, genotype=load_genotype(cfg.genotype))[0]  # a retrain: the config names it

    def reference_export(self, run: AlphaGANRun):
        if run.retrain is None:
            raise ConfigError("an alphaGAN reference is a retrain: its config needs mode retrain or search+retrain")
        summary = {**run.summary, "iterations_done": run.retrain.summary.get("iterations_done")}
        return summary, run.retrain.G_ema, run.retrain.out_dir / "log.jsonl"

    def result_line(self, run: AlphaGANRun) -> str:
        s, cfg = run.summary, run.cfg
        return (f"{PAPER} {cfg.scale} ({cfg.mode}): {s.get('status')}; params G {s['params']['G']:,}"
                + (f"; genotype {cfg.out_dir}/genotype.json" if run.search else ""))


def _finish_search(search: engine.Run, folder) -> Any:
    """Save a finished search's genotype in ``folder`` and put it and V per epoch into its summary (only epochs that
    measured V: warm-up epochs skip the architecture part, Table 9). Returns the genotype."""
    genotype = search.genotype
    genotype.save(folder / "genotype.json")
    measured = [r for r in search.search_log() if "gap" in r]
    search.summary.update(genotype=genotype.to_dict(), gap=[r["gap"] for r in measured],
                          gap_epochs=[r["epoch"] for r in measured])
    return genotype


def _seed_row(seed: int, search: engine.Run, retrain: engine.Run, folder) -> dict[str, Any]:
    final = retrain.summary.get("final", {})
    return {"seed": seed, "genotype": search.genotype.compact(), "fid": final.get("fid"),
            "is_mean": final.get("is_mean"), "out_dir": str(folder)}


RECIPE = AlphaGANRecipe()


def load_config(*, scale: str = "reduced", preset: str = "", **overrides: Any) -> AlphaGANConfig:
    """Resolve an alphaGAN config: dataclass defaults ← papers/alphagan/<scale>[-preset].yaml ← overrides."""
    return RECIPE.load_config(scale=scale, preset=preset, **overrides)


def run(cfg: AlphaGANConfig, *, images: ImageBank | None = None, progress: bool = True,
        evaluate: bool = True) -> AlphaGANRun:
    """Search and/or retrain under the run contract (``cfg.mode``); the search lives in ``out_dir`` and the retrain
    in ``out_dir/retrain``; ``out_dir/summary.json`` holds both parts."""
    return engine.run(RECIPE, cfg, data=images, progress=progress, evaluate=evaluate)


def memory_estimate(cfg: AlphaGANConfig):
    return RECIPE.memory_estimate(cfg)


def check_inputs(cfg: AlphaGANConfig) -> None:
    RECIPE.check_inputs(cfg)
