"""One clip evaluated on the streaming runtime, with ViSQOL cached by the clip's route pattern.

The base, mask and switch stream once per clip (:class:`~dslnas.trainers.streaming.BaseStream`); each
routing the evaluation asks for (a threshold of the learned switch, the oracle at a threshold, all-full,
all-light) runs the tails on the streaming runtime under the state policy, and its embedding is decoded
offline (the decoder is not on the device) and scored. A run's embedding depends only on the clip, the
route pattern and the policy, so a pattern already seen reuses both the run and its ViSQOL score. Under the
``warm`` policy a routed run is composed from the all-full and all-light runs
(:meth:`~dslnas.trainers.streaming.StreamingEncoder.compose_warm`, exact, checked against the segment loop);
under ``reset`` and ``stale`` every pattern runs the segment loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from dslnas.spaces.candidate import StatePolicy
from dslnas.trainers.codec import DSLCodec
from dslnas.trainers.data import Clip
from dslnas.trainers.dsl import route_light, segment_discrepancy
from dslnas.trainers.streaming import Route, StreamingEncoder, StreamResult
from dslnas.trainers.visqol_score import VisqolScorer

SWEEP_QUANTILES: tuple[float, ...] = tuple(i / 10 for i in range(11))
"""Quantiles of a candidate's own discrepancy distribution its threshold sweep is taken at."""
SCORE_BATCH_PER_WORKER = 4
"""Pairs per ViSQOL worker scored between two progress reports (large enough to keep every worker busy)."""
ABOVE_MAX_REL = 1e-3
"""The sweep's last threshold is ``max * (1 + ABOVE_MAX_REL) + 1e-6``: every segment light."""


@dataclass(frozen=True)
class RoutedScore:
    """One clip at one routing: ViSQOL of the decoded streaming embedding and the run's routing figures."""

    visqol_mos: float
    light_usage: float      # share of segments routed light, 0..1
    switch_backs: int       # light->full transitions
    warmup_frames: int      # masked base frames replayed (warm policy), both tails
    duration_s: float       # streamed audio (whole segments)
    warmup_frames_light: int = 0  # of ``warmup_frames``, those replayed into the light tail


def quantile_thresholds(values: torch.Tensor, quantiles: Sequence[float] = SWEEP_QUANTILES) -> tuple[float, ...]:
    """Thresholds at ``quantiles`` of ``values`` ``[N]`` plus one just above the max (empty quantiles: none).

    With routing ``light where value < threshold`` the first (quantile 0) routes nothing light and the last
    routes everything light, so the sweep spans light usage 0..1.
    """
    if not quantiles:
        return ()
    flat = values.detach().double().cpu().numpy().reshape(-1)
    top = float(flat.max()) * (1 + ABOVE_MAX_REL) + 1e-6
    return tuple(float(q) for q in np.quantile(flat, list(quantiles))) + (top,)


