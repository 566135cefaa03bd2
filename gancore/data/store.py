"""Prepared data sets on disk: decode once, then stream (a data set need not fit in memory).

A store is a folder ``<kind>-<resolution>-<hash>/`` holding

* ``images.npy``: uint8 N×3×R×R, one row per source item in source order (a row whose file could not be decoded
  stays zero and is left out), read by memory map or ``pread`` without loading the whole array;
* ``labels.npy``: int64 N; ``valid.npy``: int64, the rows that decoded (the data set's items, in order);
* ``meta.json``: the format, the source (kind, path, fingerprint of every file's path, size and mtime), the decode
  settings, the class names, the counts and the files that were skipped.

:func:`prepare_store` writes it into ``<name>.partial/`` in parallel worker processes (PIL decoding holds the GIL),
with a progress bar and an ETA, and renames the folder when it is complete: a store either is complete or is not
there. A killed prepare continues where it stopped (each finished chunk is flushed and marked). A store whose source
changed since (files added, removed or edited) is prepared again, or refused (``on_changed="refuse"``); one that is
truncated is refused with the file at fault. One process prepares a store at a time (a file lock), so the ranks of
a torchrun job or the workers of a search wait for it and then share it.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from gancore.errors import DataError

__all__ = ["STORE_FORMAT", "Source", "StoreReader", "prepare_store", "store_name"]

STORE_FORMAT = "gancore-store/1"
DECODE = {"crop": "centre square", "resize": "PIL Lanczos", "alpha": "over black", "wide_int": "scaled to 8 bits",
          "layout": "N×3×R×R uint8"}
_NAMED = 3  # unreadable files named in the warning


@dataclass
class Source:
    """What a store holds: ``kind`` (folder, cifar10, shapes), where it comes from and how it is decoded."""

    kind: str
    resolution: int
    root: str = ""  # folder or CIFAR-10 root ("" for shapes)
    max_images: int = 0  # 0: all; else this many, evenly spaced over the source (each class keeps its share)
    strict: bool = False  # an unreadable image is an error instead of a skipped file
    layout: str = "auto"  # image folders: auto, flat or classes
    seed: int = 0  # shapes
    size: int = 0  # shapes: images rendered

    def identity(self) -> dict[str, Any]:
        """What names the store (the files' contents are the fingerprint's business, not the name's)."""
        out = asdict(self)
        out["root"] = str(Path(self.root).expanduser().resolve()) if self.root else ""
        return out


@dataclass
class Plan:
    """The items a store will hold: files (or None for rendered data), labels, class names, fingerprint."""

    files: list[Path] | None
    labels: list[int]
    class_names: list[str]
    fingerprint: str
    count: int = field(init=False)

    def __post_init__(self) -> None:
        self.count = len(self.labels)


def store_name(source: Source) -> str:
    digest = hashlib.sha256(json.dumps(source.identity(), sort_keys=True).encode()).hexdigest()[:16]
    return f"{source.kind}-{source.resolution}-{digest}"


def _fingerprint(rows: Any) -> str:
    return hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()


def plan(source: Source) -> Plan:
    """Scan the source (no decoding): the items, in order, and a fingerprint that changes with any file."""
    from gancore.data.cache import file_fingerprint
    from gancore.data.folder import _evenly_spaced, check_folder_resolution, scan_image_folder

    if source.kind == "shapes":
        from gancore.data.shapes import SHAPE_CLASSES, check_resolution

        check_resolution(source.resolution)
        n = min(source.size, source.max_images) if source.max_images else source.size
        return Plan(None, [0] * n, list(SHAPE_CLASSES), _fingerprint(["shapes", source.seed, n, source.resolution]))
    if source.kind == "cifar10":
        from gancore.data.cifar import cifar10_files, load_cifar10

        files = cifar10_files(source.root, train=True)
        total = len(load_cifar10(source.root, train=True)[1])  # also says where to put missing files
        n = min(total, source.max_images) if source.max_images else total
        return Plan(None, [0] * n, [], _fingerprint(file_fingerprint(files, source.root)))
    if source.kind != "folder":
        raise DataError(f"unknown data kind {source.kind!r}; a store holds folder, cifar10 or shapes data")
    check_folder_resolution(source.resolution)
    files, labels, names = scan_image_folder(source.root, layout=source.layout)
    if source.max_images and source.max_images < len(files):
        keep = _evenly_spaced(len(files), source.max_images)
        files, labels = [files[i] for i in keep], [labels[i] for i in keep]
    return Plan(files, labels, names, _fingerprint({"files": file_fingerprint(files, source.root),
                                                    "strict": source.strict}))


# ---------------------------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (waits): one process prepares a store, the others then find it complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - Windows: no lock (one preparing process at a time is then on you)
            pass
        yield


def _read_meta(folder: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get("format") == STORE_FORMAT else None


def _write_json(path: Path, data: dict) -> None:
    from gancore.checkpoint import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=1, default=str) + "\n")


