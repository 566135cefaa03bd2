"""The only copy of a run's lifecycle: :func:`run` for a paper, :func:`train` for one training run.

``run(recipe, cfg)``: the machine checks (:mod:`gancore.preflight`), then the run folder's writer lock from the
resume check to the last summary write, then :func:`train` (a :class:`~gancore.engine.recipe.Training`) or the
recipe's pipeline (a :class:`~gancore.engine.recipe.Pipeline`, whose parts are trainings).

``train(recipe, cfg)``: threads and device, the data, the method and the loop, resume (or the method's fresh start and
the untrained G's metrics, the yardstick of "training helped"), training, the final metrics (reused when a finished
run is only re-executed) and ``summary.json``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gancore import distributed
from gancore.config import RunConfig
from gancore.engine.data import training_images
from gancore.engine.device import prepare
from gancore.engine.loop import Hooks, Trainer
from gancore.engine.recipe import Outcome, Pipeline, Training
from gancore.engine.run_folder import RunFolder, finished_before, read_log


@dataclass
class Run:
    """A finished (or resumed, or dry) run: its config and summary, and for a training run its method, loop,
    evaluator and data; a pipeline's run holds its parts."""

    cfg: RunConfig
    summary: dict[str, Any]
    method: Any = None
    trainer: Trainer | None = None
    evaluator: Any = None
    data: Any = field(default=None, repr=False)
    parts: dict[str, "Run"] = field(default_factory=dict, repr=False)

    @property
    def out_dir(self) -> Path:
        return Path(self.cfg.out_dir)

    @property
    def G_ema(self) -> nn.Module:
        return self.trainer.ema.module

    def log(self) -> list[dict]:
        return read_log(self.out_dir / "log.jsonl")


@dataclass
class PipelineContext:
    """What a pipeline gets: its config, device, folder, the previous summary and a way to run its parts."""

    cfg: RunConfig
    device: torch.device
    folder: RunFolder
    previous: dict[str, Any]
    data: Any = None
    progress: bool = True
    evaluate: bool = True

    def train(self, recipe: Training, cfg: RunConfig, **kwargs: Any) -> Run:
        kwargs.setdefault("progress", self.progress)
        return train(recipe, cfg, **kwargs)


def run(recipe, cfg: RunConfig, *, data: Any = None, progress: bool = True, evaluate: bool = True,
        baseline: bool = True) -> Run:
    """Train (or resume, or dry-run) ``cfg`` with ``recipe`` under the run contract and return the run.

    ``data`` may pass in the run's already built data set to skip a rebuild; ``baseline`` measures the untrained G
    first (the yardstick of "training helped")."""
    from gancore import preflight

    preflight.check(cfg, recipe=recipe)  # a run that can never work here fails before anything is built
    folder = RunFolder(cfg.out_dir)
    with folder.lock():
        if isinstance(recipe, Pipeline):
            return _pipeline(recipe, cfg, folder=folder, data=data, progress=progress, evaluate=evaluate)
        return train(recipe, cfg, data=data, progress=progress, evaluate=evaluate, baseline=baseline)


def train(recipe: Training, cfg: RunConfig, *, data: Any = None, progress: bool = True, evaluate: bool = True,
          baseline: bool = True) -> Run:
    """One training run in ``cfg.out_dir`` (resumed when it holds a checkpoint), its metrics and its summary."""
    device = prepare(cfg)
    if data is None:
        data = recipe.build_data(cfg)
    train_data, held_out = recipe.split_data(cfg, data) if data is not None else (None, None)
    method = recipe.build_method(cfg, data=data, held_out=held_out, device=device)
    trainer = Trainer(cfg=recipe.loop_config(cfg), method=method, device=device,
                      data=training_images(train_data, device, workers=cfg.loader_workers))
    evaluator = recipe.build_evaluator(cfg, data=data, method=method, device=device) if data is not None else None
    evaluate = evaluate and distributed.info().is_main and evaluator is not None  # only rank 0 evaluates
    handle = lambda summary: (recipe.run_class or Run)(cfg, summary, method, trainer, evaluator, data)  # noqa: E731
    base = recipe.describe(cfg, method=method, trainer=trainer, data=data, device=device)
    if cfg.dry_run:
        result = trainer.run(progress=False)
        summary = {**base, "status": "dry_run", "nimg": result["nimg"], "kimg": result["nimg"] / 1000,
                   "iterations_done": trainer.state.step}
        trainer.folder.write_summary(summary)
        return handle(summary)

    previous = trainer.folder.read_summary()
    fresh = not trainer.try_resume()
    if fresh:
        method.on_fresh_run(trainer)
    trainer.hooks.add(method.loop_hooks())
    if evaluate:
        trainer.hooks.add(Hooks(evaluate=getattr(evaluator, "during_training", None)))
        if fresh and baseline:
            initial = evaluator.initial(trainer.ema.module)
            if initial is not None:  # kept in the checkpoint, so a resumed run still knows it
                method.extra["initial_metrics"] = initial
    t0 = time.perf_counter()
    try:
        result = trainer.run(progress=progress)
    finally:
        getattr(trainer.data, "close", lambda: None)()  # the reader threads of a streamed store
    if finished_before(previous, result):
        summary = previous
    else:
        final = evaluator.final(trainer.ema.module, result["nimg"]) if evaluate else {}
        outcome = Outcome(cfg=cfg, method=method, trainer=trainer, device=device, result=result,
                          initial=method.extra.get("initial_metrics", {}), final=final, previous=previous,
                          wall_seconds=time.perf_counter() - t0)
        summary = {**base, **outcome.common(), **recipe.results(outcome)}
    trainer.folder.write_summary(summary)
    return handle(summary)


def _pipeline(recipe: Pipeline, cfg: RunConfig, *, folder: RunFolder, data: Any, progress: bool,
              evaluate: bool) -> Run:
    folder.create()
    previous = folder.read_summary()
    if cfg.restart and not cfg.dry_run and recipe.stale(cfg):
        import warnings

        aside = folder.move_aside(recipe.folder_entries)
        warnings.warn(f"restart=True: the previous run in {folder.out} was moved to {aside.name}/", stacklevel=3)
        previous = {}
    folder.save_config(cfg)
    ctx = PipelineContext(cfg=cfg, device=prepare(cfg), folder=folder, previous=previous, data=data,
                          progress=progress, evaluate=evaluate)
    result = recipe.pipeline(ctx)
    folder.write_summary(result.summary)
    return result
