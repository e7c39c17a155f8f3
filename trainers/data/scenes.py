""""Silence" scenes as AudioSet labels them: quiet rooms, machines, hum, far voices, clicks, drift, tones.

Every scene is a room tone (pink plus brown noise, low-passed at 2-6 kHz) with one kind of event on top;
its id is the scene's ``speaker`` in a corpus manifest, so a speaker-disjoint split holds whole scene
kinds out. Levels are RMS over the clip, in dBFS:

============== ==============================================================================  ===========
scene          what is added to the room tone                                                   level
============== ==============================================================================  ===========
room-tone      nothing                                                                          -75..-55
hvac           a rumble (brown noise, 30-400 Hz) and a blower tone (80-250 Hz, 3 harmonics)     -60..-42
mains-hum      50 or 60 Hz with harmonics 2-7 (amplitudes 1/k, odd ones stronger)               -65..-45
far-babble     3-6 overlapping talkers, low-passed at 1.2-2.5 kHz, 35-25 dB below speech level  -56..-46
clicks         0.3-3 clicks per second (5 ms decaying bursts), peaks -45..-25 dBFS              -70..-55
level-drift    the room tone's gain drifts by +-3..8 dB at 0.05-0.3 Hz                          -72..-50
quiet-tone     a steady 200-3000 Hz tone (appliance whine) with a slow tremolo                 -65..-45
============== ==============================================================================  ===========

The same generator state gives the same samples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import signal

from dslnas.trainers.data.demo_audio import _coloured_noise, _mains_hum, _quiet_tone, _rms

SPEECH_REFERENCE_DBFS = -21.0
"""The speech level far babble is set against (the middle of the corpus' speech levels)."""
BABBLE_BELOW_SPEECH_DB = (25.0, 35.0)

Scene = Callable[[np.random.Generator, int, int, Sequence[np.ndarray]], np.ndarray]


def room_tone(rng: np.random.Generator, n_samples: int, sample_rate_hz: int) -> np.ndarray:
    """Unit-RMS room tone: pink and brown noise, low-passed at 2-6 kHz."""
    noise = _coloured_noise(rng, n_samples, sample_rate_hz, 1.0)
    noise += rng.uniform(0.3, 1.0) * _coloured_noise(rng, n_samples, sample_rate_hz, 2.0)
    cutoff_hz = min(rng.uniform(2000.0, 6000.0), 0.45 * sample_rate_hz)
    noise = signal.sosfilt(signal.butter(2, cutoff_hz, fs=sample_rate_hz, output="sos"), noise)
    return noise / _rms(noise)


def _at_dbfs(x: np.ndarray, rms_dbfs: float) -> np.ndarray:
    """``x`` scaled to an RMS of ``rms_dbfs``."""
    return x * 10.0 ** (rms_dbfs / 20.0) / _rms(x)


def scene_room_tone(rng: np.random.Generator, n: int, rate_hz: int, _: Sequence[np.ndarray]) -> np.ndarray:
    return _at_dbfs(room_tone(rng, n, rate_hz), rng.uniform(-75.0, -55.0))


def scene_hvac(rng: np.random.Generator, n: int, rate_hz: int, _: Sequence[np.ndarray]) -> np.ndarray:
    sos = signal.butter(2, [30.0, 400.0], btype="bandpass", fs=rate_hz, output="sos")
    rumble = signal.sosfilt(sos, _coloured_noise(rng, n, rate_hz, 2.0))
    t_s = np.arange(n) / rate_hz
    blower_hz = rng.uniform(80.0, 250.0)
    wobble = 1.0 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t_s)
    blower = sum(np.sin(2 * np.pi * k * blower_hz * t_s + rng.uniform(0, 2 * np.pi)) / k for k in (1, 2, 3))
    mix = rumble / _rms(rumble) + 0.3 * wobble * blower / _rms(blower) + 0.5 * room_tone(rng, n, rate_hz)
    return _at_dbfs(mix, rng.uniform(-60.0, -42.0))


