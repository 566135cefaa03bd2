"""The run folder (DESIGN.md run contract): ``config.json``, ``log.jsonl``, ``checkpoints/``, ``samples/``,
``progress.json`` and ``summary.json``, with one writer at a time (:mod:`gancore.runlock`).

Everything that writes a run folder goes through here: the training loop, the lifecycle's summaries and a search's
event log (DGGAN's search is a run folder too, whose children are run folders). Under torch.distributed only rank 0
writes; the others read.
"""
from __future__ import annotations

import dataclasses
import json
import time
import warnings
from pathlib import Path
from typing import Any, Iterable

from gancore import distributed
from gancore.checkpoint import atomic_write_text
from gancore.config import RunConfig, save_config
from gancore.runlock import run_folder_lock

__all__ = ["HOW_TO_GO_ON", "RunFolder", "config_changes", "finished_before", "read_log", "read_summary",
           "update_summary", "write_summary"]

# What a user can do after a divergence or a refused config change (the config check refuses a resume with another
# learning rate, so "lower the learning rate" alone would lead nowhere).
HOW_TO_GO_ON = ("To go on with a changed config (e.g. a lower learning rate), give it a new out_dir, or keep this "
                "folder with restart=True (notebook: -y 'overrides: {restart: true}'; scripts/train.py: --set "
                "restart=true), which moves the old run into out_dir/previous-<time>/ and starts over from 0 kimg.")


class RunFolder:
    """Paths and writes of one run folder; ``is_main`` is False on the ranks that only read."""

    def __init__(self, out_dir: str | Path, *, is_main: bool | None = None):
        self.out = Path(out_dir)
        self.is_main = distributed.info().is_main if is_main is None else is_main
        self.checkpoints = self.out / "checkpoints"
        self.samples = self.out / "samples"
        self.log_path = self.out / "log.jsonl"

    def lock(self):
        """The folder's writer lock, re-entrant within a process; rank 0 alone takes it."""
        return run_folder_lock(self.out, enabled=self.is_main)

    def create(self) -> None:
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)

    def save_config(self, cfg: RunConfig) -> None:
        if self.is_main:
            save_config(cfg, self.out / "config.json")

    # ---- the log -------------------------------------------------------------------------------------------------
    def append_log(self, record: dict) -> None:
        """One JSON line in ``log.jsonl`` (floats of any numeric type are written as numbers)."""
        if not self.is_main:
            return
        with open(self.log_path, "a") as f:
            f.write(json.dumps(record, default=float) + "\n")

    def truncate_log(self, nimg: int) -> None:
        """Drop log records written after a checkpoint at ``nimg``, so a resumed log has no duplicates."""
        if not self.is_main or not self.log_path.exists():
            return
        keep = []
        for line in self.log_path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut off by a crash
            if rec.get("nimg", 0) <= nimg:
                keep.append(line)
        atomic_write_text(self.log_path, "".join(line + "\n" for line in keep))

    def set_aside_orphan_log(self) -> None:
        """A log with no readable checkpoint beside it (every checkpoint corrupt, or a crash before the first one):
        training starts over from 0, so the old records are moved aside rather than mixed into the new log."""
        if not self.is_main or not self.log_path.exists() or not self.log_path.stat().st_size:
            return
        backup = self.log_path.with_name(f"log-before-restart-{time.strftime('%Y%m%d-%H%M%S')}.jsonl")
        self.log_path.replace(backup)
        warnings.warn(f"{self.out} has a training log but no readable checkpoint, so training starts over from 0 kimg; "
                      f"the old log was moved to {backup.name}", stacklevel=4)

    def write_progress(self, progress: dict) -> None:
        """``progress.json``: where training is and its ETA, for watchers such as ``make demo`` (a notebook's own
        progress bar lives in the kernel, where a terminal cannot see it)."""
        if self.is_main:
            atomic_write_text(self.out / "progress.json", json.dumps({**progress, "updated": time.time()}))

    # ---- restart ---------------------------------------------------------------------------------------------
    def move_aside(self, names: Iterable[str]) -> Path | None:
        """Move the folder's entries ``names`` (those that exist) into ``previous-<time>/``: ``restart=True`` keeps
        the old run instead of deleting it. Returns the new folder (None on the ranks that do not write)."""
        if not self.is_main:
            return None
        aside = self.out / f"previous-{time.strftime('%Y%m%d-%H%M%S')}"
        aside.mkdir()
        for name in names:
            if (self.out / name).exists():
                (self.out / name).replace(aside / name)
        return aside

    # ---- summary.json ----------------------------------------------------------------------------------------
    def read_summary(self) -> dict[str, Any]:
        return read_summary(self.out)

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_summary(self.out, summary)


