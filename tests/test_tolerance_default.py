"""The picks' default quality tolerance is measured on the study (the full-only baseline's clip noise), stated
on the page and in pareto.json; ``--max-visqol-loss`` overrides it; a study without per-clip scores says it fell
back to the paper's figure."""

from __future__ import annotations

import json
from html import escape
import math
import statistics
from dataclasses import replace
from pathlib import Path

import optuna
import pytest
from click.testing import CliRunner

from dslnas.search.cli import cli
from dslnas.search.pareto import compute_pareto_front
from dslnas.search.records import STUDY_ATTR_CONFIG, ClipScore, TrialRecord
from dslnas.search.report.html import render_page
from dslnas.search.report.metrics import ImportanceResult
from dslnas.search.uncertainty import PAPER_EQUAL_QUALITY, ToleranceSource, measured_tolerance
from study_fixtures import add_trial, build_demo_study, demo_config, make_record, tiny_candidate


def _with_full_scores(record: TrialRecord, full: list[float]) -> TrialRecord:
    clips = tuple(ClipScore(c.clip_id, c.label, c.seconds, f, f - (c.visqol_full - c.visqol_mixed), c.light_usage)
                  for c, f in zip(record.clips, full))
    return replace(record, clips=clips)


def _normal_half_width(values: list[float]) -> float:
    return 1.96 * statistics.stdev(values) / math.sqrt(len(values))


def test_the_measured_tolerance_is_the_half_width_of_the_full_paths_interval() -> None:
    record = make_record(tiny_candidate(), 0.0, 4.0, 4.0)
    tight = [4.0 + d for d in (-0.02, 0.01, 0.0, 0.02, -0.01, 0.01, -0.02, 0.01)]
    spread = [4.0 + d for d in (-0.6, 0.3, 0.0, 0.5, -0.4, 0.2, -0.5, 0.5)]
    small = measured_tolerance(1, _with_full_scores(record, tight), "the baseline")
    large = measured_tolerance(1, _with_full_scores(record, spread), "the baseline")
    assert small.source is large.source is ToleranceSource.CLIP_NOISE and small.clips == 8
    for tol, scores in ((small, tight), (large, spread)):  # the bootstrap's percentiles near the normal interval
        assert tol.visqol == pytest.approx(_normal_half_width(scores), rel=0.3)
    assert large.visqol > 10 * small.visqol
    assert "8 clips of the baseline" in large.origin()
    lone = replace(record, clips=record.clips[:1])
    assert measured_tolerance(1, lone).source is ToleranceSource.PAPER and measured_tolerance(1, lone).visqol == PAPER_EQUAL_QUALITY


def test_the_default_tolerance_comes_from_the_baseline_and_is_stated(tmp_path: Path) -> None:
    study = build_demo_study(f"sqlite:///{tmp_path / 'optuna.db'}")
    front = compute_pareto_front(study)
    baseline_full = [c.visqol_full for c in front.point(1).record.clips]
    assert front.tolerance.source is ToleranceSource.CLIP_NOISE and front.tolerance.trial == 1
    assert front.max_visqol_loss == pytest.approx(_normal_half_width(baseline_full), rel=0.3)
    given = compute_pareto_front(study, max_visqol_loss=front.max_visqol_loss)
    assert [r.point and r.point.number for r in given.recommendations] == \
        [r.point and r.point.number for r in front.recommendations]  # the default is that number, nothing else
    assert given.tolerance.source is ToleranceSource.GIVEN
    page = render_page(front, [], ImportanceResult({}, "none"))
    assert escape(f"The tolerance {front.max_visqol_loss:.3g} is the measured clip noise: the half-width of the 95% bootstrap "
                  "interval of the full path's mean ViSQOL over the 8 clips of the full-only baseline (trial 1)") + \
        "; <code>--max-visqol-loss</code> sets another." in page


def test_an_explicit_tolerance_overrides_the_measured_one_in_the_files(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    build_demo_study(url, name="tol")
    runner = CliRunner()
    for args, source in (([], "clip noise"), (["--max-visqol-loss", "0.2"], "given")):
        out = tmp_path / source
        result = runner.invoke(cli, ["report", "--study", "tol", "--storage", url, "--out", str(out), "--no-audio", *args])
        assert result.exit_code == 0, result.output
        picks = json.loads((out / "pareto.json").read_text())  # the picks' fields sit at the top level
        assert picks["tolerance"]["source"] == source
        assert (picks["max_visqol_loss"] == 0.2) is bool(args) and picks["max_visqol_loss"] > 0


def test_a_study_without_clip_scores_says_it_used_the_papers_figure(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    config = demo_config("old", url)
    study = optuna.create_study(study_name="old", storage=url, directions=[o.direction for o in config.space.objectives])
    study.set_user_attr(STUDY_ATTR_CONFIG, json.loads(config.model_dump_json()))
    for role, cand, usage, mixed in (("baseline", tiny_candidate("ref", 3, (8, 8), 0.0), 0.0, 4.46),
                                     ("reference", tiny_candidate("ref", 3, (8, 8), 0.3), 0.6, 4.43)):
        add_trial(study, config, replace(make_record(cand, usage, 4.46, mixed), clips=()), role)
    front = compute_pareto_front(study)
    assert front.tolerance.source is ToleranceSource.PAPER and front.max_visqol_loss == PAPER_EQUAL_QUALITY
    within_12_ms = front.recommendations[-2]  # trial 1 loses 0.03 on its mean: within the paper's 0.05
    assert within_12_ms.budget_ms == 12.0 and within_12_ms.point is not None and within_12_ms.point.number == 1
    assert compute_pareto_front(study, max_visqol_loss=0.02).recommendations[-2].over_tolerance.number == 1
    assert escape("the paper's equal-quality figure: this study has no per-clip scores") in render_page(front, [], ImportanceResult({}, "none"))
