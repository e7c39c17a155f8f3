"""Training and evaluation throughput of the `demo` preset on this machine.

Prints training steps/s (batch 8 x 0.8 s crops) and evaluation clips/s (2 s clips, full + light + mixed
decode, ViSQOL included). Run: .venv/bin/python bench/train_throughput.py [--steps N] [--clips N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time

import torch

from dslnas.spaces.run_config import DataConfig, RunConfig, TrainConfig
from dslnas.spaces.presets import demo_candidate
from dslnas.trainers.checkpoint import load_checkpoint
from dslnas.trainers.codec import build_codec
from dslnas.trainers.data import generate_demo_clips
from dslnas.trainers.evaluate import evaluate_codec
from dslnas.trainers.train import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--clips", type=int, default=8)
    args = parser.parse_args()
    run = RunConfig(candidate=demo_candidate(), train=TrainConfig(steps=args.steps, data=DataConfig(demo_clips=24)))
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        result = train(run, tmp)
        train_s = time.perf_counter() - started
        codec = build_codec(run.candidate)
        codec.load_state_dict(load_checkpoint(result.checkpoint_path).model)
    clips = generate_demo_clips(args.clips, 2.0, run.candidate.encoder.sample_rate_hz, seed=1)
    evaluate_codec(codec, clips[:1])  # warm-up: ViSQOL model load
    started = time.perf_counter()
    evaluate_codec(codec, clips)
    eval_s = time.perf_counter() - started
    print(json.dumps({
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads",
        "train_steps_per_s": round(args.steps / train_s, 2),
        "train_seconds_per_step": round(train_s / args.steps, 3),
        "eval_clips_per_s": round(args.clips / eval_s, 2),
        "eval_seconds_per_clip": round(eval_s / args.clips, 3),
    }, indent=2))


if __name__ == "__main__":
    main()
