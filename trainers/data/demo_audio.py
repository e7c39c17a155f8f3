"""Deterministic, labelled demo audio: speech-like and silence-like clips, generated, never downloaded.

The demo dataset lets a search run with no data on disk. It mirrors the two classes the DSL paper reports
on. Clips alternate labels (even index ``"speech"``, odd index ``"silence"``).

* **speech**: a source-filter synthesis. A glottal pulse train whose f0 follows a jittered contour in
  80-250 Hz is shaped by four formant resonators (a vowel per syllable), under syllable envelopes at
  3-6 syllables per second; unvoiced fricative bursts (high-passed noise) and short pauses sit between
  syllables. Peak-normalised to -6..-3 dBFS over a -60 dBFS recording floor (white noise).
* **silence**: ambient near-silence as in AudioSet: pink noise plus, at random, brown noise, mains hum
  and a quiet tone, with a slow level drift, at -50..-35 dBFS RMS.

Clip ``i`` is drawn from its own generator seeded by ``(seed, i)``: the same seed gives bit-identical
clips (and clip ``i`` does not depend on how many clips are asked for); a different seed gives other clips.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch
from scipy import signal

from dslnas.trainers.data.clips import SILENCE, SPEECH, Clip

# (F1, F2, F3, F4) in Hz of six vowels (adult male averages; scaled per speaker).
VOWEL_FORMANTS_HZ: tuple[tuple[float, float, float, float], ...] = (
    (730.0, 1090.0, 2440.0, 3400.0),  # /a/
    (270.0, 2290.0, 3010.0, 3600.0),  # /i/
    (300.0, 870.0, 2240.0, 3300.0),   # /u/
    (530.0, 1840.0, 2480.0, 3500.0),  # /e/
    (570.0, 840.0, 2410.0, 3300.0),   # /o/
    (660.0, 1720.0, 2410.0, 3500.0),  # /ae/
)
FORMANT_BANDWIDTHS_HZ: tuple[float, ...] = (80.0, 110.0, 160.0, 220.0)
F0_RANGE_HZ = (80.0, 250.0)
SPEECH_PEAK_DBFS = (-6.0, -3.0)
SPEECH_FLOOR_DBFS = -60.0
SILENCE_RMS_DBFS = (-50.0, -35.0)

_VOICED, _FRICATIVE, _PAUSE = "voiced", "fricative", "pause"


def generate_demo_clips(
    n_clips: int, clip_seconds: float, sample_rate_hz: int, seed: int
) -> list[Clip]:
    """Generate ``n_clips`` labelled clips, alternating ``"speech"`` (even index) and ``"silence"``.

    Args:
        n_clips: how many clips (>= 0).
        clip_seconds: length of each clip in seconds.
        sample_rate_hz: sample rate of the clips in Hz.
        seed: any integer.

    Returns:
        Clips named ``demo-007-silence`` with ``[round(clip_seconds * sample_rate_hz)]`` float32 audio.

    Raises:
        ValueError: a negative ``n_clips``, or a length/rate that gives clips of zero samples.
    """
    n_samples = round(clip_seconds * sample_rate_hz)
    if n_clips < 0 or sample_rate_hz <= 0 or n_samples <= 0:
        raise ValueError(
            f"need n_clips >= 0 and clips of at least one sample, got n_clips={n_clips}, "
            f"clip_seconds={clip_seconds}, sample_rate_hz={sample_rate_hz}"
        )
    clips = []
    for index in range(n_clips):
        label = SPEECH if index % 2 == 0 else SILENCE
        rng = np.random.default_rng([seed % 2**64, index])
        audio = _SYNTHESISERS[label](rng, n_samples, sample_rate_hz)
        clips.append(Clip(f"demo-{index:03d}-{label}", torch.from_numpy(audio.astype(np.float32)), label))
    return clips


def synth_speech(
    rng: np.random.Generator, n_samples: int, sample_rate_hz: int, base_f0_hz: float | None = None
) -> np.ndarray:
    """One speech-like clip: ``[n_samples]`` float64, peak -6..-3 dBFS.

    ``base_f0_hz`` fixes the talker's mean pitch (and with it the formant scale); ``None`` draws it.
    """
    f0_hz = _f0_contour_hz(rng, n_samples, sample_rate_hz, base_f0_hz)
    source = _glottal_source(rng, f0_hz, sample_rate_hz)
    speaker_scale = float(np.interp(np.median(f0_hz), F0_RANGE_HZ, (1.0, 1.2)))
    out = np.zeros(n_samples)
    for start, length, kind in _speech_events(rng, n_samples, sample_rate_hz):
        if kind == _VOICED:
            segment = source[start : start + length]
            out[start : start + length] += _syllable(rng, segment, speaker_scale, sample_rate_hz)
        elif kind == _FRICATIVE:
            out[start : start + length] += _fricative(rng, length, sample_rate_hz)
    peak_dbfs = rng.uniform(*SPEECH_PEAK_DBFS)
    out *= 10.0 ** (peak_dbfs / 20.0) / max(float(np.max(np.abs(out))), 1e-12)
    return out + 10.0 ** (SPEECH_FLOOR_DBFS / 20.0) * rng.standard_normal(n_samples)


def _f0_contour_hz(
    rng: np.random.Generator, n_samples: int, sample_rate_hz: int, base_f0_hz: float | None = None
) -> np.ndarray:
    """Per-sample f0 in Hz: base pitch, slow intonation, declination and jitter, clipped to 80-250 Hz."""
    t_s = np.arange(n_samples) / sample_rate_hz
    base_hz = rng.uniform(95.0, 210.0) if base_f0_hz is None else base_f0_hz
    intonation = 1.0 + 0.12 * np.sin(2 * np.pi * rng.uniform(0.3, 1.2) * t_s + rng.uniform(0, 2 * np.pi))
    declination = 1.0 - 0.08 * t_s / max(t_s[-1], 1e-9)
    wander = signal.lfilter([1.0], [1.0, -0.99], rng.standard_normal(n_samples))
    jitter = 1.0 + 0.02 * wander / max(float(np.std(wander)), 1e-12)
    return np.clip(base_hz * intonation * declination * jitter, *F0_RANGE_HZ)


def _glottal_source(rng: np.random.Generator, f0_hz: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """Glottal pulse train with shimmer, glottal roll-off and lip radiation, plus a little aspiration."""
    cycles = np.cumsum(f0_hz / sample_rate_hz)
    pulses = np.diff(np.floor(cycles), prepend=0.0)
    pulses *= 1.0 + 0.1 * rng.standard_normal(pulses.size)
    glottal = signal.lfilter([1.0], [1.0, -2 * 0.97, 0.97**2], pulses)  # -12 dB/octave
    radiated = np.diff(glottal, prepend=0.0)  # +6 dB/octave
    return radiated + 0.03 * np.std(radiated) * rng.standard_normal(radiated.size)


def _speech_events(
    rng: np.random.Generator, n_samples: int, sample_rate_hz: int
) -> Iterator[tuple[int, int, str]]:
    """``(start, length, kind)`` in samples: voiced syllables, fricative bursts and pauses, in time order.

    The first event after a short lead-in is always a voiced syllable.
    """
    start = int(rng.uniform(0.0, 0.1) * sample_rate_hz) % n_samples
    kind = _VOICED
    while start < n_samples:
        if kind == _VOICED:
            length = int(sample_rate_hz / rng.uniform(3.0, 6.0))
        elif kind == _FRICATIVE:
            length = int(rng.uniform(0.04, 0.12) * sample_rate_hz)
        else:
            length = int(rng.uniform(0.08, 0.3) * sample_rate_hz)
        length = min(max(length, 1), n_samples - start)
        yield start, length, kind
        start += length
        draw = rng.random()
        kind = _PAUSE if draw < 0.15 and kind != _PAUSE else _FRICATIVE if draw < 0.35 else _VOICED


def _syllable(
    rng: np.random.Generator, source: np.ndarray, speaker_scale: float, sample_rate_hz: int
) -> np.ndarray:
    """A vowel: ``source`` through four formant resonators under a syllable envelope (peak 0.4-1)."""
    formants_hz = np.array(VOWEL_FORMANTS_HZ[rng.integers(len(VOWEL_FORMANTS_HZ))]) * speaker_scale
    voiced = source
    for centre_hz, bandwidth_hz in zip(formants_hz, FORMANT_BANDWIDTHS_HZ):
        if centre_hz < 0.45 * sample_rate_hz:
            voiced = signal.lfilter(*_resonator(centre_hz, bandwidth_hz, sample_rate_hz), voiced)
    envelope = signal.windows.tukey(voiced.size, alpha=0.6)
    stress = rng.uniform(0.4, 1.0)
    return stress * envelope * voiced / max(float(np.max(np.abs(voiced))), 1e-12)


def _resonator(centre_hz: float, bandwidth_hz: float, sample_rate_hz: int) -> tuple[list[float], list[float]]:
    """Klatt formant resonator (a two-pole biquad with unit gain at 0 Hz) as ``(b, a)``."""
    radius = np.exp(-np.pi * bandwidth_hz / sample_rate_hz)
    a1 = -2.0 * radius * np.cos(2.0 * np.pi * centre_hz / sample_rate_hz)
    a2 = radius**2
    return [1.0 + a1 + a2], [1.0, a1, a2]


def _fricative(rng: np.random.Generator, n_samples: int, sample_rate_hz: int) -> np.ndarray:
    """An unvoiced burst: white noise high-passed at 2.5-5 kHz, peak 0.08-0.25, smooth on/offset."""
    cutoff_hz = min(rng.uniform(2500.0, 5000.0), 0.4 * sample_rate_hz)
    sos = signal.butter(4, cutoff_hz, btype="highpass", fs=sample_rate_hz, output="sos")
    hiss = signal.sosfilt(sos, rng.standard_normal(n_samples))
    hiss *= signal.windows.tukey(n_samples, alpha=0.5)
    return rng.uniform(0.08, 0.25) * hiss / max(float(np.max(np.abs(hiss))), 1e-12)


def synth_silence(rng: np.random.Generator, n_samples: int, sample_rate_hz: int) -> np.ndarray:
    """One ambient near-silence clip: ``[n_samples]`` float64 at -50..-35 dBFS RMS."""
    parts = [_coloured_noise(rng, n_samples, sample_rate_hz, exponent=1.0)]
    if rng.random() < 0.5:
        parts.append(rng.uniform(0.3, 1.0) * _coloured_noise(rng, n_samples, sample_rate_hz, exponent=2.0))
    if rng.random() < 0.5:
        parts.append(rng.uniform(0.2, 0.8) * _mains_hum(rng, n_samples, sample_rate_hz))
    if rng.random() < 0.4:
        parts.append(rng.uniform(0.1, 0.5) * _quiet_tone(rng, n_samples, sample_rate_hz))
    t_s = np.arange(n_samples) / sample_rate_hz
    drift = 1.0 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t_s + rng.uniform(0, 2 * np.pi))
    mix = drift * np.sum(parts, axis=0)
    rms_dbfs = rng.uniform(*SILENCE_RMS_DBFS)
    return mix * 10.0 ** (rms_dbfs / 20.0) / _rms(mix)


def _coloured_noise(
    rng: np.random.Generator, n_samples: int, sample_rate_hz: int, exponent: float
) -> np.ndarray:
    """Unit-RMS noise with power spectrum ~ 1/f**exponent (1: pink, 2: brown), flat below 20 Hz."""
    spectrum = np.fft.rfft(rng.standard_normal(n_samples))
    freqs_hz = np.maximum(np.fft.rfftfreq(n_samples, 1.0 / sample_rate_hz), 20.0)
    spectrum *= freqs_hz ** (-exponent / 2.0)
    spectrum[0] = 0.0
    noise = np.fft.irfft(spectrum, n_samples)
    return noise / _rms(noise)


def _mains_hum(rng: np.random.Generator, n_samples: int, sample_rate_hz: int) -> np.ndarray:
    """Unit-RMS 50 or 60 Hz hum with its first harmonics (amplitude 1/k, random phases)."""
    mains_hz = 50.0 if rng.random() < 0.5 else 60.0
    t_s = np.arange(n_samples) / sample_rate_hz
    hum = np.zeros(n_samples)
    for k in range(1, 5):
        if k * mains_hz < 0.45 * sample_rate_hz:
            hum += np.sin(2 * np.pi * k * mains_hz * t_s + rng.uniform(0, 2 * np.pi)) / k
    return hum / _rms(hum)


def _quiet_tone(rng: np.random.Generator, n_samples: int, sample_rate_hz: int) -> np.ndarray:
    """Unit-RMS steady tone (a fan or appliance whine, 200-3000 Hz) with a slow tremolo."""
    tone_hz = min(rng.uniform(200.0, 3000.0), 0.4 * sample_rate_hz)
    t_s = np.arange(n_samples) / sample_rate_hz
    tremolo = 1.0 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.2, 2.0) * t_s)
    tone = tremolo * np.sin(2 * np.pi * tone_hz * t_s + rng.uniform(0, 2 * np.pi))
    return tone / _rms(tone)


def _rms(x: np.ndarray) -> float:
    """Root mean square of ``x`` (never below 1e-12, so it can divide)."""
    return max(float(np.sqrt(np.mean(np.square(x)))), 1e-12)


_SYNTHESISERS: dict[str, Callable[[np.random.Generator, int, int], np.ndarray]] = {
    SPEECH: synth_speech,
    SILENCE: synth_silence,
}
