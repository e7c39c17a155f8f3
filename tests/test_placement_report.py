"""The report's placement section (issue 28): per front point, which part runs on which core, the link's bytes and
wake-ups per second, each core's latency and energy share; a one-unit profile's report says there is one unit."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import optuna
import pytest

from dslnas.hw_models.cost import ProfileCostModel
from dslnas.hw_models.counts import FRONT_PARTS, Part
from dslnas.hw_models.op_count import count_candidate
from dslnas.hw_models.profile import load_profile
from dslnas.hw_models.routing import RoutingSummary
from dslnas.search.pareto import compute_pareto_front
from dslnas.search.records import STUDY_ATTR_CONFIG
from dslnas.search.report.files import write_report
from dslnas.search.report.placement import ALPHA_PAYS_ABOVE, front_placement, parse_placement
from dslnas.search.report.placement_html import placement_section
from dslnas.spaces.errors import ConfigError
from dslnas.spaces.space import Objective
from study_fixtures import EVIL, add_trial, build_demo_study, demo_config, make_record, tiny_candidate

PAIR = "a32-m33-pair-skip"
# (role, alpha, light usage, mask sparsity, ViSQOL mixed): the sparse point trades a little quality for power
ROWS = (("reference", 1e-4, 0.6, 0.0, 4.40), ("baseline", 1e-4, 0.0, 0.0, 4.46), ("search", 3.0, 0.6, 0.7, 4.39))


@pytest.fixture(scope="module")
def pair_study(tmp_path_factory: pytest.TempPathFactory) -> optuna.Study:
    """Three points of one tiny candidate, each priced by the real cost model on the pair profile."""
    config = demo_config("pair-report", f"sqlite:///{tmp_path_factory.mktemp('pair') / 'optuna.db'}")
    space = config.space.model_copy(update={"objectives": (Objective.VISQOL, Objective.LATENCY_MS, Objective.POWER_MW)})
    config = config.model_copy(update={"space": space, "profile": PAIR})
    study = optuna.create_study(study_name=config.study, storage=config.storage,
                                directions=[o.direction for o in space.objectives])
    study.set_user_attr(STUDY_ATTR_CONFIG, json.loads(config.model_dump_json()))
    price = ProfileCostModel(load_profile(PAIR)).pricer(tiny_candidate())
    for role, alpha, usage, sparsity, visqol in ROWS:
        candidate = tiny_candidate("paper-ref", 3, (8, 8), 0.0 if role == "baseline" else 0.3, alpha=alpha)
        record = make_record(candidate, usage, 4.46, visqol)
        cost = price(RoutingSummary(usage, mask_sparsity=sparsity)).without_counts()
        add_trial(study, config, dataclasses.replace(record, cost=cost, sparsity=sparsity), role)
    return study


def test_parse_placement_round_trips_and_refuses_garbage() -> None:
    assert parse_placement("front@m33,light@m33,full@a32").name == "front@m33,light@m33,full@a32"
    with pytest.raises(ConfigError, match="front@UNIT"):
        parse_placement("m33")


def test_each_part_is_placed_and_the_loads_add_up_to_the_priced_figures(pair_study: optuna.Study) -> None:
    section = front_placement(compute_pareto_front(pair_study))
    profile = load_profile(PAIR)
    values_per_segment = count_candidate(tiny_candidate()).cut_elements_per_inference  # the map, zeros included
    assert section.multi_unit and section.points
    for p in section.points:
        assert [c.unit for c in p.cores] == ["m33", "a32"]  # the front's unit first
        assert p.unit_of_part == {**{part: "m33" for part in FRONT_PARTS}, Part.LIGHT_TAIL: "m33", Part.FULL_TAIL: "a32"}
        assert p.cores[1].parts == (Part.FULL_TAIL,)
        # what the cores leave of the priced mixed figures is the link and the wake-ups, as the profile prices them
        full_share = 1.0 - p.light_usage
        bytes_per_full_segment = p.link_bytes_per_s / 20.0 / full_share if full_share else 0.0  # 20 segments/s
        link, wake = profile.link, profile.units["a32"]
        assert link.per_value_ms > 0 and link.busy_mw > 0  # the fitted link prices the values scanned, the cores' time
        link_ms = (2 * link.per_transfer_ms + 1e3 * bytes_per_full_segment / link.bandwidth_bytes_per_s
                   + link.per_value_ms * values_per_segment)
        assert p.link_wake_latency_ms == pytest.approx(full_share * (wake.wake_ms + link_ms), rel=1e-6)
        assert p.link_wake_energy_uj == pytest.approx(
            full_share * (wake.wake_uj + 1e-6 * link.pj_per_byte * bytes_per_full_segment + link.busy_mw * link_ms),  # mW x ms = uJ
            rel=1e-6)
        assert p.wakeups_per_s == pytest.approx(20.0 * full_share)
        assert sum(c.latency_share for c in p.cores) < 1.0 or full_share == 0.0


def test_the_sparse_point_is_named_with_its_low_alpha_neighbour(pair_study: optuna.Study) -> None:
    section = front_placement(compute_pareto_front(pair_study))
    evidence = section.alpha
    assert evidence is not None and evidence.point is not None and evidence.neighbour is not None
    assert evidence.point.alpha > ALPHA_PAYS_ABOVE >= evidence.neighbour.alpha
    assert evidence.point.mask_sparsity == 0.7 and evidence.neighbour.light_usage == evidence.point.light_usage
    assert evidence.point.link_bytes_per_s < evidence.neighbour.link_bytes_per_s  # sparser map, fewer bytes
    assert evidence.power_change_pct is not None and evidence.power_change_pct < 0


def test_the_pair_report_shows_the_placement_in_html_and_json(tmp_path: Path, pair_study: optuna.Study) -> None:
    files = write_report(pair_study, tmp_path / "report")
    page = files.html.read_text()
    assert "Placement: which part runs on which core" in page and '<svg class="placement"' in page
    assert "wake-ups/s</text>" in page and "B/s</text>" in page
    data = json.loads(files.json.read_text())["placement"]
    assert data["multi_unit"] and data["profile"] == PAIR
    shown = next(p for p in data["points"] if p["trial"] == data["shown"])
    assert shown["unit_of_part"] == {"base": "m33", "mask": "m33", "switch": "m33", "full": "a32", "light": "m33"}
    assert {c["unit"] for c in shown["cores"]} == {"m33", "a32"} and shown["link_bytes_per_s"] > 0
    assert data["alpha"]["front_trials_above"] == [2] and data["alpha"]["trained_trials_above"] == [2]


def test_a_one_unit_profile_says_so(tmp_path: Path) -> None:
    study = build_demo_study(f"sqlite:///{tmp_path / 'optuna.db'}")
    section = front_placement(compute_pareto_front(study))
    assert not section.multi_unit and section.single_unit == "a32" and section.points == ()
    html = placement_section(dataclasses.replace(section, profile=EVIL))
    assert "has one compute unit" in html and "<code>a32</code>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html  # study text escaped
    from dslnas.search.report.files import front_to_json

    assert front_to_json(compute_pareto_front(study))["placement"] == {
        "profile": "a32-paper", "multi_unit": False, "single_unit": "a32", "shown": None, "shown_is_knee": False,
        "points": [], "alpha": None,
        "sparsity_test": {"profile": "a32-paper", "sparsity_priced_as": "nothing (one unit that does not skip zero inputs)",
                          "not_made": None, "front_trials_held_by_sparsity": [], "twins": []}}


def test_confirm_splits_a_pair_run_into_the_priced_parts_and_the_link() -> None:
    """Per segment, the runner's parts (instructions x CPI on fabricated segments) grouped as the cost model prices
    them; predicted parts add up to the priced mixed figures, measured ones to the run's mean."""
    import numpy as np

    from dslnas.hw_models.runners.pair import PairStandIns, pair_extra, segment_ms
    from dslnas.hw_models.runners.pair_segment import PairSegment
    from dslnas.hw_models.runners.routed import PATH_FULL, PATH_LIGHT
    from dslnas.search.confirm_parts import part_checks

    light = PairSegment(PATH_LIGHT, {"front": 160_000, "light": 16_000}, 0, 0, np.zeros(1), 0.1)
    full = PairSegment(PATH_FULL, {"front": 160_000, "encode": 1_600, "decode": 1_200, "full": 120_000}, 72, 32, np.zeros(1), 0.9)
    runs = [light, full, light, light]
    extra = pair_extra(runs, PairStandIns(), cpi=1.0)
    cost = ProfileCostModel(load_profile(PAIR)).predict(tiny_candidate(), RoutingSummary(0.75, mask_sparsity=0.3))
    checks = {c.part: c for c in part_checks(cost, extra)}
    assert list(checks) == ["front", "light", "full", "link"]
    mean_ms = float(np.mean([sum(segment_ms(r, PairStandIns(), 1.0).values()) for r in runs]))
    assert sum(c.measured_ms for c in checks.values()) == pytest.approx(mean_ms)
    assert sum(c.measured_uj for c in checks.values()) == pytest.approx(extra["energy_uj_per_segment_mean"])
    assert checks["front"].measured_ms == pytest.approx(1.0)  # 160k instructions at 160 MHz, every segment
    assert checks["full"].measured_ms == pytest.approx(0.25 * 120_000 / 1.2e6)  # one segment in four
    assert sum(c.predicted_ms for c in checks.values()) == pytest.approx(cost.latency_ms.mixed)
    assert sum(c.predicted_uj for c in checks.values()) == pytest.approx(cost.energy_per_inference_uj.mixed)
    assert part_checks(dataclasses.replace(cost, placement=""), extra) == ()  # a one-unit price has no parts to split
