"""How well a multi-fidelity rung's ranks predict full-fidelity ranks, read from ``--fidelity sh`` studies.

For each rung below the last, over the candidates (lineages) that reached full fidelity: Spearman's rank
correlation between the candidate's score at that rung and its score at full fidelity, with n. A score is
the hypervolume of the candidate's own feasible sweep points (minimised, scaled 0..1 over every point of
the two rungs compared, reference 1.1), so a better curve scores higher at both. Also, per rung, against
the next rung over the candidates promoted to it (more pairs, one step of the ladder), and the Pareto-order
correlation the search itself stored (``search.fidelity.rank_correlations``: positions in the Pareto order).
Pooled over every study under the root (same space and objectives: one scaling) and per study.

    .venv/bin/python bench/rung_correlation.py --runs-root /path/to/studies [--json out.json]

Reads the studies only (``<root>/*.db``, each holding studies with a fidelity schedule); no training.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import optuna
from optuna.study import StudyDirection
from optuna.trial import TrialState

from dslnas.search.fidelity import spearman
from dslnas.search.fidelity_state import STUDY_ATTR_SCHEDULE, rung_results, stored_brackets, stored_correlations
from dslnas.search.records import parent_of
from dslnas.search.report.metrics import REFERENCE_SCALED, hypervolume

Values = tuple[float, ...]
Rungs = dict[int, dict[Hashable, tuple[Values, ...]]]  # rung -> lineage -> its feasible sweep points, minimised


@dataclass(frozen=True)
class RungRank:
    """Spearman of the scores at ``rung`` (``steps`` fine-tune steps) against those at rung ``against``, over
    ``n`` candidates that have both (NaN below 3 or without spread)."""

    study: str
    rung: int
    steps: int
    against: int
    n: int
    spearman: float

    def text(self, last: int) -> str:
        value = "-" if math.isnan(self.spearman) else f"{self.spearman:+.2f}"
        other = "full fidelity" if self.against == last else f"rung {self.against}"
        return f"{self.study}: rung {self.rung} ({self.steps} steps) vs {other}: Spearman {value}, n = {self.n}"

    def to_json(self) -> dict:
        return {**asdict(self), "spearman": None if math.isnan(self.spearman) else round(self.spearman, 4)}


def study_rungs(study: optuna.Study) -> Rungs:
    """Every completed rung result of ``study``'s brackets as its lineage's feasible points (minimised)."""
    signs = [-1.0 if d == StudyDirection.MAXIMIZE else 1.0 for d in study.directions]
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    children: dict[int, list] = {}
    for t in complete:
        if (parent := parent_of(t)) is not None:
            children.setdefault(parent, []).append(t)
    rungs: Rungs = {}
    rung_count = len(study.user_attrs[STUDY_ATTR_SCHEDULE]["rungs_steps"])
    for bracket in stored_brackets(study):
        for rung in range(rung_count):
            for lineage, t in rung_results(study, bracket.number, rung).items():
                if t.state != TrialState.COMPLETE:
                    continue
                points = [p for p in (t, *children.get(t.number, ())) if all(c <= 0 for c in p.constraints.values())]
                rungs.setdefault(rung, {})[lineage] = tuple(tuple(s * v for s, v in zip(signs, p.values)) for p in points)
    return rungs


def curve_scores(low: Mapping[Hashable, Sequence[Values]],
                 high: Mapping[Hashable, Sequence[Values]]) -> dict[Hashable, tuple[float, float]]:
    """Lineage -> (score at ``low``, score at ``high``) for lineages in both: own-curve hypervolumes, objectives
    scaled over every point of both (0 for a candidate without a feasible point)."""
    keys = sorted(set(low) & set(high), key=repr)
    every = [p for k in keys for p in (*low[k], *high[k])]
    if not every:
        return {k: (0.0, 0.0) for k in keys}
    dims = len(every[0])
    lows = [min(p[i] for p in every) for i in range(dims)]
    spans = [(max(p[i] for p in every) - lows[i]) or 1.0 for i in range(dims)]

    def score(points: Sequence[Values]) -> float:
        scaled = [tuple((x - lo) / s for x, lo, s in zip(p, lows, spans)) for p in points]
        return hypervolume(scaled, [REFERENCE_SCALED] * dims) if scaled else 0.0

    return {k: (score(low[k]), score(high[k])) for k in keys}


def rung_ranks(name: str, rungs: Rungs, rungs_steps: Sequence[int]) -> list[RungRank]:
    """Per rung below the last: against full fidelity, then (below the last but one) against the next rung."""
    last = len(rungs_steps) - 1
    rows = []
    for rung in range(last):
        for against in dict.fromkeys((last, rung + 1)):
            pairs = curve_scores(rungs.get(rung, {}), rungs.get(against, {}))
            rows.append(RungRank(name, rung, rungs_steps[rung], against, len(pairs),
                                 spearman([a for a, _ in pairs.values()], [b for _, b in pairs.values()])))
    return rows


@dataclass(frozen=True)
class MfStudy:
    name: str
    rungs_steps: tuple[int, ...]
    rungs: Rungs
    stored: tuple[dict, ...]  # the search's own Pareto-order correlation over its finalists


def mf_study(study: optuna.Study) -> MfStudy:
    stored = tuple({**asdict(r), "spearman": None if math.isnan(r.spearman) else round(r.spearman, 4)}
                   for r in stored_correlations(study))
    steps = tuple(study.user_attrs[STUDY_ATTR_SCHEDULE]["rungs_steps"])
    return MfStudy(study.study_name, steps, study_rungs(study), stored)


def load_mf_studies(root: Path) -> list[MfStudy]:
    """Every study with a fidelity schedule in ``root/*.db`` (read only), by name."""
    found = []
    for db in sorted(root.glob("*.db")):
        storage = f"sqlite:///{db}"
        for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
            if STUDY_ATTR_SCHEDULE in summary.user_attrs:
                found.append(mf_study(optuna.load_study(study_name=summary.study_name, storage=storage)))
    return sorted(found, key=lambda s: s.name)


def pooled(studies: Sequence[MfStudy]) -> Rungs:
    """The studies' rungs as one (lineages keyed by study and lineage), for one correlation over all seeds."""
    out: Rungs = {}
    for s in studies:
        for rung, lineages in s.rungs.items():
            out.setdefault(rung, {}).update({(s.name, k): v for k, v in lineages.items()})
    return out


def summary(root: Path) -> dict:
    """:func:`summarise` of the multi-fidelity studies under ``root``."""
    return summarise(load_mf_studies(root))


def summarise(studies: Sequence[MfStudy]) -> dict:
    """Per rung: pooled and per-study rows (printed), plus what each search stored; {} without a study."""
    if not studies:
        return {}
    schedules = {s.rungs_steps for s in studies}
    if len(schedules) > 1:
        raise SystemExit(f"error: the studies ran different rungs {sorted(schedules)}: pool one schedule")
    [steps] = schedules
    rows = rung_ranks("pooled", pooled(studies), steps) if len(studies) > 1 else []
    for s in studies:
        rows += rung_ranks(s.name, s.rungs, steps)
    last = len(steps) - 1
    print("rank correlation per rung (own-curve hypervolume, low rung vs higher rung):")
    for row in rows:
        print("  " + row.text(last))
    return {"rungs_steps": list(steps), "score": "own-curve hypervolume (scaled over both rungs' points, ref 1.1)",
            "rows": [r.to_json() for r in rows], "stored_by_search": {s.name: list(s.stored) for s in studies}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs-root", required=True, help="the folder holding the studies' .db files")
    parser.add_argument("--json", default=None, help="also write the summary here")
    args = parser.parse_args()
    root = Path(args.runs_root)
    if not root.is_dir():
        raise SystemExit(f"error: --runs-root {root} is not a folder")
    result = summary(root)
    if not result:
        print(f"no multi-fidelity study under {root}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