class ClipStreamEvaluation:
    """A clip streamed once through the base; tails per routing on demand, ViSQOL cached by route pattern.

    ``full`` / ``light``: the all-full and all-light streaming runs; ``actual``: ``[S]`` their per-segment
    discrepancy (what the switch predicts); ``predicted``: ``[S]``. ``scoring_calls``: ViSQOL calls made.
    """

    def __init__(
        self, codec: DSLCodec, stream: StreamingEncoder, scorer: VisqolScorer, clip: Clip, policy: StatePolicy
    ) -> None:
        self.codec, self.stream, self.scorer, self.clip, self.policy = codec, stream, scorer, clip, policy
        device = next(codec.parameters()).device
        self.reference = clip.audio  # [T], read once (a file-backed clip reads its file on every .audio)
        self.audio = codec.pad(self.reference.reshape(1, 1, -1).to(device))
        self.base = stream.stream_base(self.audio)
        self.full = stream.run(self.base, Route.FULL, state_policy=policy)
        self.light = stream.run(self.base, Route.LIGHT, state_policy=policy)
        seg_frames = codec.candidate.dsl.segment_frames
        self.actual = segment_discrepancy(self.full.embedding, self.light.embedding, seg_frames)[0].cpu()
        self.predicted = self.base.predicted.cpu()
        self.duration_s = self.audio.shape[-1] / codec.candidate.encoder.sample_rate_hz
        self._runs: dict[bytes, StreamResult] = {_key(r.use_light): r for r in (self.full, self.light)}
        self._scores: dict[bytes, float] = {}
        self._oracle: dict[float, torch.Tensor] = {}  # threshold -> the oracle's pattern (reset / stale)
        self.scoring_calls = 0

    def at_threshold(self, threshold: float) -> RoutedScore:
        """The learned switch at ``threshold`` (light where predicted < threshold)."""
        return self.at_pattern(self.pattern_at(threshold))

    def pattern_at(self, threshold: float) -> torch.Tensor:
        """``[S]`` bool route pattern of the learned switch at ``threshold``."""
        return route_light(self.predicted, threshold)

    def oracle_pattern(self, threshold: float) -> torch.Tensor:
        """``[S]`` bool route pattern of the oracle router at ``threshold`` (its run is kept for scoring)."""
        if self.policy is StatePolicy.WARM:
            return route_light(self.actual, threshold)
        if threshold not in self._oracle:
            result = self.stream.run(self.base, Route.ORACLE, threshold, self.policy)
            self._runs.setdefault(_key(result.use_light), result)
            self._oracle[threshold] = result.use_light
        return self._oracle[threshold]

    def unscored(self, patterns: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """The distinct patterns of ``patterns`` with no ViSQOL score yet, in order."""
        seen, todo = set(self._scores), []
        for pattern in patterns:
            key = _key(pattern)
            if key not in seen:
                seen.add(key)
                todo.append(pattern)
        return todo

    def set_score(self, use_light: torch.Tensor, visqol_mos: float) -> None:
        """Record the ViSQOL score of the pattern's decoded run (as scored by a batch, see ``score_clips``)."""
        self._scores[_key(use_light)] = visqol_mos
        self.scoring_calls += 1

    def oracle_at(self, threshold: float) -> RoutedScore:
        """The oracle router at ``threshold`` (light where the actual discrepancy of its own run < threshold).

        Under ``warm`` the actual discrepancy of every segment is the all-full vs all-light one whatever the
        route (see :meth:`StreamingEncoder.compose_warm`), so the oracle's pattern is ``actual < threshold``.
        """
        return self.at_pattern(self.oracle_pattern(threshold))

    def at_pattern(self, use_light: torch.Tensor) -> RoutedScore:
        """A forced ``[S]`` bool route pattern, run and scored once per pattern."""
        run, key = self.run_for(use_light), _key(use_light)
        if key not in self._scores:
            score_clips([self], [[use_light]], self.scorer)
        return RoutedScore(self._scores[key], run.light_usage, run.switch_backs, run.warmup_frames, self.duration_s,
                           run.warmup_frames_light)

    def run_for(self, use_light: torch.Tensor) -> StreamResult:
        """The streaming run on the ``[S]`` bool route pattern (cached by pattern)."""
        key = _key(use_light)
        if key not in self._runs:
            if self.policy is StatePolicy.WARM:
                self._runs[key] = self.stream.compose_warm(self.full, self.light, use_light)
            else:
                self._runs[key] = self.stream.run_pattern(self.base, use_light, self.policy)
        return self._runs[key]

    def check_composition(self, use_light: torch.Tensor, atol: float = 1e-4) -> float:
        """Run ``use_light`` through the segment loop and return its max abs embedding difference to the
        run this evaluation uses (composed under ``warm``). Raises RuntimeError beyond ``atol``."""
        looped = self.stream.run_pattern(self.base, use_light.cpu(), self.policy)
        used = self.run_for(use_light)
        diff = (looped.embedding - used.embedding).abs().max().item()
        same_counts = (looped.switch_backs, looped.warmup_frames) == (used.switch_backs, used.warmup_frames)
        if diff > atol or not same_counts:
            raise RuntimeError(
                f"streaming check failed on clip {self.clip.clip_id}: composed run differs from the segment loop "
                f"(max abs {diff:.3g}, replays {used.warmup_frames} vs {looped.warmup_frames})"
            )
        return diff

    def offline_l1(self, threshold: float) -> float:
        """Diagnostic: mean |streaming - offline| mixed embedding at ``threshold`` (offline = torch.where mix)."""
        with torch.no_grad():
            offline = self.codec.encoder(self.audio, threshold).mixed
        streamed = self.run_for(route_light(self.predicted, threshold)).embedding
        return (streamed - offline).abs().mean().item()

    @torch.no_grad()
    def decoded(self, use_light: torch.Tensor) -> torch.Tensor:
        """The pattern's streaming embedding quantized and decoded offline: ``[T]`` audio of the clip's length."""
        embedding = self.run_for(use_light).embedding
        return self.codec.decoder(self.codec.quantizer(embedding).quantized)[0, 0, : self.reference.shape[-1]].cpu()


def score_clips(evaluations: Sequence[ClipStreamEvaluation], patterns: Sequence[Sequence[torch.Tensor]],
                scorer: VisqolScorer, progress: Callable[[int, int], None] | None = None) -> int:
    """Score every not yet scored pattern of ``patterns[i]`` on ``evaluations[i]`` in batches (decoding the
    next while the scorer's workers score), and return how many were scored. ``progress(done, total)``
    after each batch (of :data:`SCORE_BATCH_PER_WORKER` pairs per worker)."""
    wanted = [(ev, p) for ev, clip_patterns in zip(evaluations, patterns) for p in ev.unscored(clip_patterns)]
    if not wanted:
        return 0
    rate = evaluations[0].codec.candidate.encoder.sample_rate_hz
    batch = SCORE_BATCH_PER_WORKER * scorer.workers if progress is not None else len(wanted)
    threads = torch.get_num_threads()
    if scorer.workers > 1:  # the workers take the cores; decoding beside them in one thread does not fight them
        torch.set_num_threads(1)
    try:
        if progress is not None:
            progress(0, len(wanted))
        for start in range(0, len(wanted), batch):
            chunk = wanted[start:start + batch]
            scores = scorer.score_many(((ev.reference, ev.decoded(p)) for ev, p in chunk), rate)
            for (ev, pattern), score in zip(chunk, scores):
                ev.set_score(pattern, score)
            if progress is not None:
                progress(start + len(chunk), len(wanted))
    finally:
        torch.set_num_threads(threads)
    return len(wanted)


def _key(use_light: torch.Tensor) -> bytes:
    return use_light.cpu().numpy().astype(np.uint8).tobytes()
