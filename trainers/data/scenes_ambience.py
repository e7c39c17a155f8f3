"""Ambience "silence" scenes with the spectra of real room tone (AudioSet's "silence" is rarely digital
silence: it is a room with a fan, a fridge, traffic outside, rain, someone typing, a voice far away).

Each scene is modelled on what makes its real spectrum: the blade-pass tone and turbulence hump of a fan, a
compressor's mains-locked hum, the low-passed swells of passing cars, rain's dense high-frequency drops, the
double transient of a key. Levels are RMS over the clip in dBFS, at what a phone or laptop records in a quiet
room (-70..-35):

============== ========================================================================= ===========
scene          what it is                                                                 level
============== ========================================================================= ===========
fan            turbulence hump 150-1500 Hz, blade-pass tone 40-180 Hz (harmonics),        -58..-38
               amplitude-modulated at the rotation rate
fridge         compressor hum (2x mains and harmonics), a 300-900 Hz whine, a cycle       -66..-46
               switching on or off inside the clip
traffic        distant road: brown noise under 250-700 Hz, cars passing as 3-12 s swells  -60..-40
rain           pink bed high-passed at 400 Hz plus 200-2000 drops/s (1-8 kHz clicks)     -56..-36
keyboard       typing in bursts (3-9 keys/s), each key a press and a release transient    -66..-48
far-speech     one talker through a 0.4-0.7 s room, 8-20 m away: low-passed, 28-40 dB     -62..-48
               below speech level
============== ========================================================================= ===========

These scenes are not in the default ``data synth`` corpus (which keeps the recipe the shipped base trained
on); ``--scenes`` selects them. The same generator state gives the same samples.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import signal

from dslnas.trainers.data.demo_audio import _coloured_noise, _rms
from dslnas.trainers.data.scenes import SCENES, SPEECH_REFERENCE_DBFS, Scene, _at_dbfs, room_tone


def _band(noise: np.ndarray, low_hz: float, high_hz: float, rate_hz: int, order: int = 2) -> np.ndarray:
    high_hz = min(high_hz, 0.45 * rate_hz)
    return signal.sosfilt(signal.butter(order, [low_hz, high_hz], "bandpass", fs=rate_hz, output="sos"), noise)


def scene_fan(rng: np.random.Generator, n: int, rate_hz: int, _: Sequence[np.ndarray]) -> np.ndarray:
    t_s = np.arange(n) / rate_hz
    rotation_hz = rng.uniform(10.0, 25.0)
    blade_hz = rotation_hz * int(rng.integers(3, 8))
    turbulence = _band(_coloured_noise(rng, n, rate_hz, 1.0), rng.uniform(150, 300), rng.uniform(900, 1500), rate_hz)
    tone = sum(np.sin(2 * np.pi * k * blade_hz * t_s + rng.uniform(0, 2 * np.pi)) / k**1.5 for k in (1, 2, 3, 4))
    swish = 1.0 + rng.uniform(0.05, 0.25) * np.sin(2 * np.pi * rotation_hz * t_s)
    mix = swish * turbulence / _rms(turbulence) + rng.uniform(0.2, 0.6) * tone / _rms(tone)
    return _at_dbfs(mix + 0.3 * room_tone(rng, n, rate_hz), rng.uniform(-58.0, -38.0))


def scene_fridge(rng: np.random.Generator, n: int, rate_hz: int, _: Sequence[np.ndarray]) -> np.ndarray:
    t_s = np.arange(n) / rate_hz
    mains_hz = 50.0 if rng.random() < 0.5 else 60.0
    hum = sum(np.sin(2 * np.pi * k * mains_hz * t_s + rng.uniform(0, 2 * np.pi)) / (k - 1) for k in (2, 3, 4, 6))
    whine_hz = rng.uniform(300.0, 900.0)
    whine = np.sin(2 * np.pi * whine_hz * t_s * (1 + 0.002 * np.sin(2 * np.pi * 0.3 * t_s)))
    rattle = _band(rng.standard_normal(n), 60.0, 400.0, rate_hz)
    motor = hum / _rms(hum) + rng.uniform(0.1, 0.4) * whine / _rms(whine) + 0.4 * rattle / _rms(rattle)
    switch_at = int(rng.uniform(0.2, 0.8) * n)
    on = np.zeros(n)
    on[switch_at:] = 1.0
    if rng.random() < 0.5:
        on = 1.0 - on  # the compressor stops instead of starting
    on = signal.sosfiltfilt(signal.butter(1, 4.0, fs=rate_hz, output="sos"), on)  # a 40 ms ramp
    level = rng.uniform(-66.0, -46.0)
    return _at_dbfs(on * motor, level) + _at_dbfs(room_tone(rng, n, rate_hz), level - rng.uniform(6.0, 14.0))


def scene_traffic(rng: np.random.Generator, n: int, rate_hz: int, _: Sequence[np.ndarray]) -> np.ndarray:
    t_s = np.arange(n) / rate_hz
    rumble = signal.sosfilt(signal.butter(2, rng.uniform(250.0, 700.0), fs=rate_hz, output="sos"),
                            _coloured_noise(rng, n, rate_hz, 2.0))
    gain = np.full(n, 0.4)
    for _car in range(rng.poisson(max(1.0, rng.uniform(0.1, 0.4) * t_s[-1]))):
        centre_s, width_s = rng.uniform(0.0, t_s[-1]), rng.uniform(1.5, 6.0)
        gain += rng.uniform(0.3, 1.5) * np.exp(-0.5 * ((t_s - centre_s) / (width_s / 2)) ** 2)
    hiss = _band(rng.standard_normal(n), 500.0, 3000.0, rate_hz)  # tyres, in the swells only
    mix = gain * rumble / _rms(rumble) + 0.15 * (gain - 0.4) * hiss / _rms(hiss)
    return _at_dbfs(mix, rng.uniform(-60.0, -40.0))


def scene_rain(rng: np.random.Generator, n: int, rate_hz: int, _: Sequence[np.ndarray]) -> np.ndarray:
    bed = signal.sosfilt(signal.butter(2, 400.0, "highpass", fs=rate_hz, output="sos"),
                         _coloured_noise(rng, n, rate_hz, 1.0))
    drops = np.zeros(n)
    n_drops = rng.poisson(rng.uniform(200.0, 2000.0) * n / rate_hz)
    drops[rng.integers(0, n, size=n_drops)] = rng.lognormal(0.0, 0.8, size=n_drops) * rng.choice((-1, 1), n_drops)
    drops = _band(drops, rng.uniform(1000.0, 2500.0), rng.uniform(5000.0, 8000.0), rate_hz)
    mix = bed / _rms(bed) + rng.uniform(0.5, 1.5) * drops / _rms(drops)
    return _at_dbfs(mix, rng.uniform(-56.0, -36.0))


def scene_keyboard(rng: np.random.Generator, n: int, rate_hz: int, _: Sequence[np.ndarray]) -> np.ndarray:
    level = rng.uniform(-72.0, -58.0)
    out = _at_dbfs(room_tone(rng, n, rate_hz), level)
    key = int(0.012 * rate_hz)
    decay = np.exp(-np.arange(key) / (0.12 * key))
    time_s, end_s = rng.uniform(0.0, 0.5), n / rate_hz
    while time_s < end_s:
        burst_end_s = time_s + rng.uniform(1.0, 4.0)
        rate = rng.uniform(3.0, 9.0)
        while time_s < min(burst_end_s, end_s):
            for offset_s, gain in ((0.0, 1.0), (rng.uniform(0.06, 0.12), rng.uniform(0.3, 0.7))):  # press, release
                start = int((time_s + offset_s) * rate_hz)
                if start + key < n:
                    click = _band(rng.standard_normal(key), 800.0, 6000.0, rate_hz) * decay
                    peak = 10.0 ** (rng.uniform(-52.0, -34.0) / 20.0) * gain
                    out[start : start + key] += peak * click / max(float(np.max(np.abs(click))), 1e-12)
            time_s += rng.exponential(1.0 / rate)
        time_s += rng.uniform(0.5, 3.0)
    return out


def scene_far_speech(rng: np.random.Generator, n: int, rate_hz: int, talkers: Sequence[np.ndarray]) -> np.ndarray:
    """One talker far away in a reverberant room (the first of ``talkers``, looped to the clip length)."""
    if not talkers:
        raise ValueError("far-speech needs a talker recording")
    voice = np.resize(talkers[0], n)
    rt60_s = rng.uniform(0.4, 0.7)
    t_s = np.arange(int(1.2 * rt60_s * rate_hz)) / rate_hz
    reverb = rng.standard_normal(t_s.size) * 10.0 ** (-3.0 * t_s / rt60_s)
    reverb[0] = rng.uniform(0.5, 2.0) * float(np.max(np.abs(reverb)))  # the direct sound, weak at 8-20 m
    far = signal.fftconvolve(voice, reverb)[:n]
    far = signal.sosfilt(signal.butter(2, rng.uniform(1500.0, 3500.0), fs=rate_hz, output="sos"), far)
    level = SPEECH_REFERENCE_DBFS - rng.uniform(28.0, 40.0)
    return _at_dbfs(far, level) + _at_dbfs(room_tone(rng, n, rate_hz), level - rng.uniform(4.0, 10.0))


AMBIENCE_SCENES: dict[str, Scene] = {
    "fan": scene_fan,
    "fridge": scene_fridge,
    "traffic": scene_traffic,
    "rain": scene_rain,
    "keyboard": scene_keyboard,
    "far-speech": scene_far_speech,
}
"""Scene id -> generator, as :data:`.scenes.SCENES`."""

ALL_SCENES: dict[str, Scene] = {**SCENES, **AMBIENCE_SCENES}
TALKER_SCENES = frozenset({"far-babble", "far-speech"})
"""Scenes that need talker recordings."""


def render_any_scene(
    scene_id: str, rng: np.random.Generator, n_samples: int, sample_rate_hz: int,
    talkers: Sequence[np.ndarray] = (),
) -> np.ndarray:
    """``[n_samples]`` float64 of any scene of :data:`ALL_SCENES`.

    Raises:
        ValueError: an unknown scene id (the message lists them), or a talker scene without talkers.
    """
    if scene_id not in ALL_SCENES:
        raise ValueError(f"unknown scene {scene_id!r}; valid: {', '.join(sorted(ALL_SCENES))}")
    return ALL_SCENES[scene_id](rng, n_samples, sample_rate_hz, talkers)
