"""Which knobs a search tried: per switch depth its trials, those trained at full fidelity and those on the
front; per layer the light widths drawn; per other discrete knob its values; per continuous knob its range.

Computed once from a :class:`ParetoFront` (:func:`knobs_tried_of`); rendered as an HTML block (every study
string escaped) for the report's search-history section and as JSON for ``pareto.json``. A "trial" here is
a trained one (search or reference role): fully trained, a multi-fidelity rung's low-fidelity result, failed
or still running; sweep points and the full-only baseline share their parent's training and are not counted.
Values come from the trial's Optuna params, so a width knob is one layer of one depth
(``light_width_d<depth>_<i>``, the knob table's names).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from html import escape
from typing import Any

from dslnas.search.pareto import ParetoFront

DEPTH_PARAM, WIDTH_PREFIX = "switch_depth", "light_width_"


@dataclass(frozen=True)
class DepthTried:
    """One switch depth: ``trials`` trained trials at it, ``full_fidelity`` of them fully fine-tuned and
    completed, ``on_front`` of those with a point on the Pareto front."""

    depth: Any
    trials: int
    full_fidelity: int
    on_front: int


@dataclass(frozen=True)
class KnobsTried:
    depths: tuple[DepthTried, ...]
    widths: dict[str, dict[Any, int]]          # width knob (one layer of one depth) -> value -> trials
    discrete: dict[str, dict[Any, int]]        # other int/str knobs -> value -> trials
    ranges: dict[str, tuple[float, float, int]]  # float knobs -> (min, max, trials)

    def to_json(self) -> dict[str, Any]:
        return {"depths": [d.__dict__ for d in self.depths],
                "widths": {k: {str(v): n for v, n in c.items()} for k, c in self.widths.items()},
                "discrete": {k: {str(v): n for v, n in c.items()} for k, c in self.discrete.items()},
                "ranges": {k: {"min": lo, "max": hi, "trials": n} for k, (lo, hi, n) in self.ranges.items()}}


def knobs_tried_of(front: ParetoFront) -> KnobsTried:
    """Count the knob values of every trained trial of ``front`` (points and unfinished trials)."""
    full = {p.number: p.params for p in front.points if p.role.trained}
    trials = [*full.values(), *(t.params for t in front.unfinished if t.role.trained)]
    on_front = {p.trained_trial for p in front.points if p.on_front}
    depth_of = lambda params: params.get(DEPTH_PARAM)  # noqa: E731
    depths = sorted({depth_of(p) for p in trials if depth_of(p) is not None}, key=repr)
    rows = tuple(DepthTried(d, sum(depth_of(p) == d for p in trials), sum(depth_of(p) == d for p in full.values()),
                            sum(depth_of(full[n]) == d for n in on_front if n in full)) for d in depths)
    counts: dict[str, Counter] = {}
    floats: dict[str, list[float]] = {}
    for params in trials:
        for name, value in params.items():
            if isinstance(value, float):
                floats.setdefault(name, []).append(value)
            elif name != DEPTH_PARAM and isinstance(value, (int, str)) and not isinstance(value, bool):
                counts.setdefault(name, Counter())[value] += 1
    ordered = {k: dict(sorted(c.items(), key=lambda kv: repr(kv[0]))) for k, c in sorted(counts.items())}
    return KnobsTried(rows, {k: c for k, c in ordered.items() if k.startswith(WIDTH_PREFIX)},
                      {k: c for k, c in ordered.items() if not k.startswith(WIDTH_PREFIX)},
                      {k: (min(v), max(v), len(v)) for k, v in sorted(floats.items())})


def _choices(counts: dict[Any, int]) -> str:
    return ", ".join(f"{v} &times;{n}" for v, n in ((escape(str(v)), n) for v, n in counts.items()))


def knobs_tried_html(tried: KnobsTried) -> str:
    """A compact block: the per-depth table, then one line per width layer and per other knob."""
    if not tried.depths and not tried.discrete and not tried.ranges:
        return '<p class="caption">No trained trial yet: no knob tried.</p>'
    head = "<tr><th>switch depth</th><th>trials</th><th>trained at full fidelity</th><th>on the front</th></tr>"
    body = "".join(f"<tr><td>{escape(str(d.depth))}</td><td>{d.trials}</td><td>{d.full_fidelity}</td><td>{d.on_front}</td></tr>"
                   for d in tried.depths)
    lines = [f"<li><code>{escape(k)}</code>: {_choices(c)}</li>" for k, c in (*tried.widths.items(), *tried.discrete.items())]
    lines += [f"<li><code>{escape(k)}</code>: {lo:.3g} .. {hi:.3g} over {n} trials</li>" for k, (lo, hi, n) in tried.ranges.items()]
    return (f'<div class="knobs-tried"><h3>Knobs tried</h3><table class="knobs" style="width:auto"><thead>{head}</thead><tbody>{body}</tbody></table>'
            f'<p class="caption">Trials: trained trials at any fidelity (failed and low-rung ones included). Values drawn, '
            f'per knob (a light width is one layer of one depth):</p><ul class="caption">{"".join(lines)}</ul></div>')
