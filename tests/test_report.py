"""The Pareto front of a small real study, and the report files rendered from it."""

from __future__ import annotations

import csv
import html
import json
from pathlib import Path

import optuna
import pytest
import typer
from typer.testing import CliRunner

from dslnas.search.cli import report as cli_report
from dslnas.search.pareto import RecommendationKind, compute_pareto_front
from dslnas.search.records import Role
from dslnas.search.records import STUDY_ATTR_CONFIG
from dslnas.search.report.files import write_report
from dslnas.search.report.metrics import hypervolume, hypervolume_history, param_importances
from dslnas.spaces.errors import UserError
from study_fixtures import EVIL, add_failed, build_demo_study, demo_config, tiny_candidate


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> optuna.Study:
    return build_demo_study(f"sqlite:///{tmp_path_factory.mktemp('study') / 'optuna.db'}")


def test_front_flags_dominated_and_infeasible_points(study: optuna.Study) -> None:
    front = compute_pareto_front(study)
    by_number = {p.number: p for p in front.points}
    assert {p.number for p in front.pareto} == {0, 1, 2, 6}
    assert by_number[3].dominated and by_number[3].feasible
    assert not by_number[4].feasible and by_number[4].broken_constraints.keys() == {"max_visqol_drop"}
    assert not by_number[4].dominated  # nothing feasible beats its latency: it is off the front only for its constraint
    assert [t.number for t in front.unfinished] == [5] and EVIL in front.unfinished[0].reason
    assert front.baseline.number == 1 and front.baseline.role is Role.BASELINE
    assert front.reference.number == 0
    assert compute_pareto_front(study, max_visqol_loss=0.2).knee.number == 0


def test_recommendations_pick_best_quality_per_budget_and_the_knee(study: optuna.Study) -> None:
    front = compute_pareto_front(study, max_visqol_loss=0.2)
    picks = [(r.kind, r.budget_ms, r.point.number if r.point else None) for r in front.recommendations]
    assert picks == [(RecommendationKind.BUDGET, 10.0, None), (RecommendationKind.BUDGET, 11.0, 2),
                     (RecommendationKind.BUDGET, 12.0, 0), (RecommendationKind.KNEE, None, 0)]
    saved = front.recommendations[1].point.savings
    # Trial 2 routes 80 % light: the paper's headline (-26.5 % latency, -21.4 % power) against full-only.
    assert saved.latency_saved_pct == pytest.approx(26.5, abs=0.1)
    assert saved.power_saved_pct == pytest.approx(21.4, abs=0.1)
    assert saved.visqol_lost == pytest.approx(0.16)
    assert [p.number for p in front.pareto][:2] == [2, 0]  # recommended first, then by distance to the ideal


def test_hypervolume_is_exact_and_never_falls(study: optuna.Study) -> None:
    assert hypervolume([(0.0, 0.5), (0.5, 0.0)], [1.0, 1.0]) == pytest.approx(0.75)
    assert hypervolume([(0.5, 0.5, 0.5)], [1.0, 1.0, 1.0]) == pytest.approx(0.125)
    assert hypervolume([(2.0, 0.0)], [1.0, 1.0]) == 0.0
    steps = hypervolume_history(compute_pareto_front(study))
    values = [s.hypervolume for s in steps]
    assert values == sorted(values) and values[-1] > values[0]


def test_importance_needs_enough_trials(tmp_path: Path, study: optuna.Study) -> None:
    full = param_importances(study, compute_pareto_front(study))
    assert full.note is None and set(full.by_objective) == {"visqol", "latency_ms"}
    small = optuna.create_study(directions=study.directions)
    small.set_user_attr(STUDY_ATTR_CONFIG, study.user_attrs[STUDY_ATTR_CONFIG])
    small.add_trials(study.get_trials()[:2])
    few = param_importances(small, compute_pareto_front(small))
    assert few.by_objective == {} and "at least" in few.note


