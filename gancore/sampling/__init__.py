"""Sampling a generator, below everything that draws: the training loop, evaluation, figures and widgets.

- :func:`eval_mode`: a generator in eval mode without autograd, every submodule's flag restored afterwards;
- :func:`generate_uint8`: images for given latents as uint8 on the CPU, in chunks (the form metrics and figures
  take); :func:`sample_uint8` draws the latents from a seed first, apart from any training generator;
- :mod:`gancore.sampling.conditional`: class-conditional sampling and its analysis (BigGAN §3.1 truncation, App. C.1
  standing statistics, per-class accuracy), re-exported here.

A generator is any callable ``gen(z, **gen_kwargs)`` returning N×3×H×W float images in [-1, 1] (or uint8).
``gen_kwargs`` carries model-specific inputs, e.g. ``{"resolution": 16, "alpha": 1.0}`` for ProGAN or
``{"y": labels}`` for BigGAN: a tensor whose first dimension is 1 is repeated for the whole batch, one whose first
dimension equals the batch size is split along with the latents, anything else is passed as is.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

import torch
from torch import Tensor, nn

from gancore.data import to_uint8
from gancore.latents import sample_latents
from gancore.precision import autocast

Generator = Callable[..., Tensor]


@contextmanager
def eval_mode(gen: Generator) -> Iterator[None]:
    """Run ``gen`` in eval mode without autograd, then restore every submodule's previous train/eval flag."""
    modules = list(gen.modules()) if isinstance(gen, nn.Module) else []
    previous = [module.training for module in modules]
    if isinstance(gen, nn.Module):
        gen.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for module, was_training in zip(modules, previous):
            module.training = was_training


def module_device(gen: Generator) -> torch.device | None:
    """The device of ``gen``'s first parameter (None for a plain callable or a module without parameters)."""
    if isinstance(gen, nn.Module):
        parameter = next(gen.parameters(), None)
        if parameter is not None:
            return parameter.device
    return None


def generate_uint8(gen: Generator, z: Tensor, *, gen_kwargs: dict[str, Any] | None = None,
                   batch_size: int = 64, precision: str = "fp32") -> Tensor:
    """Images for latents ``z`` (N×D) as uint8 N×3×H×W on the CPU, generated in chunks of ``batch_size``.

    Latents move to the generator's device when ``gen`` is an ``nn.Module`` with parameters. ``precision="bf16"``
    runs the generator under bf16 autocast (a GPU generates 50k images about twice as fast; the images differ from
    fp32's by round-off, a pixel level here and there, and FID by well under 0.1%: tests/test_eval_precision.py).
    """
    if z.ndim != 2 or z.shape[0] == 0:
        raise ValueError(f"z must have shape N×D with N >= 1, got {tuple(z.shape)}")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be >= 1")
    device = module_device(gen)
    n = z.shape[0]
    chunks = []
    with eval_mode(gen), autocast(device or torch.device("cpu"), precision):
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            kwargs = _batch_kwargs(gen_kwargs or {}, n, start, stop, device)
            chunk_z = z[start:stop] if device is None else z[start:stop].to(device)
            images = gen(chunk_z, **kwargs)
            if not isinstance(images, Tensor) or images.ndim != 4 or images.shape[0] != stop - start:
                shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
                raise ValueError(f"generator must return a {stop - start}×C×H×W tensor for {stop - start} latents, "
                                 f"got {shape}")
            chunks.append(to_uint8(images.float()).cpu())
    return torch.cat(chunks)


def sample_uint8(gen: Generator, *, n: int, dim: int, seed: int, gen_kwargs: dict[str, Any] | None = None,
                 batch_size: int = 256, precision: str = "fp32") -> Tensor:
    """``n`` samples of ``gen`` as uint8 on the CPU, from N(0, I) latents of size ``dim`` seeded by ``seed``
    independently of any training generator (evaluation draws the same images at every call)."""
    z = sample_latents(n, dim, seed=seed)
    return generate_uint8(gen, z, gen_kwargs=gen_kwargs, batch_size=batch_size, precision=precision)


def _batch_kwargs(gen_kwargs: dict[str, Any], n: int, start: int, stop: int,
                  device: torch.device | None) -> dict[str, Any]:
    out = {}
    for name, value in gen_kwargs.items():
        if isinstance(value, Tensor) and value.ndim >= 1:
            if value.shape[0] == n:
                value = value[start:stop]
            elif value.shape[0] == 1:
                value = value.expand(stop - start, *value.shape[1:])
            if device is not None:
                value = value.to(device)
        out[name] = value
    return out


from gancore.sampling.conditional import (  # noqa: E402  (built on the generic functions above)
    Classifier,
    batchnorm_layers,
    class_accuracy,
    conditional_inputs,
    sample_conditional,
    standing_stats,
    summarize_class_predictions,
)
from gancore.sampling.sweep import truncation_sweep  # noqa: E402

__all__ = ["Classifier", "Generator", "batchnorm_layers", "class_accuracy", "conditional_inputs", "eval_mode",
           "generate_uint8", "module_device", "sample_conditional", "sample_uint8",
           "standing_stats", "summarize_class_predictions", "truncation_sweep"]