def scene_mains_hum(rng: np.random.Generator, n: int, rate_hz: int, _: Sequence[np.ndarray]) -> np.ndarray:
    mains_hz = 50.0 if rng.random() < 0.5 else 60.0
    t_s = np.arange(n) / rate_hz
    hum = 0.5 * _mains_hum(rng, n, rate_hz)
    for k in range(2, 8):
        if k * mains_hz < 0.45 * rate_hz:
            odd = 1.5 if k % 2 else 1.0
            hum += odd / k * np.sin(2 * np.pi * k * mains_hz * t_s + rng.uniform(0, 2 * np.pi))
    mix = hum / _rms(hum) + rng.uniform(0.1, 0.5) * room_tone(rng, n, rate_hz)
    return _at_dbfs(mix, rng.uniform(-65.0, -45.0))


def scene_far_babble(rng: np.random.Generator, n: int, rate_hz: int, talkers: Sequence[np.ndarray]) -> np.ndarray:
    """Needs at least one talker recording (``[T]`` at ``rate_hz``); each is looped to the clip length."""
    if not talkers:
        raise ValueError("far-babble needs talker recordings")
    babble = np.zeros(n)
    for talker in talkers:
        looped = np.resize(talker, n + talker.size)  # np.resize repeats the recording
        start = int(rng.integers(talker.size))
        babble += rng.uniform(0.5, 1.0) * looped[start : start + n] / _rms(talker)
    cutoff_hz = min(rng.uniform(1200.0, 2500.0), 0.45 * rate_hz)
    babble = signal.sosfilt(signal.butter(4, cutoff_hz, fs=rate_hz, output="sos"), babble)
    level_dbfs = SPEECH_REFERENCE_DBFS - rng.uniform(*BABBLE_BELOW_SPEECH_DB)
    return _at_dbfs(babble, level_dbfs) + _at_dbfs(room_tone(rng, n, rate_hz), level_dbfs - 10.0)


def scene_clicks(rng: np.random.Generator, n: int, rate_hz: int, _: Sequence[np.ndarray]) -> np.ndarray:
    out = _at_dbfs(room_tone(rng, n, rate_hz), rng.uniform(-72.0, -58.0))
    n_clicks = max(1, rng.poisson(rng.uniform(0.3, 3.0) * n / rate_hz))
    burst = int(0.005 * rate_hz)
    decay = np.exp(-np.arange(burst) / (0.15 * burst))
    for start in rng.integers(0, max(1, n - burst), size=n_clicks):
        click = rng.standard_normal(burst) * decay
        peak = 10.0 ** (rng.uniform(-45.0, -25.0) / 20.0)
        end = min(n, start + burst)
        out[start:end] += peak * click[: end - start] / np.max(np.abs(click))
    return out


def scene_level_drift(rng: np.random.Generator, n: int, rate_hz: int, _: Sequence[np.ndarray]) -> np.ndarray:
    t_s = np.arange(n) / rate_hz
    depth_db = rng.uniform(3.0, 8.0)
    drift_db = depth_db * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t_s + rng.uniform(0, 2 * np.pi))
    return _at_dbfs(room_tone(rng, n, rate_hz), rng.uniform(-72.0, -50.0)) * 10.0 ** (drift_db / 20.0)


def scene_quiet_tone(rng: np.random.Generator, n: int, rate_hz: int, _: Sequence[np.ndarray]) -> np.ndarray:
    mix = _quiet_tone(rng, n, rate_hz) + rng.uniform(0.2, 0.7) * room_tone(rng, n, rate_hz)
    return _at_dbfs(mix, rng.uniform(-65.0, -45.0))


SCENES: dict[str, Scene] = {
    "room-tone": scene_room_tone,
    "hvac": scene_hvac,
    "mains-hum": scene_mains_hum,
    "far-babble": scene_far_babble,
    "clicks": scene_clicks,
    "level-drift": scene_level_drift,
    "quiet-tone": scene_quiet_tone,
}
"""Scene id -> generator ``(rng, n_samples, sample_rate_hz, talkers) -> [n_samples] float64``."""


def render_scene(
    scene_id: str, rng: np.random.Generator, n_samples: int, sample_rate_hz: int,
    talkers: Sequence[np.ndarray] = (),
) -> np.ndarray:
    """``[n_samples]`` float64 of scene ``scene_id``; ``talkers`` feed ``far-babble`` only.

    Raises:
        ValueError: an unknown scene id (the message lists them), or far-babble without talkers.
    """
    if scene_id not in SCENES:
        raise ValueError(f"unknown scene {scene_id!r}; valid: {', '.join(sorted(SCENES))}")
    return SCENES[scene_id](rng, n_samples, sample_rate_hz, talkers)
