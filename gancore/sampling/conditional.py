"""BigGAN-style class-conditional sampling and its analysis (Brock et al. 2019, §3.1, §5.1, App. C.1, App. D).

- :func:`conditional_inputs` / :func:`sample_conditional`: seeded latents (optionally truncated, §3.1) and
  class-balanced labels, generated in eval mode. Sampling owns its labels because torch-fidelity 0.4.0's
  conditional path uses the removed ``np.int`` (DESIGN "Known traps").
- :func:`standing_stats`: App. C.1 "standing statistics" — BatchNorm statistics re-estimated for the weights used
  at sampling time (the EMA copy of G), averaged over many forward passes.
- :func:`truncation_sweep`: IS and FID against the truncation threshold, the variety–fidelity curve of §3.1
  (Fig. 2(a), App. D Fig. 16); plot it with :func:`gancore.viz.plot_truncation_curve`.
- :func:`class_accuracy`: a classifier's accuracy on samples of each conditioned class, to catch the class
  leakage of §5.1 (Fig. 4(d)) and the class-conditional collapse of App. H; plot it with
  :func:`gancore.viz.plot_class_accuracy`.

A generator here is a BigGAN ``Generator``/``GeneratorDeep`` or any ``nn.Module`` with ``dim_z``, ``num_classes``
and ``G(z, y) -> N×3×H×W`` float images in [-1, 1].
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from gancore.data import to_uint8
from gancore.latents import sample_latents
from gancore.precision import autocast
from gancore.sampling import eval_mode, module_device

__all__ = [
    "Classifier",
    "conditional_inputs",
    "sample_conditional",
    "standing_stats",
    "batchnorm_layers",
    "summarize_class_predictions",
    "class_accuracy",
]

# Any callable uint8 N×3×H×W images -> int64 N predicted labels, e.g. gancore.metrics.shapes_net.classify.
Classifier = Callable[[Tensor], Tensor]


# ---------------------------------------------------------------------------------------------------------------------
# Small shared helpers
# ---------------------------------------------------------------------------------------------------------------------
def _check_positive_int(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r} must be an int >= 1")


def _check_truncation(truncation: float | None) -> None:
    # `not t > 0` also rejects NaN; inf would make the resampling loop meaningless (it equals no truncation).
    if truncation is not None and (isinstance(truncation, bool) or not truncation > 0 or math.isinf(truncation)):
        raise ValueError(f"truncation={truncation!r} must be a finite number > 0, or None for plain N(0, 1)")


def _check_labels(labels: Tensor, n: int, num_classes: int, name: str = "labels") -> Tensor:
    if not isinstance(labels, Tensor) or labels.shape != (n,) or labels.is_floating_point() or labels.is_complex():
        desc = f"{labels.dtype} {tuple(labels.shape)}" if isinstance(labels, Tensor) else type(labels).__name__
        raise ValueError(f"{name} must be an integer tensor of shape ({n},), got {desc}")
    if n and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(f"{name} must lie in [0, {num_classes}), got range [{int(labels.min())}, {int(labels.max())}]")
    return labels.detach().long().cpu()


# ---------------------------------------------------------------------------------------------------------------------
# Sampling — BigGAN §3.1 (truncation trick)
# ---------------------------------------------------------------------------------------------------------------------
def conditional_inputs(G: nn.Module, *, n: int, seed: int, truncation: float | None = None,
                       labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Seeded CPU latents and labels for ``n`` samples of ``G`` (BigGAN §3.1).

    Args:
        G: generator with ``dim_z`` and ``num_classes``.
        n: number of samples.
        seed: latent seed; row i of z depends only on (seed, n, dim_z, truncation).
        truncation: threshold of the truncated normal (resampling, §3.1); None draws plain N(0, 1).
        labels: int64 labels of shape (n,); None gives class-balanced round-robin labels ``arange(n) % num_classes``.

    Returns:
        ``(z, labels)``: float32 n×dim_z and int64 n, both on the CPU.
    """
    _check_positive_int(n, "n")
    _check_truncation(truncation)
    y = torch.arange(n) % G.num_classes if labels is None else _check_labels(labels, n, G.num_classes)
    # Drawn in one go on a seeded CPU generator, so the latents never depend on the batch size or G's device.
    z = sample_latents(n, G.dim_z, seed=seed, truncation=truncation)
    return z, y


