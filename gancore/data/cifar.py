"""CIFAR-10 through torchvision, as uint8 tensors (the BigGAN / alphaGAN / DGGAN benchmark set).

Nothing is downloaded unless ``download=True``; without data the loader says where to put it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

__all__ = ["CIFAR10_FOLDER", "cifar10_files", "load_cifar10"]

CIFAR10_FOLDER = "cifar-10-batches-py"
_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
_TEST_FILES = ("test_batch",)
_META_FILE = "batches.meta"


def cifar10_files(root: str | Path, *, train: bool = True) -> list[Path]:
    """Paths of the pickled CIFAR-10 files a split needs (batches + metadata)."""
    folder = Path(root).expanduser() / CIFAR10_FOLDER
    names = (_TRAIN_FILES if train else _TEST_FILES) + (_META_FILE,)
    return [folder / name for name in names]


def load_cifar10(
    root: str | Path, *, train: bool = True, download: bool = False
) -> tuple[Tensor, Tensor, list[str]]:
    """Load CIFAR-10 as ``(uint8 N×3×32×32, int64 labels N, class names)``.

    Args:
        root: folder that holds (or will hold) ``cifar-10-batches-py/``.
        train: the 50k training split if True, else the 10k test split.
        download: fetch the archive from the internet when it is missing; never otherwise.
    """
    from torchvision.datasets import CIFAR10  # deferred: torchvision import is slow

    root = Path(root).expanduser()
    if not download:
        missing = [p for p in cifar10_files(root, train=train) if not p.is_file()]
        if missing:
            raise FileNotFoundError(
                f"CIFAR-10 not found under {root} (missing {', '.join(str(p) for p in missing[:3])}"
                f"{' …' if len(missing) > 3 else ''}). Pass download=True (in a notebook: "
                f"papermill ... -y 'overrides: {{download: true}}') or place the extracted `{CIFAR10_FOLDER}` "
                f"folder in {root}."
            )
    try:
        dataset = CIFAR10(str(root), train=train, download=download)
    except RuntimeError as err:
        # torchvision reports both "missing" and "md5 mismatch" as a RuntimeError.
        raise ValueError(
            f"CIFAR-10 under {root / CIFAR10_FOLDER} failed torchvision's integrity check ({err}); "
            f"delete that folder and pass download=True, or replace it with the original files."
        ) from err
    images = torch.from_numpy(np.ascontiguousarray(dataset.data.transpose(0, 3, 1, 2)))
    labels = torch.as_tensor(dataset.targets, dtype=torch.int64)
    return images, labels, list(dataset.classes)
