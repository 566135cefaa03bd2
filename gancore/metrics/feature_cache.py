"""gancore's cache of real-set features, in a format that cannot run code (``.npz``, ``allow_pickle=False``).

torch-fidelity's own cache stores pickles and loads them with ``weights_only=False``: a file planted in the cache
folder ran a shell command on the next training run. gancore therefore never turns torch-fidelity's cache on. It
extracts the real set's features itself (with torch-fidelity's extractors) and keeps them here, keyed by

- the real set (the caller's key: dataset, its source, resolution and sample count),
- the feature network (its registry name and the identity of its weights file).

Entries are written atomically (temp file + ``os.replace``), and an unreadable entry is recomputed with a warning.
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gancore.checkpoint import atomic_write_bytes

__all__ = ["FeatureCache", "weights_identity"]

_FORMAT = "gancore.feature-cache/1"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def weights_identity(path: str | Path) -> str:
    """A short id of a weights file (resolved path, size, modification time): a new file is a new network."""
    p = Path(path).expanduser().resolve()
    st = p.stat()
    return hashlib.sha1(f"{p}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:10]


class FeatureCache:
    """Feature tensors of real sets, one ``.npz`` per (real set, feature network)."""

    def __init__(self, *, folder: str | Path) -> None:
        """
        Args:
            folder: where the entries live (shared by every run under one parent folder).
        """
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        return self.folder / f"{_SAFE_NAME.sub('_', key)}.npz"

    def get(self, key: str, layers: list[str]) -> dict[str, Tensor] | None:
        """The cached features of ``layers`` for ``key``, or None when missing, incomplete or unreadable."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as npz:
                meta = json.loads(str(npz["__meta__"]))
                if meta.get("format") != _FORMAT or meta.get("key") != key:
                    raise ValueError(f"not a {_FORMAT} entry for {key!r}")
                if not all(f"layer:{name}" in npz.files for name in layers):
                    return None  # cached for other metrics; recomputed with the union of layers
                return {name: torch.from_numpy(npz[f"layer:{name}"].copy()) for name in layers}
        except Exception as err:  # noqa: BLE001 - zip, npy, JSON and pickle refusals all mean "recompute"
            reason = (str(err).splitlines() or [""])[0].split(". ")[0]  # numpy goes on to advise loading unsafely
            warnings.warn(f"recomputing unreadable feature cache entry {path} ({type(err).__name__}: {reason})",
                          stacklevel=3)
            return None

    def put(self, key: str, features: dict[str, Tensor]) -> None:
        """Store ``features`` (layer name → N×D tensor) under ``key``, merged with layers already cached."""
        arrays = {f"layer:{k}": v.detach().cpu().numpy() for k, v in features.items()}
        path = self.path(key)
        if path.is_file():
            try:
                with np.load(path, allow_pickle=False) as old:
                    arrays = {**{k: old[k] for k in old.files if k.startswith("layer:")}, **arrays}
            except Exception:  # noqa: BLE001 - an unreadable old entry is simply replaced
                pass
        arrays["__meta__"] = np.array(json.dumps({"format": _FORMAT, "key": key}))
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(path, buf.getvalue())
