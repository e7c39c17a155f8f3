"""What the compression weight alpha buys: the mask's share of zeros after a demo fine-tune, per alpha.

Fine-tunes a depth-2 DSL (light widths 8, 8) into the shipped ``speech16k`` base with the demo space's
recipe (DSL-only, 150 steps) once per alpha, then prints, on the demo corpus's held-out clips, the share of
exact zeros in the mask's output, the full tail's relative L1 distance from the base's own embedding, and
the learned threshold. It is what the spaces' alpha range ([1e-4, 10]) is chosen from.
Run: .venv/bin/python bench/alpha_sparsity.py [--alphas 0.1,1,2,3,5,10] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

from dslnas.spaces.run_config import RunConfig
from dslnas.spaces.presets import demo_candidate
from dslnas.spaces.space_presets import demo_space
from dslnas.trainers.checkpoint import load_checkpoint
from dslnas.trainers.codec import build_codec
from dslnas.trainers.data import evaluation_clips, load_dataset
from dslnas.trainers.pretrained import pretrained_checkpoint
from dslnas.trainers.train import train


def measure(alpha: float, clips: list, out_dir: Path) -> dict[str, float]:
    """Fine-tune at ``alpha`` and measure the mask on ``clips``."""
    space = demo_space()
    base = demo_candidate().with_dsl(switch_depth=2, light_widths=(8, 8))
    candidate = base.model_copy(update={"dsl": base.dsl.model_copy(update={"alpha": alpha})})
    recipe = space.finetune.model_copy(update={"init_checkpoint": str(pretrained_checkpoint("speech16k"))})
    started = time.perf_counter()
    result = train(RunConfig(candidate=candidate, train=recipe), out_dir)
    train_s = time.perf_counter() - started
    codec = build_codec(candidate)
    codec.load_state_dict(load_checkpoint(result.checkpoint_path).model)
    encoder = codec.eval().encoder
    zeros = total = 0
    distances = []
    with torch.no_grad():
        for clip in clips:
            features = encoder.base(codec.pad(clip.audio.reshape(1, 1, -1)))
            masked = encoder.mask(features)
            zeros += int((masked == 0).sum())
            total += masked.numel()
            full, own = encoder.full_tail(masked), encoder.full_tail(features)
            distances.append(float((full - own).abs().mean() / own.abs().mean()))
    threshold = encoder.mask.effective_threshold()
    return {"alpha": alpha, "mask_zeros": zeros / total, "embedding_rel_l1": sum(distances) / len(distances),
            "threshold_mean": float(threshold.mean()), "threshold_max": float(threshold.max()), "train_s": train_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alphas", default="0.1,1,2,3,5,10", help="comma-separated alpha values")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args()
    alphas = [float(a) for a in args.alphas.split(",") if a.strip()]
    data = demo_space().finetune.data
    clips = evaluation_clips(load_dataset(data, 16_000, min_samples=400), data, 16_000, all_when_none_held_out=True)
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(alpha, clips, Path(tmp) / f"alpha-{alpha}") for alpha in alphas]
    if args.json:
        print(json.dumps({"machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                          "rows": rows}, indent=2))
        return
    print(f"{'alpha':>8} {'mask zeros':>11} {'emb rel L1':>11} {'t mean':>8} {'t max':>8} {'train s':>8}")
    for r in rows:
        print(f"{r['alpha']:>8g} {r['mask_zeros']:>11.1%} {r['embedding_rel_l1']:>11.4f} {r['threshold_mean']:>8.4f} "
              f"{r['threshold_max']:>8.4f} {r['train_s']:>8.1f}")


if __name__ == "__main__":
    main()
