"""Data for gancore: procedural shapes, CIFAR-10, image folders; prepared stores on disk, levels pooled on demand.

Convention: images are uint8 tensors N×3×H×W (RGB) and labels int64 tensors of shape N;
:func:`to_float` / :func:`to_uint8` convert to and from the models' [-1, 1] range.
"""
from __future__ import annotations

import torch
from torch import Tensor

from gancore.data.cache import CACHE_FOLDER, MultiResCache, downsample
from gancore.data.cifar import load_cifar10
from gancore.data.folder import IMAGE_EXTENSIONS, load_image_folder, scan_image_folder
from gancore.data.imageset import ImageData
from gancore.data.levels import pooled, pooled_uint8
from gancore.data.registry import DATASETS, KNOWN_NUM_CLASSES, build_dataset, default_store_dir, source_of
from gancore.data.store import Source, StoreReader, prepare_store
from gancore.data.shapes import SHAPE_CLASSES, VALID_RESOLUTIONS, ShapesDataset, render_shapes
from gancore.data.stream import BatchStream

__all__ = [
    "CACHE_FOLDER",
    "DATASETS",
    "KNOWN_NUM_CLASSES",
    "IMAGE_EXTENSIONS",
    "SHAPE_CLASSES",
    "VALID_RESOLUTIONS",
    "BatchStream",
    "ImageData",
    "MultiResCache",
    "ShapesDataset",
    "Source",
    "StoreReader",
    "build_dataset",
    "default_store_dir",
    "pooled",
    "pooled_uint8",
    "prepare_store",
    "source_of",
    "downsample",
    "load_cifar10",
    "load_image_folder",
    "render_shapes",
    "scan_image_folder",
    "to_float",
    "to_uint8",
]


def to_float(images: Tensor) -> Tensor:
    """uint8 images in [0, 255] → float32 in [-1, 1] (ProGAN Appendix A.1 range)."""
    if images.dtype != torch.uint8:
        raise ValueError(f"to_float expects uint8 images, got {images.dtype}")
    return images.float() / 127.5 - 1.0


def to_uint8(images: Tensor) -> Tensor:
    """Float images in [-1, 1] → uint8 [0, 255], rounded to nearest and clamped (out-of-range saturates)."""
    if not images.is_floating_point():
        raise ValueError(f"to_uint8 expects a floating-point tensor in [-1, 1], got {images.dtype}")
    return ((images.detach() + 1.0) * 127.5).round_().clamp_(0, 255).to(torch.uint8)