def sample_conditional(G: nn.Module, *, n: int, seed: int, truncation: float | None = None,
                       labels: Tensor | None = None, batch_size: int = 256,
                       precision: str = "fp32") -> tuple[Tensor, Tensor]:
    """``n`` class-conditional samples of ``G`` as uint8 images (BigGAN §3.1; sample with the EMA G, App. C).

    G runs in eval mode (BatchNorm uses its running or standing statistics, App. C.1) without autograd, on its own
    device, in chunks of ``batch_size``; every module's train/eval flag is restored afterwards. Because the inputs
    are drawn up front on the CPU (:func:`conditional_inputs`) and eval-mode BN is per-sample, the result depends on
    ``seed`` only, not on ``batch_size``.

    Args:
        G: generator (``dim_z``, ``num_classes``, ``G(z, y)``).
        n: number of samples.
        seed: latent seed.
        truncation: truncated-normal threshold, or None for N(0, 1).
        labels: int64 labels (n,); default class-balanced round-robin ``arange(n) % num_classes``.
        batch_size: samples per forward pass.
        precision: ``"bf16"`` runs G under bf16 autocast (see :func:`gancore.sampling.generate_uint8`).

    Returns:
        ``(images, labels)``: uint8 n×3×H×W and int64 n, both on the CPU.
    """
    _check_positive_int(batch_size, "batch_size")
    z, y = conditional_inputs(G, n=n, seed=seed, truncation=truncation, labels=labels)
    device = module_device(G) or torch.device("cpu")
    chunks = []
    with eval_mode(G), autocast(device, precision):
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            images = G(z[start:stop].to(device), y[start:stop].to(device))
            chunks.append(to_uint8(images.float()).cpu())
    return torch.cat(chunks), y


# ---------------------------------------------------------------------------------------------------------------------
# Standing statistics — BigGAN App. C.1
# ---------------------------------------------------------------------------------------------------------------------
def batchnorm_layers(G: nn.Module) -> list[_BatchNorm]:
    """Every BatchNorm of ``G`` that keeps running statistics (plain BN and the affine-free BN inside CBN)."""
    # _BatchNorm is the common base of BatchNorm1d/2d/3d and SyncBatchNorm (cross-replica BN, App. C).
    return [m for m in G.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]


def _standing_labels(labels: int | Tensor | None, *, batch_size: int, num_classes: int,
                     generator: torch.Generator) -> Tensor:
    if labels is None:
        # Uniform random classes per batch, as G sees them in training.
        return torch.randint(num_classes, (batch_size,), generator=generator)
    if isinstance(labels, int) and not isinstance(labels, bool):
        return _check_labels(torch.full((batch_size,), labels), batch_size, num_classes)
    return _check_labels(labels, batch_size, num_classes)


def standing_stats(G: nn.Module, *, num_batches: int = 16, batch_size: int = 64, seed: int = 0,
                   truncation: float | None = None, labels: int | Tensor | None = None) -> None:
    """Replace G's BatchNorm running statistics by standing statistics (BigGAN App. C.1), in place.

    App. C.1: the running averages were accumulated with the *training* weights, so they are poor estimates for the
    EMA weights used at sampling time, and batch statistics would make samples depend on the batch size. Instead G
    is run forward on ``num_batches`` batches of fresh noise (the paper: "typically 100") and each BN stores the
    mean and variance averaged over all of them — a cumulative average with equal weight per batch (torch's
    ``momentum=None``), not an exponential one. Afterwards G in eval mode is batch-size invariant again.

    Only the BatchNorm layers are put in train mode: the rest of G stays in eval mode, so spectral norm's power
    iteration (which torch's parametrization advances on every train-mode forward, updating ``_u``/``_v``) does not
    move while collecting statistics. Momenta and every module's train/eval flag are restored on return; if a
    forward pass fails, the previous statistics are restored too.

    Args:
        G: generator (``dim_z``, ``num_classes``, ``G(z, y)``), typically the EMA copy.
        num_batches: forward passes to average over.
        batch_size: samples per forward pass (each pass contributes one batch mean/variance per BN).
        seed: seed of the latents and random labels.
        truncation: draw the latents truncated at this threshold (to match the sampling distribution); None for
            N(0, 1), the training distribution.
        labels: None for uniform random classes per batch; an int class or an int64 tensor (batch_size,) used for
            every batch (e.g. statistics for one class).
    """
    _check_positive_int(num_batches, "num_batches")
    _check_positive_int(batch_size, "batch_size")
    _check_truncation(truncation)
    if labels is not None:  # fail before any statistics are reset
        _standing_labels(labels, batch_size=batch_size, num_classes=G.num_classes, generator=torch.Generator())
    layers = batchnorm_layers(G)
    if not layers:
        return
    generator = torch.Generator().manual_seed(seed)
    device = module_device(G) or torch.device("cpu")
    flags = [(module, module.training) for module in G.modules()]
    momenta = [bn.momentum for bn in layers]
    saved = [{k: v.clone() for k, v in bn.state_dict().items()} for bn in layers]
    ok = False
    try:
        G.eval()
        for bn in layers:
            bn.reset_running_stats()  # also zeroes num_batches_tracked, the divisor of the cumulative average
            bn.momentum = None
            bn.train()
        with torch.no_grad():
            for _ in range(num_batches):
                # Labels first, then latents, from one generator: the sequence depends on the seed only.
                y = _standing_labels(labels, batch_size=batch_size, num_classes=G.num_classes, generator=generator)
                z = sample_latents(batch_size, G.dim_z, generator=generator, truncation=truncation)
                G(z.to(device), y.to(device))
        ok = True
    finally:
        for bn, momentum, state in zip(layers, momenta, saved):
            bn.momentum = momentum
            if not ok:
                bn.load_state_dict(state)
        for module, was_training in flags:
            module.training = was_training


