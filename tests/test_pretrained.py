"""The shipped pretrained base: it loads, it is small, and DSL-only training leaves it untouched."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from dslnas.spaces.candidate import DecoderUpsample
from dslnas.spaces.run_config import DataConfig, RunConfig, Trainable, TrainConfig
from dslnas.spaces.errors import UserError
from dslnas.spaces.presets import demo_candidate
from dslnas.trainers.checkpoint import load_checkpoint
from dslnas.trainers.codec import DSL_PREFIXES, insert_dsl
from dslnas.trainers.pretrained import MAX_BYTES, PRETRAINED, export_pretrained, pretrained_checkpoint
from dslnas.trainers.codec_start import decoder_fits, initial_codec
from dslnas.trainers.train import train
from dslnas.trainers.trainable import full_tail_prefixes

LIGHT_TAIL = "encoder.light_tail."


def test_every_shipped_base_exists_and_is_at_most_5_mb() -> None:
    for name in PRETRAINED:
        path = pretrained_checkpoint(name)
        assert path.is_file(), name
        assert path.stat().st_size <= MAX_BYTES == 5 * 1024 * 1024


def test_shipped_file_holds_tensors_only_and_no_optimizer_state() -> None:
    payload = torch.load(pretrained_checkpoint("speech16k"), map_location="cpu", weights_only=True)
    assert not payload["optimizer"]
    assert not any(k.startswith(DSL_PREFIXES) for k in payload["model"])


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_speech16k_loads_into_the_demo_candidate_at_every_switch_depth(depth: int) -> None:
    base = load_checkpoint(pretrained_checkpoint("speech16k"))
    candidate = demo_candidate().with_dsl(switch_depth=depth, light_widths=(8,) * (4 - depth))
    codec = insert_dsl(candidate, base.model)
    state = codec.state_dict()
    for key, value in base.model.items():
        assert torch.equal(state[key], value), key


def test_unknown_pretrained_name_is_a_user_error_listing_the_valid_ones() -> None:
    with pytest.raises(UserError, match="speech16k"):
        pretrained_checkpoint("nope")


def _finetune(tmp_path: Path, trainable: Trainable) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Fine-tune the demo candidate from ``pretrained:speech16k`` for a few steps; (before, after) state dicts."""
    candidate = demo_candidate()
    data = DataConfig(demo_clips=4, demo_clip_seconds=1.0)
    cfg = TrainConfig(steps=4, batch_size=2, crop_seconds=0.25, data=data, init_checkpoint="pretrained:speech16k",
                      trainable=trainable, learning_rate=1e-2)
    torch.manual_seed(cfg.seed)  # as train() does before it inserts the DSL: the same fresh DSL weights
    before = insert_dsl(candidate, load_checkpoint(pretrained_checkpoint("speech16k")).model).state_dict()
    result = train(RunConfig(candidate=candidate, train=cfg), tmp_path)
    return before, load_checkpoint(result.checkpoint_path).model


def test_dsl_training_leaves_base_tail_quantizer_and_decoder_bit_identical(tmp_path: Path) -> None:
    before, after = _finetune(tmp_path, Trainable.DSL)
    frozen = [k for k in after if not k.startswith(DSL_PREFIXES)]
    assert any(k.startswith("quantizer.") for k in frozen) and any(k.startswith("decoder.") for k in frozen)
    changed = [k for k in frozen if not torch.equal(after[k], before[k])]
    assert not changed, changed
    light = [k for k in after if k.startswith(LIGHT_TAIL)]
    assert light and any(not torch.equal(after[k], before[k]) for k in light)


def test_dsl_plus_tail_also_trains_the_full_tail_only(tmp_path: Path) -> None:
    before, after = _finetune(tmp_path, Trainable.DSL_TAIL)
    codec = insert_dsl(demo_candidate(), before)
    tail = full_tail_prefixes(codec)
    assert any(not torch.equal(after[k], before[k]) for k in after if k.startswith(tail))
    rest = [k for k in after if not k.startswith((*DSL_PREFIXES, *tail))]
    assert all(torch.equal(after[k], before[k]) for k in rest)


