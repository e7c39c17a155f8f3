"""Speaker perturbations that turn one voice into several: pitch, formant (vocal-tract length) and tempo shifts.

Each works on mono float64 audio ``[T]`` and is deterministic (no randomness inside):

* :func:`tempo_shift` — a phase vocoder time stretch: ``factor`` 1.1 is 10% faster (length / 1.1); pitch and
  formants stay.
* :func:`pitch_shift` — resampling by ``factor`` then stretching back to the original length: pitch *and*
  formants move by ``factor`` (a smaller or larger talker), the length stays.
* :func:`formant_shift` — the spectral envelope (an all-pole fit to each STFT frame) is
  warped in frequency by ``factor`` while the harmonic fine structure and the phases stay: formants move,
  pitch stays (vocal-tract length perturbation).
* :func:`perturb_speaker` chains them so that the net pitch, formant and tempo factors are the ones asked.

:func:`speaker_variant` draws a variant's factors from a seed: variant 0 is the voice unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torchaudio.functional as audio_fn
from scipy import linalg

N_FFT = 512
HOP = 128
LPC_ORDER = 20
"""All-pole order of the spectral envelope (about one pole pair per kHz at 16 kHz, plus the source tilt)."""

PITCH_FACTORS = (0.82, 1.22)
FORMANT_FACTORS = (0.88, 1.14)
TEMPO_FACTORS = (0.9, 1.12)
RESAMPLE_STEPS = 200
"""Pitch factors are applied as ratios ``200 / k`` (steps of about 0.5%)."""


@dataclass(frozen=True)
class SpeakerPerturbation:
    """Factors on a voice: ``pitch`` and ``formant`` > 1 are higher, ``tempo`` > 1 is faster."""

    pitch: float = 1.0
    formant: float = 1.0
    tempo: float = 1.0

    def __post_init__(self) -> None:
        for name in ("pitch", "formant", "tempo"):
            value = getattr(self, name)
            if not 0.5 <= value <= 2.0:
                raise ValueError(f"{name} factor must be in [0.5, 2], got {value:g}")

    @property
    def is_identity(self) -> bool:
        return self.pitch == 1.0 and self.formant == 1.0 and self.tempo == 1.0


def speaker_variant(seed: int, voice_id: str, variant: int) -> SpeakerPerturbation:
    """The factors of variant ``variant`` of ``voice_id`` (0: unchanged); the same arguments give the same
    factors. A variant's pitch and formant move together in sign half the time (a smaller or larger talker)."""
    if variant == 0:
        return SpeakerPerturbation()
    key = [seed % 2**64, variant, *voice_id.encode()]
    rng = np.random.default_rng(key)
    pitch = math.exp(rng.uniform(*np.log(PITCH_FACTORS)))
    formant = math.exp(rng.uniform(*np.log(FORMANT_FACTORS)))
    if rng.random() < 0.5:
        formant = 1.0 / formant if (pitch > 1.0) != (formant > 1.0) else formant
    return SpeakerPerturbation(pitch, formant, math.exp(rng.uniform(*np.log(TEMPO_FACTORS))))


def perturb_speaker(audio: np.ndarray, sample_rate_hz: int, change: SpeakerPerturbation) -> np.ndarray:
    """``audio`` ``[T]`` spoken by a perturbed talker, ``[~T / change.tempo]``."""
    if change.is_identity:
        return audio
    out, pitch = audio, 1.0
    if change.pitch != 1.0:
        out, pitch = _resample_by(out, change.pitch, sample_rate_hz)  # pitch, formants x pitch; length / pitch
    out = _stretch(out, change.tempo / pitch) if abs(change.tempo - pitch) > 1e-9 else out
    envelope_factor = change.formant / pitch
    return formant_shift(out, envelope_factor) if abs(envelope_factor - 1.0) > 1e-6 else out


def tempo_shift(audio: np.ndarray, factor: float) -> np.ndarray:
    """``audio`` played ``factor`` times faster at the same pitch: ``[round(T / factor)]``."""
    return _stretch(audio, factor)


