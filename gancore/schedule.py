"""Training phases as data: growth stages, fade-in α and per-resolution minibatch size (ProGAN §2, App. A.1).

A schedule is a list of :class:`Phase` records in units of real images shown to D (``nimg``). The loop asks
``schedule.at(nimg)`` for the phase and α, so resuming at any image count restores the stage and α exactly
without storing them separately (they are also written to checkpoints for inspection).
"""
from __future__ import annotations

from dataclasses import dataclass, asdict
from typing import Literal, Mapping, Sequence


@dataclass(frozen=True)
class Phase:
    """One stretch of training at a fixed network resolution."""

    index: int
    name: str  # e.g. "stab4", "fade8", "train32"
    resolution: int  # network output/input resolution during the phase
    kind: Literal["stabilize", "fade", "train"]
    start_nimg: int
    end_nimg: int | None  # None: open-ended (the last phase runs until total_kimg)
    batch_size: int

    def alpha(self, nimg: int) -> float:
        """Fade-in weight of the newest block: rises linearly 0→1 over a fade phase, else 1 (ProGAN Fig. 2)."""
        if self.kind != "fade":
            return 1.0
        assert self.end_nimg is not None
        return min(1.0, max(0.0, (nimg - self.start_nimg) / max(1, self.end_nimg - self.start_nimg)))

    def to_dict(self) -> dict:
        return asdict(self)


class Schedule:
    """Ordered phases plus the schedule's natural length (where training stops when total_kimg is 0)."""

    def __init__(self, phases: Sequence[Phase], *, natural_end_nimg: int):
        if not phases:
            raise ValueError("a schedule needs at least one phase")
        self.phases = list(phases)
        self.natural_end_nimg = int(natural_end_nimg)

    def at(self, nimg: int) -> tuple[Phase, float]:
        for ph in self.phases:
            if ph.end_nimg is None or nimg < ph.end_nimg:
                return ph, ph.alpha(nimg)
        last = self.phases[-1]
        return last, last.alpha(nimg)

    def growth_points_kimg(self) -> list[float]:
        """kimg at which a new resolution starts fading in (the dashed lines of ProGAN Fig. 4b)."""
        return [p.start_nimg / 1000 for p in self.phases if p.kind == "fade"]

    def to_list(self) -> list[dict]:
        return [p.to_dict() for p in self.phases]


def batch_size_for(resolution: int, batch_sizes: Mapping[int, int], default: int) -> int:
    return int(batch_sizes.get(resolution, default))


def progressive_schedule(*, start_resolution: int, resolution: int, stabilize_kimg: float, fade_kimg: float,
                         batch_sizes: Mapping[int, int], default_batch: int,
                         first_stabilize_kimg: float | None = None) -> Schedule:
    """ProGAN App. A.1: train at the start resolution, then alternate fade-in and stabilization per doubling.

    The last stabilization phase is open-ended, so ``total_kimg`` beyond the schedule trains longer at the top.
    """
    if start_resolution > resolution:
        raise ValueError(f"start_resolution={start_resolution} exceeds resolution={resolution}")
    phases: list[Phase] = []
    nimg = 0
    res = start_resolution
    first = stabilize_kimg if first_stabilize_kimg is None else first_stabilize_kimg

    def add(name: str, r: int, kind, kimg: float, open_ended: bool = False) -> None:
        nonlocal nimg
        length = int(round(kimg * 1000))
        end = None if open_ended else nimg + length
        phases.append(Phase(len(phases), name, r, kind, nimg, end, batch_size_for(r, batch_sizes, default_batch)))
        nimg += length

    add(f"stab{res}", res, "stabilize", first, open_ended=res == resolution)
    while res < resolution:
        res *= 2
        add(f"fade{res}", res, "fade", fade_kimg)
        add(f"stab{res}", res, "stabilize", stabilize_kimg, open_ended=res == resolution)
    # The open-ended last phase still counts its nominal length towards the schedule's natural end.
    last = phases[-1]
    natural_end = last.start_nimg + int(round((first if len(phases) == 1 else stabilize_kimg) * 1000))
    return Schedule(phases, natural_end_nimg=natural_end)


def fixed_schedule(*, resolution: int, batch_size: int, kimg: float) -> Schedule:
    """Non-progressive training (ProGAN Table 1 row a): one open-ended phase at the final resolution."""
    phase = Phase(0, f"train{resolution}", resolution, "train", 0, None, batch_size)
    return Schedule([phase], natural_end_nimg=int(round(kimg * 1000)))


def schedule_curve(schedule: Schedule, *, total_nimg: int | None = None, points: int = 400) -> list[dict]:
    """(kimg, resolution, alpha, phase) samples of the schedule, for plotting the α ramp of Fig. 2."""
    end = total_nimg or schedule.natural_end_nimg
    rows = []
    for i in range(points + 1):
        nimg = int(end * i / points)
        phase, alpha = schedule.at(nimg)
        rows.append({"kimg": nimg / 1000, "resolution": phase.resolution, "alpha": alpha, "phase": phase.name})
    return rows
