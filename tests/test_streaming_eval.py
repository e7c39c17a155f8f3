"""Evaluation on the streaming runtime: the quantile sweep, the ViSQOL cache, transitions, the oracle bound."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pytest
import torch

from dslnas.spaces.candidate import StatePolicy
from dslnas.spaces.presets import demo_candidate
from dslnas.trainers.codec import DSLCodec, build_codec
from dslnas.trainers.data import Clip, generate_demo_clips
from dslnas.trainers.dsl import route_light
from dslnas.trainers.evaluate import Execution, evaluate_codec, switch_rank_correlation
from dslnas.trainers.oracle import compare_to_oracle, oracle_usage_at_quality, saving_fraction_at_quality
from dslnas.trainers.stream_eval import ClipStreamEvaluation, quantile_thresholds
from dslnas.trainers.streaming import Route, StreamingEncoder, Tail, count_switch_backs
from dslnas.trainers.visqol_score import VisqolScorer

torch.set_num_threads(1)


class CountingScorer:
    """A fast stand-in for ViSQOL (a deterministic function of the decoded audio) that counts its calls."""

    workers = 1

    def __init__(self) -> None:
        self.calls = 0

    def score(self, ref: torch.Tensor, deg: torch.Tensor, sample_rate_hz: int) -> float:
        self.calls += 1
        n = min(ref.shape[-1], deg.shape[-1])
        return float(1 + 4 * torch.exp(-10 * ((ref[:n] - deg[:n]) ** 2).mean()))

    def score_many(self, pairs, sample_rate_hz: int) -> list[float]:  # noqa: ANN001 - VisqolScorer's signature
        return [self.score(ref, deg, sample_rate_hz) for ref, deg in pairs]


@pytest.fixture(scope="module")
def codec() -> DSLCodec:
    torch.manual_seed(0)
    return build_codec(demo_candidate()).eval()


@pytest.fixture(scope="module")
def clips() -> list[Clip]:
    return generate_demo_clips(2, 1.0, 16_000, seed=3)


def test_quantile_sweep_spans_light_usage_zero_to_one(codec: DSLCodec, clips: list[Clip]) -> None:
    result = evaluate_codec(codec, clips, scorer=CountingScorer(), oracle=False)
    usage = [p.light_usage for p in result.sweep]
    assert len(result.sweep) >= 11
    assert usage[0] == 0.0 and usage[-1] == 1.0
    assert usage == sorted(usage) and len(set(usage)) >= 8
    assert result.execution is Execution.STREAMING and result.state_policy is StatePolicy.WARM
    assert result.sweep[0].visqol_mixed == pytest.approx(result.overall.visqol_full)
    assert result.sweep[-1].visqol_mixed == pytest.approx(result.overall.visqol_light)
    assert set(result.sweep[3].light_usage_per_class) == {"speech", "silence"}
    assert -1.0 <= result.overall.switch_spearman <= 1.0
    json.dumps(result.to_json())


def test_explicit_thresholds_replace_the_quantile_sweep(codec: DSLCodec, clips: list[Clip]) -> None:
    result = evaluate_codec(codec, clips[:1], sweep_thresholds=(0.0, 100.0), scorer=CountingScorer())
    assert [p.threshold for p in result.sweep] == [p.threshold for p in result.oracle_sweep] == [0.0, 100.0]
    assert [p.light_usage for p in result.oracle_sweep] == [0.0, 1.0]
    assert evaluate_codec(codec, clips[:1], scorer=CountingScorer(), sweep_quantiles=(), oracle=False).sweep == ()


def test_visqol_is_scored_once_per_route_pattern(codec: DSLCodec, clips: list[Clip]) -> None:
    scorer = CountingScorer()
    result = evaluate_codec(codec, clips, scorer=scorer, oracle=False)
    stream = StreamingEncoder(codec.encoder)
    patterns = 0
    for clip in clips:
        predicted = stream.stream_base(codec.pad(clip.audio.reshape(1, 1, -1))).predicted
        thresholds = [p.threshold for p in result.sweep] + [result.threshold]
        seen = {route_light(predicted, t).numpy().tobytes() for t in thresholds}
        seen |= {torch.zeros_like(predicted, dtype=torch.bool).numpy().tobytes(), torch.ones_like(predicted, dtype=torch.bool).numpy().tobytes()}
        patterns += len(seen)
    asked = len(clips) * (3 + len(result.sweep))  # full, light, mixed and each sweep point
    assert scorer.calls == patterns < asked


def test_each_sweep_point_is_its_own_streaming_run_under_the_policy(codec: DSLCodec, clips: list[Clip]) -> None:
    """Under stale state the mixed output at a threshold depends on the routing: it must be that run's."""
    scorer = CountingScorer()
    result = evaluate_codec(codec, clips[:1], scorer=scorer, state_policy=StatePolicy.STALE, oracle=False)
    stream, clip = StreamingEncoder(codec.encoder), clips[0]
    point = result.sweep[5]
    run = stream.encode(codec.pad(clip.audio.reshape(1, 1, -1)), Route.AUTO, point.threshold, StatePolicy.STALE)
    with torch.no_grad():
        decoded = codec.decoder(codec.quantizer(run.embedding).quantized)[0, 0, : clip.num_samples]
    assert point.visqol_mixed == pytest.approx(CountingScorer().score(clip.audio, decoded, 16_000))
    assert point.transitions_per_s == pytest.approx(run.switch_backs / (run.embedding.shape[-1] * 40 / 16_000))
    assert result.state_policy is StatePolicy.STALE and point.warmup_frames_per_s == 0.0


