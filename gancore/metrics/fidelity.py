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

import contextlib
import io
import warnings
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch_fidelity
from torch import Tensor
from torch.utils.data import Dataset
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
from torch_fidelity.generative_model_base import GenerativeModelBase
from torch_fidelity.metric_fid import fid_featuresdict_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_isc import isc_featuresdict_to_metric
from torch_fidelity.metric_kid import kid_featuresdict_to_metric
from torch_fidelity.metric_prc import prc_featuresdict_to_metric
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor
from torch_fidelity.utils import (create_feature_extractor, extract_featuresdict_from_input_id,
                                  resolve_feature_layer_for_metric)

from gancore.metrics.feature_cache import FeatureCache, weights_identity
from gancore.metrics.shapes_net import WEIGHTS_PATH as SHAPES_WEIGHTS
from gancore.metrics.shapes_net import register_shapes_net

__all__ = ["FIDELITY_METRICS", "EXTRACTORS", "ImageTensorDataset", "SafeInceptionV3", "SamplerModel",
           "fidelity_metrics"]

FIDELITY_METRICS = ("fid", "is", "kid", "prc")
EXTRACTORS = ("shapes", "inception")
SAFE_INCEPTION_NAME = "inception-v3-safe"

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


class SafeInceptionV3(FeatureExtractorInceptionV3):
    """torch-fidelity's ``inception-v3-compat`` whose weights file is read with ``weights_only=True``.

    torch-fidelity reads ``feature_extractor_weights_path`` with ``weights_only=False``, which runs any code a
    crafted file holds. Here the file is read safely first, and the parent class gets an in-memory copy of the
    tensors alone, so it never unpickles the user's file. The network and its features are unchanged."""

    def __init__(self, name: str, features_list: list[str], feature_extractor_weights_path: str | Path | None = None,
                 **kwargs: object) -> None:
        if feature_extractor_weights_path is None:
            raise ValueError("extractor='inception' needs inception_weights=PATH: nothing is downloaded at run time")
        path = Path(feature_extractor_weights_path)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - pickle refusals, zip and EOF errors
            raise ValueError(f"Inception weights at {path} are unreadable or not plain tensors "
                             f"({type(err).__name__}); use torch-fidelity's pt_inception-2015-12-05 file") from None
        buf = io.BytesIO()
        torch.save(dict(state), buf)  # tensors we just loaded safely: the parent's weights_only=False load of
        buf.seek(0)  # this buffer cannot run code
        super().__init__(name, features_list, feature_extractor_weights_path=buf, **kwargs)


def _register_safe_inception() -> str:
    current = FEATURE_EXTRACTORS_REGISTRY.get(SAFE_INCEPTION_NAME)
    if current is None:
        register_feature_extractor(SAFE_INCEPTION_NAME, SafeInceptionV3)
    elif current is not SafeInceptionV3:  # a reloaded copy of this module (autoreload)
        FEATURE_EXTRACTORS_REGISTRY[SAFE_INCEPTION_NAME] = SafeInceptionV3
    return SAFE_INCEPTION_NAME


