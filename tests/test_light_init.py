"""Starting the light tail from the full tail's most used channels (``trainers.light_init``), and the switch's
own learning rate."""

from __future__ import annotations

import pytest
import torch

from dslnas.spaces.run_config import RunConfig, Trainable, TrainConfig
from dslnas.spaces.presets import demo_candidate
from dslnas.trainers.checkpoint import load_checkpoint
from dslnas.trainers.codec import insert_dsl
from dslnas.trainers.data import generate_demo_clips
from dslnas.trainers.light_init import slice_light_tail
from dslnas.trainers.pretrained import pretrained_checkpoint
from dslnas.trainers.train import Trainer


@pytest.fixture(scope="module")
def base() -> dict[str, torch.Tensor]:
    return load_checkpoint(pretrained_checkpoint("speech16k")).model


@pytest.fixture(scope="module")
def audio() -> torch.Tensor:
    return torch.stack([c.audio[:8000] for c in generate_demo_clips(4, 0.5, 16_000, seed=3)]).unsqueeze(1)


def relative_gap(encoder: torch.nn.Module, audio: torch.Tensor) -> float:
    with torch.no_grad():
        out = encoder(audio)
    return ((out.full - out.light).abs().mean() / out.full.abs().mean()).item()


def test_a_light_tail_as_wide_as_the_full_one_becomes_the_full_one(base: dict, audio: torch.Tensor) -> None:
    for depth in (1, 2, 3):
        full_widths = demo_candidate().encoder.block_channels[depth - 1 :]
        candidate = demo_candidate().with_dsl(switch_depth=depth, light_widths=full_widths)
        codec = insert_dsl(candidate, base).eval()
        assert relative_gap(codec.encoder, audio) > 0.5  # random weights
        slice_light_tail(codec.encoder)
        assert relative_gap(codec.encoder, audio) < 1e-6


@pytest.mark.parametrize(("depth", "widths"), [(1, (8, 8, 16)), (2, (8, 8)), (2, (16, 24)), (3, (16,))])
def test_a_thinner_sliced_tail_starts_closer_to_the_full_one_than_a_random_one(
    base: dict, audio: torch.Tensor, depth: int, widths: tuple[int, ...]
) -> None:
    torch.manual_seed(0)
    codec = insert_dsl(demo_candidate().with_dsl(switch_depth=depth, light_widths=widths), base).eval()
    random_gap = relative_gap(codec.encoder, audio)
    slice_light_tail(codec.encoder)
    assert relative_gap(codec.encoder, audio) < 0.9 * random_gap


def test_training_starts_from_the_sliced_tail_unless_told_otherwise(tmp_path) -> None:  # noqa: ANN001
    from dslnas.trainers.codec_start import initial_codec

    candidate = demo_candidate().with_dsl(light_widths=(24, 32))  # full widths at depth 2: sliced == full
    for init, exact in (("sliced", True), ("random", False)):
        cfg = TrainConfig(init_checkpoint="pretrained:speech16k", light_init=init)
        encoder = initial_codec(RunConfig(candidate=candidate, train=cfg)).encoder.eval()
        light, full = encoder.light_tail, encoder.full_tail
        same = all(torch.equal(a, b) for a, b in zip(light.parameters(), full.parameters()))
        assert same is exact


def test_the_switch_learns_at_its_own_rate(base: dict) -> None:
    cfg = TrainConfig(init_checkpoint="pretrained:speech16k", trainable=Trainable.DSL, learning_rate=1e-3, switch_lr_mult=10.0)
    trainer = Trainer(RunConfig(candidate=demo_candidate(), train=cfg), insert_dsl(demo_candidate(), base), torch.device("cpu"))
    trainer.set_step(5)
    rates = {group["name"]: group["lr"] for group in trainer.optimizer.param_groups}
    assert set(rates) == {"switch", "dsl"}
    assert rates["switch"] == pytest.approx(10 * rates["dsl"])
