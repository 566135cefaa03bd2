"""CPU thread policy that holds up when the machine is busy.

PyTorch's CPU kernels run on OpenMP threads that spin while they wait for work. When another process holds one of
the cores, a spinning thread keeps the core from it and waits on a thread that cannot run: measured on a 2-core AMD
EPYC (Zen 3, AVX2 only), BigGAN's reduced step (32², fp32, NHWC, ``benchmarks/throughput.py``) ran

====================  ==================  =================
                      idle machine        one busy process
====================  ==================  =================
1 thread, spinning    29.9 img/s          26.5 img/s
2 threads, spinning   45.1 img/s          **12.2 img/s**
2 threads, PASSIVE    32.4 img/s          24.8 img/s
====================  ==================  =================

so neither a fixed thread count nor ``OMP_WAIT_POLICY=PASSIVE`` is right on both rows (shorter ``GOMP_SPINCOUNT``
values trade the same way: 1000 spins gave 33.0 / 22.0, 100000 gave 39.9 / 5.0). gancore keeps OpenMP's default
wait policy and sizes the thread pool to the cores other processes leave free: :class:`ThreadGovernor` measures
the CPU time the rest of the machine used since its last look (all cores' busy time minus this process's own)
and lowers ``torch.set_num_threads`` when a core is taken, raising it back when the core is free again. It only
acts when ``num_threads`` is 0 (auto) and the run trains on the CPU; its ceiling is the thread count torch had when
the run started. A change of thread count changes the order of floating-point sums, so a CPU run that must
continue bit for bit sets ``num_threads`` explicitly.
"""
from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import dataclass, field

import torch

__all__ = ["ThreadGovernor", "available_cores", "free_cores", "other_busy_cores", "threads_for"]


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS has one, else the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _busy_seconds() -> tuple[float, float]:
    """(CPU seconds every core spent busy, CPU seconds this process spent), both since boot / process start."""
    import psutil

    t = psutil.cpu_times()
    busy = sum(getattr(t, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq", "steal"))
    own = psutil.Process().cpu_times()
    return busy, own.user + own.system


@dataclass
class _Sample:
    wall: float
    busy: float
    own: float


def other_busy_cores(before: _Sample, after: _Sample) -> float:
    """Cores the rest of the machine kept busy between two samples (busy time of all cores minus ours)."""
    wall = max(1e-9, after.wall - before.wall)
    return max(0.0, ((after.busy - before.busy) - (after.own - before.own)) / wall)


def _sample() -> _Sample:
    busy, own = _busy_seconds()
    return _Sample(time.perf_counter(), busy, own)


def threads_for(*, cores: int, other_busy: float, ceiling: int) -> int:
    """Threads to use when ``other_busy`` cores of ``cores`` are taken by other processes: the free cores, rounded
    so that a background process using under a third of a core (a notebook server, a browser tab) costs nothing."""
    free = cores - other_busy
    return max(1, min(ceiling, math.floor(free + 0.67)))


def free_cores(interval: float = 0.3) -> tuple[int, float]:
    """(available cores, cores other processes used over the next ``interval`` seconds)."""
    a = _sample()
    time.sleep(interval)
    return available_cores(), other_busy_cores(a, _sample())


@dataclass
class ThreadGovernor:
    """Keeps ``torch``'s CPU thread count at the cores other processes leave free (module docstring).

    ``start()`` once before training (a 0.3 s look at the machine), ``check()`` at each log record (it compares with
    the previous look, so it costs two ``psutil`` calls), ``stop()`` at the end to restore the starting count. Each
    returns a message when it changed the count (for the run log), else None.
    """

    enabled: bool
    min_interval_s: float = 5.0  # shorter windows see a compile or an evaluation burst as load
    ceiling: int = field(default=0, init=False)
    threads: int = field(default=0, init=False)
    _last: _Sample | None = field(default=None, init=False)
    _warned: bool = field(default=False, init=False)

    def start(self) -> str | None:
        self.ceiling = self.threads = torch.get_num_threads()
        if not self.enabled or self.ceiling <= 1:
            self.enabled = False
            return None
        try:
            cores, other = free_cores()
        except Exception:  # no psutil data on this platform: keep torch's own choice
            self.enabled = False
            return None
        self._last = _sample()
        return self._apply(threads_for(cores=cores, other_busy=other, ceiling=self.ceiling), other)

    def check(self) -> str | None:
        if not self.enabled or self._last is None:
            return None
        now = _sample()
        if now.wall - self._last.wall < self.min_interval_s:
            return None
        other, self._last = other_busy_cores(self._last, now), now
        return self._apply(threads_for(cores=available_cores(), other_busy=other, ceiling=self.ceiling), other)

    def stop(self) -> None:
        if self.enabled and self.threads != self.ceiling:
            torch.set_num_threads(self.ceiling)
            self.threads = self.ceiling

    def _apply(self, target: int, other: float) -> str | None:
        if target == self.threads:
            return None
        before, self.threads = self.threads, target
        torch.set_num_threads(target)
        msg = (f"other processes kept {other:.1f} of {available_cores()} cores busy: training on {target} CPU "
               f"thread{'s' if target > 1 else ''} instead of {before} (spinning OpenMP threads on a shared core "
               "run several times slower; set num_threads to fix the count)")
        if target < before and not self._warned:
            self._warned = True
            warnings.warn(msg, RuntimeWarning, stacklevel=3)
        return msg
