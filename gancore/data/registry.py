"""One entry point from a dataset name (the notebooks' ``dataset`` parameter) to its images: in memory when they
are small, else a prepared store on disk (:mod:`gancore.data.store`) streamed during training."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

from gancore.data.cifar import load_cifar10
from gancore.data.folder import check_folder_resolution
from gancore.data.imageset import ImageData
from gancore.data.shapes import SHAPE_CLASSES, check_resolution, render_shapes
from gancore.data.store import Source, prepare_store
from gancore.errors import DataError

__all__ = ["DATASETS", "IN_MEMORY_CHOICES", "KNOWN_NUM_CLASSES", "ImageData", "build_dataset", "default_store_dir",
           "in_memory_limit", "source_of"]

DATASETS: tuple[str, ...] = ("shapes", "cifar10", "folder")
IN_MEMORY_CHOICES: tuple[str, ...] = ("auto", "yes", "no")
_CIFAR_RESOLUTION = 32
# Class counts known without reading any data (a dry run decodes nothing); an image folder's depends on its folders.
KNOWN_NUM_CLASSES: dict[str, int] = {"shapes": len(SHAPE_CLASSES), "cifar10": 10}
_IN_MEMORY_MAX = 2 << 30  # "auto" keeps a data set in memory up to 2 GiB (and a quarter of the free memory)


def in_memory_limit() -> int:
    """Bytes of images that ``in_memory="auto"`` holds in memory on this machine."""
    try:
        import psutil

        free = int(psutil.virtual_memory().available)
    except ImportError:  # pragma: no cover - psutil ships with jupyter
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return min(_IN_MEMORY_MAX, free // 4)


def default_store_dir(name: str, data_dir: str | Path | None) -> Path:
    """Where a store is prepared unless ``store_dir`` says: beside the data (``<data_dir>/.gancore_cache``), or for
    the procedural shapes (and a read-only data folder) under the checkout's git-ignored ``data/``."""
    from gancore.config import repo_root

    if name != "shapes" and data_dir:
        beside = Path(data_dir).expanduser() / ".gancore_cache"
        try:
            beside.mkdir(parents=True, exist_ok=True)
            if os.access(beside, os.W_OK):
                return beside
        except OSError:
            pass
        warnings.warn(f"{data_dir} is read-only: its prepared store goes to {repo_root() / 'data' / '.gancore_cache'} "
                      "(set store_dir to choose the place)", stacklevel=3)
    return repo_root() / "data" / ".gancore_cache"


def source_of(name: str, *, resolution: int, data_dir: str | Path | None = None, size: int = 10000, seed: int = 0,
              strict: bool = False, max_images: int = 0) -> Source:
    """The :class:`~gancore.data.store.Source` a dataset name and its settings describe (checked)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {list(DATASETS)}")
    if isinstance(max_images, bool) or not isinstance(max_images, int) or max_images < 0:
        raise ValueError(f"max_images={max_images!r} must be an int >= 0 (0: every image)")
    if name == "shapes":
        check_resolution(resolution)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"size={size!r} must be a positive int")
        return Source("shapes", resolution, seed=seed, size=size, max_images=max_images)
    if data_dir is None:
        raise DataError(f"dataset {name!r} needs data_dir (the folder that holds its files); got None")
    root = str(Path(data_dir).expanduser())
    if name == "cifar10":
        valid = [2**k for k in range(2, 6)]
        if resolution not in valid:
            raise ValueError(f"resolution={resolution!r} is not available for cifar10 (CIFAR-10 is 32×32); "
                             f"valid values are {valid}")
        return Source("cifar10", _CIFAR_RESOLUTION, root=root, max_images=max_images)
    check_folder_resolution(resolution)
    return Source("folder", resolution, root=root, strict=strict, max_images=max_images)


def build_dataset(name: str, *, resolution: int, data_dir: str | Path | None = None, size: int = 10000,
                  seed: int = 0, download: bool = False, strict: bool = False, max_images: int = 0,
                  in_memory: str = "auto", store_dir: str | Path | None = None, workers: int | None = None,
                  on_changed: str = "rebuild", progress: bool = True) -> ImageData:
    """The images of a dataset at ``resolution`` (lower levels are pooled from it when asked for).

    Args:
        name: "shapes" (procedural, no files), "cifar10" (the CIFAR-10 training split) or "folder" (an image
            folder, flat or of class sub-folders, see :func:`gancore.data.folder.scan_image_folder`).
        resolution: top resolution (power of two; shapes 4..256, cifar10 4..32, folder 4..1024).
        data_dir: data folder; required for cifar10 and folder, ignored for shapes.
        size: number of shapes images to render (shapes only).
        seed: shapes stream seed (shapes only).
        download: let torchvision download CIFAR-10 when missing (cifar10 only).
        strict: fail on unreadable image files instead of skipping them (folder only).
        max_images: keep at most this many images, evenly spaced over the source (0: all).
        in_memory: "auto" (in memory up to :func:`in_memory_limit`, else streamed from the store), "yes", "no".
        store_dir: where the prepared store lives (default :func:`default_store_dir`).
        workers: decoding processes for a prepare (default: up to 8 for large folders, none for small ones).
        on_changed: "rebuild" or "refuse" a store whose source files changed since it was prepared.
        progress: show the prepare's progress bar.
    """
    if in_memory not in IN_MEMORY_CHOICES:
        raise ValueError(f"in_memory={in_memory!r} is not one of {list(IN_MEMORY_CHOICES)}")
    source = source_of(name, resolution=resolution, data_dir=data_dir, size=size, seed=seed, strict=strict,
                       max_images=max_images)
    if name == "shapes":
        n = min(size, max_images) if max_images else size
        if in_memory == "yes" or (in_memory == "auto" and n * 3 * resolution ** 2 <= in_memory_limit()):
            images, labels = render_shapes(n, resolution=resolution, seed=seed)
            return ImageData(images=images, labels=labels, class_names=list(SHAPE_CLASSES), name=name)
    if name == "cifar10" and download:
        load_cifar10(source.root, train=True, download=True)  # fetch first, so the fingerprint sees the files
    folder = Path(store_dir).expanduser() if store_dir else default_store_dir(name, data_dir)
    if workers is None:
        workers = min(8, os.cpu_count() or 1) if name == "folder" else 0
    path = prepare_store(source, folder, workers=workers, progress=progress, on_changed=on_changed)
    data = ImageData.open(path, resolution=resolution, name=name)
    if in_memory == "yes" or (in_memory == "auto" and data.nbytes <= in_memory_limit()):
        return ImageData.open(path, resolution=resolution, in_memory=True, name=name)
    return data
