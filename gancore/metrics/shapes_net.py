"""ShapesNet: the small offline feature extractor shipped for tests and reduced-scale runs.

FID/IS/KID/PRC (BigGAN §2 and §5; ProGAN §6.5) normally use an ImageNet
InceptionV3 whose weights must be downloaded. Nothing may download here, so the project
ships this classifier of the procedural shapes dataset (``gancore.data.shapes``) instead:

- ``features``: the 128-d global-average-pooled activations (the role of Inception's 2048-d
  pool3) for FID, KID and precision/recall;
- ``logits``: the 8-way class logits for the Inception Score and for BigGAN-style class
  accuracy (:func:`classify`).

Inputs of any resolution are resized to 32×32 inside (bilinear, antialiased), so one network
scores every stage of a progressively grown generator. The weights are produced by
``scripts/train_shapes_net.py`` (provenance in ``weights/shapes_net.json``).

The class :class:`ShapesNetFeatureExtractor` plugs the network into torch-fidelity under the
name ``"shapes-net"`` (:func:`register_shapes_net`, safe to call any number of times).
"""
from __future__ import annotations

import functools
import pickle
import zipfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

__all__ = [
    "SHAPES_NET_NAME",
    "WEIGHTS_PATH",
    "ShapesNet",
    "ShapesNetFeatureExtractor",
    "load_shapes_net",
    "classify",
    "register_shapes_net",
]

SHAPES_NET_NAME = "shapes-net"
WEIGHTS_PATH = Path(__file__).resolve().parent / "weights" / "shapes_net.pt"
_TRAIN_HINT = "regenerate it with `python scripts/train_shapes_net.py`"


