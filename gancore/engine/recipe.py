"""The recipe contract: what a paper provides to the engine, and what it gets back (gancore/engine/README.md).

A paper is a :class:`Paper` (its config, presets, memory estimate, reference models, the lines scripts print) that
is also one of

- a :class:`Training`: one run of one fixed pair of networks (ProGAN, BigGAN; alphaGAN's search and its retrain
  and each DGGAN candidate are Trainings too, which their papers' pipelines run);
- a :class:`Pipeline`: a run made of other runs (alphaGAN: search, then retrain; DGGAN: a search over candidates).

A Training provides a :class:`Method` (networks, optimizers and one update step), optionally an
:class:`Evaluator`, and the paper's fields of ``summary.json``. Everything else (device and threads, data, the loop,
EMA, checkpoints and resume, the run folder, summaries) is :mod:`gancore.engine`'s. A recipe never sets threads or
the device, resumes, writes ``summary.json``, or imports a widget or another recipe.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Protocol

import torch
from torch import Tensor, nn

from gancore.config import RunConfig, resolve
from gancore.precision import autocast
from gancore.sampling import eval_mode

if TYPE_CHECKING:
    from gancore.engine.lifecycle import PipelineContext, Run
    from gancore.engine.loop import Hooks, Trainer
    from gancore.preflight import MemoryEstimate

Reals = Callable[..., tuple[Tensor, Tensor]]  # reals(n, *, resolution=None) -> (images in [-1, 1], labels)


class Method(Protocol):
    """One paper's networks, optimizers and update step, as the loop drives them."""

    G: nn.Module
    D: nn.Module
    length_nimg: int  # real images in a run when total_kimg is 0 (e.g. the end of ProGAN's growth schedule)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]: ...

    def latent_dim(self) -> int: ...

    def train_step(self, nimg: int, reals: Reals, rng: torch.Generator) -> tuple[dict[str, Tensor], int]:
        """One update at image count ``nimg``; returns (scalar losses as tensors, real images consumed). Every
        random draw comes from ``rng`` (or global state seeded at construction), so a resumed run draws the same."""

    def generate(self, G: nn.Module, z: Tensor, labels: Tensor | None = None, *, nimg: int) -> Tensor:
        """Images of ``G`` for latents ``z`` as training stands at ``nimg`` (float, [-1, 1])."""

    def where(self, nimg: int) -> dict[str, Any]:
        """Where training stands at ``nimg``, logged with every record (at least ``res`` and ``batch``)."""

    def grid_labels(self, n: int) -> Tensor | None: ...

    def loop_hooks(self) -> "Hooks":
        """The method's plug-ins of the loop, asked for after resume (so they can read the resumed state)."""

    def on_fresh_run(self, trainer: "Trainer") -> None:
        """Called once when a run starts from scratch (not on resume), e.g. DGGAN's inheritance from a parent."""

    def extra_state(self) -> dict[str, Any]: ...

    def load_extra_state(self, state: dict[str, Any]) -> None: ...


class MethodBase:
    """Defaults of :class:`Method` for a G/D pair at one resolution with Adam ``opt_g`` and ``opt_d``.

    A subclass sets ``G``, ``D``, ``opt_g``, ``opt_d``, ``device``, ``resolution``, ``batch_size`` and
    ``length_nimg`` and writes ``train_step``; ``generator_inputs`` adds what its G takes besides ``z``."""

    precision: str = "fp32"
    resolution: int
    batch_size: int
    length_nimg: int

    def __init__(self) -> None:
        self.extra: dict[str, Any] = {}  # the method's own state, kept in every checkpoint

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_g, "D": self.opt_d}

    def extra_state(self) -> dict[str, Any]:
        return dict(self.extra)

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.extra = dict(state)

    def where(self, nimg: int) -> dict[str, Any]:
        return {"res": self.resolution, "batch": self.batch_size}

    def grid_labels(self, n: int) -> Tensor | None:
        return None

    def loop_hooks(self) -> "Hooks":
        from gancore.engine.loop import Hooks

        return Hooks()

    def on_fresh_run(self, trainer: "Trainer") -> None:
        pass

    def generator_inputs(self, labels: Tensor | None, nimg: int) -> dict[str, Any]:
        return {}

    def render(self, G: nn.Module, z: Tensor, **net_kwargs: Any) -> Tensor:
        """``G(z, **net_kwargs)`` in eval mode, without autograd, at the method's precision, as float."""
        with eval_mode(G), autocast(self.device, self.precision):
            return G(z, **net_kwargs).float()

    def generate(self, G: nn.Module, z: Tensor, labels: Tensor | None = None, *, nimg: int = 0) -> Tensor:
        return self.render(G, z, **self.generator_inputs(labels, nimg))


class Evaluator(Protocol):
    """A training run's metrics (rank 0 only). ``initial`` may return None: no yardstick for this kind of run."""

    def initial(self, G: nn.Module) -> dict[str, Any] | None: ...

    def during_training(self, G: nn.Module, nimg: int) -> dict[str, float]: ...

    def final(self, G: nn.Module, nimg: int) -> dict[str, Any]: ...


@dataclass
class Outcome:
    """What a finished (or resumed, or dry) training run hands its recipe to summarize."""

    cfg: RunConfig
    method: Method
    trainer: "Trainer"
    device: torch.device
    result: dict[str, Any]
    initial: dict[str, Any] = field(default_factory=dict)
    final: dict[str, Any] = field(default_factory=dict)
    previous: dict[str, Any] = field(default_factory=dict)  # the folder's summary.json before this call
    wall_seconds: float = 0.0

    def common(self) -> dict[str, Any]:
        """The fields every training summary has: status, images and steps, time and speed, the metrics."""
        state = self.trainer.state
        return {"status": self.result["status"], "nimg": self.result["nimg"], "kimg": self.result["nimg"] / 1000,
                "iterations_done": state.step, "train_seconds": round(state.train_seconds, 2),
                "wall_seconds_this_session": round(self.wall_seconds, 2),
                "img_per_s": round(self.result["nimg"] / max(state.train_seconds, 1e-9), 2),
                "initial": self.initial, "final": self.final}


