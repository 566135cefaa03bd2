"""Atomic checkpoints that prove their integrity, loaded with ``weights_only=True`` (DESIGN.md run contract).

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so ``torch.load(weights_only=True)``
can read it: no pickled classes, which also means a checkpoint from an untrusted source cannot run code.

Integrity: torch's zip container has no checksum over tensor data, so a flipped byte inside a weight loads without a
word. Every checkpoint therefore carries ``digest``, a SHA-256 over its whole content (structure, every tensor's
dtype, shape and bytes), and :func:`load_checkpoint` recomputes it. A mismatch is an unreadable checkpoint, and
:func:`latest_good_checkpoint` falls back to the previous one with a one-line warning naming the file and reason.

Only finite state is written: :func:`nonfinite_tensors` checks every parameter, buffer and optimizer-state tensor
in one fused reduction before a checkpoint is saved, so "the last good checkpoint" is good.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any, Iterable

import torch
from torch import Tensor

from gancore.errors import CheckpointError

__all__ = ["CheckpointError", "atomic_save", "atomic_write_bytes", "atomic_write_text", "checkpoint_path",
           "content_digest", "latest_good_checkpoint", "list_checkpoints", "load_checkpoint", "nonfinite_tensors",
           "prune_checkpoints", "save_checkpoint"]

CKPT_PATTERN = re.compile(r"^ckpt-(\d{9})\.pt$")
DIGEST_KEY = "digest"
_DIGEST_ALGO = "sha256"


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write via a temp file in the same folder and ``os.replace`` so a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temp file, then rename: readers see the old file or the complete new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _short_reason(err: BaseException) -> str:
    """One line saying why torch could not read a file, without torch's advice to load it with
    ``weights_only=False`` (which would run whatever code a crafted file holds)."""
    text = str(err).strip()
    if "Weights only load failed" in text:  # a pickled object that a weights-only load refuses
        # torch words the refused global differently across versions ("WeightsUnpickler error: Unsupported
        # global: GLOBAL x.y", "Trying to load unsupported GLOBAL x.y whose module x is blocked").
        lines = [line.strip() for line in text.splitlines() if "GLOBAL" in line or "WeightsUnpickler" in line]
        detail = lines[0].split("WeightsUnpickler error:")[-1].strip().split(". ")[0].rstrip(".") if lines else ""
        return f"it holds a pickled Python object, which gancore never loads ({detail or 'not plain tensors'})"
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    first = first.split(". ")[0].rstrip(".")  # miniz appends paragraphs of generic advice
    if "weights_only" in first:
        first = ""
    return f"{type(err).__name__}: {first}" if first else type(err).__name__


def load_checkpoint(path: str | Path, *, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load with ``weights_only=True`` and check the digest; any unreadable file raises :class:`CheckpointError`
    whose one-line message names the file and the reason (empty, truncated or corrupt, digest mismatch, foreign)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is unreadable: the file is empty (0 bytes)")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises several types for truncated zips and unpickling errors
        raise CheckpointError(f"checkpoint {path} is unreadable (truncated or corrupt?): {_short_reason(e)}") from None
    if not isinstance(ckpt, dict) or "format" not in ckpt:
        raise CheckpointError(f"{path} is not a gancore checkpoint (no 'format' key)")
    stored = ckpt.pop(DIGEST_KEY, None)
    if stored is None:
        warnings.warn(f"checkpoint {path} has no content digest (written by an older gancore), so its integrity "
                      "cannot be checked", stacklevel=2)
        return ckpt
    actual = content_digest(ckpt)
    if stored != actual:
        raise CheckpointError(f"checkpoint {path} is corrupt: its content digest does not match "
                              f"(stored {str(stored)[:19]}…, computed {actual[:19]}…)")
    return ckpt


def save_checkpoint(payload: dict[str, Any], path: str | Path) -> None:
    """:func:`atomic_save` of ``payload`` with its content digest added (checked by :func:`load_checkpoint`)."""
    if DIGEST_KEY in payload:
        raise ValueError(f"payload must not hold the reserved key {DIGEST_KEY!r}")
    atomic_save({**payload, DIGEST_KEY: content_digest(payload)}, path)


def content_digest(obj: Any) -> str:
    """SHA-256 of a checkpoint's content: the nesting of dicts/lists, every key and scalar, and every tensor's
    dtype, shape and raw bytes. Equal for the dict that was saved and the dict that :func:`torch.load` returns."""
    h = hashlib.new(_DIGEST_ALGO)
    _feed(h, obj)
    return f"{_DIGEST_ALGO}:{h.hexdigest()}"


def _feed(h, obj: Any) -> None:
    if isinstance(obj, Tensor):
        t = obj.detach()
        if t.layout != torch.strided:
            t = t.to_dense()
        t = t.cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}:".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().data)
    elif isinstance(obj, dict):
        h.update(f"D{len(obj)}:".encode())
        # Keys may be ints (optimizer state) or strings; order by type then text so the walk is deterministic.
        for k in sorted(obj, key=lambda k: (type(k).__name__, repr(k))):
            h.update(f"K{k!r}:".encode())
            _feed(h, obj[k])
    elif isinstance(obj, (list, tuple)):
        h.update(f"{'L' if isinstance(obj, list) else 'U'}{len(obj)}:".encode())
        for v in obj:
            _feed(h, v)
    else:  # None, bool, int, float (repr round-trips exactly), str, bytes, torch.dtype/Size
        h.update(f"S{type(obj).__name__}{obj!r};".encode())


def nonfinite_tensors(named: Iterable[tuple[str, Tensor]]) -> list[str]:
    """Names of the floating-point tensors that hold a NaN or Inf.

    One fused multi-tensor reduction per device (``torch._foreach_norm`` with ord=inf, i.e. the largest magnitude,
    which is finite exactly when every element is), then a single host sync: cheap enough to run before every
    checkpoint even for BigGAN's 160M parameters plus Adam state.
    """
    by_device: dict[torch.device, tuple[list[str], list[Tensor]]] = {}
    for name, t in named:
        if isinstance(t, Tensor) and t.is_floating_point() and t.numel():
            names, tensors = by_device.setdefault(t.device, ([], []))
            names.append(name)
            tensors.append(t.detach())
    bad: list[str] = []
    for names, tensors in by_device.values():
        try:
            norms = torch._foreach_norm(tensors, float("inf"))
        except (RuntimeError, AttributeError, TypeError):  # a torch without the fused kernel for these dtypes
            norms = [t.abs().amax() for t in tensors]
        flags = torch.stack([n.float() for n in norms]).isfinite().tolist()
        bad.extend(n for n, ok in zip(names, flags) if not ok)
    return bad


def checkpoint_path(folder: str | Path, nimg: int) -> Path:
    return Path(folder) / f"ckpt-{nimg:09d}.pt"


def list_checkpoints(folder: str | Path) -> list[Path]:
    """Checkpoints in ``folder``, oldest first (ordered by the image count in the name)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := CKPT_PATTERN.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_good_checkpoint(folder: str | Path, *, map_location="cpu") -> tuple[Path, dict[str, Any]] | None:
    """The newest checkpoint that loads and passes its digest; unreadable newer ones are reported (one line each:
    file and reason) and skipped, never deleted."""
    for path in reversed(list_checkpoints(folder)):
        try:
            return path, load_checkpoint(path, map_location=map_location)
        except CheckpointError as e:
            warnings.warn(f"skipping unreadable checkpoint: {e}", stacklevel=2)
    return None


def prune_checkpoints(folder: str | Path, *, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints."""
    paths = list_checkpoints(folder)
    for p in paths[: max(0, len(paths) - max(1, keep))]:
        p.unlink(missing_ok=True)