def _conv_block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class ShapesNet(nn.Module):
    """Small CNN classifier of the shapes classes with a 128-d pooled feature layer."""

    def __init__(
        self,
        *,
        num_classes: int = 8,
        base_width: int = 32,
        feature_dim: int = 128,
        input_resolution: int = 32,
    ) -> None:
        """
        Args:
            num_classes: number of shape classes (``len(SHAPE_CLASSES)``).
            base_width: channels of the strided stem; doubled at the 16 and 8 px stages.
            feature_dim: size of the pooled feature vector used by FID/KID/PRC.
            input_resolution: side every input is resized to before the convolutions.
        """
        super().__init__()
        w = base_width
        self.input_resolution = input_resolution
        # A strided 4×4 stem halves the resolution at once: full-resolution 3×3 stages cost
        # most of the CPU time while adding little for these silhouettes.
        self.body = nn.Sequential(
            nn.Conv2d(3, w, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
            *_conv_block(w, 2 * w), nn.MaxPool2d(2),
            *_conv_block(2 * w, 4 * w), nn.MaxPool2d(2),
            *_conv_block(4 * w, feature_dim),
        )  # fmt: skip
        self.head = nn.Linear(feature_dim, num_classes)

    def preprocess(self, images: Tensor) -> Tensor:
        """uint8 0..255 (or float already in [-1, 1], the generators' range) → float 32×32 in [-1, 1]."""
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"ShapesNet expects N×3×H×W images, got {tuple(images.shape)}")
        x = images.float() / 127.5 - 1.0 if images.dtype == torch.uint8 else images.float()
        size = self.input_resolution
        if x.shape[-2:] != (size, size):
            # Antialiasing matters when shrinking 64/128 px samples: plain bilinear would alias
            # the generator's high frequencies into the features.
            x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        return x

    def features_and_logits(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """(N, feature_dim) pooled features and (N, num_classes) logits."""
        features = self.body(self.preprocess(images)).mean(dim=(2, 3))
        return features, self.head(features)

    def forward(self, images: Tensor) -> Tensor:
        return self.features_and_logits(images)[1]


def load_shapes_net(path: str | Path | None = None, *, device: str | torch.device = "cpu") -> ShapesNet:
    """ShapesNet in eval mode with the shipped (or given) weights, loaded with ``weights_only=True``."""
    path = WEIGHTS_PATH if path is None else Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ShapesNet weights not found at {path}; {_TRAIN_HINT}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as err:
        raise ValueError(f"ShapesNet weights at {path} are unreadable ({err}); {_TRAIN_HINT}") from err
    net = ShapesNet()
    try:
        net.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as err:
        raise ValueError(f"{path} is not a ShapesNet state_dict ({err}); {_TRAIN_HINT}") from err
    return net.to(device).eval().requires_grad_(False)


@functools.lru_cache(maxsize=4)
def _shared_net(device: str) -> ShapesNet:
    return load_shapes_net(device=device)


@torch.no_grad()
def classify(images_uint8: Tensor, *, net: ShapesNet | None = None, batch_size: int = 1024) -> Tensor:
    """Predicted shape class (int64, N) of uint8 N×3×H×W images (BigGAN-style class accuracy)."""
    if net is None:
        net = _shared_net(str(images_uint8.device))
    labels = [
        net(images_uint8[start : start + batch_size]).argmax(dim=1)
        for start in range(0, images_uint8.shape[0], batch_size)
    ]
    if not labels:
        return torch.empty(0, dtype=torch.int64, device=images_uint8.device)
    return torch.cat(labels)


class ShapesNetFeatureExtractor(FeatureExtractorBase):
    """torch-fidelity feature extractor wrapping :class:`ShapesNet` (uint8 B×3×H×W in)."""

    # Positional (name, features_list): torch-fidelity's create_feature_extractor calls
    # cls(name, features_list, **options), so this signature is fixed by the library.
    def __init__(
        self,
        name: str,
        features_list: list[str],
        feature_extractor_weights_path: str | Path | None = None,
        **kwargs: object,
    ) -> None:
        """
        Args:
            name: registry name (``"shapes-net"``), given by torch-fidelity.
            features_list: requested subset of ``("features", "logits")``.
            feature_extractor_weights_path: other ShapesNet weights; default the shipped file.
            kwargs: the remaining torch-fidelity options (ignored).
        """
        super().__init__(name, features_list)
        self.net = load_shapes_net(feature_extractor_weights_path)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        if not torch.is_tensor(x) or x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(
                f"shapes-net expects uint8 B×3×H×W images, got {getattr(x, 'dtype', type(x))} "
                f"{tuple(getattr(x, 'shape', ()))}"
            )
        features, logits = self.net.features_and_logits(x)
        # fp32 out, as torch-fidelity's Inception gives them, also when the net ran under bf16 autocast
        out = {"features": features.float(), "logits": logits.float()}
        return tuple(out[name] for name in self.features_list)

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return ("features", "logits")

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        layers = {"isc": "logits", "fid": "features", "kid": "features", "prc": "features"}
        if metric not in layers:
            raise ValueError(f"no shapes-net feature layer for metric {metric!r}; valid: {sorted(layers)}")
        return layers[metric]

    @staticmethod
    def can_be_compiled() -> bool:
        return True

    @staticmethod
    def get_dummy_input_for_compile() -> Tensor:
        return torch.zeros(1, 3, 32, 32, dtype=torch.uint8)


def register_shapes_net() -> str:
    """Register ``"shapes-net"`` with torch-fidelity once; re-running a notebook cell is a no-op.

    A class from a reloaded copy of this module replaces the stale entry; a *different*
    extractor already holding the name is an error. Returns the registry name.
    """
    current = FEATURE_EXTRACTORS_REGISTRY.get(SHAPES_NET_NAME)
    if current is None:
        register_feature_extractor(SHAPES_NET_NAME, ShapesNetFeatureExtractor)
    elif current is not ShapesNetFeatureExtractor:
        same_origin = (current.__module__, current.__qualname__) == (
            ShapesNetFeatureExtractor.__module__,
            ShapesNetFeatureExtractor.__qualname__,
        )
        if not same_origin:
            raise ValueError(
                f"torch-fidelity feature extractor {SHAPES_NET_NAME!r} is already taken by "
                f"{current.__module__}.{current.__qualname__}"
            )
        # importlib.reload / autoreload made a new class object; torch-fidelity's public
        # register function refuses duplicates, so the stale entry is swapped directly.
        FEATURE_EXTRACTORS_REGISTRY[SHAPES_NET_NAME] = ShapesNetFeatureExtractor
    return SHAPES_NET_NAME
