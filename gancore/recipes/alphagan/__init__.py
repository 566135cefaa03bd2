"""alphaGAN (Tian et al.): differentiable architecture search guided by the duality gap, then a retrain.

- :mod:`.config` — the typed config (search, retrain and the paper's switches);
- :mod:`.data` — the images at the run's resolution and §5.1's train/validation halves;
- :mod:`.nets` — supernet / retrain G and D, the hinge and non-saturating losses;
- :mod:`.search` — Alg. 1 with Alg. 2 as one training run (one step = one epoch);
- :mod:`.retrain` — App. 9.1's retrain of a genotype, its FID/IS/KID and size;
- :mod:`.recipe` — the pipeline the engine runs (:data:`RECIPE`), :func:`run` and the run handles;
- :mod:`.claims`, :mod:`.report` — the notebook's claims and tables/figures.

The search space (genotypes, published alphaGAN(s)/(l)) lives beside its model in
:mod:`gancore.models.alphagan_space`.
"""
from gancore.engine.run_folder import update_summary
from gancore.errors import TrainingDiverged
from gancore.recipes.alphagan.config import AlphaGANConfig
from gancore.recipes.alphagan.data import ImageBank, build_images, split_halves
from gancore.recipes.alphagan.nets import build_networks, loss_fns
from gancore.recipes.alphagan.recipe import (PAPER, RECIPE, AlphaGANRun, RetrainResult, SearchResult, check_inputs,
                                             load_config, memory_estimate, run)
from gancore.recipes.alphagan.retrain import (RetrainMethod, fidelity, genotype_summary, resolve_genotype,
                                              retrain_config, sample_uint8)
from gancore.recipes.alphagan.search import SearchLogHook, SearchMethod, search_loop_config

__all__ = ["PAPER", "RECIPE", "AlphaGANConfig", "AlphaGANRun", "ImageBank", "RetrainMethod", "RetrainResult",
           "SearchLogHook", "SearchMethod", "SearchResult", "TrainingDiverged", "build_images", "build_networks",
           "check_inputs", "fidelity", "genotype_summary", "load_config", "loss_fns", "memory_estimate",
           "resolve_genotype", "retrain_config", "run", "sample_uint8", "search_loop_config", "split_halves",
           "update_summary"]
