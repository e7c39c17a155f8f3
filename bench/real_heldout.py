"""Real recordings, held out: the shipped base and a trained switch on ``bench/data/real/`` (issue 25).

The one independent check on audio nobody generated: 11 speech clips by 10 real talkers (KLettres' readers of
six languages, codec2's test talkers, ALSA's voice prompts) and 6 room-tone clips from the quiet stretches of six
of those home recordings, 3 s each, 16 kHz, levels as recorded (-69..-37 dBFS room tone). How they were cut:
``bench/real_set.py``; sources and licences: docs/data-sources.md.

**Held out for good**: never train, tune or choose anything on these files (no run config may name the folder;
``tests/test_train.py`` checks ``configs/``). They only measure.

Reported per class (ViSQOL v3 speech mode as Google scores it, the scorer every evaluation uses, on the
streaming runtime):
- the shipped base (``pretrained:speech16k``) on its full path (its DSL is inert);
- a trained switch (default: the demo study's knee, ``--study demo --trial 4``, when that study is on this
  machine) at its recorded threshold: the share of each class it routes light, and full / mixed ViSQOL.

Run: .venv/bin/python bench/real_heldout.py [--base pretrained:speech16k] [--study demo --trial 4 | --no-switch]
     [--storage URL] [--json]    (about 1-3 minutes on one core)
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from natural_heldout import heldout_clips

from dslnas.search.point_source import resolve_point
from dslnas.spaces.errors import UserError
from dslnas.trainers.evaluate import EvaluationResult, evaluate_codec

REAL_DIR = Path(__file__).parent / "data" / "real"
CLIP_SECONDS = 3.0


@dataclass(frozen=True)
class RealRow:
    """One class: the base's full path, and the switch's light share and ViSQOL (nan when no switch ran)."""

    label: str
    clips: int
    base_visqol_full: float
    switch_light_usage: float
    switch_visqol_full: float
    switch_visqol_mixed: float


def score(point_args: dict, clips: list) -> tuple[EvaluationResult, str]:
    """Evaluate the point (``resolve_point`` keywords) on ``clips`` -> (result, a one-line description)."""
    point = resolve_point(**point_args)
    result = evaluate_codec(point.codec(), clips, point.threshold, oracle=False, full_only=point.dsl_inert)
    return result, f"{point.label}: {point.checkpoint_path}, threshold {point.threshold:.4g} ({point.threshold_from})"


def rows(base: EvaluationResult, switch: EvaluationResult | None) -> list[RealRow]:
    nan = float("nan")
    out = []
    for label, group in sorted(base.per_class.items()):
        other = switch.per_class.get(label) if switch else None
        out.append(RealRow(label, group.n_clips, group.visqol_full,
                           other.light_usage if other else nan, other.visqol_full if other else nan,
                           other.visqol_mixed if other else nan))
    return out


def print_table(table: list[RealRow], lines: list[str], seconds: float) -> None:
    for line in lines:
        print(line)
    print(f"{sum(r.clips for r in table)} real clips from {REAL_DIR}; {seconds:.0f} s in all")
    print("| class | clips | base full-path ViSQOL | switch: light share | switch: full ViSQOL | switch: mixed ViSQOL |")
    print("|---|---|---|---|---|---|")
    for r in table:
        print(f"| {r.label} | {r.clips} | {r.base_visqol_full:.3f} | {100 * r.switch_light_usage:.0f}% | "
              f"{r.switch_visqol_full:.3f} | {r.switch_visqol_mixed:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="pretrained:speech16k", help="pretrained:NAME or a checkpoint file")
    parser.add_argument("--study", default="demo", help="study of the switch's point")
    parser.add_argument("--trial", type=int, default=4, help="trial of the switch's point (the demo's knee: 4)")
    parser.add_argument("--storage", default=None)
    parser.add_argument("--no-switch", action="store_true", help="score the base only")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    clips = heldout_clips(REAL_DIR, CLIP_SECONDS)
    base, base_line = score({"checkpoint": args.base}, clips)
    switch, lines = None, [base_line]
    if not args.no_switch:
        try:
            switch, line = score({"study": args.study, "trial": args.trial, "storage": args.storage}, clips)
            lines.append(line)
        except UserError as err:  # the study is not on this machine: say so, score the base alone
            lines.append(f"switch not scored: {err}")
    table = rows(base, switch)
    if args.json:
        print(json.dumps({"points": lines, "rows": [asdict(r) for r in table],
                          "total_s": time.perf_counter() - started}, indent=2))
        return
    print_table(table, lines, time.perf_counter() - started)


if __name__ == "__main__":
    main()