def test_transitions_and_warmup_are_counted_on_a_forced_pattern(codec: DSLCodec, clips: list[Clip]) -> None:
    stream = StreamingEncoder(codec.encoder)
    ev = ClipStreamEvaluation(codec, stream, CountingScorer(), clips[0], StatePolicy.WARM)
    pattern = torch.zeros(ev.base.segments, dtype=torch.bool)
    pattern[[2, 3, 4, 10, 20, 21]] = True  # light runs 2-4, 10, 20-21: three switch-backs, three light warm-ups
    scored = ev.at_pattern(pattern)
    assert scored.switch_backs == count_switch_backs(pattern) == 3
    assert scored.light_usage == pytest.approx(6 / ev.base.segments)
    assert scored.warmup_frames == 3 * stream.warmup_frames[Tail.FULL] + 3 * stream.warmup_frames[Tail.LIGHT]
    assert ev.at_pattern(pattern) == scored and ev.scoring_calls == 1


def test_oracle_sweep_under_warm_routes_on_the_offline_discrepancy(codec: DSLCodec, clips: list[Clip]) -> None:
    result = evaluate_codec(codec, clips[:1], scorer=CountingScorer(), sweep_quantiles=(0.0, 0.5))
    actual = torch.tensor(result.clips[0].actual_per_segment)
    usage = [p.light_usage for p in result.oracle_sweep]
    assert usage[0] == 0.0 and usage[-1] == 1.0
    assert usage[1] == pytest.approx((actual < result.oracle_sweep[1].threshold).float().mean().item())


def test_real_visqol_on_the_streaming_run(codec: DSLCodec, clips: list[Clip]) -> None:
    result = evaluate_codec(codec, clips[:1], scorer=VisqolScorer(), sweep_quantiles=(0.0,), oracle=False)
    clip = result.clips[0]
    assert 1.0 <= clip.visqol_full <= 5.0 and 1.0 <= clip.visqol_light <= 5.0
    assert clip.offline_embedding_l1 <= 1e-5  # warm streaming = offline
    assert [p.light_usage for p in result.sweep] == [0.0, 1.0]


def test_quantile_thresholds() -> None:
    values = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0])
    thresholds = quantile_thresholds(values, (0.0, 0.5, 1.0))
    assert thresholds[:3] == (0.0, 2.0, 4.0) and thresholds[3] > 4.0
    assert quantile_thresholds(values, ()) == ()


