"""ViSQOL's models and the unscorable-pair rule: the enums and typed results a score carries, and the pure
functions that decide the rule (no ViSQOL import; :mod:`dslnas.trainers.visqol_score` scores).

**The unscorable-pair rule** (the one change this wrapper makes; ``quiet_rule=False`` turns it off).
ViSQOL cannot score a pair when

* either signal is **digital silence** (every sample below half a 16-bit step, :data:`SILENT_PEAK`):
  ViSQOL divides by zero. Score :data:`MOS_CEILING` (5.0) when both are silent, else :data:`MOS_FLOOR`;
* the reference is **so quiet that the score no longer depends on the signal**: its loudest 80 ms frame is
  below :data:`QUIET_SPEECH_DBFS` (-88 dBFS lattice, -82 exponential) or :data:`QUIET_AUDIO_DBFS` (-79).
  Measured with ``bench/visqol_level.py``: below it every degraded copy (a perfect one, a 3 kHz low-pass,
  10 dB SNR noise, another signal) scores the same within 0.02 MOS. Both signals are then scored
  multiplied by the one gain that brings the reference's RMS to :data:`RAISED_LEVEL_DBFS` (-26 dBFS,
  the P.56 nominal speech level), where ViSQOL tells them apart.

Each :class:`VisqolScore` says which :class:`LevelRule` it took (``rule_applied``).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

MOS_FLOOR = 1.0
"""The lowest MOS-LQO; the score of digital silence against a signal that is not silent."""
MOS_CEILING = 5.0
"""The highest MOS-LQO; the score of digital silence reproduced as digital silence."""
RAISED_LEVEL_DBFS = -26.0
"""The RMS level (dBFS) a too-quiet reference is raised to, the degraded signal by the same gain (P.56 nominal)."""
SILENT_PEAK = 2.0**-16
"""A signal whose every sample is below this (half a 16-bit step) is digital silence."""
_WINDOW_S = 0.08  # ViSQOL's analysis window; hop = window / 4
_MIN_FRAMES = {"speech": 29, "audio": 45}  # first patch offset + one patch (20 or 30 frames)


class VisqolMode(str, enum.Enum):
    """ViSQOL's two models: ``speech`` (16 kHz, lattice or exponential mapping) and ``audio`` (48 kHz, SVR)."""

    SPEECH = "speech"
    AUDIO = "audio"

    @property
    def sample_rate_hz(self) -> int:
        """The rate the mode's model was built for; inputs are resampled to it."""
        return 16_000 if self is VisqolMode.SPEECH else 48_000

    @property
    def min_samples(self) -> int:
        """The shortest signal, in samples at :attr:`sample_rate_hz`, that holds one scoring patch."""
        window = round(_WINDOW_S * self.sample_rate_hz)
        return window + (_MIN_FRAMES[self.value] - 1) * (window // 4)


class SpeechMapping(str, enum.Enum):
    """Speech mode's similarity-to-MOS mapping: Google's default deep-lattice model or the exponential fit."""

    LATTICE = "lattice"
    EXPONENTIAL = "exponential"


class LevelRule(str, enum.Enum):
    """Whether the unscorable-pair rule applied to a score, and which case of it (see the module notes)."""

    AS_GIVEN = "as_given"                # scored by ViSQOL as given (the rule did not apply)
    LEVELLED = "levelled"                # too quiet a reference: both signals raised by its gain to -26 dBFS
    DIGITAL_SILENCE = "digital_silence"  # either signal digital silence: 5.0 if both are, else 1.0


QUIET_SPEECH_DBFS = {SpeechMapping.LATTICE: -88.0, SpeechMapping.EXPONENTIAL: -82.0}
"""Speech mode, per mapping: a reference whose loudest 80 ms frame is below this RMS level (dBFS) is too quiet to
score; ViSQOL's score there no longer depends on the signal (measured: ``bench/visqol_level.py``, docs/visqol.md)."""
QUIET_AUDIO_DBFS = -79.0
"""Audio mode's level below which a reference is too quiet to score (measured as above)."""


@dataclass(frozen=True)
class VisqolScore:
    """One score and how it was reached; ``gain_db`` multiplied both signals (0 unless levelled)."""

    moslqo: float
    rule: LevelRule
    gain_db: float = 0.0

    @property
    def rule_applied(self) -> bool:
        """Whether the unscorable-pair rule, not ViSQOL as given, produced this score."""
        return self.rule is not LevelRule.AS_GIVEN


@dataclass(frozen=True)
class ScoringCounts:
    """Distinct references a scorer has scored, and how many of them the rule took, per case."""

    references: int
    levelled: int
    digital_silence: int

    @property
    def rule_applied(self) -> int:
        """References the unscorable-pair rule scored (either case)."""
        return self.levelled + self.digital_silence


def silence_score(ref: np.ndarray, deg: np.ndarray) -> VisqolScore | None:
    """The rule's score when either ``[T]`` signal is digital silence, else ``None`` (ViSQOL can score them)."""
    ref_silent, deg_silent = (float(np.max(np.abs(x))) < SILENT_PEAK for x in (ref, deg))
    if not (ref_silent or deg_silent):
        return None
    return VisqolScore(MOS_CEILING if ref_silent and deg_silent else MOS_FLOOR, LevelRule.DIGITAL_SILENCE)


def levelling_gain_db(ref: np.ndarray, sample_rate_hz: int, quiet_dbfs: float) -> float:
    """The gain (dB) the rule applies to both signals: 0 unless ``ref`` ``[T]`` (not digital silence) has its
    loudest 80 ms frame below ``quiet_dbfs``; then the gain that brings its RMS to :data:`RAISED_LEVEL_DBFS`."""
    if loudest_frame_dbfs(ref, sample_rate_hz) >= quiet_dbfs:
        return 0.0
    return RAISED_LEVEL_DBFS - 10.0 * math.log10(float(np.mean(np.square(ref))))


def loudest_frame_dbfs(audio: np.ndarray, sample_rate_hz: int) -> float:
    """RMS level in dBFS of the loudest 80 ms frame of ``audio`` ``[T]`` (the whole signal if shorter)."""
    frame = min(max(1, round(_WINDOW_S * sample_rate_hz)), audio.size)
    n_frames = audio.size // frame
    frames = audio[: n_frames * frame].reshape(n_frames, frame)
    power = float(np.max(np.mean(np.square(frames), axis=1)))
    return 10.0 * math.log10(power) if power > 0 else -math.inf
