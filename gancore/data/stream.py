"""Deterministic, resumable order of training batches.

A run that resumes from a checkpoint must see exactly the batches an uninterrupted run would
have seen; otherwise "resume" silently changes the experiment. The order is therefore a pure
function of ``(seed, epoch, cursor)``, and those two counters are all the state there is. The state
also records the number of items, so that resuming on different data is noticed and said.
"""
from __future__ import annotations

import hashlib
import warnings

import torch
from torch import Tensor

__all__ = ["BatchStream"]


def _epoch_seed(seed: int, epoch: int) -> int:
    digest = hashlib.blake2b(f"gancore-batches:{seed}:{epoch}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & 0x7FFF_FFFF_FFFF_FFFF


class BatchStream:
    """Walks a fresh random permutation of ``0..num_items-1`` per epoch; batches may straddle epochs."""

    def __init__(self, *, num_items: int, seed: int) -> None:
        """
        Args:
            num_items: dataset size (indices are drawn from 0..num_items-1).
            seed: base seed; epoch e uses a permutation seeded by a hash of (seed, e).
        """
        if isinstance(num_items, bool) or not isinstance(num_items, int) or num_items < 1:
            raise ValueError(f"num_items={num_items!r} must be a positive int")
        self.num_items = num_items
        self.seed = int(seed)
        self.epoch = 0
        self.cursor = 0
        self._perm: Tensor | None = None
        self._perm_epoch = -1

    def _permutation(self) -> Tensor:
        if self._perm_epoch != self.epoch:
            gen = torch.Generator().manual_seed(_epoch_seed(self.seed, self.epoch))
            self._perm = torch.randperm(self.num_items, generator=gen)
            self._perm_epoch = self.epoch
        assert self._perm is not None
        return self._perm

    def next_indices(self, batch_size: int) -> Tensor:
        """The next ``batch_size`` indices (int64), continuing into the next epoch when needed."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r} must be a positive int")
        parts = []
        needed = batch_size
        while needed:
            perm = self._permutation()
            take = min(needed, self.num_items - self.cursor)
            parts.append(perm[self.cursor : self.cursor + take])
            self.cursor += take
            needed -= take
            if self.cursor == self.num_items:
                self.epoch += 1
                self.cursor = 0
        return torch.cat(parts) if len(parts) > 1 else parts[0].clone()

    def state_dict(self) -> dict[str, int]:
        """Position in the stream: ``{"epoch": int, "cursor": int, "num_items": int}``."""
        return {"epoch": self.epoch, "cursor": self.cursor, "num_items": self.num_items}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue from a position saved by :meth:`state_dict`."""
        missing = {"epoch", "cursor"} - set(state)
        if missing:
            raise ValueError(f"BatchStream state lacks {sorted(missing)}; expected keys ['cursor', 'epoch']")
        epoch, cursor = int(state["epoch"]), int(state["cursor"])
        saved_items = int(state.get("num_items", self.num_items))  # absent in checkpoints of older versions
        if saved_items != self.num_items:
            # e.g. data_dir now points at another folder: training can go on, but not as the same run.
            warnings.warn(f"the checkpoint was trained on {saved_items} images, the data now has {self.num_items}: "
                          "the run continues on the new data from the same epoch, so it is not an exact resume",
                          stacklevel=2)
            cursor = cursor % self.num_items
        if epoch < 0 or not 0 <= cursor < self.num_items:
            raise ValueError(
                f"BatchStream state epoch={epoch}, cursor={cursor} is invalid for num_items={self.num_items} "
                f"(need epoch ≥ 0 and 0 ≤ cursor < {self.num_items})"
            )
        self.epoch, self.cursor = epoch, cursor
