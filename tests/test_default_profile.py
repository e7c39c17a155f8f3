"""Prices with evidence: searches price on a calibrated profile unless told otherwise, the report shows its
cross-validated error beside its name, and the paper-solved profile stays selectable, labelled a reference."""

from __future__ import annotations

import inspect
import json
from dataclasses import replace
from pathlib import Path

import optuna
import pytest

from dslnas.hw_models.cost import ProfileCostModel
from dslnas.hw_models.footprint import provenance_text
from dslnas.hw_models.profile import load_profile
from dslnas.search.cli import evaluate as cli_evaluate
from dslnas.search.cli.search import search_command
from dslnas.search.config import DEFAULT_PROFILE, REFERENCE_PROFILE, SearchConfig
from dslnas.search.confirm_point import point_profile
from dslnas.search.pareto import compute_pareto_front
from dslnas.search.point_source import resolve_point
from dslnas.search.records import STUDY_ATTR_CONFIG
from dslnas.search.report.html import render_page
from dslnas.search.report.metrics import ImportanceResult
from dslnas.spaces.space_presets import SPACE_PRESETS, demo_space
from study_fixtures import add_trial, build_demo_study, demo_config, make_record, tiny_candidate


def test_searches_price_on_a_calibrated_profile_unless_told_otherwise() -> None:
    calibrated = load_profile(DEFAULT_PROFILE).provenance
    assert calibrated.cv_mape_pct is not None and calibrated.cv_folds is not None and calibrated.cv_folds >= 2
    assert SearchConfig(space=demo_space()).profile == DEFAULT_PROFILE
    assert inspect.signature(search_command).parameters["profile"].default == DEFAULT_PROFILE
    assert cli_evaluate.DEFAULT_PROFILE == DEFAULT_PROFILE
    assert point_profile(resolve_point("pretrained:speech16k"), None) == DEFAULT_PROFILE
    cost = ProfileCostModel(load_profile(DEFAULT_PROFILE)).predict(tiny_candidate(), 0.5)
    assert cost.profile == DEFAULT_PROFILE and cost.latency_error_pct == calibrated.cv_mape_pct
    reference = load_profile(REFERENCE_PROFILE).provenance  # still selectable by name, and without a measured error
    assert reference.runner == "paper-table-1" and reference.cv_mape_pct is None



@pytest.mark.parametrize("name", sorted(SPACE_PRESETS))
def test_the_shipped_spaces_budgets_sit_between_light_and_full_on_the_default_profile(name: str) -> None:
    space = SPACE_PRESETS[name]()
    cost = ProfileCostModel(load_profile(DEFAULT_PROFILE)).predict(space.base, 0.5)
    assert cost.latency_ms.light < min(space.latency_budgets_ms) and max(space.latency_budgets_ms) < cost.latency_ms.full


def _study_on(profile_name: str, storage: str) -> optuna.Study:
    """Two hand-made records priced as if on ``profile_name`` (its name, provenance and CV error)."""
    profile = load_profile(profile_name)
    config = demo_config(profile_name, storage).model_copy(update={"profile": profile_name})
    study = optuna.create_study(study_name=profile_name, storage=storage, directions=[o.direction for o in config.space.objectives])
    study.set_user_attr(STUDY_ATTR_CONFIG, json.loads(config.model_dump_json()))
    for role, threshold, usage, mixed in (("baseline", 0.0, 0.0, 4.46), ("reference", 0.3, 0.6, 4.43)):
        record = make_record(tiny_candidate("ref", 3, (8, 8), threshold), usage, 4.46, mixed)
        cost = replace(record.cost, profile=profile_name, provenance=provenance_text(profile),
                       latency_error_pct=profile.provenance.cv_mape_pct)
        add_trial(study, config, replace(record, cost=cost), role)
    return study


def test_the_report_shows_the_cv_error_beside_the_profile_name(tmp_path: Path) -> None:
    study = _study_on(DEFAULT_PROFILE, f"sqlite:///{tmp_path / 'optuna.db'}")
    page = render_page(compute_pareto_front(study), [], ImportanceResult({}, "none"))
    cv = load_profile(DEFAULT_PROFILE).provenance.cv_mape_pct
    assert f"<b>{DEFAULT_PROFILE}</b> device profile (calibrated: cross-validated latency error +-{cv:.1f}%)" in page
    assert "not evidence" not in page


def test_the_paper_profile_is_labelled_a_reference_not_evidence(tmp_path: Path) -> None:
    page = render_page(compute_pareto_front(build_demo_study(f"sqlite:///{tmp_path / 'optuna.db'}")), [],
                       ImportanceResult({}, "none"))
    assert f"<b>{REFERENCE_PROFILE}</b> device profile (<b>a reference, not evidence</b>: no measured error)" in page
    assert "solved from the paper&#x27;s Table 1" in page and f"<code>--profile {DEFAULT_PROFILE}</code>, the default" in page
    assert "cross-validated latency error" not in page