def prepare_store(source: Source, parent: str | Path, *, workers: int = 0, progress: bool = True,
                  on_changed: str = "rebuild") -> Path:
    """The complete store of ``source`` under ``parent`` (prepared, continued or checked), as a folder path.

    ``workers`` decoding processes (0: decode in this process); ``on_changed``: "rebuild" or "refuse" a store whose
    source changed since it was prepared."""
    parent = Path(parent).expanduser()
    name = store_name(source)
    final, partial = parent / name, parent / f"{name}.partial"
    with _locked(parent / f".{name}.lock"):
        items = plan(source)
        meta = _read_meta(final)
        if meta is not None and meta.get("complete") and meta.get("fingerprint") == items.fingerprint:
            try:
                StoreReader(final)
                return final
            except DataError as err:  # truncated or damaged: the source is still there, so prepare it again
                warnings.warn(f"{err}; preparing it again", stacklevel=3)
                shutil.rmtree(final)
                meta = None
        if meta is not None:
            what = (f"{final} was prepared from {meta.get('source_count')} items of {source.root or source.kind}; "
                    f"the source now has {items.count}" if meta.get("source_count") != items.count else
                    f"files under {source.root} were added, removed or edited since {final} was prepared")
            if on_changed == "refuse":
                raise DataError(f"{what}: the store no longer matches its source. Delete it (or pass "
                                "data_changed=rebuild) to prepare it again, or point data_dir at the original files")
            warnings.warn(f"{what}; preparing the store again", stacklevel=3)
            shutil.rmtree(final)
        elif final.exists():
            warnings.warn(f"{final} is not a complete store (no readable meta.json); preparing it again", stacklevel=3)
            shutil.rmtree(final)
        _fill(source, items, partial, workers=workers, progress=progress)
        os.replace(partial, final)
        return final


def _start(source: Source, items: Plan, partial: Path) -> dict[str, Any]:
    """A fresh or continued partial store: its meta (a partial store of another fingerprint starts over)."""
    meta = _read_meta(partial)
    if meta is not None and meta.get("fingerprint") == items.fingerprint and (partial / "status.npy").is_file():
        return meta
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    res = source.resolution if source.kind != "cifar10" else 32  # CIFAR-10 is stored as it is; levels are pooled
    np.lib.format.open_memmap(partial / "images.npy", mode="w+", dtype=np.uint8, shape=(items.count, 3, res, res))
    np.save(partial / "labels.npy", np.asarray(items.labels, dtype=np.int64))
    np.save(partial / "status.npy", np.zeros(items.count, dtype=np.uint8))
    meta = {"format": STORE_FORMAT, "complete": False, "kind": source.kind, "source": source.identity(),
            "fingerprint": items.fingerprint, "source_count": items.count, "resolution": res,
            "decode": DECODE, "class_names": items.class_names, "created": time.strftime("%Y-%m-%d %H:%M:%S")}
    _write_json(partial / "meta.json", meta)
    return meta


def _chunks(pending: np.ndarray, size: int) -> list[np.ndarray]:
    return [pending[i:i + size] for i in range(0, len(pending), size)]


