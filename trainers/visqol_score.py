"""ViSQOL MOS-LQO of a degraded signal against its reference: Google's ViSQOL v3 through visqol-python.

Speech mode (16 kHz, VAD-selected patches; the deep-lattice MOS mapping by default, the exponential one on
request) is the paper's metric; audio mode (48 kHz, SVR mapping) is there for music and general audio.
Inputs at any rate are resampled to the mode's rate. With the default settings the scores reproduce
Google's conformance values (version 333) within 0.02 MOS (``tests/test_visqol_conformance.py``; the
measured table is in ``docs/visqol.md``). Signals are given to ViSQOL at their own level, as Google's tool
scores them: ViSQOL's score does depend on the playback level (it floors every gammatone band at -45 dB
absolute, and the lattice mapping reads the degraded signal's band energies), and that is kept.

**The unscorable-pair rule** (:mod:`dslnas.trainers.visqol_rule`; ``quiet_rule=False`` turns it off): a
pair with digital silence on either side, or whose reference is too quiet for ViSQOL's score to depend on
it (a level measured per mode), is not scored as given; each :class:`VisqolScore` says whether it applied,
:attr:`VisqolScorer.counts` counts the references it took. Lengths further apart than ViSQOL's own 1 s
tolerance, or shorter than one patch (speech 0.64 s, audio 0.96 s), are a :class:`DataError`; otherwise
both signals go to ViSQOL untrimmed (it aligns them). See ``docs/visqol.md``.
"""

from __future__ import annotations

import hashlib
import math
import multiprocessing as mp
import os
import time
import weakref
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchaudio.functional as audio_fn

from dslnas.spaces.errors import DataError
from dslnas.trainers.data.audio_io import load_audio, open_span
from dslnas.trainers.owner_watch import exit_with_owner
from dslnas.trainers.visqol_rule import (  # the types a score carries, re-exported with the rule's constants
    MOS_CEILING, MOS_FLOOR, QUIET_AUDIO_DBFS, QUIET_SPEECH_DBFS, LevelRule, ScoringCounts, SpeechMapping, VisqolMode,
    VisqolScore, levelling_gain_db, loudest_frame_dbfs, silence_score,
)

MAX_FILE_SECONDS = 600.0  # score_files: ViSQOL holds a pair whole, ~1.5 MB/s of audio (bench/long_audio_memory.py)
DURATION_MISMATCH_TOLERANCE_S = 1.0
"""ViSQOL's own tolerance (``kDurationMismatchTolerance``) for reference and degraded lengths."""


