"""How close the learned switch comes to the oracle router: latency saved at equal mixed quality.

Both routers give a curve of (light usage, mixed ViSQOL) points over thresholds (``EvaluationResult.sweep``
and ``oracle_sweep``). At a learned point of quality q, the oracle's light usage is read off its curve at the
same quality (the most light usage it reaches while keeping quality >= q, linear between points); each
router's latency saving is ``latency_ms(0) - latency_ms(usage)`` against all-full, and the learned switch's
share of the oracle's saving is their ratio. Pure functions: the latency model is passed in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

LatencyOfUsage = Callable[[float], float]
"""``latency_ms(light_usage)``: latency in ms of a run routing that share (0..1) of segments light."""


class CurvePoint(Protocol):
    """One router point; ``SweepPoint`` satisfies it."""

    @property
    def light_usage(self) -> float: ...

    @property
    def visqol_mixed(self) -> float: ...


@dataclass(frozen=True)
class OracleComparison:
    """One learned point against the oracle at its quality."""

    light_usage: float          # the learned switch's, 0..1
    visqol_mixed: float         # the quality both are compared at
    oracle_light_usage: float   # the oracle's light usage at that quality, 0..1
    saving_ms: float            # learned: latency_ms(0) - latency_ms(light_usage)
    oracle_saving_ms: float     # oracle: latency_ms(0) - latency_ms(oracle_light_usage)

    @property
    def saving_fraction(self) -> float:
        """Learned saving / oracle saving (1 = as good as the oracle); ``nan`` when the oracle saves nothing."""
        return self.saving_ms / self.oracle_saving_ms if self.oracle_saving_ms > 0 else math.nan


def oracle_usage_at_quality(oracle: Sequence[CurvePoint], visqol_mixed: float) -> float:
    """The most light usage the oracle reaches with mixed ViSQOL >= ``visqol_mixed``, linear between points.

    The curve is taken at its upper envelope (quality at usage u = the best quality at usage >= u), so it is
    non-increasing in usage. ``nan`` when no oracle point reaches that quality. Raises ValueError on an empty
    curve.
    """
    if not oracle:
        raise ValueError("the oracle curve has no points")
    points = sorted((p.light_usage, p.visqol_mixed) for p in oracle)
    usage = [u for u, _ in points]
    envelope = [max(q for _, q in points[i:]) for i in range(len(points))]
    reached = [i for i, q in enumerate(envelope) if q >= visqol_mixed]
    if not reached:
        return math.nan
    i = reached[-1]
    if i == len(points) - 1:
        return usage[i]
    drop = envelope[i] - envelope[i + 1]
    return usage[i] + (usage[i + 1] - usage[i]) * (envelope[i] - visqol_mixed) / drop


def compare_to_oracle(
    learned: Sequence[CurvePoint], oracle: Sequence[CurvePoint], latency_ms: LatencyOfUsage
) -> tuple[OracleComparison, ...]:
    """Each learned point against the oracle at equal mixed ViSQOL (see the module notes)."""
    baseline_ms = latency_ms(0.0)
    comparisons = []
    for point in learned:
        oracle_usage = oracle_usage_at_quality(oracle, point.visqol_mixed)
        oracle_saving = baseline_ms - latency_ms(oracle_usage) if not math.isnan(oracle_usage) else math.nan
        comparisons.append(
            OracleComparison(
                light_usage=point.light_usage,
                visqol_mixed=point.visqol_mixed,
                oracle_light_usage=oracle_usage,
                saving_ms=baseline_ms - latency_ms(point.light_usage),
                oracle_saving_ms=oracle_saving,
            )
        )
    return tuple(comparisons)


def saving_fraction_at_quality(
    learned: Sequence[CurvePoint], oracle: Sequence[CurvePoint], latency_ms: LatencyOfUsage, visqol_mixed: float
) -> float:
    """The learned switch's saving as a share of the oracle's, at the learned point of most light usage whose
    quality is >= ``visqol_mixed`` (its best operating point at that quality floor); ``nan`` if none is."""
    eligible = [p for p in learned if p.visqol_mixed >= visqol_mixed]
    if not eligible:
        return math.nan
    best = max(eligible, key=lambda p: p.light_usage)
    return compare_to_oracle([best], oracle, latency_ms)[0].saving_fraction
