"""The report's "knobs tried" block: per switch depth its trials, full-fidelity trials and front candidates;
per layer the widths drawn; HTML escaped; in pareto.json."""

from __future__ import annotations

import pytest

from dslnas.search.pareto import compute_pareto_front
from dslnas.search.report.files import front_to_json
from dslnas.search.report.html import render_page
from dslnas.search.report.knobs_tried import DepthTried, KnobsTried, knobs_tried_html, knobs_tried_of
from dslnas.search.report.metrics import ImportanceResult, hypervolume_history
from study_fixtures import EVIL, build_demo_study


@pytest.fixture(scope="module")
def front():
    return compute_pareto_front(build_demo_study(None))


def test_per_depth_trials_full_fidelity_and_front_follow_the_study(front) -> None:
    tried = knobs_tried_of(front)
    trained = [p for p in front.points if p.role.trained]
    failed = [t for t in front.unfinished if t.role.trained]
    assert failed  # the fixture's failed trial counts as a trial, not as trained at full fidelity
    on_front = {p.trained_trial for p in front.points if p.on_front}
    for row in tried.depths:
        assert row.full_fidelity == sum(p.params["switch_depth"] == row.depth for p in trained)
        assert row.trials == row.full_fidelity + sum(t.params["switch_depth"] == row.depth for t in failed)
        assert row.on_front == sum(p.params["switch_depth"] == row.depth for p in trained if p.number in on_front)
    assert sum(r.trials for r in tried.depths) == len(trained) + len(failed)
    assert sum(r.on_front for r in tried.depths) >= 1 and any(r.on_front < r.full_fidelity for r in tried.depths)


def test_widths_are_counted_per_layer_of_each_depth(front) -> None:
    tried = knobs_tried_of(front)
    every = [p.params for p in front.points if p.role.trained] + [t.params for t in front.unfinished if t.role.trained]
    assert set(tried.widths) == {k for params in every for k in params if k.startswith("light_width_d")}
    for knob, counts in tried.widths.items():
        assert sum(counts.values()) == sum(knob in params for params in every)
    assert "switch_hidden" in tried.discrete and set(tried.ranges) == {"alpha", "beta"}
    lo, hi, n = tried.ranges["alpha"]
    assert lo == min(p["alpha"] for p in every) and hi == max(p["alpha"] for p in every) and n == len(every)


def test_the_block_escapes_study_text_and_reaches_the_page_and_json(front) -> None:
    evil = KnobsTried((DepthTried(EVIL, 1, 1, 0),), {"light_width_d1_0": {8: 1}}, {"state_policy": {EVIL: 1}}, {})
    block = knobs_tried_html(evil)
    assert EVIL not in block and "&lt;script&gt;" in block and "8 &times;1" in block
    page = render_page(front, hypervolume_history(front), ImportanceResult({}, "not computed in this test"))
    assert "Knobs tried" in page and "trained at full fidelity" in page
    data = front_to_json(front)["knobs_tried"]
    assert [d["depth"] for d in data["depths"]] == [r.depth for r in knobs_tried_of(front).depths]
    assert knobs_tried_html(KnobsTried((), {}, {}, {})).count("No trained trial") == 1
