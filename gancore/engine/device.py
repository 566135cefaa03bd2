"""Where a run computes: the device (CUDA, then Apple's MPS, then the CPU) and the CPU thread count.

Both are the engine's business, never a recipe's: :func:`prepare` is called once per run by the lifecycle
(:mod:`gancore.engine.lifecycle`), before the networks are built.
"""
from __future__ import annotations

import torch

from gancore.errors import ConfigError

__all__ = ["mps_available", "pick_device", "prepare"]


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


def prepare(cfg) -> torch.device:
    """Apply ``cfg.num_threads`` (0 leaves the count to :class:`gancore.threads.ThreadGovernor`, which the loop
    runs) and, on CUDA, ``cfg.cudnn_benchmark``; return ``cfg.device`` resolved."""
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    device = pick_device(cfg.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = bool(getattr(cfg, "cudnn_benchmark", False))
    return device
