"""Confirmation on a device: measured values land beside the predictions, re-runs add, failures keep the prediction."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pytest

from dslnas.hw_models.c_export import CExportInfo
from dslnas.hw_models.cost import ProfileCostModel
from dslnas.hw_models.counts import Part
from dslnas.hw_models.profile import load_profile
from dslnas.hw_models.routing import RoutingSummary
from dslnas.hw_models.runners.artifact import Artifact
from dslnas.hw_models.runners.base import Measurement
from dslnas.hw_models.runners.routed import PATH_FULL, PATH_LIGHT, RoutedRun, RoutedRunner
from dslnas.hw_models.runners.registry import get_runner
from dslnas.hw_models.runners.registry import RunnerOptions, build_runner
from dslnas.search.confirm import ConfirmSettings, confirm_candidates
from dslnas.search.confirm_audio import ConfirmAudio
from dslnas.search.records import Comparison, summarise_confirmations
from dslnas.search.export import export_run_config, write_run_config
from dslnas.search.pareto import compute_pareto_front
from dslnas.search.report.files import write_report
from dslnas.spaces.run_config import RunConfig
from dslnas.spaces.errors import UserError
from dslnas.spaces.yaml_io import load_model
from study_fixtures import build_demo_study


@pytest.fixture
def study(tmp_path: Path) -> optuna.Study:
    return build_demo_study(f"sqlite:///{tmp_path / 'optuna.db'}")


def test_local_runner_records_measurements_and_reruns_add_repeats(tmp_path: Path, study: optuna.Study) -> None:
    runner = get_runner("local", repeats=50, warmup=2, threads=1)
    settings = ConfirmSettings(tmp_path / "work")
    top = compute_pareto_front(study).pareto[:2]
    added = confirm_candidates(study, top, runner, settings)
    assert sorted(added) == sorted(p.number for p in top)
    for entries in added.values():
        assert [e.path for e in entries] == ["full", "light", "mixed"]  # the routed run: the C, host-timed
        passes, routed = entries[:2], entries[2]
        assert all(e.ok and e.measured_latency_ms > 0 and e.repeats == 50 and e.comparison is Comparison.RANKING for e in passes)
        assert all(e.error_pct == pytest.approx((e.measured_latency_ms / e.predicted_latency_ms - 1) * 100) for e in entries)
        assert routed.ok and routed.repeats == routed.extra["segments"] > 0 and 0.0 <= routed.extra["light_usage"] <= 1.0
        assert routed.measured_latency_ms_p10 <= routed.extra["median_ms"] <= routed.measured_latency_ms_p90

    confirm_candidates(study, top[:1], runner, settings)
    front = compute_pareto_front(study)
    first, second = front.point(top[0].number), front.point(top[1].number)
    assert len(first.confirmations) == 6 and len(second.confirmations) == 3
    full = next(s for s in summarise_confirmations(first.confirmations) if s.path == "full")
    assert (full.runs, full.repeats) == (2, 100)
    assert full.predicted_latency_ms == pytest.approx(first.record.cost.latency_ms.full)  # the prediction is unchanged
    files = write_report(study, tmp_path / "report")
    page = files.html.read_text()
    stored = {p["trial"]: p["confirmations"] for p in json.loads(files.json.read_text())["points"]}
    assert [c["runs"] for c in stored[top[0].number]] == [2, 2, 2] and stored[top[0].number][0]["comparison"] == "ranking"
    assert "Predicted vs measured" in page and "whether the model orders the candidates" in page


def test_a_failing_runner_records_the_reason_and_keeps_the_prediction(tmp_path: Path, study: optuna.Study) -> None:
    runner = build_runner("command", RunnerOptions(command="sh -c 'echo board unreachable >&2; exit 3'"))
    point = compute_pareto_front(study).pareto[0]
    confirm_candidates(study, [point], runner, ConfirmSettings(tmp_path / "work", device="board-7"))
    after = compute_pareto_front(study).point(point.number)
    assert after.record == point.record and after.values == point.values
    assert [e.path for e in after.confirmations] == ["full", "light"]
    for entry in after.confirmations:
        assert not entry.ok and entry.measured_latency_ms is None and entry.comparison is Comparison.ABSOLUTE
        assert "exit status 3" in entry.failure and "board unreachable" in entry.failure
        assert entry.device == "board-7" and entry.predicted_latency_ms > 0
    exported = load_model(RunConfig, write_run_config(export_run_config(study, point.number), tmp_path / "chosen.yaml"))
    measured = exported.provenance["measured"]
    assert [m["path"] for m in measured] == ["full", "light"] and all(m["measured_latency_ms"] is None for m in measured)
    assert all("board unreachable" in m["failures"][0] and m["comparison"] == "absolute" for m in measured)


def test_a_profile_for_the_measured_device_gives_an_absolute_comparison(tmp_path: Path, study: optuna.Study) -> None:
    replay = tmp_path / "board.csv"
    point = compute_pareto_front(study).pareto[0]
    name = point.name
    replay.write_text(f"artifact,latency_ms\n{name}-full:onnx,14.0\n")  # the light path is missing from the CSV
    runner = build_runner("replay", RunnerOptions(csv_path=str(replay)))
    entries = confirm_candidates(study, [point], runner, ConfirmSettings(tmp_path / "work", profile="a32-paper"))[point.number]
    full, light = entries
    assert full.ok and full.measured_latency_ms == 14.0 and full.comparison is Comparison.ABSOLUTE
    assert full.predicted_profile == "a32-paper" and full.predicted_latency_ms != point.record.cost.latency_ms.full
    assert not light.ok and "not in replay CSV" in light.failure


def test_runner_flags_that_do_not_apply_are_user_errors() -> None:
    with pytest.raises(UserError, match="--replay does not apply to the local runner"):
        build_runner("local", RunnerOptions(csv_path="x.csv"))
    with pytest.raises(UserError, match="unknown runner"):
        build_runner("ssh")


class _PatternRunner(RoutedRunner):
    """A routed runner whose switch takes full, full, light, light, ... (no board needed)."""

    name = "pattern"

    def measure(self, artifact: Artifact) -> Measurement:
        return Measurement(artifact.key, 1.0, 0.9, 1.1, 3, self.name)

    def run_routed(self, info: CExportInfo, segments: np.ndarray) -> RoutedRun:
        paths = tuple(PATH_LIGHT if i % 4 >= 2 else PATH_FULL for i in range(len(segments)))
        return RoutedRun(paths, tuple(1.0 for _ in paths))


def test_the_mixed_runs_prediction_is_priced_under_its_measured_routing(tmp_path: Path, study: optuna.Study) -> None:
    """The mixed entry's predicted energy is the mixed pass's under the measured routing, not the full pass's."""
    point = compute_pareto_front(study).pareto[0]
    settings = ConfirmSettings(tmp_path / "work", profile="a32-paper", mixed_clips=2, mixed_clip_seconds=0.5)
    full, light, mixed = confirm_candidates(study, [point], _PatternRunner(), settings)[point.number]
    assert mixed.path == "mixed" and mixed.ok and mixed.extra["light_usage"] == 0.5
    routing = mixed.extra["routing"]
    replays = {Part(t): v for t, v in routing["replayed_frames_per_s"].items()}
    want = ProfileCostModel(load_profile("a32-paper")).predict(
        point.record.candidate, RoutingSummary(0.5, routing["mask_sparsity"], replays, routing["switch_backs_per_s"]))
    assert mixed.predicted_energy_uj == pytest.approx(want.energy_per_inference_uj.mixed)
    assert mixed.predicted_latency_ms == pytest.approx(want.latency_ms.mixed)
    assert mixed.predicted_energy_uj != pytest.approx(full.predicted_energy_uj)
    replay_uj = mixed.predicted_energy_uj - (full.predicted_energy_uj + light.predicted_energy_uj) / 2
    warm = point.record.candidate.dsl.state_policy == "warm"
    assert (replay_uj > 1e-9) == (warm and sum(replays.values()) > 0) and replay_uj >= -1e-9


