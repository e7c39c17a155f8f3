"""Pareto-aware multi-fidelity (search.fidelity*): promotion by non-dominated sorting, rung state in the study,
low-fidelity points kept out of the front, picks and export. Pure and hand-built studies: no training."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import optuna
import pytest
from pydantic import ValidationError

from dslnas.search.config import SearchConfig
from dslnas.search.export import export_run_config
from dslnas.search.fidelity import (
    Curve, FidelityConfig, default_rungs, pareto_fronts, pareto_order, promote, rank_correlations, spearman,
)
from dslnas.search.fidelity_state import Bracket, save_bracket, stored_brackets
from dslnas.search.pareto import compute_pareto_front
from dslnas.search.run import SearchStatus
from dslnas.spaces.errors import UserError
from dslnas.spaces.space_presets import load_space

from study_fixtures import add_trial, build_demo_study, demo_config, make_record, tiny_candidate

TINY_SPACE = Path(__file__).parent / "data" / "tiny-space.yaml"


def c(key: int, *points: tuple[float, float]) -> Curve:
    """A curve in (minus quality, latency): both minimised."""
    return Curve(key, tuple(points))


def test_promotion_is_by_non_dominated_sorting_where_a_scalar_would_promote_others() -> None:
    slow_best = c(0, (-4.50, 14.0))                    # best quality, slow
    slow_second = c(1, (-4.48, 14.5))                  # second-best quality, dominated by 0
    fast = c(2, (-4.00, 10.0), (-4.20, 11.0))          # cheap, lower quality: on the front
    fast_worse = c(3, (-3.90, 12.0))                   # dominated by 2
    curves = [slow_best, slow_second, fast, fast_worse]
    config = FidelityConfig(rungs_steps=(10, 30), eta=2)
    by_quality = sorted(curves, key=lambda cv: min(p[0] for p in cv.points))[:2]  # a scalar: best quality on the curve
    assert {cv.key for cv in by_quality} == {0, 1}
    assert set(promote(curves, config)) == {0, 2}
    assert pareto_fronts(curves) == [[0, 2], [1, 3]]


def test_ties_inside_a_front_go_to_the_larger_hypervolume_contribution() -> None:
    # three mutually non-dominated candidates; 1 sits just beside 0 (tiny exclusive share), 2 covers a wide region
    curves = [c(0, (-4.5, 14.0)), c(1, (-4.45, 13.99)), c(2, (-4.0, 10.0))]
    assert len(pareto_fronts(curves)) == 1
    order = pareto_order(curves)
    assert order[-1] == 1  # smallest exclusive hypervolume
    assert promote(curves, FidelityConfig(rungs_steps=(1, 2), eta=2)) == order[:1]


def test_a_candidate_without_feasible_points_goes_last() -> None:
    assert pareto_order([c(5), c(3, (-4.0, 12.0)), c(4, (-3.0, 13.0))]) == [3, 4, 5]
    assert pareto_order([]) == [] and promote([], FidelityConfig(rungs_steps=(1, 2))) == []


def test_spearman_and_rank_correlation_per_rung() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(spearman([1, 2], [1, 2])) and math.isnan(spearman([1, 1, 1], [1, 2, 3]))
    final = [c(k, (-4.0 - 0.1 * k, 10.0)) for k in range(4)]                 # order at full: 3, 2, 1, 0
    same = [c(k, (-3.0 - 0.1 * k, 10.0)) for k in range(4)]                  # rung 0 agrees
    reversed_ = [c(k, (-3.0 + 0.1 * k, 10.0)) for k in range(4)]             # rung 1 disagrees
    rows = rank_correlations([same, reversed_, final], (5, 10, 20))
    assert [(r.rung, r.steps, r.candidates) for r in rows] == [(0, 5, 4), (1, 10, 4)]
    assert rows[0].spearman == pytest.approx(1.0) and rows[1].spearman == pytest.approx(-1.0)


def test_fidelity_config_is_checked_against_the_space() -> None:
    space = load_space(str(TINY_SPACE))  # finetune.steps 2
    assert default_rungs(150, 3) == (17, 50, 150) and default_rungs(2, 2) == (1, 2)
    SearchConfig(space=space, fidelity=FidelityConfig(rungs_steps=(1, 2), eta=2))
    with pytest.raises(ValidationError, match="finetune.steps"):
        SearchConfig(space=space, fidelity=FidelityConfig(rungs_steps=(1, 3)))
    with pytest.raises(ValidationError, match="increase strictly"):
        FidelityConfig(rungs_steps=(2, 2))
    finetune = type(space.finetune).model_validate({**space.finetune.model_dump(), "lr_schedule": "cosine"})
    cosine = space.model_copy(update={"finetune": finetune})
    with pytest.raises(ValidationError, match="lr_schedule"):
        SearchConfig(space=cosine, fidelity=FidelityConfig(rungs_steps=(1, 2)))
    config = FidelityConfig(rungs_steps=(1, 2, 4), eta=2, bracket_size=8)
    assert config.candidates_per_bracket == 8 and config.finalists_per_bracket == 2


def _study_with_a_dominating_low_fidelity_trial(tmp_path: Path) -> tuple[optuna.Study, int]:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = build_demo_study(storage)
    config = demo_config("demo-report", storage)
    record = make_record(tiny_candidate("rung-0", 2, (4, 4, 8), 0.6, 0.3, 0.5), 0.95, 4.6, 4.6)  # best of all
    add_trial(study, config, dataclasses.replace(record, fidelity_steps=16))
    return study, len(study.get_trials()) - 1


def test_a_low_fidelity_point_never_reaches_the_front_picks_status_or_export(tmp_path: Path) -> None:
    study, low = _study_with_a_dominating_low_fidelity_trial(tmp_path)
    front = compute_pareto_front(study)
    assert front.point(low) is None and all(p.number != low for p in front.pareto)
    assert all(r.point is None or r.point.number != low for r in front.recommendations)
    kept = next(u for u in front.unfinished if u.number == low)
    assert "low fidelity" in kept.reason and "16 steps" in kept.reason
    assert {p.number for p in front.pareto} >= {0, 2}  # what the low-fidelity point would have dominated stays
    status = SearchStatus.of(study, 8)
    assert status.front_size == len({0, 1, 2, 6}) and list(status.best.values())[0] < 4.6
    with pytest.raises(UserError, match="low-fidelity rung"):
        export_run_config(study, low)


def test_bracket_state_round_trips_through_the_study(tmp_path: Path) -> None:
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}", study_name="b", directions=["maximize"])
    bracket = Bracket(0, (3, 4, 5), {3: {"alpha": 0.1}, 4: {"alpha": 0.2}, 5: {"alpha": 0.3}})
    save_bracket(study, bracket.decided([4, 3, 5], [4]))
    save_bracket(study, Bracket(1, (9,), {9: {"alpha": 0.5}}))
    loaded = optuna.load_study(study_name="b", storage=study._storage)
    assert stored_brackets(loaded) == [bracket.decided([4, 3, 5], [4]), Bracket(1, (9,), {9: {"alpha": 0.5}})]
    assert stored_brackets(loaded)[0].members_at(1) == (4,)


def test_cli_fidelity_options_become_a_config_or_one_error_line() -> None:
    from dslnas.search.cli.search import _fidelity

    space = load_space(str(TINY_SPACE))  # finetune.steps 2
    assert _fidelity("full", None, 3, None, space) is None
    assert _fidelity("sh", None, 2, None, space) == FidelityConfig(rungs_steps=(1, 2), eta=2)
    for kind, rungs, match in (("bogus", None, "unknown --fidelity"), ("sh", "1,3", "must end at"),
                               ("sh", "2,1", "increase strictly"), ("sh", "a,b", "comma-separated"),
                               ("full", "1,2", "apply to --fidelity sh only")):
        with pytest.raises(UserError, match=match):
            _fidelity(kind, rungs, 2, None, space)


def test_a_study_keeps_its_fidelity_schedule(tmp_path: Path) -> None:
    from dslnas.search.fidelity_state import claim_schedule

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}", study_name="f", directions=["maximize"])
    space = load_space(str(TINY_SPACE))
    claim_schedule(study, SearchConfig(space=space, fidelity=FidelityConfig(rungs_steps=(1, 2), eta=2)))
    claim_schedule(study, SearchConfig(space=space, fidelity=FidelityConfig(rungs_steps=(1, 2), eta=2)))
    with pytest.raises(UserError, match="same --rungs"):
        claim_schedule(study, SearchConfig(space=space, fidelity=FidelityConfig(rungs_steps=(1, 2), eta=3)))