class Paper(ABC):
    """A paper as the scripts, the references, preflight and ``make demo`` see it (:mod:`gancore.engine.registry`)."""

    paper: ClassVar[str]
    config_class: ClassVar[type[RunConfig]]
    # Why the paper cannot run as data-parallel replicas under torchrun ("" when it can: scripts/train.py).
    single_process: ClassVar[str] = ""
    # ``make demo``: the whole reduced notebook's seconds measured on the README's CPU, for a paper whose length a
    # few measured steps cannot tell (a search); None when :meth:`estimate` measures it on this machine.
    demo_seconds: ClassVar[float | None] = None

    def load_config(self, *, scale: str = "reduced", preset: str = "", **overrides: Any) -> RunConfig:
        """Dataclass defaults ← papers/<paper>/<scale>[-<preset>].yaml ← the paper's ablation switch ← overrides."""
        return resolve(self.config_class, paper=self.paper, scale=scale, preset=preset, overrides=overrides)

    @abstractmethod
    def memory_estimate(self, cfg: RunConfig) -> "MemoryEstimate":
        """A lower bound of the memory the run needs (:mod:`gancore.preflight` refuses what cannot fit)."""

    def check_inputs(self, cfg: RunConfig) -> None:
        """The paper's own input files, checked before anything is built (e.g. alphaGAN's genotype.json)."""

    @abstractmethod
    def reference_generator(self, cfg: RunConfig, info: dict[str, Any]) -> nn.Module:
        """An untrained G of a shipped reference model's architecture (its manifest ``info``, its config ``cfg``)."""

    def estimate(self, cfg: RunConfig, **kwargs: Any) -> Any:
        """How long the notebook's training takes here (:class:`gancore.estimate.Estimate`), or None."""
        return None

    def reference_export(self, run: "Run") -> tuple[dict[str, Any], nn.Module, Path]:
        """(summary, generator, training log) of a finished reference run, for scripts/train_reference.py."""
        return run.summary, run.G_ema, run.out_dir / "log.jsonl"

    def result_line(self, run: "Run") -> str:
        """What scripts/train.py prints when the run ends (before the process count and the run folder)."""
        return f"{self.paper} {run.cfg.scale}: {run.summary.get('status')} at kimg {run.summary.get('kimg', 0):g}"

    def demo_lines(self, summary: dict[str, Any]) -> list[str]:
        """``make demo``'s lines about a finished run (besides the claims, which it lists for every paper)."""
        lines = [f"- status: {summary.get('status')}, {summary.get('kimg', 0):.1f} kimg in "
                 f"{summary.get('train_seconds', 0):.0f} s of training ({summary.get('img_per_s', 0):.0f} img/s); "
                 f"params G {summary['params']['G']:,} / D {summary['params']['D']:,}"]
        init, final = summary.get("initial") or {}, summary.get("final") or {}
        if "fid" in final:
            ratio = f" (ratio {final['fid'] / init['fid']:.2f})" if init.get("fid") else ""
            lines.append(f"- FID (shapes features): untrained {init.get('fid', float('nan')):.1f} → "
                         f"{final['fid']:.1f}{ratio}")
        return lines


class Training(ABC):
    """One training run of one G/D pair, whose lifecycle :func:`gancore.engine.run` owns."""

    run_class: ClassVar[type] | None = None  # a Run subclass with the paper's accessors (default: Run)

    def build_data(self, cfg: RunConfig) -> Any:
        """The run's images (None in a dry run on real data: nothing is decoded)."""
        from gancore.engine.data import build_data

        return build_data(cfg, resolution=cfg.resolution)

    def split_data(self, cfg: RunConfig, data: Any) -> tuple[Any, Any]:
        """(the images the loop draws from, images the method keeps for itself), e.g. alphaGAN's §5.1 halves."""
        return data, None

    @abstractmethod
    def build_method(self, cfg: RunConfig, *, data: Any, held_out: Any, device: torch.device) -> Method: ...

    def build_evaluator(self, cfg: RunConfig, *, data: Any, method: Method, device: torch.device) -> Evaluator | None:
        return None

    def loop_config(self, cfg: RunConfig) -> RunConfig:
        """The config the loop runs with (alphaGAN's search turns epochs into image cadences)."""
        return cfg

    @abstractmethod
    def describe(self, cfg: RunConfig, *, method: Method, trainer: "Trainer", data: Any,
                 device: torch.device) -> dict[str, Any]:
        """The summary fields known before training (what was built: networks, schedule, switches)."""

    def results(self, outcome: Outcome) -> dict[str, Any]:
        """The summary fields of a finished run beyond :meth:`Outcome.common` (e.g. the resolution reached)."""
        return {}


class Pipeline(ABC):
    """A run made of other runs, in one run folder; :func:`gancore.engine.run` owns its lifecycle too."""

    run_class: ClassVar[type] | None = None
    # What restart=True moves aside from the folder when :meth:`stale` says the old run belongs to another config.
    folder_entries: ClassVar[tuple[str, ...]] = ()

    def stale(self, cfg: RunConfig) -> bool:
        """Whether the folder holds a run of another config (then ``restart=True`` moves it aside)."""
        return False

    @abstractmethod
    def pipeline(self, ctx: "PipelineContext") -> "Run":
        """Run the parts (with ``ctx.train``) and return the run, whose ``summary`` the engine writes."""
