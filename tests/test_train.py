"""Training on demo audio: the loss falls, checkpoints resume, evaluation and the CLI around them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from dslnas.search.cli import cli as app
from dslnas.spaces.candidate import CandidateConfig, DSLConfig, EncoderArch, QuantizerConfig
from dslnas.spaces.run_config import DataConfig, RunConfig, TrainConfig
from dslnas.spaces.errors import UserError
from dslnas.spaces.yaml_io import dump_model
from dslnas.trainers.checkpoint import load_checkpoint, save_checkpoint
from dslnas.trainers.codec import build_codec
from dslnas.trainers.data import generate_demo_clips
from dslnas.trainers.evaluate import evaluate_codec
from dslnas.trainers.losses import MultiScaleMelLoss, waveform_loss
from dslnas.trainers.train import train

SMALL = CandidateConfig(
    name="small",
    encoder=EncoderArch(stem_channels=4, block_channels=(8, 12), block_strides=(2, 4), residual_dilations=(1,), embedding_dim=8),
    dsl=DSLConfig(switch_depth=1, light_widths=(4, 4), segment_frames=10, threshold=0.5),
    quantizer=QuantizerConfig(num_quantizers=2, codebook_size=16, kmeans_iters=2),
)


def small_run(steps: int, **train: object) -> RunConfig:
    data = DataConfig(demo_clips=6, demo_clip_seconds=1.0, eval_fraction=0.34)
    return RunConfig(candidate=SMALL, train=TrainConfig(steps=steps, batch_size=4, crop_seconds=0.25, data=data,
                                                        checkpoint_every=10, **train))


REAL_HELDOUT_DIR = "bench/data/real"  # real recordings kept for the held-out check only (bench/real_heldout.py)


@pytest.fixture
def one_thread() -> Iterator[None]:
    """torch on one intra-op thread for the test, then as it was: a sum's order, and so a short run's outcome,
    depends on the thread count."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_short_training_on_demo_audio_lowers_the_held_out_loss(tmp_path: Path, one_thread: None) -> None:
    """A small codec from scratch, 30 steps on demo audio: the loss it trains on (linear multi-scale mel +
    waveform), measured on held-out clips, falls well below its value after the first step (by then the
    quantizer's codebooks are k-means initialised, so both are measured the same way). The log-mel term is off
    in this recipe: from scratch, its gradient vanishes under the floor while the waveform term shrinks the
    output, so the old 60-step log-mel recipe rose or fell with the thread count and library version. lr 1e-3
    and Adam (0.9, 0.99), as for reconstruction-only training; one thread (``train.threads``, restored after)."""
    clips = generate_demo_clips(4, 1.0, 16_000, seed=11)  # held out: training uses seed 0
    batch = torch.stack([c.audio[:8000] for c in clips]).unsqueeze(1)
    data = DataConfig(demo_clips=8, demo_clip_seconds=1.0)
    mel = MultiScaleMelLoss(16_000, log_weight=0.0)
    losses = []
    for steps in (1, 30):  # the second call resumes the first
        train_cfg = TrainConfig(steps=steps, batch_size=8, crop_seconds=0.5, data=data, learning_rate=1e-3,
                                adam_betas=(0.9, 0.99), mel_log_weight=0.0, threads=1)
        result = train(RunConfig(candidate=SMALL, train=train_cfg), tmp_path)
        codec = build_codec(SMALL)
        codec.load_state_dict(load_checkpoint(result.checkpoint_path).model)
        codec.eval()
        with torch.no_grad():
            audio = codec(batch).audio
        losses.append((mel(audio, batch) + waveform_loss(audio, batch)).item())
    assert losses[1] < 0.85 * losses[0], losses
    assert len(result.loss_history) == 30