# ---------------------------------------------------------------------------------------------------------------------
# Class-conditional quality — BigGAN §5.1 (class leakage) and App. H (class-conditional collapse)
# ---------------------------------------------------------------------------------------------------------------------
def _default_classifier(num_classes: int) -> Classifier:
    from gancore.data.shapes import SHAPE_CLASSES
    from gancore.metrics.shapes_net import classify

    if num_classes != len(SHAPE_CLASSES):
        raise ValueError(
            f"the default classifier (shapes-net) knows {len(SHAPE_CLASSES)} classes ({', '.join(SHAPE_CLASSES)}) "
            f"but G.num_classes={num_classes}; pass classifier= for other class sets"
        )
    return classify


def _class_diversity(images: Tensor, labels: Tensor, num_classes: int) -> list[float]:
    """Per class: the mean over pixels of the per-pixel standard deviation across that class's samples (in [0, 1]).

    Zero when every sample of the class is the same image; App. H's collapsed classes gave "one or two samples".
    """
    x = images.float() / 255.0
    out = []
    for c in range(num_classes):
        members = x[labels == c]
        out.append(float(members.std(dim=0).mean()) if members.shape[0] > 1 else math.nan)
    return out


def summarize_class_predictions(labels: Tensor, predictions: Tensor, *, num_classes: int,
                                images: Tensor | None = None, max_leakage: float = 0.5,
                                min_diversity_ratio: float = 0.1) -> dict:
    """Confusion matrix, per-class accuracy, leakage and flagged classes from conditioned vs predicted labels.

    Criteria (documented defaults, judged per conditioned class c):

    * **leaking** (BigGAN §5.1, Fig. 4(d): images of one class with properties of another): the off-diagonal mass of
      row c, ``leakage[c] = 1 - accuracy[c]``, exceeds ``max_leakage`` — i.e. with 0.5 most samples conditioned on c
      are recognised as some other class. ``leaks_to[c]`` is the most frequent wrong class. A class that G ignores
      entirely (several classes all drawn as one) shows up as all of them leaking into the same ``leaks_to``.
    * **collapsed** (App. H: "the model would only output one or two samples for a subset of classes"): needs
      ``images``; the class's pixel diversity (:func:`_class_diversity`) is below ``min_diversity_ratio`` times the
      median diversity over classes. A classifier cannot see this (a collapsed class may be classified correctly),
      hence the image-space check. Being relative, it flags classes collapsed compared with the others; a global
      mode collapse is FID's job.

    Args:
        labels: int64 N conditioned classes.
        predictions: int64 N classifier outputs in [0, num_classes).
        num_classes: number of classes.
        images: optional uint8 N×3×H×W samples for the collapse check.
        max_leakage: leakage above which a class is flagged as leaking.
        min_diversity_ratio: relative diversity below which a class is flagged as collapsed.

    Returns:
        dict with ``accuracy`` (overall), ``per_class_accuracy``, ``confusion`` (num_classes × num_classes counts,
        rows = conditioned class, columns = predicted class), ``leakage``, ``leaks_to``, ``diversity``
        (None without images), ``leaking``, ``collapsed`` and ``flagged`` (sorted class indices); plain Python
        types, so the dict can go straight into summary.json.
    """
    n = labels.shape[0] if isinstance(labels, Tensor) else 0
    _check_positive_int(n, "number of samples")
    labels = _check_labels(labels, n, num_classes)
    predictions = _check_labels(predictions, n, num_classes, name="classifier predictions")
    flat = torch.bincount(labels * num_classes + predictions, minlength=num_classes**2)
    confusion = flat.view(num_classes, num_classes)
    totals = confusion.sum(dim=1)
    correct = confusion.diagonal()
    # A class with no samples has no accuracy; NaN rather than 0 so it is not mistaken for a failing class.
    per_class = correct.double() / totals.clamp_min(1).double()
    per_class[totals == 0] = math.nan
    off = confusion.clone()
    off.fill_diagonal_(0)
    leaks_to = [int(off[c].argmax()) if off[c].sum() > 0 else None for c in range(num_classes)]
    leakage = [1.0 - float(a) for a in per_class]
    leaking = [c for c in range(num_classes) if leakage[c] > max_leakage]

    diversity, collapsed = None, []
    if images is not None:
        diversity = _class_diversity(images, labels, num_classes)
        finite = torch.tensor([d for d in diversity if not math.isnan(d)])
        if finite.numel():
            reference = float(finite.median())
            collapsed = [c for c, d in enumerate(diversity) if d < min_diversity_ratio * reference]
    return {
        "num_classes": num_classes,
        "accuracy": float(correct.sum()) / n,
        "per_class_accuracy": [float(a) for a in per_class],
        "confusion": confusion.tolist(),
        "leakage": leakage,
        "leaks_to": leaks_to,
        "diversity": diversity,
        "leaking": leaking,
        "collapsed": collapsed,
        "flagged": sorted(set(leaking) | set(collapsed)),
    }


