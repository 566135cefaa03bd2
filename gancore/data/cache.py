"""uint8 multi-resolution image pyramid (in memory and on disk), and the source files' fingerprint.

ProGAN §2 / Fig. 2 trains at 4×4 first and doubles the resolution; the discriminator sees real
images "downsampled to match the current resolution of the network" by 2×2 average pooling.
:class:`MultiResCache` precomputes every level at once. Training no longer stores it (the loader pools each batch's
levels on the device, :mod:`gancore.data.levels`, bit for bit the same); it remains the reference those levels
are tested against, and a way to keep a small set's pyramid.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["CACHE_FOLDER", "MultiResCache", "downsample", "file_fingerprint"]

CACHE_FOLDER = ".gancore_cache"  # beside the data: its prepared stores (gancore.data.store)
_FORMAT = "gancore.MultiResCache"
_DATASET_FORMAT = "gancore.cached_dataset"
_VERSION = 1
# Images pooled per step: bounds the float32 temporary to ~200 MB even at 1024×1024.
_POOL_CHUNK_PIXELS = 1 << 24


def _check_images(images: Tensor) -> int:
    if not isinstance(images, Tensor) or images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
        desc = f"{tuple(images.shape)} {images.dtype}" if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"images must be a uint8 tensor N×3×R×R, got {desc}")
    res = images.shape[-1]
    if images.shape[-2] != res or res < 4 or res & (res - 1):
        raise ValueError(f"images must be square with a power-of-two side ≥ 4, got {images.shape[-2]}×{res}")
    return res


def _pyramid(images: Tensor, lowest: int = 4) -> dict[int, Tensor]:
    """All levels top..lowest by repeated 2×2 average pooling of the *unrounded* floats.

    Pooling the float chain makes each level equal to the rounded mean over its whole
    (R/r)×(R/r) block; the means of 8-bit integers are exact in float32 up to 1024→4.
    """
    top = images.shape[-1]
    levels: dict[int, Tensor] = {top: images}
    res = top // 2
    while res >= lowest:
        levels[res] = torch.empty(images.shape[0], 3, res, res, dtype=torch.uint8)
        res //= 2
    chunk = max(1, _POOL_CHUNK_PIXELS // (top * top))
    for a in range(0, images.shape[0], chunk):
        x = images[a : a + chunk].float()
        res = top // 2
        while res >= lowest:
            x = F.avg_pool2d(x, 2)
            # round() is round-half-to-even, so ties carry no brightness bias.
            levels[res][a : a + chunk] = x.round().clamp_(0, 255).to(torch.uint8)
            res //= 2
    return levels


def downsample(images: Tensor, resolution: int) -> Tensor:
    """uint8 N×3×R×R → N×3×r×r by repeated 2×2 average pooling (r a power of two ≤ R)."""
    top = _check_images(images)
    valid = [2**k for k in range(2, top.bit_length())]
    if resolution not in valid:
        raise ValueError(f"resolution={resolution!r} is not available; valid values are {valid}")
    if resolution == top:
        return images
    return _pyramid(images, lowest=resolution)[resolution]


class MultiResCache:
    """Every power-of-two resolution 4..R of a uint8 image set, built eagerly (ProGAN §2)."""

    def __init__(self, *, images: Tensor) -> None:
        """
        Args:
            images: uint8 N×3×R×R at the top resolution R (a power of two ≥ 4).
        """
        _check_images(images)
        self._levels = _pyramid(images.contiguous())

    @property
    def resolution(self) -> int:
        """Top (largest) resolution."""
        return max(self._levels)

    @property
    def resolutions(self) -> list[int]:
        """All available resolutions, ascending."""
        return sorted(self._levels)

    def __len__(self) -> int:
        return self._levels[self.resolution].shape[0]

    def at(self, resolution: int) -> Tensor:
        """uint8 N×3×r×r images at ``resolution`` (shared memory, do not modify in place)."""
        level = self._levels.get(resolution) if isinstance(resolution, int) else None
        if level is None:
            raise ValueError(
                f"resolution={resolution!r} is not in the cache; valid values are {self.resolutions}"
            )
        return level

    def up_to(self, resolution: int) -> "MultiResCache":
        """A cache whose top level is ``resolution`` (levels shared, not copied).

        Levels still come from the original top resolution, so they match a cache built there.
        """
        self.at(resolution)  # validates
        cache = MultiResCache.__new__(MultiResCache)
        cache._levels = {r: x for r, x in self._levels.items() if r <= resolution}
        return cache

    def save(self, path: str | Path) -> None:
        """Write all levels atomically (temp file in the same folder + os.replace)."""
        path = Path(path)
        payload = {"format": _FORMAT, "version": _VERSION, "levels": self._levels}
        _atomic_torch_save(payload, path)

    @classmethod
    def load(cls, path: str | Path) -> "MultiResCache":
        """Read a cache written by :meth:`save`; a truncated or foreign file raises ValueError."""
        payload = _torch_load_checked(Path(path), _FORMAT)
        levels = payload.get("levels")
        if not isinstance(levels, dict) or not levels:
            raise ValueError(f"{path} has no image levels; delete it so it is rebuilt")
        for res, images in levels.items():
            if not isinstance(images, Tensor) or images.dtype != torch.uint8 or images.shape[-1] != res:
                raise ValueError(f"{path}: level {res} is malformed; delete the file so it is rebuilt")
        cache = cls.__new__(cls)
        cache._levels = dict(levels)
        return cache


def _atomic_torch_save(payload: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A crash mid-write must never leave a truncated file under the final name.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _torch_load_checked(path: Path, expected_format: str) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"cache file {path} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - zip, pickle and EOF errors all mean "corrupt"
        raise ValueError(
            f"cannot read cache file {path} (truncated or corrupt: {type(err).__name__}: {err}); "
            f"delete it so it is rebuilt"
        ) from err
    if not isinstance(payload, dict) or payload.get("format") != expected_format:
        raise ValueError(f"{path} is not a {expected_format} file; delete it so it is rebuilt")
    if payload.get("version") != _VERSION:
        raise ValueError(
            f"{path} has cache version {payload.get('version')!r}, this gancore reads {_VERSION}; "
            f"delete it so it is rebuilt"
        )
    return payload


def file_fingerprint(paths: list[Path], root: str | Path) -> list[tuple[str, int, int]]:
    """``(relative path, size, mtime_ns)`` per file: changes whenever a file is added, removed or edited."""
    root = Path(root)
    out = []
    for p in paths:
        st = p.stat()
        out.append((str(p.relative_to(root)) if p.is_relative_to(root) else str(p), st.st_size, st.st_mtime_ns))
    return out
