"""The truncation sweep — BigGAN §3.1, Fig. 2(a), App. D Fig. 16: IS and FID per truncation threshold, on one
latent seed and one real set. Built on :mod:`gancore.sampling.conditional`.
"""
from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor, nn

from gancore.sampling.conditional import (Classifier, _check_positive_int, _check_truncation, _predict,
                                          sample_conditional, summarize_class_predictions)

__all__ = ["truncation_sweep"]


def _content_key(real: Tensor) -> str:
    """A cache key derived from the real images themselves, so it changes whenever the real set does."""
    digest = hashlib.sha1(real.contiguous().cpu().numpy().tobytes())
    digest.update(str(tuple(real.shape)).encode())
    return f"sweep-{digest.hexdigest()[:16]}"


def truncation_sweep(G: nn.Module, *, thresholds: Sequence[float], real_uint8: Tensor, n: int, seed: int,
                     extractor: str = "shapes", inception_weights: str | Path | None = None,
                     cache_dir: str | Path | None = None, cache_key: str | None = None,
                     device: str | torch.device = "cpu", include_untruncated: bool = True,
                     classifier: Classifier | None = None, batch_size: int = 256,
                     precision: str = "fp32") -> list[dict]:
    """IS and FID of ``n`` samples per truncation threshold: the variety–fidelity curve (BigGAN §3.1, Fig. 16).

    Every threshold uses the same ``seed`` (the latents differ only by the truncation) and the same real set, whose
    features are extracted once and cached. Lower thresholds raise IS (fidelity, like precision) while FID first
    improves and then degrades as variety vanishes (like recall). Sample with the EMA G after
    :func:`standing_stats` (App. C.1).

    Args:
        G: generator (``dim_z``, ``num_classes``, ``G(z, y)``); samples are class-balanced.
        thresholds: truncation thresholds (> 0), in the order the rows should come.
        real_uint8: uint8 M×3×H×W real images for FID.
        n: generated images per threshold (>= 2).
        seed: latent seed shared by all thresholds.
        extractor: ``"shapes"`` (shipped, offline; reduced scale) or ``"inception"`` (needs ``inception_weights``).
        inception_weights: local InceptionV3 weights for ``extractor="inception"``.
        cache_dir: real-feature cache folder; None with no ``cache_key`` uses a temporary folder for this sweep.
        cache_key: name of the real set in the cache (trusted, see :func:`gancore.metrics.fidelity.fidelity_metrics`);
            None derives one from a hash of ``real_uint8``.
        device: device of the feature extractor.
        include_untruncated: add a first row with plain N(0, 1) latents (``truncation`` None).
        classifier: optional classifier (uint8 images → labels); adds ``accuracy`` and ``per_class_accuracy`` of the
            same samples to every row.
        batch_size: samples per G forward pass (and per extractor pass).
        precision: ``"bf16"``: G under bf16 autocast (the features stay fp32, see ``fidelity_metrics``).

    Returns:
        One dict per row: ``truncation`` (float or None), ``is_mean``, ``is_std``, ``fid`` (and the accuracies).
    """
    from gancore.metrics.fidelity import fidelity_metrics

    thresholds = [float(t) for t in thresholds]
    for t in thresholds:
        _check_truncation(t)
    rows_t: list[float | None] = ([None] if include_untruncated else []) + thresholds
    if not rows_t:
        raise ValueError("nothing to sweep: give thresholds or include_untruncated=True")
    _check_positive_int(n, "n")
    if n < 2:
        raise ValueError(f"n={n} must be >= 2 (IS and FID need several samples)")

    with tempfile.TemporaryDirectory(prefix="gancore-sweep-") as scratch:
        if cache_key is None:
            # One real-feature extraction for the whole sweep without trusting a caller-chosen name.
            cache_key = _content_key(real_uint8)
            cache_dir = cache_dir if cache_dir is not None else scratch
        rows = []
        for t in rows_t:
            fake, labels = sample_conditional(G, n=n, seed=seed, truncation=t, batch_size=batch_size,
                                              precision=precision)
            row: dict = {"truncation": t}
            row.update(fidelity_metrics(fake, real_uint8, metrics=("fid", "is"), extractor=extractor,
                                        inception_weights=inception_weights, cache_dir=cache_dir,
                                        cache_key=cache_key, device=device, batch_size=batch_size))
            if classifier is not None:
                summary = summarize_class_predictions(labels, _predict(classifier, fake), num_classes=G.num_classes)
                row.update(accuracy=summary["accuracy"], per_class_accuracy=summary["per_class_accuracy"])
            rows.append(row)
    return rows
