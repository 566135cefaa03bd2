"""Data-parallel training over ``torch.distributed`` (BigGAN App. C trains on many TPU cores; any recipe can).

Every process (rank) holds a full replica of G, D, the EMA and the optimizers; they start identical (same seed) and
stay identical because each optimizer step applies the gradient averaged over all ranks (:func:`all_reduce_grads`,
the arithmetic DDP does). Each rank draws its own slice of every global batch of reals and its own latents, so a
step sees ``world_size ×`` the per-rank batch. Rank 0 alone writes logs, samples, checkpoints and summaries.

BigGAN's cross-replica BatchNorm is ``torch.nn.SyncBatchNorm`` (``recipes.biggan.sync_batchnorm_if_distributed``);
torch implements it for GPUs only, so CPU (gloo) runs keep per-rank BatchNorm statistics and say so.

Launch with torchrun, e.g. ``torchrun --nproc_per_node 8 scripts/train.py biggan --scale full``: the process group
is created from torchrun's environment (:func:`init_from_env`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterable

import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = ["DistInfo", "info", "init_from_env", "all_reduce_grads", "all_reduce_mean", "any_rank", "gather_objects",
           "barrier", "same_on_all_ranks"]


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the process group (rank 0 of 1 without torch.distributed)."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def info() -> DistInfo:
    if dist.is_available() and dist.is_initialized():
        return DistInfo(rank=dist.get_rank(), world_size=dist.get_world_size())
    return DistInfo()


def init_from_env(device: torch.device) -> DistInfo:
    """Join the process group torchrun describes (``WORLD_SIZE``/``RANK``/``MASTER_ADDR`` …) if there is one.

    NCCL on CUDA, gloo on CPU. On CUDA each rank takes GPU ``LOCAL_RANK``. Without those variables (a notebook, a
    plain ``python`` run) nothing happens and the run is single-process.
    """
    if dist.is_available() and dist.is_initialized():
        return info()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return info()


def all_reduce_grads(*modules: nn.Module) -> None:
    """Average the gradients of ``modules`` over all ranks (one flat all-reduce per dtype; no-op on one rank).

    Parameters without a gradient on this step are skipped; every rank runs the same code, so the set is the same
    on all of them.
    """
    if not info().active:
        return
    grads = [p.grad for m in modules for p in m.parameters() if p.grad is not None]
    world = dist.get_world_size()
    for dtype in sorted({g.dtype for g in grads}, key=str):
        same = [g for g in grads if g.dtype == dtype]
        flat = torch.cat([g.reshape(-1) for g in same])
        dist.all_reduce(flat)
        flat.div_(world)
        offset = 0
        for g in same:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()


def _comm_tensor(values: list[float]) -> Tensor:
    """A float64 tensor on the device the backend communicates from (NCCL: the current GPU; gloo: CPU)."""
    return torch.tensor(values, dtype=torch.float64, device="cuda" if dist.get_backend() == "nccl" else "cpu")


def all_reduce_mean(values: dict[str, float]) -> dict[str, float]:
    """Mean of each scalar over all ranks (for logged losses); unchanged on one rank."""
    if not info().active or not values:
        return values
    keys = sorted(values)
    t = _comm_tensor([float(values[k]) for k in keys])
    dist.all_reduce(t)
    return {k: float(v) / dist.get_world_size() for k, v in zip(keys, t.cpu())}


def any_rank(flag: bool) -> bool:
    """True on every rank if ``flag`` is true on any rank (so all ranks take the same branch, e.g. stopping)."""
    if not info().active:
        return flag
    t = _comm_tensor([1.0 if flag else 0.0])
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def gather_objects(obj: Any) -> list[Any]:
    """``obj`` of every rank, in rank order (``[obj]`` on one rank)."""
    if not info().active:
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    if info().active:
        dist.barrier()


def same_on_all_ranks(tensors: Iterable[Tensor]) -> bool:
    """Whether every tensor equals rank 0's copy (a check that the replicas did not drift)."""
    if not info().active:
        return True
    ok = True
    for t in tensors:
        ref = t.detach().clone()
        dist.broadcast(ref, src=0)
        ok &= bool(torch.equal(ref, t.detach()))
    return not any_rank(not ok)
