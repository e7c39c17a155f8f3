"""Training: codec loss + DSL loss, end to end, with checkpoints that resume.

Loss per step (paper eq. 5 on top of the codec loss)::

    mel_weight * L_mel + waveform_weight * L_wave + commitment_weight * L_commit
    + alpha * L_compression + beta * (L_switch + L_light)   [+ adversarial_weight * L_adv]

``train.trainable`` (with an ``init_checkpoint``) picks what trains: ``dsl`` freezes the base network, full
tail, quantizer and decoder (``requires_grad`` off, left out of the optimizer, quantizer and decoder in eval
mode) and, as the decoded output is then a fixed function of the full embedding, replaces the codec loss by
``mel_weight * L_embedding`` (relative L1 of the masked full embedding to the pretrained one; no decoder
pass, which makes a DSL trial several times cheaper); ``dsl+tail`` also trains the full tail on the codec
loss; ``all`` trains everything (always so for base training, without an ``init_checkpoint``); ``decoder``
trains only the decoder on the codec loss of the frozen encoder's quantized full path (no DSL terms), from
the checkpoint's decoder when it fits the candidate's, else from scratch (a wider or tone-free decoder for a
trained encoder: it runs off the device, so the cost model does not change).

``train(run, out_dir)`` writes ``out_dir/checkpoint.pt`` every ``checkpoint_every`` steps and at the end;
calling it again with the same run continues from the last checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn import functional as F

from dslnas.spaces.errors import UserError
from dslnas.spaces.run_config import DeviceKind, LightInit, RunConfig, Trainable
from dslnas.trainers.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from dslnas.trainers.codec import DSLCodec, build_codec
from dslnas.trainers.codec_start import crop_samples, initial_codec_and_start
from dslnas.trainers.data import load_dataset, random_crops, train_eval_split
from dslnas.trainers.discriminator import STFTDiscriminator, discriminator_loss, generator_adversarial_loss
from dslnas.trainers.dsl import dsl_loss_terms
from dslnas.trainers.encoder import EncoderOutput
from dslnas.trainers.losses import LogSTFTLoss, MultiScaleMelLoss, waveform_loss
from dslnas.trainers.trainable import freeze_for, learning_rate_at, lr_multiplier, set_train_mode

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
    light_start: LightInit | None = None  # how the light tail started; None: a fresh codec (no init_checkpoint)


def resolve_device(kind: DeviceKind) -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without one is a UserError."""
    if kind is DeviceKind.CUDA and not torch.cuda.is_available():
        raise UserError("train.device is 'cuda' but no CUDA device is available")
    if kind is DeviceKind.CPU or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda")


