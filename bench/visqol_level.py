"""Below which reference level does ViSQOL's score stop depending on the signal?

Scores fixed (reference, degraded) pairs with Google's ViSQOL (visqol-python, no dslnas rule) while both
signals are played ever quieter: the reference's loudest 80 ms frame (ViSQOL's analysis window) goes from
``--top-dbfs`` down to ``--bottom-dbfs``. ViSQOL matches the degraded signal's level to the reference's and
floors every gammatone band at -45 dB absolute, so a quiet enough pair is all floor and every degraded copy
scores alike. Three references: Google's conformance speech ``CA01_01`` (tests/data/visqol), the project's
seeded formant speech (``generate_demo_clips``) and seeded room tone (``trainers.data.scenes.room_tone``),
each against four copies: itself, a 3 kHz low-pass, white noise at 10 dB SNR and another realisation (for
room tone) or a time-reversed copy (for speech). At each level the
*spread* is the largest minus the smallest of the four scores. The quiet level printed is the highest level
at and below which every reference's spread stays under ``--tolerance`` (default 0.02 MOS, the conformance
tolerance): there ViSQOL can no longer tell a perfect copy from a damaged one. Those numbers are
``trainers.visqol_score.QUIET_SPEECH_DBFS`` (per mapping) and ``QUIET_AUDIO_DBFS``.

Run: .venv/bin/python bench/visqol_level.py [--mode speech|audio] [--exponential] [--step-db 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy import signal

from dslnas.trainers.data import generate_demo_clips
from dslnas.trainers.data.audio_io import load_audio
from dslnas.trainers.data.scenes import room_tone
from dslnas.trainers.visqol_score import loudest_frame_dbfs

SPEECH_FILE = Path(__file__).resolve().parents[1] / "tests" / "data" / "visqol" / "CA01_01.flac"
DEGRADATIONS = ("identity", "lowpass_3k", "noise_10db", "other")


@dataclass(frozen=True)
class LevelRow:
    """The scores of one reference's four copies at one level."""

    reference: str
    loudest_frame_dbfs: float
    rms_dbfs: float
    scores: dict[str, float]

    @property
    def spread(self) -> float:
        return max(self.scores.values()) - min(self.scores.values())


def copies(name: str, ref: np.ndarray, rate_hz: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The four degraded copies of ``ref`` ``[T]`` (see the module notes)."""
    lowpass = signal.sosfilt(signal.butter(6, 3000.0, fs=rate_hz, output="sos"), ref)
    noise = rng.standard_normal(ref.size) * _rms(ref) * 10.0 ** (-10.0 / 20.0)
    other = room_tone(rng, ref.size, rate_hz) * _rms(ref) if name == "room_tone" else ref[::-1].copy()
    return {"identity": ref.copy(), "lowpass_3k": lowpass, "noise_10db": ref + noise, "other": other}


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def references(rate_hz: int, seed: int) -> dict[str, np.ndarray]:
    """Google's CA01 speech, 3 s of formant speech and 3 s of room tone, at ``rate_hz``."""
    speech = load_audio(SPEECH_FILE, rate_hz).numpy().astype(np.float64)
    formant = generate_demo_clips(1, 3.0, rate_hz, seed)[0].audio.numpy().astype(np.float64)
    return {"CA01_speech": speech, "formant_speech": formant,
            "room_tone": room_tone(np.random.default_rng(seed), 3 * rate_hz, rate_hz)}


def sweep(args: argparse.Namespace) -> list[LevelRow]:
    from visqol import VisqolApi

    api = VisqolApi()
    api.create(mode=args.mode, use_lattice_model=args.mode == "speech" and not args.exponential)
    rate_hz = 16_000 if args.mode == "speech" else 48_000
    rows: list[LevelRow] = []
    for name, ref in references(rate_hz, args.seed).items():
        pairs = copies(name, ref, rate_hz, np.random.default_rng(args.seed + 1))
        top = loudest_frame_dbfs(ref, rate_hz)
        for level in np.arange(args.top_dbfs, args.bottom_dbfs - 1e-9, -args.step_db):
            gain = 10.0 ** ((level - top) / 20.0)
            scores = {k: float(api.measure_from_arrays(ref * gain, deg * gain, rate_hz).moslqo) for k, deg in pairs.items()}
            row = LevelRow(name, float(level), 20.0 * math.log10(_rms(ref * gain)), scores)
            rows.append(row)
            if not args.json:
                cells = "  ".join(f"{k} {v:.3f}" for k, v in scores.items())
                print(f"{name:14s} loudest {level:6.1f} dBFS (RMS {row.rms_dbfs:6.1f})  {cells}  spread {row.spread:.3f}")
    return rows


def quiet_level_dbfs(rows: list[LevelRow], tolerance: float) -> float:
    """The highest swept level at and below which every reference's spread is under ``tolerance``."""
    levels = sorted({r.loudest_frame_dbfs for r in rows}, reverse=True)
    quiet = [lv for lv in levels if all(r.spread < tolerance for r in rows if r.loudest_frame_dbfs <= lv)]
    if not quiet:
        raise SystemExit(f"error: no swept level has a spread under {tolerance} MOS; sweep lower (--bottom-dbfs)")
    return quiet[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=("speech", "audio"), default="speech")
    parser.add_argument("--exponential", action="store_true", help="speech mode's exponential mapping")
    parser.add_argument("--top-dbfs", type=float, default=-20.0)
    parser.add_argument("--bottom-dbfs", type=float, default=-100.0)
    parser.add_argument("--step-db", type=float, default=5.0)
    parser.add_argument("--tolerance", type=float, default=0.02, help="spread (MOS) counted as no dependence")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    rows = sweep(args)
    quiet = quiet_level_dbfs(rows, args.tolerance)
    mapping = "exponential" if args.exponential else ("lattice" if args.mode == "speech" else "svr")
    if args.json:
        print(json.dumps({"mode": args.mode, "mapping": mapping, "tolerance_mos": args.tolerance,
                          "quiet_level_dbfs": quiet, "rows": [asdict(r) | {"spread": r.spread} for r in rows]}))
    else:
        print(f"{args.mode} mode ({mapping}): at and below a loudest 80 ms frame of {quiet:.1f} dBFS every "
              f"reference's four copies score within {args.tolerance} MOS ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
