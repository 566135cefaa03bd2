"""BigGAN as the engine runs it: the recipe (what is built, what the summary says), ``run`` and the run handle."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from gancore import engine
from gancore.data import KNOWN_NUM_CLASSES
from gancore.engine.recipe import Paper, Training
from gancore.errors import ConfigError, DataError
from gancore.nn import count_params
from gancore.recipes.biggan.config import BigGANConfig
from gancore.recipes.biggan.evaluation import BigGANEvaluator
from gancore.recipes.biggan.method import BigGANMethod, build_networks

if TYPE_CHECKING:
    from gancore.estimate import Estimate

PAPER = "biggan"


@dataclass
class BigGANRun(engine.Run):
    def sampling_G(self, *, truncation: float | None = None) -> nn.Module:
        """The EMA G with standing statistics (App. C.1), ready for widgets and figures."""
        return self.evaluator.prepared(self.G_ema, truncation=truncation)


def class_count(cfg: BigGANConfig, data) -> int:
    """Classes the conditional nets are built for: ``cfg.num_classes``, else the data's, else the dataset's known
    count."""
    found = int(data.num_classes) if data is not None else 0
    if cfg.num_classes and found and cfg.num_classes != found:
        raise ConfigError(f"num_classes={cfg.num_classes} but the {cfg.dataset} data has {found} classes; "
                          "set num_classes=0 to take it from the data")
    # A dry run on real data decodes nothing, so fall back to the dataset's known class count (CIFAR-10 has 10; an
    # image folder is sized like ImageNet unless num_classes says otherwise).
    n = cfg.num_classes or found or KNOWN_NUM_CLASSES.get(cfg.dataset, 1000)
    if n < 2 and not cfg.dry_run:
        raise DataError(f"BigGAN is class-conditional and needs at least 2 classes; the {cfg.dataset} data at "
                        f"{cfg.data_dir} has {n} (use class subfolders for an image folder)")
    return n


def shape_only_networks(cfg: BigGANConfig, num_classes: int) -> tuple[nn.Module, nn.Module]:
    """G and D with the right shapes but no values: meta device, no orthogonal init, no SN registration."""
    from gancore.nn import skip_spectral_norm

    meta_cfg = copy.copy(cfg)
    meta_cfg.ortho_init = False
    with torch.device("meta"), skip_spectral_norm():
        return build_networks(meta_cfg, num_classes=num_classes)


class BigGANRecipe(Paper, Training):
    paper = PAPER
    config_class = BigGANConfig
    run_class = BigGANRun

    def build_method(self, cfg: BigGANConfig, *, data, held_out, device: torch.device) -> BigGANMethod:
        return BigGANMethod(cfg=cfg, num_classes=class_count(cfg, data), device=device)

    def build_evaluator(self, cfg: BigGANConfig, *, data, method, device) -> BigGANEvaluator:
        return BigGANEvaluator(cfg=cfg, data=data, device=device)

    def describe(self, cfg: BigGANConfig, *, method: BigGANMethod, trainer, data, device) -> dict[str, Any]:
        n_g, n_d = count_params(method.G), count_params(method.D)
        return {"paper": PAPER, "scale": cfg.scale, "preset": cfg.preset, "table1_row": cfg.table1_row,
                "arch": cfg.arch, "dataset": cfg.dataset, "resolution": cfg.resolution,
                "num_classes": method.num_classes, "device": str(device),
                "class_names": list(getattr(data, "class_names", None) or [])[:method.num_classes],
                "params": {"G": n_g, "D": n_d, "total_m": round((n_g + n_d) / 1e6, 3)},
                "switches": {"shared": cfg.shared, "hier": cfg.hier, "ortho": cfg.ortho},
                "batch_size": cfg.batch_size, "accumulate": cfg.accumulate, "precision": method.precision,
                "total_kimg": trainer.total_nimg / 1000, "iterations": cfg.iterations(trainer.total_nimg / 1000)}

    def results(self, outcome) -> dict[str, Any]:
        return {"claims": outcome.previous.get("claims", [])}

    def memory_estimate(self, cfg: BigGANConfig):
        """Training state and the activations of one micro-batch (G's forward plus D on reals and fakes together);
        preflight adds the data's footprint."""
        from gancore.preflight import MemoryEstimate, layer_output_bytes, state_bytes

        num_classes = cfg.num_classes or KNOWN_NUM_CLASSES.get(cfg.dataset, 1000)
        G, D = shape_only_networks(cfg, num_classes)
        parts = {"weights, gradients, Adam state and EMA": state_bytes(G, D)}
        if not cfg.dry_run:
            z = torch.empty(2, cfg.dim_z, device="meta")
            y = torch.zeros(2, dtype=torch.long, device="meta")
            per_image = layer_output_bytes([G, D], lambda: D(torch.cat([G(z, y)] * 2), torch.cat([y, y])), batch=2)
            parts[f"activations (micro-batch {cfg.micro_batch})"] = per_image * cfg.micro_batch
        return MemoryEstimate(parts, knobs={"state": "ch, d_ch, dim_z, resolution, num_classes",
                                            "activations": "batch_size / accumulate"})

    def estimate(self, cfg, **kwargs: Any):
        return estimate(cfg, **kwargs)

    def reference_generator(self, cfg: BigGANConfig, info: dict[str, Any]) -> nn.Module:
        return build_networks(cfg, num_classes=info["config"].get("num_classes") or 8)[0]

    def demo_lines(self, summary: dict[str, Any]) -> list[str]:
        lines = super().demo_lines(summary)
        acc = (summary.get("final") or {}).get("class_accuracy")
        if acc:
            lines.append(f"- class accuracy of generated samples (shapes classifier): {acc['accuracy']:.1%}")
        return lines


RECIPE = BigGANRecipe()


def load_config(*, scale: str = "reduced", preset: str = "", **overrides: Any) -> BigGANConfig:
    """Resolve a BigGAN config: dataclass defaults ← papers/biggan/<scale>[-preset].yaml ← Table 1 row ← overrides."""
    return RECIPE.load_config(scale=scale, preset=preset, **overrides)


def run(cfg: BigGANConfig, *, data=None, progress: bool = True, evaluate: bool = True,
        baseline: bool = True) -> BigGANRun:
    """Train (or resume, or dry-run) BigGAN under the run contract and return the run with its summary."""
    return engine.run(RECIPE, cfg, data=data, progress=progress, evaluate=evaluate, baseline=baseline)


def build_data(cfg: BigGANConfig):
    return RECIPE.build_data(cfg)


def memory_estimate(cfg: BigGANConfig):
    return RECIPE.memory_estimate(cfg)


def estimate(cfg: BigGANConfig, *, claims: bool = True, num_classes: int = 8) -> "Estimate":
    """Seconds per part of this notebook's training on this machine (:mod:`gancore.estimate`): the main run and,
    with ``claims``, the Table 1 column runs, from a few measured iterations."""
    from gancore import estimate as est
    from gancore.engine.device import pick_device
    from gancore.recipes.biggan.claims import CLAIM_RUNS

    device = pick_device(cfg.device)
    with torch.random.fork_rng(devices=[]), est.thread_policy(cfg, device):
        threads = torch.get_num_threads()
        method = BigGANMethod(cfg=cfg, num_classes=num_classes, device=device)
        rates = est.measure_img_per_s(method, {cfg.resolution: 0}, num_classes=num_classes, device=device)
    parts = {"main run": est.seconds({cfg.resolution: int(cfg.total_kimg * 1000)}, rates)}
    if claims and cfg.claims_kimg > 0:
        images = len(CLAIM_RUNS) * cfg.claims_seeds * int(cfg.claims_kimg * 1000)
        parts["Table 1 columns"] = est.seconds({cfg.resolution: images}, rates)
    return est.Estimate(parts=parts, img_per_s=rates, threads=threads)
