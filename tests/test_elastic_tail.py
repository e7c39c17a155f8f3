"""Elastic light tails (``trainers.elastic_tail``): prefixes are light tails, the bank is found beside its base
and only for it, and a trial's light tail starts from the bank where one covers it."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from dslnas.spaces.run_config import DataConfig, DatasetKind, RunConfig, TrainConfig
from dslnas.spaces.errors import UserError
from dslnas.spaces.presets import demo_candidate
from dslnas.trainers.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from dslnas.trainers.codec import build_codec, insert_dsl
from dslnas.trainers.data import generate_demo_clips
from dslnas.trainers.elastic_tail import (
    LightBank, _tail_with_entry, bank_for, bank_path, encoder_sha256, load_bank, prefix_state, save_bank,
)
from dslnas.trainers.encoder import DSLEncoder
from dslnas.trainers.light_bank import distil_bank
from dslnas.trainers.light_init import slice_light_tail
from dslnas.trainers.pretrained import pretrained_checkpoint
from dslnas.trainers.codec_start import initial_codec, start_light_tail

DATA = DataConfig(kind=DatasetKind.DEMO, demo_clips=8, demo_clip_seconds=1.0, eval_fraction=0.25, seed=0)


@pytest.fixture(scope="module")
def base_state() -> dict[str, torch.Tensor]:
    return load_checkpoint(pretrained_checkpoint("speech16k")).model


@pytest.fixture(scope="module")
def audio() -> torch.Tensor:
    return torch.stack([c.audio[:8000] for c in generate_demo_clips(4, 0.5, 16_000, seed=3)]).unsqueeze(1)


def test_every_prefix_of_an_ordered_slice_is_the_sliced_light_tail_of_its_widths(base_state: dict, audio: torch.Tensor) -> None:
    """Slicing with the most used channels first, then taking a prefix, gives the same function as slicing
    straight to the narrower widths (the channels differ only in order): narrower tails are prefixes."""
    for depth, widths in ((1, (8, 4, 12)), (2, (12, 8)), (2, (4, 16)), (3, (8,))):
        candidate = demo_candidate().with_dsl(switch_depth=depth, light_widths=widths)
        direct = insert_dsl(candidate, base_state).eval()
        slice_light_tail(direct.encoder)
        elastic_encoder = insert_dsl(candidate, base_state).eval().encoder
        arch = candidate.encoder
        elastic_encoder.light_tail = _tail_with_entry(arch, depth, (16,) * len(widths))
        slice_light_tail(elastic_encoder, ordered=True)
        prefixed = insert_dsl(candidate, base_state).eval()
        state = prefix_state(elastic_encoder.light_tail.state_dict(), prefixed.encoder.light_tail)
        prefixed.encoder.light_tail.load_state_dict(state)
        with torch.no_grad():
            features = direct.encoder.base(audio)
            want, got = direct.encoder.light_tail(features), prefixed.encoder.light_tail(features)
        assert torch.allclose(got, want, atol=1e-5), (depth, widths)


def test_a_prefix_that_does_not_fit_is_an_error() -> None:
    arch = demo_candidate().encoder
    small, big = _tail_with_entry(arch, 2, (16, 16)), _tail_with_entry(arch, 2, (8, 8))
    with pytest.raises(ValueError, match="not a prefix"):
        prefix_state(big.state_dict(), small)


@pytest.fixture(scope="module")
def tiny_bank(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LightBank, dict[str, float]]:
    """A random base codec saved as a checkpoint, its bank distilled a few dozen steps on demo audio; and the
    narrowest prefix's L1 to the full tail at the first and last step."""
    folder = tmp_path_factory.mktemp("bank")
    candidate = demo_candidate()
    torch.manual_seed(0)
    codec = build_codec(candidate)
    base = folder / "base.pt"
    save_checkpoint(Checkpoint(RunConfig(candidate=candidate, train=TrainConfig(data=DATA)), codec.state_dict(), 0), base)
    losses: dict[int, float] = {}
    bank = distil_bank(base, candidate, (2,), (4, 8), DATA, steps=40, batch_size=4, learning_rate=1e-2,
                       on_step=lambda done, total, loss: losses.setdefault(done, loss))
    save_bank(bank, bank_path(base))
    return base, bank, {"first": losses[1], "last": sum(losses[k] for k in range(31, 41)) / 10}


