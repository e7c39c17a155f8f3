"""The dense-twin test (issue 28): a sparse point is on the front *because* of its sparsity when the same point
priced with a dense mask would be dominated; the test refuses prices the profile no longer gives."""

from __future__ import annotations

import dataclasses
import json

import optuna
import pytest

from dslnas.hw_models.cost import ProfileCostModel
from dslnas.hw_models.profile import load_profile
from dslnas.hw_models.routing import RoutingSummary
from dslnas.search.pareto import compute_pareto_front
from dslnas.search.records import STUDY_ATTR_CONFIG
from dslnas.search.report.placement import front_placement
from dslnas.search.report.placement_html import sparsity_note
from dslnas.search.report.sparsity_twin import sparsity_test, what_sparsity_saves
from dslnas.spaces.space import Objective
from study_fixtures import EVIL, add_trial, demo_config, make_record, tiny_candidate

PAIR, PAIR_DENSE = "a32-m33-pair-skip", "a32-m33-pair"


def _study(tmp_path, name: str, rows, profile: str = PAIR, priced_on: str | None = None,
           limits: dict | None = None) -> optuna.Study:
    """One tiny candidate's points ``(role, alpha, light usage, mask sparsity, ViSQOL mixed)``, each priced by the
    real cost model on ``priced_on`` (default: the study's ``profile``); ``limits``: the space's constraints."""
    config = demo_config(name, f"sqlite:///{tmp_path / 'optuna.db'}")
    space = config.space.model_copy(update={"objectives": (Objective.VISQOL, Objective.LATENCY_MS, Objective.POWER_MW),
                                            "constraints": config.space.constraints.model_copy(update=limits or {})})
    config = config.model_copy(update={"space": space, "profile": profile})
    study = optuna.create_study(study_name=config.study, storage=config.storage,
                                directions=[o.direction for o in space.objectives])
    study.set_user_attr(STUDY_ATTR_CONFIG, json.loads(config.model_dump_json()))
    model = ProfileCostModel(load_profile(priced_on or profile))
    for role, alpha, usage, sparsity, visqol in rows:
        candidate = tiny_candidate("paper-ref", 3, (8, 8), 0.0 if role == "baseline" else 0.3, alpha=alpha)
        cost = model.predict(candidate, RoutingSummary(usage, mask_sparsity=sparsity)).without_counts()
        add_trial(study, config, dataclasses.replace(make_record(candidate, usage, 4.46, visqol), cost=cost,
                                                     sparsity=sparsity), role)
    return study


def test_a_sparse_point_whose_dense_twin_would_be_dominated_is_held_by_sparsity(tmp_path) -> None:
    # trial 2 is trial 0 with 70% of the mask zero and 0.01 less ViSQOL: dense, it would be trial 0 but worse
    study = _study(tmp_path, "held", (("reference", 1e-4, 0.6, 0.0, 4.40), ("baseline", 1e-4, 0.0, 0.0, 4.46),
                                      ("search", 3.0, 0.6, 0.7, 4.39)))
    test = sparsity_test(compute_pareto_front(study))
    assert not test.not_made and [t.trial for t in test.twins] == [2]
    twin = test.twins[0]
    assert twin.on_front and not twin.twin_on_front and test.held_by_sparsity == (2,)
    front = compute_pareto_front(study)
    assert twin.dense_latency_ms == pytest.approx(front.point(0).record.latency_ms)
    assert twin.dense_power_mw == pytest.approx(front.point(0).record.power_mw)
    assert twin.link_bytes_per_s < twin.dense_link_bytes_per_s and twin.power_mw < twin.dense_power_mw


def test_a_sparse_point_that_would_be_on_the_front_dense_is_not_held_by_sparsity(tmp_path) -> None:
    # trial 2 keeps more quality than trial 0 at the same routing: its dense twin is not dominated
    study = _study(tmp_path, "free", (("reference", 1e-4, 0.6, 0.0, 4.40), ("baseline", 1e-4, 0.0, 0.0, 4.46),
                                      ("search", 3.0, 0.6, 0.7, 4.43)))
    test = sparsity_test(compute_pareto_front(study))
    assert test.twins[0].on_front and test.twins[0].twin_on_front and test.held_by_sparsity == ()
    html = sparsity_note(test)
    assert "No front point is there because of its sparsity" in html and "<td>2</td>" in html


def test_prices_the_profile_no_longer_gives_are_not_tested(tmp_path) -> None:
    study = _study(tmp_path, "stale", (("reference", 1e-4, 0.6, 0.0, 4.40), ("baseline", 1e-4, 0.0, 0.0, 4.46),
                                       ("search", 3.0, 0.6, 0.7, 4.39)), priced_on=PAIR_DENSE)
    section = front_placement(compute_pareto_front(study))
    assert section.sparsity is not None and section.sparsity.twins == ()
    assert "changed since the search" in section.sparsity.not_made and "trial 2" in section.sparsity.not_made
    html = sparsity_note(dataclasses.replace(section.sparsity, not_made=EVIL))
    assert "Not made" in html and "<script>" not in html


