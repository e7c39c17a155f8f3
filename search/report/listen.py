"""Listen and see: the report's held-out clips as original, full path and routed output, and the knee's
routing timelines (issue 26.5).

For the full-only baseline, the knee and each budget pick, the same few held-out clips per class
(:data:`CLIPS_PER_CLASS`, the first of each class in the study's evaluation set, at most
:data:`MAX_LISTEN_SECONDS` each) are streamed through the point's codec as a deployment runs it: the full path
(every segment full) and the routed run at the point's threshold. Each is written as a 16-bit WAV under
``listen/`` beside the report page, with the clip's ViSQOL from the trial's record (what the search scored:
the same streaming run). The knee's routing timeline of each clip is a PNG there too. A point whose weights
cannot be loaded is named with the reason; nothing is skipped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dslnas.search.pareto import FrontPoint, ParetoFront, RecommendationKind
from dslnas.search.records import Role
from dslnas.search.report.timeline import RoutingTimeline, caption, oracle_at_equal_usage, timeline_png
from dslnas.spaces.atomic_io import atomic_folder
from dslnas.spaces.errors import UserError
from dslnas.spaces.labels import REPORTED_CLASSES

if TYPE_CHECKING:
    import optuna

    from dslnas.trainers.codec import DSLCodec
    from dslnas.trainers.data import Clip
    from dslnas.trainers.stream_eval import ClipStreamEvaluation
    from dslnas.trainers.stream_file import StreamedFile

LISTEN_DIR = "listen"
CLIPS_PER_CLASS = 2
MAX_LISTEN_SECONDS = 6.0


@dataclass(frozen=True)
class HeldClip:
    """A held-out clip in the listening table: ``original`` is its WAV, relative to the report page."""

    clip_id: str
    label: str
    seconds: float
    original: str


@dataclass(frozen=True)
class Heard:
    """One point on one clip: WAVs (relative paths) and the ViSQOL the trial recorded for that clip (None when
    the record has no score for it)."""

    full: str
    routed: str
    visqol_full: float | None
    visqol_routed: float | None
    light_usage: float


@dataclass(frozen=True)
class Timeline:
    clip_id: str
    png: str
    caption: str


@dataclass(frozen=True)
class Listening:
    """What the report's listening section shows; ``unavailable``: points (or the section) that could not be
    heard, with the reason."""

    clips: tuple[HeldClip, ...]
    points: tuple[tuple[str, FrontPoint], ...]
    heard: dict[tuple[int, str], Heard]
    timelines: tuple[Timeline, ...]
    knee: int | None
    unavailable: tuple[str, ...] = ()


def listen_points(front: ParetoFront) -> tuple[tuple[str, FrontPoint], ...]:
    """The full-only baseline, the knee and each budget pick, each once (titles joined)."""
    named: dict[int, tuple[list[str], FrontPoint]] = {}
    if front.baseline is not None:
        named[front.baseline.number] = (["full-only baseline"], front.baseline)
    for rec in front.recommendations:
        if rec.point is not None:
            title = "knee" if rec.kind is RecommendationKind.KNEE else f"within {rec.budget_ms:g} ms"
            named.setdefault(rec.point.number, ([], rec.point))[0].append(title)
    return tuple((", ".join(titles), point) for titles, point in named.values())


def choose_clips(clips: Sequence["Clip"], per_class: int = CLIPS_PER_CLASS) -> list["Clip"]:
    """The first ``per_class`` clips of each class, reported classes first (the same for every point)."""
    labels = [*REPORTED_CLASSES, *sorted({c.label for c in clips} - set(REPORTED_CLASSES))]
    return [c for label in labels for c in [c for c in clips if c.label == label][:per_class]]


def write_listening(front: ParetoFront, clips: Sequence["Clip"], codec_for: Callable[[FrontPoint], "DSLCodec"],
                    out_dir: Path) -> Listening:
    """Stream ``clips`` through every listened point's codec (``codec_for``) and write ``out_dir/listen/``."""
    points = listen_points(front)
    knee = front.knee.number if front.knee is not None else None
    heard: dict[tuple[int, str], Heard] = {}
    unavailable, timelines, held = [], [], []
    with atomic_folder(out_dir / LISTEN_DIR) as folder:
        rate = 0
        for title, point in points:
            try:
                codec = codec_for(point)
            except (UserError, OSError, RuntimeError, ValueError) as err:
                unavailable.append(f"trial {point.number} ({title}): {err}")
                continue
            rate = codec.candidate.encoder.sample_rate_hz
            for i, clip in enumerate(clips):
                ev = _evaluation(codec, clip)
                heard[(point.number, clip.clip_id)] = _hear(ev, point, i, folder)
                if point.number == knee:
                    timelines.append(_timeline(ev, point, i, folder))
        for i, clip in enumerate(clips):
            audio = clip.audio[: round(MAX_LISTEN_SECONDS * rate)] if rate else clip.audio
            if rate:
                _save(folder / f"clip{i}-original.wav", audio.numpy(), rate)
            held.append(HeldClip(clip.clip_id, clip.label, len(audio) / rate if rate else 0.0,
                                 f"{LISTEN_DIR}/clip{i}-original.wav"))
    return Listening(tuple(held), points, heard, tuple(timelines), knee, tuple(unavailable))


