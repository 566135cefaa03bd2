"""gancore's engine: one training loop, one run lifecycle, the run folder and the registry of papers.

A paper provides a recipe (:mod:`gancore.engine.recipe`); the engine provides everything around it. Read
gancore/engine/README.md for the contract and a worked example of adding a paper.
"""
from gancore.engine.data import NoData, RealImages
from gancore.engine.device import mps_available, pick_device
from gancore.engine.lifecycle import PipelineContext, Run, run, train
from gancore.engine.loop import Hooks, RunState, Trainer
from gancore.engine.recipe import Evaluator, Method, MethodBase, Outcome, Paper, Pipeline, Training
from gancore.engine.registry import papers, recipe
from gancore.engine.run_folder import config_changes
from gancore.errors import TrainingDiverged

__all__ = ["Evaluator", "Hooks", "Method", "MethodBase", "NoData", "Outcome", "Paper", "Pipeline", "PipelineContext",
           "RealImages", "Run", "RunState", "Trainer", "Training", "TrainingDiverged", "config_changes", "mps_available",
           "papers", "pick_device", "recipe", "run", "train"]
