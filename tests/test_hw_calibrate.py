"""Calibration: the suite, the by-candidate CV, the fit on synthetic replays, a real local run, the CLI's errors.

The "board" of the command-runner test is a small Python script that reports a latency from the artifact's
file size and fails for one artifact, so the calibration must skip that one and go on.
"""

from __future__ import annotations

import json
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from dslnas.hw_models import calibrate as cal
from dslnas.hw_models.calibrate import (
    OP_GROUPS, CalibrationSettings, candidate_folds, cross_validate, fit_power, run_calibration,
)
from dslnas.hw_models.calibration_suite import (
    PART_PATHS, TINY_RANGES, CalibrationSample, SuiteKind, calibration_suite, part_layers, planned_suite_artifacts,
)
from dslnas.hw_models.cost import ProfileCostModel
from dslnas.hw_models.runners.artifact import ArtifactFormat, ExportPart
from dslnas.hw_models.latency_model import TERMS, latency_ms, layer_latency_ms
from dslnas.hw_models.op_count import count_candidate
from dslnas.hw_models.power_model import energy_per_inference_mj
from dslnas.hw_models.profile import OpLatency, PowerCoefficients, load_profile
from dslnas.hw_models.runners.base import Measurement
from dslnas.hw_models.runners.replay import ReplayRunner, write_replay_csv
from dslnas.search.cli import calibrate as cli_calibrate
from dslnas.hw_models.runners.registry import parse_command
from dslnas.spaces.candidate import CandidateConfig
from dslnas.spaces.errors import UserError
from dslnas.spaces.presets import candidate_preset

# Known per-group coefficients for the synthetic replays (every term non-zero, so each must be recovered).
TRUE_GROUPS = {
    "conv": OpLatency(ns_per_op=0.4, ns_per_act_byte=0.05, ns_per_weight_byte=0.3, us_per_layer=1.5),
    "linear": OpLatency(ns_per_op=0.8, ns_per_act_byte=0.1, ns_per_weight_byte=0.2, us_per_layer=2.0),
    "eltwise": OpLatency(ns_per_op=0.2, ns_per_act_byte=0.02, us_per_layer=0.8),
    "exp_act": OpLatency(ns_per_op=1.5, ns_per_act_byte=0.02, us_per_layer=1.0),
    "reduce": OpLatency(ns_per_op=0.3, ns_per_act_byte=0.01, us_per_layer=0.9),
    "movement": OpLatency(ns_per_act_byte=0.1, us_per_layer=0.5),
}
TRUE = {op: TRUE_GROUPS[group] for op, group in OP_GROUPS.items()}
BOARD = textwrap.dedent("""
    import json, os, sys
    path, name = sys.argv[1:3]
    if name == "cal-s0-001-light":
        sys.stderr.write("board on fire\\n")
        sys.exit(3)
    print(json.dumps({"latency_ms": 0.01 + os.path.getsize(path) / 1e6, "repeats": 50}))
""")


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    cli_calibrate.register(app)
    app.command("noop")(lambda: None)  # a second command keeps `calibrate` a subcommand
    return app


def run(app: typer.Typer, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["calibrate", *map(str, args)])
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def test_suite_is_varied_valid_and_deterministic() -> None:
    suite = calibration_suite(40, seed=0)
    assert suite == calibration_suite(40, seed=0) and suite != calibration_suite(40, seed=1)
    assert len({c.name for c in suite}) == 40
    assert len({c.model_copy(update={"name": ""}).model_dump_json() for c in suite}) == 40  # no duplicates
    assert all(CandidateConfig.model_validate(c.model_dump()) == c for c in suite)
    arch = [c.encoder for c in suite]
    assert len({a.n_blocks for a in arch}) >= 3 and len({a.residual_kernel for a in arch}) >= 3
    assert len({len(a.residual_dilations) for a in arch}) >= 3 and len({a.block_channels[-1] for a in arch}) >= 5
    assert len({c.dsl.switch_depth for c in suite}) >= 4 and len({w for c in suite for w in c.dsl.light_widths}) >= 4
    assert len({c.dsl.segment_frames for c in suite}) >= 3 and len({a.stem_channels for a in arch}) >= 3


def test_suite_rejects_an_empty_size() -> None:
    with pytest.raises(UserError, match="at least 1"):
        calibration_suite(0)


def test_pass_layers_are_the_paths_the_cost_model_sums() -> None:
    counts = count_candidate(candidate_preset("paper"))
    full = part_layers(counts, ExportPart.FULL)
    assert PART_PATHS[ExportPart.FULL] == ("base", "mask", "switch", "full")
    assert len(full) == sum(len(counts.paths[p].layers) for p in ("base", "mask", "switch", "full"))


