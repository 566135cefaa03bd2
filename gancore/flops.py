"""FLOPs of any computation, gradient penalties' double backward included, for the benchmarks' MFU column.

``torch.utils.flop_counter.FlopCounterMode`` attributes each operator to the module that ran it; that module
tracking hooks into autograd and gives up inside ``torch.autograd.grad(create_graph=True)`` — the second-order
gradient of WGAN-GP and R1 — so every penalty paper printed 0% MFU (issue 25). The FLOPs themselves need no modules:
:func:`count_flops` watches the operators under a plain ``TorchDispatchMode`` and prices each with the same per-op
formulas (``flop_counter.flop_registry``: matmuls, convolutions and their backward, attention). Operators without
a formula are decomposed first, as FlopCounterMode does, so a composite (e.g. autograd's convolution double backward)
is counted through the convolutions it runs. Where FlopCounterMode works, the two totals are equal (tested).
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

__all__ = ["count_flops", "FlopCount"]


class FlopCount(TorchDispatchMode):
    """Sums the FLOPs of the operators run while active (``total``); ``by_op`` splits them per operator."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0
        self.by_op: dict[str, int] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        packet = getattr(func, "_overloadpacket", None)
        if packet is not None and packet not in flop_registry:
            with self:  # a composite: count the operators it is made of
                out = func.decompose(*args, **kwargs)
            if out is not NotImplemented:
                return out
        out = func(*args, **kwargs)
        if packet in flop_registry:
            flops = int(flop_registry[packet](*args, **kwargs, out_val=out))
            self.total += flops
            name = str(packet).split(".")[-1]
            self.by_op[name] = self.by_op.get(name, 0) + flops
        return out


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs (multiply and add counted as two) of running ``fn()`` once, every order of gradient included."""
    counter = FlopCount()
    with counter:
        fn()
    return counter.total
