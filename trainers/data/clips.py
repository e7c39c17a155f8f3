"""Labelled audio clips, the speaker-aware train/eval split and random training crops.

A :class:`Clip` is one mono recording at the dataset's sample rate with a class label and, where the
dataset knows it, a speaker. Its samples are either in memory (a ``[T]`` tensor: demo audio, tests) or
an :class:`~dslnas.trainers.data.audio_io.AudioSpan` of a file, read when asked for, so a dataset of any
size is an index, not its audio. Labels are plain strings because AudioSet-style datasets carry
open-ended classes; the two the DSL evaluation reports on are :data:`SPEECH` and :data:`SILENCE` (as in
AudioSet and the DSL paper, "silence" covers ambient noise and quiet tones, not only digital zeros).
Clips of unknown class are :data:`UNKNOWN`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from dslnas.spaces.run_config import DataConfig
from dslnas.spaces.errors import DataError
from dslnas.spaces.labels import SILENCE, SPEECH, UNKNOWN
from dslnas.trainers.data.audio_io import AudioSpan



@dataclass(frozen=True)
class Clip:
    """One labelled mono recording.

    Attributes:
        clip_id: a name unique within its dataset (file stem, relative path, YTID or ``demo-007-speech``).
        samples: ``[T]`` float32 samples in full scale [-1, 1] at the dataset's sample rate, or the span of
            a file they are read from on demand.
        label: class name, e.g. ``"speech"``, ``"silence"``, ``"unknown"``.
        speaker: who speaks (or which scene it is), when the dataset says; ``None`` otherwise.
    """

    clip_id: str
    samples: torch.Tensor | AudioSpan
    label: str
    speaker: str | None = None

    @property
    def audio(self) -> torch.Tensor:
        """The whole clip, ``[T]`` float32 (a file-backed clip is read now, on every access)."""
        if isinstance(self.samples, AudioSpan):
            return self.samples.read()
        return self.samples

    @property
    def num_samples(self) -> int:
        """Length ``T`` of the clip in samples (no read)."""
        if isinstance(self.samples, AudioSpan):
            return self.samples.num_samples
        return int(self.samples.shape[-1])

    @property
    def in_memory(self) -> bool:
        """Whether the samples are held in memory (not read from a file)."""
        return not isinstance(self.samples, AudioSpan)

    def crop(self, offset: int, length: int) -> torch.Tensor:
        """Samples ``[offset, offset + length)`` as ``[length]`` float32 (a file-backed clip reads only those)."""
        if isinstance(self.samples, AudioSpan):
            return self.samples.read(offset, length)
        return self.samples[offset : offset + length].to(torch.float32)

    def padded_to(self, n_samples: int) -> Clip:
        """This clip, zero-padded at the end to ``n_samples`` if it is shorter (else itself)."""
        if self.num_samples >= n_samples:
            return self
        if isinstance(self.samples, AudioSpan):
            return replace(self, samples=replace(self.samples, padded_samples=n_samples))
        padding = torch.zeros(n_samples - self.num_samples, dtype=self.samples.dtype)
        return replace(self, samples=torch.cat([self.samples, padding]))

    def head(self, n_samples: int) -> Clip:
        """The clip's first ``n_samples``, in memory (the whole clip, loaded, when it is not longer)."""
        if self.num_samples <= n_samples:
            return self.loaded()
        return replace(self, samples=self.crop(0, n_samples))

    def loaded(self) -> Clip:
        """An in-memory copy (the clip itself when it already is)."""
        return self if self.in_memory else replace(self, samples=self.audio)


def evaluation_clips(
    clips: Sequence[Clip], data: DataConfig, sample_rate_hz: int, all_when_none_held_out: bool = False,
    min_samples: int | None = None,
) -> list[Clip]:
    """The clips of :func:`evaluation_set`; short clips joined or skipped are counted in a
    :class:`ShortClipWarning`."""
    chosen = evaluation_set(clips, data, sample_rate_hz, all_when_none_held_out, min_samples)
    if chosen.short.joined or chosen.short.skipped:
        warnings.warn(chosen.short.describe(sample_rate_hz), ShortClipWarning, stacklevel=2)
    return list(chosen.clips)


@dataclass(frozen=True)
class EvaluationSet:
    """The clips a codec is scored on and what the short-clip rule did to get them."""

    clips: tuple[Clip, ...]
    short: ShortClips


