"""Speaker perturbations (trainers/data/perturb.py): each moves what it says (pitch, formants, tempo) and
keeps the rest, measured on a vowel-like signal whose pitch and formant are known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from dslnas.trainers.data.demo_audio import _resonator
from dslnas.trainers.data.perturb import (
    FORMANT_FACTORS, PITCH_FACTORS, TEMPO_FACTORS, SpeakerPerturbation, formant_shift, perturb_speaker,
    pitch_shift, speaker_variant, tempo_shift,
)

RATE_HZ = 16_000
F0_HZ = 125.0
FORMANT_HZ = 900.0


def _vowel(seconds: float = 1.0) -> np.ndarray:
    """A pulse train at :data:`F0_HZ` through one resonator at :data:`FORMANT_HZ` (bandwidth 120 Hz)."""
    n = int(seconds * RATE_HZ)
    pulses = np.zeros(n)
    pulses[:: int(RATE_HZ / F0_HZ)] = 1.0
    return signal.lfilter(*_resonator(FORMANT_HZ, 120.0, RATE_HZ), pulses)


def _f0_hz(audio: np.ndarray) -> float:
    """Pitch from the autocorrelation peak in 60-400 Hz."""
    x = audio[audio.size // 4 : 3 * audio.size // 4]
    corr = np.correlate(x, x, "full")[x.size - 1 :]
    low, high = int(RATE_HZ / 400), int(RATE_HZ / 60)
    return RATE_HZ / (low + int(np.argmax(corr[low:high])))


def _formant_hz(audio: np.ndarray) -> float:
    """Frequency of the spectral envelope's peak (the spectrum smoothed over 400 Hz) in 300-3000 Hz."""
    x = audio[audio.size // 4 : 3 * audio.size // 4]
    power = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
    freqs = np.fft.rfftfreq(x.size, 1.0 / RATE_HZ)
    width = int(400.0 / freqs[1])
    smooth = np.convolve(power, np.ones(width) / width, "same")
    band = (freqs > 300) & (freqs < 3000)
    return float(freqs[band][np.argmax(smooth[band])])


def test_tempo_shift_changes_the_length_and_keeps_pitch_and_formant() -> None:
    vowel = _vowel()
    faster = tempo_shift(vowel, 1.25)
    assert faster.size == round(vowel.size / 1.25)
    assert _f0_hz(faster) == pytest.approx(F0_HZ, rel=0.03)
    assert _formant_hz(faster) == pytest.approx(_formant_hz(vowel), rel=0.1)


@pytest.mark.parametrize("factor", [0.85, 1.2])
def test_pitch_shift_moves_pitch_and_formant_and_keeps_the_length(factor: float) -> None:
    vowel = _vowel()
    shifted = pitch_shift(vowel, RATE_HZ, factor)
    assert shifted.size == vowel.size
    assert _f0_hz(shifted) == pytest.approx(F0_HZ * factor, rel=0.03)
    assert _formant_hz(shifted) == pytest.approx(_formant_hz(vowel) * factor, rel=0.1)


@pytest.mark.parametrize("factor", [0.85, 1.2])
def test_formant_shift_moves_the_envelope_and_keeps_the_pitch(factor: float) -> None:
    vowel = _vowel()
    shifted = formant_shift(vowel, factor)
    assert shifted.size == vowel.size
    assert _f0_hz(shifted) == pytest.approx(F0_HZ, rel=0.03)
    assert _formant_hz(shifted) == pytest.approx(_formant_hz(vowel) * factor, rel=0.1)


def test_perturb_speaker_applies_the_net_factors_it_is_given() -> None:
    vowel = _vowel()
    change = SpeakerPerturbation(pitch=1.15, formant=0.9, tempo=1.1)
    out = perturb_speaker(vowel, RATE_HZ, change)
    assert abs(out.size - vowel.size / 1.1) <= 2
    assert _f0_hz(out) == pytest.approx(F0_HZ * 1.15, rel=0.03)
    assert _formant_hz(out) == pytest.approx(_formant_hz(vowel) * 0.9, rel=0.1)
    assert perturb_speaker(vowel, RATE_HZ, SpeakerPerturbation()) is vowel


def test_speaker_variants_are_seeded_in_range_and_variant_zero_is_the_voice() -> None:
    assert speaker_variant(3, "flite-slt", 0).is_identity
    variants = [speaker_variant(3, "flite-slt", k) for k in range(1, 20)]
    assert variants == [speaker_variant(3, "flite-slt", k) for k in range(1, 20)]
    assert len(set(variants)) == len(variants)
    assert speaker_variant(4, "flite-slt", 1) != variants[0] != speaker_variant(3, "flite-awb", 1)
    for v in variants:
        assert PITCH_FACTORS[0] <= v.pitch <= PITCH_FACTORS[1]
        assert min(FORMANT_FACTORS[0], 1 / FORMANT_FACTORS[1]) <= v.formant <= max(FORMANT_FACTORS[1], 1 / FORMANT_FACTORS[0])
        assert TEMPO_FACTORS[0] <= v.tempo <= TEMPO_FACTORS[1]


def test_a_factor_outside_half_to_double_is_an_error_that_names_it() -> None:
    with pytest.raises(ValueError, match="formant factor"):
        SpeakerPerturbation(formant=2.5)
