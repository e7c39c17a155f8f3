"""Picks that hold to a quality tolerance, and the bootstrap intervals over clips they are judged on."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import optuna
import pytest
import typer
from typer.testing import CliRunner

from dslnas.search.cli import report as cli_report
from dslnas.search.cli import search as cli_search
from dslnas.search.pareto import RecommendationKind, compute_pareto_front
from dslnas.search.records import STUDY_ATTR_CONFIG, ClipScore, record_from_json, record_to_json
from dslnas.search.report.html import render_page
from dslnas.search.report.metrics import ImportanceResult
from dslnas.search.uncertainty import loss_interval, point_uncertainty
from dslnas.spaces.errors import UserError
from study_fixtures import add_trial, build_demo_study, demo_config, make_record, tiny_candidate


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> optuna.Study:
    return build_demo_study(f"sqlite:///{tmp_path_factory.mktemp('picks') / 'optuna.db'}")


def test_paired_interval_covers_the_mean_and_narrows_with_agreeing_clips() -> None:
    ids = [f"c{i}" for i in range(8)]
    anchor = [4.0, 4.2, 3.9, 4.1, 4.3, 4.0, 3.8, 4.2]
    steady = loss_interval(anchor, ids, [a - 0.1 for a in anchor], ids, 0.1)  # every clip loses 0.1
    assert steady.paired and steady.low == pytest.approx(0.1) and steady.high == pytest.approx(0.1)
    noisy = [a - d for a, d in zip(anchor, (0.3, -0.2, 0.25, -0.3, 0.1, -0.1, 0.2, -0.25))]
    mean = sum(anchor) / 8 - sum(noisy) / 8
    wide = loss_interval(anchor, ids, noisy, ids, mean)
    assert wide.low < mean < wide.high and wide.within_noise and not steady.within_noise
    assert not wide.holds(0.05) and wide.holds(wide.high)
    unpaired = loss_interval(anchor, ids, noisy, list(reversed(ids)), mean)
    assert not unpaired.paired and unpaired.high - unpaired.low > wide.high - wide.low


def test_a_record_without_clips_holds_on_its_mean(study: optuna.Study) -> None:
    record = replace(make_record(tiny_candidate(), 0.5, 4.4, 4.38), clips=())
    u = point_uncertainty(record, None, 0.02, record.cost.latency_ms.full)
    assert u.visqol_lost.clips == 0 and not u.visqol_lost.known and u.visqol_lost.holds(0.05)
    assert not u.visqol_lost.holds(0.01) and u.visqol_lost_per_class == {}


def test_clips_survive_the_record_json() -> None:
    record = make_record(tiny_candidate(), 0.5, 4.4, 4.38)
    back = record_from_json(json.loads(json.dumps(record_to_json(record))))
    assert back.clips == record.clips and all(isinstance(c, ClipScore) for c in back.clips)


def test_front_points_carry_intervals_per_class(study: optuna.Study) -> None:
    front = compute_pareto_front(study)
    u = front.point(2).uncertainty  # loses 0.16 against the baseline on the same eight clips
    assert u.visqol_lost.paired and u.visqol_lost.low < 0.16 < u.visqol_lost.high < 0.2
    assert set(u.visqol_lost_per_class) == {"silence", "speech"}
    assert all(i.clips == 4 for i in u.visqol_lost_per_class.values())
    base = front.point(1).uncertainty.visqol_lost
    assert (base.low, base.mean, base.high) == (0.0, 0.0, 0.0)
    saved = u.latency_saved_pct  # every clip routes 80 % light: no spread in the saving
    assert saved.low == pytest.approx(saved.mean) == pytest.approx(saved.high)


def test_picks_hold_to_the_tolerance_and_name_what_it_excluded(study: optuna.Study) -> None:
    strict = compute_pareto_front(study, max_visqol_loss=0.05)  # only full-only holds
    picks = [(r.kind, r.budget_ms, r.point and r.point.number, r.over_tolerance and r.over_tolerance.number)
             for r in strict.recommendations]
    assert picks == [(RecommendationKind.BUDGET, 10.0, None, None), (RecommendationKind.BUDGET, 11.0, None, 2),
                     (RecommendationKind.BUDGET, 12.0, None, 0), (RecommendationKind.KNEE, None, 1, 0)]
    loose = compute_pareto_front(study, max_visqol_loss=0.2)
    assert [r.point and r.point.number for r in loose.recommendations] == [None, 2, 0, 0]
    assert all(r.over_tolerance is None for r in loose.recommendations)
    with pytest.raises(UserError, match="max_visqol_loss"):
        compute_pareto_front(study, max_visqol_loss=-0.1)


def test_the_page_states_the_tolerance_and_the_intervals(study: optuna.Study) -> None:
    page = render_page(compute_pareto_front(study, max_visqol_loss=0.05), [], ImportanceResult({}, "none"))
    assert "loses at most 0.05 ViSQOL against full-only with 95% confidence" in page
    assert "The tolerance 0.05 is the value given by --max-visqol-loss. Quality lost" in page
    assert "no feasible candidate within 11 ms loses at most 0.05 ViSQOL" in page
    assert 'Without the tolerance it would be <a href="#trial-2">trial 2</a>' in page
    assert "which loses +0.160 ViSQOL (95% interval +0.1" in page
    assert "this is the full-only baseline itself (no routed point holds to the tolerance)" in page


def test_within_noise_is_said(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    config = demo_config("noise", url)
    study = optuna.create_study(study_name="noise", storage=url, directions=[o.direction for o in config.space.objectives])
    study.set_user_attr(STUDY_ATTR_CONFIG, json.loads(config.model_dump_json()))
    add_trial(study, config, make_record(tiny_candidate("paper-ref", 3, (8, 8), 0.0), 0.0, 4.46, 4.46), "baseline")
    add_trial(study, config, make_record(tiny_candidate("close", 3, (8, 8), 0.3), 0.6, 4.46, 4.45, clip_spread=0.2), "reference")
    front = compute_pareto_front(study, max_visqol_loss=0.3)
    pick = front.recommendations[-2]  # within 12 ms
    assert pick.point.number == 1 and pick.point.uncertainty.visqol_lost.within_noise
    page = render_page(front, [], ImportanceResult({}, "none"))
    assert "is within clip noise" in page


def test_report_and_trials_take_the_tolerance(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    build_demo_study(url, name="cli-picks")
    app = typer.Typer()
    cli_report.register(app)
    cli_search.register(app)
    runner = CliRunner()
    result = runner.invoke(app, ["trials", "--study", "cli-picks", "--storage", url, "--json", "--max-visqol-loss", "0.2"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["picks"]["max_visqol_loss"] == 0.2 and [r["trial"] for r in data["picks"]["recommendations"]] == [None, 2, 0, 0]
    assert data["uncertainty"]["2"]["visqol_lost"]["paired"] is True
    out = tmp_path / "r"
    result = runner.invoke(app, ["report", "--study", "cli-picks", "--storage", url, "--out", str(out), "--max-visqol-loss", "0.2"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "pareto.json").read_text())["knee"] == 0


def test_a_confirmed_pick_says_measured_beside_predicted(tmp_path: Path) -> None:
    from dslnas.search.records import Comparison, ConfirmationEntry, append_confirmations

    study = build_demo_study(f"sqlite:///{tmp_path / 'optuna.db'}")
    front = compute_pareto_front(study)
    knee = front.knee
    entries = [ConfirmationEntry(path, "unicorn-arm", "emulated A32", "2026-12-07T00:00:00", Comparison.ABSOLUTE, "a32-paper",
                                 predicted, 10.0, measured_latency_ms=measured, repeats=5)
               for path, predicted, measured in (("full", knee.record.cost.latency_ms.full, 16.0),
                                                 ("light", knee.record.cost.latency_ms.light, 11.0))]
    append_confirmations(study, knee.number, entries)
    page = render_page(compute_pareto_front(study), [], ImportanceResult({}, "none"))
    assert "Measured on a device: full 16.000 ms (predicted 14.74), light 11.000 ms (predicted 9.86)" in page
    assert "(<b>a reference, not evidence</b>: no measured error)" in page  # the fixture prices on a32-paper