def evaluation_set(
    clips: Sequence[Clip], data: DataConfig, sample_rate_hz: int, all_when_none_held_out: bool = False,
    min_samples: int | None = None,
) -> EvaluationSet:
    """The held-out side of ``clips`` (:func:`train_eval_split`; with ``all_when_none_held_out``, every clip
    when none is held out), loaded, short clips joined or skipped (:func:`join_short_clips`, at
    ``min_samples``, default ViSQOL's shortest scorable signal at ``sample_rate_hz``), each then cut to
    ``data.eval_clip_seconds`` when set (ViSQOL's time grows faster than a clip's length)."""
    held_out = train_eval_split(clips, data.eval_fraction, data.seed)[1]
    if not held_out and all_when_none_held_out:
        held_out = list(clips)
    short = join_short_clips(held_out, visqol_min_samples(sample_rate_hz) if min_samples is None else min_samples)
    if data.eval_clip_seconds is None:
        return EvaluationSet(tuple(clip.loaded() for clip in short.clips), short)
    head = round(data.eval_clip_seconds * sample_rate_hz)
    return EvaluationSet(tuple(clip.head(head) for clip in short.clips), short)


def visqol_min_samples(sample_rate_hz: int) -> int:
    """ViSQOL's (speech mode) shortest scorable reference, in samples at ``sample_rate_hz`` (0.64 s)."""
    from dslnas.trainers.visqol_score import VisqolMode

    mode = VisqolMode.SPEECH
    return math.ceil(mode.min_samples * sample_rate_hz / mode.sample_rate_hz)


class ShortClipWarning(UserWarning):
    """Clips shorter than asked for were padded, joined or skipped; the message counts and names them."""


@dataclass(frozen=True)
class ShortClips:
    """What :func:`join_short_clips` did: the clips after it, the short ones it joined and those it skipped."""

    clips: tuple[Clip, ...]
    joined: tuple[str, ...]
    skipped: tuple[str, ...]
    min_samples: int

    def describe(self, sample_rate_hz: int) -> str:
        """One line: how many short clips were joined and skipped, the first few named."""
        def named(ids: tuple[str, ...]) -> str:
            return ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")

        parts = [f"{len(self.joined)} joined into {self.joined_clips} clips ({named(self.joined)})"] if self.joined else []
        parts += [f"{len(self.skipped)} skipped ({named(self.skipped)})"] if self.skipped else []
        return (f"clips shorter than {self.min_samples / sample_rate_hz:.2f} s (ViSQOL's minimum): "
                + "; ".join(parts or ["none"]))

    @property
    def joined_clips(self) -> int:
        return sum(1 for clip in self.clips if JOIN_SEPARATOR in clip.clip_id)


JOIN_SEPARATOR = " + "


def join_short_clips(clips: Sequence[Clip], min_samples: int) -> ShortClips:
    """The short-clip rule: a clip shorter than ``min_samples`` is joined, end to end and in order, with the
    next short clips of its **group** (same label and speaker; without a speaker, same label and folder)
    until the joined clip reaches ``min_samples``; short clips left over at the end of their group (too few
    to reach it) are skipped. Clips long enough are kept as they are, in place; a joined clip takes the
    place of its first member and is named ``a + b + ...``. Never raises on length."""
    pending: dict[tuple[str, str], list[Clip]] = {}
    slots: list[Clip | tuple[str, str]] = []
    joined: list[str] = []
    for clip in clips:
        if clip.num_samples >= min_samples:
            slots.append(clip)
            continue
        key = (clip.label, clip.speaker or clip.clip_id.rpartition("/")[0])
        group = pending.setdefault(key, [])
        if not group:
            slots.append(key)
        group.append(clip)
        if sum(c.num_samples for c in group) >= min_samples:
            slots[slots.index(key)] = _joined(group)
            joined += [c.clip_id for c in group]
            pending[key] = []
    kept = tuple(slot for slot in slots if isinstance(slot, Clip))
    skipped = tuple(c.clip_id for group in pending.values() for c in group)
    return ShortClips(kept, tuple(joined), skipped, min_samples)


def _joined(group: Sequence[Clip]) -> Clip:
    audio = torch.cat([clip.audio.to(torch.float32) for clip in group])
    return replace(group[0], clip_id=JOIN_SEPARATOR.join(c.clip_id for c in group), samples=audio)


def _group_key(clip: Clip, index: int) -> Hashable:
    """What the split holds out together: the clip's speaker, or the clip alone when it has none."""
    return ("speaker", clip.speaker) if clip.speaker else ("clip", index)


