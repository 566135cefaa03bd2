"""One entry point from a dataset name (the notebooks' ``dataset`` parameter) to cached images."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import Tensor

from gancore.errors import DataError
from gancore.data.cache import MultiResCache, cached_dataset, file_fingerprint
from gancore.data.cifar import cifar10_files, load_cifar10
from gancore.data.folder import check_folder_resolution, load_image_folder, scan_image_folder
from gancore.data.shapes import SHAPE_CLASSES, check_resolution, render_shapes

__all__ = ["DATASETS", "KNOWN_NUM_CLASSES", "ImageData", "build_dataset"]

DATASETS: tuple[str, ...] = ("shapes", "cifar10", "folder")
_CIFAR_RESOLUTION = 32
# Class counts known without reading any data (a dry run decodes nothing); an image folder's depends on its folders.
KNOWN_NUM_CLASSES: dict[str, int] = {"shapes": len(SHAPE_CLASSES), "cifar10": 10}


@dataclass
class ImageData:
    """A training set: uint8 image pyramid, labels and class names."""

    cache: MultiResCache  # uint8 images at every power-of-two resolution up to ``resolution``
    labels: Tensor  # int64 class index per image
    class_names: list[str]  # label → name
    name: str  # dataset name ("shapes", "cifar10", "folder")

    @property
    def resolution(self) -> int:
        """Top resolution of the images."""
        return self.cache.resolution

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.cache)


def _require_data_dir(name: str, data_dir: str | Path | None) -> Path:
    if data_dir is None:
        raise DataError(f"dataset {name!r} needs data_dir (the folder that holds its files); got None")
    return Path(data_dir).expanduser()


def build_dataset(
    name: str,
    *,
    resolution: int,
    data_dir: str | Path | None = None,
    size: int = 10000,
    seed: int = 0,
    download: bool = False,
    strict: bool = False,
) -> ImageData:
    """Load or render a dataset at ``resolution`` with all lower pyramid levels.

    Args:
        name: "shapes" (procedural, no files), "cifar10" (torchvision CIFAR-10 train split) or
            "folder" (an image folder, see :func:`gancore.data.folder.load_image_folder`).
        resolution: top resolution (power of two; shapes 4..256, cifar10 4..32, folder 4..1024).
        data_dir: data folder; required for cifar10 and folder, ignored for shapes.
        size: number of shapes images to render (shapes only).
        seed: shapes stream seed (shapes only).
        download: let torchvision download CIFAR-10 when missing (cifar10 only).
        strict: fail on unreadable image files instead of skipping them (folder only).
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {list(DATASETS)}")

    if name == "shapes":
        check_resolution(resolution)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"size={size!r} must be a positive int")
        images, labels = render_shapes(size, resolution=resolution, seed=seed)
        return ImageData(cache=MultiResCache(images=images), labels=labels, class_names=list(SHAPE_CLASSES), name=name)

    if name == "cifar10":
        valid = [2**k for k in range(2, 6)]
        if resolution not in valid:
            raise ValueError(
                f"resolution={resolution!r} is not available for cifar10 (CIFAR-10 is 32×32); "
                f"valid values are {valid}"
            )
        root = _require_data_dir(name, data_dir)
        if download:
            load_cifar10(root, train=True, download=True)  # fetch first, so the fingerprint sees files
        files = cifar10_files(root, train=True)
        fingerprint = file_fingerprint(files, root) if all(p.is_file() for p in files) else None
        if fingerprint is None:
            images, labels, names = load_cifar10(root, train=True)  # raises the helpful FileNotFoundError
        else:
            images, labels, names = cached_dataset(
                kind="cifar10-train",
                source=root,
                resolution=_CIFAR_RESOLUTION,
                fingerprint=fingerprint,
                load=lambda: load_cifar10(root, train=True),
            )
        return ImageData(
            cache=MultiResCache(images=images).up_to(resolution), labels=labels, class_names=names, name=name
        )

    # name == "folder"
    check_folder_resolution(resolution)
    root = _require_data_dir(name, data_dir)
    files, _, _ = scan_image_folder(root)
    images, labels, names = cached_dataset(
        kind="folder",
        source=root,
        resolution=resolution,
        fingerprint={"files": file_fingerprint(files, root), "strict": bool(strict)},
        load=lambda: load_image_folder(root, resolution=resolution, strict=strict),
    )
    return ImageData(cache=MultiResCache(images=images), labels=labels, class_names=names, name=name)