def test_report_files(tmp_path: Path, study: optuna.Study) -> None:
    files = write_report(study, tmp_path / "report")
    page = files.html.read_text()
    front = compute_pareto_front(study)
    for point in front.pareto:  # named in the summary, linked to its row
        assert f'href="#trial-{point.number}">#{point.number}</a> {html.escape(point.name)}' in page
        assert f'id="trial-{point.number}"' in page
    assert 'id="trial-5"' in page  # the failed trial has a row too, with its (escaped) reason
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    assert "<script src=" not in page and "<link " not in page  # plotly.js is inline: nothing to fetch
    assert (f"Quality is scored on held-out clips: silence 3 clips, 6 s from clicks; speech 11 clips, 22 s from "
            f"{html.escape(EVIL)}, talker-0, ") in page and "talker-6 and 3 more." in page
    assert page.count('class="plotly-graph-div') == 7  # pareto x2, sweep, cost, hypervolume, search history, importance
    assert "<th>mask zeros</th>" in page and ">40%</td>" in page  # what alpha bought, per trial
    assert "<th>light tail start</th>" in page and ">elastic</td>" in page  # the bank's prefix, or sliced

    with files.csv.open() as f:
        rows = {int(r["trial"]): r for r in csv.DictReader(f)}
    assert sorted(rows) == [0, 1, 2, 3, 4, 5, 6]
    assert rows[3]["dominated"] == "True" and rows[4]["feasible"] == "False" and rows[5]["state"] == "fail"
    assert EVIL in rows[5]["reason"] and rows[6]["candidate"] == f"evil-{EVIL}"
    assert float(rows[2]["latency_ms"]) == pytest.approx(10.836)

    data = json.loads(files.json.read_text())
    assert data["pareto"] == [p.number for p in front.pareto] and data["knee"] == 1
    assert data["max_visqol_loss"] == front.max_visqol_loss and data["tolerance"]["source"] == "clip noise"  # measured
    assert [(r["trial"], r["over_tolerance"]) for r in data["recommendations"]] == [(None, None), (None, 2), (None, 0), (1, 0)]
    assert data["points"][2]["uncertainty"]["visqol_lost"]["clips"] == 8
    assert {p["trial"]: p["on_front"] for p in data["points"]} == {0: True, 1: True, 2: True, 3: False, 4: False, 6: True}
    assert sorted(p.name for p in files.pngs) == sorted(
        ["pareto_latency.png", "pareto_power.png", "threshold_sweep.png", "hypervolume.png", "cost_breakdown.png", "importance.png",
         "search_history.png"])
    assert all(p.stat().st_size > 10_000 for p in files.pngs)


def test_report_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    build_demo_study(url, name="cli-study")
    app = typer.Typer()
    cli_report.register(app)
    app.command("noop")(lambda: None)  # two commands, so typer keeps the subcommand names
    result = CliRunner().invoke(app, ["report", "--study", "cli-study", "--storage", url, "--out", str(tmp_path / "r"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["html"].endswith("index.html")
    assert (tmp_path / "r" / "index.html").is_file()
    page = (tmp_path / "r" / "index.html").read_text()  # --audio by default: the fixture's checkpoints do not exist
    assert "Not heard: the held-out clips of trial 1 could not be loaded: trial 1&#x27;s checkpoint" in page


def test_a_study_without_a_search_config_is_a_user_error() -> None:
    with pytest.raises(UserError, match="no dslnas search config"):
        compute_pareto_front(optuna.create_study())


def test_a_study_without_results_still_gets_a_report(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    config = demo_config("empty", url)
    study = optuna.create_study(study_name="empty", storage=url, directions=[o.direction for o in config.space.objectives])
    study.set_user_attr(STUDY_ATTR_CONFIG, json.loads(config.model_dump_json()))
    add_failed(study, config, tiny_candidate(), "RuntimeError: out of memory")
    front = compute_pareto_front(study)
    assert front.points == () and front.pareto == () and front.knee is None
    assert all(r.point is None for r in front.recommendations)
    page = write_report(study, tmp_path / "report").html.read_text()
    assert "No completed trial yet" in page and "RuntimeError: out of memory" in page
    assert "Knob importance could not be computed: needs at least 5 completed trials" in page


def test_report_overlays_several_studies(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    build_demo_study(url, name="first")
    build_demo_study(url, name="second")
    app = typer.Typer()
    cli_report.register(app)
    app.command("noop")(lambda: None)
    out = tmp_path / "r"
    args = ["report", "--study", "first", "--study", "second", "--storage", url, "--out", str(out), "--no-audio"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    page = (out / "index.html").read_text()
    assert "<h2>Studies compared</h2>" in page and 'id="fig-compare"' in page
    assert "<b>first</b>: profile a32-paper" in page and "<b>second</b>: profile a32-paper" in page
    assert "Not heard" not in page  # --no-audio: no listening section at all
    twice = CliRunner().invoke(app, [*args[:5], "--study", "first", *args[5:]])
    assert twice.exit_code != 0 and "names a study twice" in str(twice.exception or twice.output)
