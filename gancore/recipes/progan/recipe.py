"""ProGAN as the engine runs it: the recipe (what is built, what the summary says) and ``run``."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from gancore import engine
from gancore.engine.recipe import Outcome, Paper, Training
from gancore.nn import count_params
from gancore.recipes.progan.config import ProGANConfig
from gancore.recipes.progan.evaluation import ProGANEvaluator
from gancore.recipes.progan.method import ProGANMethod, build_networks, build_schedule

if TYPE_CHECKING:
    from gancore.estimate import Estimate

PAPER = "progan"


class ProGANRecipe(Paper, Training):
    paper = PAPER
    config_class = ProGANConfig

    def build_method(self, cfg: ProGANConfig, *, data, held_out, device: torch.device) -> ProGANMethod:
        return ProGANMethod(cfg=cfg, device=device)

    def build_evaluator(self, cfg: ProGANConfig, *, data, method: ProGANMethod, device) -> ProGANEvaluator:
        return ProGANEvaluator(cfg=cfg, data=data, device=device, growth=method.growth)

    def describe(self, cfg: ProGANConfig, *, method: ProGANMethod, trainer, data, device) -> dict[str, Any]:
        return {"paper": PAPER, "scale": cfg.scale, "preset": cfg.preset, "ablation": cfg.ablation,
                "dataset": cfg.dataset, "resolution": cfg.resolution, "device": str(device),
                "params": {"G": count_params(method.G), "D": count_params(method.D)},
                "schedule": method.schedule.to_list(), "growth_points_kimg": method.schedule.growth_points_kimg(),
                "total_kimg": trainer.total_nimg / 1000}

    def results(self, outcome: Outcome) -> dict[str, Any]:
        reached, alpha = outcome.method.growth.at(outcome.result["nimg"])
        return {"final_resolution": reached.resolution, "final_alpha": alpha,
                "claims": outcome.previous.get("claims", [])}

    def memory_estimate(self, cfg: ProGANConfig):
        """Training state and the largest phase's activations (per-image layer outputs × that phase's batch);
        preflight adds the data's footprint."""
        from gancore.preflight import MemoryEstimate, layer_output_bytes, state_bytes

        with torch.device("meta"):
            G, D = build_networks(cfg)
        parts = {"weights, gradients, Adam state and EMA": state_bytes(G, D)}
        if not cfg.dry_run:
            worst, per_image = (0, 0, 0), {}
            z = torch.empty(2, cfg.latent_dim, device="meta")
            for phase in build_schedule(cfg).phases:
                res, bs = phase.resolution, phase.batch_size
                if res not in per_image:  # a fade and a stabilization phase at one resolution cost the same
                    per_image[res] = layer_output_bytes([G, D], lambda: D(G(z, resolution=res), resolution=res),
                                                        batch=2)
                worst = max(worst, (per_image[res] * bs, bs, res))
            parts[f"activations (batch {worst[1]} at {worst[2]}²)"] = worst[0]
        return MemoryEstimate(parts, knobs={"state": "fmap_base, fmap_max, latent_dim, resolution",
                                            "activations": "batch_size / batch_sizes"})

    def estimate(self, cfg, **kwargs: Any):
        return estimate(cfg, **kwargs)

    def reference_generator(self, cfg: ProGANConfig, info: dict[str, Any]):
        return build_networks(cfg)[0]

    def demo_lines(self, summary: dict[str, Any]) -> list[str]:
        lines = super().demo_lines(summary)
        final = summary.get("final") or {}
        if "swd_avg" in final:
            lines.append(f"- SWD ×10³ avg: {final['swd_avg']:.2f}; MS-SSIM: {final.get('ms_ssim', float('nan')):.3f}")
        return lines


RECIPE = ProGANRecipe()


def load_config(*, scale: str = "reduced", preset: str = "", **overrides: Any) -> ProGANConfig:
    """Resolve a ProGAN config: dataclass defaults ← papers/progan/<scale>[-preset].yaml ← ablation ← overrides."""
    return RECIPE.load_config(scale=scale, preset=preset, **overrides)


def run(cfg: ProGANConfig, *, data=None, progress: bool = True, evaluate: bool = True,
        baseline: bool = True) -> engine.Run:
    """Train (or resume, or dry-run) ProGAN under the run contract and return the run with its summary.

    ``data`` may pass in an already built dataset (from :func:`build_data` with the same config) to skip a rebuild.
    ``baseline`` measures the untrained G's FID first (the yardstick of the reduced-scale quality bar).
    """
    return engine.run(RECIPE, cfg, data=data, progress=progress, evaluate=evaluate, baseline=baseline)


def build_data(cfg: ProGANConfig):
    return RECIPE.build_data(cfg)


def memory_estimate(cfg: ProGANConfig):
    return RECIPE.memory_estimate(cfg)


def estimate(cfg: ProGANConfig, *, claims: bool = True) -> "Estimate":
    """Seconds per part of this notebook's training on this machine (:mod:`gancore.estimate`): the main run's
    schedule plus, with ``claims``, the Fig. 4 pair (the fixed run gets the progressive run's seconds) and the
    Table 1 rows, from a few measured steps at every resolution."""
    from gancore import estimate as est
    from gancore.engine.device import pick_device
    from gancore.recipes.progan.claims import claim_runs

    device = pick_device(cfg.device)
    with torch.random.fork_rng(devices=[]), est.thread_policy(cfg, device):
        threads = torch.get_num_threads()
        method = ProGANMethod(cfg=cfg, device=device)
        rates = est.measure_img_per_s(method, method.growth.measure_points(), device=device)
    main = build_schedule(cfg)
    parts = {"main run": est.seconds(est.images_by_resolution(main, int(cfg.total_kimg * 1000)
                                                              or main.natural_end_nimg), rates)}
    if claims:
        pair = rows = 0.0
        for kind, sub in claim_runs(cfg, final_num_images=min(cfg.final_num_images, 512)):
            sched = build_schedule(sub)
            if kind == "progressive":  # the fixed run of its pair then trains as long
                pair += 2 * est.seconds(est.images_by_resolution(sched, sched.natural_end_nimg), rates)
            elif kind == "row":
                rows += est.seconds(est.images_by_resolution(sched, int(sub.total_kimg * 1000)), rates)
        parts.update({"Fig. 4 pair": pair, "Table 1 rows": rows})
    return est.Estimate(parts=parts, img_per_s=rates, threads=threads)