def _evaluation(codec: "DSLCodec", clip: "Clip") -> "ClipStreamEvaluation":
    from dslnas.spaces.candidate import StatePolicy
    from dslnas.trainers.stream_eval import ClipStreamEvaluation
    from dslnas.trainers.streaming import StreamingEncoder
    from dslnas.trainers.visqol_score import VisqolScorer

    rate = codec.candidate.encoder.sample_rate_hz
    short = clip.head(round(MAX_LISTEN_SECONDS * rate))
    policy = StatePolicy(codec.candidate.dsl.state_policy)
    return ClipStreamEvaluation(codec, StreamingEncoder(codec.encoder), VisqolScorer(), short, policy)


def _save(path: Path, audio: np.ndarray, rate: int) -> None:
    from dslnas.trainers.data.audio_io import save_audio

    save_audio(path, np.clip(audio, -1.0, 1.0), rate)


def _hear(ev: "ClipStreamEvaluation", point: FrontPoint, i: int, folder: Path) -> Heard:
    """The point's full-path and routed output of clip ``i``, written; its recorded ViSQOL for that clip."""
    rate = ev.codec.candidate.encoder.sample_rate_hz
    pattern = ev.pattern_at(point.record.threshold)
    names = (f"clip{i}-trial{point.number}-full.wav", f"clip{i}-trial{point.number}-routed.wav")
    _save(folder / names[0], ev.decoded(ev.full.use_light).numpy(), rate)
    _save(folder / names[1], ev.decoded(pattern).numpy(), rate)
    scored = next((c for c in point.record.clips if c.clip_id == ev.clip.clip_id), None)
    return Heard(f"{LISTEN_DIR}/{names[0]}", f"{LISTEN_DIR}/{names[1]}", scored.visqol_full if scored else None,
                 scored.visqol_mixed if scored else None, float(pattern.float().mean()))


def clip_timeline(ev: "ClipStreamEvaluation", threshold: float, title: str) -> RoutingTimeline:
    """The routing timeline of a streamed clip at ``threshold``, with the oracle at equal light usage."""
    light = ev.pattern_at(threshold).numpy().astype(bool)
    actual = ev.actual.numpy().reshape(-1)
    segment_s = ev.codec.candidate.segment_samples / ev.codec.candidate.encoder.sample_rate_hz
    return RoutingTimeline(title, ev.codec.candidate.encoder.sample_rate_hz, ev.reference.numpy(), segment_s, threshold,
                           ev.predicted.numpy().reshape(-1), light, actual, oracle_at_equal_usage(actual, int(light.sum())))