def read_log(path: str | Path) -> list[dict]:
    """Read a JSONL training log, one dict per line.

    A run killed mid-write can leave a partial last line; that line is dropped. A bad line anywhere else means
    the file is corrupt and raises ValueError with its line number.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"log file {str(path)!r} does not exist")
    lines = path.read_text(encoding="utf-8").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    records: list[dict] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            if number == len(lines):
                break  # truncated final write from a killed run
            raise ValueError(f"{path}: line {number} is not valid JSON ({err.msg})") from err
        if not isinstance(record, dict):
            raise ValueError(f"{path}: line {number} is a {type(record).__name__}, expected a JSON object")
        records.append(record)
    return records


def write_summary(out_dir: str | Path, summary: dict[str, Any]) -> None:
    """Write ``summary.json`` (rank 0 only under torch.distributed: one writer per run folder)."""
    if not distributed.info().is_main:
        return
    with run_folder_lock(out_dir):
        atomic_write_text(Path(out_dir) / "summary.json", json.dumps(summary, indent=2, default=float))


def read_summary(out_dir: str | Path) -> dict[str, Any]:
    """The previous summary.json of a run folder ({} when missing; an unreadable one is recomputed with a warning)."""
    path = Path(out_dir) / "summary.json"
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        warnings.warn(f"{path} is unreadable; final metrics will be recomputed", stacklevel=2)
        return {}


def update_summary(out_dir: str | Path, **fields: Any) -> dict[str, Any]:
    """Merge fields (e.g. the notebook's claims table) into an existing summary.json."""
    with run_folder_lock(out_dir, enabled=distributed.info().is_main):  # read and write as one step
        summary = read_summary(out_dir)
        summary.update(fields)
        write_summary(out_dir, summary)
    return summary


def finished_before(previous: dict[str, Any], result: dict[str, Any]) -> bool:
    """Whether ``previous`` (the run folder's summary.json) already holds the final metrics of this run
    (``result`` of :meth:`Trainer.run`): re-executing a finished notebook then reuses them instead of recomputing.
    Not when this session trained (e.g. it retrained past a corrupt checkpoint): its timings are new."""
    return (previous.get("status") == "complete" and previous.get("nimg") == result["nimg"] and "final" in previous
            and not result.get("trained", False))


def config_changes(saved: dict[str, Any], cfg: RunConfig) -> dict[str, tuple[Any, Any]]:
    """Training-relevant fields whose value differs from a checkpoint's config.

    A field the saved config lacks (added to gancore after that run) counts as its default, so new options with
    defaults never block resuming an older run.
    """
    current = json.loads(json.dumps(cfg.to_dict(), default=str))
    defaults = {f.name: (f.default if f.default is not dataclasses.MISSING else f.default_factory())  # type: ignore[misc]
                for f in dataclasses.fields(cfg)}
    defaults = json.loads(json.dumps(defaults, default=str))
    out = {}
    for key, value in current.items():
        if key in type(cfg).RESUMABLE_CHANGES:
            continue
        old = saved.get(key, defaults.get(key))
        if old != value:
            out[key] = (old, value)
    return out
