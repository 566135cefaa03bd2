"""How long a notebook's training will take on *this* machine, said before it starts.

The reduced presets were sized on one CPU; on another (no bf16 units, fewer cores, a busy machine) the same
notebook can take several times longer. Rather than a fixed number, the estimate is measured: a few training steps
of the run's own networks at every resolution its schedule visits (synthetic reals, so nothing is read), then
images per resolution ÷ images per second. It covers training only; evaluation (FID/SWD sweeps, standing
statistics) comes on top, and the progress bars show the live ETA.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

import torch

from gancore.schedule import Schedule

__all__ = ["Estimate", "images_by_resolution", "measure_img_per_s", "seconds", "thread_policy"]


@contextlib.contextmanager
def thread_policy(cfg: Any, device: torch.device):
    """Measure with the thread count the run will train with: ``num_threads`` when set, else what the
    :class:`~gancore.threads.ThreadGovernor` picks for the current load; torch's count is restored after."""
    from gancore.threads import ThreadGovernor

    before = torch.get_num_threads()
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    governor = ThreadGovernor(enabled=device.type == "cpu" and not cfg.num_threads)
    governor.start()
    try:
        yield
    finally:
        governor.stop()
        torch.set_num_threads(before)


def images_by_resolution(schedule: Schedule, total_nimg: int) -> dict[int, int]:
    """Real images shown to D at each resolution when training ``schedule`` to ``total_nimg``."""
    out: dict[int, int] = {}
    for ph in schedule.phases:
        end = total_nimg if ph.end_nimg is None else min(ph.end_nimg, total_nimg)
        if end > ph.start_nimg:
            out[ph.resolution] = out.get(ph.resolution, 0) + end - ph.start_nimg
    return out


def measure_img_per_s(method: Any, points: dict[int, int], *, num_classes: int = 0, steps: int = 2,
                      warmup: int = 1, device: torch.device | str = "cpu") -> dict[int, float]:
    """Training images per second of ``method.train_step`` at each resolution of ``points`` ({resolution: image
    count to step at}, e.g. :meth:`gancore.growth.Growth.measure_points`: mid-fade, the slower kind), on synthetic
    reals (nothing is read)."""
    gen = torch.Generator().manual_seed(0)
    rates = {}
    for res, nimg in sorted(points.items()):
        made: dict[tuple[int, int], tuple] = {}

        def reals(n: int, *, resolution: int | None = None) -> tuple:
            r = resolution or res
            if (n, r) not in made:
                labels = (torch.randint(max(1, num_classes), (n,), generator=gen) if num_classes
                          else torch.zeros(n, dtype=torch.long))
                made[n, r] = (torch.rand(n, 3, r, r, generator=gen).mul(2).sub(1).to(device), labels.to(device))
            return made[n, r]

        for _ in range(warmup):
            method.train_step(nimg, reals, gen)
        t0, n = time.perf_counter(), 0
        for _ in range(steps):
            n += method.train_step(nimg, reals, gen)[1]
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize()
        rates[res] = n / max(1e-9, time.perf_counter() - t0)
    return rates


def seconds(images: dict[int, int], img_per_s: dict[int, float]) -> float:
    """Training seconds for ``images`` per resolution at the measured rates."""
    return sum(n / img_per_s[res] for res, n in images.items())


@dataclass
class Estimate:
    """Seconds of training per part of a notebook, from ``img_per_s`` measured at each resolution here."""

    parts: dict[str, float]
    img_per_s: dict[int, float]
    threads: int

    @property
    def total(self) -> float:
        return sum(self.parts.values())

    @property
    def text(self) -> str:
        """One line: the total and its parts in minutes, and the measured rate at the top resolution."""
        top = max(self.img_per_s)
        detail = ", ".join(f"{name} {s / 60:.1f}" for name, s in self.parts.items() if s > 0)
        return (f"estimated training time on this machine: {self.total / 60:.1f} min ({detail}), measured at "
                f"{self.img_per_s[top]:.0f} img/s at {top}² with {self.threads} CPU thread"
                f"{'s' if self.threads > 1 else ''}; evaluation adds to it, and the progress bars show the live ETA")


def worth_estimating(cfg: Any) -> bool:
    """Whether a notebook should measure an estimate before training: not for a dry run, not for a run folder
    that already holds a finished run (it resumes as complete), and not at full scale without CUDA (a few steps of
    the paper's networks on a CPU take minutes themselves)."""
    import json
    from pathlib import Path

    if cfg.dry_run or (cfg.scale == "full" and not torch.cuda.is_available()):
        return False
    summary = Path(cfg.out_dir, "summary.json")
    try:
        return json.loads(summary.read_text()).get("status") != "complete"
    except (OSError, ValueError):
        return True
