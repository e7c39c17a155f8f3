"""The points a report recommends: the best quality within each latency budget and the knee of the front,
each among the points that hold to the quality tolerance (``max_visqol_loss``, see ``search.uncertainty``).

A budget pick is the feasible point of best mixed-pass quality whose predicted latency is within the budget
(ties: the lower latency); the knee is the front point nearest the ideal point (best value of every objective)
once each objective is scaled to 0..1 over the front. Both choose only among points whose quality loss against
full-only holds to the tolerance; when the pick without the tolerance breaks it, that point is kept beside the
recommendation (``over_tolerance``) so the report can say what the tolerance excluded.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dslnas.search.dominance import minimised
from dslnas.spaces.space import Objective

if TYPE_CHECKING:
    from dslnas.search.pareto import FrontPoint


class RecommendationKind(str, enum.Enum):
    BUDGET = "budget"
    KNEE = "knee"


@dataclass(frozen=True)
class Recommendation:
    """A point to pick. ``point`` is None when no feasible point within the tolerance meets the budget;
    ``over_tolerance``: the point that would be picked without the tolerance, when it breaks it."""

    kind: RecommendationKind
    budget_ms: float | None
    point: "FrontPoint | None"
    over_tolerance: "FrontPoint | None" = None

    @property
    def title(self) -> str:
        if self.kind is RecommendationKind.KNEE:
            return "Knee of the front (best balance)"
        return f"Best quality within {self.budget_ms:g} ms"


def ideal_distance(front: Sequence["FrontPoint"], objectives: Sequence[Objective]) -> dict[int, float]:
    """Each front point's Euclidean distance to the ideal point, objectives scaled to 0..1 over the front."""
    values = {p.number: minimised(p.values, objectives) for p in front}
    lows = [min(v[i] for v in values.values()) for i in range(len(objectives))]
    highs = [max(v[i] for v in values.values()) for i in range(len(objectives))]
    spans = [(h - lo) or 1.0 for lo, h in zip(lows, highs)]
    return {n: math.dist([(x - lo) / s for x, lo, s in zip(v, lows, spans)], [0.0] * len(v)) for n, v in values.items()}


def knee_of(front: Sequence["FrontPoint"], objectives: Sequence[Objective]) -> "FrontPoint | None":
    """The front point nearest the ideal point (objectives scaled over ``front``); None for an empty front."""
    if not front:
        return None
    distance = ideal_distance(front, objectives)
    return min(front, key=lambda p: (distance[p.number], p.number))


def _best_within(points: Sequence["FrontPoint"], budget_ms: float) -> "FrontPoint | None":
    fits = [p for p in points if p.feasible and p.record.latency_ms <= budget_ms]
    return max(fits, key=lambda p: (p.record.visqol_mixed, -p.record.latency_ms), default=None)


def recommendations(points: Sequence["FrontPoint"], objectives: Sequence[Objective], budgets_ms: Sequence[float],
                    max_visqol_loss: float) -> tuple[Recommendation, ...]:
    """One pick per budget, then the knee, all among the points holding to ``max_visqol_loss``."""
    held = [p for p in points if p.holds(max_visqol_loss)]
    recs = []
    for budget in budgets_ms:
        best, any_best = _best_within(held, budget), _best_within(points, budget)
        recs.append(Recommendation(RecommendationKind.BUDGET, budget, best, _if_other(any_best, best)))
    front = [p for p in points if p.on_front]
    knee, any_knee = knee_of([p for p in front if p in held], objectives), knee_of(front, objectives)
    if any_knee is not None:
        recs.append(Recommendation(RecommendationKind.KNEE, None, knee, _if_other(any_knee, knee)))
    return tuple(recs)


def _if_other(unconstrained: "FrontPoint | None", picked: "FrontPoint | None") -> "FrontPoint | None":
    if unconstrained is None or (picked is not None and picked.number == unconstrained.number):
        return None
    return unconstrained