class Trainer:
    """One training run; ``step()`` does one optimisation step and returns its loss terms."""

    def __init__(self, run: RunConfig, codec: DSLCodec, device: torch.device) -> None:
        self.run, self.device = run, device
        cfg = run.train
        self.trainable = cfg.effective_trainable
        self.codec = codec.to(device)
        self.mel_loss = MultiScaleMelLoss(
            run.candidate.encoder.sample_rate_hz, cfg.mel_fft_sizes, cfg.mel_bins, cfg.mel_floor_db, cfg.mel_log_weight
        ).to(device)
        groups = freeze_for(codec, self.trainable)
        self.params = [p for group in groups for p in group["params"]]
        self.optimizer = torch.optim.Adam(groups, lr=cfg.learning_rate, betas=cfg.adam_betas)
        set_train_mode(codec, self.trainable)
        self.stft_loss = LogSTFTLoss(cfg.stft_fft_sizes, cfg.mel_floor_db or -80.0).to(device) if cfg.stft_weight else None
        self.disc = STFTDiscriminator().to(device) if run.train.use_discriminator else None
        self.disc_opt = torch.optim.Adam(self.disc.parameters(), lr=run.train.learning_rate) if self.disc else None

    def set_step(self, step: int) -> None:
        """Set the learning rate for 0-based ``step`` (a pure function of it, so resuming needs no state)."""
        lr = learning_rate_at(self.run.train, step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * lr_multiplier(self.run.train, group["name"])

    def step(self, batch: torch.Tensor) -> dict[str, float]:
        losses_of = {Trainable.DSL: self._dsl_only_losses, Trainable.DECODER: self._decoder_losses}
        audio, losses = losses_of.get(self.trainable, self._codec_losses)(batch)
        total = self._total(losses)
        if not torch.isfinite(total):
            raise FloatingPointError(f"training loss became {total.item()} ({ {k: v.item() for k, v in losses.items()} })")
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        for group in self.optimizer.param_groups:  # per part: a large switch gradient does not shrink the others'
            torch.nn.utils.clip_grad_norm_(group["params"], 5.0)
        self.optimizer.step()
        if self.disc is not None and audio is not None:
            self._discriminator_step(batch, audio.detach())
        return {"total": total.item(), **{k: v.item() for k, v in losses.items()}}

    def _codec_losses(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Codec loss on the decoded full path plus the DSL terms; ``batch [B, 1, T]`` -> (audio, terms)."""
        if self.trainable is Trainable.ALL:
            out = self.codec(batch)
            enc, audio, commitment = out.encoded, out.audio, out.commitment
        else:
            enc, audio, commitment = self._frozen_quantizer_pass(batch)
        return audio, {
            **self._reconstruction_terms(audio, batch),
            "commitment": commitment,
            **dsl_loss_terms(enc.masked, enc.full, enc.light, enc.predicted, self.run.candidate.dsl.segment_frames),
        }

    def _decoder_losses(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Decoder-only training: the codec loss of the decoded, quantized full embedding of the frozen
        encoder (no encoder or quantizer gradient, no DSL terms). ``batch [B, 1, T]`` -> (audio, terms)."""
        encoder = self.codec.encoder
        with torch.no_grad():  # the full path only: the light tail and switch have nothing to give the decoder
            quantized = self.codec.quantizer(encoder.full_tail(encoder.mask(encoder.base(batch)))).quantized
        audio = self.codec.decoder(quantized)
        return audio, self._reconstruction_terms(audio, batch)

    def _reconstruction_terms(self, audio: torch.Tensor, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """The decoded audio's terms: mel, waveform, and the log-STFT and adversarial ones when enabled."""
        losses = {"mel": self.mel_loss(audio, batch), "waveform": waveform_loss(audio, batch)}
        if self.stft_loss is not None:
            losses["stft"] = self.stft_loss(audio, batch)
        if self.disc is not None:
            losses["adversarial"] = generator_adversarial_loss(self.disc(audio))
        return losses

    def _frozen_quantizer_pass(self, batch: torch.Tensor) -> tuple[EncoderOutput, torch.Tensor, torch.Tensor]:
        """Full path through a frozen (eval-mode) quantizer: its codebooks do not move and it drops no
        quantizer; the straight-through estimator (which the library applies in train mode only) is applied
        here so the encoder still gets the codec loss's gradient. -> (encoder pass, audio [B, 1, T], commitment)."""
        enc = self.codec.encoder(batch)
        quantized = self.codec.quantizer(enc.full).quantized.detach()
        straight_through = enc.full + (quantized - enc.full).detach()
        return enc, self.codec.decoder(straight_through), F.mse_loss(enc.full, quantized)

    def _dsl_only_losses(self, batch: torch.Tensor) -> tuple[None, dict[str, torch.Tensor]]:
        """DSL-only fine-tuning: the frozen full tail, quantizer and decoder make the codec output a fixed
        function of the full embedding, so the codec loss reaches the mask only through it. It is replaced
        by ``embedding``: the relative L1 of the masked full embedding to the base's own (unmasked, i.e.
        pretrained) one, no decoder pass. ``batch [B, 1, T]`` -> (None, terms)."""
        encoder = self.codec.encoder
        with torch.no_grad():
            base = encoder.base(batch)
            teacher = encoder.full_tail(base)
        masked = encoder.mask(base)
        full, light = encoder.full_tail(masked), encoder.light_tail(masked.detach())  # as DSLEncoder.forward
        predicted = encoder.switch(masked.detach())  # the switch's loss does not shape the mask
        return None, {
            "embedding": (full - teacher).abs().mean() / (teacher.abs().mean() + 1e-8),
            **dsl_loss_terms(masked, full, light, predicted, self.run.candidate.dsl.segment_frames),
        }

    def _total(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        """Weighted sum of the terms present (paper eq. 5 on top of the codec or embedding loss)."""
        cfg, dsl = self.run.train, self.run.candidate.dsl
        weights = {
            "mel": cfg.mel_weight, "waveform": cfg.waveform_weight, "commitment": cfg.commitment_weight,
            "embedding": cfg.mel_weight, "adversarial": cfg.adversarial_weight, "stft": cfg.stft_weight,
            "compression": dsl.alpha, "switch": dsl.beta, "light": dsl.beta,
        }
        return sum((weights[name] * value for name, value in losses.items()), torch.zeros((), device=self.device))

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
    out_dir.mkdir(parents=True, exist_ok=True)  # a run under way is visible (and an unwritable place fails now)
    ckpt_path = out_dir / CHECKPOINT_NAME
    cfg = run.train
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    length = crop_samples(run)
    clips = load_dataset(cfg.data, run.candidate.encoder.sample_rate_hz, min_samples=length)
    train_clips, _ = train_eval_split(clips, cfg.data.eval_fraction, cfg.data.seed)

    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)  # the batch stream
    resumed = _resume(run, ckpt_path)
    codec, light_start = (build_codec(run.candidate), resumed.light_start) if resumed else initial_codec_and_start(run)
    trainer = Trainer(run, codec, resolve_device(cfg.device))
    history, start_step = _restore(trainer, resumed, generator, ckpt_path) if resumed else ([], 0)
    for step in range(start_step, cfg.steps):
        batch = random_crops(train_clips, cfg.batch_size, length, generator).to(trainer.device)
        trainer.set_step(step)
        losses = trainer.step(batch)
        history.append(losses["total"])
        if on_step is not None:
            on_step(step + 1, cfg.steps, losses)
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
            _save(run, trainer, step + 1, history, ckpt_path, generator, light_start)
    first = history[0] if history else float("nan")
    return TrainResult(ckpt_path, cfg.steps, first, history[-1] if history else first, time.perf_counter() - started,
                       tuple(history), light_start)


def _restore(trainer: Trainer, resumed: Checkpoint, generator: torch.Generator, ckpt_path: Path) -> tuple[list[float], int]:
    """Load a checkpoint's weights, optimizer and random states into a run -> (loss history, next step)."""
    trainer.codec.load_state_dict(resumed.model)
    if resumed.optimizer:
        try:
            trainer.optimizer.load_state_dict(resumed.optimizer)
        except ValueError as err:  # parameter groups of another version (e.g. before the switch had its own)
            raise UserError(f"{ckpt_path}: its optimizer state does not fit this version's parameter groups "
                            f"({err}); use another --out or delete it") from err
    if resumed.rng_states:
        torch.set_rng_state(resumed.rng_states["torch"])
        generator.set_state(resumed.rng_states["data"])
    return list(resumed.loss_history), resumed.step


def _resume(run: RunConfig, ckpt_path: Path) -> Checkpoint | None:
    if not ckpt_path.exists():
        return None
    ckpt = load_checkpoint(ckpt_path)
    if ckpt.run.candidate != run.candidate:
        raise UserError(f"{ckpt_path}: holds a different candidate; use another --out or delete it")
    return ckpt


def _save(run: RunConfig, trainer: Trainer, step: int, history: list[float], path: Path, generator: torch.Generator,
          light_start: LightInit | None) -> None:
    state = {k: v.detach().cpu() for k, v in trainer.codec.state_dict().items()}
    rng = {"torch": torch.get_rng_state(), "data": generator.get_state()}
    save_checkpoint(Checkpoint(run, state, step, trainer.optimizer.state_dict(), history, rng, light_start), path)
