"""What a run's data will need before anything is decoded: host memory (held in memory, or the loader's buffers)
and, for a store not prepared yet, disk space. :mod:`gancore.preflight` refuses a run that cannot fit."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gancore.data.folder import IMAGE_EXTENSIONS
from gancore.data.registry import default_store_dir, in_memory_limit, source_of
from gancore.data.store import StoreReader, store_name
from gancore.errors import DataError

__all__ = ["DataFootprint", "data_footprint"]


@dataclass
class DataFootprint:
    images: int  # items the run trains on
    image_bytes: int  # bytes of one stored image
    in_memory: bool
    host_bytes: int  # the images (in memory) or the loader's buffers (streamed)
    disk_bytes: int  # a store still to prepare (0 when it exists or the data is rendered in memory)
    store_dir: Path | None


def _count_images(root: Path) -> int:
    """Image files under ``root`` by name (no decoding, no stat): what a prepare will read at most."""
    count = 0
    for _, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        count += sum(1 for f in filenames if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith("."))
    return count


def data_footprint(cfg) -> DataFootprint | None:
    """The data's footprint of run config ``cfg`` (None in a dry run on real data, which reads nothing)."""
    if cfg.dry_run and cfg.dataset != "shapes":
        return None
    res = cfg.resolution if cfg.resolution & (cfg.resolution - 1) == 0 else 1 << cfg.resolution.bit_length()
    source = source_of(cfg.dataset, resolution=res, data_dir=cfg.data_dir, size=cfg.dataset_size, seed=cfg.seed,
                       strict=cfg.strict_images, max_images=cfg.max_images)
    image_bytes = 3 * source.resolution ** 2
    folder = Path(cfg.store_dir).expanduser() if cfg.store_dir else None
    prepared = None
    if cfg.dataset == "shapes":
        n = min(cfg.dataset_size, cfg.max_images) if cfg.max_images else cfg.dataset_size
    else:
        folder = folder or default_store_dir(cfg.dataset, cfg.data_dir)
        try:
            prepared = StoreReader(folder / store_name(source))
            n = len(prepared)
        except DataError:
            if cfg.dataset == "cifar10":
                n = 50000
            elif not Path(cfg.data_dir).expanduser().is_dir():
                return None  # the path check reports it
            else:
                n = _count_images(Path(cfg.data_dir).expanduser())
            n = min(n, cfg.max_images) if cfg.max_images else n
    total = n * image_bytes
    in_memory = cfg.data_in_memory == "yes" or (cfg.data_in_memory == "auto" and total <= in_memory_limit())
    batch = getattr(cfg, "batch_size", 64)
    # Streamed: the minibatch being trained and the one the readers prefetch, in pinned memory.
    host = total if in_memory else 2 * batch * image_bytes
    rendered = cfg.dataset == "shapes" and in_memory
    disk = 0 if prepared is not None or rendered else total
    return DataFootprint(images=n, image_bytes=image_bytes, in_memory=in_memory, host_bytes=host, disk_bytes=disk,
                         store_dir=None if rendered else (folder or default_store_dir("shapes", None)))
