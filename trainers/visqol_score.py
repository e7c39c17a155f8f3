"""ViSQOL MOS-LQO of a degraded signal against its reference (a thin wrapper over visqol-python).

Speech mode (16 kHz, VAD-selected patches, deep-lattice MOS mapper) is the paper's metric; audio mode
(48 kHz, SVR mapper) is there for music/general audio. Inputs at any rate are resampled to the mode's rate.

What the library does at the edges, and what this wrapper does about it (measured with
visqol-python 3.8; see ``tests/test_visqol.py``):

* **Minimum length.** A reference shorter than one patch cannot be scored: speech mode needs
  10,240 samples at 16 kHz (0.64 s; shorter fails with a bare ``IndexError``), audio mode 46,080 samples at
  48 kHz (0.96 s). This wrapper raises :class:`DataError` saying so before calling the library.
* **Quiet references.** ViSQOL floors every gammatone band at -45 dB absolute before comparing, so a
  reference whose loudest 80 ms frame is below about -70 dBFS RMS is invisible to it: every degraded
  signal then gets the same score (4.706 in speech mode, 4.732 in audio mode), however damaged. Scores stay
  sensitive down to about -65 dBFS; our "silence" clips (ambient noise at -50..-35 dBFS) are well inside
  that. A reference quieter than :data:`QUIET_REFERENCE_DBFS` raises :class:`DataError` unless the scorer was
  built with ``reference_level_dbfs``, which multiplies reference *and* degraded by the one gain that
  brings the reference to that RMS level (the score then ignores the clip's playback level).
* **Digital silence.** An all-zero reference makes the library's level matching divide by zero (NaN):
  always a :class:`DataError`. An all-zero degraded signal against a real reference also gives NaN in the
  library; it carries nothing of the reference, so this wrapper returns :data:`MOS_FLOOR` (1.0, the
  lowest MOS-LQO, which ViSQOL itself assigns when similarity collapses).
* **Output.** The TFLite runtime prints one ``INFO`` line on stderr when the speech model loads; nothing is
  written to stdout. A non-finite score never leaves :meth:`VisqolScorer.score` (it raises instead).
"""

from __future__ import annotations

import enum
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchaudio.functional as audio_fn

from dslnas.spaces.errors import DataError
from dslnas.trainers.data.audio_io import load_audio

MOS_FLOOR = 1.0
"""The lowest MOS-LQO; the score of an all-zero degraded signal."""
QUIET_REFERENCE_DBFS = -65.0
"""A reference whose loudest 80 ms frame is below this RMS level (dBFS) is too quiet for ViSQOL."""
_WINDOW_S = 0.08  # ViSQOL's analysis window; hop = window / 4
_MIN_FRAMES = {"speech": 29, "audio": 45}  # first patch offset + one patch (20 or 30 frames)


class VisqolMode(str, enum.Enum):
    """ViSQOL's two models: ``speech`` (16 kHz, lattice mapper) and ``audio`` (48 kHz, SVR mapper)."""

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


