"""DGGAN (Liu et al., AAAI 2021): dynamically grown GANs by a top-K greedy search over growth actions.

- :mod:`.config` — the search's typed config and each candidate's;
- :mod:`.candidate` — one candidate as a training run (inheritance, ProGAN's fade-in and WGAN-GP step, FID);
- :mod:`.search` — Alg. 1 over candidate run folders, the symmetric baseline, the final pair;
- :mod:`.recipe` — the pipeline the engine runs (:data:`RECIPE`), :func:`run` and the run handle;
- :mod:`.analysis`, :mod:`.claims` — Fig. 3, the search tree, Table 2 and the claims table.
- :mod:`.identity` — what a resumed search must share (search fields, data and weights fingerprints);
- :mod:`.replay` — a preset's candidate count and reachability, replayed with synthetic rankings (no training).

The growable networks and the 25 actions are :mod:`gancore.models.dggan`; the search's coins, top-K and state are
:mod:`gancore.search.dggan`; its executors (local, Ray) :mod:`gancore.search.executors`.
"""
from gancore.engine.run_folder import update_summary
from gancore.recipes.dggan.candidate import sample_uint8
from gancore.recipes.dggan.config import CandidateConfig, DGGANConfig, candidate_config
from gancore.recipes.dggan.recipe import (PAPER, RECIPE, DGGANRun, build_data, check_inputs, load_config,
                                          memory_estimate, run, search_summary)
from gancore.recipes.dggan.search import STATE_FILE, Search, initial_spec, metrics_key

__all__ = ["PAPER", "RECIPE", "STATE_FILE", "CandidateConfig", "DGGANConfig", "DGGANRun", "Search", "build_data",
           "candidate_config", "check_inputs", "initial_spec", "load_config", "memory_estimate", "metrics_key", "run",
           "sample_uint8", "search_summary", "update_summary"]