def test_no_run_config_names_the_real_held_out_recordings() -> None:
    """The real recordings are a held-out check only: no config in configs/ may train or tune on them."""
    configs = sorted((Path(__file__).parents[1] / "configs").glob("*.y*ml"))
    assert configs
    naming = [c.name for c in configs if REAL_HELDOUT_DIR in c.read_text() or "data/real" in c.read_text()]
    assert naming == []


def test_training_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    first = train(small_run(10), tmp_path)
    assert load_checkpoint(first.checkpoint_path).step == 10
    resumed = train(small_run(20), tmp_path)
    straight = train(small_run(20), tmp_path / "straight")
    assert resumed.loss_history[:10] == first.loss_history
    assert len(resumed.loss_history) == 20
    assert resumed.loss_history == pytest.approx(straight.loss_history, rel=1e-4)


def test_checkpoint_of_another_candidate_is_not_resumed(tmp_path: Path) -> None:
    train(small_run(2), tmp_path)
    other = small_run(2).model_copy(update={"candidate": SMALL.with_dsl(light_widths=(2, 2))})
    with pytest.raises(UserError, match="holds a different candidate"):
        train(other, tmp_path)


def test_dsl_inserted_into_a_trained_codec_fine_tunes(tmp_path: Path) -> None:
    base = train(small_run(10), tmp_path / "base")
    moved = SMALL.with_dsl(switch_depth=2, light_widths=(4,))
    run = RunConfig(candidate=moved, train=small_run(5).train.model_copy(update={"init_checkpoint": str(base.checkpoint_path)}))
    result = train(run, tmp_path / "ft")
    state = load_checkpoint(result.checkpoint_path).model
    assert state["encoder.light_tail.0.weight"].shape[0] == 4  # the new DSL's entry conv exists and was trained


def test_evaluation_reports_every_path_per_class_and_the_sweep(tmp_path: Path) -> None:
    result = train(small_run(5), tmp_path)
    codec = build_codec(SMALL)
    codec.load_state_dict(load_checkpoint(result.checkpoint_path).model)
    clips = generate_demo_clips(2, 1.0, 16_000, seed=3)
    evaluation = evaluate_codec(codec, clips, threshold=0.5, sweep_thresholds=(0.0, 100.0))
    assert {c.label for c in evaluation.clips} == {"speech", "silence"}
    assert set(evaluation.per_class) == {"speech", "silence"}
    for clip in evaluation.clips:
        assert 1.0 <= clip.visqol_full <= 5.0 and 1.0 <= clip.visqol_light <= 5.0
        assert 0.0 <= clip.light_usage <= 1.0 and 0.0 <= clip.sparsity <= 1.0
    none, all_light = evaluation.sweep
    assert none.light_usage == 0.0 and all_light.light_usage == 1.0
    assert none.visqol_mixed == pytest.approx(evaluation.overall.visqol_full)
    assert all_light.visqol_mixed == pytest.approx(evaluation.overall.visqol_light)
    json.dumps(evaluation.to_json())


