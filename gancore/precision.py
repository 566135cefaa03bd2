"""Mixed precision and memory layout shared by every recipe (an engineering choice, not part of any paper).

``precision="bf16"`` autocasts the forward passes: convolutions and matmuls run in bf16 while weights, optimizer
state and losses stay fp32. ``"auto"`` picks bf16 only where the hardware computes in it. ``channels_last`` stores
4-D weights as NHWC, the layout oneDNN (CPU) and tensor cores (CUDA) are fastest in.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["PRECISIONS", "resolve_precision", "autocast", "to_channels_last"]

PRECISIONS = ("fp32", "bf16", "auto")


def resolve_precision(precision: str, device: torch.device) -> str:
    """``"auto"`` → ``"bf16"`` where the hardware computes in bf16 (CUDA with bf16 support; CPUs with AMX or
    AVX512-BF16, where oneDNN's bf16 convolutions measured 3.3× faster here), else ``"fp32"``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not supported; choose one of {list(PRECISIONS)}")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type != "cpu":  # MPS and others: fp32, the precision every backend computes in (no probe exists)
        return "fp32"
    checks = [getattr(torch.cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    try:
        return "bf16" if any(check() for check in checks if check is not None) else "fp32"
    except RuntimeError:  # a torch build without the probe
        return "fp32"


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """bf16 autocast context for a resolved ``precision`` (a no-op context for fp32)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def to_channels_last(*modules: nn.Module) -> None:
    """Store the 4-D parameters and buffers of ``modules`` as NHWC (in place)."""
    for module in modules:
        module.to(memory_format=torch.channels_last)
