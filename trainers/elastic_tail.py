"""Elastic light tails: per switch depth, one widest light tail whose channel prefixes are the narrower ones.

Why: a DSL trial has seconds to train its light tail (the demo's budget is 10 s), and the light path only
pays off where it is nearly the full path's equal, which on quiet material ("silence") takes thousands of
distillation steps from the full tail's sliced channels (``trainers.light_init``): on the speech16k base at
depth 2, widths (12, 8), silence scores 1.40 light after 150 steps, 1.82 after 600 and 2.01 after 2,000,
against 2.09 full. So the distillation is paid once per base, not once per trial: an *elastic* tail at the
widest width of every stream is trained so that every prefix of its channels (the first ``w`` of each
stream) is itself a good light tail, sampling several width combinations per step with the widest and the
narrowest always among them (the sandwich rule of slimmable networks, Yu et al. 2019; once-for-all, Cai et
al. 2020). A trial whose light widths the bank covers starts from that prefix (``train.light_init:
elastic``) and fine-tunes it as before; the trial's light tail is an ordinary light tail of its own widths,
so what is priced, exported and measured does not change, only where training starts.

The bank lives next to its base as ``<base>.light.pt`` (:func:`bank_path`), holds the base file's SHA-256
(a bank made for another base is ignored with a warning) and is read with ``weights_only=True``. It covers
a candidate when it has its depth, every width is at most the bank's, the first width is below the
base's channels (a light tail at the base's width has no entry conv to take a prefix of; those start sliced)
and its light tail has the full tail's residual units and kernel (others start sliced).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.func import functional_call

from dslnas.spaces.atomic_io import atomic_file
from dslnas.spaces.candidate import CandidateConfig, EncoderArch
from dslnas.spaces.errors import UserError
from dslnas.trainers.codec import DECODER_PREFIX
from dslnas.trainers.dsl import relative_light_loss
from dslnas.trainers.encoder import DSLEncoder, build_tail
from dslnas.trainers.light_init import slice_light_tail

BANK_SUFFIX = ".light.pt"
BANK_FORMAT = 2  # 1: keyed by the base file's sha256 (any change to the base, its decoder too, orphaned the bank)
StepCallback = Callable[[int, int, float], None]


def bank_path(base_checkpoint: str | Path) -> Path:
    """Where the elastic light-tail bank of ``base_checkpoint`` lives: ``<stem>.light.pt`` beside it."""
    base = Path(base_checkpoint)
    return base.with_name(base.stem + BANK_SUFFIX)


def encoder_sha256(base_checkpoint: Path) -> str:
    """sha256 of every weight of ``base_checkpoint`` but the decoder's (names, dtypes, shapes and bytes, in name
    order): what a bank's distillation reads, so a base retrained in its decoder alone keeps its bank."""
    from dslnas.trainers.checkpoint import load_checkpoint

    digest = hashlib.sha256()
    for name, value in sorted(load_checkpoint(base_checkpoint).model.items()):
        if name.startswith(DECODER_PREFIX) or not isinstance(value, torch.Tensor):
            continue
        tensor = value.detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.numpy().tobytes() if tensor.dtype != torch.bfloat16 else tensor.float().numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class LightBank:
    """Elastic light tails of one base. ``tails[depth]`` is the state dict of a light tail at ``widths[depth]``
    (always with its entry conv); ``width_choices`` are the widths it was trained to serve; ``encoder_sha256``:
    :func:`encoder_sha256` of the base it was distilled from (empty in a format-1 bank)."""

    encoder_sha256: str
    width_choices: tuple[int, ...]
    steps: int
    seconds: float
    widths: dict[int, tuple[int, ...]]
    tails: dict[int, dict[str, torch.Tensor]]

    def covers(self, candidate: CandidateConfig) -> bool:
        """Whether a prefix of this bank's tail is ``candidate``'s light tail (module notes)."""
        depth, widths = candidate.dsl.switch_depth, candidate.dsl.light_widths
        big = self.widths.get(depth)
        return (big is not None and len(big) == len(widths) and all(w <= b for w, b in zip(widths, big))
                and widths[0] != candidate.encoder.channels_after(depth) and candidate.light_tail_as_full)

    def to_dict(self) -> dict:
        return {"format": BANK_FORMAT, "encoder_sha256": self.encoder_sha256, "width_choices": list(self.width_choices),
                "steps": self.steps, "seconds": self.seconds, "widths": {d: list(w) for d, w in self.widths.items()},
                "tails": self.tails}


def save_bank(bank: LightBank, path: Path) -> None:
    with atomic_file(path) as tmp:
        torch.save(bank.to_dict(), tmp)


def load_bank(path: Path) -> LightBank:
    """Read a bank (``weights_only=True``); a file of another format is a UserError naming it."""
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is the same user-facing error
        raise UserError(f"{path}: not a readable light-tail bank ({err})") from err
    if not isinstance(raw, dict) or raw.get("format") not in (1, BANK_FORMAT):
        raise UserError(f"{path}: not a light-tail bank of format {BANK_FORMAT}")
    if raw["format"] == BANK_FORMAT and not raw.get("encoder_sha256"):
        raise UserError(f"{path}: a light-tail bank of format {BANK_FORMAT} without its base's encoder_sha256")
    return LightBank(raw.get("encoder_sha256", "") if raw["format"] == BANK_FORMAT else "", tuple(raw["width_choices"]), int(raw["steps"]), float(raw["seconds"]),
                     {int(d): tuple(w) for d, w in raw["widths"].items()}, {int(d): t for d, t in raw["tails"].items()})