class VisqolScorer:
    """Scores degraded audio against a reference; the visqol API is created on first use, then reused.

    Args:
        mode: speech (the paper's metric) or audio.
        mapping: speech mode's MOS mapping (lattice, Google's default, or exponential); audio mode has one.
        quiet_rule: apply the unscorable-pair rule (see the module notes); ``False`` gives every pair to
            ViSQOL as given (Google's tool exactly) and raises for digital silence, which it cannot score.
        max_length_mismatch_s: how much longer one signal may be than the other; beyond it a DataError.
        workers: processes :meth:`score_many` scores in; 1 scores in this process. The pool (``forkserver``: no fork of a process with live threads) starts on the
            first batch and lives until :meth:`close`; a worker that dies takes the pool down with an error,
            and the next batch starts a new one. Each worker runs numba single-threaded.
    """

    def __init__(
        self,
        mode: VisqolMode = VisqolMode.SPEECH,
        *,
        mapping: SpeechMapping = SpeechMapping.LATTICE,
        quiet_rule: bool = True,
        max_length_mismatch_s: float = DURATION_MISMATCH_TOLERANCE_S,
        workers: int = 1,
    ) -> None:
        if workers < 1:
            raise ValueError(f"ViSQOL workers must be >= 1, got {workers}")
        self.mode = VisqolMode(mode)
        self.mapping = SpeechMapping(mapping)
        if self.mode is VisqolMode.AUDIO and self.mapping is not SpeechMapping.LATTICE:
            raise ValueError(f"the {self.mapping.value} mapping is speech mode's; audio mode maps with its SVR")
        self.quiet_rule = quiet_rule
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
            settings = (self.mode, self.mapping, self.quiet_rule, self.max_length_mismatch_s, os.getpid())
            self._pool = ProcessPoolExecutor(self.workers, mp.get_context(method), _init_worker, settings)
            weakref.finalize(self, self._pool.shutdown, wait=False, cancel_futures=True)
        return self._pool.submit(_score_in_worker, ref, deg)

    @property
    def sample_rate_hz(self) -> int:
        """The rate signals are scored at (the mode's)."""
        return self.mode.sample_rate_hz

    @property
    def quiet_reference_dbfs(self) -> float:
        """Below this loudest-frame level (dBFS) a reference is too quiet to score (the mode's measured level)."""
        return QUIET_AUDIO_DBFS if self.mode is VisqolMode.AUDIO else QUIET_SPEECH_DBFS[self.mapping]

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
        """ViSQOL MOS-LQO of ``deg`` against ``ref`` and whether the unscorable-pair rule applied.

        Args:
            ref: reference ``[T]`` samples, full scale [-1, 1] (a ``[1, T]`` or ``[1, 1, T]`` batch of one
                is accepted).
            deg: degraded ``[T']`` samples at the same rate, ``|T - T'|`` within ``max_length_mismatch_s``.
            sample_rate_hz: rate of both signals in Hz.

        Raises:
            DataError: empty, multi-channel or non-finite input, a non-positive rate, lengths that differ by
                more than ``max_length_mismatch_s``, a signal shorter than the mode's minimum, or (with
                ``quiet_rule=False``) digital silence on either side, which ViSQOL cannot score.
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
        """Record the rule a reference took; one that took the rule with any degraded signal counts as such."""
        key = hashlib.blake2b(ref_np.tobytes(), digest_size=16).digest()
        if result.rule_applied or key not in self._rules:
            self._rules[key] = result.rule

    def _score_prepared(self, ref: np.ndarray, deg: np.ndarray) -> VisqolScore:
        """The score of two checked signals at the mode's rate."""
        silent = silence_score(ref, deg)
        if silent is not None:
            if not self.quiet_rule:
                raise DataError("ViSQOL cannot score a pair with digital silence on either side (it divides by "
                                "zero); keep the default quiet_rule to score it by the unscorable-pair rule")
            return silent
        gain_db = levelling_gain_db(ref, self.sample_rate_hz, self.quiet_reference_dbfs) if self.quiet_rule else 0.0
        gain = 10.0 ** (gain_db / 20.0)
        moslqo = float(self._visqol().measure_from_arrays(ref * gain, deg * gain, self.sample_rate_hz).moslqo)
        if not math.isfinite(moslqo):
            raise RuntimeError(f"ViSQOL returned a non-finite MOS-LQO ({moslqo}) for finite inputs")
        return VisqolScore(moslqo, LevelRule.LEVELLED if gain_db > 0.0 else LevelRule.AS_GIVEN, gain_db)

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

    def _visqol(self) -> Any:
        """The visqol API for this mode, created on first use."""
        if self._api is None:
            from visqol import VisqolApi  # heavy import (TFLite, scipy), deferred to first use

            api = VisqolApi()
            lattice = self.mode is VisqolMode.SPEECH and self.mapping is SpeechMapping.LATTICE
            api.create(mode=self.mode.value, use_lattice_model=lattice)
            self._api = api
        return self._api

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the API (its TFLite interpreter cannot travel) or the pool; both are recreated on use."""
        return {**self.__dict__, "_api": None, "_pool": None}


_WORKER_SCORER: VisqolScorer | None = None
"""The scorer of a :meth:`VisqolScorer.score_many` pool worker process (set by its initializer)."""


def _init_worker(mode: VisqolMode, mapping: SpeechMapping, quiet_rule: bool, max_length_mismatch_s: float,
                 owner_pid: int) -> None:
    global _WORKER_SCORER
    exit_with_owner(owner_pid)  # a killed search leaves no scoring worker behind
    try:  # the pool is the parallelism: numba's parallel kernels would start a thread per core in every worker
        import numba

        numba.set_num_threads(1)
    except ImportError:
        pass
    _WORKER_SCORER = VisqolScorer(mode, mapping=mapping, quiet_rule=quiet_rule, max_length_mismatch_s=max_length_mismatch_s)


def _score_in_worker(ref: np.ndarray, deg: np.ndarray) -> VisqolScore:
    assert _WORKER_SCORER is not None, "ViSQOL pool worker used before its initializer ran"
    return _WORKER_SCORER._score_prepared(ref, deg)


def score_files(
    ref_path: str | Path,
    deg_path: str | Path,
    mode: VisqolMode = VisqolMode.SPEECH,
    mapping: SpeechMapping = SpeechMapping.LATTICE,
) -> VisqolScore:
    """ViSQOL MOS-LQO of the audio file ``deg_path`` against ``ref_path`` (any rate/channels, see load_audio:
    channels averaged, resampled to the mode's rate) and whether the unscorable-pair rule applied.

    Raises:
        DataError: a file cannot be loaded, or anything :meth:`VisqolScorer.score_detail` rejects.
    """
    for span in (open_span(ref_path, 1), open_span(deg_path, 1)):  # headers only, before any audio is read
        if span.file_frames > MAX_FILE_SECONDS * span.file_rate_hz:
            raise DataError(f"{span.path}: {span.file_frames / span.file_rate_hz:.0f} s of audio; ViSQOL scores at most {MAX_FILE_SECONDS:.0f} s per file")
    scorer = VisqolScorer(mode, mapping=mapping)
    ref = load_audio(ref_path, scorer.sample_rate_hz)
    deg = load_audio(deg_path, scorer.sample_rate_hz)
    return scorer.score_detail(ref, deg, scorer.sample_rate_hz)