def train_eval_split(
    clips: Sequence[Clip], eval_fraction: float, seed: int
) -> tuple[list[Clip], list[Clip]]:
    """Split clips into (train, eval): stratified by label, speaker-disjoint, deterministic for ``seed``.

    The unit held out is a speaker (all of a speaker's clips go to the same side); a clip without a
    speaker is a unit of its own. Per label (in sorted order), the label's units not yet placed by an
    earlier label are shuffled with a generator seeded by ``seed`` and ``round(n_units * eval_fraction)``
    of the label's units go to eval. When ``eval_fraction > 0`` a label with at least two units keeps at
    least one on each side; a label with a single unit stays in train. Both lists keep the input order.

    Args:
        clips: the dataset.
        eval_fraction: share of each label's units held out, in [0, 1).
        seed: any integer; the same seed and clips always give the same split.

    Raises:
        ValueError: ``eval_fraction`` is outside [0, 1).
    """
    groups = [_group_key(clip, i) for i, clip in enumerate(clips)]
    eval_indices = grouped_eval_indices([clip.label for clip in clips], groups, eval_fraction, seed)
    train = [clip for i, clip in enumerate(clips) if i not in eval_indices]
    held_out = [clip for i, clip in enumerate(clips) if i in eval_indices]
    return train, held_out


def grouped_eval_indices(
    labels: Sequence[str], groups: Sequence[Hashable], eval_fraction: float, seed: int
) -> set[int]:
    """Indices of the items held out for eval; items of one group always land on the same side.

    See :func:`train_eval_split` for the rule. ``labels[i]`` and ``groups[i]`` describe item ``i``.
    """
    if not 0.0 <= eval_fraction < 1.0:
        raise ValueError(f"eval_fraction must be in [0, 1), got {eval_fraction}")
    rng = np.random.default_rng(seed % 2**64)
    held_out: dict[Hashable, bool] = {}
    for label in sorted(set(labels)):
        units = list(dict.fromkeys(g for g, item_label in zip(groups, labels) if item_label == label))
        free = [unit for unit in units if unit not in held_out]
        already = sum(held_out.get(unit, False) for unit in units)
        n_eval = min(max(_eval_count(len(units), eval_fraction) - already, 0), len(free))
        chosen = {int(k) for k in rng.permutation(len(free))[:n_eval]}
        held_out.update((unit, k in chosen) for k, unit in enumerate(free))
    return {i for i, group in enumerate(groups) if held_out[group]}


def _eval_count(n_units: int, eval_fraction: float) -> int:
    """How many of a label's ``n_units`` units go to eval (both sides non-empty when possible)."""
    if eval_fraction == 0.0 or n_units < 2:
        return 0
    return min(max(round(n_units * eval_fraction), 1), n_units - 1)


def random_crops(
    clips: Sequence[Clip], batch_size: int, crop_samples: int, generator: torch.Generator
) -> torch.Tensor:
    """A training batch of random crops: clips drawn uniformly with replacement, offsets uniform.

    File-backed clips read only the cropped samples, so a batch costs ``B * crop_samples`` of memory
    whatever the dataset's size.

    Args:
        clips: where to crop from; every clip must hold at least ``crop_samples`` samples.
        batch_size: ``B``, the number of crops.
        crop_samples: length of each crop in samples.
        generator: the only source of randomness (seed it for reproducible batches).

    Returns:
        ``[B, 1, crop_samples]`` float32 tensor on the clips' device.

    Raises:
        DataError: a clip is shorter than ``crop_samples`` (the message names it); ``clips`` is empty.
        ValueError: ``batch_size`` or ``crop_samples`` is not positive.
    """
    if batch_size <= 0 or crop_samples <= 0:
        raise ValueError(f"batch_size and crop_samples must be positive, got {batch_size}, {crop_samples}")
    if not clips:
        raise DataError("cannot draw training crops from an empty list of clips")
    shortest = min(clips, key=lambda clip: clip.num_samples)
    if shortest.num_samples < crop_samples:
        raise DataError(
            f"clip {shortest.clip_id} has {shortest.num_samples} samples, shorter than the training crop "
            f"({crop_samples} samples)"
        )
    picks = torch.randint(len(clips), (batch_size,), generator=generator)
    fractions = torch.rand(batch_size, generator=generator, dtype=torch.float64)
    crops = []
    for pick, fraction in zip(picks.tolist(), fractions.tolist()):
        clip = clips[pick]
        offset = int(fraction * (clip.num_samples - crop_samples + 1))
        crops.append(clip.crop(offset, crop_samples))
    return torch.stack(crops).unsqueeze(1)
