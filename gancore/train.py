"""One readable training loop shared by every paper.

The loop owns what is the same for all papers: the run folder (DESIGN.md run contract), the data order, G's
weight EMA, checkpoints and exact resume, the NaN/Inf guard, the JSONL log, progress and periodic samples.
A paper plugs in a :class:`Method` that owns its networks, optimizers, schedule and one training step.

Exact resume: every random draw of a run comes from one CPU ``torch.Generator`` (latents, penalty mixing weights,
data order via :class:`~gancore.data.BatchStream`), and a checkpoint holds its state together with the networks,
optimizers, EMA, image count and the method's own state. Re-running on the same ``out_dir`` therefore continues
the identical trajectory; the growth stage and fade-in α follow from the image count.

Data parallel (:mod:`gancore.distributed`): under torch.distributed each rank trains a replica on its slice of every
global batch, with its own latent generator (rank 0's is the single-process one); gradients are averaged before each
optimizer step, so the replicas stay identical. The checkpoint holds every rank's generator state, and rank 0
alone writes files.
"""
from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from gancore import checkpoint as ckpt_io
from gancore import distributed, runlock
from gancore.config import ConfigError, RunConfig, save_config
from gancore.errors import TrainingDiverged
from gancore.data import BatchStream, to_uint8
from gancore.nn import count_params, downsample2x, upsample2x  # noqa: F401  (count_params is re-exported)
from gancore.schedule import Phase, Schedule
from gancore.threads import ThreadGovernor

CHECKPOINT_FORMAT = 1


# What a user can do after a divergence or a refused config change (the config check refuses a resume with another
# learning rate, so "lower the learning rate" alone would lead nowhere).
HOW_TO_GO_ON = ("To go on with a changed config (e.g. a lower learning rate), give it a new out_dir, or keep this "
                "folder with restart=True (notebook: -y 'overrides: {restart: true}'; scripts/train.py: --set "
                "restart=true), which moves the old run into out_dir/previous-<time>/ and starts over from 0 kimg.")


class Method(Protocol):
    """What a paper provides to the loop."""

    G: nn.Module
    D: nn.Module
    schedule: Schedule

    def optimizers(self) -> dict[str, torch.optim.Optimizer]: ...

    def train_step(self, phase: Phase, alpha: float, reals: Callable[[int], tuple[Tensor, Tensor]],
                   rng: torch.Generator) -> tuple[dict[str, Tensor], int]:
        """One G/D update; returns (scalar losses as tensors, real images consumed)."""

    def generate(self, G: nn.Module, z: Tensor, phase: Phase, alpha: float,
                 labels: Tensor | None = None) -> Tensor: ...

    def latent_dim(self) -> int: ...

    def extra_state(self) -> dict[str, Any]: ...

    def load_extra_state(self, state: dict[str, Any]) -> None: ...


