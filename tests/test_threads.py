"""The CPU thread policy (gancore.threads): thread counts from the load of other processes, the governor's changes
and restores, and its record in a training log."""
from __future__ import annotations

import json
import math
import warnings

import pytest
import torch

from gancore import threads
from gancore.recipes import progan


@pytest.mark.parametrize("cores, other, ceiling, expected", [
    (2, 0.05, 2, 2),   # idle but for a notebook server: all cores
    (2, 0.30, 2, 2),   # under a third of a core costs nothing
    (2, 0.90, 2, 1),   # one busy process: one thread
    (2, 1.80, 2, 1),   # never below one
    (8, 2.00, 8, 6),
    (8, 0.00, 4, 4),   # never above the count torch started with
])
def test_threads_for_free_cores(cores, other, ceiling, expected):
    assert threads.threads_for(cores=cores, other_busy=other, ceiling=ceiling) == expected


def test_other_busy_cores_subtracts_our_own_time():
    a = threads._Sample(wall=10.0, busy=100.0, own=40.0)
    b = threads._Sample(wall=12.0, busy=103.0, own=41.0)  # 3 busy core-seconds in 2 s, 1 of them ours
    assert math.isclose(threads.other_busy_cores(a, b), 1.0)
    assert threads.other_busy_cores(b, threads._Sample(wall=13.0, busy=103.5, own=41.6)) == 0.0  # clock jitter


def test_free_cores_reads_this_machine():
    cores, other = threads.free_cores(interval=0.05)
    assert cores >= 1 and math.isfinite(other) and other >= 0


class _FakeMachine:
    """Stands in for psutil: other processes keep ``other`` cores busy from now on."""

    def __init__(self, monkeypatch, cores=2):
        self.wall, self.busy, self.own, self.other = 0.0, 0.0, 0.0, 0.0
        monkeypatch.setattr(threads, "available_cores", lambda: cores)
        monkeypatch.setattr(threads, "_sample", lambda: threads._Sample(self.wall, self.busy, self.own))
        monkeypatch.setattr(threads, "free_cores", lambda interval=0.3: (cores, self.other))

    def advance(self, seconds, *, own_cores=1.0):
        self.wall += seconds
        self.own += own_cores * seconds
        self.busy += (own_cores + self.other) * seconds


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_governor_lowers_then_restores_threads(monkeypatch, two_threads):
    m = _FakeMachine(monkeypatch)
    gov = threads.ThreadGovernor(enabled=True)
    assert gov.start() is None and torch.get_num_threads() == 2  # idle machine: nothing to change
    m.other = 1.0
    m.advance(10.0)
    with pytest.warns(RuntimeWarning, match="1.0 of 2 cores busy: training on 1 CPU thread instead of 2"):
        assert "instead of 2" in gov.check()
    assert torch.get_num_threads() == 1
    m.advance(2.0)
    assert gov.check() is None  # too soon to judge again
    m.other = 0.0
    m.advance(10.0)
    assert "training on 2 CPU threads instead of 1" in gov.check()
    assert torch.get_num_threads() == 2
    m.other = 1.0
    m.advance(10.0)
    gov.check()
    gov.stop()
    assert torch.get_num_threads() == 2  # the starting count comes back


def test_governor_leaves_explicit_counts_alone(monkeypatch, two_threads):
    m = _FakeMachine(monkeypatch)
    m.other = 1.5
    gov = threads.ThreadGovernor(enabled=False)
    assert gov.start() is None
    m.advance(10.0)
    assert gov.check() is None and torch.get_num_threads() == 2


def test_busy_machine_at_start_is_logged_by_the_trainer(monkeypatch, two_threads, tiny_progan_overrides):
    m = _FakeMachine(monkeypatch)
    m.other = 1.0
    cfg = progan.load_config(scale="smoke", **tiny_progan_overrides)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        r = progan.run(cfg, progress=False, evaluate=False)
    recs = [json.loads(line) for line in (r.trainer.out / "log.jsonl").read_text().splitlines()]
    thread_recs = [rec for rec in recs if rec.get("kind") == "threads"]
    assert thread_recs and thread_recs[0]["threads"] == 1
    assert torch.get_num_threads() == 2  # restored after the run


def test_explicit_num_threads_is_not_governed(monkeypatch, tiny_progan_overrides):
    m = _FakeMachine(monkeypatch)
    m.other = 1.0
    before = torch.get_num_threads()
    cfg = progan.load_config(scale="smoke", **{**tiny_progan_overrides, "num_threads": 2})
    try:
        r = progan.run(cfg, progress=False, evaluate=False)
        recs = (r.trainer.out / "log.jsonl").read_text()
        assert '"kind": "threads"' not in recs
    finally:
        torch.set_num_threads(before)
