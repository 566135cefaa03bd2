"""FID / IS / KID / precision-recall through torch-fidelity (BigGAN §2 and §5 Table 2; ProGAN §6.5).

One call, one feature extractor:

- ``extractor="shapes"``: the shipped :mod:`~gancore.metrics.shapes_net` (offline; tests and
  reduced scale). Numbers are comparable only with other shapes-net numbers.
- ``extractor="inception"``: torch-fidelity's ``inception-v3-compat`` (the network behind
  published FID/IS values) loaded from a local weights file; nothing is ever downloaded.

Real-set features can be cached on disk: give ``cache_key`` (a name for the real set, e.g.
``"shapes-32px-seed0-10k"``) and optionally ``cache_dir``. torch-fidelity then stores
``<cache_key>-<extractor>-features-<layer>.pt`` (and the FID mean/covariance) and a later call
with the same key loads them instead of running the extractor on ``real`` again. The key is
trusted: change it whenever the real set changes. Generated images are never cached.

Known torch-fidelity 0.4.0 trap: its conditional-generator path uses the removed ``np.int``;
a sampler given here is wrapped as an *unconditional* model (``num_classes=0``), so class
labels, if any, must be drawn inside the sampler.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import torch
import torch_fidelity
from torch import Tensor
from torch.utils.data import Dataset
from torch_fidelity.generative_model_base import GenerativeModelBase

from gancore.metrics.shapes_net import register_shapes_net

__all__ = ["FIDELITY_METRICS", "EXTRACTORS", "ImageTensorDataset", "SamplerModel", "fidelity_metrics"]

FIDELITY_METRICS = ("fid", "is", "kid", "prc")
EXTRACTORS = ("shapes", "inception")

# torch-fidelity flag per metric name, and its output keys → ours.
_FLAGS = {"fid": "fid", "is": "isc", "kid": "kid", "prc": "prc"}
_KEYS = {
    torch_fidelity.KEY_METRIC_FID: "fid",
    torch_fidelity.KEY_METRIC_ISC_MEAN: "is_mean",
    torch_fidelity.KEY_METRIC_ISC_STD: "is_std",
    torch_fidelity.KEY_METRIC_KID_MEAN: "kid_mean",
    torch_fidelity.KEY_METRIC_KID_STD: "kid_std",
    torch_fidelity.KEY_METRIC_PRECISION: "precision",
    torch_fidelity.KEY_METRIC_RECALL: "recall",
}


def _check_uint8_images(images: Tensor, what: str) -> None:
    if not isinstance(images, Tensor) or images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
        desc = f"{images.dtype} {tuple(images.shape)}" if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(
            f"{what} must be a uint8 N×3×H×W tensor (convert with round((x+1)*127.5).clamp(0,255)), got {desc}"
        )
    if images.shape[0] == 0:
        raise ValueError(f"{what} is empty")


class ImageTensorDataset(Dataset):
    """uint8 N×3×H×W tensor as a Dataset of uint8 3×H×W images (torch-fidelity's input contract)."""

    def __init__(self, *, images: Tensor) -> None:
        """
        Args:
            images: uint8 N×3×H×W RGB images (kept on the CPU; torch-fidelity moves batches).
        """
        _check_uint8_images(images, "images")
        self.images = images.cpu()

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> Tensor:
        return self.images[index]


class SamplerModel(GenerativeModelBase):
    """Wraps ``sample(batch_size) -> uint8 B×3×H×W`` as an unconditional torch-fidelity model.

    torch-fidelity feeds noise of shape (B, 1); only its batch size is used, so the sampler
    owns its latents (and class labels), which keeps the ``np.int`` conditional path unused.
    """

    def __init__(self, *, sample: Callable[[int], Tensor]) -> None:
        """
        Args:
            sample: callable returning ``batch_size`` generated uint8 images.
        """
        super().__init__()
        self.sample = sample

    @property
    def z_size(self) -> int:
        return 1

    @property
    def z_type(self) -> str:
        return "normal"

    @property
    def num_classes(self) -> int:
        return 0

    def forward(self, noise: Tensor) -> Tensor:
        images = self.sample(noise.shape[0])
        _check_uint8_images(images, "the sampler's output")
        if images.shape[0] != noise.shape[0]:
            raise ValueError(f"the sampler returned {images.shape[0]} images when asked for {noise.shape[0]}")
        return images.to(noise.device)


def _extractor_kwargs(extractor: str, inception_weights: str | Path | None) -> dict:
    if extractor == "shapes":
        return {"feature_extractor": register_shapes_net()}
    if extractor == "inception":
        if inception_weights is None:
            raise ValueError(
                "extractor='inception' needs inception_weights=PATH: nothing is downloaded at run time. "
                "Fetch torch-fidelity's converted TF Inception (pt_inception-2015-12-05, released as "
                "weights-inception-2015-12-05-6726825d.pth) on a machine with network access and pass its path; "
                "or use extractor='shapes' (offline, shipped)."
            )
        path = Path(inception_weights)
        if not path.is_file():
            raise FileNotFoundError(f"Inception weights file not found: {path}")
        return {"feature_extractor": "inception-v3-compat", "feature_extractor_weights_path": str(path)}
    raise ValueError(f"unknown extractor {extractor!r}; valid choices: {list(EXTRACTORS)}")


def fidelity_metrics(
    fake: Tensor | Callable[[int], Tensor],
    real: Tensor | None,
    *,
    metrics: Sequence[str] = ("fid", "is", "kid"),
    extractor: str = "shapes",
    inception_weights: str | Path | None = None,
    cache_dir: str | Path | None = None,
    cache_key: str | None = None,
    batch_size: int = 256,
    kid_subset_size: int | None = None,
    num_fake: int | None = None,
    device: str | torch.device = "cpu",
    verbose: bool = False,
) -> dict[str, float]:
    """FID / IS / KID / PRC of generated images against ``real`` with one feature extractor.

    Args:
        fake: uint8 N×3×H×W generated images, or a sampler ``sample(batch_size) -> images``.
        real: uint8 M×3×H×W real images (may be None when ``metrics == ("is",)``).
        metrics: subset of ``("fid", "is", "kid", "prc")``; IS uses ``fake`` only.
        extractor: ``"shapes"`` (shipped, offline) or ``"inception"`` (needs ``inception_weights``).
        inception_weights: local path of torch-fidelity's InceptionV3 weights.
        cache_dir: folder of the real-feature cache (default torch-fidelity's
            ``$TORCH_HOME/fidelity_cache``); used only with ``cache_key``.
        cache_key: name of the real set in the cache; None disables caching.
        batch_size: images per extractor forward pass.
        kid_subset_size: KID subset size, default ``min(1000, n_fake, n_real)``.
        num_fake: images drawn from a sampler ``fake`` (default ``len(real)``); must be None
            for a tensor ``fake``.
        device: ``"cpu"`` or a CUDA device.
        verbose: let torch-fidelity print progress.

    Returns:
        Keys per requested metric: ``fid``; ``is_mean``, ``is_std``; ``kid_mean``,
        ``kid_std``; ``precision``, ``recall``.
    """
    unknown = [m for m in metrics if m not in FIDELITY_METRICS]
    if unknown or not metrics:
        raise ValueError(f"metrics={tuple(metrics)!r}: choose a non-empty subset of {list(FIDELITY_METRICS)}")
    needs_real = any(m != "is" for m in metrics)
    if real is None and needs_real:
        raise ValueError(f"metrics {tuple(metrics)} compare against real images; pass real=")
    if real is not None:
        _check_uint8_images(real, "real")
    kwargs = _extractor_kwargs(extractor, inception_weights)
    n_real = real.shape[0] if real is not None else None

    if isinstance(fake, Tensor):
        _check_uint8_images(fake, "fake")
        if num_fake is not None:
            raise ValueError("num_fake applies to a sampler; slice the fake tensor instead")
        kwargs["input1"] = ImageTensorDataset(images=fake)
        n_fake = fake.shape[0]
    elif callable(fake):
        if num_fake is None and n_real is None:
            raise ValueError("a sampler fake needs num_fake= when no real set is given")
        n_fake = n_real if num_fake is None else num_fake
        if n_fake < 2:
            raise ValueError(f"num_fake={n_fake} must be >= 2")
        kwargs.update(input1=SamplerModel(sample=fake), input1_model_num_samples=int(n_fake))
    else:
        raise ValueError(f"fake must be a uint8 image tensor or a sampler callable, got {type(fake).__name__}")

    if "kid" in metrics:
        smaller = min(n_fake, n_real)
        if kid_subset_size is None:
            kid_subset_size = min(1000, smaller)
        if not 2 <= kid_subset_size <= smaller:
            raise ValueError(f"kid_subset_size={kid_subset_size} must be in 2..{smaller} (the smaller set size)")
        kwargs["kid_subset_size"] = kid_subset_size
    if real is not None and needs_real:
        kwargs["input2"] = ImageTensorDataset(images=real)

    device = torch.device(device)
    kwargs.update(
        batch_size=batch_size,
        # Splits of fewer than ~2 images make IS meaningless; 10 is the usual choice.
        isc_splits=max(1, min(10, n_fake // 2)),
        cuda=device.type == "cuda",
        verbose=verbose,
        # In-memory tensors gain nothing from DataLoader worker processes (torch-fidelity
        # starts up to 4 unless save_cpu_ram); the flag also makes PRC work in slices.
        save_cpu_ram=True,
        cache=cache_key is not None,
    )
    if cache_key is not None:
        kwargs["input2_cache_name"] = cache_key
        if cache_dir is not None:
            Path(cache_dir).mkdir(parents=True, exist_ok=True)
            kwargs["cache_root"] = str(cache_dir)
    for name in metrics:
        kwargs[_FLAGS[name]] = True

    if device.type == "cuda" and device.index is not None:
        with torch.cuda.device(device):
            raw = torch_fidelity.calculate_metrics(**kwargs)
    else:
        raw = torch_fidelity.calculate_metrics(**kwargs)
    return {ours: float(raw[theirs]) for theirs, ours in _KEYS.items() if theirs in raw}