def mps_available() -> bool:
    """Whether Apple's Metal (MPS) backend can run here (a torch built with it, on a Mac with a Metal GPU)."""
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def pick_device(name: str) -> torch.device:
    """``auto`` → CUDA, then Apple's MPS, then the CPU; an explicit ``cuda`` / ``mps`` must exist here."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if mps_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device='cuda' was asked for but CUDA is not available; use device='auto' or 'cpu'")
    if name == "mps" and not mps_available():
        raise ConfigError("device='mps' was asked for but Apple's MPS backend is not available here (it needs a Mac "
                          "with a Metal GPU and a torch built with MPS); use device='auto' or 'cpu'")
    return torch.device(name)


def _named_tensors(prefix: str, obj: Any):
    """(dotted name, tensor) for every tensor nested in dicts/lists of ``obj`` (a method's extra state)."""
    if isinstance(obj, Tensor):
        yield prefix, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _named_tensors(f"{prefix}.{k}", v)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _named_tensors(f"{prefix}[{i}]", v)


@dataclass
class RunState:
    nimg: int = 0
    step: int = 0
    train_seconds: float = 0.0  # wall time spent in training steps, summed over resumes
    fresh: bool = True


@dataclass
class Hooks:
    """Optional callbacks a method or notebook can add (evaluation, extra logging)."""

    evaluate: Callable[[nn.Module, Phase, float], dict[str, float]] | None = None
    on_log: list[Callable[[dict], None]] = field(default_factory=list)
    # Called after every step with the run state and the step's losses (tensors); a returned dict is logged as one
    # record (e.g. BigGAN §4.1 singular values, "kind" set by the hook). Runs before the step's checkpoint.
    on_step: list[Callable[["RunState", dict[str, Tensor]], dict | None]] = field(default_factory=list)


class Trainer:
    """Runs a :class:`Method` under the run contract: config.json, log.jsonl, checkpoints/, samples/, summary.json."""

    def __init__(self, *, cfg: RunConfig, method: Method, data: Any, device: torch.device,
                 hooks: Hooks | None = None, label_sampler: Callable[[int, torch.Generator], Tensor] | None = None):
        self.cfg = cfg
        self.method = method
        self.data = data
        self.device = device
        self.hooks = hooks or Hooks()
        self.out = Path(cfg.out_dir)
        self.ckpt_dir = self.out / "checkpoints"
        self.sample_dir = self.out / "samples"
        self.log_path = self.out / "log.jsonl"
        self.state = RunState()
        self.dist = distributed.info()
        # Each rank draws its own latents (rank 0 keeps the single-process seed); the data stream is shared and
        # sliced per rank in reals(), so all ranks agree on the data position.
        self.rng = torch.Generator().manual_seed(cfg.seed + 1_000_033 * self.dist.rank)
        self.stream = BatchStream(num_items=len(data), seed=cfg.seed)
        self.ema = AveragedModel(method.G, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)
        self.ema.requires_grad_(False)
        # Fixed latents for sample grids, from their own generator so sampling never perturbs training draws.
        fixed = torch.Generator().manual_seed(cfg.seed + 1_000_003)
        self.fixed_z = torch.randn(32, method.latent_dim(), generator=fixed)
        self.fixed_labels = label_sampler(32, fixed) if label_sampler else None
        self.total_nimg = int(round(cfg.total_kimg * 1000)) or method.schedule.natural_end_nimg
        self.ema_start_nimg = int(round(cfg.ema_start_kimg * 1000))
        self._last_phase_index: int | None = None
        self._pending: list[dict[str, Tensor]] = []
        self._resume_checked: bool | None = None
        self.resumed_from: Path | None = None

    def continue_ema(self) -> None:
        """The EMA already holds an average (e.g. one a grown child inherited from its parent, DGGAN): the next
        update averages into it, where a fresh run's first update copies G."""
        self.ema.n_averaged.fill_(max(1, int(self.ema.n_averaged)))

    # ---- data --------------------------------------------------------------------------------------------
    def reals(self, batch_size: int, resolution: int, alpha: float) -> tuple[Tensor, Tensor]:
        """Next real minibatch at the network's resolution, blended across resolutions during a fade (ProGAN §2)."""
        world, rank = self.dist.world_size, self.dist.rank
        idx = self.stream.next_indices(batch_size * world)[rank * batch_size:(rank + 1) * batch_size]
        # Flips come from the loop's generator, so a resumed run draws the same ones.
        flip = torch.rand(batch_size, generator=self.rng) < 0.5 if self.cfg.mirror_augment else None
        return self.data.batch(idx, resolution=resolution, alpha=alpha, device=self.device, flip=flip)

    # ---- checkpoints -------------------------------------------------------------------------------------
    def _rng_state(self) -> dict[str, Any]:
        state = {"loop": self.rng.get_state(), "torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def state_tensors(self):
        """(name, tensor) of everything a checkpoint holds that training updates: G and D parameters and buffers,
        the EMA, every optimizer's state (named by its parameter) and tensors of the method's own state."""
        nets = {"G": self.method.G, "D": self.method.D}
        for net_name, net in nets.items():
            for name, t in net.state_dict(keep_vars=True).items():
                yield f"{net_name}.{name}", t
        for name, t in self.ema.module.state_dict(keep_vars=True).items():
            yield f"G_ema.{name}", t
        param_names = {id(p): f"{n}.{k}" for n, net in nets.items() for k, p in net.named_parameters()}
        for opt_name, opt in self.method.optimizers().items():
            for p, slots in opt.state.items():
                owner = param_names.get(id(p), f"param{len(param_names)}")
                for slot, t in slots.items():
                    if isinstance(t, Tensor):
                        yield f"optimizer {opt_name}: {slot} of {owner}", t
        yield from _named_tensors("method", self.method.extra_state())

    def _check_state_finite(self) -> None:
        """Before a checkpoint: every parameter, buffer and optimizer-state tensor must be finite (one fused check).

        Losses can stay finite while Adam's second moments overflow (ProGAN lr=1e4) or R1 with γ=1e30 puts inf
        into D's state; a checkpoint of that would be "last good" in name only. The run stops like a NaN loss."""
        bad = ckpt_io.nonfinite_tensors(self.state_tensors())
        if distributed.any_rank(bool(bad)):
            bad = bad or ["on another rank"]
            last = ckpt_io.list_checkpoints(self.ckpt_dir)
            where = f"the last good checkpoint is {last[-1]}" if last else "no checkpoint was written yet"
            names = ", ".join(bad[:4]) + (f" and {len(bad) - 4} more" if len(bad) > 4 else "")
            msg = (f"non-finite values (NaN/Inf) in {len(bad)} tensor(s) at kimg {self.state.nimg / 1000:.3f}, step "
                   f"{self.state.step}: {names}. The run stopped without writing that checkpoint; {where}. "
                   + HOW_TO_GO_ON)
            self.log({"kind": "error", "error": msg})
            raise TrainingDiverged(msg)

    def save_checkpoint(self) -> Path:
        self._check_state_finite()
        phase, alpha = self.method.schedule.at(self.state.nimg)
        rank_rngs = distributed.gather_objects(self.rng.get_state())  # every rank's latent generator
        payload = {
            "format": CHECKPOINT_FORMAT,
            "config": json.loads(json.dumps(self.cfg.to_dict(), default=str)),
            "nimg": self.state.nimg,
            "step": self.state.step,
            "train_seconds": self.state.train_seconds,
            "phase": phase.to_dict(),
            "alpha": alpha,
            "G": self.method.G.state_dict(),
            "D": self.method.D.state_dict(),
            "G_ema": self.ema.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.method.optimizers().items()},
            "stream": self.stream.state_dict(),
            "rng": {**self._rng_state(), "ranks": rank_rngs},
            "world_size": self.dist.world_size,
            "method": self.method.extra_state(),
        }
        path = ckpt_io.checkpoint_path(self.ckpt_dir, self.state.nimg)
        if self.dist.is_main:
            with self.folder_lock():
                ckpt_io.save_checkpoint(payload, path)
                ckpt_io.prune_checkpoints(self.ckpt_dir, keep=self.cfg.keep_checkpoints)
        distributed.barrier()  # no rank moves on (or reads it back) before the file exists
        return path

    def folder_lock(self):
        """The run folder's writer lock (:mod:`gancore.runlock`); rank 0 alone takes it under torch.distributed."""
        return runlock.run_folder_lock(self.out, enabled=self.dist.is_main)

    def try_resume(self) -> bool:
        """Load the newest good checkpoint of ``out_dir`` if any (idempotent: the second call is a no-op)."""
        if self._resume_checked is not None:
            return self._resume_checked
        with self.folder_lock():
            return self._try_resume()

    def _try_resume(self) -> bool:
        self._resume_checked = False
        found = ckpt_io.latest_good_checkpoint(self.ckpt_dir, map_location="cpu")
        if found is None:
            self._set_aside_orphan_log()
            return False
        path, ck = found
        changed = config_changes(ck.get("config", {}), self.cfg)
        if changed:
            detail = ", ".join(f"{k}: {old!r} → {new!r}" for k, (old, new) in changed.items())
            if self.cfg.restart:
                self._move_previous_run_aside(detail)
                return False
            raise ConfigError(
                f"{self.out} holds a run with a different config (checkpoint {path.name}): {detail}. Rerun with the "
                f"saved values to resume it (only {', '.join(type(self.cfg).RESUMABLE_CHANGES)} may change on "
                f"resume). {HOW_TO_GO_ON}"
            )
        self.method.G.load_state_dict(ck["G"])
        self.method.D.load_state_dict(ck["D"])
        self.ema.load_state_dict(ck["G_ema"])
        for k, opt in self.method.optimizers().items():
            opt.load_state_dict(ck["optimizers"][k])
        self.stream.load_state_dict(ck["stream"])
        self._load_rank_rng(ck)
        torch.set_rng_state(ck["rng"]["torch"])
        if "cuda" in ck["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(ck["rng"]["cuda"])
        self.method.load_extra_state(ck["method"])
        self.state = RunState(nimg=ck["nimg"], step=ck["step"], train_seconds=ck["train_seconds"], fresh=False)
        self._truncate_log(self.state.nimg)
        self.resumed_from = path
        self._resume_checked = True
        return True

    def _load_rank_rng(self, ck: dict[str, Any]) -> None:
        ranks = ck["rng"].get("ranks") or [ck["rng"]["loop"]]
        if len(ranks) == self.dist.world_size:
            self.rng.set_state(ranks[self.dist.rank])
            return
        # Another number of processes than the checkpoint's: data position, networks and optimizers continue,
        # but the latent draws cannot be the same ones, so this resume is not bit-exact.
        warnings.warn(f"resuming a {len(ranks)}-process checkpoint with {self.dist.world_size} processes: the run "
                      "continues, but its latent draws differ from an uninterrupted run", stacklevel=3)
        self.rng.manual_seed(self.cfg.seed + 1_000_033 * self.dist.rank + ck["step"])

    def _move_previous_run_aside(self, detail: str) -> None:
        """``restart=True`` with a changed config: the folder's old run (checkpoints, log, samples, config and
        summary) moves to ``previous-<time>/`` so nothing is lost, and this run starts from 0 kimg."""
        if self.cfg.dry_run:
            raise ConfigError(f"{self.out} holds a run with a different config ({detail}); a dry run does not move it "
                              "aside: rerun without dry_run to restart the folder")
        if not self.dist.is_main:
            distributed.barrier()
            return
        aside = self.out / f"previous-{time.strftime('%Y%m%d-%H%M%S')}"
        aside.mkdir()
        for name in ("checkpoints", "samples", "log.jsonl", "config.json", "summary.json", "claims"):
            if (self.out / name).exists():
                (self.out / name).replace(aside / name)
        warnings.warn(f"restart=True: {self.out} held a run with another config ({detail}); it was moved to "
                      f"{aside.name}/ and training starts over from 0 kimg", stacklevel=4)
        distributed.barrier()

    def _set_aside_orphan_log(self) -> None:
        """A log with no readable checkpoint beside it (every checkpoint corrupt, or a crash before the first one):
        training starts over from 0, so the old records are moved aside rather than mixed into the new log."""
        if self.cfg.dry_run or not self.dist.is_main or not self.log_path.exists() or not self.log_path.stat().st_size:
            return
        backup = self.log_path.with_name(f"log-before-restart-{time.strftime('%Y%m%d-%H%M%S')}.jsonl")
        self.log_path.replace(backup)
        warnings.warn(f"{self.out} has a training log but no readable checkpoint, so training starts over from 0 kimg; "
                      f"the old log was moved to {backup.name}", stacklevel=3)

    def _truncate_log(self, nimg: int) -> None:
        """Drop log records written after the checkpoint, so the resumed log has no duplicates."""
        if not self.dist.is_main or not self.log_path.exists():
            return
        keep = []
        for line in self.log_path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut off by a crash
            if rec.get("nimg", 0) <= nimg:
                keep.append(line)
        ckpt_io.atomic_write_text(self.log_path, "".join(l + "\n" for l in keep))

    # ---- logging -----------------------------------------------------------------------------------------
    def log(self, record: dict) -> None:
        if not self.dist.is_main:
            return
        record = {"nimg": self.state.nimg, "kimg": round(self.state.nimg / 1000, 3), **record}
        with open(self.log_path, "a") as f:
            f.write(json.dumps(record, default=float) + "\n")
        for cb in self.hooks.on_log:
            cb(record)

    def _write_progress(self, rec: dict) -> None:
        """``progress.json`` beside the log: where training is and its ETA, for watchers such as ``make demo``
        (a notebook's own progress bar lives in the kernel, where a terminal cannot see it)."""
        if not self.dist.is_main:
            return
        rate = rec["img_s"]
        eta = max(0, self.total_nimg - self.state.nimg) / rate if rate > 0 else None
        if self.cfg.max_seconds:  # a time-limited run (ProGAN's equal-time claim run) ends on the clock
            eta = min(eta if eta is not None else math.inf, max(0.0, self.cfg.max_seconds - self.state.train_seconds))
        ckpt_io.atomic_write_text(self.out / "progress.json", json.dumps({
            "paper": self.cfg.paper, "nimg": self.state.nimg, "total_nimg": self.total_nimg,
            "img_s": round(rate, 2), "eta_s": None if eta is None else round(eta, 1),
            "res": rec["res"], "phase": rec["phase"], "updated": time.time()}))

    def _log_threads(self, message: str | None) -> None:
        if message:
            self.log({"kind": "threads", "step": self.state.step, "nimg": self.state.nimg,
                      "threads": torch.get_num_threads(), "message": message})

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
            last = ckpt_io.list_checkpoints(self.ckpt_dir)
            where = f"the last good checkpoint is {last[-1]}" if last else "no checkpoint was written yet"
            msg = (f"non-finite loss ({', '.join(bad)}) at kimg {self.state.nimg / 1000:.3f}, step {self.state.step}; "
                   f"the run stopped and {where}. Check the data, or lower the learning rate. {HOW_TO_GO_ON}")
            self.log({"kind": "error", "error": msg})
            raise TrainingDiverged(msg)

    def _flush_losses(self) -> dict[str, float]:
        self._check_finite()
        if not self._pending:
            return {}
        means = {k: float(torch.stack([p[k].detach().float() for p in self._pending]).mean())
                 for k in self._pending[0]}
        self._pending.clear()
        return distributed.all_reduce_mean(means)  # the logged losses are those of the global batch

    # ---- samples -----------------------------------------------------------------------------------------
    @torch.no_grad()
    def save_samples(self, tag: str, *, phase: Phase | None = None, alpha: float | None = None) -> Path:
        """Grid of the EMA generator on fixed latents; ``phase`` defaults to the current one."""
        from torchvision.utils import save_image

        if phase is None:
            phase, alpha = self.method.schedule.at(self.state.nimg)
        elif alpha is None:
            alpha = phase.alpha(self.state.nimg)
        G = self.ema.module
        imgs = self.method.generate(G, self.fixed_z.to(self.device), phase, alpha,
                                    None if self.fixed_labels is None else self.fixed_labels.to(self.device))
        path = self.sample_dir / f"{tag}-kimg{self.state.nimg / 1000:08.1f}-res{phase.resolution}.png"
        if not self.dist.is_main:
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        save_image(to_uint8(imgs).float() / 255, path, nrow=8, padding=1)
        self.log({"kind": "sample", "path": str(path.relative_to(self.out)), "res": phase.resolution,
                  "alpha": alpha, "phase": phase.name})
        return path

    # ---- the loop ----------------------------------------------------------------------------------------
    def run(self, *, progress: bool = True) -> dict[str, Any]:
        """Train to ``total_kimg`` (or ``max_seconds``), resuming when ``out_dir`` holds a checkpoint.

        The run folder is locked for the whole call: a second process on the same ``out_dir`` is refused."""
        if self.dist.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        with self.folder_lock():
            return self._run(progress=progress)

    def _run(self, *, progress: bool) -> dict[str, Any]:
        from tqdm.auto import tqdm

        cfg = self.cfg
        if self.dist.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        distributed.barrier()
        resumed = self.try_resume()
        if self.dist.is_main:
            save_config(cfg, self.out / "config.json")
        if cfg.dry_run:
            return {"status": "dry_run", "nimg": self.state.nimg}
        if self.state.nimg >= self.total_nimg:
            return {"status": "complete", "nimg": self.state.nimg, "resumed": resumed, "trained": False}

        every = lambda kimg: max(1, int(round(kimg * 1000)))  # noqa: E731
        log_every, ckpt_every, sample_every = every(cfg.log_every_kimg), every(cfg.ckpt_every_kimg), every(
            cfg.sample_every_kimg)
        metric_every = every(cfg.metrics_every_kimg) if cfg.metrics_every_kimg > 0 else None
        check_every = 1 if self.device.type == "cpu" else 16
        status = "complete"
        bar = tqdm(total=self.total_nimg, initial=self.state.nimg, unit="img",
                   disable=not progress or not self.dist.is_main, desc=f"{cfg.paper} {cfg.scale}", mininterval=2.0)
        # Auto thread count (num_threads 0) follows the cores other processes leave free (gancore.threads).
        governor = ThreadGovernor(enabled=self.device.type == "cpu" and not cfg.num_threads)
        self._log_threads(governor.start())
        t_log, n_log = time.perf_counter(), self.state.nimg
        self.method.G.train()
        self.method.D.train()
        try:
            while self.state.nimg < self.total_nimg:
                if cfg.max_seconds and distributed.any_rank(self.state.train_seconds >= cfg.max_seconds):
                    status = "time_limit"
                    break
                phase, alpha = self.method.schedule.at(self.state.nimg)
                if self._last_phase_index is not None and phase.index != self._last_phase_index:
                    # The grid of a finished phase is drawn at that phase's resolution with its final α.
                    self._flush_losses()
                    ended = self.method.schedule.phases[self._last_phase_index]
                    self.save_samples(f"end-{ended.name}", phase=ended, alpha=1.0)
                self._last_phase_index = phase.index
                t0 = time.perf_counter()
                losses, used = self.method.train_step(
                    phase, alpha, lambda n: self.reals(n, phase.resolution, alpha), self.rng)
                if self.state.nimg < self.ema_start_nimg:
                    self.ema.n_averaged.zero_()  # AveragedModel copies G while nothing has been averaged yet
                self.ema.update_parameters(self.method.G)
                prev = self.state.nimg
                used *= self.dist.world_size  # images of the global batch, all ranks together
                self.state.nimg += used
                self.state.step += 1
                self._pending.append(losses)
                if self.state.step % check_every == 0:
                    # On GPU this is also the only host sync of the loop, so queued steps are counted in
                    # train_seconds at most 16 steps late, without stalling the device every step.
                    self._check_finite()
                self.state.train_seconds += time.perf_counter() - t0
                bar.update(used)
                crossed = lambda k: prev // k != self.state.nimg // k  # noqa: E731
                if crossed(log_every) or self.state.nimg >= self.total_nimg:
                    means = self._flush_losses()
                    now = time.perf_counter()
                    rec = {"kind": "train", "step": self.state.step, "phase": phase.name, "res": phase.resolution,
                           "alpha": round(alpha, 6), "batch": phase.batch_size,
                           "img_s": (self.state.nimg - n_log) / max(1e-9, now - t_log),
                           "train_s": round(self.state.train_seconds, 3), **means}
                    self.log(rec)
                    bar.set_postfix({k: f"{v:.3g}" for k, v in means.items()} | {"res": phase.resolution})
                    self._log_threads(governor.check())
                    self._write_progress(rec)
                    t_log, n_log = now, self.state.nimg
                if metric_every and crossed(metric_every) and self.hooks.evaluate is not None and self.dist.is_main:
                    scores = self.hooks.evaluate(self.ema.module, *self.method.schedule.at(self.state.nimg))
                    if scores:
                        self.log({"kind": "metric", "res": phase.resolution, **scores})
                    t_log = time.perf_counter()  # evaluation time is not training throughput
                for hook in self.hooks.on_step:
                    extra = hook(self.state, losses)
                    if extra:
                        self.log(extra)
                if crossed(sample_every):
                    self.save_samples("train")
                if crossed(ckpt_every):
                    self._flush_losses()
                    self.save_checkpoint()
        except KeyboardInterrupt:
            status = "interrupted"
            self._flush_losses()
            self.save_checkpoint()
            bar.close()
            raise
        finally:
            governor.stop()
        bar.close()
        self._flush_losses()
        self.save_checkpoint()
        self.save_samples("final")
        return {"status": status, "nimg": self.state.nimg, "resumed": resumed, "trained": True,
                "train_seconds": self.state.train_seconds}


def config_changes(saved: dict[str, Any], cfg: RunConfig) -> dict[str, tuple[Any, Any]]:
    """Training-relevant fields whose value differs from a checkpoint's config.

    A field the saved config lacks (added to gancore after that run) counts as its default, so new options with
    defaults never block resuming an older run.
    """
    import dataclasses

    current = json.loads(json.dumps(cfg.to_dict(), default=str))
    defaults = {f.name: (f.default if f.default is not dataclasses.MISSING else f.default_factory())  # type: ignore[misc]
                for f in dataclasses.fields(cfg)}
    defaults = json.loads(json.dumps(defaults, default=str))
    out = {}
    for key, value in current.items():
        if key in type(cfg).RESUMABLE_CHANGES:
            continue
        old = saved.get(key, defaults.get(key))
        if old != value:
            out[key] = (old, value)
    return out


class RealImages:
    """Real minibatches from a uint8 multi-resolution cache, as float [-1, 1] on the training device.

    During a fade-in the reals are blended like G's output: lerp(upsample(downsample(x)), x, α), so D never
    sees a sharper image than G can make at that point (ProGAN §2, Fig. 2).

    A cache level is copied to ``device`` once when it fits in ``device_budget_bytes`` (then batches are indexed on
    the GPU with no host transfer); larger levels, e.g. 30k CelebA-HQ images at 1024² (94 GB), stay on the host and
    only each minibatch is transferred.
    """

    def __init__(self, *, data: Any, device: torch.device | None = None, device_budget_bytes: int = 2 << 30):
        self.data = data
        self.labels = data.labels
        self._levels: dict[int, Tensor] = {}
        self._device = device
        self._budget = device_budget_bytes

    def __len__(self) -> int:
        return len(self.data)

    def level(self, resolution: int) -> Tensor:
        if resolution not in self._levels:
            lv = self.data.cache.at(resolution)
            fits = lv.numel() * lv.element_size() <= self._budget
            self._levels[resolution] = lv.to(self._device) if self._device is not None and fits else lv
        return self._levels[resolution]

    def batch(self, idx: Tensor, *, resolution: int, alpha: float, device: torch.device,
              flip: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Reals for indices ``idx``; ``flip`` (bool per image) mirrors those images left-right (App. G)."""
        lv = self.level(resolution)
        x = lv[idx.to(lv.device)].to(device, non_blocking=True).float().div_(127.5).sub_(1.0)
        if flip is not None and bool(flip.any()):
            x = torch.where(flip.to(device).view(-1, 1, 1, 1), x.flip(-1), x)
        if alpha < 1.0:
            x = torch.lerp(upsample2x(downsample2x(x)), x, alpha)
        labels = self.labels[idx].to(device, non_blocking=True)
        return x, labels
