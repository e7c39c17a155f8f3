"""A recording chain that makes clean synthetic audio sound recorded: a room, a microphone, a channel's band
limit, a level and a noise floor. Everything is drawn from the caller's generator, so a seed gives the same
samples (no other randomness: ``pyroomacoustics``' image-source method is deterministic).

Stages, in the order :func:`record` applies them (each is optional, see :class:`RecordingOptions`):

* **room** — a shoebox room 3x2.5x2.4 .. 9x7x3.5 m, RT60 0.15-0.7 s, talker 0.4-3 m from the microphone. Early
  reflections come from ``pyroomacoustics``' image sources (order <= :data:`MAX_IMAGE_ORDER`); the late tail
  is seeded noise decaying 60 dB per RT60 from :data:`MIXING_TIME_S`, matched in level to the early part.
* **microphone** — a high-pass at 40-150 Hz (stand, handling, small capsule), a presence peak of 0-6 dB at
  2-6 kHz and a high shelf of -8..+3 dB at 5 kHz: the colouring of an ordinary microphone.
* **band** — one of :class:`Band`, drawn per clip from the allowed set: ``full`` (the corpus rate), ``telephone``
  (300-3400 Hz through an 8 kHz sample rate, G.711 mu-law), ``wideband`` (50-7000 Hz), ``resampled`` (the clip
  passes through a 22.05 or 44.1 kHz source rate and back: the resamplers' anti-alias roll-off).
* **level** — RMS in dBFS drawn in ``level_dbfs`` (-45..-15 by default), peaks kept below -1 dBFS.
* **noise floor** — a room tone (:func:`.scenes.room_tone`) at ``floor_dbfs`` (-80..-55 by default), added last
  (it is the recorder's own floor, not the room's).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torchaudio.functional as audio_fn
from scipy import signal

from dslnas.trainers.data.scenes import room_tone

MAX_IMAGE_ORDER = 17
"""Image-source order of the early reflections (higher orders cost seconds per room at RT60 0.7 s)."""
MIXING_TIME_S = 0.05
RT60_S = (0.15, 0.7)
PEAK_MAX_DBFS = -1.0
LEVEL_DBFS = (-45.0, -15.0)
FLOOR_DBFS = (-80.0, -55.0)


class Band(str, enum.Enum):
    """The channel a clip went through."""

    FULL = "full"
    TELEPHONE = "telephone"
    WIDEBAND = "wideband"
    RESAMPLED = "resampled"


@dataclass(frozen=True)
class RecordingOptions:
    """What :func:`record` does to a clip; the default does nothing but set the level and add the floor.

    Attributes:
        room: convolve with a simulated room.
        microphone: colour with a simulated microphone.
        bands: the channels a clip may go through (one drawn per clip).
        level_dbfs: (low, high) RMS level in dBFS; ``None`` keeps the clip's level.
        floor_dbfs: (low, high) noise floor RMS in dBFS; ``None`` adds none.
    """

    room: bool = False
    microphone: bool = False
    bands: tuple[Band, ...] = (Band.FULL,)
    level_dbfs: tuple[float, float] | None = LEVEL_DBFS
    floor_dbfs: tuple[float, float] | None = FLOOR_DBFS

    def __post_init__(self) -> None:
        if not self.bands:
            raise ValueError("bands must name at least one band")
        for name in ("level_dbfs", "floor_dbfs"):
            span = getattr(self, name)
            if span is not None and not -120.0 <= span[0] <= span[1] <= 0.0:
                raise ValueError(f"{name} must be (low, high) with -120 <= low <= high <= 0 dBFS, got {span}")

    @property
    def is_identity(self) -> bool:
        """Nothing is done (the corpus recipe of earlier versions)."""
        return not (self.room or self.microphone) and self.bands == (Band.FULL,) and self.level_dbfs is None \
            and self.floor_dbfs is None


def record(
    rng: np.random.Generator, audio: np.ndarray, sample_rate_hz: int, options: RecordingOptions,
) -> np.ndarray:
    """``audio`` ``[T]`` float64 as the chain of ``options`` records it, ``[T]`` float64."""
    out = np.asarray(audio, dtype=np.float64)
    if options.room:
        out = signal.fftconvolve(out, room_impulse_response(rng, sample_rate_hz))[: out.size]
    if options.microphone:
        out = microphone(rng, out, sample_rate_hz)
    band = options.bands[int(rng.integers(len(options.bands)))]
    out = band_limit(rng, out, sample_rate_hz, band)
    if options.level_dbfs is not None:
        out = set_level(out, rng.uniform(*options.level_dbfs))
    if options.floor_dbfs is not None:
        out = out + room_tone(rng, out.size, sample_rate_hz) * 10.0 ** (rng.uniform(*options.floor_dbfs) / 20.0)
    return out


def room_impulse_response(rng: np.random.Generator, sample_rate_hz: int) -> np.ndarray:
    """A drawn room's impulse response ``[L]``, peak 1 (the direct sound)."""
    import pyroomacoustics as pra  # seconds to import: only corpora with --rooms pay for it

    dims_m = rng.uniform((3.0, 2.5, 2.4), (9.0, 7.0, 3.5))
    rt60_s = rng.uniform(*RT60_S)
    absorption, order = pra.inverse_sabine(rt60_s, dims_m)
    mic_m = rng.uniform((0.5, 0.5, 0.8), dims_m - 0.5)
    direction = rng.standard_normal(3)
    source_m = np.clip(mic_m + rng.uniform(0.4, 3.0) * direction / np.linalg.norm(direction), 0.3, dims_m - 0.3)
    room = pra.ShoeBox(dims_m, fs=sample_rate_hz, materials=pra.Material(absorption),
                       max_order=min(order, MAX_IMAGE_ORDER))
    room.add_source(source_m)
    room.add_microphone(mic_m)
    room.compute_rir()
    early = np.asarray(room.rir[0][0], dtype=np.float64)
    return _with_late_tail(rng, early, rt60_s, sample_rate_hz)