class _CountingRunner(_PatternRunner):
    """The pattern runner, remembering how many segments each routed run streamed."""

    def __init__(self) -> None:
        self.streamed: list[int] = []

    def run_routed(self, info: CExportInfo, segments: np.ndarray) -> RoutedRun:
        self.streamed.append(len(segments))
        return super().run_routed(info, segments)


def test_the_routed_run_streams_the_studys_own_held_out_clips_when_asked(tmp_path: Path, study: optuna.Study) -> None:
    from dslnas.search.pareto import search_config_of
    from dslnas.trainers.data import evaluation_clips, load_dataset

    point, runner = compute_pareto_front(study).pareto[0], _CountingRunner()
    mixed = {}
    for audio in (ConfirmAudio.DEMO, ConfirmAudio.STUDY):
        settings = ConfirmSettings(tmp_path / audio.value, profile="a32-paper", mixed_clips=2, mixed_clip_seconds=0.5,
                                   audio=audio)
        mixed[audio] = confirm_candidates(study, [point], runner, settings)[point.number][2]
    assert all(m.ok for m in mixed.values())
    assert mixed[ConfirmAudio.DEMO].extra["audio"].startswith("generated demo audio: 2 clips of 0.5 s")
    assert mixed[ConfirmAudio.STUDY].extra["audio"].startswith("the study's ")
    candidate = point.record.candidate
    rate, segment = candidate.encoder.sample_rate_hz, candidate.segment_samples
    config = search_config_of(study)
    data = config.data or config.space.finetune.data
    held_out = evaluation_clips(load_dataset(data, rate, min_samples=segment), data, rate, all_when_none_held_out=True)
    assert runner.streamed == [rate // segment, sum(c.num_samples for c in held_out) // segment]
