"""Reading and writing audio files as float32 mono tensors.

:func:`load_audio` is the one way audio enters dslnas: any wav/flac that libsndfile reads, any sample rate,
any channel count, returned as a mono ``[T]`` float32 tensor at the rate the caller asks for. Every problem
with a file (missing, empty, corrupt, no samples, NaN/inf samples) is a one-line :class:`DataError` that
names the file, so a dataset with one bad file fails with a message instead of a traceback.
:class:`AudioSpan` (from :func:`open_span`) is the lazy form datasets use: a file's header is read when the
dataset is indexed, its samples only when a crop or a whole clip is asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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


def _read_frames(path: Path, start: int = 0, stop: int | None = None) -> tuple[np.ndarray, int]:
    """Read frames ``[start, stop)`` of ``path`` as ``[frames, channels]`` float32 and its rate in Hz."""
    _check_file(path)
    try:
        frames, file_rate_hz = soundfile.read(str(path), start=start, stop=stop, dtype="float32", always_2d=True)
    except (RuntimeError, ValueError) as err:  # soundfile.LibsndfileError is a RuntimeError
        raise DataError(f"{path}: cannot read audio ({_reason(err)})") from err
    if frames.shape[0] == 0 or frames.shape[1] == 0:
        raise DataError(f"{path}: audio file holds no samples")
    if not np.isfinite(frames).all():
        raise DataError(f"{path}: audio holds non-finite samples (NaN or inf)")
    return frames, int(file_rate_hz)


def _check_file(path: Path) -> None:
    """The checks every read starts with: the path is an existing, non-empty file."""
    if not path.exists():
        raise DataError(f"{path}: audio file not found")
    if not path.is_file():
        raise DataError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: audio file is empty (0 bytes)")


def _reason(err: Exception) -> str:
    """libsndfile's one-line reason for a failed read."""
    return getattr(err, "error_string", None) or " ".join(str(err).split()) or type(err).__name__


@dataclass(frozen=True)
class AudioSpan:
    """A stretch of an audio file, read on demand as mono float32 at ``sample_rate_hz``.

    Positions are in samples at ``sample_rate_hz``: the span is samples ``[offset_samples, offset_samples +
    length_samples)`` of the whole file resampled to that rate (as :func:`load_audio` would return it), and
    reads past ``length_samples`` up to ``padded_samples`` return zeros (a short clip padded, not refused).
    Reading a crop touches only the frames it needs (plus the resampling filter's margin), so a dataset of
    spans costs memory for its index, not its audio.
    """

    path: Path
    file_rate_hz: int
    file_frames: int
    sample_rate_hz: int
    offset_samples: int
    length_samples: int
    padded_samples: int = 0

    @property
    def num_samples(self) -> int:
        """Length in samples, padding included."""
        return max(self.length_samples, self.padded_samples)

    def read(self, start: int = 0, length: int | None = None) -> torch.Tensor:
        """Samples ``[start, start + length)`` of the span (``length=None``: to its end) as ``[length]`` float32.

        Raises:
            DataError: the file is gone, unreadable, or holds NaN/inf in the frames read.
            ValueError: the range is not inside ``[0, num_samples]``.
        """
        length = self.num_samples - start if length is None else length
        if start < 0 or length < 0 or start + length > self.num_samples:
            raise ValueError(f"{self.path}: samples [{start}, {start + length}) outside the clip's {self.num_samples}")
        content = max(0, min(length, self.length_samples - start))
        audio = self._read_content(self.offset_samples + start, content) if content else torch.zeros(0)
        if content < length:
            audio = torch.cat([audio, torch.zeros(length - content)])
        return audio.contiguous()

    def _read_content(self, first: int, length: int) -> torch.Tensor:
        """``length`` resampled samples from absolute sample ``first`` (block-aligned read with margins)."""
        if self.file_rate_hz == self.sample_rate_hz:
            frames, _ = _read_frames(self.path, first, first + length)
            return torch.from_numpy(frames.mean(axis=1, dtype=np.float32))
        gcd = math.gcd(self.file_rate_hz, self.sample_rate_hz)
        in_block, out_block = self.file_rate_hz // gcd, self.sample_rate_hz // gcd
        margin = _resample_margin_blocks(in_block, out_block)
        first_block = max(0, first // out_block - margin)
        last_block = -(-(first + length) // out_block) + margin
        stop = min(self.file_frames, last_block * in_block)
        frames, _ = _read_frames(self.path, first_block * in_block, stop)
        mono = torch.from_numpy(frames.mean(axis=1, dtype=np.float32))
        resampled = audio_fn.resample(mono, self.file_rate_hz, self.sample_rate_hz)
        skip = first - first_block * out_block
        return resampled[skip : skip + length]


def _resample_margin_blocks(in_block: int, out_block: int) -> int:
    """Blocks of input either side that torchaudio's default sinc filter reaches (its ``width``, rounded up)."""
    width_frames = math.ceil(6 * in_block / (min(in_block, out_block) * 0.99))  # lowpass_filter_width=6, rolloff
    return -(-width_frames // in_block) + 1


def open_span(path: str | Path, sample_rate_hz: int) -> AudioSpan:
    """The whole of an audio file as an :class:`AudioSpan` (reads its header only).

    Raises:
        DataError: the file is missing, 0 bytes, unreadable or holds no samples.
    """
    path = Path(path)
    _check_file(path)
    try:
        info = soundfile.info(str(path))
    except (RuntimeError, ValueError) as err:
        raise DataError(f"{path}: cannot read audio ({_reason(err)})") from err
    if info.frames <= 0 or info.channels <= 0:
        raise DataError(f"{path}: audio file holds no samples")
    length = math.ceil(info.frames * sample_rate_hz / info.samplerate)
    return AudioSpan(path, int(info.samplerate), int(info.frames), sample_rate_hz, 0, length)


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