def _fill(source: Source, items: Plan, partial: Path, *, workers: int, progress: bool) -> None:
    from tqdm.auto import tqdm

    meta = _start(source, items, partial)
    status = np.load(partial / "status.npy", mmap_mode="r+")
    pending = np.flatnonzero(status == 0)
    workers = workers if len(pending) >= 256 else 0  # starting processes costs more than a few images
    # Chunks small enough for a live ETA and even work; CIFAR-10 is one array, read once.
    if source.kind == "cifar10":
        size = max(1, len(pending))
    else:
        size = max(16, min(256, len(pending) // (8 * max(1, workers))))
    jobs = [(str(partial), source, rows, [str(items.files[r]) for r in rows] if items.files else None)
            for rows in _chunks(pending, size)]
    failed: list[str] = []
    small: list[str] = []
    with tqdm(total=items.count, initial=items.count - len(pending), unit="img", disable=not progress,
              desc=f"preparing {source.kind} at {meta['resolution']}²", mininterval=1.0) as bar:
        for results in _run(jobs, workers):
            for row, code, side, error in results:
                status[row] = code
                if code == 2:
                    if source.strict:
                        raise DataError(f"cannot decode image {items.files[row]}: {error}")
                    failed.append(f"{items.files[row]} ({error})")
                elif side and 2 * side <= source.resolution:
                    small.append(f"{Path(items.files[row]).name} ({side} px)")
            status.flush()  # the chunk is done: a killed prepare does not decode it again
            bar.update(len(results))
    _finish(partial, status, meta, failed, small, source)


def _run(jobs: list[tuple], workers: int):
    """Each job's results, in this process or in ``workers`` spawned processes (PIL decoding holds the GIL)."""
    if workers <= 0 or len(jobs) <= 1:
        for job in jobs:
            yield _decode_job(job)
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        for future in as_completed([pool.submit(_decode_job, job) for job in jobs]):
            yield future.result()


def _decode_job(job: tuple) -> list[tuple[int, int, int, str | None]]:
    """Decode (or render) the rows of one chunk straight into the store; (row, 1 ok / 2 unreadable, side, error)."""
    folder, source, rows, paths = job
    images = np.load(Path(folder) / "images.npy", mmap_mode="r+")
    out: list[tuple[int, int, int, str | None]] = []
    if source.kind == "shapes":
        from gancore.data.shapes import render_shapes

        stored = np.load(Path(folder) / "labels.npy", mmap_mode="r+")
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1  # a continued prepare's pending rows may have gaps
        for run in np.split(rows, breaks):
            first = int(run[0])
            imgs, labels = render_shapes(len(run), resolution=source.resolution, seed=source.seed, start=first)
            images[first:first + len(run)] = imgs.numpy()
            stored[first:first + len(run)] = labels.numpy()
        stored.flush()
        out = [(int(r), 1, 0, None) for r in rows]
    elif source.kind == "cifar10":
        from gancore.data.cifar import load_cifar10
        from gancore.data.folder import _evenly_spaced

        imgs, labels, _ = load_cifar10(source.root, train=True)
        keep = _evenly_spaced(len(imgs), len(np.load(Path(folder) / "labels.npy", mmap_mode="r")))
        images[rows] = imgs[keep][rows].numpy()
        stored = np.load(Path(folder) / "labels.npy", mmap_mode="r+")
        stored[rows] = labels[keep][rows].numpy()
        stored.flush()
        out = [(int(r), 1, 0, None) for r in rows]
    else:
        from gancore.data.folder import _try_decode

        for row, path in zip(rows, paths):
            result = _try_decode(Path(path), source.resolution)
            if isinstance(result, Exception):
                out.append((int(row), 2, 0, f"{type(result).__name__}: {result}"))
            else:
                images[row] = result[0].transpose(2, 0, 1)
                out.append((int(row), 1, int(result[1]), None))
    images.flush()
    return out


def _finish(partial: Path, status: np.ndarray, meta: dict, failed: list[str], small: list[str],
            source: Source) -> None:
    valid = np.flatnonzero(status == 1).astype(np.int64)
    if not len(valid):
        raise DataError(f"none of the {len(status)} images of {source.root or source.kind} could be decoded "
                        f"(first: {failed[0] if failed else '?'})")
    if failed:
        more = f" and {len(failed) - _NAMED} more" if len(failed) > _NAMED else ""
        warnings.warn(f"skipped {len(failed)} unreadable image file(s) under {source.root}: "
                      f"{', '.join(failed[:_NAMED])}{more} (pass strict_images=True to fail instead)", stacklevel=4)
    if small:
        warnings.warn(f"{len(small)} of {len(valid)} images under {source.root} are at most half the training "
                      f"resolution {source.resolution} and were upscaled, so they will look blurry: "
                      f"{', '.join(small[:_NAMED])}", stacklevel=4)
    np.save(partial / "valid.npy", valid)
    del status
    (partial / "status.npy").unlink()
    if meta["kind"] == "cifar10":
        from gancore.data.cifar import load_cifar10

        meta["class_names"] = load_cifar10(source.root, train=True)[2]
    _write_json(partial / "meta.json", {**meta, "complete": True, "count": int(len(valid)),
                                        "skipped": failed[:100], "skipped_count": len(failed)})


# ---------------------------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------------------------
class StoreReader:
    """A complete store, checked (format, counts, file sizes), read row by row without loading it whole."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        meta = _read_meta(self.folder)
        if meta is None or not meta.get("complete"):
            raise DataError(f"{self.folder} is not a complete gancore data store (no readable meta.json); prepare "
                            "it with `python -m gancore.data prepare …` or let the run prepare it")
        self.meta = meta
        path = self.folder / "images.npy"
        try:
            with open(path, "rb") as f:
                version = np.lib.format.read_magic(f)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, fortran, dtype = read_header(f)
                self.offset = f.tell()
            labels = np.load(self.folder / "labels.npy")
            self.valid = np.load(self.folder / "valid.npy")
        except (OSError, ValueError, EOFError) as err:
            raise DataError(f"data store {self.folder} is unreadable ({err}); delete it so it is prepared again") \
                from None
        self.shape = tuple(shape)
        self.row_bytes = int(np.prod(self.shape[1:]))
        expected = self.offset + self.shape[0] * self.row_bytes
        size = path.stat().st_size
        if dtype != np.uint8 or fortran or len(self.shape) != 4 or size != expected or len(labels) != self.shape[0]:
            raise DataError(f"data store {self.folder} is truncated or damaged (images.npy holds {size:,} bytes, "
                            f"{expected:,} expected); delete it so it is prepared again")
        if len(self.valid) != meta.get("count") or (len(self.valid) and self.valid.max() >= self.shape[0]):
            raise DataError(f"data store {self.folder}: valid.npy does not match meta.json; delete the store")
        self.labels = labels[self.valid]
        self.resolution = self.shape[-1]
        self._fd: int | None = None

    def __len__(self) -> int:
        return len(self.valid)

    @property
    def nbytes(self) -> int:
        return len(self.valid) * self.row_bytes

    def rows(self, idx: np.ndarray) -> np.ndarray:
        return self.valid[idx]

    def read_into(self, idx: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Items ``idx`` into ``out`` (uint8 n×3×R×R), one ``pread`` per image (it releases the GIL, so reader
        threads overlap with training)."""
        if self._fd is None:
            self._fd = os.open(self.folder / "images.npy", os.O_RDONLY)
        for k, row in enumerate(self.valid[idx]):
            view = memoryview(out[k].reshape(-1))
            got = os.preadv(self._fd, [view], self.offset + int(row) * self.row_bytes) if hasattr(os, "preadv") \
                else _pread_into(self._fd, view, self.offset + int(row) * self.row_bytes)
            if got != self.row_bytes:
                raise DataError(f"data store {self.folder}: short read of row {row}; the store is damaged")
        return out

    def memmap(self) -> np.ndarray:
        """The whole image array as a copy-on-write memory map (pages are read when touched)."""
        return np.load(self.folder / "images.npy", mmap_mode="c")

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_fd": None}  # a file descriptor does not travel to another process

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)


def _pread_into(fd: int, view: memoryview, offset: int) -> int:  # pragma: no cover - platforms without preadv
    data = os.pread(fd, len(view), offset)
    view[:len(data)] = data
    return len(data)