def test_candidate_folds_partition_the_candidates() -> None:
    names = [f"c{i}" for i in range(11)] * 2  # two samples per candidate
    folds = candidate_folds(names, 3, seed=4)
    flat = [n for fold in folds for n in fold]
    assert sorted(flat) == sorted(set(names)) and len(flat) == len(set(flat))
    assert {len(f) for f in folds} <= {3, 4} and folds == candidate_folds(names, 3, seed=4)
    with pytest.raises(UserError, match="folds"):
        candidate_folds(names, 12)


def _synthetic_samples(suite: list[CandidateConfig], parts: tuple[ExportPart, ...]) -> list[CalibrationSample]:
    samples = []
    for candidate in suite:
        counts = count_candidate(candidate)
        for part in parts:
            layers = part_layers(counts, part)
            samples.append(CalibrationSample(candidate.name, part.value, layers, latency_ms(layers, TRUE)))
    return samples


def test_cv_never_fits_on_a_held_out_candidate(monkeypatch: pytest.MonkeyPatch) -> None:
    samples = _synthetic_samples(calibration_suite(6, seed=2, ranges=TINY_RANGES), (ExportPart.FULL, ExportPart.LIGHT))
    trained_on: list[set[str]] = []
    real_fit = cal.fit_latency

    def spy(train, groups=OP_GROUPS):
        trained_on.append({s.candidate for s in train})
        return real_fit(train, groups)

    monkeypatch.setattr(cal, "fit_latency", spy)
    cv = cross_validate(samples, folds=3)
    assert len(trained_on) == 3 and len(cv.predictions) == len(samples)
    for prediction in cv.predictions:
        assert prediction.candidate not in trained_on[prediction.fold]
        assert {s.part for s in samples if s.candidate == prediction.candidate} <= {p.part for p in cv.predictions}


def test_fit_on_synthetic_replay_recovers_known_coefficients(tmp_path: Path) -> None:
    settings = CalibrationSettings(suite_size=12, folds=3, rounds=1, ranges=TINY_RANGES, parts=tuple(ExportPart))
    suite = calibration_suite(settings.suite_size, settings.seed, settings.ranges)
    planned = planned_suite_artifacts(suite, ArtifactFormat.ONNX, settings.parts)
    samples = {(s.candidate, s.part): s.latency_ms for s in _synthetic_samples(suite, settings.parts)}
    rows = [Measurement(p.artifact.key, samples[(p.candidate, p.part.value)], samples[(p.candidate, p.part.value)],
                        samples[(p.candidate, p.part.value)], 50, "synthetic") for p in planned]
    csv = write_replay_csv(rows, tmp_path / "synthetic.csv")
    result = run_calibration(ReplayRunner(csv), settings, str(tmp_path))
    assert result.cv.stats().mape_pct < 0.1 and result.cv.stats().within_5pct_share == 1.0
    assert result.fit.mape_pct < 0.01 and not result.failures
    for term in TERMS:  # conv layers vary ops, activation bytes, weights and count independently: every term returns
        assert getattr(result.latency["conv"], term) == pytest.approx(getattr(TRUE["conv"], term), rel=1e-3, abs=1e-6)
    # element-wise ops have activation bytes proportional to their element ops, so only each layer's total is
    # identifiable; the DSL head's ops (mean, amax, linear, ...) always come together, so only their sum is.
    layers = [layer for s in result.samples for layer in s.layers if layer.op_type in ("conv", "elu", "add", "pad")]
    for layer in layers:
        assert layer_latency_ms(layer, result.latency) == pytest.approx(layer_latency_ms(layer, TRUE), rel=1e-3)
    head = [s.layers for s in result.samples if s.part == "switch"]
    assert [latency_ms(h, result.latency) for h in head] == pytest.approx([latency_ms(h, TRUE) for h in head], rel=1e-3)


def test_replay_cli_refits_saved_measurements(app: typer.Typer, tmp_path: Path) -> None:
    suite = calibration_suite(6, seed=0, ranges=TINY_RANGES)
    parts = (ExportPart.FULL, ExportPart.LIGHT)
    truth = {(s.candidate, s.part): s.latency_ms for s in _synthetic_samples(suite, parts)}
    rows = [Measurement(p.artifact.key, truth[(p.candidate, p.part.value)], truth[(p.candidate, p.part.value)],
                        truth[(p.candidate, p.part.value)], 50, "synthetic")
            for p in planned_suite_artifacts(suite, ArtifactFormat.ONNX, parts)]
    csv = write_replay_csv(rows, tmp_path / "saved.csv")
    out = tmp_path / "replayed.yaml"
    code, stdout, _ = run(app, "--runner", "replay", "--replay", csv, "--suite", "tiny", "--suite-size", 6,
                          "--folds", 3, "--rounds", 1, "--out", out, "--json")
    payload = json.loads(stdout)
    assert code == 0 and payload["n_samples"] == 12 and payload["cv"]["headline"]["mape_pct"] < 0.5
    assert load_profile(out).provenance.runner == "replay"