class VisqolScorer:
    """Scores degraded audio against a reference; the visqol API is created on first use, then reused.

    Args:
        mode: speech (the paper's metric) or audio.
        reference_level_dbfs: ``None`` scores at the level given (the ViSQOL protocol). A level in dBFS
            RMS makes the scorer multiply both signals by the gain that brings the reference to it first,
            which also lets it score references quieter than :data:`QUIET_REFERENCE_DBFS`.
        max_length_mismatch_s: how much longer one signal may be than the other (codec padding); both are
            trimmed to the shorter one. A larger mismatch is a :class:`DataError`.
    """

    def __init__(
        self,
        mode: VisqolMode = VisqolMode.SPEECH,
        reference_level_dbfs: float | None = None,
        max_length_mismatch_s: float = 0.1,
    ) -> None:
        self.mode = VisqolMode(mode)
        self.reference_level_dbfs = reference_level_dbfs
        self.max_length_mismatch_s = max_length_mismatch_s
        self._api: Any = None

    @property
    def sample_rate_hz(self) -> int:
        """The rate signals are scored at (the mode's)."""
        return self.mode.sample_rate_hz

    def score(
        self, ref: torch.Tensor | np.ndarray, deg: torch.Tensor | np.ndarray, sample_rate_hz: int
    ) -> float:
        """ViSQOL MOS-LQO of ``deg`` against ``ref``, in [1, 5] (higher is better).

        Args:
            ref: reference ``[T]`` samples, full scale [-1, 1] (a ``[1, T]`` or ``[1, 1, T]`` batch of one
                is accepted).
            deg: degraded ``[T']`` samples at the same rate, ``|T - T'|`` within ``max_length_mismatch_s``.
            sample_rate_hz: rate of both signals in Hz.

        Raises:
            DataError: empty, multi-channel or non-finite input, a non-positive rate, lengths that differ by
                more than ``max_length_mismatch_s``, a signal shorter than the mode's minimum, an all-zero
                reference, or a reference too quiet to score (see the module notes).
            RuntimeError: the library returned a non-finite score.
        """
        if sample_rate_hz <= 0:
            raise DataError(f"ViSQOL: sample rate must be a positive number of Hz, got {sample_rate_hz}")
        ref_np = self._prepare(ref, "reference", sample_rate_hz)
        deg_np = self._prepare(deg, "degraded", sample_rate_hz)
        ref_np, deg_np = self._trim_to_common_length(ref_np, deg_np)
        gain = self._reference_gain(ref_np)
        ref_np, deg_np = ref_np * gain, deg_np * gain
        if not np.any(deg_np):
            return MOS_FLOOR
        moslqo = float(self._visqol().measure_from_arrays(ref_np, deg_np, self.sample_rate_hz).moslqo)
        if not math.isfinite(moslqo):
            raise RuntimeError(f"ViSQOL returned a non-finite MOS-LQO ({moslqo}) for finite inputs")
        return moslqo

    def _prepare(self, audio: torch.Tensor | np.ndarray, name: str, sample_rate_hz: int) -> np.ndarray:
        """Validate one signal and return it as float64 ``[T]`` at the mode's rate."""
        samples = torch.as_tensor(audio).detach().to("cpu", torch.float64)
        if samples.dim() > 1 and all(size == 1 for size in samples.shape[:-1]):
            samples = samples.reshape(-1)
        if samples.dim() != 1:
            raise DataError(f"ViSQOL: {name} audio must be mono [T], got shape {tuple(samples.shape)}")
        if samples.numel() == 0:
            raise DataError(f"ViSQOL: {name} audio is empty")
        if not bool(torch.isfinite(samples).all()):
            raise DataError(f"ViSQOL: {name} audio holds non-finite samples (NaN or inf)")
        if sample_rate_hz != self.sample_rate_hz:
            samples = audio_fn.resample(samples, sample_rate_hz, self.sample_rate_hz)
        return samples.numpy()

    def _trim_to_common_length(self, ref: np.ndarray, deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Both signals cut to the shorter length, after checking the mismatch and the minimum length."""
        rate = self.sample_rate_hz
        if abs(ref.size - deg.size) > self.max_length_mismatch_s * rate:
            raise DataError(
                f"ViSQOL: reference is {ref.size / rate:.2f} s but degraded is {deg.size / rate:.2f} s "
                f"(more than {self.max_length_mismatch_s:g} s apart)"
            )
        length = min(ref.size, deg.size)
        if length < self.mode.min_samples:
            raise DataError(
                f"ViSQOL {self.mode.value} mode needs at least {self.mode.min_samples / rate:.2f} s "
                f"of audio, got {length / rate:.2f} s"
            )
        return ref[:length], deg[:length]

    def _reference_gain(self, ref: np.ndarray) -> float:
        """The gain applied to both signals: 1, or the one that brings ``ref`` to ``reference_level_dbfs``."""
        if not np.any(ref):
            raise DataError("ViSQOL: reference is digital silence (all zeros); its score is undefined")
        if self.reference_level_dbfs is not None:
            return 10.0 ** (self.reference_level_dbfs / 20.0) / float(np.sqrt(np.mean(np.square(ref))))
        loudest_dbfs = loudest_frame_dbfs(ref, self.sample_rate_hz)
        if loudest_dbfs < QUIET_REFERENCE_DBFS:
            raise DataError(
                f"ViSQOL: reference too quiet to score (loudest 80 ms frame {loudest_dbfs:.1f} dBFS, "
                f"below {QUIET_REFERENCE_DBFS:g} dBFS; ViSQOL would give it the same score whatever the "
                "degradation); set reference_level_dbfs to score it level-normalised"
            )
        return 1.0

    def _visqol(self) -> Any:
        """The visqol API for this mode, created on first use."""
        if self._api is None:
            from visqol import VisqolApi  # heavy import (TFLite, scipy), deferred to first use

            api = VisqolApi()
            api.create(mode=self.mode.value, use_lattice_model=self.mode is VisqolMode.SPEECH)
            self._api = api
        return self._api

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the API (its TFLite interpreter cannot travel); it is recreated on first use."""
        return {**self.__dict__, "_api": None}


def loudest_frame_dbfs(audio: np.ndarray, sample_rate_hz: int) -> float:
    """RMS level in dBFS of the loudest 80 ms frame of ``audio`` ``[T]`` (the whole signal if shorter)."""
    frame = min(max(1, round(_WINDOW_S * sample_rate_hz)), audio.size)
    n_frames = audio.size // frame
    frames = audio[: n_frames * frame].reshape(n_frames, frame)
    power = float(np.max(np.mean(np.square(frames), axis=1)))
    return 10.0 * math.log10(power) if power > 0 else -math.inf


def score_files(
    ref_path: str | Path, deg_path: str | Path, mode: VisqolMode = VisqolMode.SPEECH
) -> float:
    """ViSQOL MOS-LQO of the audio file ``deg_path`` against ``ref_path`` (any rate/channels, see load_audio).

    Raises:
        DataError: a file cannot be loaded, or anything :meth:`VisqolScorer.score` rejects.
    """
    scorer = VisqolScorer(mode)
    ref = load_audio(ref_path, scorer.sample_rate_hz)
    deg = load_audio(deg_path, scorer.sample_rate_hz)
    return scorer.score(ref, deg, scorer.sample_rate_hz)
