"""Pareto-aware multi-fidelity: successive halving on the DSL fine-tune's steps, promoting by non-dominated sorting.

A bracket starts ``bracket_size`` sampled candidates at the first rung (``rungs_steps[0]`` fine-tune steps). Each
rung trains its members to the rung's steps (continuing from the previous rung's checkpoint), evaluates and
prices their threshold sweep (the curve a trial produces anyway), and promotes the best ``1/eta`` of them
(at least one) to the next rung. "Best" is not a scalar: the members' curves are peeled into fronts (a
candidate is on the current front when one of its sweep points is non-dominated among the points of the
candidates still in play), and ties inside a front go to the larger exclusive hypervolume contribution
(objectives scaled 0..1 over every member's points, reference 1.1). The last rung is the space's full
fine-tune: only its records are fully trained.

This module is pure (no Optuna, no torch): the ordering, the promotion and the rank correlation (the config is
``search.fidelity_config``, which ``SearchConfig`` holds).
``search.fidelity_state`` keeps rungs in the study; ``search.fidelity_run`` drives them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from dslnas.search.dominance import dominates
from dslnas.search.fidelity_config import FidelityConfig, FidelityKind, default_rungs
from dslnas.search.report.metrics import REFERENCE_SCALED, hypervolume

__all__ = ["Curve", "FidelityConfig", "FidelityKind", "RungCorrelation", "default_rungs", "pareto_fronts",
           "pareto_order", "promote", "rank_correlations", "spearman"]

Values = tuple[float, ...]  # one sweep point's objective values, minimised (maximised ones negated)


# -- ordering and promotion (pure) ------------------------------------------------------------------

@dataclass(frozen=True)
class Curve:
    """One candidate's sweep at one rung: ``key`` names it (its lineage), ``points`` its minimised values."""

    key: int
    points: tuple[Values, ...]


def _scaled(curves: Sequence[Curve]) -> dict[int, list[Values]]:
    every = [p for c in curves for p in c.points]
    if not every:
        return {c.key: [] for c in curves}
    dims = len(every[0])
    lows = [min(p[i] for p in every) for i in range(dims)]
    spans = [(max(p[i] for p in every) - lows[i]) or 1.0 for i in range(dims)]
    return {c.key: [tuple((x - lo) / s for x, lo, s in zip(p, lows, spans)) for p in c.points] for c in curves}


def pareto_fronts(curves: Sequence[Curve]) -> list[list[int]]:
    """Candidate keys peeled into fronts: front k holds the candidates with a point that no point of another
    candidate still in play dominates (after fronts 0..k-1 are removed)."""
    left = {c.key: c.points for c in curves}
    fronts = []
    while left:
        front = [k for k, pts in left.items()
                 if any(not any(dominates(q, p) for other, qs in left.items() if other != k for q in qs) for p in pts)]
        front = front or list(left)  # only possible with NaN values: keep the peeling finite
        fronts.append(sorted(front))
        for k in front:
            del left[k]
    return fronts


def contributions(keys: Sequence[int], scaled: dict[int, list[Values]]) -> dict[int, float]:
    """Each key's exclusive hypervolume contribution among ``keys`` (scaled values, reference 1.1)."""
    every = [p for k in keys for p in scaled[k]]
    if not every:  # no feasible point among them: nothing to share
        return {k: 0.0 for k in keys}
    ref = [REFERENCE_SCALED] * len(every[0])
    whole = hypervolume(every, ref)
    return {k: whole - hypervolume([p for o in keys if o != k for p in scaled[o]], ref) for k in keys}


def pareto_order(curves: Sequence[Curve]) -> list[int]:
    """Keys best first: by front index, then by larger exclusive hypervolume contribution, then by key."""
    if not curves:
        return []
    scaled = _scaled(curves)
    order: list[int] = []
    for front in pareto_fronts(curves):
        share = contributions(front, scaled)
        order += sorted(front, key=lambda k: (-share[k], k))
    return order


def promote(curves: Sequence[Curve], config: FidelityConfig) -> list[int]:
    """The keys a rung promotes: the first ``config.kept(len(curves))`` of :func:`pareto_order`."""
    return pareto_order(curves)[: config.kept(len(curves))] if curves else []


# -- how well low fidelity predicted full fidelity --------------------------------------------------

@dataclass(frozen=True)
class RungCorrelation:
    """Spearman correlation of the finalists' order at ``rung`` (``steps``) with their order at full fidelity,
    over ``candidates`` finalists of every bracket (NaN with fewer than 3 or no spread)."""

    rung: int
    steps: int
    candidates: int
    spearman: float

    def text(self) -> str:
        value = "-" if math.isnan(self.spearman) else f"{self.spearman:+.2f}"
        return f"rung {self.rung} ({self.steps} steps): Spearman {value} over {self.candidates} finalists"


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN below 3 pairs or without spread."""
    if len(xs) != len(ys) or len(xs) < 3:
        return math.nan
    rx, ry = _ranks(xs), _ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    norm = math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))
    return cov / norm if norm else math.nan


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2.0
        i = j + 1
    return ranks


def rank_correlations(by_rung: Sequence[Sequence[Curve]], rungs_steps: Sequence[int]) -> tuple[RungCorrelation, ...]:
    """Per rung below the last: ``by_rung[r]`` holds the finalists' curves at rung r (the last: at full
    fidelity); their :func:`pareto_order` positions at rung r against those at full fidelity."""
    final = {k: i for i, k in enumerate(pareto_order(by_rung[-1]))}
    out = []
    for rung, curves in enumerate(by_rung[:-1]):
        keys = [c.key for c in curves if c.key in final]
        low = {k: i for i, k in enumerate(pareto_order([c for c in curves if c.key in final]))}
        out.append(RungCorrelation(rung, rungs_steps[rung], len(keys),
                                   spearman([low[k] for k in keys], [final[k] for k in keys])))
    return tuple(out)
