"""The C export against PyTorch: forced full, forced light and routed runs, every switch depth, every policy.

Each case builds a random-initialised codec (``demo`` and ``paper`` presets at every switch depth), exports
it to C, builds it with the host gcc into the stdin driver and feeds it a few segments of audio whose
loudness changes per segment (so the switch's predictions differ). References are offline torch passes:
``full_tail(mask(base(x)))`` and the light tail for forced runs; for routed runs, per segment as routed,
the tail run offline over the stream it saw under the policy (``warm``: the whole stream; ``stale``: the
concatenation of the segments it ran; ``reset``: each run of consecutive segments it ran on its own).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from dslnas.hw_models.c_export import PATH_FULL, PATH_LIGHT, CExportError, Program, export_c, export_program
from dslnas.hw_models.c_export.program import lower_chain
from dslnas.hw_models.runners.artifact import ExportPart
from dslnas.hw_models.runners.artifact_program import lower_part
from dslnas.hw_models.runners.convert import part_modules
from dslnas.hw_models.c_export.toolchain import HOST_CC, build_host_driver, missing_compiler, run_host_driver
from dslnas.hw_models.counts import Part
from dslnas.spaces.candidate import CandidateConfig
from dslnas.spaces.errors import UserError
from dslnas.spaces.presets import demo_candidate, paper_candidate
from dslnas.trainers.blocks import ResidualUnit
from dslnas.trainers.codec import build_codec
from dslnas.trainers.encoder import DSLEncoder

ATOL = 1e-4
N_SEGMENTS = 6
PRESETS = {"demo": demo_candidate, "paper": paper_candidate}
CASES = [(p, d) for p, make in PRESETS.items() for d in range(1, make().encoder.n_blocks + 1)]
POLICIES = ("warm", "stale", "reset")

pytestmark = pytest.mark.skipif(missing_compiler(HOST_CC) is not None, reason=f"C parity needs {missing_compiler(HOST_CC)}")


def candidate_at(preset: str, depth: int) -> CandidateConfig:
    """The preset with the switch at ``depth``; odd depths start the light tail at the base width (no entry conv)."""
    base = PRESETS[preset]()
    n_tail = base.encoder.n_blocks - depth + 1
    first = base.encoder.channels_after(depth) if depth % 2 else 6
    return base.with_dsl(switch_depth=depth, light_widths=(first,) + (6,) * (n_tail - 1))


@cache
def encoder_at(preset: str, depth: int) -> DSLEncoder:
    torch.manual_seed(depth)
    return build_codec(candidate_at(preset, depth)).encoder.eval()


def segment_audio(candidate: CandidateConfig, n_segments: int = N_SEGMENTS, seed: int = 0) -> np.ndarray:
    """``[n_segments, 1, segment_samples]`` noise whose loudness alternates per segment."""
    rng = np.random.default_rng(seed)
    gains = np.array([0.8, 0.01, 0.5, 0.02, 1.0, 0.005, 0.3, 0.0])[:n_segments]
    noise = rng.standard_normal((n_segments, 1, candidate.segment_samples))
    return (noise * gains[:, None, None]).astype(np.float32)




@torch.no_grad()
def offline(encoder: DSLEncoder, segments: np.ndarray) -> dict[str, np.ndarray]:
    """Offline torch passes over the concatenated segments: masked, full, light ``[C, T]``, predicted ``[S]``."""
    audio = torch.from_numpy(segments.reshape(1, 1, -1))
    masked = encoder.mask(encoder.base(audio))
    return {"masked": masked[0].numpy(), "full": encoder.full_tail(masked)[0].numpy(),
            "light": encoder.light_tail(masked)[0].numpy(), "predicted": encoder.switch(masked)[0].numpy()}


def split(stream: np.ndarray, n_segments: int) -> list[np.ndarray]:
    return np.split(stream, n_segments, axis=-1)


@torch.no_grad()
def routed_reference(encoder: DSLEncoder, ref: dict[str, np.ndarray], paths: np.ndarray, policy: str) -> list[np.ndarray]:
    """Per segment, the offline output of the tail ``paths`` names, over the stream that tail saw under ``policy``."""
    n = len(paths)
    if policy == "warm":
        full, light = split(ref["full"], n), split(ref["light"], n)
        return [full[s] if p == PATH_FULL else light[s] for s, p in enumerate(paths)]
    masked = split(ref["masked"], n)
    tails = {PATH_FULL: encoder.full_tail, PATH_LIGHT: encoder.light_tail}
    out: list[np.ndarray | None] = [None] * n
    for path, tail in tails.items():
        mine = [s for s in range(n) if paths[s] == path]
        runs = [mine] if policy == "stale" else _consecutive_runs(mine)
        for run in filter(None, runs):
            stream = torch.from_numpy(np.concatenate([masked[s] for s in run], axis=-1))[None]
            for s, piece in zip(run, split(tail(stream)[0].numpy(), len(run))):
                out[s] = piece
    return out


def _consecutive_runs(indices: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for i in indices:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def mixed_threshold(predicted: np.ndarray) -> float:
    """The midpoint of the widest gap between sorted predictions: both paths get segments, far from the edge."""
    values = np.sort(predicted)
    gaps = np.diff(values)
    i = int(np.argmax(gaps))
    assert gaps[i] > 1e-3, f"predictions too close to route on reliably: {values}"
    return float((values[i] + values[i + 1]) / 2)


@cache
def built(preset: str, depth: int, policy: str, tmp_root: str, threshold: float | None = None,
          skip: bool = False) -> tuple:
    encoder = encoder_at(preset, depth)
    out_dir = Path(tmp_root) / f"{preset}-d{depth}-{policy}-{threshold}-{skip}"
    info = export_c(encoder, None, out_dir, threshold, state_policy=policy, skip_zero_inputs=skip)
    return info, build_host_driver(info)


@pytest.fixture(scope="module")
def tmp_root(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("c_export"))


def _close(got: np.ndarray, want: np.ndarray, what: str) -> None:
    diff = float(np.abs(got - want).max())
    assert diff <= ATOL, f"{what}: max abs difference {diff:.3g} > {ATOL}"


@pytest.mark.parametrize("preset, depth", CASES)
def test_forced_paths_match_offline_tails(preset, depth, tmp_root):
    encoder = encoder_at(preset, depth)
    info, driver = built(preset, depth, "warm", tmp_root)
    segments = segment_audio(encoder.candidate)
    ref = offline(encoder, segments)
    for force, name in ((PATH_FULL, "full"), (PATH_LIGHT, "light")):
        run = run_host_driver(driver, info, segments, force)
        assert (run.paths == force).all()
        _close(np.concatenate(list(run.outputs), axis=-1), ref[name], f"{preset} d{depth} forced {name}")
        _close(run.predicted, ref["predicted"], f"{preset} d{depth} predicted")


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("preset, depth", CASES)
def test_routed_run_matches_offline_under_policy(preset, depth, policy, tmp_root):
    encoder = encoder_at(preset, depth)
    segments = segment_audio(encoder.candidate)
    ref = offline(encoder, segments)
    tau = mixed_threshold(ref["predicted"])
    info, driver = built(preset, depth, policy, tmp_root, tau)
    run = run_host_driver(driver, info, segments, 0)
    want_paths = np.where(ref["predicted"] < tau, PATH_LIGHT, PATH_FULL)
    np.testing.assert_array_equal(run.paths, want_paths)
    assert len(set(run.paths.tolist())) == 2 and not np.all(np.diff(run.paths) == 0)
    for s, want in enumerate(routed_reference(encoder, ref, run.paths, policy)):
        _close(run.outputs[s], want, f"{preset} d{depth} {policy} segment {s} (path {run.paths[s]})")


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("preset, depth", CASES)
def test_routed_run_matches_the_streaming_runtime(preset, depth, policy, tmp_root):
    streaming = pytest.importorskip("dslnas.trainers.streaming", reason="no PyTorch streaming runtime to compare to")
    encoder = encoder_at(preset, depth)
    segments = segment_audio(encoder.candidate)
    tau = mixed_threshold(offline(encoder, segments)["predicted"])
    info, driver = built(preset, depth, policy, tmp_root, tau)
    run = run_host_driver(driver, info, segments, 0)
    runtime = streaming.StreamingEncoder(encoder)
    result = runtime.encode(torch.from_numpy(segments.reshape(1, 1, -1)), streaming.Route.AUTO, tau, policy)
    np.testing.assert_array_equal(run.paths == PATH_LIGHT, result.use_light.numpy())
    _close(np.concatenate(list(run.outputs), axis=-1), result.embedding[0].numpy(), f"{preset} d{depth} {policy} vs runtime")
    if policy == "warm":
        assert info.warm_frames == max(runtime.warmup_frames.values())


def test_policies_differ_where_they_should(tmp_root):
    """Warm equals the offline tail on a switch-back; stale and reset do not (the test would be vacuous otherwise)."""
    encoder = encoder_at("paper", 3)
    segments = segment_audio(encoder.candidate)
    ref = offline(encoder, segments)
    tau = mixed_threshold(ref["predicted"])
    runs = {p: run_host_driver(built("paper", 3, p, tmp_root, tau)[1], built("paper", 3, p, tmp_root, tau)[0],
                               segments, 0) for p in POLICIES}
    warm = routed_reference(encoder, ref, runs["warm"].paths, "warm")
    back = [s for s in range(1, N_SEGMENTS) if runs["warm"].paths[s] != runs["warm"].paths[s - 1]]
    for policy in ("stale", "reset"):
        assert max(float(np.abs(runs[policy].outputs[s] - warm[s]).max()) for s in back) > 10 * ATOL, policy


@pytest.mark.parametrize("preset", ["demo", "paper"])
def test_skip_zero_inputs_gives_the_same_output(preset, tmp_root):
    depth = PRESETS[preset]().dsl.switch_depth
    torch.manual_seed(7)
    encoder = build_codec(candidate_at(preset, depth)).encoder.eval()
    with torch.no_grad():
        encoder.mask.threshold.fill_(0.47)  # most masked activations are exact zeros
    segments = segment_audio(encoder.candidate)
    ref = offline(encoder, segments)
    assert (ref["masked"] == 0).mean() > 0.3
    info = export_c(encoder, None, Path(tmp_root) / f"{preset}-sparse", state_policy="warm", skip_zero_inputs=True)
    assert "dsl_conv_sparse" in info.source_path.read_text() and info.skip_zero_inputs
    driver = build_host_driver(info)
    for force, name in ((PATH_FULL, "full"), (PATH_LIGHT, "light")):
        run = run_host_driver(driver, info, segments, force)
        _close(np.concatenate(list(run.outputs), axis=-1), ref[name], f"{preset} sparse {name}")


@pytest.mark.parametrize("part", [p for p in ExportPart])
def test_every_exported_part_runs_as_its_own_program(part, tmp_root):
    """Each part ``convert.part_modules`` exports (what a runner measures) lowers to a program computing it."""
    encoder = encoder_at("demo", 2)
    module, shape = part_modules(encoder)[part]
    program = lower_part(part, module, f"demo-{part.value}", shape)
    info = export_program(program, Path(tmp_root) / f"part-{part.value}", 0.0, "warm")
    x = np.random.default_rng(2).standard_normal((2, *shape[1:])).astype(np.float32)  # two segments in a stream
    run = run_host_driver(build_host_driver(info), info, x, 0)
    with torch.no_grad():
        want = module(torch.from_numpy(np.concatenate(list(x), axis=-1))[None])
    want = want if isinstance(want, tuple) else (want,)
    if program.tails or not program.switch:
        _close(np.concatenate(list(run.outputs), axis=-1), want[0][0].numpy(), f"part {part.value}")
    if program.switch:
        _close(run.predicted, want[-1][0].numpy(), f"part {part.value} predicted")


def test_an_unfused_elu_is_applied_in_place(tmp_root):
    torch.manual_seed(3)
    chain = nn.Sequential(nn.ELU(), ResidualUnit(4, 3, 2), nn.ELU())  # ELU before a residual and at the end
    program = Program("odd", 4, 12, None, None, None, {PATH_FULL: lower_chain(Part.FULL_TAIL, chain, 4)})
    info = export_program(program, Path(tmp_root) / "odd", 0.0, "stale")
    x = np.random.default_rng(3).standard_normal((3, 4, 12)).astype(np.float32)
    run = run_host_driver(build_host_driver(info), info, x, 0)
    with torch.no_grad():
        want = chain(torch.from_numpy(np.concatenate(list(x), axis=-1))[None])[0].numpy()
    assert "dsl_elu_inplace(" in info.source_path.read_text()
    _close(np.concatenate(list(run.outputs), axis=-1), want, "ELU, residual, ELU")


def _macros(header: Path) -> dict[str, str]:
    return dict(re.findall(r"^#define (DSL_\w+) (\S+)$", header.read_text(), flags=re.M))


@pytest.mark.parametrize("preset", ["demo", "paper"])
def test_header_declares_sizes_and_shapes(preset, tmp_root):
    depth = PRESETS[preset]().dsl.switch_depth
    encoder = encoder_at(preset, depth)
    info, _ = built(preset, depth, "warm", tmp_root)
    macros = _macros(info.header_path)
    candidate = encoder.candidate
    assert int(macros["DSL_SEGMENT_SAMPLES"]) == candidate.segment_samples == info.in_frames
    assert int(macros["DSL_EMBEDDING_DIM"]) == candidate.encoder.embedding_dim == info.out_channels
    assert int(macros["DSL_FRAMES_PER_SEGMENT"]) == candidate.dsl.segment_frames == info.out_frames
    assert macros["DSL_STATE_BYTES"] == f"{info.state_bytes}u" and macros["DSL_SCRATCH_BYTES"] == f"{info.scratch_bytes}u"
    assert macros["DSL_RAM_BYTES"] == f"{info.ram_bytes}u" == f"{info.state_bytes + info.scratch_bytes}u"
    n_params = sum(p.numel() for p in encoder.parameters())  # stem, blocks, head, mask, switch, light tail
    assert info.weight_bytes == info.flash_bytes == 4 * n_params and macros["DSL_WEIGHT_BYTES"] == f"{4 * n_params}u"
    assert info.path_ids == (PATH_FULL, PATH_LIGHT) and info.state_policy == "warm"
    # warm window = the tail's receptive field in base frames, rounded up to whole output frames
    assert info.warm_frames == {"paper": 32, "demo": 35}[preset] == int(macros["DSL_WARM_FRAMES"])
    assert "malloc" not in info.source_path.read_text()


def test_state_policy_comes_from_the_candidate_when_it_has_one(tmp_root):
    encoder = encoder_at("demo", 2)
    info, _ = built("demo", 2, "stale", tmp_root)
    assert info.state_policy == "stale" and "dsl_replay_" not in info.source_path.read_text()
    if hasattr(encoder.candidate.dsl, "state_policy"):
        info = export_c(encoder, None, Path(tmp_root) / "from-candidate")
        policy = encoder.candidate.dsl.state_policy
        assert info.state_policy == str(getattr(policy, "value", policy))


def test_bad_arguments_are_clear_errors(tmp_root):
    encoder = encoder_at("demo", 2)
    with pytest.raises(UserError, match="unknown state policy 'lukewarm'; valid: reset, stale, warm"):
        export_c(encoder, None, tmp_root, state_policy="lukewarm")
    with pytest.raises(CExportError, match="threshold must be"):
        export_c(encoder, None, tmp_root, -1.0)
    with pytest.raises(CExportError, match="does not describe the model"):
        export_c(encoder, candidate_at("demo", 1), tmp_root)
    with pytest.raises(CExportError, match="base_chunk_frames must divide"):
        export_c(encoder, None, tmp_root, base_chunk_frames=7)
    with pytest.raises(CExportError, match="cannot lower a ReLU"):
        lower_chain(Part.FULL_TAIL, [nn.ReLU()], 4)
    with pytest.raises(TypeError, match="DSLCodec or DSLEncoder"):
        export_c(nn.Linear(2, 2), None, tmp_root)


def test_driver_reports_a_force_naming_no_path(tmp_root):
    info, driver = built("demo", 2, "warm", tmp_root)
    with pytest.raises(CExportError, match="exited with 2.*lacks"):
        run_host_driver(driver, info, segment_audio(encoder_at("demo", 2).candidate, 1), 3)
