"""Training: codec loss + DSL loss, end to end, with checkpoints that resume.

Loss per step (paper eq. 5 on top of the codec loss)::

    mel_weight * L_mel + waveform_weight * L_wave + commitment_weight * L_commit
    + alpha * L_compression + beta * (L_switch + L_light)   [+ adversarial_weight * L_adv]

``train(run, out_dir)`` writes ``out_dir/checkpoint.pt`` every ``checkpoint_every`` steps and at the end;
calling it again with the same run continues from the last checkpoint.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from dslnas.spaces.candidate import DeviceKind, RunConfig
from dslnas.spaces.errors import UserError
from dslnas.trainers.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from dslnas.trainers.codec import DSLCodec, build_codec, insert_dsl
from dslnas.trainers.data import load_dataset, random_crops, train_eval_split
from dslnas.trainers.discriminator import STFTDiscriminator, discriminator_loss, generator_adversarial_loss
from dslnas.trainers.dsl import dsl_loss_terms
from dslnas.trainers.losses import MultiScaleMelLoss, waveform_loss

CHECKPOINT_NAME = "checkpoint.pt"
StepCallback = Callable[[int, int, dict[str, float]], None]


@dataclass(frozen=True)
class TrainResult:
    checkpoint_path: Path
    steps: int
    first_loss: float
    final_loss: float
    seconds: float
    loss_history: tuple[float, ...]


def resolve_device(kind: DeviceKind) -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without one is a UserError."""
    if kind is DeviceKind.CUDA and not torch.cuda.is_available():
        raise UserError("train.device is 'cuda' but no CUDA device is available")
    if kind is DeviceKind.CPU or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda")


def crop_samples(run: RunConfig) -> int:
    """Training crop length: ``crop_seconds`` rounded up to whole routing segments."""
    seg = run.candidate.segment_samples
    wanted = run.train.crop_seconds * run.candidate.encoder.sample_rate_hz
    return max(1, math.ceil(wanted / seg)) * seg


def initial_codec(run: RunConfig) -> DSLCodec:
    """A fresh codec, or ``train.init_checkpoint``'s codec with this run's DSL inserted."""
    if run.train.init_checkpoint is None:
        return build_codec(run.candidate)
    trained = load_checkpoint(run.train.init_checkpoint)
    try:
        return insert_dsl(run.candidate, trained.model)
    except ValueError as err:
        raise UserError(f"train.init_checkpoint {run.train.init_checkpoint}: {err}") from err


class Trainer:
    """One training run; ``step()`` does one optimisation step and returns its loss terms."""

    def __init__(self, run: RunConfig, codec: DSLCodec, device: torch.device) -> None:
        self.run, self.device = run, device
        self.codec = codec.to(device)
        self.mel_loss = MultiScaleMelLoss(run.candidate.encoder.sample_rate_hz).to(device)
        self.optimizer = torch.optim.Adam(codec.parameters(), lr=run.train.learning_rate, betas=(0.5, 0.9))
        self.disc = STFTDiscriminator().to(device) if run.train.use_discriminator else None
        self.disc_opt = torch.optim.Adam(self.disc.parameters(), lr=run.train.learning_rate) if self.disc else None

    def step(self, batch: torch.Tensor) -> dict[str, float]:
        cfg, dsl = self.run.train, self.run.candidate.dsl
        out = self.codec(batch)
        enc = out.encoded
        terms = dsl_loss_terms(enc.masked, enc.full, enc.light, enc.predicted, dsl.segment_frames)
        losses = {
            "mel": self.mel_loss(out.audio, batch),
            "waveform": waveform_loss(out.audio, batch),
            "commitment": out.commitment,
            **terms,
        }
        total = (
            cfg.mel_weight * losses["mel"]
            + cfg.waveform_weight * losses["waveform"]
            + cfg.commitment_weight * losses["commitment"]
            + dsl.alpha * losses["compression"]
            + dsl.beta * (losses["switch"] + losses["light"])
        )
        if self.disc is not None:
            losses["adversarial"] = generator_adversarial_loss(self.disc(out.audio))
            total = total + cfg.adversarial_weight * losses["adversarial"]
        if not torch.isfinite(total):
            raise FloatingPointError(f"training loss became {total.item()} ({ {k: v.item() for k, v in losses.items()} })")
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(self.codec.parameters(), 5.0)
        self.optimizer.step()
        if self.disc is not None:
            self._discriminator_step(batch, out.audio.detach())
        return {"total": total.item(), **{k: v.item() for k, v in losses.items()}}

    def _discriminator_step(self, real: torch.Tensor, fake: torch.Tensor) -> None:
        loss = discriminator_loss(self.disc(real), self.disc(fake))
        self.disc_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.disc_opt.step()


def train(
    run: RunConfig,
    out_dir: str | Path,
    on_step: StepCallback | None = None,
) -> TrainResult:
    """Train ``run`` into ``out_dir`` (resuming from its checkpoint when one exists)."""
    started = time.perf_counter()
    out_dir = Path(out_dir)
    ckpt_path = out_dir / CHECKPOINT_NAME
    cfg = run.train
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    sample_rate = run.candidate.encoder.sample_rate_hz
    length = crop_samples(run)
    clips = load_dataset(cfg.data, sample_rate, min_samples=length)
    train_clips, _ = train_eval_split(clips, cfg.data.eval_fraction, cfg.data.seed)

    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)  # the batch stream
    resumed = _resume(run, ckpt_path)
    codec = build_codec(run.candidate) if resumed else initial_codec(run)
    trainer = Trainer(run, codec, device)
    history: list[float] = []
    start_step = 0
    if resumed:
        codec.load_state_dict(resumed.model)
        if resumed.optimizer:
            trainer.optimizer.load_state_dict(resumed.optimizer)
        history, start_step = list(resumed.loss_history), resumed.step
        if resumed.rng_states:
            torch.set_rng_state(resumed.rng_states["torch"])
            generator.set_state(resumed.rng_states["data"])
    for step in range(start_step, cfg.steps):
        batch = random_crops(train_clips, cfg.batch_size, length, generator).to(device)
        losses = trainer.step(batch)
        history.append(losses["total"])
        if on_step is not None:
            on_step(step + 1, cfg.steps, losses)
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
            _save(run, trainer, step + 1, history, ckpt_path, generator)
    first = history[0] if history else float("nan")
    return TrainResult(ckpt_path, cfg.steps, first, history[-1] if history else first, time.perf_counter() - started, tuple(history))


def _resume(run: RunConfig, ckpt_path: Path) -> Checkpoint | None:
    if not ckpt_path.exists():
        return None
    ckpt = load_checkpoint(ckpt_path)
    if ckpt.run.candidate != run.candidate:
        raise UserError(f"{ckpt_path}: holds a different candidate; use another --out or delete it")
    return ckpt


def _save(run: RunConfig, trainer: Trainer, step: int, history: list[float], path: Path, generator: torch.Generator) -> None:
    state = {k: v.detach().cpu() for k, v in trainer.codec.state_dict().items()}
    rng = {"torch": torch.get_rng_state(), "data": generator.get_state()}
    save_checkpoint(Checkpoint(run, state, step, trainer.optimizer.state_dict(), history, rng), path)