def pitch_shift(audio: np.ndarray, sample_rate_hz: int, factor: float) -> np.ndarray:
    """``audio`` with pitch and formants times ``factor``, same length ``[T]``."""
    return perturb_speaker(audio, sample_rate_hz, SpeakerPerturbation(pitch=factor, formant=factor))


def formant_shift(audio: np.ndarray, factor: float) -> np.ndarray:
    """``audio`` ``[T]`` with its spectral envelope warped by ``factor`` (pitch kept), ``[T]``."""
    spec = _stft(audio)
    log_mag = torch.log(spec.abs().clamp_min(1e-9))
    envelope = _envelope(log_mag)
    bins = torch.arange(log_mag.shape[0], dtype=torch.float64)
    source = (bins / factor).clamp(max=log_mag.shape[0] - 1)  # new envelope at f = old envelope at f / factor
    low = source.floor().long()
    high = (low + 1).clamp(max=log_mag.shape[0] - 1)
    weight = (source - low)[:, None]
    warped = envelope[low] * (1 - weight) + envelope[high] * weight
    new_spec = spec * torch.exp(warped - envelope)
    return _istft(new_spec, audio.size)


def _envelope(log_mag: torch.Tensor) -> torch.Tensor:
    """Log spectral envelope ``[F, frames]`` of each frame: the all-pole (LPC, order :data:`LPC_ORDER`) fit
    of its power spectrum, which follows resonances as sharp as real formants (cepstral smoothing at a
    lifter that keeps the harmonics out blurs them, and a warp of the blur moves a formant only part-way)."""
    power = torch.exp(2.0 * log_mag).numpy()
    autocorr = np.fft.irfft(power, axis=0)[: LPC_ORDER + 1].T  # [frames, order + 1]
    autocorr[:, 0] = autocorr[:, 0] * (1.0 + 1e-4) + 1e-12  # a little white noise: silent frames stay solvable
    envelopes = np.empty_like(power)
    for frame, lags in enumerate(autocorr):
        coeffs = linalg.solve_toeplitz(lags[:LPC_ORDER], -lags[1:])
        inverse = np.fft.rfft(np.concatenate(([1.0], coeffs)), n=2 * (power.shape[0] - 1))
        error = max(float(lags[0] + lags[1:] @ coeffs), 1e-12)
        envelopes[:, frame] = 0.5 * np.log(error) - np.log(np.maximum(np.abs(inverse), 1e-9))
    return torch.from_numpy(envelopes)


def _stretch(audio: np.ndarray, rate: float) -> np.ndarray:
    """Phase-vocoder time stretch: ``rate`` > 1 shortens, pitch kept; ``[round(T / rate)]``."""
    spec = _stft(audio)
    advance = torch.linspace(0, math.pi * HOP, spec.shape[0], dtype=torch.float64)[..., None]
    stretched = audio_fn.phase_vocoder(spec[None], rate, advance)[0]
    return _istft(stretched, round(audio.size / rate))


def _resample_by(audio: np.ndarray, factor: float, sample_rate_hz: int) -> tuple[np.ndarray, float]:
    """Resampled so that, played at ``sample_rate_hz``, everything is about ``factor`` higher and shorter;
    returns the audio and the factor applied (``factor`` rounded to a ratio of :data:`RESAMPLE_STEPS`: an
    arbitrary ratio makes the polyphase resampler's kernel thousands of taps wide)."""
    new_steps = max(1, round(RESAMPLE_STEPS / factor))
    tensor = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float64))
    return audio_fn.resample(tensor, RESAMPLE_STEPS, new_steps).numpy(), RESAMPLE_STEPS / new_steps


def _stft(audio: np.ndarray) -> torch.Tensor:
    tensor = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float64))
    window = torch.hann_window(N_FFT, dtype=torch.float64)
    return torch.stft(tensor, N_FFT, HOP, window=window, return_complex=True)


def _istft(spec: torch.Tensor, length: int) -> np.ndarray:
    window = torch.hann_window(N_FFT, dtype=torch.float64)
    return torch.istft(spec, N_FFT, HOP, window=window, length=length).numpy()
