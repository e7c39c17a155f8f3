"""The field table: every report column is declared once, and the CSV, HTML tables and JSON derive from it."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import re
from pathlib import Path

import optuna
import pytest

from dslnas.hw_models.counts import PATHS, Part
from dslnas.hw_models.routing import Pass
from dslnas.search.pareto import compute_pareto_front
from dslnas.search.records import STORED_FIELDS, record_from_json, record_to_json
from dslnas.search.records.fields import RECORD_FIELDS, Field, Unit, field_table, record_fields_json
from dslnas.search.report.columns import COLUMNS, PICK_TABLE, TRIAL_TABLE, TRIAL_TABLE_TAIL, csv_columns, csv_row
from dslnas.search.report.columns import measured_ms
from dslnas.search.report.files import write_trials_csv
from dslnas.search.report.plots import cost_figure, part_ms
from dslnas.search.records import Comparison, ConfirmationEntry
from dslnas.search.report.tables import confirmation_table, pick_table, trial_table
from dslnas.spaces.run_config import LightInit
from study_fixtures import build_demo_study


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> optuna.Study:
    return build_demo_study(f"sqlite:///{tmp_path_factory.mktemp('study') / 'optuna.db'}")


def test_every_table_names_declared_fields() -> None:
    assert set(TRIAL_TABLE + TRIAL_TABLE_TAIL + PICK_TABLE) <= COLUMNS.keys()
    assert {f.name for f in RECORD_FIELDS} <= COLUMNS.keys()
    with pytest.raises(ValueError, match="'x' is declared twice"):
        field_table([Field("x", "x", Unit.NONE, str), Field("x", "y", Unit.NONE, str)])


def test_a_searched_state_policy_is_one_csv_column(study: optuna.Study, tmp_path: Path) -> None:
    front = compute_pareto_front(study)
    searched = dataclasses.replace(front, knob_columns=front.knob_columns + ("state_policy",))
    columns = csv_columns(searched)
    assert columns.count("state_policy") == 1 and len(set(columns)) == len(columns)
    write_trials_csv(searched, tmp_path / "trials.csv")
    with (tmp_path / "trials.csv").open() as f:
        header = next(csv.reader(f))
    assert header.count("state_policy") == 1
    point = front.points[0]
    assert csv_row(point, columns)["state_policy"] == point.record.candidate.dsl.state_policy.value


def test_html_rows_have_one_cell_per_title(study: optuna.Study) -> None:
    front = compute_pareto_front(study)
    entries = tuple(ConfirmationEntry(path, "local", "host", "t", Comparison.RANKING, "demo", 10.0, 5.0,
                                      measured_latency_ms=None if path == "light" else 11.0, failure="x<y" if path == "light" else None)
                    for path in ("full", "light"))
    confirmed = dataclasses.replace(front.points[0], confirmations=entries)
    confirmations = confirmation_table([confirmed])
    assert confirmations.count("<tr>") == 3 and "x&lt;y" in confirmations and "+10.0 %" in confirmations
    for page in (trial_table(front), pick_table([("x", p) for p in front.pareto] + [("none", None)]), confirmations):
        titles = len(re.findall(r"<th>", page))
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", page)[1:]:
            assert len(re.findall(r"<td", row)) == titles


def test_an_undefined_spearman_stays_undefined(study: optuna.Study) -> None:
    point = compute_pareto_front(study).points[0]
    record = dataclasses.replace(point.record, switch=dataclasses.replace(point.record.switch, spearman=math.nan))
    assert record_fields_json(record)["switch_spearman"] is None
    assert COLUMNS["switch_spearman"].text(COLUMNS["switch_spearman"].read(dataclasses.replace(point, record=record))) == "-"
    assert record_fields_json(point.record)["visqol_mixed"] == point.record.visqol_mixed


def test_every_field_is_in_the_json_and_the_csv_and_nothing_else_is(study: optuna.Study, tmp_path: Path) -> None:
    """trials --json and pareto.json: the field table's names exactly, beside the stored record (the stored table's
    keys exactly); the CSV: every declared column once, nothing undeclared."""
    from dslnas.search.cli.search import trial_json
    from dslnas.search.report.files import front_to_json

    names = [f.name for f in RECORD_FIELDS]
    done = [trial_json(t) for t in study.get_trials() if t.state is optuna.trial.TrialState.COMPLETE]
    assert done and all(list(t["fields"]) == names for t in done)
    assert all(list(t["record"]) == [f.name for f in STORED_FIELDS] for t in done)
    assert all(t["fields"]["latency_ms"] == t["record"]["cost"]["latency_ms"]["mixed"] for t in done)
    front = compute_pareto_front(study)
    assert all(list(p["fields"]) == names for p in front_to_json(front)["points"])
    write_trials_csv(front, tmp_path / "trials.csv")
    with (tmp_path / "trials.csv").open() as f:
        header = next(csv.reader(f))
    assert len(header) == len(set(header)) and set(names) <= set(header)
    assert header == list(COLUMNS) + [c for c in front.knob_columns if c not in COLUMNS]


@pytest.mark.parametrize("start", [None, LightInit.SLICED])
def test_record_json_keeps_typed_values(study: optuna.Study, start: LightInit | None) -> None:
    record = compute_pareto_front(study).points[0].record
    record = dataclasses.replace(record, light_start=start, switch=dataclasses.replace(record.switch, spearman=math.nan))
    data = json.loads(json.dumps(record_to_json(record), allow_nan=False))  # strict JSON: no NaN inside
    assert data["switch"]["spearman"] is None and data["light_start"] == (start and start.value)
    back = record_from_json(data)
    assert back.light_start is start and math.isnan(back.switch.spearman)


@pytest.mark.parametrize(("stored", "read"), [("fresh", None), ("", None), ("elastic", LightInit.ELASTIC)])
def test_records_before_the_light_start_enum_still_read(study: optuna.Study, stored: str, read: LightInit | None) -> None:
    data = record_to_json(compute_pareto_front(study).points[0].record) | {"light_start": stored}
    assert record_from_json(data).light_start is read


def test_each_pass_bar_stacks_the_front_parts_and_its_own_tail(study: optuna.Study) -> None:
    front = compute_pareto_front(study)
    assert [t.name for t in cost_figure(front).data] == ["base", "mask", "switch", "full tail", "light tail"]
    for point in front.pareto:
        cost = point.record.cost
        for run, latency_ms in ((Pass.FULL, cost.latency_ms.full), (Pass.LIGHT, cost.latency_ms.light)):
            assert sum(part_ms(point, part, run) for part in PATHS) == pytest.approx(latency_ms)
        assert part_ms(point, Part.LIGHT_TAIL, Pass.FULL) == 0.0 < part_ms(point, Part.LIGHT_TAIL, Pass.LIGHT)


def test_measured_columns_mix_the_measured_passes_at_the_trials_usage(study: optuna.Study) -> None:
    point = compute_pareto_front(study).points[0]
    entries = tuple(ConfirmationEntry(path.value, "local", "host", "t", Comparison.RANKING, "demo", 10.0, 5.0,
                                      measured_latency_ms=ms) for path, ms in ((Pass.FULL, 12.0), (Pass.LIGHT, 8.0)))
    measured = measured_ms(dataclasses.replace(point, confirmations=entries))
    usage = point.record.light_usage
    assert measured == {Pass.FULL: 12.0, Pass.LIGHT: 8.0, Pass.MIXED: pytest.approx(12.0 * (1 - usage) + 8.0 * usage)}
    confirmed = dataclasses.replace(point, confirmations=entries)
    assert [COLUMNS[f"measured_latency_{p.value}_ms"].read(confirmed) for p in (Pass.FULL, Pass.LIGHT)] == [12.0, 8.0]
