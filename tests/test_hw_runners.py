"""Export of deployable artifacts and the device runners (local, command, replay).

The "board" of the command runner is a small Python script written to tmp_path; it behaves by the
artifact name it is given (ok / hang / fail / garbage) so one template covers every failure.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from dslnas.hw_models.runners.artifact import Artifact, ArtifactFormat, ExportError, ExportPart
from dslnas.hw_models.runners.convert import check_artifact, export_paths, part_modules
from dslnas.hw_models.runners.base import Measurement, MeasurementError, MeasurementFailure, measure_all
from dslnas.hw_models.runners.command import CommandRunner
from dslnas.hw_models.runners.local import LocalRunner
from dslnas.hw_models.runners.local_worker import ONNX, TORCHSCRIPT
from dslnas.hw_models.runners.registry import RUNNERS, get_runner, runner_class, runner_options
from dslnas.hw_models.runners.routed import RoutedRunner
from dslnas.hw_models.runners.replay import ReplayRunner, write_replay_csv
from dslnas.spaces.candidate import CandidateConfig, DSLConfig, EncoderArch
from dslnas.spaces.errors import ConfigError, DataError, UserError
from dslnas.trainers.codec import build_codec

TINY = CandidateConfig(
    name="tiny",
    encoder=EncoderArch(stem_channels=2, block_channels=(4, 4), block_strides=(2, 2), embedding_dim=4),
    dsl=DSLConfig(switch_depth=1, light_widths=(2, 2), segment_frames=2),
)

BOARD = textwrap.dedent("""
    import json, sys, time
    artifact, name, fmt, shape = sys.argv[1:5]
    if name == "hang":
        time.sleep(60)
    if name == "fail":
        sys.stderr.write("board on fire\\n")
        sys.exit(1)
    if name == "garbage":
        print("latency: fast, very fast")
        sys.exit(0)
    print("connecting to board...")
    print(json.dumps({"latency_ms": 2.0, "p10": 1.5, "p90": 2.5, "repeats": 10, "power_mw": 3.0,
                      "argv": [artifact, name, fmt, shape]}))
