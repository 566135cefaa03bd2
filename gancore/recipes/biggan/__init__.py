"""BigGAN (Brock et al. 2019): class-conditional hinge GAN with the paper's tricks.

- :mod:`.config` — the typed config; Table 1's rows are switches;
- :mod:`.method` — App. B networks, App. C's update with accumulation, §3.1 orthogonal regularization, §4.1 monitor;
- :mod:`.evaluation` — standing statistics, the truncation sweep, FID/IS/KID and class accuracy;
- :mod:`.recipe` — what the engine runs (:data:`RECIPE`), :func:`run` and the run handle;
- :mod:`.claims` — §3.1's trade-off, Table 1's columns and class-correct samples, with verdicts;
- :mod:`.figures`, :mod:`.views`, :mod:`.widgets` — the notebook's tables, images and explorer (the widgets load
  only when asked for: training never imports UI code).
"""
import importlib

from gancore.engine.run_folder import update_summary
from gancore.errors import TrainingDiverged
from gancore.recipes.biggan.claims import CLAIM_RUNS, CLAIM_TRUNCATION, claim_experiments, claims_table
from gancore.recipes.biggan.config import BigGANConfig
from gancore.recipes.biggan.evaluation import BigGANEvaluator
from gancore.recipes.biggan.figures import architecture_table, class_grid_figure, class_rows_figure, table1_param_check
from gancore.recipes.biggan.method import (BigGANMethod, SpectralHook, build_networks, ortho_weights,
                                           sync_batchnorm_if_distributed)
from gancore.recipes.biggan.recipe import (PAPER, RECIPE, BigGANRun, build_data, class_count, estimate, load_config,
                                           memory_estimate, run)

_LAZY = {"biggan_widget_panel": "widgets", "biggan_explorer": "widgets", "BigGANPanel": "widgets",
         "render_truncation_strip": "views", "render_biggan_view": "views", "render_class_interpolation": "views",
         "render_latent_interpolation": "views", "render_class_samples": "views", "biggan_view_captions": "views",
         "truncation_latents": "views", "BIGGAN_VIEWS": "views", "FIG2_THRESHOLDS": "views"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CLAIM_RUNS", "CLAIM_TRUNCATION", "PAPER", "RECIPE", "BigGANConfig", "BigGANEvaluator", "BigGANMethod",
           "BigGANRun", "SpectralHook", "TrainingDiverged", "architecture_table", "build_data", "build_networks",
           "claim_experiments", "claims_table", "class_count", "class_grid_figure", "class_rows_figure", "estimate",
           "load_config", "memory_estimate", "ortho_weights", "run", "sync_batchnorm_if_distributed",
           "table1_param_check", "update_summary", *_LAZY]