def test_distillation_brings_the_prefixes_closer_to_the_full_tail(tiny_bank: tuple) -> None:
    _, bank, losses = tiny_bank
    assert bank.widths == {2: (8, 8)}
    assert losses["last"] < 0.8 * losses["first"]


def test_the_bank_round_trips_and_a_bad_file_is_a_user_error(tiny_bank: tuple, tmp_path: Path) -> None:
    base, bank, _ = tiny_bank
    again = load_bank(bank_path(base))
    assert again.encoder_sha256 == encoder_sha256(base) == bank.encoder_sha256
    assert all(torch.equal(again.tails[2][k], v) for k, v in bank.tails[2].items())
    junk = tmp_path / "junk.light.pt"
    junk.write_bytes(b"not a bank")
    with pytest.raises(UserError, match="junk.light.pt"):
        load_bank(junk)


def run_for(base: Path, depth: int, widths: tuple[int, ...], light_init: str = "elastic") -> RunConfig:
    candidate = demo_candidate().with_dsl(switch_depth=depth, light_widths=widths)
    return RunConfig(candidate=candidate, train=TrainConfig(init_checkpoint=str(base), data=DATA, light_init=light_init))


def test_a_covered_trial_starts_from_the_banks_prefix_and_others_start_sliced(tiny_bank: tuple) -> None:
    base, bank, _ = tiny_bank
    codec = initial_codec(run_for(base, 2, (4, 8)))
    for name, param in codec.encoder.light_tail.named_parameters():
        assert torch.equal(param, bank.tails[2][name][tuple(slice(0, n) for n in param.shape)]), name
    assert start_light_tail(initial_codec(run_for(base, 2, (4, 8))), run_for(base, 2, (4, 8))) == "elastic"
    for depth, widths in ((3, (8,)), (2, (12, 8))):  # depth not in the bank; wider than the bank
        run = run_for(base, depth, widths)
        assert start_light_tail(initial_codec(run), run) == "sliced"
    run = run_for(base, 2, (4, 8), light_init="sliced")
    assert start_light_tail(initial_codec(run), run) == "sliced"


def test_a_bank_made_for_another_base_is_ignored_with_a_warning(tiny_bank: tuple, tmp_path: Path) -> None:
    base, _, _ = tiny_bank
    other = tmp_path / "base.pt"
    state = load_checkpoint(base)
    save_checkpoint(Checkpoint(state.run, {k: v + 0.01 for k, v in state.model.items()}, 0), other)
    bank_path(other).write_bytes(bank_path(base).read_bytes())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert bank_for(other, run_for(other, 2, (4, 8)).candidate) is None
    assert any("another base" in str(w.message) for w in caught)


def test_a_base_retrained_in_its_decoder_alone_keeps_its_bank_and_an_old_format_bank_is_ignored(
        tiny_bank: tuple, tmp_path: Path) -> None:
    base, _, _ = tiny_bank
    state = load_checkpoint(base)
    other = tmp_path / "decoder-only" / "base.pt"
    other.parent.mkdir()
    save_checkpoint(Checkpoint(state.run, {k: v + 0.01 if k.startswith("decoder.") else v
                                           for k, v in state.model.items()}, 7), other)
    assert any(k.startswith("decoder.") for k in state.model) and other.read_bytes() != base.read_bytes()
    bank_path(other).write_bytes(bank_path(base).read_bytes())
    assert bank_for(other, run_for(other, 2, (4, 8)).candidate) is not None
    old = torch.load(bank_path(base), weights_only=True)
    old.pop("encoder_sha256")
    torch.save({**old, "format": 1, "base_sha256": "0" * 64}, bank_path(other))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert bank_for(other, run_for(other, 2, (4, 8)).candidate) is None
    assert any("format 1" in str(w.message) for w in caught)
    torch.save({**old, "format": 2}, bank_path(other))  # the current format must carry its key
    with pytest.raises(UserError, match="without its base's encoder_sha256"):
        load_bank(bank_path(other))


