"""The switch learns what it is for: a DSL fine-tuned DSL-only (seconds) on the shipped ``speech16k`` base
predicts a smaller light-vs-full discrepancy on held-out generated silence than on held-out generated
speech, so a threshold routes silence light first."""

from __future__ import annotations

from pathlib import Path

import torch

from dslnas.spaces.run_config import DataConfig, RunConfig, Trainable, TrainConfig
from dslnas.spaces.presets import demo_candidate
from dslnas.trainers.checkpoint import load_checkpoint
from dslnas.trainers.codec import build_codec
from dslnas.trainers.data import generate_demo_clips
from dslnas.trainers.dsl import segment_discrepancy
from dslnas.trainers.train import train

DATA = DataConfig(demo_clips=8, demo_clip_seconds=1.0, eval_fraction=0.0)


def _means_by_label(codec: torch.nn.Module, clips: list) -> dict[str, tuple[float, float]]:
    """Per label: (mean predicted, mean actual) discrepancy over the clips' segments."""
    pairs: dict[str, list[tuple[float, float]]] = {}
    seg = codec.candidate.dsl.segment_frames
    with torch.no_grad():
        for clip in clips:
            enc = codec.encoder(codec.pad(clip.audio.reshape(1, 1, -1)))
            actual = segment_discrepancy(enc.full, enc.light, seg)
            pairs.setdefault(clip.label, []).append((enc.predicted.mean().item(), actual.mean().item()))
    return {label: tuple(sum(v) / len(v) for v in zip(*p)) for label, p in pairs.items()}


def test_switch_ranks_held_out_silence_below_speech(tmp_path: Path) -> None:
    candidate = demo_candidate()
    cfg = TrainConfig(steps=60, batch_size=4, crop_seconds=0.25, data=DATA, learning_rate=3e-3,
                      init_checkpoint="pretrained:speech16k", trainable=Trainable.DSL)
    result = train(RunConfig(candidate=candidate, train=cfg), tmp_path)
    codec = build_codec(candidate)
    codec.load_state_dict(load_checkpoint(result.checkpoint_path).model)
    codec.eval()
    held_out = generate_demo_clips(8, 1.0, 16_000, seed=7)  # training used seed 0
    means = _means_by_label(codec, held_out)
    assert means["silence"][1] < means["speech"][1], means  # the light path is closer to the full on silence
    assert means["silence"][0] < means["speech"][0], means  # ... and the switch has learned so