def test_train_and_evaluate_cli(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    dump_model(small_run(3), config)
    runner = CliRunner()
    trained = runner.invoke(app, ["train", "--config", str(config), "--out", str(tmp_path / "out"), "--json"])
    assert trained.exit_code == 0, trained.output
    payload = json.loads(trained.stdout)
    assert payload["steps"] == 3 and Path(payload["checkpoint"]).exists()
    evaluated = runner.invoke(app, ["evaluate", "--checkpoint", payload["checkpoint"], "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads(evaluated.stdout)
    assert report["clips"] >= 2 and "speech" in report["visqol_per_class"]
    assert report["execution"] == "streaming" and report["state_policy"] == "warm"
    assert set(report["paths"]) == {"full", "light", "mixed"} and report["paths"]["light"]["latency_ms"] < report["paths"]["full"]["latency_ms"]
    sweep = report["sweep"]
    assert len(sweep) >= 11 and sweep[0]["light_usage"] == 0.0 and sweep[-1]["light_usage"] == 1.0
    assert all(p["latency_ms"] >= q["latency_ms"] - 1e-9 or p["transitions_per_s"] != q["transitions_per_s"]
               for p, q in zip(sweep, sweep[1:]))  # more light usage is cheaper unless switch-backs cost more
    assert {"saving_fraction", "sweep"} <= set(report["oracle"]) and "switch_spearman" in report and "transitions_per_s" in report
    equal = report["at_equal_quality"]  # the all-full sweep point always qualifies
    assert equal["visqol_mixed"] >= report["paths"]["full"]["visqol"] - equal["tolerance"] - 1e-9
    assert equal["light_usage"] == max(p["light_usage"] for p in sweep
                                       if p["visqol_mixed"] >= report["paths"]["full"]["visqol"] - equal["tolerance"])


def test_bad_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="junk.pt: not a readable checkpoint"):
        load_checkpoint(junk)
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(UserError, match="not a dslnas checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(UserError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_optional_stft_discriminator_adds_an_adversarial_term(tmp_path: Path) -> None:
    from dslnas.trainers.codec import build_codec as build
    from dslnas.trainers.train import Trainer

    run = small_run(1, use_discriminator=True)
    trainer = Trainer(run, build(SMALL), torch.device("cpu"))
    disc_before = [p.detach().clone() for p in trainer.disc.parameters()]
    losses = trainer.step(torch.randn(2, 1, SMALL.segment_samples * 50) * 0.1)  # longer than the STFT window
    assert losses["adversarial"] > 0
    assert any(not torch.equal(a, b) for a, b in zip(disc_before, trainer.disc.parameters()))


def test_evaluate_cli_reads_a_folder_given_with_data(tmp_path: Path) -> None:
    from dslnas.trainers.data import save_audio

    result = train(small_run(2), tmp_path / "run")
    folder = tmp_path / "audio"
    for clip in generate_demo_clips(2, 1.0, 16_000, seed=4):
        save_audio(folder / f"{clip.clip_id}.wav", clip.audio, 16_000)
    out = CliRunner().invoke(app, ["evaluate", "--checkpoint", str(result.checkpoint_path), "--data", str(folder),
                                   "--no-oracle", "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert report["clips"] == 2 and list(report["visqol_per_class"]) == ["unknown"] and report["oracle"]["sweep"] == []
    missing = CliRunner().invoke(app, ["evaluate", "--checkpoint", str(result.checkpoint_path), "--data", str(tmp_path / "nope")])
    assert missing.exit_code != 0


def test_resuming_optimizer_state_of_other_parameter_groups_is_a_clear_error(tmp_path: Path) -> None:
    """A checkpoint whose optimizer had other parameter groups (an older version) is refused in one line."""
    result = train(small_run(2), tmp_path)
    ckpt = load_checkpoint(result.checkpoint_path)
    state = ckpt.optimizer
    state["param_groups"] = state["param_groups"][:1]  # one group fewer, as before the switch had its own
    save_checkpoint(replace(ckpt, optimizer=state), result.checkpoint_path)
    bigger = small_run(4)
    with pytest.raises(UserError, match="optimizer state does not fit"):
        train(bigger, tmp_path)


def test_log_stft_loss_grows_with_a_tone_and_ignores_the_level() -> None:
    from dslnas.trainers.losses import LogSTFTLoss

    torch.manual_seed(0)
    clean = 0.1 * torch.randn(1, 1, 16000)
    sine = torch.sin(2 * torch.pi * 2000 * torch.arange(16000) / 16000).view(1, 1, -1)
    loss = LogSTFTLoss()
    assert loss(clean, clean).item() == pytest.approx(0.0, abs=1e-6)
    weak, strong = loss(clean + 0.003 * sine, clean).item(), loss(clean + 0.03 * sine, clean).item()
    assert 0 < weak < strong
    assert loss(10 * (clean + 0.03 * sine), 10 * clean).item() == pytest.approx(strong, rel=1e-4)
