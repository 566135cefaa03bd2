"""The training loop every paper shares: steps, cadences, G's weight EMA, the divergence guard, the log.

A paper plugs in a :class:`~gancore.engine.recipe.Method` (networks, optimizers, one update step) and, where it
needs them, :class:`Hooks` (ProGAN's phase-end grids, BigGAN's §4.1 monitor, alphaGAN's search log). The loop knows
nothing of resolutions, fade-ins or architecture weights: a method says where training stands (``where``).

Checkpoints and exact resume: :mod:`gancore.engine.checkpointing`; the folder: :mod:`gancore.engine.run_folder`.
Data parallel (:mod:`gancore.distributed`): under torch.distributed each rank trains a replica on its slice of every
global batch, with its own latent generator (rank 0's is the single-process one); gradients are averaged before each
optimizer step, so the replicas stay identical, and rank 0 alone writes files.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from gancore import distributed
from gancore.data import BatchStream
from gancore.engine import checkpointing
from gancore.engine.run_folder import HOW_TO_GO_ON, RunFolder
from gancore.engine.samples import progress_record, save_grid
from gancore.errors import TrainingDiverged
from gancore.threads import ThreadGovernor


@dataclass
class RunState:
    nimg: int = 0
    step: int = 0
    train_seconds: float = 0.0  # wall time spent in training steps, summed over resumes
    fresh: bool = True


@dataclass
class Hooks:
    """What a method or notebook adds to the loop."""

    # Metrics of the EMA G every metrics_every_kimg: (G_ema, nimg) -> {name: value} (rank 0 only).
    evaluate: Callable[[nn.Module, int], dict[str, float]] | None = None
    # Before every step, with the trainer (e.g. a grid at the end of a growth phase).
    before_step: list[Callable[["Trainer"], None]] = field(default_factory=list)
    # After every step, with the run state and the step's losses (tensors); a returned dict is logged as one record
    # (its "kind" set by the hook). Runs before the step's checkpoint.
    on_step: list[Callable[[RunState, dict[str, Tensor]], dict | None]] = field(default_factory=list)
    on_log: list[Callable[[dict], None]] = field(default_factory=list)

    def add(self, other: "Hooks") -> None:
        self.evaluate = self.evaluate or other.evaluate
        self.before_step += other.before_step
        self.on_step += other.on_step
        self.on_log += other.on_log


class Trainer:
    """Runs a method under the run contract: config.json, log.jsonl, checkpoints/, samples/, progress.json."""

    def __init__(self, *, cfg, method, data: Any, device: torch.device, hooks: Hooks | None = None):
        self.cfg, self.method, self.data, self.device = cfg, method, data, device
        self.hooks = hooks or Hooks()
        self.dist = distributed.info()
        self.folder = RunFolder(cfg.out_dir, is_main=self.dist.is_main)
        self.state = RunState()
        # Each rank draws its own latents (rank 0 keeps the single-process seed); the data stream is shared and
        # sliced per rank in reals(), so all ranks agree on the data position.
        self.rng = torch.Generator().manual_seed(cfg.seed + 1_000_033 * self.dist.rank)
        self.stream = BatchStream(num_items=len(data), seed=cfg.seed)
        live = cfg.ema_buffers == "live"  # else the buffers are averaged with the weights
        self.ema = AveragedModel(method.G, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=not live)
        # (average's buffer, G's buffer) pairs, copied after every update; a resume loads into the same tensors.
        self._live_buffers = list(zip(self.ema.module.buffers(), method.G.buffers())) if live else []
        self.ema.requires_grad_(False)
        # Fixed latents for sample grids, from their own generator so sampling never perturbs training draws.
        self.fixed_z = torch.randn(32, method.latent_dim(), generator=torch.Generator().manual_seed(cfg.seed + 1_000_003))
        self.fixed_labels = method.grid_labels(32)
        self.total_nimg = int(round(cfg.total_kimg * 1000)) or method.length_nimg
        self.ema_start_nimg = int(round(cfg.ema_start_kimg * 1000))
        self._pending: list[dict[str, Tensor]] = []
        self._resume_checked, self.resumed_from = None, None  # (bool, Path) once try_resume ran

    out = property(lambda self: self.folder.out)

    def continue_ema(self) -> None:
        """The EMA already holds an average (e.g. one a grown child inherited from its parent, DGGAN): the next
        update averages into it, where a fresh run's first update copies G."""
        self.ema.n_averaged.fill_(max(1, int(self.ema.n_averaged)))

    def reals(self, batch_size: int, *, resolution: int | None = None) -> tuple[Tensor, Tensor]:
        """This rank's next real minibatch (float [-1, 1] on the device, and labels), at ``resolution`` (default:
        the data's own); mirrored left-right when ``mirror_augment`` is on (ProGAN App. G)."""
        world, rank = self.dist.world_size, self.dist.rank
        idx = self.stream.next_indices(batch_size * world)[rank * batch_size:(rank + 1) * batch_size]
        # Flips come from the loop's generator, so a resumed run draws the same ones.
        flip = torch.rand(batch_size, generator=self.rng) < 0.5 if self.cfg.mirror_augment else None
        out = self.data.batch(idx, resolution=resolution, device=self.device, flip=flip)
        if getattr(self.data, "prefetches", False):  # a streamed store: read the likely next request meanwhile
            ahead = copy.copy(self.stream).next_indices(batch_size * world)
            self.data.prefetch(ahead[rank * batch_size:(rank + 1) * batch_size])
        return out

    # ---- checkpoints (gancore.engine.checkpointing) -------------------------------------------------------------
    def save_checkpoint(self) -> Path:
        return checkpointing.save(self)

    def try_resume(self) -> bool:
        """Load the newest good checkpoint of ``out_dir`` if any (idempotent: the second call is a no-op)."""
        if self._resume_checked is None:
            with self.folder.lock():
                self._resume_checked = checkpointing.resume(self)
        return self._resume_checked

    # ---- log, divergence guard, samples ------------------------------------------------------------------------
    def log(self, record: dict) -> None:
        if not self.dist.is_main:
            return
        record = {"nimg": self.state.nimg, "kimg": round(self.state.nimg / 1000, 3), **record}
        self.folder.append_log(record)
        for cb in self.hooks.on_log:
            cb(record)

    def _check_finite(self) -> None:
        """NaN/Inf guard. On CPU every step is checked (free); on GPU the flags are checked at each log so the
        loop does not sync every step, and no checkpoint is ever written before its losses are checked."""
        if not self._pending:
            return
        stacked = {k: torch.stack([p[k].detach().float() for p in self._pending]) for k in self._pending[0]}
        bad = [k for k, v in stacked.items() if not torch.isfinite(v).all()]
        if distributed.any_rank(bool(bad)):  # every rank stops together, whichever rank diverged
            bad = bad or ["on another rank"]
            self._pending.clear()
            msg = (f"non-finite loss ({', '.join(bad)}) at kimg {self.state.nimg / 1000:.3f}, step {self.state.step}; "
                   f"the run stopped and {checkpointing.where_to_go_on(self)}. Check the data, or lower the learning "
                   f"rate. {HOW_TO_GO_ON}")
            self.log({"kind": "error", "error": msg})
            raise TrainingDiverged(msg)

    def flush_losses(self) -> dict[str, float]:
        """Check the pending step losses and return their means over the global batch (then forget them)."""
        self._check_finite()
        if not self._pending:
            return {}
        means = {k: float(torch.stack([p[k].detach().float() for p in self._pending]).mean())
                 for k in self._pending[0]}
        self._pending.clear()
        return distributed.all_reduce_mean(means)

    def save_samples(self, tag: str, *, generate: Callable | None = None, where: dict | None = None) -> Path:
        """Grid of the EMA generator on the fixed latents (:func:`gancore.engine.samples.save_grid`)."""
        return save_grid(self, tag, generate=generate, where=where)

    # ---- the loop ----------------------------------------------------------------------------------------------
    def run(self, *, progress: bool = True) -> dict[str, Any]:
        """Train to ``total_kimg`` (or the method's length, or ``max_seconds``), resuming when ``out_dir`` holds a
        checkpoint. The run folder is locked for the whole call: a second process on it is refused."""
        self.folder.create()
        with self.folder.lock():
            return self._run(progress=progress)

    def _run(self, *, progress: bool) -> dict[str, Any]:
        from tqdm.auto import tqdm

        cfg, state = self.cfg, self.state
        distributed.barrier()
        resumed = self.try_resume()
        self.folder.save_config(cfg)
        if cfg.dry_run:
            return {"status": "dry_run", "nimg": state.nimg}
        if state.nimg >= self.total_nimg:
            return {"status": "complete", "nimg": state.nimg, "resumed": resumed, "trained": False}
        every = lambda kimg: max(1, int(round(kimg * 1000)))  # noqa: E731
        log_every, ckpt_every = every(cfg.log_every_kimg), every(cfg.ckpt_every_kimg)
        sample_every = every(cfg.sample_every_kimg)
        metric_every = every(cfg.metrics_every_kimg) if cfg.metrics_every_kimg > 0 else None
        check_every = 1 if self.device.type == "cpu" else 16
        status = "complete"
        bar = tqdm(total=self.total_nimg, initial=state.nimg, unit="img", mininterval=2.0,
                   disable=not progress or not self.dist.is_main, desc=f"{cfg.paper} {cfg.scale}")
        # Auto thread count (num_threads 0) follows the cores other processes leave free (gancore.threads).
        governor = ThreadGovernor(enabled=self.device.type == "cpu" and not cfg.num_threads)
        self._log_threads(governor.start())
        t_log, n_log = time.perf_counter(), state.nimg
        self.method.G.train(), self.method.D.train()
        try:
            while state.nimg < self.total_nimg:
                if cfg.max_seconds and distributed.any_rank(state.train_seconds >= cfg.max_seconds):
                    status = "time_limit"
                    break
                for hook in self.hooks.before_step:
                    hook(self)
                at, t0 = state.nimg, time.perf_counter()
                losses, used = self.method.train_step(at, self.reals, self.rng)
                if at < self.ema_start_nimg:
                    self.ema.n_averaged.zero_()  # AveragedModel copies G while nothing has been averaged yet
                self.ema.update_parameters(self.method.G)
                with torch.no_grad():
                    for avg, live_buffer in self._live_buffers:
                        avg.copy_(live_buffer)
                used *= self.dist.world_size  # images of the global batch, all ranks together
                state.nimg += used
                state.step += 1
                self._pending.append(losses)
                if state.step % check_every == 0:
                    # On GPU this is also the only host sync of the loop, so queued steps are counted in
                    # train_seconds at most 16 steps late, without stalling the device every step.
                    self._check_finite()
                state.train_seconds += time.perf_counter() - t0
                bar.update(used)
                crossed = lambda k: at // k != state.nimg // k  # noqa: E731
                if crossed(log_every) or state.nimg >= self.total_nimg:
                    means, now = self.flush_losses(), time.perf_counter()
                    rec = {"kind": "train", "step": state.step, **self.method.where(at),
                           "img_s": (state.nimg - n_log) / max(1e-9, now - t_log),
                           "train_s": round(state.train_seconds, 3), **means}
                    self.log(rec)
                    bar.set_postfix({k: f"{v:.3g}" for k, v in means.items()} | {"res": rec.get("res")})
                    self._log_threads(governor.check())
                    self.folder.write_progress(progress_record(self, rec))
                    t_log, n_log = now, state.nimg
                if metric_every and crossed(metric_every) and self.hooks.evaluate is not None and self.dist.is_main:
                    scores = self.hooks.evaluate(self.ema.module, state.nimg)
                    if scores:
                        self.log({"kind": "metric", "res": self.method.where(at).get("res"), **scores})
                    t_log = time.perf_counter()  # evaluation time is not training throughput
                for hook in self.hooks.on_step:
                    extra = hook(state, losses)
                    if extra:
                        self.log(extra)
                if crossed(sample_every):
                    self.save_samples("train")
                if crossed(ckpt_every):
                    self.flush_losses()
                    self.save_checkpoint()
        except KeyboardInterrupt:
            self.flush_losses()
            self.save_checkpoint()
            bar.close()
            raise
        finally:
            governor.stop()
        bar.close()
        self.flush_losses()
        self.save_checkpoint()
        self.save_samples("final")
        return {"status": status, "nimg": state.nimg, "resumed": resumed, "trained": True,
                "train_seconds": state.train_seconds}

    def _log_threads(self, message: str | None) -> None:
        if message:
            self.log({"kind": "threads", "step": self.state.step, "nimg": self.state.nimg,
                      "threads": torch.get_num_threads(), "message": message})
