"""What a resumed DGGAN search must share with the search that wrote ``search_state.json`` (Alg. 1 over run folders).

The search fields of :data:`~gancore.recipes.dggan.config.SEARCH_FIELDS` decide which candidates exist and what they
learn. The data and the feature network decide it too, but by their contents, not by where they are mounted: the
rest of gancore lets ``data_dir`` and ``inception_weights`` change on resume, and so does the search. The data is
named by the fingerprint :mod:`gancore.data.store` already keeps for its prepared stores (every file's relative path,
size and mtime, so a copy that keeps mtimes — ``mv``, ``rsync -a``, ``cp -p`` — keeps it), the Inception weights by
a digest of the file.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from gancore.config import ConfigError

FINGERPRINTS = ("data_fingerprint", "inception_fingerprint")


def data_fingerprint(cfg: Any) -> str:
    """The store's fingerprint of the search's training data (:func:`gancore.data.store.plan`; nothing decoded
    for an image folder, CIFAR-10's batches are read once)."""
    from gancore.data.registry import source_of
    from gancore.data.store import plan

    source = source_of(cfg.dataset, resolution=cfg.resolution, data_dir=cfg.data_dir or None, size=cfg.dataset_size,
                       seed=cfg.seed, strict=cfg.strict_images, max_images=cfg.max_images)
    return plan(source).fingerprint


def weights_fingerprint(path: str | None) -> str | None:
    """A digest of the Inception weights file (None: no weights, the shipped network)."""
    if not path:
        return None
    h = hashlib.sha256()
    with open(Path(path).expanduser(), "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def search_identity(cfg: Any, *, lenient: bool = False) -> dict[str, Any]:
    """The search fields (JSON values) plus the data's and the weights' fingerprints. ``lenient``: a fingerprint
    that cannot be taken yet (data not downloaded, a path on another machine) is None and is not compared."""
    out = jsonable(cfg.search_values())
    for key, fn in (("data_fingerprint", lambda: data_fingerprint(cfg)),
                    ("inception_fingerprint", lambda: weights_fingerprint(cfg.inception_weights)
                     if cfg.extractor == "inception" else None)):
        try:
            out[key] = fn()
        except Exception:  # noqa: BLE001  (missing or unreadable: the run itself reports it with its own error)
            if not lenient:
                raise
            out[key] = None
    return out


def jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(values, default=str))


def changes(saved: dict[str, Any], current: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Fields whose saved and current values differ. A field the saved state lacks (written before it existed) and
    a fingerprint either side could not take are not compared."""
    out = {}
    for k, v in current.items():
        if k not in saved or (k in FINGERPRINTS and (v is None or saved[k] is None)):
            continue
        if saved[k] != v:
            out[k] = (saved[k], v)
    return out


def check_same_search(saved: dict[str, Any], current: dict[str, Any], path: Path) -> None:
    changed = changes(saved, current)
    if changed:
        detail = ", ".join(f"{k}: {old!r} → {new!r}" for k, (old, new) in changed.items())
        why = (" (the data's or the weights' contents changed, not their path: a copy that keeps mtimes keeps the "
               "fingerprint)" if set(changed) & set(FINGERPRINTS) else "")
        raise ConfigError(f"{path} belongs to a search with another config ({detail}){why}. Rerun with the saved "
                          "values to resume it, give this search a new out_dir, or pass restart=True to move the "
                          "old search aside into out_dir/previous-<time>/ and start over")


__all__ = ["FINGERPRINTS", "changes", "check_same_search", "data_fingerprint", "search_identity",
           "weights_fingerprint"]
