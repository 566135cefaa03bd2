"""Verdicts of a notebook's claims table that mean the same on every machine.

A verdict is one of ``holds``, ``does not hold``, ``within noise`` (the measured effect is no larger than the
seed-to-seed spread of the same measurement) or ``not tested: <why>``. Effects are signed so that a positive value
is the claim's direction (e.g. "FID of random minus FID of searched" for "searched beats random").
"""
from __future__ import annotations

import math
from typing import Sequence

HOLDS, FAILS, NOISE = "holds", "does not hold", "within noise"


def spread(values: Sequence[float]) -> float | None:
    """Seed-to-seed spread of one measurement: the range (max − min) of its values; None with fewer than two."""
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return max(vals) - min(vals) if len(vals) >= 2 else None


def verdict(effect: float | None, noise: float | None, *, untested: str = "") -> str:
    """``holds`` / ``does not hold`` when |effect| exceeds ``noise``, ``within noise`` otherwise; ``not tested``
    (with the reason ``untested``) when the effect or the noise could not be measured."""
    if effect is None or not math.isfinite(effect):
        return f"not tested: {untested or 'the effect was not measured'}"
    if noise is None or not math.isfinite(noise):
        return "not tested: no seed-to-seed spread to compare with (needs at least 2 seeds)"
    if abs(effect) <= noise:
        return NOISE
    return HOLDS if effect > 0 else FAILS


def mean(values: Sequence[float]) -> float | None:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return sum(vals) / len(vals) if vals else None
