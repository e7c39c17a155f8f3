"""Pareto dominance over objective values: which way each objective is better, and who dominates whom."""

from __future__ import annotations

from collections.abc import Sequence

from dslnas.spaces.space import Objective


def minimised(values: Sequence[float], objectives: Sequence[Objective]) -> tuple[float, ...]:
    """Values with maximised objectives negated, so that lower is better everywhere."""
    return tuple(-v if o.maximise else v for v, o in zip(values, objectives))


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """``a`` dominates ``b`` (both minimised): no worse anywhere, better somewhere."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))