def _predict(classifier: Classifier, images: Tensor) -> Tensor:
    predictions = classifier(images)
    if not isinstance(predictions, Tensor) or predictions.shape != (images.shape[0],):
        desc = tuple(predictions.shape) if isinstance(predictions, Tensor) else type(predictions).__name__
        raise ValueError(f"the classifier must return one label per image, shape ({images.shape[0]},), got {desc}")
    return predictions.cpu()


def class_accuracy(G: nn.Module, *, n_per_class: int, seed: int, truncation: float | None = None,
                   classifier: Classifier | None = None, batch_size: int = 256, max_leakage: float = 0.5,
                   min_diversity_ratio: float = 0.1) -> dict:
    """Per-class accuracy of a classifier on ``n_per_class`` samples of every class (BigGAN §5.1, App. H).

    The classification-accuracy view of class-conditional quality: samples conditioned on class c should be
    recognised as c. Rows of the confusion matrix show where a class leaks to; see
    :func:`summarize_class_predictions` for the leaking/collapsed criteria.

    Args:
        G: generator (``dim_z``, ``num_classes``, ``G(z, y)``).
        n_per_class: samples per class (>= 2, so the collapse check has a spread to measure).
        seed: latent seed.
        truncation: truncated-normal threshold, or None for N(0, 1).
        classifier: callable, uint8 N×3×H×W → int64 N labels, called once on all samples in sample order
            (labels are round-robin ``arange(N) % num_classes``). Default: the shipped shapes-net
            (:func:`gancore.metrics.shapes_net.classify`), which needs ``G.num_classes == 8``.
        batch_size: samples per G forward pass.
        max_leakage: see :func:`summarize_class_predictions`.
        min_diversity_ratio: see :func:`summarize_class_predictions`.

    Returns:
        The dict of :func:`summarize_class_predictions` plus ``n_per_class`` and ``truncation``.
    """
    _check_positive_int(n_per_class, "n_per_class")
    if n_per_class < 2:
        raise ValueError(f"n_per_class={n_per_class} must be >= 2 (one sample has no diversity to judge)")
    classifier = classifier if classifier is not None else _default_classifier(G.num_classes)
    images, labels = sample_conditional(G, n=n_per_class * G.num_classes, seed=seed, truncation=truncation,
                                        batch_size=batch_size)
    result = summarize_class_predictions(labels, _predict(classifier, images), num_classes=G.num_classes,
                                         images=images, max_leakage=max_leakage,
                                         min_diversity_ratio=min_diversity_ratio)
    return {**result, "n_per_class": n_per_class, "truncation": truncation}
