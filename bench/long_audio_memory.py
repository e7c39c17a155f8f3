"""Peak memory of ``visqol`` and ``stream`` against the length of the audio.

Writes noise WAVs (16 kHz, 16-bit) of each length under ``--root``, then runs, in a fresh process per
length, ViSQOL's scoring of the file against itself plus a little noise (``score_files``, what ``dslnas
visqol`` runs) or the streaming encode and chunked decode of the demo candidate (``stream_file``, what
``dslnas stream`` runs; an untrained codec costs the same as a trained one). Prints, per command and length,
the peak RSS of that process, its RSS after imports and the seconds it took.

    .venv/bin/python bench/long_audio_memory.py --visqol 10,30,60 --stream 60,600,1800
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

RATE_HZ = 16_000


def write_noise(path: Path, seconds: float, seed: int) -> Path:
    """``seconds`` of quiet noise, written in blocks (the bench itself stays small)."""
    if path.is_file():
        return path
    rng = np.random.default_rng(seed)
    with soundfile.SoundFile(str(path), "w", RATE_HZ, 1, subtype="PCM_16", format="WAV") as f:
        for start in range(0, int(seconds * RATE_HZ), 60 * RATE_HZ):
            f.write(0.05 * rng.standard_normal(min(60 * RATE_HZ, int(seconds * RATE_HZ) - start)))
    return path


def child(command: str, seconds: float, root: Path) -> None:
    """One measurement in this process; prints one JSON line."""
    import torch  # noqa: F401 - imports before the baseline, as the commands have them

    from dslnas.spaces.presets import candidate_preset
    from dslnas.trainers.codec import build_codec
    from dslnas.trainers.stream_file import stream_file
    from dslnas.trainers.visqol_score import score_files

    ref = write_noise(root / f"ref-{seconds:g}.wav", seconds, 0)
    base_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.monotonic()
    if command == "visqol":
        score_files(ref, write_noise(root / f"deg-{seconds:g}.wav", seconds, 1))
    else:
        stream_file(build_codec(candidate_preset("demo")), ref, root / "out.wav")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"command": command, "seconds": seconds, "peak_mb": round(peak_mb), "after_imports_mb": round(base_mb),
                      "wall_s": round(time.monotonic() - started, 1)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visqol", default="10,30,60", help="lengths in seconds for visqol ('' for none)")
    parser.add_argument("--stream", default="60,600,1800", help="lengths in seconds for stream ('' for none)")
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "dslnas-bench-long-audio")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    if args.child:
        child(args.child[0], float(args.child[1]), args.root)
        return
    print("command | audio s | peak RSS MB | RSS after imports MB | wall s")
    for command in ("visqol", "stream"):
        for text in filter(None, getattr(args, command).split(",")):
            out = subprocess.run([sys.executable, __file__, "--root", str(args.root), "--child", command, text],
                                 capture_output=True, text=True, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{command} | {row['seconds']:g} | {row['peak_mb']} | {row['after_imports_mb']} | {row['wall_s']}", flush=True)


if __name__ == "__main__":
    main()
