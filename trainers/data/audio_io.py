"""Reading and writing audio files as float32 mono tensors.

:func:`load_audio` is the one way audio enters dslnas: any wav/flac that libsndfile reads, any sample rate,
any channel count, returned as a mono ``[T]`` float32 tensor at the rate the caller asks for. Every problem
with a file (missing, empty, corrupt, no samples, NaN/inf samples) is a one-line :class:`DataError` that
names the file, so a dataset with one bad file fails with a message instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile
import torch
import torchaudio.functional as audio_fn

from dslnas.spaces.errors import DataError

AUDIO_SUFFIXES: tuple[str, ...] = (".wav", ".flac")
"""File suffixes (lower case) that dataset loaders treat as audio."""


def load_audio(path: str | Path, sample_rate_hz: int) -> torch.Tensor:
    """Read a wav/flac file as mono float32 audio at ``sample_rate_hz``.

    Channels are averaged (downmix); the result is resampled with
    ``torchaudio.functional.resample`` when the file's rate differs. Samples are in [-1, 1] full scale
    for integer PCM files (float files are passed through unscaled).

    Args:
        path: the audio file.
        sample_rate_hz: rate of the returned audio, in Hz.

    Returns:
        ``[T]`` float32 tensor, ``T = ceil(frames * sample_rate_hz / file_rate_hz)``.

    Raises:
        DataError: the file is missing, 0 bytes, unreadable, holds no samples, or holds NaN/inf samples.
        ValueError: ``sample_rate_hz`` is not positive.
    """
    if sample_rate_hz <= 0:
        raise ValueError(f"sample_rate_hz must be positive, got {sample_rate_hz}")
    path = Path(path)
    frames, file_rate_hz = _read_frames(path)
    mono = torch.from_numpy(frames.mean(axis=1, dtype=np.float32))
    if file_rate_hz != sample_rate_hz:
        mono = audio_fn.resample(mono, file_rate_hz, sample_rate_hz)
    return mono.contiguous()


def _read_frames(path: Path) -> tuple[np.ndarray, int]:
    """Read ``path`` as ``[frames, channels]`` float32 and its rate in Hz; all file checks live here."""
    if not path.exists():
        raise DataError(f"{path}: audio file not found")
    if not path.is_file():
        raise DataError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: audio file is empty (0 bytes)")
    try:
        frames, file_rate_hz = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, ValueError) as err:  # soundfile.LibsndfileError is a RuntimeError
        reason = getattr(err, "error_string", None) or " ".join(str(err).split()) or type(err).__name__
        raise DataError(f"{path}: cannot read audio ({reason})") from err
    if frames.shape[0] == 0 or frames.shape[1] == 0:
        raise DataError(f"{path}: audio file holds no samples")
    if not np.isfinite(frames).all():
        raise DataError(f"{path}: audio holds non-finite samples (NaN or inf)")
    return frames, int(file_rate_hz)


def save_audio(path: str | Path, audio: torch.Tensor | np.ndarray, sample_rate_hz: int) -> Path:
    """Write mono audio as a 16-bit PCM wav file (parent folders are created).

    Args:
        path: destination file (a ``.wav`` suffix is expected, the format is always WAV).
        audio: ``[T]`` samples in full scale [-1, 1]; values outside are clipped to [-1, 1].
        sample_rate_hz: rate of ``audio`` in Hz.

    Returns:
        The written path.

    Raises:
        DataError: ``audio`` is not 1-D, is empty, or holds NaN/inf samples.
        ValueError: ``sample_rate_hz`` is not positive.
    """
    if sample_rate_hz <= 0:
        raise ValueError(f"sample_rate_hz must be positive, got {sample_rate_hz}")
    path = Path(path)
    samples = _as_numpy(audio)
    if samples.ndim != 1:
        raise DataError(f"{path}: expected mono audio of shape [T], got shape {tuple(samples.shape)}")
    if samples.size == 0:
        raise DataError(f"{path}: refusing to write audio with no samples")
    if not np.isfinite(samples).all():
        raise DataError(f"{path}: refusing to write non-finite samples (NaN or inf)")
    path.parent.mkdir(parents=True, exist_ok=True)
    clipped = np.clip(samples.astype(np.float64), -1.0, 1.0)
    soundfile.write(str(path), clipped, sample_rate_hz, subtype="PCM_16", format="WAV")
    return path


def _as_numpy(audio: torch.Tensor | np.ndarray) -> np.ndarray:
    """A numpy view/copy of a tensor (detached, on the CPU) or an array as is."""
    if isinstance(audio, torch.Tensor):
        return audio.detach().to("cpu", torch.float64).numpy()
    return np.asarray(audio)


def is_audio_file(path: Path) -> bool:
    """Whether ``path`` is a regular file with a wav/flac suffix (any case)."""
    return path.suffix.lower() in AUDIO_SUFFIXES and path.is_file()