def test_decoder_training_trains_a_new_decoder_and_nothing_else(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    base = load_checkpoint(pretrained_checkpoint("speech16k"))
    shipped = base.run.candidate
    other = DecoderUpsample.TRANSPOSED if shipped.decoder_upsample is DecoderUpsample.REPEAT else DecoderUpsample.REPEAT
    wider = shipped.model_copy(update={"decoder_channel_mult": shipped.decoder_channel_mult + 1, "decoder_upsample": other})
    assert decoder_fits(shipped, base.model) and not decoder_fits(wider, base.model)
    cfg = TrainConfig(steps=3, batch_size=2, crop_seconds=0.25, data=DataConfig(demo_clips=4, demo_clip_seconds=1.0),
                      init_checkpoint="pretrained:speech16k", trainable=Trainable.DECODER, learning_rate=1e-2)
    after = load_checkpoint(train(RunConfig(candidate=wider, train=cfg), tmp_path).checkpoint_path).model
    assert "decoder starts from scratch" in capsys.readouterr().out
    kept = [k for k in base.model if not k.startswith("decoder.")]
    assert kept and all(torch.equal(after[k], base.model[k]) for k in kept)  # encoder and quantizer untouched
    assert sum(v.numel() for k, v in after.items() if k.startswith("decoder.")) > sum(
        v.numel() for k, v in base.model.items() if k.startswith("decoder."))
    one_step = cfg.model_copy(update={"steps": 1})  # same seed, same fresh decoder: only the 2 later steps differ
    early = load_checkpoint(train(RunConfig(candidate=wider, train=one_step), tmp_path / "one").checkpoint_path).model
    assert any(not torch.equal(after[k], early[k]) for k in after if k.startswith("decoder."))  # the decoder trained
    assert all(torch.equal(after[k], early[k]) for k in kept)


def test_decoder_training_continues_a_decoder_that_fits(tmp_path: Path) -> None:
    base = load_checkpoint(pretrained_checkpoint("speech16k"))
    cfg = TrainConfig(steps=2, batch_size=2, crop_seconds=0.25, data=DataConfig(demo_clips=4, demo_clip_seconds=1.0),
                      init_checkpoint="pretrained:speech16k", trainable=Trainable.DECODER, learning_rate=1e-5)
    after = load_checkpoint(train(RunConfig(candidate=base.run.candidate, train=cfg), tmp_path).checkpoint_path).model
    decoder = [k for k in base.model if k.startswith("decoder.") and k.endswith("weight")]
    drift = max((after[k] - base.model[k]).abs().max().item() for k in decoder)
    assert 0 < drift < 1e-3  # trained, from the shipped weights (a fresh start would differ by far more)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_an_exported_base_keeps_the_full_path_its_trained_mask_gave(depth: int, tmp_path: Path) -> None:
    """Exporting drops the DSL; the mask's scale goes into the conv before the cut, so the base with a fresh
    DSL computes the trained codec's full path (the threshold, 0 in both, cannot be folded). Continuing to
    train from the checkpoint starts from the same function."""
    from dslnas.trainers.checkpoint import Checkpoint, save_checkpoint
    from dslnas.trainers.codec import build_codec

    torch.manual_seed(depth)
    candidate = demo_candidate().with_dsl(switch_depth=depth, light_widths=(8,) * (4 - depth))
    trained = build_codec(candidate).eval()
    with torch.no_grad():
        trained.encoder.mask.scale.uniform_(-1.3, 1.3)  # far from the fresh mask's 1, signs too
    source = tmp_path / "trained.pt"
    save_checkpoint(Checkpoint(run=RunConfig(candidate=candidate, train=TrainConfig()), model=trained.state_dict(), step=7), source)
    exported = load_checkpoint(export_pretrained(source, tmp_path / "base.pt")).model
    audio = torch.randn(1, 1, 4 * candidate.segment_samples) * 0.3
    with torch.no_grad():
        want = trained.encoder(audio).full
        got = insert_dsl(candidate, exported).eval().encoder(audio).full
        dropped = insert_dsl(candidate, trained.state_dict()).eval().encoder(audio).full
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    assert (dropped - want).abs().max() > 100 * (got - want).abs().max()  # dropping the mask unfolded changes it
    continued = RunConfig(candidate=candidate, train=TrainConfig(init_checkpoint=str(source)))
    with torch.no_grad():
        torch.testing.assert_close(initial_codec(continued).eval().encoder(audio).full, want, rtol=1e-4, atol=1e-5)


def test_export_warns_when_it_drops_a_trained_threshold(tmp_path: Path) -> None:
    from dslnas.trainers.checkpoint import Checkpoint, save_checkpoint
    from dslnas.trainers.codec import build_codec

    candidate = demo_candidate()
    codec = build_codec(candidate)
    run = RunConfig(candidate=candidate, train=TrainConfig())
    save_checkpoint(Checkpoint(run=run, model=codec.state_dict(), step=1), tmp_path / "identity.pt")
    with torch.no_grad():
        codec.encoder.mask.threshold.fill_(0.02)
    save_checkpoint(Checkpoint(run=run, model=codec.state_dict(), step=1), tmp_path / "sparse.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        export_pretrained(tmp_path / "identity.pt", tmp_path / "a.pt")
    with pytest.warns(UserWarning, match="threshold .* is dropped"):
        export_pretrained(tmp_path / "sparse.pt", tmp_path / "b.pt")


@pytest.mark.parametrize(("alpha", "trained"), [(0.0, False), (1.0, True)])
def test_the_mask_threshold_trains_only_where_alpha_asks_for_zeros(alpha: float, trained: bool) -> None:
    from dslnas.trainers.codec import build_codec
    from dslnas.trainers.trainable import parameter_groups

    candidate = demo_candidate()
    codec = build_codec(candidate.model_copy(update={"dsl": candidate.dsl.model_copy(update={"alpha": alpha})}))
    for trainable in (Trainable.ALL, Trainable.DSL):
        chosen = {id(p) for params in parameter_groups(codec, trainable).values() for p in params}
        assert (id(codec.encoder.mask.threshold) in chosen) is trained
        assert id(codec.encoder.mask.scale) in chosen


def test_confirm_measures_a_shipped_base_full_path_beside_its_prediction(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from dslnas.hw_models.cost import ProfileCostModel
    from dslnas.hw_models.profile import load_profile
    from dslnas.search.cli import app
    from dslnas.search.config import DEFAULT_PROFILE
    from dslnas.search.point_source import resolve_point

    point = resolve_point("pretrained:speech16k")
    replay = tmp_path / "measured.csv"
    replay.write_text(f"artifact,latency_ms\n{point.candidate.name}-full:onnx,7.5\n")
    result = CliRunner().invoke(app, ["confirm", "--checkpoint", "pretrained:speech16k", "--runner", "replay", "--replay",
                                      str(replay), "--work-dir", str(tmp_path / "work"), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    (full,) = payload["confirmed"]  # a base's DSL is inert: its full path only
    predicted = ProfileCostModel(load_profile(DEFAULT_PROFILE)).predict(point.candidate, 0.0).latency_ms.full
    assert (full["path"], full["measured_latency_ms"], payload["stored"]) == ("full", 7.5, False)
    assert full["predicted_latency_ms"] == pytest.approx(predicted) and full["predicted_profile"] == DEFAULT_PROFILE
    assert full["error_pct"] == pytest.approx((7.5 - predicted) / predicted * 100)


@pytest.mark.parametrize(("args", "match"), [
    (["--checkpoint", "pretrained:speech16k", "--study", "demo"], "without --study"),
    (["--runner", "replay"], "--checkpoint"),
    (["--checkpoint", "pretrained:nosuch"], "nosuch"),
])
def test_confirm_checkpoint_misuse_is_a_one_line_error(tmp_path: Path, args: list[str], match: str) -> None:
    from typer.testing import CliRunner

    from dslnas.search.cli import app

    replay = tmp_path / "m.csv"
    replay.write_text("artifact,latency_ms\nx-full:onnx,1\n")
    result = CliRunner().invoke(app, ["confirm", "--replay", str(replay), "--runner", "replay", *args])
    assert result.exit_code == 2 and match in result.output and len(result.output.strip().splitlines()) == 1, result.output
