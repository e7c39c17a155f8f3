"""The streaming runtime: exact against the offline encoder where it should be, one tail per segment,
and each state policy doing what it says."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dslnas.spaces.candidate import CandidateConfig, DSLConfig, StatePolicy
from dslnas.spaces.presets import demo_candidate, paper_candidate
from dslnas.trainers.codec import build_codec
from dslnas.trainers.dsl import mix_by_segment, route_light, segment_discrepancy
from dslnas.trainers.encoder import DSLEncoder, EncoderOutput
from dslnas.trainers.stream_state import compile_stream, warmup_frames
from dslnas.trainers.streaming import Route, StreamingEncoder, Tail, count_switch_backs

torch.set_num_threads(1)
ATOL = 1e-5
SEGMENTS = 4


def at_depth(candidate: CandidateConfig, depth: int) -> CandidateConfig:
    return candidate.with_dsl(switch_depth=depth, light_widths=(5,) * (candidate.encoder.n_blocks - depth + 1))


EVERY_DEPTH = [
    pytest.param(at_depth(preset(), d), id=f"{preset().name}-d{d}")
    for preset in (demo_candidate, paper_candidate)
    for d in range(1, preset().encoder.n_blocks + 1)
] + [pytest.param(demo_candidate().with_dsl(light_widths=(16, 8)), id="demo-d2-no-entry-conv")]


def setup(candidate: CandidateConfig, seed: int = 0) -> tuple[StreamingEncoder, torch.Tensor, EncoderOutput]:
    torch.manual_seed(seed)
    encoder = build_codec(candidate).encoder.eval()
    audio = 0.3 * torch.randn(1, 1, SEGMENTS * candidate.segment_samples)
    with torch.no_grad():
        offline = encoder(audio)
    return StreamingEncoder(encoder), audio, offline


def per_segment_error(a: torch.Tensor, b: torch.Tensor) -> list[float]:
    """Max abs difference per segment of two ``[1, D, T_emb]`` embeddings."""
    return (a - b).abs().amax(dim=(0, 1)).reshape(SEGMENTS, -1).amax(-1).tolist()


def offline_mixed(offline: EncoderOutput, pattern: torch.Tensor) -> torch.Tensor:
    return mix_by_segment(offline.full, offline.light, pattern.unsqueeze(0))


@pytest.mark.parametrize("candidate", EVERY_DEPTH)
def test_forced_routes_equal_the_offline_paths_at_every_switch_depth(candidate: CandidateConfig) -> None:
    stream, audio, offline = setup(candidate)
    base = stream.stream_base(audio)
    assert torch.allclose(base.predicted, offline.predicted[0], atol=ATOL)
    assert base.mask_sparsity == pytest.approx((offline.masked == 0).float().mean().item())
    full, light = stream.run(base, Route.FULL), stream.run(base, Route.LIGHT)
    assert full.embedding.shape == offline.full.shape
    assert (full.embedding - offline.full).abs().max() <= ATOL
    assert (light.embedding - offline.light).abs().max() <= ATOL
    assert full.light_usage == 0.0 and light.light_usage == 1.0
    assert full.switch_backs == light.switch_backs == full.warmup_frames == light.warmup_frames == 0


@pytest.mark.parametrize("candidate", [demo_candidate(), paper_candidate()], ids=["demo", "paper"])
def test_warm_auto_routing_equals_the_offline_mixed_embedding(candidate: CandidateConfig) -> None:
    stream, audio, offline = setup(candidate)
    tau = offline.predicted.median().item()
    result = stream.encode(audio, Route.AUTO, tau, StatePolicy.WARM)
    assert torch.equal(result.use_light, route_light(offline.predicted[0], tau))
    assert 0 < result.light_usage < 1
    assert (result.embedding - offline_mixed(offline, result.use_light)).abs().max() <= ATOL


def test_the_full_tail_is_not_called_on_light_segments() -> None:
    stream, audio, _ = setup(demo_candidate())
    calls: list[str] = []
    modules = list(stream.encoder.full_tail.modules())[1:]
    hooks = [m.register_forward_hook(lambda mod, i, o: calls.append(type(mod).__name__)) for m in modules]
    base = stream.stream_base(audio)
    stream.run_pattern(base, torch.ones(SEGMENTS, dtype=torch.bool), StatePolicy.RESET)
    assert calls == []
    stream.run_pattern(base, torch.tensor([False, False, False, False]), StatePolicy.RESET)
    per_segment = len(calls) // SEGMENTS
    assert per_segment > 0 and len(calls) == SEGMENTS * per_segment
    calls.clear()
    stream.run_pattern(base, torch.tensor([True, False, True, True]), StatePolicy.RESET)
    assert len(calls) == per_segment  # the one full segment
    calls.clear()
    stream.run_pattern(base, torch.tensor([False, True, False, True]), StatePolicy.WARM)
    assert len(calls) == 3 * per_segment  # two full segments and one warm-up replay
    for hook in hooks:
        hook.remove()


def test_all_light_streaming_never_touches_the_full_tail_weights() -> None:
    stream, audio, offline = setup(demo_candidate())
    with torch.no_grad():
        for p in stream.encoder.full_tail.parameters():
            p.fill_(float("nan"))
    for policy in StatePolicy:
        light = stream.encode(audio, Route.LIGHT, state_policy=policy)
        assert torch.isfinite(light.embedding).all()
        assert (light.embedding - offline.light).abs().max() <= ATOL


@pytest.mark.parametrize("candidate", [demo_candidate(), paper_candidate()], ids=["demo", "paper"])
def test_warm_switch_back_equals_offline_and_reports_its_replay(candidate: CandidateConfig) -> None:
    stream, audio, offline = setup(candidate)
    pattern = torch.tensor([False, True, True, False])
    result = stream.run_pattern(stream.stream_base(audio), pattern, StatePolicy.WARM)
    assert max(per_segment_error(result.embedding, offline_mixed(offline, pattern))) <= ATOL
    assert result.switch_backs == 1
    full_rf, light_rf = stream.warmup_frames[Tail.FULL], stream.warmup_frames[Tail.LIGHT]
    assert result.warmup_frames_full == full_rf and result.warmup_frames_light == light_rf  # one replay each
    assert result.warmup_frames_per_switch_back == full_rf
    assert 0 < full_rf <= 2 * stream.encoder.base_frames_per_segment


@pytest.mark.parametrize("candidate", [demo_candidate(), paper_candidate()], ids=["demo", "paper"])
def test_warm_replay_must_cover_the_receptive_field(candidate: CandidateConfig) -> None:
    """Replaying R frames from zero state reproduces the offline tail; one stride fewer does not."""
    stream, audio, _ = setup(candidate)
    masked = torch.cat(stream.stream_base(audio).masked, dim=-1)
    tail = compile_stream(stream.encoder.full_tail)
    rf, seg, stride = warmup_frames(tail), stream.encoder.base_frames_per_segment, tail.stride
    start = 2 * seg
    masked[..., start - rf : start - rf + stride] = 10.0  # loud frames only a full replay sees
    with torch.no_grad():
        expected = stream.encoder.full_tail(masked)[..., start // stride : (start + seg) // stride]

    def replayed(frames: int) -> torch.Tensor:
        with torch.no_grad():
            _, state = tail.step(masked[..., start - frames : start], tail.initial_state(masked))
            return tail.step(masked[..., start : start + seg], state)[0]

    assert (replayed(rf) - expected).abs().max() <= ATOL
    assert (replayed(rf - stride) - expected).abs().max() > 1e-3


def test_reset_resumes_from_zero_history_and_differs_from_offline() -> None:
    stream, audio, offline = setup(demo_candidate())
    base = stream.stream_base(audio)
    pattern = torch.tensor([False, True, False, False])
    result = stream.run_pattern(base, pattern, StatePolicy.RESET)
    errors = per_segment_error(result.embedding, offline_mixed(offline, pattern))
    assert errors[0] <= ATOL  # nothing has been idle yet
    assert errors[1] > 1e-3 and errors[2] > 1e-3  # light resumes from zeros, then full does
    with torch.no_grad():
        alone = stream.encoder.full_tail(base.masked[2])  # offline tail on that segment alone = zero history
    emb_seg = stream.candidate.dsl.segment_frames
    assert (result.embedding[..., 2 * emb_seg : 3 * emb_seg] - alone).abs().max() <= ATOL
    assert result.warmup_frames == 0


def test_stale_resumes_with_the_history_it_left_and_differs_from_offline() -> None:
    stream, audio, offline = setup(demo_candidate())
    base = stream.stream_base(audio)
    pattern = torch.tensor([False, True, True, False])
    result = stream.run_pattern(base, pattern, StatePolicy.STALE)
    errors = per_segment_error(result.embedding, offline_mixed(offline, pattern))
    assert errors[0] <= ATOL and errors[3] > 1e-3
    with torch.no_grad():  # the full tail saw segments 0 and 3 back to back
        spliced = stream.encoder.full_tail(torch.cat([base.masked[0], base.masked[3]], dim=-1))
    emb_seg = stream.candidate.dsl.segment_frames
    assert (result.embedding[..., 3 * emb_seg :] - spliced[..., emb_seg:]).abs().max() <= ATOL


def test_oracle_routes_on_the_actual_discrepancy_of_its_own_execution() -> None:
    stream, audio, offline = setup(demo_candidate())
    actual_offline = segment_discrepancy(offline.full, offline.light, stream.candidate.dsl.segment_frames)[0]
    tau = actual_offline.median().item()
    warm = stream.encode(audio, Route.ORACLE, tau, StatePolicy.WARM)
    assert torch.allclose(warm.actual, actual_offline, atol=ATOL)
    assert torch.equal(warm.use_light, warm.actual < tau)
    assert (warm.embedding - offline_mixed(offline, warm.use_light)).abs().max() <= ATOL
    for policy in (StatePolicy.RESET, StatePolicy.STALE):
        oracle = stream.encode(audio, Route.ORACLE, tau, policy)
        assert torch.equal(oracle.use_light, oracle.actual < tau)
        # committing only the chosen tail: the same routing forced gives the same embedding
        forced = stream.run_pattern(stream.stream_base(audio), oracle.use_light, policy)
        assert torch.allclose(forced.embedding, oracle.embedding, atol=1e-6)


def test_measure_actual_is_a_diagnostic_that_does_not_change_the_run() -> None:
    stream, audio, _ = setup(demo_candidate())
    base = stream.stream_base(audio)
    plain = stream.run(base, Route.AUTO, 0.5, StatePolicy.STALE)
    measured = stream.run(base, Route.AUTO, 0.5, StatePolicy.STALE, measure_actual=True)
    assert plain.actual is None and measured.actual.shape == (SEGMENTS,)
    assert torch.equal(plain.embedding, measured.embedding)


def test_switch_backs_count_light_to_full_transitions() -> None:
    assert count_switch_backs(torch.tensor([True, False, True, True, False, False, True])) == 2
    assert count_switch_backs(torch.tensor([False, True, True])) == 0
    assert count_switch_backs(torch.tensor([True])) == 0


def test_bad_inputs_are_errors() -> None:
    stream, audio, _ = setup(demo_candidate())
    with pytest.raises(ValueError, match="multiple of"):
        stream.stream_base(audio[..., :-1])
    with pytest.raises(ValueError, match=r"\[1, 1, T\]"):
        stream.stream_base(audio.expand(2, 1, -1))
    with pytest.raises(ValueError, match="bool tensor"):
        stream.run_pattern(stream.stream_base(audio), torch.zeros(SEGMENTS))
    with pytest.raises(TypeError, match="cannot stream"):
        compile_stream(nn.Sequential(nn.ELU(), nn.LSTM(2, 2)))


def test_state_policy_is_a_config_field_defaulting_to_warm() -> None:
    assert DSLConfig().state_policy is StatePolicy.WARM
    candidate = demo_candidate().with_dsl(state_policy="stale")
    assert candidate.dsl.state_policy is StatePolicy.STALE
    stream = StreamingEncoder(DSLEncoder(candidate))
    result = stream.encode(torch.zeros(1, 1, candidate.segment_samples))
    assert result.state_policy is StatePolicy.STALE and result.route is Route.AUTO
    forced = stream.run_pattern(stream.stream_base(torch.zeros(1, 1, candidate.segment_samples)), torch.ones(1, dtype=torch.bool))
    assert forced.route is Route.PATTERN
    with pytest.raises(ValueError):
        DSLConfig(state_policy="lukewarm")


@pytest.mark.parametrize("candidate", EVERY_DEPTH)
def test_warm_composition_equals_the_segment_loop_on_random_patterns(candidate: CandidateConfig) -> None:
    """The evaluator composes warm runs from the all-full and all-light runs; the loop is the reference."""
    torch.manual_seed(1)
    encoder = build_codec(candidate).encoder.eval()
    segments = 12
    audio = 0.3 * torch.randn(1, 1, segments * candidate.segment_samples)
    stream = StreamingEncoder(encoder)
    base = stream.stream_base(audio)
    full = stream.run(base, Route.FULL, state_policy=StatePolicy.WARM)
    light = stream.run(base, Route.LIGHT, state_policy=StatePolicy.WARM)
    generator = torch.Generator().manual_seed(2)
    patterns = [torch.rand(segments, generator=generator) < p for p in (0.2, 0.5, 0.8)]
    patterns.append(torch.tensor([False, True] * (segments // 2)))  # a switch at every segment
    for pattern in patterns:
        looped = stream.run_pattern(base, pattern, StatePolicy.WARM)
        composed = stream.compose_warm(full, light, pattern)
        assert (looped.embedding - composed.embedding).abs().max() <= ATOL
        assert torch.equal(looped.use_light, composed.use_light)
        assert looped.switch_backs == composed.switch_backs
        assert (looped.warmup_frames_full, looped.warmup_frames_light) == (
            composed.warmup_frames_full, composed.warmup_frames_light
        )
    assert any(stream.compose_warm(full, light, p).warmup_frames_full > 0 for p in patterns)


def test_warm_composition_refuses_other_policies() -> None:
    stream, audio, _ = setup(demo_candidate())
    base = stream.stream_base(audio)
    full = stream.run(base, Route.FULL, state_policy=StatePolicy.STALE)
    light = stream.run(base, Route.LIGHT, state_policy=StatePolicy.STALE)
    with pytest.raises(ValueError, match="two warm runs"):
        stream.compose_warm(full, light, torch.zeros(SEGMENTS, dtype=torch.bool))
