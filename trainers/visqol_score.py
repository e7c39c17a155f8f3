"""ViSQOL MOS-LQO of a degraded signal against its reference (a thin wrapper over visqol-python).

Speech mode (16 kHz, VAD-selected patches, deep-lattice MOS mapper) is the paper's metric; audio mode
(48 kHz, SVR mapper) is there for music/general audio. Inputs at any rate are resampled to the mode's rate.

**The scoring-level rule** (the one change this wrapper makes to what ViSQOL sees). ViSQOL floors every
gammatone band at -45 dB absolute, and the speech lattice mapper takes the degraded signal's per-band
energy as a feature, so below about -30 dBFS RMS the score depends on the playback level rather than the
damage: a 4 kHz low-pass on pink + brown noise scores 2.19 at -10..-30 dBFS, 2.88 at -40, 3.96 at -50, and
at -80 dBFS every degraded copy scores about what the identical copy does (4.70 vs 4.71). Quiet "silence" material (room tone at
-75..-55 dBFS) is therefore scored at a fixed level: **a reference whose RMS is below**
:data:`SCORING_LEVEL_DBFS` **(-26 dBFS, the P.56 nominal level) is scored with reference and degraded both
multiplied by the one gain that brings the reference's RMS to it**; a louder reference is scored as given
(scores there do not depend on level). :attr:`VisqolScorer.counts` says for how many distinct references
the rule applied. ``scoring_level_dbfs=None`` scores at the given level (ViSQOL's own protocol) and raises
for a reference quieter than :data:`QUIET_REFERENCE_DBFS` (loudest 80 ms frame), which it cannot score.

Other edges (measured with visqol-python 3.8; see ``tests/test_visqol.py``):

* **Identical-looking silence scores 1.000.** ViSQOL maps a mean patch similarity (NSIM) below 0.15 to
  MOS exactly 1.0, and for noise-like material NSIM compares the exact spectro-temporal fine structure:
  another realisation of the same noise at the same level scores 1.0. A codec that re-synthesises room
  tone instead of reproducing it scores 1.0 whatever its level; that is a fact about the codec, which the
  level rule does not hide.
* **Minimum length.** A reference shorter than one patch cannot be scored: speech mode needs
  10,240 samples at 16 kHz (0.64 s; shorter fails with a bare ``IndexError``), audio mode 46,080 samples at
  48 kHz (0.96 s). This wrapper raises :class:`DataError` saying so before calling the library.
* **Different lengths** are scored as Google's ViSQOL does: both signals go to the library untrimmed, which
  aligns the degraded one globally (leading zeros prepended or cut, for codec delay) and matches each
  reference patch within the degraded signal. ViSQOL only warns beyond a 1 s mismatch; here that is a
  :class:`DataError` (``max_length_mismatch_s``), as it is a pairing mistake, not a codec.
* **Digital silence.** An all-zero reference has no level and makes the library divide by zero (NaN): it is
  not given to ViSQOL. Its score is :data:`MOS_CEILING` (5.0) when the degraded signal is silent too (every
  sample below half a 16-bit step), else :data:`MOS_FLOOR` (1.0); counted in ``counts.digital_silence``.
  An all-zero degraded signal against a real reference also gives NaN in the library; it carries nothing
  of the reference, so this wrapper returns :data:`MOS_FLOOR`.
* **Output.** The TFLite runtime prints one ``INFO`` line on stderr when the speech model loads; nothing is
  written to stdout. A non-finite score never leaves :meth:`VisqolScorer.score` (it raises instead).
"""

from __future__ import annotations

import enum
import hashlib
import math
import multiprocessing as mp
import time
import weakref
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchaudio.functional as audio_fn

from dslnas.spaces.errors import DataError
from dslnas.trainers.data.audio_io import load_audio

MOS_FLOOR = 1.0
"""The lowest MOS-LQO; the score of an all-zero degraded signal."""
MOS_CEILING = 5.0
"""The highest MOS-LQO; the score of digital silence reproduced as digital silence."""
SCORING_LEVEL_DBFS = -26.0
"""References quieter than this RMS level (dBFS) are scored raised to it (the scoring-level rule)."""
QUIET_REFERENCE_DBFS = -65.0
"""Without the rule, a reference whose loudest 80 ms frame is below this RMS level (dBFS) cannot be scored."""
DURATION_MISMATCH_TOLERANCE_S = 1.0
"""ViSQOL's own tolerance (``kDurationMismatchTolerance``) for reference and degraded lengths."""
SILENT_PEAK = 2.0**-16
"""A signal whose every sample is below this (half a 16-bit step) is digital silence."""
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


class LevelRule(str, enum.Enum):
    """How a reference's level was handled (see the module notes)."""

    AS_GIVEN = "as_given"                # at or above the scoring level (or the rule is off): scored as given
    LEVELLED = "levelled"                # below it: both signals raised by the reference's gain
    DIGITAL_SILENCE = "digital_silence"  # all-zero reference: 5.0 if the degraded one is silent too, else 1.0