def _timeline(ev: "ClipStreamEvaluation", point: FrontPoint, i: int, folder: Path) -> Timeline:
    t = clip_timeline(ev, point.record.threshold, f"trial {point.number} on {ev.clip.label} clip {ev.clip.clip_id}")
    name = f"clip{i}-timeline.png"
    timeline_png(t, folder / name)
    return Timeline(ev.clip.clip_id, f"{LISTEN_DIR}/{name}", caption(t))


def study_listening(study: "optuna.Study", front: ParetoFront, out_dir: Path, per_class: int = CLIPS_PER_CLASS) -> Listening:
    """:func:`write_listening` on the study's own held-out clips, each point's weights from its trial."""
    from dslnas.search.point_source import study_point
    from dslnas.trainers.data import load_dataset
    from dslnas.trainers.data.clips import evaluation_set, visqol_min_samples

    anchor = front.knee or front.baseline
    if anchor is None:
        return Listening((), (), {}, (), None, ("no completed point to listen to",))
    try:
        point = study_point(study, anchor.number)
        rate, cfg = point.candidate.encoder.sample_rate_hz, point.default_data
        indexed = load_dataset(cfg, rate, min_samples=1)
        minimum = max(visqol_min_samples(rate), point.candidate.segment_samples)
        held = evaluation_set(indexed, cfg, rate, min_samples=minimum).clips
    except (UserError, OSError) as err:  # said on the page: the report itself is still written
        return Listening((), (), {}, (), None, (f"the held-out clips of trial {anchor.number} could not be loaded: {err}",))
    return write_listening(front, choose_clips(held, per_class), lambda p: study_point(study, p.number).codec(), out_dir)


def listened_role(point: FrontPoint) -> bool:
    """Whether the point's routed output is its full path (the baseline): one player, not two."""
    return point.role is Role.BASELINE


PLOT_ORACLE_MAX_S = 600.0
"""``stream --plot``: the oracle's routing (one all-full and one all-light run more) is drawn for files up to this long."""


def file_timeline(codec: "DSLCodec", audio_path: Path, streamed: "StreamedFile") -> RoutingTimeline:
    """The routing timeline of a file ``dslnas stream`` just streamed (its routes and predictions as streamed),
    with the oracle at equal light usage for files of at most :data:`PLOT_ORACLE_MAX_S`."""
    from dslnas.spaces.candidate import StatePolicy
    from dslnas.trainers.data import Clip, load_audio
    from dslnas.trainers.stream_eval import ClipStreamEvaluation
    from dslnas.trainers.streaming import StreamingEncoder, Tail
    from dslnas.trainers.visqol_score import VisqolScorer

    rate = codec.candidate.encoder.sample_rate_hz
    audio = load_audio(audio_path, rate)
    light = np.array([Tail(r) is Tail.LIGHT for r in streamed.routes], dtype=bool)
    actual = oracle = None
    if streamed.seconds <= PLOT_ORACLE_MAX_S:
        clip = Clip(audio_path.stem, audio, "unknown")
        ev = ClipStreamEvaluation(codec, StreamingEncoder(codec.encoder), VisqolScorer(), clip, StatePolicy(streamed.state_policy))
        actual = ev.actual.numpy().reshape(-1)[: len(light)]
        oracle = oracle_at_equal_usage(actual, int(light.sum()))
    no_oracle = "" if actual is not None else f" (oracle not drawn: longer than {PLOT_ORACLE_MAX_S:g} s)"
    title = f"{audio_path.name}: route {streamed.route}, {streamed.state_policy} state{no_oracle}"
    return RoutingTimeline(title, rate, audio.numpy(), streamed.segment_ms / 1000.0, streamed.threshold,
                           np.asarray(streamed.predicted, dtype=float), light, actual, oracle)