def prefix_state(big: dict[str, torch.Tensor], small: nn.Module) -> dict[str, torch.Tensor]:
    """``small``'s parameters as prefixes of ``big``'s (same names): every dim cut to ``small``'s size.

    A light tail's dims are either a stream's width (sliced to its first channels), a kernel, the base's
    channels or the embedding size (equal in both), so one rule fits every tensor."""
    out = {}
    for name, param in small.named_parameters():
        source = big[name]
        if source.dim() != param.dim() or any(s < p for s, p in zip(source.shape, param.shape)):
            raise ValueError(f"light tail {name}: {tuple(param.shape)} is not a prefix of {tuple(source.shape)}")
        out[name] = source[tuple(slice(0, n) for n in param.shape)]
    return out


@torch.no_grad()
def load_prefix(encoder: DSLEncoder, bank: LightBank) -> None:
    """Overwrite ``encoder.light_tail`` with the prefix of the bank's tail at its depth (which must cover it)."""
    big = bank.tails[encoder.candidate.dsl.switch_depth]
    for name, value in prefix_state(big, encoder.light_tail).items():
        encoder.light_tail.get_parameter(name).copy_(value)


def bank_for(base_checkpoint: Path, candidate: CandidateConfig) -> LightBank | None:
    """The bank beside ``base_checkpoint`` when there is one, made from a base with its encoder (every weight but
    the decoder's), covering ``candidate``."""
    path = bank_path(base_checkpoint)
    if not path.exists():
        return None
    bank = load_bank(path)
    if not bank.encoder_sha256:
        warnings.warn(f"{path}: a bank of format 1 (made by an older dslnas); re-run `dslnas light-bank` on "
                      f"{base_checkpoint}; light tails start sliced", UserWarning, stacklevel=2)
        return None
    if bank.encoder_sha256 != encoder_sha256(Path(base_checkpoint)):
        warnings.warn(f"{path}: made for another base than {base_checkpoint} (its encoder differs); light tails "
                      "start sliced", UserWarning, stacklevel=2)
        return None
    return bank if bank.covers(candidate) else None


def _full_widths(arch: EncoderArch, depth: int) -> tuple[int, ...]:
    """The full path's width at each stream of a light tail at ``depth`` (its entry, then each block's output)."""
    return (arch.channels_after(depth), *arch.block_channels[depth:])


def elastic_widths(candidate: CandidateConfig, depth: int, width_choices: Sequence[int]) -> tuple[int, ...]:
    """The bank's widths at ``depth``: per stream, the widest choice a light tail may take there (never wider
    than the full path's)."""
    return tuple(min(max(width_choices), full) for full in _full_widths(candidate.encoder, depth))


def _width_combos(candidate: CandidateConfig, depth: int, width_choices: Sequence[int]) -> list[tuple[int, ...]]:
    """Every light-width combination the bank serves at ``depth`` (those it covers)."""
    full = _full_widths(candidate.encoder, depth)
    allowed = [[w for w in sorted(width_choices) if w <= f] for f in full]
    return [w for w in itertools.product(*allowed) if w[0] != full[0]]


def distil_depth(
    base: DSLEncoder, width_choices: Sequence[int], batches: Callable[[], torch.Tensor], steps: int,
    learning_rate: float, samples_per_step: int, seed: int, on_step: Callable[[int, float], None] | None = None,
) -> tuple[tuple[int, ...], dict[str, torch.Tensor]]:
    """Train one elastic tail at ``base``'s depth (``base`` is an encoder with the DSL there; its light tail
    is replaced by the elastic one): ``L_light`` (:func:`.dsl.relative_light_loss`) of each sampled prefix's
    embedding to the full tail's, the widest and narrowest combination in every step plus
    ``samples_per_step - 2`` drawn at random. -> (widths, state dict)."""
    candidate, depth = base.candidate, base.candidate.dsl.switch_depth
    widths = elastic_widths(candidate, depth, width_choices)
    arch = candidate.encoder
    base.light_tail = elastic = _tail_with_entry(arch, depth, widths)
    slice_light_tail(base, ordered=True)  # prefixes of the importance order are the most used channels
    combos = _width_combos(candidate, depth, width_choices)
    small = {w: _tail_with_entry(arch, depth, w) for w in combos}
    optimizer = torch.optim.Adam(elastic.parameters(), lr=learning_rate, betas=(0.5, 0.9))
    rng = random.Random(seed)
    segment = candidate.dsl.segment_frames
    params = dict(elastic.named_parameters())
    for step in range(steps):
        for group in optimizer.param_groups:  # cosine to 5%
            group["lr"] = learning_rate * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        audio = batches()
        with torch.no_grad():
            features = base.base(audio)
            teacher = base.full_tail(features)
        chosen = [max(combos), min(combos), *rng.sample(combos, max(0, min(len(combos), samples_per_step) - 2))]
        loss = torch.zeros(())
        for w in chosen:
            module = small[w]
            sub = prefix_state(params, module)  # slices of the elastic parameters: gradients reach them
            loss = loss + relative_light_loss(functional_call(module, sub, (features,)), teacher, segment)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if on_step is not None:
            on_step(step + 1, loss.item() / len(chosen))
    return widths, {k: v.detach().clone() for k, v in elastic.state_dict().items()}


def _tail_with_entry(arch: EncoderArch, depth: int, widths: tuple[int, ...]) -> nn.Sequential:
    """``build_tail`` that always has the 1x1 entry conv (at the base's width too), so names line up."""
    tail = build_tail(arch, depth, widths)
    if type(tail[0]) is nn.Conv1d:
        return tail
    return nn.Sequential(nn.Conv1d(arch.channels_after(depth), widths[0], 1), *tail)
