"""``write_report``: the report folder (index.html, trials.csv, pareto.json, png/) of one study.

The front is computed once (:func:`compute_pareto_front`); the page, the PNGs, the CSV and the JSON are
renderers of that value (plus the hypervolume history and knob importance derived for the figures).
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from collections.abc import Sequence
from typing import Any

import optuna

from dslnas.search.json_out import json_safe
from dslnas.search.pareto import FrontPoint, ParetoFront, compute_pareto_front
from dslnas.search.report.html import render_page
from dslnas.search.report.knobs_tried import knobs_tried_of
from dslnas.search.report.metrics import hypervolume_history, param_importances
from dslnas.search.records import record_to_json, summarise_confirmations
from dslnas.search.records.fields import record_fields_json
from dslnas.search.report.columns import csv_columns, csv_row
from dslnas.search.report.placement import FrontPlacement, front_placement
from dslnas.search.report.png import write_pngs
from dslnas.search.uncertainty import LEVEL
from dslnas.spaces.atomic_io import atomic_file, atomic_write_text

@dataclass(frozen=True)
class ReportFiles:
    html: Path
    csv: Path
    json: Path
    pngs: tuple[Path, ...]


def write_report(study: optuna.Study, out_dir: str | Path, max_visqol_loss: float | None = None,
                 audio_clips_per_class: int = 0, compare_with: Sequence[optuna.Study] = ()) -> ReportFiles:
    """Compute the front of ``study`` (picks within ``max_visqol_loss``) and write every report file under ``out_dir``;
    ``audio_clips_per_class`` > 0: also the listening section (``listen/``: WAVs and the knee's timelines);
    ``compare_with``: other studies whose fronts the page overlays on this one's."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    front = compute_pareto_front(study, max_visqol_loss)
    history = hypervolume_history(front)
    importance = param_importances(study, front)
    listening = None
    if audio_clips_per_class > 0:
        from dslnas.search.report.listen import study_listening  # streams clips: torch only when asked

        listening = study_listening(study, front, out, audio_clips_per_class)
    html_path, csv_path, json_path = out / "index.html", out / "trials.csv", out / "pareto.json"
    compared = [compute_pareto_front(other, max_visqol_loss) for other in compare_with]
    placement = front_placement(front)  # prices the sparse points' dense twins: once for the page and the JSON
    atomic_write_text(html_path, render_page(front, history, importance, listening, compared, placement))  # a killed report leaves the last one
    write_trials_csv(front, csv_path)
    atomic_write_text(json_path, json.dumps(front_to_json(front, placement), indent=2, allow_nan=False) + "\n")
    pngs = write_pngs(front, history, importance, out / "png")
    return ReportFiles(html_path, csv_path, json_path, tuple(pngs))


def write_trials_csv(front: ParetoFront, path: Path) -> None:
    """One row per trial (completed or not), by trial number; the columns come from the field table."""
    columns = csv_columns(front)
    rows = [csv_row(p, columns) for p in front.points]
    rows += [{"trial": t.number, "state": t.state.lower(), "role": t.role.value, "reason": t.reason} for t in front.unfinished]
    with atomic_file(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda r: r["trial"]))


def front_to_json(front: ParetoFront, placement: FrontPlacement | None = None) -> dict[str, Any]:
    """The front as plain JSON: objectives, recommendations, the front's trial numbers, every point (``placement``:
    the placement section when already computed)."""
    return json_safe({
        "study": front.study_name,
        "profile": front.profile,
        "objectives": [{"name": o.value, "direction": o.direction} for o in front.objectives],
        "latency_budgets_ms": list(front.latency_budgets_ms),
        "pareto": [p.number for p in front.pareto],
        "knee": front.knee.number if front.knee else None,
        **picks_json(front),
        "points": [_point_json(p) for p in front.points],
        "placement": (placement or front_placement(front)).to_json(),
        "unfinished": [asdict(t) | {"role": t.role.value} for t in front.unfinished],
        "knobs_tried": knobs_tried_of(front).to_json(),
    })


def _point_json(p: FrontPoint) -> dict[str, Any]:
    return {
        "trial": p.number, "role": p.role.value, "name": p.name, "values": list(p.values), "constraints": dict(p.constraints),
        "feasible": p.feasible, "dominated": p.dominated, "on_front": p.on_front, "params": p.params,
        "savings": asdict(p.savings), "size": asdict(p.size), "record": record_to_json(p.record),
        "fields": record_fields_json(p.record),
        "confirmations": [c.to_json() for c in summarise_confirmations(p.confirmations)],
        "uncertainty": uncertainty_json(p),
    }


def picks_json(front: ParetoFront) -> dict[str, Any]:
    """The tolerance and the recommendations (each with the point the tolerance excluded, if any)."""
    return {
        "max_visqol_loss": front.max_visqol_loss,
        "tolerance": {"source": front.tolerance.source.value, "origin": front.tolerance.origin(),
                      "clips": front.tolerance.clips, "points": front.tolerance.points, "trial": front.tolerance.trial},  # trial: the scores it was measured on
        "confidence": LEVEL,
        "recommendations": [
            {"kind": r.kind.value, "title": r.title, "budget_ms": r.budget_ms, "trial": r.point.number if r.point else None,
             "over_tolerance": r.over_tolerance.number if r.over_tolerance else None}
            for r in front.recommendations
        ],
    }


def uncertainty_json(p: FrontPoint) -> dict[str, Any] | None:
    """The point's bootstrap intervals (quality lost overall and per class, latency saved), None without any."""
    u = p.uncertainty
    if u is None:
        return None
    return {"visqol_lost": asdict(u.visqol_lost) | {"within_noise": u.visqol_lost.within_noise},
            "visqol_lost_per_class": {k: asdict(v) | {"within_noise": v.within_noise} for k, v in u.visqol_lost_per_class.items()},
            "latency_saved_pct": asdict(u.latency_saved_pct)}