def test_local_calibration_writes_a_profile_that_prices_candidates(app: typer.Typer, tmp_path: Path) -> None:
    out, saved = tmp_path / "host.yaml", tmp_path / "host.csv"
    code, stdout, err = run(app, "--runner", "local", "--suite", SuiteKind.TINY.value, "--suite-size", 4, "--folds", 2,
                            "--rounds", 1, "--repeats", 50, "--warmup", 2, "--out", out, "--save-measurements", saved, "--json")
    assert code == 0, err
    payload = json.loads(stdout)
    assert payload["n_samples"] == 8 and payload["cv"]["folds"] == 2 and not payload["failures"]
    profile = load_profile(out)
    prov = profile.provenance
    assert prov.runner == "local" and prov.n_samples == 8 and prov.cv_folds == 2
    assert prov.cv_mape_pct == pytest.approx(payload["cv"]["headline"]["mape_pct"])
    assert "x86_64" in prov.device or "aarch64" in prov.device
    assert profile.unit().power == load_profile("a32-paper").unit().power and "copied" in prov.notes
    cost = ProfileCostModel(profile).predict(candidate_preset("demo"), 0.5)
    assert cost.latency_ms.full > 0 and cost.latency_ms.light > 0 and cost.power_mw.full > 0  # a 4-candidate fit: no ranking
    assert len(ReplayRunner(saved).rows) == 8


def test_a_failed_measurement_is_skipped_and_reported(app: typer.Typer, tmp_path: Path) -> None:
    board = tmp_path / "board.py"
    board.write_text(BOARD)
    command = json.dumps([sys.executable, str(board), "{artifact}", "{name}"])
    out = tmp_path / "board.yaml"
    code, stdout, err = run(app, "--runner", "command", "--command", command, "--suite", "tiny", "--suite-size", 4,
                            "--folds", 2, "--rounds", 1, "--out", out, "--json")
    assert code == 0, err
    payload = json.loads(stdout)
    assert [f["artifact"] for f in payload["failures"]] == ["cal-s0-001-light:onnx"]
    assert "exit status 3" in payload["failures"][0]["reason"] and "skipped cal-s0-001-light:onnx" in err
    assert payload["n_samples"] == 7 and load_profile(out).provenance.n_samples == 7


@pytest.mark.parametrize(("args", "message"), [
    (("--runner", "bogus"), "unknown runner 'bogus'; valid: command, local, replay"),
    (("--runner", "local", "--suite-size", "0"), "--suite-size must be at least 1, got 0"),
    (("--runner", "local", "--suite-size", "3", "--folds", "5"), "--suite-size (3) must be at least --folds (5)"),
    (("--runner", "local", "--folds", "1"), "--folds must be at least 2"),
    (("--runner", "replay", "--replay", "/nonexistent/m.csv"), "cannot read replay CSV /nonexistent/m.csv"),
    (("--runner", "replay"), "the replay runner needs --replay"),
    (("--runner", "command"), "the command runner needs --command"),
    (("--runner", "replay", "--replay", "x.csv", "--threads", "2"), "--threads does not apply to the replay runner"),
    (("--runner", "local", "--repeats", "10"), "repeats must be at least 50"),
    (("--runner", "command", "--command", "[1, 2]"), "--command as JSON must be a list of strings"),
])
def test_bad_input_is_a_one_line_error(app: typer.Typer, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    code, stdout, err = run(app, *args, "--out", tmp_path / "p.yaml")
    assert code == 2 and stdout == ""
    assert err.startswith("error:") and message in err and "Traceback" not in err


def test_out_must_be_yaml(app: typer.Typer, tmp_path: Path) -> None:
    code, _, err = run(app, "--runner", "local", "--out", tmp_path / "profile.txt")
    assert code == 2 and "--out must be a .yaml file" in err


def test_command_accepts_a_shell_style_string() -> None:
    assert parse_command("ssh board 'run model' {artifact}") == ["ssh", "board", "run model", "{artifact}"]
    assert parse_command('["a b", "{name}"]') == ["a b", "{name}"]


def test_measured_power_is_fitted_and_absent_power_copies_the_base() -> None:
    truth = PowerCoefficients(static_mw=3.0, active_mw=50.0, pj_per_op=4.0, pj_per_act_byte=1.0, pj_per_weight_byte=20.0)
    samples = _synthetic_samples(calibration_suite(8, seed=3, ranges=TINY_RANGES), tuple(ExportPart))
    with_power = [replace(s, power_mw=energy_per_inference_mj(s.layers, s.latency_ms, truth) / (s.latency_ms * 1e-3))
                  for s in samples]
    fitted = fit_power(with_power, static_mw=3.0)
    assert fitted is not None and fitted.active_mw == pytest.approx(50.0, rel=1e-3)
    assert fitted.pj_per_weight_byte == pytest.approx(20.0, rel=1e-2)
    assert fit_power(samples, static_mw=3.0) is None  # no measured power: the caller copies a base profile's