@dataclass(frozen=True)
class VisqolScore:
    """One score and how it was reached; ``gain_db`` multiplied both signals (0 unless levelled)."""

    moslqo: float
    rule: LevelRule
    gain_db: float = 0.0


@dataclass(frozen=True)
class ScoringCounts:
    """Distinct references a scorer has scored, and how many of them each rule took."""

    references: int
    levelled: int
    digital_silence: int


class VisqolScorer:
    """Scores degraded audio against a reference; the visqol API is created on first use, then reused.

    Args:
        mode: speech (the paper's metric) or audio.
        scoring_level_dbfs: the scoring-level rule's level (dBFS RMS); ``None`` scores at the given level.
        max_length_mismatch_s: how much longer one signal may be than the other; beyond it a DataError.
        workers: processes :meth:`score_many` scores in; 1 scores
            in this process. The pool (``forkserver``: no fork of a process with live threads) starts on the
            first batch and lives until :meth:`close`; a worker that dies takes the pool down with an error,
            and the next batch starts a new one. Each worker runs numba single-threaded.
    """

    def __init__(
        self,
        mode: VisqolMode = VisqolMode.SPEECH,
        scoring_level_dbfs: float | None = SCORING_LEVEL_DBFS,
        max_length_mismatch_s: float = DURATION_MISMATCH_TOLERANCE_S,
        workers: int = 1,
    ) -> None:
        if workers < 1:
            raise ValueError(f"ViSQOL workers must be >= 1, got {workers}")
        self.mode = VisqolMode(mode)
        self.scoring_level_dbfs = scoring_level_dbfs
        self.max_length_mismatch_s = max_length_mismatch_s
        self.workers = workers
        self.seconds = 0.0  # wall time spent in score / score_many
        self._api: Any = None
        self._pool: ProcessPoolExecutor | None = None
        self._rules: dict[bytes, LevelRule] = {}  # reference fingerprint -> the rule it took

    def score_many(
        self, pairs: Iterable[tuple[torch.Tensor | np.ndarray, torch.Tensor | np.ndarray]], sample_rate_hz: int
    ) -> list[float]:
        """:meth:`score` of every ``(ref, deg)`` pair, in order; with ``workers > 1`` in a process pool, each
        pair sent as soon as ``pairs`` yields it (so a caller decoding the next one overlaps the scoring)."""
        started = time.perf_counter()
        refs: list[np.ndarray] = []
        jobs: list[Future | tuple[np.ndarray, np.ndarray]] = []
        try:
            for ref, deg in pairs:
                ref_np, deg_np = self._prepare_pair(ref, deg, sample_rate_hz)
                refs.append(ref_np)
                jobs.append(self._submit(ref_np, deg_np) if self.workers > 1 else (ref_np, deg_np))
            results = [job.result() if isinstance(job, Future) else self._score_prepared(*job) for job in jobs]
        except BrokenProcessPool:
            self._pool = None  # a worker died: the next batch starts a new pool
            raise
        except BaseException:
            for job in jobs:
                if isinstance(job, Future):
                    job.cancel()
            raise
        finally:
            self.seconds += time.perf_counter() - started
        for ref_np, result in zip(refs, results):
            self._remember(ref_np, result)
        return [r.moslqo for r in results]

    def close(self) -> None:
        """Stop the worker processes (a later batch starts them again)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> VisqolScorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _submit(self, ref: np.ndarray, deg: np.ndarray) -> Future:
        if self._pool is None:
            method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
            settings = (self.mode, self.scoring_level_dbfs, self.max_length_mismatch_s)
            self._pool = ProcessPoolExecutor(self.workers, mp.get_context(method), _init_worker, settings)
            weakref.finalize(self, self._pool.shutdown, wait=False, cancel_futures=True)
        return self._pool.submit(_score_in_worker, ref, deg)

    @property
    def sample_rate_hz(self) -> int:
        """The rate signals are scored at (the mode's)."""
        return self.mode.sample_rate_hz

    @property
    def counts(self) -> ScoringCounts:
        """How many distinct references were scored, levelled, or were digital silence."""
        rules = list(self._rules.values())
        return ScoringCounts(len(rules), rules.count(LevelRule.LEVELLED), rules.count(LevelRule.DIGITAL_SILENCE))

    def score(
        self, ref: torch.Tensor | np.ndarray, deg: torch.Tensor | np.ndarray, sample_rate_hz: int
    ) -> float:
        """ViSQOL MOS-LQO of ``deg`` against ``ref``, in [1, 5] (higher is better); see :meth:`score_detail`."""
        return self.score_detail(ref, deg, sample_rate_hz).moslqo

    def score_detail(
        self, ref: torch.Tensor | np.ndarray, deg: torch.Tensor | np.ndarray, sample_rate_hz: int
    ) -> VisqolScore:
        """ViSQOL MOS-LQO of ``deg`` against ``ref`` and the level rule that applied.

        Args:
            ref: reference ``[T]`` samples, full scale [-1, 1] (a ``[1, T]`` or ``[1, 1, T]`` batch of one
                is accepted).
            deg: degraded ``[T']`` samples at the same rate, ``|T - T'|`` within ``max_length_mismatch_s``.
            sample_rate_hz: rate of both signals in Hz.

        Raises:
            DataError: empty, multi-channel or non-finite input, a non-positive rate, lengths that differ by
                more than ``max_length_mismatch_s``, a signal shorter than the mode's minimum, or (with
                ``scoring_level_dbfs=None``) a reference too quiet to score.
            RuntimeError: the library returned a non-finite score.
        """
        started = time.perf_counter()
        try:
            ref_np, deg_np = self._prepare_pair(ref, deg, sample_rate_hz)
            result = self._score_prepared(ref_np, deg_np)
        finally:
            self.seconds += time.perf_counter() - started
        self._remember(ref_np, result)
        return result

    def _prepare_pair(self, ref: Any, deg: Any, sample_rate_hz: int) -> tuple[np.ndarray, np.ndarray]:
        """Both signals checked and at the mode's rate, float64 ``[T]`` each."""
        if sample_rate_hz <= 0:
            raise DataError(f"ViSQOL: sample rate must be a positive number of Hz, got {sample_rate_hz}")
        ref_np = self._prepare(ref, "reference", sample_rate_hz)
        deg_np = self._prepare(deg, "degraded", sample_rate_hz)
        self._check_lengths(ref_np, deg_np)
        return ref_np, deg_np

    def _remember(self, ref_np: np.ndarray, result: VisqolScore) -> None:
        self._rules[hashlib.blake2b(ref_np.tobytes(), digest_size=16).digest()] = result.rule

    def _score_prepared(self, ref: np.ndarray, deg: np.ndarray) -> VisqolScore:
        """The score of two checked signals at the mode's rate."""
        if not np.any(ref):
            silent = float(np.max(np.abs(deg))) < SILENT_PEAK
            return VisqolScore(MOS_CEILING if silent else MOS_FLOOR, LevelRule.DIGITAL_SILENCE)
        gain_db = self._gain_db(ref)
        rule = LevelRule.LEVELLED if gain_db > 0.0 else LevelRule.AS_GIVEN
        if not np.any(deg):
            return VisqolScore(MOS_FLOOR, rule, gain_db)
        gain = 10.0 ** (gain_db / 20.0)
        moslqo = float(self._visqol().measure_from_arrays(ref * gain, deg * gain, self.sample_rate_hz).moslqo)
        if not math.isfinite(moslqo):
            raise RuntimeError(f"ViSQOL returned a non-finite MOS-LQO ({moslqo}) for finite inputs")
        return VisqolScore(moslqo, rule, gain_db)

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

    def _check_lengths(self, ref: np.ndarray, deg: np.ndarray) -> None:
        """Both signals hold a patch, and their lengths are within the mismatch tolerance (none is trimmed)."""
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

    def _gain_db(self, ref: np.ndarray) -> float:
        """The gain in dB applied to both signals: the scoring-level rule's, or 0 when it is off or not needed."""
        if self.scoring_level_dbfs is None:
            loudest_dbfs = loudest_frame_dbfs(ref, self.sample_rate_hz)
            if loudest_dbfs < QUIET_REFERENCE_DBFS:
                raise DataError(
                    f"ViSQOL: reference too quiet to score (loudest 80 ms frame {loudest_dbfs:.1f} dBFS, "
                    f"below {QUIET_REFERENCE_DBFS:g} dBFS; ViSQOL would give it the same score whatever the "
                    "degradation); keep the default scoring_level_dbfs to score it level-normalised"
                )
            return 0.0
        rms_dbfs = 10.0 * math.log10(float(np.mean(np.square(ref))))
        return max(0.0, self.scoring_level_dbfs - rms_dbfs)

    def _visqol(self) -> Any:
        """The visqol API for this mode, created on first use."""
        if self._api is None:
            from visqol import VisqolApi  # heavy import (TFLite, scipy), deferred to first use

            api = VisqolApi()
            api.create(mode=self.mode.value, use_lattice_model=self.mode is VisqolMode.SPEECH)
            self._api = api
        return self._api

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the API (its TFLite interpreter cannot travel) or the pool; both are recreated on use."""
        return {**self.__dict__, "_api": None, "_pool": None}


_WORKER_SCORER: VisqolScorer | None = None
"""The scorer of a :meth:`VisqolScorer.score_many` pool worker process (set by its initializer)."""


def _init_worker(mode: VisqolMode, scoring_level_dbfs: float | None, max_length_mismatch_s: float) -> None:
    global _WORKER_SCORER
    try:  # the pool is the parallelism: numba's parallel kernels would start a thread per core in every worker
        import numba

        numba.set_num_threads(1)
    except ImportError:
        pass
    _WORKER_SCORER = VisqolScorer(mode, scoring_level_dbfs, max_length_mismatch_s)


def _score_in_worker(ref: np.ndarray, deg: np.ndarray) -> VisqolScore:
    assert _WORKER_SCORER is not None, "ViSQOL pool worker used before its initializer ran"
    return _WORKER_SCORER._score_prepared(ref, deg)


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
