"""How ``bench/data/real/`` was cut from real recordings shipped in Debian packages (run once; the files are in the tree).

Sources (``apt-get download`` then ``dpkg-deb -x PKG.deb ROOT``, all into one ROOT; licences in docs/data-sources.md):
- ``klettres-data`` 4:22.12.3-1: letters and syllables, one reader per language (44.1 kHz Ogg
  Vorbis); GPL-2+.
- ``codec2-examples`` 1.0.5-1: codec2's speech test recordings (``speech_orig_16k.wav`` wideband; ``hts1a``,
  ``hts2a``, ``mmt1`` 8 kHz narrowband, taken whole); LGPL-2.1.
- ``alsa-utils`` 1.2.8-1: the speaker-test voice prompts (``Front_Center.wav`` ...; 48 kHz, one talker); GPL-2.

Speech: each source's voiced stretches (20 ms frames more than 12 dB over the file's 10th-percentile frame level,
with 80 ms either side) joined in file order with 10 ms cross-fades, first 3 s. Room tone: the same recordings'
quiet stretches (frames within 6 dB of that floor, runs of at least 0.3 s, 40 ms trimmed off each end), joined
likewise, first 3 s; files whose floor is digital silence (below -100 dBFS) are not used for room tone. Nothing is
normalised: levels are the recordings' own. Everything is resampled to 16 kHz mono (``torchaudio``) and written as
16-bit PCM WAV with ``manifest.csv`` (path, label, speaker, seconds).

Run: .venv/bin/python bench/real_set.py ROOT [--out bench/data/real]
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio

RATE_HZ = 16_000
CLIP_S = 3.0
FRAME_S = 0.02
VOICED_OVER_FLOOR_DB = 12.0
QUIET_WITHIN_FLOOR_DB = 6.0
MARGIN_S = 0.08
MIN_QUIET_S = 0.3
QUIET_TRIM_S = 0.04
FADE_S = 0.01
DIGITAL_SILENCE_DBFS = -100.0
KLETTRES = "usr/share/klettres"
CODEC2 = "usr/share/codec2"


@dataclass(frozen=True)
class Source:
    """One clip to cut: ``label`` speech or silence, ``speaker`` the talker (or room) tag, ``files`` globbed under ROOT."""

    name: str
    label: str
    speaker: str
    files: str
    whole: bool = False  # a continuous recording: its first 3 s as they are (no stretch selection)


SOURCES: tuple[Source, ...] = (
    *(Source(f"klettres-{lang}", "speech", f"klettres-{lang}", f"{KLETTRES}/{lang}/alpha/*.ogg")
      for lang in ("en", "fr", "nl", "lt", "es", "ru")),
    Source("codec2-speech16k", "speech", "codec2-speech16k", f"{CODEC2}/raw/speech_orig_16k.wav"),
    *(Source(f"codec2-{name}-nb", "speech", f"codec2-{name}", f"{CODEC2}/wav/{name}.wav", whole=True)
      for name in ("hts1a", "hts2a", "mmt1")),
    Source("alsa-voice", "speech", "alsa-voice", "usr/share/sounds/alsa/[FRS]*_*.wav"),
    *(Source(f"klettres-{lang}-room", "silence", f"klettres-{lang}", f"{KLETTRES}/{lang}/{part}/*.ogg")
      for lang, part in (("en", "syllab"), ("nl", "syllab"), ("lt", "syllab"), ("hu", "syllab"),
                         ("he", "alpha"), ("ar", "alpha"))),
)


def read_16k(path: Path) -> np.ndarray:
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    mono = torch.from_numpy(audio.mean(axis=1))
    return torchaudio.functional.resample(mono, rate, RATE_HZ).numpy() if rate != RATE_HZ else mono.numpy()


def frame_db(audio: np.ndarray) -> np.ndarray:
    n = round(FRAME_S * RATE_HZ)
    frames = audio[: len(audio) // n * n].reshape(-1, n)
    return 20 * np.log10(np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1)) + 1e-12)


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` frame runs where ``mask`` is true."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def stretches(audio: np.ndarray, label: str) -> list[np.ndarray]:
    """The voiced (speech) or quiet (silence) stretches of one recording, in order."""
    db = frame_db(audio)
    floor = float(np.percentile(db, 10))
    n = round(FRAME_S * RATE_HZ)
    if label == "speech":
        pad = round(MARGIN_S / FRAME_S)
        return [audio[max(0, (a - pad) * n): (b + pad) * n] for a, b in runs(db > floor + VOICED_OVER_FLOOR_DB)]
    if floor < DIGITAL_SILENCE_DBFS:
        return []
    trim, shortest = round(QUIET_TRIM_S / FRAME_S), round(MIN_QUIET_S / FRAME_S)
    return [audio[(a + trim) * n: (b - trim) * n] for a, b in runs(db < floor + QUIET_WITHIN_FLOOR_DB)
            if b - a >= shortest]


def join(pieces: list[np.ndarray], seconds: float) -> np.ndarray:
    """``pieces`` cross-faded end to start (10 ms), cut to ``seconds``."""
    fade = round(FADE_S * RATE_HZ)
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    out = pieces[0]
    for piece in pieces[1:]:
        if len(piece) <= fade or len(out) >= seconds * RATE_HZ:
            continue
        out = np.concatenate([out[:-fade], out[-fade:] * ramp[::-1] + piece[:fade] * ramp, piece[fade:]])
    return out[: round(seconds * RATE_HZ)]


def cut(root: Path, source: Source) -> np.ndarray:
    files = sorted(root.glob(source.files))
    if not files:
        raise SystemExit(f"error: {source.name}: no file matches {root / source.files}")
    audio = [read_16k(f) for f in files]
    pieces = audio if source.whole else [p for a in audio for p in stretches(a, source.label) if len(p)]
    clip = join(pieces, CLIP_S) if pieces else np.zeros(0, np.float32)
    if len(clip) < CLIP_S * RATE_HZ:
        raise SystemExit(f"error: {source.name}: only {len(clip) / RATE_HZ:.2f} s of {source.label} in {len(files)} files")
    return clip


def build(root: Path, out: Path) -> None:
    rows = []
    for source in SOURCES:
        clip = cut(root, source)
        path = Path(source.label) / f"{source.name}.wav"
        (out / path.parent).mkdir(parents=True, exist_ok=True)
        sf.write(out / path, clip, RATE_HZ, subtype="PCM_16")
        rows.append((path.as_posix(), source.label, source.speaker, f"{len(clip) / RATE_HZ:.3f}"))
        level = 20 * np.log10(np.sqrt(np.mean(clip.astype(np.float64) ** 2)) + 1e-12)
        print(f"{path}: {len(clip) / RATE_HZ:.2f} s, {level:.1f} dBFS RMS", flush=True)
    with open(out / "manifest.csv", "w", newline="") as f:
        csv.writer(f).writerows([("path", "label", "speaker", "seconds"), *rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="folder the three Debian packages were extracted into")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data" / "real")
    args = parser.parse_args()
    build(args.root, args.out)


if __name__ == "__main__":
    main()