def test_switch_rank_correlation() -> None:
    assert switch_rank_correlation([0.1, 0.2, 0.3], [1.0, 5.0, 9.0]) == pytest.approx(1.0)
    assert switch_rank_correlation([0.1, 0.2, 0.3], [3.0, 2.0, 1.0]) == pytest.approx(-1.0)
    assert math.isnan(switch_rank_correlation([0.1, 0.1, 0.1], [3.0, 2.0, 1.0]))
    assert math.isnan(switch_rank_correlation([0.1], [3.0]))


@dataclass(frozen=True)
class Point:
    light_usage: float
    visqol_mixed: float


ORACLE = (Point(0.0, 4.5), Point(0.5, 4.4), Point(1.0, 3.0))


def latency_ms(usage: float) -> float:
    return 15.0 - 5.0 * usage


def test_oracle_usage_is_interpolated_on_the_upper_envelope() -> None:
    assert oracle_usage_at_quality(ORACLE, 4.4) == pytest.approx(0.5)
    assert oracle_usage_at_quality(ORACLE, 3.7) == pytest.approx(0.75)
    assert oracle_usage_at_quality(ORACLE, 2.0) == pytest.approx(1.0)
    assert math.isnan(oracle_usage_at_quality(ORACLE, 4.6))
    dipped = (Point(0.0, 4.5), Point(0.3, 4.0), Point(0.6, 4.4), Point(1.0, 3.0))  # 0.6 beats 0.3
    assert oracle_usage_at_quality(dipped, 4.2) == pytest.approx(0.6 + 0.4 * 0.2 / 1.4)
    with pytest.raises(ValueError, match="no points"):
        oracle_usage_at_quality((), 4.0)


def test_learned_saving_as_a_fraction_of_the_oracles() -> None:
    learned = (Point(0.0, 4.5), Point(0.25, 4.4), Point(0.5, 3.7))
    comparisons = compare_to_oracle(learned, ORACLE, latency_ms)
    assert math.isnan(comparisons[0].saving_fraction)  # neither saves anything at full quality
    assert comparisons[1].saving_ms == pytest.approx(1.25) and comparisons[1].oracle_saving_ms == pytest.approx(2.5)
    assert comparisons[1].saving_fraction == pytest.approx(0.5)
    assert comparisons[2].saving_fraction == pytest.approx(2.5 / 3.75)
    assert saving_fraction_at_quality(learned, ORACLE, latency_ms, 4.4) == pytest.approx(0.5)
    assert compare_to_oracle(ORACLE, ORACLE, latency_ms)[1].saving_fraction == pytest.approx(1.0)


def test_most_light_at_equal_quality_picks_the_most_light_within_the_tolerance() -> None:
    from dslnas.trainers.evaluate import EvaluationResult, GroupSummary, SweepPoint, most_light_at_equal_quality

    def point(usage: float, visqol: float) -> SweepPoint:
        return SweepPoint(threshold=usage, light_usage=usage, visqol_mixed=visqol,
                          light_usage_per_class={"silence": usage}, visqol_mixed_per_class={"silence": visqol})

    overall = GroupSummary(n_clips=1, visqol_full=3.0, visqol_light=2.0, visqol_mixed=2.9, light_usage=0.5,
                           sparsity=0.0, switch_mae=0.1)
    sweep = (point(0.0, 3.0), point(0.3, 2.97), point(0.6, 2.96), point(0.8, 2.90), point(1.0, 2.0))
    result = EvaluationResult(threshold=0.5, clips=(), overall=overall, per_class={}, sweep=sweep)
    assert most_light_at_equal_quality(result).light_usage == 0.6
    assert most_light_at_equal_quality(result, tolerance=0.1).light_usage == 0.8
    assert most_light_at_equal_quality(EvaluationResult(0.5, (), overall, {}, sweep[-1:])) is None
