"""Distil a base's light-tail bank (``trainers.elastic_tail``): one elastic tail per switch depth, trained
from the base's own DSL-free full path. ``dslnas light-bank`` runs it once per base."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import torch

from dslnas.spaces.candidate import CandidateConfig
from dslnas.spaces.run_config import DataConfig, RunConfig, TrainConfig
from dslnas.trainers.codec_start import crop_samples, initial_codec
from dslnas.trainers.data import load_dataset, random_crops, train_eval_split
from dslnas.trainers.elastic_tail import LightBank, StepCallback, distil_depth, elastic_widths, encoder_sha256


def distil_bank(
    base_checkpoint: Path, candidate: CandidateConfig, depths: Sequence[int], width_choices: Sequence[int],
    data: DataConfig, steps: int, batch_size: int = 16, crop_seconds: float = 0.32, learning_rate: float = 3e-3,
    samples_per_step: int = 4, seed: int = 0, on_step: StepCallback | None = None,
) -> LightBank:
    """Distil an elastic tail per depth from the base (its DSL-free full path) on the train side of ``data``.

    ``on_step(done, total, loss)`` counts steps over all depths."""
    started = time.perf_counter()
    length = crop_samples(RunConfig(candidate=candidate, train=TrainConfig(crop_seconds=crop_seconds)))  # any depth's
    clips = train_eval_split(load_dataset(data, candidate.encoder.sample_rate_hz, min_samples=length),
                             data.eval_fraction, data.seed)[0]
    tails, widths = {}, {}
    for i, depth in enumerate(depths):
        at_depth = candidate.with_dsl(switch_depth=depth, light_widths=elastic_widths(candidate, depth, width_choices))
        # light_init random: distil_depth replaces the light tail, so nothing is sliced (or read from a bank) for it
        run = RunConfig(candidate=at_depth, train=TrainConfig(init_checkpoint=str(base_checkpoint), crop_seconds=crop_seconds,
                                                             data=data, light_init="random"))
        generator = torch.Generator().manual_seed(seed)
        encoder = initial_codec(run).encoder.eval()
        torch.manual_seed(seed)

        def report(step: int, loss: float, offset: int = i * steps) -> None:
            if on_step is not None:
                on_step(offset + step, steps * len(depths), loss)

        widths[depth], tails[depth] = distil_depth(
            encoder, width_choices, lambda: random_crops(clips, batch_size, length, generator), steps,
            learning_rate, samples_per_step, seed, report)
    return LightBank(encoder_sha256(Path(base_checkpoint)), tuple(sorted(width_choices)), steps,
                     round(time.perf_counter() - started, 1), widths, tails)