def _with_late_tail(rng: np.random.Generator, early: np.ndarray, rt60_s: float, sample_rate_hz: int) -> np.ndarray:
    """``early`` reflections with a noise tail decaying 60 dB per ``rt60_s`` from :data:`MIXING_TIME_S` on."""
    direct = int(np.argmax(np.abs(early)))
    mix = direct + int(MIXING_TIME_S * sample_rate_hz)
    length = max(early.size, direct + int(1.2 * rt60_s * sample_rate_hz))
    rir = np.zeros(length)
    rir[: early.size] = early
    window = early[max(direct, mix - int(0.01 * sample_rate_hz)) : mix]
    start_rms = float(np.sqrt(np.mean(np.square(window)))) if window.size else 0.0
    t_s = np.arange(length - mix) / sample_rate_hz
    tail = rng.standard_normal(t_s.size) * start_rms * 10.0 ** (-3.0 * t_s / rt60_s)
    fade = np.clip(t_s / 0.02, 0.0, 1.0)  # cross-fade over 20 ms from the image sources into the noise tail
    rir[mix:] = rir[mix:] * (1.0 - fade) + tail * fade
    return rir / max(float(np.max(np.abs(rir))), 1e-12)


def microphone(rng: np.random.Generator, audio: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """``audio`` through a drawn microphone response (high-pass, presence peak, high shelf)."""
    nyquist_hz = sample_rate_hz / 2.0
    out = signal.sosfilt(signal.butter(2, rng.uniform(40.0, 150.0), "highpass", fs=sample_rate_hz, output="sos"),
                         audio)
    peak_hz = min(rng.uniform(2000.0, 6000.0), 0.8 * nyquist_hz)
    out = _peaking(out, peak_hz, rng.uniform(0.0, 6.0), 1.2, sample_rate_hz)
    return _high_shelf(out, min(5000.0, 0.7 * nyquist_hz), rng.uniform(-8.0, 3.0), sample_rate_hz)


def band_limit(rng: np.random.Generator, audio: np.ndarray, sample_rate_hz: int, band: Band) -> np.ndarray:
    """``audio`` ``[T]`` through channel ``band``, same rate and length."""
    if band is Band.FULL:
        return audio
    if band is Band.WIDEBAND:
        sos = signal.butter(6, [50.0, min(7000.0, 0.45 * sample_rate_hz)], "bandpass", fs=sample_rate_hz,
                            output="sos")
        return signal.sosfiltfilt(sos, audio)
    if band is Band.TELEPHONE:
        narrow = _resample(audio, sample_rate_hz, 8000)
        narrow = signal.sosfiltfilt(signal.butter(6, [300.0, 3400.0], "bandpass", fs=8000, output="sos"), narrow)
        return _fit(_resample(_mu_law(narrow), 8000, sample_rate_hz), audio.size)
    source_rate_hz = 22_050 if rng.random() < 0.5 else 44_100
    return _fit(_resample(_resample(audio, sample_rate_hz, source_rate_hz), source_rate_hz, sample_rate_hz),
                audio.size)


def set_level(audio: np.ndarray, rms_dbfs: float) -> np.ndarray:
    """``audio`` at an RMS of ``rms_dbfs``, scaled down further if its peak would pass :data:`PEAK_MAX_DBFS`."""
    rms = max(float(np.sqrt(np.mean(np.square(audio)))), 1e-12)
    out = audio * 10.0 ** (rms_dbfs / 20.0) / rms
    return out * min(1.0, 10.0 ** (PEAK_MAX_DBFS / 20.0) / max(float(np.max(np.abs(out))), 1e-12))


def rms_dbfs(audio: np.ndarray) -> float:
    """RMS level of ``audio`` in dBFS."""
    return 20.0 * float(np.log10(max(float(np.sqrt(np.mean(np.square(audio)))), 1e-12)))


def parse_bands(names: Sequence[str]) -> tuple[Band, ...]:
    """Band names -> bands; raises ValueError naming the valid ones."""
    valid = {band.value: band for band in Band}
    unknown = [name for name in names if name not in valid]
    if unknown:
        raise ValueError(f"unknown band {unknown[0]!r}; valid: {', '.join(valid)}")
    return tuple(valid[name] for name in names)


def _mu_law(audio: np.ndarray, mu: float = 255.0) -> np.ndarray:
    """G.711-like 8-bit mu-law quantisation of ``audio`` (scaled to peak 1 and back)."""
    peak = max(float(np.max(np.abs(audio))), 1e-12)
    x = audio / peak
    code = np.round(np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu) * 127.0) / 127.0
    return peak * np.sign(code) * np.expm1(np.abs(code) * np.log1p(mu)) / mu


