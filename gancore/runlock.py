"""One writer per run folder: an exclusive OS file lock on ``out_dir/.lock`` (DESIGN.md run contract).

Two processes on one ``out_dir`` (the same command twice, or two seeds sharing a folder) would interleave their
``log.jsonl`` records, overwrite each other's checkpoints and both report "complete". Every code path that writes a
run folder (the recipes' ``run``, :class:`~gancore.engine.Trainer`, ``summary.json`` updates) therefore holds this
lock while it writes. It is an ``flock`` on an open file, so the kernel releases it when the process dies, even by
``kill -9``: a lock is never stale. The lock file records the holder's PID, host, start time and command line, so
the refused process can say who holds the folder.

The lock is re-entrant within a process (a notebook re-running a cell, a recipe calling the Trainer), and under
torch.distributed only rank 0 takes it (every rank legitimately shares the folder; rank 0 alone writes).

Taking the lock also removes what an interrupted atomic write left behind (``checkpoints/.ckpt-*.tmp``,
``.summary.json.*.tmp``, ...): while we hold the lock no other process can be writing those files.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Iterator

from gancore.errors import RunFolderLocked

try:  # POSIX (Linux, macOS); Windows gets msvcrt's byte-range lock instead
    import fcntl
except ImportError:  # pragma: no cover - not on the CI machines
    fcntl = None  # type: ignore[assignment]
    import msvcrt

LOCK_NAME = ".lock"
_TMP_PATTERNS = ("checkpoints/.ckpt-*.tmp", ".*.tmp")

_held: dict[str, list] = {}  # resolved folder -> [open lock file, depth]
_mutex = threading.Lock()


def _try_lock(handle) -> bool:
    try:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:  # pragma: no cover
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        return True
    except OSError:
        return False


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info.get("pid"):
        return "a process that has not written its PID yet"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("since", 0)))
    return f"PID {info['pid']} on {info.get('host', '?')} since {since} ({info.get('argv', '?')})"


def _remove_leftovers(folder: Path) -> None:
    """Temp files of writes that were killed midway; nobody else can be writing them while we hold the lock."""
    removed = []
    for pattern in _TMP_PATTERNS:
        for tmp in folder.glob(pattern):
            with contextlib.suppress(OSError):
                tmp.unlink()
                removed.append(tmp.name)
    if removed:
        warnings.warn(f"{folder}: removed {len(removed)} temp file(s) left by an interrupted write "
                      f"({', '.join(removed[:3])}{' …' if len(removed) > 3 else ''})", stacklevel=4)


def acquire(folder: str | Path) -> None:
    """Take (or re-enter) the lock of ``folder``; raise :class:`RunFolderLocked` naming the holder if it is taken."""
    folder = Path(folder).expanduser().resolve()
    key = str(folder)
    with _mutex:
        if key in _held:
            _held[key][1] += 1
            return
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / LOCK_NAME
        handle = open(path, "a+")
        if not _try_lock(handle):
            handle.close()
            raise RunFolderLocked(
                f"run folder {folder} is in use by {_holder(path)}. Two writers would interleave its log and "
                "overwrite each other's checkpoints: wait for that run to finish (or stop it), or give this run "
                "another out_dir.")
        # Holding the lock now: record who we are for the next process that is refused.
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time(),
                                 "argv": " ".join(sys.argv)[:300]}))
        handle.flush()
        _held[key] = [handle, 1]
        _remove_leftovers(folder)


def release(folder: str | Path) -> None:
    key = str(Path(folder).expanduser().resolve())
    with _mutex:
        entry = _held.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del _held[key]
            entry[0].close()  # closing the file drops the flock


def is_held(folder: str | Path) -> bool:
    """Whether this process holds the lock of ``folder``."""
    return str(Path(folder).expanduser().resolve()) in _held


@contextlib.contextmanager
def run_folder_lock(folder: str | Path, *, enabled: bool = True) -> Iterator[None]:
    """Hold the run-folder lock for the ``with`` body (``enabled=False``: a no-op, e.g. on ranks other than 0)."""
    if not enabled:
        yield
        return
    acquire(folder)
    try:
        yield
    finally:
        release(folder)
