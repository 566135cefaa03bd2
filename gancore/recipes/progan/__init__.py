"""ProGAN (Karras et al. 2018): progressive growing trained with WGAN-GP, evaluated with SWD, MS-SSIM and FID.

- :mod:`.config` — the typed config; Table 1's rows are switches;
- :mod:`.method` — Table 2's networks, App. A.1's growth schedule and WGAN-GP update;
- :mod:`.evaluation` — §5's SWD per Laplacian level, FID/IS/KID, MS-SSIM, and the critic probe;
- :mod:`.recipe` — what the engine runs (:data:`RECIPE`) and :func:`run`;
- :mod:`.claims` — Fig. 4 and Table 1 beside the main run, with verdicts;
- :mod:`.figures` — Table 2 counts, the image pyramid, the growth rows.
"""
from gancore.engine import Run as ProGANRun
from gancore.engine.run_folder import update_summary, write_summary
from gancore.errors import TrainingDiverged
from gancore.recipes.progan.claims import claim_experiments, claims_table
from gancore.recipes.progan.config import ProGANConfig
from gancore.recipes.progan.evaluation import ProGANEvaluator, critic_probe, generate_uint8
from gancore.recipes.progan.figures import architecture_table, growth_figure, pyramid_figure, table2_check
from gancore.recipes.progan.method import ProGANMethod, build_networks, build_schedule
from gancore.recipes.progan.recipe import PAPER, RECIPE, build_data, estimate, load_config, memory_estimate, run
from gancore.schedule import Phase, Schedule, schedule_curve

__all__ = ["PAPER", "RECIPE", "Phase", "ProGANConfig", "ProGANEvaluator", "ProGANMethod", "ProGANRun", "Schedule",
           "TrainingDiverged", "architecture_table", "build_data", "build_networks", "build_schedule",
           "claim_experiments", "claims_table", "critic_probe", "estimate", "generate_uint8", "growth_figure",
           "load_config", "memory_estimate", "pyramid_figure", "run", "schedule_curve", "table2_check",
           "update_summary", "write_summary"]
