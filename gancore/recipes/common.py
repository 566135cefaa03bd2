"""Pieces every paper recipe shares: building the training data, the dry-run stand-in, summary.json I/O, and the
fidelity-cache key that names a real set exactly."""
from __future__ import annotations

import functools
import hashlib
import json
import warnings
from pathlib import Path
from typing import Any, Callable, TypeVar

import torch
from torch import nn

from gancore import distributed
from gancore.checkpoint import atomic_write_text
from gancore.config import RunConfig
from gancore.runlock import run_folder_lock

_Run = TypeVar("_Run", bound=Callable[..., Any])


def locked_run(fn: _Run) -> _Run:
    """Decorate a recipe's ``run(cfg, ...)``: the machine checks of :func:`gancore.preflight.check` come first (so a
    run that can never work fails before anything is built), then it holds ``cfg.out_dir``'s writer lock
    (:mod:`gancore.runlock`) from the resume check to the last summary write, so a second process on the same
    folder is refused at once."""

    @functools.wraps(fn)
    def wrapper(cfg: RunConfig, *args: Any, **kwargs: Any) -> Any:
        from gancore import preflight

        preflight.check(cfg)
        with run_folder_lock(cfg.out_dir, enabled=distributed.info().is_main):
            return fn(cfg, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class RunAccess:
    """What a finished run offers every notebook: the EMA generator, the run folder and the parsed log.
    Mixed into each recipe's run dataclass (which has ``cfg`` and ``trainer``)."""

    @property
    def G_ema(self) -> nn.Module:
        return self.trainer.ema.module

    @property
    def out_dir(self) -> Path:
        return Path(self.cfg.out_dir)

    def log(self) -> list[dict]:
        from gancore.viz import read_log

        return read_log(self.out_dir / "log.jsonl")


def build_data(cfg: RunConfig, *, resolution: int):
    """The run's training set as an :class:`~gancore.data.ImageData`; a dry run on real data decodes nothing."""
    from gancore.data import build_dataset

    size = min(cfg.dataset_size, 64) if cfg.dry_run else cfg.dataset_size
    if cfg.dry_run and cfg.dataset != "shapes":
        return None
    return build_dataset(cfg.dataset, resolution=resolution, data_dir=cfg.data_dir, size=size,
                         seed=cfg.seed, download=cfg.download, strict=cfg.strict_images)


class NoData:
    """Stands in for real data in a dry run with cifar10/folder: nothing is decoded."""

    labels = torch.zeros(1, dtype=torch.long)

    def __len__(self) -> int:
        return 1


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


def finished_before(previous: dict[str, Any], result: dict[str, Any]) -> bool:
    """Whether ``previous`` (the run folder's summary.json) already holds the final metrics of this run
    (``result`` of :meth:`Trainer.run`): re-executing a finished notebook then reuses them instead of recomputing.
    Not when this session trained (e.g. it retrained past a corrupt checkpoint): its timings are new."""
    return (previous.get("status") == "complete" and previous.get("nimg") == result["nimg"] and "final" in previous
            and not result.get("trained", False))


def update_summary(out_dir: str | Path, **fields: Any) -> dict[str, Any]:
    """Merge fields (e.g. the notebook's claims table) into an existing summary.json."""
    with run_folder_lock(out_dir, enabled=distributed.info().is_main):  # read and write as one step
        summary = read_summary(out_dir)
        summary.update(fields)
        write_summary(out_dir, summary)
    return summary


def claim_config(cfg: RunConfig, *, name: str, ablation_key: str, changes: dict[str, Any]) -> RunConfig:
    """A side-run config of the notebook's claims: the main run's preset plus the *user's* overrides, then
    ``changes`` (an ablation row or switch), in ``out_dir/claims/<name>`` with checkpoints and grids only at exit.

    Only fields the user changed relative to the preset (with the same ``ablation_key`` value, e.g. ProGAN's Table 1
    row) carry over, so the side run's switches are never masked by the main run's values of the same fields.
    """
    from gancore.config import resolve

    cls = type(cfg)
    preset_cfg = resolve(cls, paper=cfg.paper, scale=cfg.scale, preset=cfg.preset,
                         overrides={ablation_key: getattr(cfg, ablation_key), "dry_run": True})
    skip = {"paper", "scale", "preset", ablation_key, "out_dir", "dry_run"}
    user = {k: v for k, v in cfg.to_dict().items() if k not in skip and getattr(preset_cfg, k) != v}
    values = {**user, "out_dir": str(Path(cfg.out_dir) / "claims" / name), "sample_every_kimg": 1e9,
              "ckpt_every_kimg": 1e9, **changes}
    return resolve(cls, paper=cfg.paper, scale=cfg.scale, preset=cfg.preset, overrides=values)


def fidelity_cache_key(cfg: RunConfig, *, resolution: int, n: int) -> str:
    """Cache name of the real-set statistics: dataset, source (folder path or shapes size+seed), resolution, n."""
    source = str(Path(cfg.data_dir).resolve()) if cfg.data_dir else f"size{cfg.dataset_size}-seed{cfg.seed}"
    digest = hashlib.sha1(source.encode()).hexdigest()[:10]
    return f"{cfg.dataset}-{digest}-res{resolution}-n{n}"


def fidelity_cache_dir(cfg: RunConfig) -> Path:
    """Real-set feature cache shared by the runs under one parent folder (gancore's ``.npz`` format, never
    torch-fidelity's pickles; the old ``.fidelity-cache`` folder is not read)."""
    return Path(cfg.out_dir).parent / ".gancore-metrics-cache"
