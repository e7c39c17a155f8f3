"""The report's listening section and routing timelines (issue 26.5), on tiny untrained codecs (seconds)."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import optuna
import pytest
import soundfile

from dslnas.search.pareto import ParetoFront
from dslnas.search.report.listen import Listening, choose_clips, listen_points
from dslnas.search.report.timeline import RoutingTimeline, oracle_at_equal_usage, timeline_png
from listen_fixtures import report_with_listening, synthetic_clips
from study_fixtures import build_demo_study


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> optuna.Study:
    return build_demo_study(f"sqlite:///{tmp_path_factory.mktemp('listen') / 'optuna.db'}")


def test_oracle_at_equal_usage_and_switch_backs() -> None:
    actual = np.array([0.5, 0.1, 0.3, 0.05, 0.9])
    assert oracle_at_equal_usage(actual, 2).tolist() == [False, True, False, True, False]
    light = np.array([True, False, True, True, False])
    t = RoutingTimeline("t", 16000, np.zeros(80), 0.005, 0.2, actual, light, actual, oracle_at_equal_usage(actual, 3))
    assert t.switch_backs == (1, 4) and t.light_usage == pytest.approx(0.6)
    assert t.oracle_agreement == pytest.approx(0.6)


def test_timeline_png_is_an_image(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    predicted = rng.uniform(0, 1, 40)
    t = RoutingTimeline("clip <x>", 16000, rng.normal(0, 0.1, 16000), 0.025, 0.5, predicted, predicted < 0.5)
    path = timeline_png(t, tmp_path / "t.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_listen_points_and_clips_are_the_same_for_every_point(study: optuna.Study) -> None:
    from dslnas.search.pareto import compute_pareto_front

    points = listen_points(compute_pareto_front(study, max_visqol_loss=0.2))
    assert [(title, p.number) for title, p in points] == [("full-only baseline", 1), ("within 11 ms", 2),
                                                          ("within 12 ms, knee", 0)]
    clips = synthetic_clips() * 3
    assert [c.clip_id for c in choose_clips(clips, 2)] == ["silence-0", "silence-0", "speech-4", "speech-4"]


@pytest.fixture(scope="module")
def heard(study: optuna.Study, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ParetoFront, Listening]:
    """The report with a listening section; trial 2's weights cannot be loaded."""
    return report_with_listening(study, tmp_path_factory.mktemp("listen") / "report", fail_trial=2)


def test_the_report_plays_each_points_clips_and_shows_the_knees_timeline(heard: tuple[Path, ParetoFront, Listening]) -> None:
    page_path, front, listening = heard
    page, folder = page_path.read_text(), page_path.parent
    knee = listening.heard[(0, "speech-4")]
    for wav in (knee.full, knee.routed, listening.clips[1].original):
        audio, rate = soundfile.read(folder / wav)
        assert rate == 16000 and len(audio) == 8000 and np.abs(audio).max() > 0
        assert f'src="{wav}"' in page
    recorded = {c.clip_id: c for c in front.point(0).record.clips}
    assert knee.visqol_routed == recorded["speech-4"].visqol_mixed  # the trial's score of that clip
    assert page.count("<audio ") == 2 * (1 + 1 + 2)  # per clip: original, the baseline's full path, the knee's two
    assert [t.clip_id for t in listening.timelines] == ["silence-0", "speech-4"]
    assert all((folder / t.png).stat().st_size > 10_000 for t in listening.timelines)
    assert "Routing timeline of the knee (trial 0)" in page and 'class="timeline"' in page


def test_a_point_that_cannot_be_heard_is_named(heard: tuple[Path, ParetoFront, Listening]) -> None:
    page_path, _, listening = heard
    assert listening.unavailable == ("trial 2 (within 11 ms): checkpoint of trial 2 <gone>",)
    assert f"Not heard: {html.escape(listening.unavailable[0])}" in page_path.read_text()
    assert "<gone>" not in page_path.read_text()
