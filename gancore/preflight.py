"""Checks that need the machine, run before anything is built or trained (the notebooks' validation cell, the
recipes' ``run`` and ``scripts/train.py`` all call :func:`check`).

A config can be valid and still never run here: ``device='cuda'`` without CUDA, a ``data_dir`` or weights file that
does not exist, or sizes that can never fit in memory (``batch_size=10⁹`` used to grow past 6 GB until the kernel
killed it; a ridiculous width ended in an allocator traceback). Each of these is a :class:`ConfigError` naming the
field, the value and what the machine has, before a single tensor is allocated.

The memory estimate is a lower bound, so it never refuses a run that fits:

- weights, gradients and both Adam moments of G and D, plus G's EMA copy (the networks are built on the ``meta``
  device, which allocates nothing);
- the layer outputs of one G and one D forward pass at the training batch, which backward must keep (measured on the
  meta device with forward hooks, per image, then scaled);
- the uint8 image pyramid of the procedural dataset.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn

from gancore.config import ConfigError, RunConfig

__all__ = ["MemoryEstimate", "available_bytes", "check", "format_bytes", "layer_output_bytes", "state_bytes"]


class MemoryEstimate(dict):
    """Bytes per part (``{"weights + Adam state + EMA": …, "activations (batch 64)": …}``), with the fields that
    size each part in ``knobs`` for the error message."""

    def __init__(self, parts: dict[str, int], *, knobs: dict[str, str], host_only: tuple[str, ...] = ()) -> None:
        super().__init__(parts)
        self.knobs = knobs
        self.host_only = host_only  # parts that live in host memory even when training on a GPU

    def total(self, *, host: bool | None = None) -> int:
        return sum(v for k, v in self.items() if host is None or (k in self.host_only) == host)


def format_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} PB"


def state_bytes(G: nn.Module, D: nn.Module) -> int:
    """Weights + gradients + Adam's two moments of G and D, and G's EMA copy (fp32 training state)."""
    size = lambda net: sum(p.numel() * 4 for p in net.parameters())  # noqa: E731  (fp32 whatever the build dtype)
    return 4 * (size(G) + size(D)) + size(G)


def layer_output_bytes(modules: list[nn.Module], forward: Callable[[], Any], *, batch: int) -> int:
    """Bytes of every leaf module's output during ``forward()`` (run on meta tensors of batch ``batch``), per image.

    These are the activations autograd keeps for backward, at least once each."""
    total = [0]

    def hook(_module, _inputs, output):
        outs = output if isinstance(output, (tuple, list)) else [output]
        total[0] += sum(o.numel() * 4 for o in outs if isinstance(o, Tensor))

    handles = [m.register_forward_hook(hook) for net in modules for m in net.modules() if not list(m.children())]
    try:
        forward()
    finally:
        for h in handles:
            h.remove()
    return total[0] // batch


def available_bytes(device: torch.device) -> int:
    """Memory a run may use: the GPU's total memory, or the host's available memory."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[1]
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # pragma: no cover - psutil ships with jupyter
        import os

        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _check_paths(cfg: RunConfig) -> None:
    if cfg.dataset in ("folder", "cifar10") and cfg.data_dir and not cfg.download and not cfg.dry_run:
        if not Path(cfg.data_dir).expanduser().is_dir():
            raise ConfigError(f"data_dir={cfg.data_dir!r} does not exist or is not a folder (dataset={cfg.dataset!r})")
    if cfg.inception_weights and not Path(cfg.inception_weights).expanduser().is_file():
        raise ConfigError(f"inception_weights={cfg.inception_weights!r} is not a file (torch-fidelity's "
                          "pt_inception-2015-12-05 weights; nothing is downloaded)")


def _check_memory(cfg: RunConfig, device: torch.device, recipe) -> None:
    estimate: MemoryEstimate = recipe.memory_estimate(cfg)
    data = _check_data(cfg)
    if data is not None:
        what = "dataset" if data.in_memory else f"data loader buffers (streamed from a store of {data.images:,} images)"
        estimate[what] = data.host_bytes
        estimate.host_only = (*estimate.host_only, what)
        estimate.knobs.setdefault("data", "dataset_size / max_images, data_in_memory")
    checks = [(device, estimate.total(host=False) if device.type == "cuda" else estimate.total())]
    if device.type == "cuda":
        checks.append((torch.device("cpu"), estimate.total(host=True)))
    for where, need in checks:
        have = available_bytes(where)
        if need > have:
            parts = ", ".join(f"{k} {format_bytes(v)}" for k, v in estimate.items() if v)
            knobs = "; ".join(f"{k}: {v}" for k, v in estimate.knobs.items())
            raise ConfigError(f"this run cannot fit in memory: it needs at least {format_bytes(need)} ({parts}), "
                              f"but {'the GPU' if where.type == 'cuda' else 'this machine'} has "
                              f"{format_bytes(have)} available. Sized by {knobs}.")


def _check_data(cfg: RunConfig):
    """The data's footprint (:mod:`gancore.data.footprint`); a store that does not fit on its disk is refused."""
    import shutil

    from gancore.data.footprint import data_footprint
    from gancore.errors import DataError

    try:
        data = data_footprint(cfg)
    except (DataError, ValueError):
        return None  # the data itself is at fault: building it says so with the details
    if data is not None and data.disk_bytes:
        where = data.store_dir
        while not where.exists():
            where = where.parent
        free = shutil.disk_usage(where).free
        if data.disk_bytes > free:
            raise ConfigError(f"preparing the data store needs {format_bytes(data.disk_bytes)} ({data.images:,} "
                              f"images of {format_bytes(data.image_bytes)}) at {data.store_dir}, which has "
                              f"{format_bytes(free)} free: set store_dir to a larger disk, or max_images")
    return data


def check(cfg: RunConfig, *, recipe=None, extra: dict[str, Any] | None = None) -> None:
    """Everything about ``cfg`` that depends on this machine; raises :class:`ConfigError` before anything trains.

    ``recipe`` is the paper's (:mod:`gancore.engine.registry` finds it by ``cfg.paper`` when not given); ``extra``
    holds a notebook's own options (e.g. BigGAN's ``pretrained`` file), checked here too."""
    from gancore.engine import registry
    from gancore.engine.device import pick_device

    device = pick_device(cfg.device)  # device='cuda' without CUDA
    _check_paths(cfg)
    for name, value in (extra or {}).items():
        if name == "pretrained" and value is not None and not Path(value).expanduser().is_file():
            raise ConfigError(f"pretrained={value!r} is not a file (a converted BigGAN-deep release, e.g. "
                              "biggan-deep-128/pytorch_model.bin)")
    recipe = recipe or registry.recipe(cfg.paper)
    recipe.check_inputs(cfg)  # the paper's own input files, e.g. alphaGAN's genotype.json
    _check_memory(cfg, device, recipe)