""")


@pytest.fixture(scope="module")
def codec():
    torch.manual_seed(0)
    model = build_codec(TINY)
    with torch.no_grad():  # weights other than the fresh init, to see them travel into the artifacts
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


@pytest.fixture(scope="module")
def artifacts(codec, tmp_path_factory) -> dict[tuple[str, str], Artifact]:
    out = export_paths(codec, tmp_path_factory.mktemp("artifacts"))
    return {(a.name.split("-", 1)[1], a.fmt.value): a for a in out}


def _run_onnx(artifact: Artifact, x: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(str(artifact.path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})


def _run_torchscript(artifact: Artifact, x: np.ndarray) -> list[np.ndarray]:
    out = torch.jit.load(str(artifact.path))(torch.from_numpy(x))
    return [t.detach().numpy() for t in (out if isinstance(out, tuple) else (out,))]


def test_export_writes_every_part_in_every_format(artifacts):
    assert set(artifacts) == {(p.value, f.value) for p in ExportPart for f in ArtifactFormat}
    assert {ONNX, TORCHSCRIPT} == {f.value for f in ArtifactFormat}  # the worker's literals stay in sync
    full = artifacts[("full", "onnx")]
    assert full.input_shape == (1, 1, TINY.segment_samples) and full.path.is_file()
    assert full.key == "tiny-full:onnx"
    assert artifacts[("full_tail", "torchscript")].input_shape == (1, 4, 4)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("fmt", [f.value for f in ArtifactFormat])
@pytest.mark.parametrize("part", [p.value for p in ExportPart])
def test_artifact_matches_eager_module(codec, artifacts, part, fmt):
    module, shape = part_modules(codec.encoder)[ExportPart(part)]
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        eager = module(torch.from_numpy(x))
    want = [t.numpy() for t in (eager if isinstance(eager, tuple) else (eager,))]
    got = (_run_onnx if fmt == "onnx" else _run_torchscript)(artifacts[(part, fmt)], x)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-5, rtol=1e-4)


def test_full_and_light_artifacts_compute_the_encoder_paths(codec, artifacts):
    x = np.random.default_rng(4).standard_normal((1, 1, TINY.segment_samples)).astype(np.float32)
    with torch.no_grad():
        encoded = codec.encoder.eval()(torch.from_numpy(x))
    for path, want in (("full", encoded.full), ("light", encoded.light)):
        embedding, predicted = _run_onnx(artifacts[(path, "onnx")], x)
        np.testing.assert_allclose(embedding, want.numpy(), atol=1e-5)
        np.testing.assert_allclose(predicted, encoded.predicted.numpy(), atol=1e-5)


def test_check_artifact_rejects_a_different_module(codec, artifacts):
    light_module, _ = part_modules(codec.encoder)[ExportPart.LIGHT]
    with pytest.raises(ExportError, match="tiny-full:onnx"):
        check_artifact(artifacts[("full", "onnx")], light_module)


@pytest.mark.parametrize("fmt", [f.value for f in ArtifactFormat])
def test_local_runner_reports_median_and_spread(artifacts, fmt):
    result = LocalRunner(warmup=2, repeats=50).measure(artifacts[("full", fmt)])
    assert result.artifact == f"tiny-full:{fmt}" and result.runner == "local" and result.repeats == 50
    assert 0 < result.latency_ms_p10 <= result.latency_ms_median <= result.latency_ms_p90
    assert result.power_mw is None and len(result.extra["latency_ms_samples"]) == 50
    assert result.extra["threads"] == 1


def test_local_runner_settings_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="at least 50"):
        LocalRunner(repeats=10)
    missing = Artifact("gone", tmp_path / "gone.onnx", ArtifactFormat.ONNX, (1, 1, 8))
    with pytest.raises(MeasurementError, match="gone:onnx"):
        LocalRunner().measure(missing)


def test_local_runner_reports_a_broken_artifact(tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(MeasurementError, match="broken:onnx.*exit status"):
        LocalRunner().measure(Artifact("broken", broken, ArtifactFormat.ONNX, (1, 1, 8)))


@pytest.fixture
def board(tmp_path) -> list[str]:
    script = tmp_path / "board.py"
    script.write_text(BOARD)
    return [sys.executable, str(script), "{artifact}", "{name}", "{format}", "{input_shape}"]


def _fake(tmp_path: Path, name: str) -> Artifact:
    return Artifact(name, tmp_path / f"{name}.onnx", ArtifactFormat.ONNX, (1, 1, 8))


def test_command_runner_fills_placeholders_and_parses_the_report(board, tmp_path):
    result = CommandRunner(board).measure(_fake(tmp_path, "ok"))
    assert (result.latency_ms_median, result.latency_ms_p10, result.latency_ms_p90) == (2.0, 1.5, 2.5)
    assert (result.repeats, result.power_mw, result.runner) == (10, 3.0, "command")
    assert result.extra["device"]["argv"] == [str(tmp_path / "ok.onnx"), "ok", "onnx", "1,1,8"]


@pytest.mark.parametrize("name, message", [
    ("hang", "timed out after 0.5 s"), ("fail", "exit status 1.*board on fire"), ("garbage", "no JSON object"),
])
def test_command_runner_failures_name_the_artifact(board, tmp_path, name, message):
    with pytest.raises(MeasurementError, match=f"measuring {name}:onnx: {message}"):
        CommandRunner(board, timeout_s=0.5).measure(_fake(tmp_path, name))


def test_measure_all_keeps_going_after_failures(board, tmp_path):
    names = ["ok", "hang", "fail", "garbage", "ok2"]
    seen: list = []
    results = measure_all(CommandRunner(board, timeout_s=0.5), [_fake(tmp_path, n) for n in names], seen.append)
    assert [type(r) for r in results] == [Measurement, MeasurementFailure, MeasurementFailure, MeasurementFailure, Measurement]
    assert [r.artifact for r in results] == [f"{n}:onnx" for n in names] and seen == results


@pytest.mark.parametrize("report, message", [
    ({"p10": 1.0}, "no 'latency_ms'"), ({"latency_ms": "fast"}, "not a finite number"),
    ({"latency_ms": 2.0, "p10": 3.0, "p90": 4.0}, "p10 <= median"), ({"latency_ms": 1.0, "repeats": 0.5}, "positive integer"),
])
def test_command_runner_rejects_bad_reports(tmp_path, report, message):
    cmd = [sys.executable, "-c", f"print({json.dumps(json.dumps(report))})"]
    with pytest.raises(MeasurementError, match=message):
        CommandRunner(cmd).measure(_fake(tmp_path, "x"))


def test_command_runner_without_spread_says_so(tmp_path):
    result = CommandRunner([sys.executable, "-c", "print('{\"latency_ms\": 3.5}')"]).measure(_fake(tmp_path, "x"))
    assert result.latency_ms_p10 == result.latency_ms_median == result.latency_ms_p90 == 3.5
    assert result.extra["spread_reported"] is False and result.repeats == 1


def test_command_template_is_checked():
    with pytest.raises(ConfigError, match="unknown placeholder.*artefact"):
        CommandRunner(["run", "{artefact}"])
    with pytest.raises(ConfigError, match="list of arguments"):
        CommandRunner("ssh board run {artifact}")
    CommandRunner(["run", '{"json": 1}', "{artifact}"])  # literal braces are not placeholders


def test_replay_round_trip(board, tmp_path):
    measured = measure_all(CommandRunner(board), [_fake(tmp_path, "ok"), _fake(tmp_path, "ok2")])
    csv_path = write_replay_csv(measured, tmp_path / "runs" / "measured.csv")
    replay = ReplayRunner(csv_path)
    for original, artifact in zip(measured, [_fake(tmp_path, "ok"), _fake(tmp_path, "ok2")]):
        again = replay.measure(artifact)
        assert (again.artifact, again.latency_ms_median, again.latency_ms_p10, again.latency_ms_p90) == (
            original.artifact, original.latency_ms_median, original.latency_ms_p10, original.latency_ms_p90)
        assert (again.repeats, again.power_mw, again.runner) == (original.repeats, original.power_mw, "replay")
        assert again.extra["measured_by"] == "command"


def test_replay_unknown_artifact_and_bad_files(tmp_path):
    csv_path = tmp_path / "m.csv"
    csv_path.write_text("artifact,latency_ms,power_mw\ntiny-full:onnx,1.5,\n")
    replay = ReplayRunner(csv_path)
    assert replay.measure(_fake(tmp_path, "tiny-full")).power_mw is None
    with pytest.raises(MeasurementError, match="tiny-light:onnx.*it has: tiny-full:onnx"):
        replay.measure(_fake(tmp_path, "tiny-light"))
    (tmp_path / "bad.csv").write_text("name,latency_ms\nx,1\n")
    with pytest.raises(DataError, match="lacks column.*artifact"):
        ReplayRunner(tmp_path / "bad.csv")
    (tmp_path / "dup.csv").write_text("artifact,latency_ms\nx,1\nx,2\n")
    with pytest.raises(DataError, match="twice"):
        ReplayRunner(tmp_path / "dup.csv")
    with pytest.raises(DataError, match="cannot read"):
        ReplayRunner(tmp_path / "absent.csv")


def test_registry_fails_loudly(tmp_path):
    with pytest.raises(UserError, match="unknown runner 'adb'; valid: command, local, replay"):
        get_runner("adb")
    with pytest.raises(ConfigError, match="unknown option.*thread.*valid: threads"):
        get_runner("local", thread=2)
    assert "command" in runner_options("command")


def _contract_factories(tmp_path: Path, board: list[str], artifact: Artifact) -> dict:
    csv_path = tmp_path / "contract.csv"
    csv_path.write_text(f"artifact,latency_ms,p10,p90,repeats\n{artifact.key},1.0,0.9,1.2,50\n")
    return {
        "local": lambda: get_runner("local", warmup=1, repeats=50),
        "command": lambda: get_runner("command", command=board),
        "replay": lambda: get_runner("replay", csv_path=csv_path),
        "unicorn-arm": lambda: get_runner("unicorn-arm", segments=2),
        "unicorn-pair": lambda: get_runner("unicorn-pair", segments=2),
    }


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_every_runner_keeps_the_contract(name, artifacts, board, tmp_path):
    artifact = artifacts[("light_tail", "onnx")]
    factories = _contract_factories(tmp_path, board, artifact)
    assert set(factories) == set(RUNNERS), "a new runner needs a contract factory here"
    runner = factories[name]()
    if getattr(runner, "unavailable_reason", lambda: None)():  # an emulated board without its cross compiler
        pytest.skip(runner.unavailable_reason())
    result = runner.measure(artifact)
    assert isinstance(result, Measurement) and result.runner == runner.name == name
    assert result.artifact == artifact.key and result.repeats >= 1
    assert 0 < result.latency_ms_p10 <= result.latency_ms_median <= result.latency_ms_p90


def test_export_rejects_unknown_formats_and_parts(tmp_path):
    with pytest.raises(UserError, match="unknown artifact format 'tflite'; valid: onnx, torchscript"):
        export_paths(TINY, tmp_path, formats=("tflite",))
    with pytest.raises(UserError, match="unknown export part 'tail'"):
        export_paths(TINY, tmp_path, parts=("tail",))


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_a_runner_that_streams_routed_programs_is_a_routed_runner(name):
    """The routed interface is the ABC's, never duck typing: ``run_routed`` only on a ``RoutedRunner``."""
    cls = runner_class(name)
    assert hasattr(cls, "run_routed") == issubclass(cls, RoutedRunner)
    if issubclass(cls, RoutedRunner):
        assert not getattr(cls.run_routed, "__isabstractmethod__", False)
