"""Evaluation of a trained DSL codec: per clip full / light / mixed quality, routing and sparsity.

Each clip is encoded once; the full, light and mixed (routed at the threshold) embeddings are each
quantized and decoded and scored with ViSQOL MOS-LQO against the input. A threshold sweep re-routes the
same encoder pass at other thresholds (the threshold needs no retraining), re-scoring only routings not
seen before. Results aggregate per class ("speech", "silence", ...) and overall.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from dslnas.trainers.codec import DSLCodec
from dslnas.trainers.data import Clip
from dslnas.trainers.dsl import mix_by_segment, route_light, segment_discrepancy
from dslnas.trainers.visqol_score import VisqolScorer

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class ClipEvaluation:
    clip_id: str
    label: str
    visqol_full: float
    visqol_light: float
    visqol_mixed: float
    light_usage: float              # share of the clip's segments routed light, 0..1
    sparsity: float                 # share of exact zeros in the mask's activation map, 0..1
    predicted_discrepancy: float    # switch prediction, mean over segments
    actual_discrepancy: float       # measured light-vs-full distance, mean over segments
    switch_abs_error: float         # mean |predicted - actual| over segments
    segments: int


@dataclass(frozen=True)
class GroupSummary:
    n_clips: int
    visqol_full: float
    visqol_light: float
    visqol_mixed: float
    light_usage: float
    sparsity: float
    switch_mae: float               # mean |predicted - actual| discrepancy per segment


@dataclass(frozen=True)
class SweepPoint:
    threshold: float
    light_usage: float
    visqol_mixed: float
    light_usage_per_class: dict[str, float]
    visqol_mixed_per_class: dict[str, float]


@dataclass(frozen=True)
class EvaluationResult:
    threshold: float
    clips: tuple[ClipEvaluation, ...]
    overall: GroupSummary
    per_class: dict[str, GroupSummary]
    sweep: tuple[SweepPoint, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Encoded:
    clip: Clip
    full: torch.Tensor
    light: torch.Tensor
    predicted: torch.Tensor   # [S]
    actual: torch.Tensor      # [S]
    sparsity: float


class _ClipScorer:
    """Decodes embeddings and scores them against one clip, caching by routing pattern."""

    def __init__(self, codec: DSLCodec, scorer: VisqolScorer, enc: _Encoded) -> None:
        self.codec, self.scorer, self.enc = codec, scorer, enc
        self.cache: dict[bytes, float] = {}

    def score_routing(self, use_light: torch.Tensor) -> float:
        key = use_light.cpu().numpy().astype(np.uint8).tobytes()
        if key not in self.cache:
            emb = mix_by_segment(self.enc.full, self.enc.light, use_light.unsqueeze(0))
            self.cache[key] = self._score_embedding(emb)
        return self.cache[key]

    @torch.no_grad()
    def _score_embedding(self, embedding: torch.Tensor) -> float:
        audio = self.enc.clip.audio
        decoded = self.codec.decoder(self.codec.quantizer(embedding).quantized)[0, 0, : audio.shape[-1]]
        return self.scorer.score(audio, decoded.cpu(), self.codec.candidate.encoder.sample_rate_hz)


@torch.no_grad()
def _encode(codec: DSLCodec, clip: Clip) -> _Encoded:
    device = next(codec.parameters()).device
    audio = codec.pad(clip.audio.reshape(1, 1, -1).to(device))
    out = codec.encoder(audio)
    actual = segment_discrepancy(out.full, out.light, codec.candidate.dsl.segment_frames)
    sparsity = (out.masked == 0).float().mean().item()
    return _Encoded(clip, out.full, out.light, out.predicted[0], actual[0], sparsity)


def evaluate_codec(
    codec: DSLCodec,
    clips: Sequence[Clip],
    threshold: float | None = None,
    sweep_thresholds: Sequence[float] = (),
    scorer: VisqolScorer | None = None,
    progress: ProgressCallback | None = None,
) -> EvaluationResult:
    """Evaluate ``codec`` on ``clips`` at ``threshold`` (default: the candidate's) and sweep thresholds."""
    tau = codec.candidate.dsl.threshold if threshold is None else threshold
    scorer = scorer or VisqolScorer()
    codec.eval()
    results, clip_scorers = [], []
    for i, clip in enumerate(clips):
        enc = _encode(codec, clip)
        cs = _ClipScorer(codec, scorer, enc)
        clip_scorers.append(cs)
        results.append(_evaluate_clip(cs, tau))
        if progress is not None:
            progress(i + 1, len(clips))
    sweep = tuple(_sweep_point(clip_scorers, t) for t in sweep_thresholds)
    return EvaluationResult(tau, tuple(results), summarise(results), summarise_by_class(results), sweep)


def _evaluate_clip(cs: _ClipScorer, tau: float) -> ClipEvaluation:
    enc = cs.enc
    segments = enc.predicted.shape[0]
    use_light = route_light(enc.predicted, tau)
    return ClipEvaluation(
        clip_id=enc.clip.clip_id,
        label=enc.clip.label,
        visqol_full=cs.score_routing(torch.zeros(segments, dtype=torch.bool)),
        visqol_light=cs.score_routing(torch.ones(segments, dtype=torch.bool)),
        visqol_mixed=cs.score_routing(use_light),
        light_usage=use_light.float().mean().item(),
        sparsity=enc.sparsity,
        predicted_discrepancy=enc.predicted.mean().item(),
        actual_discrepancy=enc.actual.mean().item(),
        switch_abs_error=(enc.predicted - enc.actual).abs().mean().item(),
        segments=segments,
    )


def _sweep_point(clip_scorers: list[_ClipScorer], tau: float) -> SweepPoint:
    usage: dict[str, list[float]] = {}
    quality: dict[str, list[float]] = {}
    for cs in clip_scorers:
        use_light = route_light(cs.enc.predicted, tau)
        for key in ("all", cs.enc.clip.label):
            usage.setdefault(key, []).append(use_light.float().mean().item())
            quality.setdefault(key, []).append(cs.score_routing(use_light))
    classes = sorted(k for k in usage if k != "all")
    return SweepPoint(
        threshold=float(tau),
        light_usage=float(np.mean(usage["all"])),
        visqol_mixed=float(np.mean(quality["all"])),
        light_usage_per_class={k: float(np.mean(usage[k])) for k in classes},
        visqol_mixed_per_class={k: float(np.mean(quality[k])) for k in classes},
    )


def summarise(results: Sequence[ClipEvaluation]) -> GroupSummary:
    """Means over clips (``nan`` fields for an empty group)."""
    def mean(attr: str) -> float:
        return float(np.mean([getattr(r, attr) for r in results])) if results else float("nan")

    return GroupSummary(
        n_clips=len(results),
        visqol_full=mean("visqol_full"),
        visqol_light=mean("visqol_light"),
        visqol_mixed=mean("visqol_mixed"),
        light_usage=mean("light_usage"),
        sparsity=mean("sparsity"),
        switch_mae=mean("switch_abs_error"),
    )


def summarise_by_class(results: Sequence[ClipEvaluation]) -> dict[str, GroupSummary]:
    labels = sorted({r.label for r in results})
    return {label: summarise([r for r in results if r.label == label]) for label in labels}