def _peaking(audio: np.ndarray, centre_hz: float, gain_db: float, q: float, sample_rate_hz: int) -> np.ndarray:
    """RBJ peaking equaliser."""
    a = 10.0 ** (gain_db / 40.0)
    w0 = 2 * np.pi * centre_hz / sample_rate_hz
    alpha = np.sin(w0) / (2 * q)
    b = [1 + alpha * a, -2 * np.cos(w0), 1 - alpha * a]
    den = [1 + alpha / a, -2 * np.cos(w0), 1 - alpha / a]
    return signal.lfilter(b, den, audio)


def _high_shelf(audio: np.ndarray, corner_hz: float, gain_db: float, sample_rate_hz: int) -> np.ndarray:
    """RBJ high shelf (slope 1)."""
    a = 10.0 ** (gain_db / 40.0)
    w0 = 2 * np.pi * corner_hz / sample_rate_hz
    alpha = np.sin(w0) / 2 * np.sqrt(2)
    cos, root = np.cos(w0), 2 * np.sqrt(a) * alpha
    b = [a * ((a + 1) + (a - 1) * cos + root), -2 * a * ((a - 1) + (a + 1) * cos), a * ((a + 1) + (a - 1) * cos - root)]
    den = [(a + 1) - (a - 1) * cos + root, 2 * ((a - 1) - (a + 1) * cos), (a + 1) - (a - 1) * cos - root]
    return signal.lfilter(b, den, audio)


def _resample(audio: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    tensor = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float64))
    return audio_fn.resample(tensor, from_hz, to_hz).numpy()


def _fit(audio: np.ndarray, n_samples: int) -> np.ndarray:
    """``audio`` cut or zero-padded to ``n_samples``."""
    return np.pad(audio[:n_samples], (0, max(0, n_samples - audio.size)))
