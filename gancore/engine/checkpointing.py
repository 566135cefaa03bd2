"""A training run's checkpoint: what it holds, the finiteness check before it is written, and exact resume.

Exact resume: every random draw of a run comes from one CPU ``torch.Generator`` (latents, penalty mixing weights,
data order via :class:`~gancore.data.BatchStream`, flips), and a checkpoint holds its state together with the
networks, optimizers, EMA, image count and the method's own state. Re-running on the same ``out_dir`` therefore
continues the identical trajectory; a method's position (e.g. ProGAN's growth stage and fade-in α) follows from the
image count. Checkpoints are plain dicts, atomic, digest-checked and loaded with ``weights_only=True``
(:mod:`gancore.checkpoint`).

Under torch.distributed the checkpoint holds every rank's latent generator, and rank 0 alone writes it.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import torch
from torch import Tensor

from gancore import checkpoint as ckpt_io
from gancore import distributed
from gancore.config import ConfigError
from gancore.engine.run_folder import HOW_TO_GO_ON, config_changes
from gancore.errors import TrainingDiverged

if TYPE_CHECKING:
    from gancore.engine.loop import Trainer

CHECKPOINT_FORMAT = 1
# What a run folder holds when restart=True moves an old run aside.
RUN_ENTRIES = ("checkpoints", "samples", "log.jsonl", "config.json", "summary.json", "claims")


def _named_tensors(prefix: str, obj: Any) -> Iterator[tuple[str, Tensor]]:
    """(dotted name, tensor) for every tensor nested in dicts/lists of ``obj`` (a method's extra state)."""
    if isinstance(obj, Tensor):
        yield prefix, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _named_tensors(f"{prefix}.{k}", v)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _named_tensors(f"{prefix}[{i}]", v)


def state_tensors(trainer: "Trainer") -> Iterator[tuple[str, Tensor]]:
    """(name, tensor) of everything a checkpoint holds that training updates: G and D parameters and buffers, the
    EMA, every optimizer's state (named by its parameter) and tensors of the method's own state."""
    method = trainer.method
    nets = {"G": method.G, "D": method.D}
    for net_name, net in nets.items():
        for name, t in net.state_dict(keep_vars=True).items():
            yield f"{net_name}.{name}", t
    for name, t in trainer.ema.module.state_dict(keep_vars=True).items():
        yield f"G_ema.{name}", t
    param_names = {id(p): f"{n}.{k}" for n, net in nets.items() for k, p in net.named_parameters()}
    for opt_name, opt in method.optimizers().items():
        for p, slots in opt.state.items():
            owner = param_names.get(id(p), f"param{len(param_names)}")
            for slot, t in slots.items():
                if isinstance(t, Tensor):
                    yield f"optimizer {opt_name}: {slot} of {owner}", t
    yield from _named_tensors("method", method.extra_state())


def where_to_go_on(trainer: "Trainer") -> str:
    last = ckpt_io.list_checkpoints(trainer.folder.checkpoints)
    return f"the last good checkpoint is {last[-1]}" if last else "no checkpoint was written yet"


def check_state_finite(trainer: "Trainer") -> None:
    """Before a checkpoint: every parameter, buffer and optimizer-state tensor must be finite (one fused check).

    Losses can stay finite while Adam's second moments overflow (ProGAN lr=1e4) or R1 with γ=1e30 puts inf into
    D's state; a checkpoint of that would be "last good" in name only. The run stops like a NaN loss."""
    bad = ckpt_io.nonfinite_tensors(state_tensors(trainer))
    if distributed.any_rank(bool(bad)):
        bad = bad or ["on another rank"]
        names = ", ".join(bad[:4]) + (f" and {len(bad) - 4} more" if len(bad) > 4 else "")
        msg = (f"non-finite values (NaN/Inf) in {len(bad)} tensor(s) at kimg {trainer.state.nimg / 1000:.3f}, step "
               f"{trainer.state.step}: {names}. The run stopped without writing that checkpoint; "
               f"{where_to_go_on(trainer)}. " + HOW_TO_GO_ON)
        trainer.log({"kind": "error", "error": msg})
        raise TrainingDiverged(msg)


def save(trainer: "Trainer") -> Path:
    """Write the checkpoint at the current image count (atomic; older ones pruned to ``keep_checkpoints``)."""
    check_state_finite(trainer)
    method, state = trainer.method, trainer.state
    rng = {"loop": trainer.rng.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    rng["ranks"] = distributed.gather_objects(trainer.rng.get_state())  # every rank's latent generator
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": json.loads(json.dumps(trainer.cfg.to_dict(), default=str)),
        "nimg": state.nimg,
        "step": state.step,
        "train_seconds": state.train_seconds,
        "where": method.where(state.nimg),  # for inspection; resume derives it from nimg
        "G": method.G.state_dict(),
        "D": method.D.state_dict(),
        "G_ema": trainer.ema.state_dict(),
        "optimizers": {k: o.state_dict() for k, o in method.optimizers().items()},
        "stream": trainer.stream.state_dict(),
        "rng": rng,
        "world_size": trainer.dist.world_size,
        "method": method.extra_state(),
    }
    path = ckpt_io.checkpoint_path(trainer.folder.checkpoints, state.nimg)
    if trainer.dist.is_main:
        with trainer.folder.lock():
            ckpt_io.save_checkpoint(payload, path)
            ckpt_io.prune_checkpoints(trainer.folder.checkpoints, keep=trainer.cfg.keep_checkpoints)
    distributed.barrier()  # no rank moves on (or reads it back) before the file exists
    return path


def resume(trainer: "Trainer") -> bool:
    """Load the newest good checkpoint of the run folder into ``trainer``; False (and a fresh start) when there is
    none. A checkpoint of another config is refused, or moved aside with ``restart=True``."""
    cfg, folder = trainer.cfg, trainer.folder
    found = ckpt_io.latest_good_checkpoint(folder.checkpoints, map_location="cpu")
    if found is None:
        if not cfg.dry_run:
            folder.set_aside_orphan_log()
        return False
    path, ck = found
    changed = config_changes(ck.get("config", {}), cfg)
    if changed:
        detail = ", ".join(f"{k}: {old!r} → {new!r}" for k, (old, new) in changed.items())
        if cfg.restart:
            _move_previous_run_aside(trainer, detail)
            return False
        raise ConfigError(
            f"{folder.out} holds a run with a different config (checkpoint {path.name}): {detail}. Rerun with the "
            f"saved values to resume it (only {', '.join(type(cfg).RESUMABLE_CHANGES)} may change on resume). "
            f"{HOW_TO_GO_ON}")
    method = trainer.method
    method.G.load_state_dict(ck["G"])
    method.D.load_state_dict(ck["D"])
    trainer.ema.load_state_dict(ck["G_ema"])
    for k, opt in method.optimizers().items():
        opt.load_state_dict(ck["optimizers"][k])
    trainer.stream.load_state_dict(ck["stream"])
    _load_rank_rng(trainer, ck)
    torch.set_rng_state(ck["rng"]["torch"])
    if "cuda" in ck["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(ck["rng"]["cuda"])
    method.load_extra_state(ck["method"])
    trainer.state.nimg, trainer.state.step = ck["nimg"], ck["step"]
    trainer.state.train_seconds, trainer.state.fresh = ck["train_seconds"], False
    folder.truncate_log(trainer.state.nimg)
    trainer.resumed_from = path
    return True


def _load_rank_rng(trainer: "Trainer", ck: dict[str, Any]) -> None:
    ranks = ck["rng"].get("ranks") or [ck["rng"]["loop"]]
    if len(ranks) == trainer.dist.world_size:
        trainer.rng.set_state(ranks[trainer.dist.rank])
        return
    # Another number of processes than the checkpoint's: data position, networks and optimizers continue,
    # but the latent draws cannot be the same ones, so this resume is not bit-exact.
    warnings.warn(f"resuming a {len(ranks)}-process checkpoint with {trainer.dist.world_size} processes: the run "
                  "continues, but its latent draws differ from an uninterrupted run", stacklevel=4)
    trainer.rng.manual_seed(trainer.cfg.seed + 1_000_033 * trainer.dist.rank + ck["step"])


def _move_previous_run_aside(trainer: "Trainer", detail: str) -> None:
    """``restart=True`` with a changed config: the folder's old run (checkpoints, log, samples, config and summary)
    moves to ``previous-<time>/`` so nothing is lost, and this run starts from 0 kimg."""
    folder = trainer.folder
    if trainer.cfg.dry_run:
        raise ConfigError(f"{folder.out} holds a run with a different config ({detail}); a dry run does not move it "
                          "aside: rerun without dry_run to restart the folder")
    aside = folder.move_aside(RUN_ENTRIES)
    if aside is not None:
        warnings.warn(f"restart=True: {folder.out} held a run with another config ({detail}); it was moved to "
                      f"{aside.name}/ and training starts over from 0 kimg", stacklevel=5)
    distributed.barrier()
