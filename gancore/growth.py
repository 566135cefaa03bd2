"""Progressive growing (ProGAN §2, Fig. 2) as a component a growing method plugs in; the loop knows nothing of it.

A :class:`Growth` holds the schedule of phases (:mod:`gancore.schedule`, in real images shown to D) and answers, at
any image count, the phase and the fade-in α of the newest block; what the networks take (their resolution and α);
the reals at the phase's resolution, blended like G's output during a fade-in; and a sample grid at the end of
every phase (a loop hook). ProGAN grows its whole schedule; a DGGAN grow child fades its new block in the same way.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import torch
from torch import Tensor

from gancore.nn import downsample2x, upsample2x
from gancore.schedule import Phase, Schedule

if TYPE_CHECKING:
    from gancore.engine.loop import Trainer

__all__ = ["Growth", "fade_in"]


def fade_in(x: Tensor, alpha: float) -> Tensor:
    """Reals during a fade-in: lerp(upsample(downsample(x)), x, α), so D never sees a sharper image than G can make
    at that point (ProGAN §2, Fig. 2); the images themselves once α = 1."""
    return torch.lerp(upsample2x(downsample2x(x)), x, alpha) if alpha < 1.0 else x


class Growth:
    """Where a growing run stands, from its image count alone (so resume restores the stage and α exactly).

    ``inputs`` names what the networks take besides their input: ProGAN's nets take the ``resolution`` they run at
    and ``alpha``; a DGGAN candidate's nets are built at one resolution and take ``alpha`` only."""

    def __init__(self, *, schedule: Schedule, inputs: tuple[str, ...] = ("resolution", "alpha")):
        self.schedule = schedule
        self.inputs = inputs

    @property
    def length_nimg(self) -> int:
        return self.schedule.natural_end_nimg

    def at(self, nimg: int) -> tuple[Phase, float]:
        return self.schedule.at(nimg)

    def net_kwargs(self, phase: Phase, alpha: float) -> dict[str, Any]:
        values = {"resolution": phase.resolution, "alpha": alpha}
        return {k: values[k] for k in self.inputs}

    def where(self, nimg: int) -> dict[str, Any]:
        return self.describe(*self.at(nimg))

    @staticmethod
    def describe(phase: Phase, alpha: float) -> dict[str, Any]:
        return {"phase": phase.name, "res": phase.resolution, "alpha": round(alpha, 6), "batch": phase.batch_size}

    def reals(self, reals: Callable[..., tuple[Tensor, Tensor]], phase: Phase, alpha: float):
        """``reals`` of the loop, read at the phase's resolution and faded in while α < 1."""
        def read(n: int) -> tuple[Tensor, Tensor]:
            x, labels = reals(n, resolution=phase.resolution)
            return fade_in(x, alpha), labels

        return read

    def phase_end_grids(self, render: Callable[..., Tensor]):
        """A loop hook: when a phase has ended, a grid of the EMA G at that phase's resolution with α = 1 (the
        growth figure's rows); ``render(G, z, **net_kwargs)`` draws it."""
        last: list[int | None] = [None]  # a resumed run starts counting again: no grid for the phase it resumed in

        def before_step(trainer: "Trainer") -> None:
            phase, _ = self.at(trainer.state.nimg)
            if last[0] is not None and phase.index != last[0]:
                trainer.flush_losses()  # a log record never mixes two phases' losses
                ended = self.schedule.phases[last[0]]
                trainer.save_samples(f"end-{ended.name}", where=self.describe(ended, 1.0),
                                     generate=lambda G, z, y: render(G, z, **self.net_kwargs(ended, 1.0)))
            last[0] = phase.index

        return before_step

    def measure_points(self) -> dict[int, int]:
        """For each resolution, an image count in its slowest phase (mid-fade: both paths run) for timing."""
        chosen: dict[int, Phase] = {}
        for ph in self.schedule.phases:
            if ph.resolution not in chosen or ph.kind == "fade":
                chosen[ph.resolution] = ph
        return {res: ph.start_nimg if ph.end_nimg is None else (ph.start_nimg + ph.end_nimg) // 2
                for res, ph in sorted(chosen.items())}
