"""``write_report``: the report folder (index.html, trials.csv, pareto.json, png/) of one study.

The front is computed once (:func:`compute_pareto_front`); the page, the PNGs, the CSV and the JSON are
renderers of that value (plus the hypervolume history and knob importance derived for the figures).
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import optuna

from dslnas.search.json_out import json_safe
from dslnas.search.pareto import FrontPoint, ParetoFront, compute_pareto_front
from dslnas.search.report.html import render_page
from dslnas.search.report.metrics import hypervolume_history, param_importances
from dslnas.search.records import record_to_json, summarise_confirmations
from dslnas.search.report.png import write_pngs

# Before the knob columns (from the space's knob table) and after them.
CSV_HEAD = (
    "trial", "state", "role", "candidate", "feasible", "dominated", "on_front", "visqol_mixed", "visqol_full",
    "visqol_light", "latency_ms", "power_mw", "latency_full_ms", "latency_light_ms", "power_full_mw",
    "power_light_mw", "light_usage", "light_usage_silence", "light_usage_speech", "params_full_pass",
    "params_light_pass", "threshold", "trained_trial", "transitions_per_s", "switch_spearman", "oracle_saving_fraction",
    "state_policy", "flash_kib", "ram_kib", "real_time_factor", "latency_error_pct", "profile_provenance", "placement",
)
CSV_TAIL = ("constraints", "measured_latency_full_ms", "measured_latency_light_ms", "reason")


def csv_columns(front: ParetoFront) -> tuple[str, ...]:
    return CSV_HEAD + front.knob_columns + CSV_TAIL


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    csv: Path
    json: Path
    pngs: tuple[Path, ...]


def write_report(study: optuna.Study, out_dir: str | Path) -> ReportFiles:
    """Compute the front of ``study`` and write every report file under ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    front = compute_pareto_front(study)
    history = hypervolume_history(front)
    importance = param_importances(study, front)
    html_path, csv_path, json_path = out / "index.html", out / "trials.csv", out / "pareto.json"
    html_path.write_text(render_page(front, history, importance), encoding="utf-8")
    write_trials_csv(front, csv_path)
    json_path.write_text(json.dumps(front_to_json(front), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    pngs = write_pngs(front, history, importance, out / "png")
    return ReportFiles(html_path, csv_path, json_path, tuple(pngs))


def write_trials_csv(front: ParetoFront, path: Path) -> None:
    """One row per trial (completed or not), by trial number."""
    rows = [_point_row(p) for p in front.points]
    rows += [{"trial": t.number, "state": t.state.lower(), "role": t.role.value, "reason": t.reason} for t in front.unfinished]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=csv_columns(front))
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda r: r["trial"]))


def _point_row(p: FrontPoint) -> dict[str, Any]:
    rec = p.record
    measured = {c.path: c.measured_latency_ms for c in summarise_confirmations(p.confirmations) if c.measured_latency_ms is not None}
    return {
        "trial": p.number, "state": "complete", "role": p.role.value, "candidate": p.name, "feasible": p.feasible,
        "dominated": p.dominated, "on_front": p.on_front, "visqol_mixed": rec.visqol_mixed, "visqol_full": rec.visqol_full,
        "visqol_light": rec.visqol_light, "latency_ms": rec.latency_ms, "power_mw": rec.power_mw,
        "latency_full_ms": rec.cost.latency_ms.full, "latency_light_ms": rec.cost.latency_ms.light,
        "power_full_mw": rec.cost.power_mw.full, "power_light_mw": rec.cost.power_mw.light,
        "light_usage": rec.light_usage, "light_usage_silence": rec.light_usage_per_class.get("silence"),
        "light_usage_speech": rec.light_usage_per_class.get("speech"), "params_full_pass": p.size.full_pass_params,
        "params_light_pass": p.size.light_pass_params, "threshold": rec.threshold, "trained_trial": p.trained_trial,
        "transitions_per_s": rec.transitions_per_s, "switch_spearman": rec.switch.spearman,
        "oracle_saving_fraction": rec.switch.oracle_saving_fraction, "state_policy": rec.candidate.dsl.state_policy.value,
        "flash_kib": rec.cost.flash_kib.mixed, "ram_kib": rec.cost.ram_kib.mixed,
        "real_time_factor": rec.cost.real_time_factor.mixed, "latency_error_pct": rec.cost.latency_error_pct,
        "profile_provenance": rec.cost.provenance, "placement": rec.cost.placement,
        **p.knobs, "constraints": json.dumps(p.constraints),
        "measured_latency_full_ms": measured.get("full"), "measured_latency_light_ms": measured.get("light"),
        "reason": "; ".join(f"breaks {k} by {v:.3g}" for k, v in p.broken_constraints.items()),
    }


def front_to_json(front: ParetoFront) -> dict[str, Any]:
    """The front as plain JSON: objectives, recommendations, the front's trial numbers, every point."""
    return json_safe({
        "study": front.study_name,
        "profile": front.profile,
        "objectives": [{"name": o.value, "direction": o.direction} for o in front.objectives],
        "latency_budgets_ms": list(front.latency_budgets_ms),
        "pareto": [p.number for p in front.pareto],
        "knee": front.knee.number if front.knee else None,
        "recommendations": [
            {"kind": r.kind.value, "title": r.title, "budget_ms": r.budget_ms, "trial": r.point.number if r.point else None}
            for r in front.recommendations
        ],
        "points": [_point_json(p) for p in front.points],
        "unfinished": [asdict(t) | {"role": t.role.value} for t in front.unfinished],
    })


def _point_json(p: FrontPoint) -> dict[str, Any]:
    return {
        "trial": p.number, "role": p.role.value, "name": p.name, "values": list(p.values), "constraints": dict(p.constraints),
        "feasible": p.feasible, "dominated": p.dominated, "on_front": p.on_front, "params": p.params,
        "savings": asdict(p.savings), "size": asdict(p.size), "record": record_to_json(p.record),
        "confirmations": [c.to_json() for c in summarise_confirmations(p.confirmations)],
    }