def test_a_light_tail_at_the_bases_width_has_no_prefix_to_take(tiny_bank: tuple) -> None:
    _, bank, _ = tiny_bank
    at_base_width = demo_candidate().with_dsl(switch_depth=2, light_widths=(24, 8))
    assert not bank.covers(at_base_width)
    assert type(DSLEncoder(at_base_width).light_tail[0]) is not torch.nn.Conv1d  # no entry conv
    assert bank.covers(demo_candidate().with_dsl(switch_depth=2, light_widths=(8, 8)))


def test_the_shipped_base_has_a_bank_made_from_it_for_every_depth_of_the_demo_space() -> None:
    from dslnas.spaces.space_presets import demo_space

    space, base = demo_space(), pretrained_checkpoint("speech16k")
    bank = load_bank(bank_path(base))
    assert bank.encoder_sha256 == encoder_sha256(base), "re-run `dslnas light-bank` after changing the base's encoder"
    assert set(bank.widths) == set(space.switch_depths)
    assert bank.width_choices == tuple(sorted(space.light_width_choices))
    assert bank_path(base).stat().st_size < 1024 * 1024


def test_the_shipped_bank_starts_light_tails_closer_to_the_full_tail_than_slicing(audio: torch.Tensor) -> None:
    """On audio the bank never saw (the formant demo clips), every covered demo width starts nearer the full
    tail from the bank's prefix than from the full tail's sliced channels."""
    base = pretrained_checkpoint("speech16k")
    for depth, widths in ((1, (8, 8, 8)), (2, (12, 8)), (2, (8, 4)), (3, (8,))):
        gaps = {}
        for how in ("elastic", "sliced"):
            run = run_for(base, depth, widths, light_init=how)
            codec = initial_codec(run).eval()
            with torch.no_grad():
                out = codec.encoder(audio)
            gaps[how] = ((out.full - out.light).abs().mean() / out.full.abs().mean()).item()
        assert gaps["elastic"] < 0.8 * gaps["sliced"], (depth, widths, gaps)


TINY_SPACE = Path(__file__).parent / "data" / "tiny-space.yaml"


def test_the_light_bank_command_writes_a_bank_beside_the_base_that_trials_then_use(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from dslnas.search.cli import cli
    from dslnas.spaces.space_presets import load_space

    space = load_space(str(TINY_SPACE))
    torch.manual_seed(0)
    base = tmp_path / "tiny.pt"
    save_checkpoint(Checkpoint(RunConfig(candidate=space.base, train=space.finetune), build_codec(space.base).state_dict(), 0), base)
    result = CliRunner().invoke(cli, ["light-bank", "--space", str(TINY_SPACE), "--base", str(base), "--steps", "3", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["bank"] == str(bank_path(base)) and payload["depths"] == [1, 2, 3] and payload["steps"] == 3
    bank = load_bank(bank_path(base))
    assert bank.widths == {1: (4, 4, 4), 2: (4, 4), 3: (4,)}
    run = RunConfig(candidate=space.base, train=space.finetune.model_copy(update={"init_checkpoint": str(base)}))
    assert start_light_tail(initial_codec(run), run) == "elastic"
    missing = CliRunner().invoke(cli, ["light-bank", "--space", str(TINY_SPACE), "--base", str(tmp_path / "nope.pt")])
    assert missing.exit_code != 0 and "nope.pt" in missing.output and "Traceback" not in missing.output


def test_a_run_records_how_its_light_tail_started_and_keeps_it_when_resumed(tiny_bank: tuple, tmp_path: Path) -> None:
    from dslnas.trainers.train import train

    base, _, _ = tiny_bank
    covered = run_for(base, 2, (4, 8))
    short = covered.model_copy(update={"train": covered.train.model_copy(update={"steps": 2, "batch_size": 2})})
    first = train(short, tmp_path / "run")
    assert first.light_start == "elastic" and load_checkpoint(first.checkpoint_path).light_start == "elastic"
    longer = short.model_copy(update={"train": short.train.model_copy(update={"steps": 3})})
    assert train(longer, tmp_path / "run").light_start == "elastic"  # resumed: read from the checkpoint
    sliced = run_for(base, 2, (12, 8))
    sliced = sliced.model_copy(update={"train": sliced.train.model_copy(update={"steps": 1, "batch_size": 2})})
    assert train(sliced, tmp_path / "other").light_start == "sliced"
