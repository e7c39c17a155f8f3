"""Where a training run starts: a fresh codec, or a trained one with this run's DSL inserted and its light
tail started as ``train.light_init`` says (:func:`initial_codec_and_start`); and the crop length it trains on.
"""

from __future__ import annotations

import math

import torch

from dslnas.spaces.candidate import CandidateConfig
from dslnas.spaces.errors import UserError
from dslnas.spaces.run_config import LightInit, RunConfig, Trainable
from dslnas.trainers.checkpoint import load_checkpoint
from dslnas.trainers.codec import DECODER_PREFIX, DSLCodec, build_codec, fold_mask_scale, insert_dsl, warn_if_threshold_dropped
from dslnas.trainers.decoder import Decoder
from dslnas.trainers.elastic_tail import bank_for, load_prefix
from dslnas.trainers.light_init import slice_light_tail
from dslnas.trainers.pretrained import resolve_init_checkpoint


def crop_samples(run: RunConfig) -> int:
    """Training crop length: ``crop_seconds`` rounded up to whole routing segments."""
    seg = run.candidate.segment_samples
    wanted = run.train.crop_seconds * run.candidate.encoder.sample_rate_hz
    return max(1, math.ceil(wanted / seg)) * seg


def initial_codec(run: RunConfig) -> DSLCodec:
    """A fresh codec, or ``train.init_checkpoint``'s codec with this run's DSL inserted (its light tail started
    as ``train.light_init`` says). The checkpoint's own trained mask is dropped with its scale folded into the
    conv before its cut, as export does (:func:`.codec.fold_mask_scale`); its threshold is lost."""
    return initial_codec_and_start(run)[0]


def initial_codec_and_start(run: RunConfig) -> tuple[DSLCodec, LightInit | None]:
    """:func:`initial_codec` and how its light tail started (:func:`start_light_tail`; None without an
    ``init_checkpoint``: a fresh codec trains everything from scratch)."""
    if run.train.init_checkpoint is None:
        return build_codec(run.candidate), None
    trained = load_checkpoint(resolve_init_checkpoint(run.train.init_checkpoint))
    fresh_decoder = run.train.effective_trainable is Trainable.DECODER and not decoder_fits(run.candidate, trained.model)
    if fresh_decoder:
        print(f"train.init_checkpoint {run.train.init_checkpoint}: its decoder does not fit the candidate's; "
              "the decoder starts from scratch", flush=True)
    warn_if_threshold_dropped(trained.model, f"train.init_checkpoint {run.train.init_checkpoint}")
    base = fold_mask_scale(trained.model, trained.run.candidate.dsl.switch_depth)  # the function it was trained as
    try:
        codec = insert_dsl(run.candidate, base, with_decoder=not fresh_decoder)
    except ValueError as err:
        raise UserError(f"train.init_checkpoint {run.train.init_checkpoint}: {err}") from err
    return codec, start_light_tail(codec, run)


def start_light_tail(codec: DSLCodec, run: RunConfig) -> LightInit:
    """Start ``codec``'s inserted light tail as ``train.light_init`` says; ``elastic`` takes the prefix of the
    base's light-tail bank when one covers the candidate, else slices (``trainers.elastic_tail``).
    -> how it started (``elastic`` falls back to ``sliced`` where no bank covers the candidate)."""
    how = LightInit(run.train.light_init)
    if how is LightInit.ELASTIC:
        bank = bank_for(resolve_init_checkpoint(run.train.init_checkpoint), run.candidate)
        if bank is not None:
            load_prefix(codec.encoder, bank)
            return LightInit.ELASTIC
        how = LightInit.SLICED
    if how is LightInit.SLICED:
        slice_light_tail(codec.encoder)
    return how


def decoder_fits(candidate: CandidateConfig, state: dict[str, torch.Tensor]) -> bool:
    """Whether ``state``'s decoder weights have exactly the names and shapes of ``candidate``'s decoder."""
    fresh = {DECODER_PREFIX + k: v.shape for k, v in Decoder(candidate).state_dict().items()}
    given = {k: v.shape for k, v in state.items() if k.startswith(DECODER_PREFIX)}
    return fresh == given