def _extractor(extractor: str, inception_weights: str | Path | None) -> tuple[str, dict, str]:
    """(torch-fidelity registry name, its options, identity of the network for the feature cache)."""
    if extractor == "shapes":
        return register_shapes_net(), {}, f"shapes-net-{weights_identity(SHAPES_WEIGHTS)}"
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
        return (_register_safe_inception(), {"feature_extractor_weights_path": str(path)},
                f"inception-v3-{weights_identity(path)}")
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
    precision: str = "fp32",
) -> dict[str, float]:
    """FID / IS / KID / PRC of generated images against ``real`` with one feature extractor.

    Features come from torch-fidelity's extractors and the metrics from its feature-to-metric functions; only the
    real-set cache is gancore's own (:class:`~gancore.metrics.feature_cache.FeatureCache`: ``.npz``, no pickle).
    The global torch RNG is left as it was (torch's DataLoader draws from it), so a run that finds the cache filled
    continues exactly like one that fills it.

    Args:
        fake: uint8 N×3×H×W generated images, or a sampler ``sample(batch_size) -> images``.
        real: uint8 M×3×H×W real images (may be None when ``metrics == ("is",)``).
        metrics: subset of ``("fid", "is", "kid", "prc")``; IS uses ``fake`` only.
        extractor: ``"shapes"`` (shipped, offline) or ``"inception"`` (needs ``inception_weights``).
        inception_weights: local path of torch-fidelity's InceptionV3 weights (read with ``weights_only=True``).
        cache_dir: folder of the real-feature cache; used only with ``cache_key``.
        cache_key: name of the real set (dataset, source, resolution, count); the feature network is added to it.
            None disables caching.
        batch_size: images per extractor forward pass.
        kid_subset_size: KID subset size, default ``min(1000, n_fake, n_real)``.
        num_fake: images drawn from a sampler ``fake`` (default ``len(real)``); must be None
            for a tensor ``fake``.
        device: ``"cpu"`` or a CUDA device.
        verbose: let torch-fidelity print progress.
        precision: ``"fp16"`` or ``"bf16"`` runs the feature network under that autocast (features come back as
            fp32 and the statistics are computed in float64 as always); the real set's cached features are kept
            apart per precision. Measured on the shipped shapes network (tests/test_eval_precision.py): bf16 moves
            FID by up to 0.15%, above the 0.1% a reported FID may move, so runs keep fp32 features
            (``eval_precision`` lowers only the generator); fp16 keeps 3 more mantissa bits and is the choice for
            Inception on a GPU (benchmarks/gpu_report.py measures its FID beside fp32's).

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
    fe_name, fe_options, fe_id = _extractor(extractor, inception_weights)
    n_real = real.shape[0] if real is not None else None

    inputs: dict = {}
    if isinstance(fake, Tensor):
        _check_uint8_images(fake, "fake")
        if num_fake is not None:
            raise ValueError("num_fake applies to a sampler; slice the fake tensor instead")
        inputs["input1"] = ImageTensorDataset(images=fake)
        n_fake = fake.shape[0]
    elif callable(fake):
        if num_fake is None and n_real is None:
            raise ValueError("a sampler fake needs num_fake= when no real set is given")
        n_fake = n_real if num_fake is None else num_fake
        if n_fake < 2:
            raise ValueError(f"num_fake={n_fake} must be >= 2")
        inputs.update(input1=SamplerModel(sample=fake), input1_model_num_samples=int(n_fake))
    else:
        raise ValueError(f"fake must be a uint8 image tensor or a sampler callable, got {type(fake).__name__}")

    device = torch.device(device)
    options = dict(
        fe_options, feature_extractor=fe_name, batch_size=batch_size, verbose=verbose, cuda=device.type == "cuda",
        # Splits of fewer than ~2 images make IS meaningless; 10 is the usual choice.
        isc_splits=max(1, min(10, n_fake // 2)),
        # In-memory tensors gain nothing from DataLoader worker processes (torch-fidelity starts up to 4 unless
        # save_cpu_ram); the flag also makes PRC work in slices.
        save_cpu_ram=True,
        cache=False,  # torch-fidelity's cache is pickles; ours is FeatureCache
    )
    if "kid" in metrics:
        smaller = min(n_fake, n_real)
        if kid_subset_size is None:
            kid_subset_size = min(1000, smaller)
        if not 2 <= kid_subset_size <= smaller:
            raise ValueError(f"kid_subset_size={kid_subset_size} must be in 2..{smaller} (the smaller set size)")
        options["kid_subset_size"] = kid_subset_size
    layers = {m: resolve_feature_layer_for_metric(_FLAGS[m], **options) for m in metrics}

    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    if precision not in dtypes:
        raise ValueError(f"precision={precision!r}: choose one of {list(dtypes)}")
    if precision != "fp32" and cache_key is not None:
        cache_key = f"{cache_key}-{precision}"  # features of another precision are other numbers
    rng_devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=rng_devices), _on_device(device):
        fe = create_feature_extractor(fe_name, sorted(set(layers.values())), **options)
        with torch.autocast(device.type, dtype=dtypes[precision], enabled=precision != "fp32"):  # networks only
            fake_features = extract_featuresdict_from_input_id(1, fe, **inputs, **options)
            real_features = None
            if needs_real:
                real_layers = sorted({layers[m] for m in metrics if m != "is"})
                real_features = _real_features(real, fe, real_layers, options, cache_dir=cache_dir,
                                               cache_key=None if cache_key is None else f"{cache_key}-{fe_id}")
        out: dict[str, float] = {}
        if "is" in metrics:
            out.update(isc_featuresdict_to_metric(fake_features, layers["is"], **options))
        if "fid" in metrics:
            stats = [fid_featuresdict_to_statistics(f, layers["fid"]) for f in (fake_features, real_features)]
            out.update(fid_statistics_to_metric(*stats, verbose))
        if "kid" in metrics:
            out.update(kid_featuresdict_to_metric(fake_features, real_features, layers["kid"], **options))
        if "prc" in metrics:
            out.update(prc_featuresdict_to_metric(fake_features, real_features, layers["prc"], **options))
    return {ours: float(out[theirs]) for theirs, ours in _KEYS.items() if theirs in out}


def _on_device(device: torch.device):
    if device.type == "cuda" and device.index is not None:
        return torch.cuda.device(device)
    return contextlib.nullcontext()


def _real_features(real: Tensor, fe, layers: list[str], options: dict, *, cache_dir, cache_key) -> dict[str, Tensor]:
    """The real set's features of ``layers``: from the feature cache when ``cache_key`` is given, else extracted."""
    cache = FeatureCache(folder=cache_dir) if cache_key is not None and cache_dir is not None else None
    if cache is not None:
        hit = cache.get(cache_key, layers)
        if hit is not None:
            return hit
    features = extract_featuresdict_from_input_id(2, fe, input2=ImageTensorDataset(images=real), **options)
    features = {k: features[k] for k in layers}
    if cache is not None:
        try:
            cache.put(cache_key, features)
        except OSError as err:  # a read-only folder costs a recomputation next time, nothing else
            warnings.warn(f"could not write the feature cache in {cache_dir} ({err})", stacklevel=3)
    return features
