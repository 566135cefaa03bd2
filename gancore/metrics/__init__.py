"""Evaluation metrics of the four papers, and a small registry whose names carry the sample count.

- :func:`swd` — Laplacian-pyramid sliced Wasserstein distance (ProGAN §5, Table 1);
- :func:`ms_ssim_pairs` — MS-SSIM among generated pairs (ProGAN Table 1, Odena et al. 2017);
- :func:`fidelity_metrics` — FID / IS / KID / precision-recall through torch-fidelity, with the
  shipped offline :class:`ShapesNet` extractor or a local Inception weights file;
- :func:`spectral_record` / :class:`SpectralMonitor` — BigGAN §4.1 top singular values of every weight, with
  collapse warnings.

Image sets are uint8 N×3×H×W RGB tensors. Registry names follow stylegan2-ada: ``fid10k`` is
FID on 10 000 generated images; ``k`` means ×1000 and ``ki`` ×1024, so ProGAN's 16384-image
SWD is ``swd16ki`` (see :func:`parse_metric_name`, :func:`compute_metric`).
"""
from __future__ import annotations

import re
from typing import Callable

import torch
from torch import Tensor

from gancore.metrics.fidelity import fidelity_metrics
from gancore.metrics.msssim import ms_ssim_pairs
from gancore.metrics.shapes_net import ShapesNet, classify, load_shapes_net, register_shapes_net
from gancore.metrics.spectral import CollapseWarning, SpectralMonitor, spectral_record, top_singular_values
from gancore.metrics.swd import SWDReference, extract_descriptors, laplacian_pyramid, sliced_wasserstein, swd

__all__ = [
    "METRICS",
    "CollapseWarning",
    "SpectralMonitor",
    "spectral_record",
    "top_singular_values",
    "SWDReference",
    "ShapesNet",
    "classify",
    "compute_metric",
    "extract_descriptors",
    "fidelity_metrics",
    "laplacian_pyramid",
    "load_shapes_net",
    "ms_ssim_pairs",
    "parse_metric_name",
    "register_shapes_net",
    "sliced_wasserstein",
    "swd",
]

Sampler = Callable[[int], Tensor]


def _fid(fake: Tensor | Sampler, real: Tensor | None, **kwargs) -> dict[str, float]:
    return fidelity_metrics(fake, real, metrics=("fid",), **kwargs)


def _is(fake: Tensor | Sampler, real: Tensor | None, **kwargs) -> dict[str, float]:
    return fidelity_metrics(fake, real, metrics=("is",), **kwargs)


def _kid(fake: Tensor | Sampler, real: Tensor | None, **kwargs) -> dict[str, float]:
    return fidelity_metrics(fake, real, metrics=("kid",), **kwargs)


def _prc(fake: Tensor | Sampler, real: Tensor | None, **kwargs) -> dict[str, float]:
    return fidelity_metrics(fake, real, metrics=("prc",), **kwargs)


def _swd(fake: Tensor, real: Tensor | None, **kwargs) -> dict[str, float]:
    if real is None:
        raise ValueError("swd compares against real images; pass real=")
    return swd(real, fake, **kwargs)


def _msssim(fake: Tensor, real: Tensor | None = None, **kwargs) -> dict[str, float]:
    return {"msssim": ms_ssim_pairs(fake, **kwargs)}


# name -> fn(fake, real, **options) -> {result key: value}. ``fake`` is a uint8 tensor (or, for
# the torch-fidelity metrics, a sampler); ``real`` may be None for "is" and "msssim".
METRICS: dict[str, Callable[..., dict[str, float]]] = {
    "fid": _fid,
    "is": _is,
    "kid": _kid,
    "prc": _prc,
    "swd": _swd,
    "msssim": _msssim,
}

_NAME = re.compile(r"^(?P<metric>[a-z_]+?)(?:(?P<count>\d+)(?P<unit>ki|k)?)?$")


def parse_metric_name(name: str) -> tuple[str, int | None]:
    """Split a registry name into ``(metric, num_samples)``: ``"fid10k"`` → ``("fid", 10000)``.

    ``k`` = ×1000, ``ki`` = ×1024 (``"swd16ki"`` → 16384, ProGAN §5), a bare number is exact
    (``"is500"`` → 500), no number → ``None`` (use what is given).
    """
    match = _NAME.match(name) if isinstance(name, str) else None
    if match is None or match["metric"] not in METRICS:
        raise ValueError(
            f"unknown metric name {name!r}; valid metrics are {sorted(METRICS)} optionally followed by a "
            "sample count such as 'fid10k', 'swd16ki' (×1024) or 'is500'"
        )
    count = match["count"]
    if count is None:
        return match["metric"], None
    scale = {"k": 1000, "ki": 1024, None: 1}[match["unit"]]
    num = int(count) * scale
    if num < 1:
        raise ValueError(f"metric name {name!r} asks for {num} samples; use a positive count")
    return match["metric"], num


def _draw(sample: Sampler, n: int, batch_size: int = 256) -> Tensor:
    return torch.cat([sample(min(batch_size, n - start)) for start in range(0, n, batch_size)])


def compute_metric(name: str, fake: Tensor | Sampler, real: Tensor | None = None, **kwargs) -> dict[str, float]:
    """Evaluate a registry name such as ``"fid10k"`` or ``"swd16ki"`` on generated images.

    ``fake`` is a uint8 tensor (its first ``num_samples`` images are used; fewer is an error)
    or a sampler ``sample(batch_size) -> uint8 images``. For SWD the count applies to both
    sets (``num_images``), for MS-SSIM it is the number of pairs drawn from all of ``fake``.
    ``kwargs`` go to the metric function.
    """
    metric, num = parse_metric_name(name)
    fn = METRICS[metric]
    if metric == "msssim":
        images = fake if isinstance(fake, Tensor) else _draw(fake, 1000)
        return fn(images, real, **({"num_pairs": num} if num else {}), **kwargs)
    if not isinstance(fake, Tensor):
        if metric == "swd":
            fake = _draw(fake, num if num else real.shape[0])
        else:
            return fn(fake, real, **({"num_fake": num} if num else {}), **kwargs)
    if num is not None:
        if fake.shape[0] < num:
            raise ValueError(f"{name} needs {num} generated images, got {fake.shape[0]}")
        fake = fake[:num]
        if metric == "swd":
            kwargs.setdefault("num_images", num)
    return fn(fake, real, **kwargs)
