"""The C export cross-compiled for a Cortex-A32 and run on the emulated core (Unicorn), and the ``unicorn-arm`` runner.

Parity with PyTorch on the emulator (forced full, forced light, routed under ``warm``), exact instruction
counting (the block hook agrees with a per-instruction hook), the sparsity skip saving instructions, and
the runner converting ONNX and TorchScript artifacts into the same program and the same counts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from test_c_export import PRESETS, candidate_at, encoder_at, mixed_threshold, offline, routed_reference, segment_audio
from unicorn import UC_HOOK_CODE

from dslnas.hw_models.c_export import PATH_FULL, PATH_LIGHT, export_c
from dslnas.hw_models.c_export.toolchain import ARM_CC, build_arm_image, missing_compiler
from dslnas.hw_models.runners.artifact import Artifact, ArtifactFormat
from dslnas.hw_models.runners.base import MeasurementError
from dslnas.hw_models.runners.convert import export_paths
from dslnas.hw_models.runners.emulated_arm import DEFAULT_CLOCK_MHZ, EmulatedArmRunner
from dslnas.hw_models.runners.registry import get_runner
from dslnas.hw_models.runners.unicorn_board import EmulatedArmCore, load_image
from dslnas.spaces.candidate import CandidateConfig, DSLConfig, EncoderArch
from dslnas.spaces.errors import ConfigError
from dslnas.trainers.codec import build_codec

ATOL = 1e-4
SEGMENTS = {"demo": 6, "paper": 4}  # routed runs; forced runs use the first two
TINY = CandidateConfig(
    name="tiny",
    encoder=EncoderArch(stem_channels=2, block_channels=(4, 4), block_strides=(2, 2), embedding_dim=4),
    dsl=DSLConfig(switch_depth=1, light_widths=(2, 2), segment_frames=2),
)

pytestmark = pytest.mark.skipif(missing_compiler(ARM_CC) is not None,
                                reason=f"the emulated ARM board needs {missing_compiler(ARM_CC)}")


def _core(info, image) -> EmulatedArmCore:
    core = EmulatedArmCore(image, info.in_floats, (info.out_channels, info.out_frames))
    core.init()
    return core


def _run(info, image, segments: np.ndarray, force: int) -> list:
    core = _core(info, image)
    return [core.segment(x, force) for x in segments]


@pytest.mark.parametrize("preset", ["demo", "paper"])
def test_emulated_core_matches_pytorch_and_counts_each_path(preset, tmp_path):
    depth = PRESETS[preset]().dsl.switch_depth
    encoder = encoder_at(preset, depth)
    segments = segment_audio(encoder.candidate, SEGMENTS[preset])
    ref = offline(encoder, segments)
    tau = mixed_threshold(ref["predicted"])
    info = export_c(encoder, None, tmp_path, tau, state_policy="warm")
    image = load_image(build_arm_image(info))
    counts = {}
    for force, name in ((PATH_FULL, "full"), (PATH_LIGHT, "light")):
        runs = _run(info, image, segments[:2], force)
        got = np.concatenate([r.output for r in runs], axis=-1)
        want = ref[name][:, : got.shape[-1]]
        assert float(np.abs(got - want).max()) <= ATOL, f"{preset} {name} on the emulated core"
        assert float(np.abs(np.array([r.predicted for r in runs]) - ref["predicted"][:2]).max()) <= ATOL
        counts[name] = [r.instructions for r in runs]
    routed = _run(info, image, segments, 0)
    paths = np.array([r.path for r in routed])
    np.testing.assert_array_equal(paths, np.where(ref["predicted"] < tau, PATH_LIGHT, PATH_FULL))
    for r, want in zip(routed, routed_reference(encoder, ref, paths, "warm")):
        assert float(np.abs(r.output - want).max()) <= ATOL
    print(f"\n{preset} instructions per segment: full {counts['full']}, light {counts['light']}, "
          f"routed {[(r.path, r.instructions) for r in routed]}")
    assert min(counts["full"]) > max(counts["light"]) > 0
    back = [i for i in range(1, len(paths)) if paths[i] != paths[i - 1]]
    forced = {PATH_FULL: max(counts["full"]), PATH_LIGHT: max(counts["light"])}
    assert back and all(routed[i].instructions > forced[paths[i]] for i in back)  # a warm switch-back replays


@pytest.mark.parametrize("native", [True, False])
def test_block_counts_equal_per_instruction_counts(native, tmp_path):
    torch.manual_seed(0)
    encoder = build_codec(TINY).encoder.eval()
    info = export_c(encoder, None, tmp_path, 0.3)
    image = load_image(build_arm_image(info))
    core = EmulatedArmCore(image, info.in_floats, (info.out_channels, info.out_frames), native=native)
    assert core.counter == ("native" if native and missing_compiler("gcc") is None else "python")
    core.init()
    stepped = []
    core._uc.hook_add(UC_HOOK_CODE, lambda uc, address, size, user: stepped.append(size))
    x = np.random.default_rng(0).standard_normal(info.in_floats).astype(np.float32)
    for force in (PATH_FULL, PATH_LIGHT):
        stepped.clear()
        run = core.segment(x, force)
        assert set(stepped) == {4} and run.instructions == len(stepped) > 100


def test_skipping_zero_inputs_saves_instructions_when_the_mask_is_sparse(tmp_path):
    torch.manual_seed(7)
    encoder = build_codec(candidate_at("demo", 2)).encoder.eval()
    with torch.no_grad():
        encoder.mask.threshold.fill_(0.97)  # most masked activations are exact zeros
    segments = segment_audio(encoder.candidate, 2)
    ref = offline(encoder, segments)
    counts = {}
    for skip in (False, True):
        info = export_c(encoder, None, tmp_path / str(skip), state_policy="warm", skip_zero_inputs=skip)
        runs = _run(info, load_image(build_arm_image(info)), segments, PATH_LIGHT)
        assert float(np.abs(np.concatenate([r.output for r in runs], -1) - ref["light"]).max()) <= ATOL
        counts[skip] = sum(r.instructions for r in runs)
    assert (ref["masked"] == 0).mean() > 0.5 and counts[True] < counts[False]


@pytest.fixture(scope="module")
def demo_artifacts(tmp_path_factory) -> dict[tuple[str, str], Artifact]:
    torch.manual_seed(0)
    codec = build_codec(PRESETS["demo"]())
    out = export_paths(codec, tmp_path_factory.mktemp("artifacts"), parts=("full", "light", "light_tail", "switch"))
    return {(a.name.split("-", 1)[1], a.fmt.value): a for a in out}


def test_runner_measures_onnx_and_torchscript_alike(demo_artifacts):
    runner = get_runner("unicorn-arm", segments=2)
    results = {key: runner.measure(a) for key, a in demo_artifacts.items()}
    for part in ("full", "light", "light_tail", "switch"):
        onnx, script = results[(part, "onnx")], results[(part, "torchscript")]
        assert onnx.extra["instructions_per_segment"] == script.extra["instructions_per_segment"], part
        assert onnx.runner == "unicorn-arm" and onnx.repeats == 2
        assert onnx.extra["cycles_per_segment"] == script.extra["cycles_per_segment"], part
        median = float(np.median(onnx.extra["cycles_per_segment"]))
        assert onnx.latency_ms_median == pytest.approx(median / (DEFAULT_CLOCK_MHZ * 1e3))
        assert onnx.extra["instructions_total"] == sum(onnx.extra["instructions_per_segment"])
        assert 1.0 < onnx.extra["cycles_per_instruction"] < 10.0, part  # in-order scalar float code stalls
    full, light = results[("full", "onnx")], results[("light", "onnx")]
    assert full.latency_ms_median > light.latency_ms_median > results[("light_tail", "onnx")].latency_ms_median
    assert full.extra["path"] == PATH_FULL and light.extra["path"] == PATH_LIGHT and full.extra["code_bytes"] > 0
    assert "no caches" in full.extra["proxy"] and full.extra["ram_bytes"] > 0


def test_runner_clock_and_cpi_scale_the_latency(demo_artifacts):
    artifact = demo_artifacts[("light_tail", "onnx")]
    slow = EmulatedArmRunner(clock_mhz=600.0, cpi=2.0, segments=1).measure(artifact)
    proxy = EmulatedArmRunner(cpi=1.0, segments=1).measure(artifact)
    cycles = EmulatedArmRunner(segments=1).measure(artifact)
    assert slow.extra["instructions_per_segment"] == proxy.extra["instructions_per_segment"] == cycles.extra["instructions_per_segment"]
    assert slow.latency_ms_median == pytest.approx(4 * proxy.latency_ms_median)
    assert "cycles_per_segment" not in proxy.extra and proxy.extra["cpi"] == 1.0
    assert cycles.latency_ms_median == pytest.approx(proxy.latency_ms_median * cycles.extra["cycles_per_instruction"])


def test_runner_failures_name_the_artifact(demo_artifacts, tmp_path):
    runner = EmulatedArmRunner(segments=1)
    with pytest.raises(MeasurementError, match="gone:onnx.*does not exist"):
        runner.measure(Artifact("gone", tmp_path / "gone.onnx", ArtifactFormat.ONNX, (1, 1, 8)))
    source = demo_artifacts[("full", "onnx")]
    renamed = Artifact("demo-everything", source.path, source.fmt, source.input_shape)
    with pytest.raises(MeasurementError, match="demo-everything:onnx.*does not end in -<part>"):
        runner.measure(renamed)
    broken = tmp_path / "demo-full.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(MeasurementError, match="demo-full:onnx"):
        runner.measure(Artifact("demo-full", broken, ArtifactFormat.ONNX, source.input_shape))
    with pytest.raises(ConfigError, match="segments >= 1"):
        EmulatedArmRunner(segments=0)
    assert isinstance(runner.work_dir, Path) and runner.unavailable_reason() is None
