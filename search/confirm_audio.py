"""What ``confirm``'s routed run streams (``--audio``): generated demo clips, or the study's own held-out clips.

``demo`` (default): a few seconds of generated demo audio (speech and silence clips, ``trainers.data.demo_audio``),
the same for every study. ``study``: the clips the study scored every candidate on (its fine-tune data's held-out
side, ``trainers.data.evaluation_clips`` as the trial loads them), back to back, so the measured routing is the
one the search saw (what is scored is what is measured); longer, so the emulated runs take longer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dslnas.hw_models.runners.artifact import ExportError

if TYPE_CHECKING:
    import numpy as np
    import optuna

    from dslnas.spaces.candidate import CandidateConfig

MIXED_CLIPS, MIXED_CLIP_SECONDS, MIXED_AUDIO_SEED = 4, 1.0, 0  # 4 s: speech, silence, speech, silence


class ConfirmAudio(str, enum.Enum):
    """Where the routed run's audio comes from."""

    DEMO = "demo"
    STUDY = "study"


@dataclass(frozen=True)
class StreamAudio:
    """Mono float32 samples to stream, and where they came from in words (stored with the measurement)."""

    samples: "np.ndarray"
    source: str


def demo_audio(sample_rate_hz: int, clips: int = MIXED_CLIPS, clip_seconds: float = MIXED_CLIP_SECONDS) -> StreamAudio:
    """``clips`` generated demo clips of ``clip_seconds`` (seeded), back to back."""
    import numpy as np

    from dslnas.trainers.data.demo_audio import generate_demo_clips

    made = generate_demo_clips(clips, clip_seconds, sample_rate_hz, MIXED_AUDIO_SEED)
    return StreamAudio(np.concatenate([c.samples.numpy() for c in made]).astype(np.float32),
                       f"generated demo audio: {clips} clips of {clip_seconds:g} s (seed {MIXED_AUDIO_SEED})")


def study_audio(study: "optuna.Study", candidate: "CandidateConfig") -> StreamAudio:
    """The study's held-out clips at ``candidate``'s rate, as its trials loaded them, back to back."""
    import numpy as np

    from dslnas.search.pareto import search_config_of
    from dslnas.trainers.data import evaluation_clips, load_dataset

    config = search_config_of(study)
    data, rate = config.data or config.space.finetune.data, candidate.encoder.sample_rate_hz
    clips = evaluation_clips(load_dataset(data, rate, min_samples=candidate.segment_samples), data, rate,
                             all_when_none_held_out=True)
    if not clips:
        raise ExportError(f"study {study.study_name!r} has no held-out clips to stream")
    samples = np.concatenate([c.audio.reshape(-1).numpy() for c in clips]).astype(np.float32)
    return StreamAudio(samples, f"the study's {len(clips)} held-out clips ({len(samples) / rate:.1f} s)")


def whole_segments(audio: StreamAudio, segment_samples: int) -> "np.ndarray":
    """``[S, segment_samples]`` float32: ``audio`` cut into whole segments (the tail dropped)."""
    n = len(audio.samples) // segment_samples
    if n < 1:
        raise ExportError(f"{len(audio.samples)} samples of {audio.source} make no whole segment of {segment_samples}")
    return audio.samples[: n * segment_samples].reshape(n, segment_samples)