def test_what_the_zeros_save_follows_the_profile() -> None:
    assert what_sparsity_saves(load_profile(PAIR)) == "bytes on the link and the skipped MACs of the tails' first convs"
    assert what_sparsity_saves(load_profile(PAIR_DENSE)) == "bytes on the link"
    assert what_sparsity_saves(load_profile("a32-emulated-skip")) == "the skipped MACs of the tails' first convs"
    assert what_sparsity_saves(load_profile("a32-paper")).startswith("nothing")


def test_on_the_dense_pair_sparsity_pays_on_the_link_alone_and_the_table_shows_the_maps_zeros(tmp_path) -> None:
    study = _study(tmp_path, "link", (("reference", 1e-4, 0.6, 0.0, 4.40), ("baseline", 1e-4, 0.0, 0.0, 4.46),
                                      ("search", 3.0, 0.6, 0.7, 4.39)), profile=PAIR_DENSE)
    section = front_placement(compute_pareto_front(study))
    sparse = next(p for p in section.points if p.trial == 2)
    assert sparse.mask_sparsity == pytest.approx(0.7)  # the routed map's zeros, though no tail skips them here
    twin = section.sparsity.twins[0]
    assert twin.link_bytes_per_s < twin.dense_link_bytes_per_s and twin.latency_ms < twin.dense_latency_ms
    assert section.sparsity.held_by_sparsity == (2,) and section.sparsity.priced_as == "bytes on the link"


def test_a_profile_where_zeros_save_nothing_gets_no_table(tmp_path) -> None:
    study = _study(tmp_path, "one-unit", (("reference", 1e-4, 0.6, 0.0, 4.40), ("baseline", 1e-4, 0.0, 0.0, 4.46),
                                          ("search", 3.0, 0.6, 0.7, 4.39)), profile="a32-paper")
    test = sparsity_test(compute_pareto_front(study))
    assert test.twins == () and not test.not_made and test.priced_as.startswith("nothing")
    assert sparsity_note(test) == ""


def test_only_front_points_and_their_twins_are_listed_the_rest_counted(tmp_path) -> None:
    # trial 3: sparse but off the front (trial 2 is the same point with more quality)
    study = _study(tmp_path, "rest", (("reference", 1e-4, 0.6, 0.0, 4.40), ("baseline", 1e-4, 0.0, 0.0, 4.46),
                                      ("search", 3.0, 0.6, 0.7, 4.39), ("search", 3.0, 0.6, 0.7, 4.30)))
    test = sparsity_test(compute_pareto_front(study))
    assert [(t.trial, t.on_front) for t in test.twins] == [(2, True), (3, False)]
    html = sparsity_note(test)
    assert "<tr><td>2</td>" in html and "<tr><td>3</td>" not in html and "1 more sparse point(s) off the front" in html


def test_a_dense_twin_over_a_latency_limit_is_off_the_front(tmp_path) -> None:
    # the limit sits between the sparse point's latency and its dense twin's (= trial 0's): dense, it is infeasible
    model, candidate = ProfileCostModel(load_profile(PAIR)), tiny_candidate("paper-ref", 3, (8, 8), 0.3, alpha=3.0)
    sparse, dense = (model.predict(candidate, RoutingSummary(0.6, mask_sparsity=s)).latency_ms.mixed for s in (0.7, 0.0))
    assert sparse < dense
    study = _study(tmp_path, "limit", (("reference", 1e-4, 0.6, 0.0, 4.40), ("search", 3.0, 0.6, 0.7, 4.30)),
                   limits={"max_latency_ms": (sparse + dense) / 2})
    front = compute_pareto_front(study)
    assert [p.number for p in front.points if p.feasible] == [1]  # trial 0 is the twin's price, over the limit
    test = sparsity_test(front)
    assert test.twins[0].on_front and not test.twins[0].twin_on_front and test.held_by_sparsity == (1,)


def test_an_unreadable_profile_is_a_reason_not_a_failed_report(tmp_path) -> None:
    study = _study(tmp_path, "gone", (("reference", 1e-4, 0.6, 0.0, 4.40), ("search", 3.0, 0.6, 0.7, 4.39)))
    front = dataclasses.replace(compute_pareto_front(study), profile=str(tmp_path / "moved.yaml"))
    test = sparsity_test(front)
    assert test.twins == () and "moved.yaml" in test.not_made
