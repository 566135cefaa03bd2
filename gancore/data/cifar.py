"""CIFAR-10 through torchvision, as uint8 tensors (the BigGAN / alphaGAN / DGGAN benchmark set).

Nothing is downloaded unless ``download=True``; without data the loader says where to put it.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gancore.errors import DataError, DataNotFoundError

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


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Reads CIFAR's pickled batches but refuses every global except what a numpy array needs, so a crafted batch
    file cannot run code (the official files also pass torchvision's md5 check first)."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
                ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a CIFAR-10 batch holds only arrays, "
                                         "lists and strings")
        return super().find_class(module, name)


def _read_batch(path: Path) -> dict:
    with open(path, "rb") as f:
        try:
            entry = _ArraysOnlyUnpickler(f, encoding="latin1").load()
        except (pickle.UnpicklingError, EOFError, ValueError) as err:
            raise DataError(f"CIFAR-10 file {path} is not a CIFAR batch ({err}); replace the folder with the "
                            "original files") from None
    if not isinstance(entry, dict):
        raise DataError(f"CIFAR-10 file {path} is not a CIFAR batch (a {type(entry).__name__}, not a dict)")
    return entry


def load_cifar10(
    root: str | Path, *, train: bool = True, download: bool = False
) -> tuple[Tensor, Tensor, list[str]]:
    """Load CIFAR-10 as ``(uint8 N×3×32×32, int64 labels N, class names)``.

    The files are checked against torchvision's md5 list, then read with an unpickler that accepts only numpy
    arrays (torchvision's own loader unpickles anything).

    Args:
        root: folder that holds (or will hold) ``cifar-10-batches-py/``.
        train: the 50k training split if True, else the 10k test split.
        download: fetch the archive from the internet when it is missing; never otherwise.
    """
    from torchvision.datasets import CIFAR10  # deferred: torchvision import is slow
    from torchvision.datasets import utils as tv_utils

    root = Path(root).expanduser()
    missing = [p for p in cifar10_files(root, train=train) if not p.is_file()]
    if missing and download:
        tv_utils.download_and_extract_archive(CIFAR10.url, str(root), filename=CIFAR10.filename, md5=CIFAR10.tgz_md5)
        missing = [p for p in cifar10_files(root, train=train) if not p.is_file()]
    if missing:
        raise DataNotFoundError(
            f"CIFAR-10 not found under {root} (missing {', '.join(str(p) for p in missing[:3])}"
            f"{' …' if len(missing) > 3 else ''}). Pass download=True (in a notebook: "
            f"papermill ... -y 'overrides: {{download: true}}') or place the extracted `{CIFAR10_FOLDER}` "
            f"folder in {root}."
        )
    folder = root / CIFAR10_FOLDER
    entries = (CIFAR10.train_list if train else CIFAR10.test_list) + [[CIFAR10.meta["filename"], CIFAR10.meta["md5"]]]
    bad = [name for name, md5 in entries if not tv_utils.check_integrity(str(folder / name), md5)]
    if bad:
        raise DataError(
            f"CIFAR-10 under {folder} failed the integrity check (md5 of {', '.join(bad[:3])}); "
            f"delete that folder and pass download=True, or replace it with the original files."
        )
    batches = [_read_batch(folder / name) for name, _ in entries[:-1]]
    try:
        data = np.concatenate([np.asarray(b["data"], dtype=np.uint8) for b in batches]).reshape(-1, 3, 32, 32)
        targets = sum((list(b.get("labels", b.get("fine_labels", []))) for b in batches), [])
        names = list(_read_batch(folder / CIFAR10.meta["filename"])[CIFAR10.meta["key"]])
    except (KeyError, ValueError) as err:
        raise DataError(f"CIFAR-10 under {folder} has malformed batches ({err})") from None
    images = torch.from_numpy(np.ascontiguousarray(data))
    labels = torch.as_tensor(targets, dtype=torch.int64)
    return images, labels, names
