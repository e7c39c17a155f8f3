"""Labelled audio clips, the train/eval split and random training crops.

A :class:`Clip` is one mono recording at the dataset's sample rate with a class label. Labels are plain
strings because AudioSet-style datasets carry open-ended classes; the two the DSL evaluation reports on
are :data:`SPEECH` and :data:`SILENCE` (as in AudioSet and the DSL paper, "silence" covers ambient noise
and quiet tones, not only digital zeros). Clips of unknown class are :data:`UNKNOWN`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from dslnas.spaces.errors import DataError

SPEECH = "speech"
SILENCE = "silence"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Clip:
    """One labelled mono recording.

    Attributes:
        clip_id: a name unique within its dataset (file stem, relative path, YTID or ``demo-007-speech``).
        audio: ``[T]`` float32 samples, full scale [-1, 1], at the dataset's sample rate.
        label: class name, e.g. ``"speech"``, ``"silence"``, ``"unknown"``.
    """

    clip_id: str
    audio: torch.Tensor  # [T] float32 mono
    label: str

    @property
    def num_samples(self) -> int:
        """Length ``T`` of the clip in samples."""
        return int(self.audio.shape[-1])


def train_eval_split(
    clips: Sequence[Clip], eval_fraction: float, seed: int
) -> tuple[list[Clip], list[Clip]]:
    """Split clips into (train, eval), stratified by label, deterministically for a given ``seed``.

    Each label's clips are shuffled with a generator seeded by ``seed`` and ``round(n * eval_fraction)`` of
    them go to eval. When ``eval_fraction > 0`` a label with at least two clips keeps at least one clip on
    each side; a label with a single clip stays in train. Both lists keep the input order.

    Args:
        clips: the dataset.
        eval_fraction: share of each label held out, in [0, 1).
        seed: any integer; the same seed and clips always give the same split.

    Raises:
        ValueError: ``eval_fraction`` is outside [0, 1).
    """
    if not 0.0 <= eval_fraction < 1.0:
        raise ValueError(f"eval_fraction must be in [0, 1), got {eval_fraction}")
    rng = np.random.default_rng(seed % 2**64)
    eval_indices: set[int] = set()
    for label in sorted({clip.label for clip in clips}):
        members = [i for i, clip in enumerate(clips) if clip.label == label]
        n_eval = _eval_count(len(members), eval_fraction)
        chosen = rng.permutation(len(members))[:n_eval]
        eval_indices.update(members[int(k)] for k in chosen)
    train = [clip for i, clip in enumerate(clips) if i not in eval_indices]
    held_out = [clip for i, clip in enumerate(clips) if i in eval_indices]
    return train, held_out


def _eval_count(n_members: int, eval_fraction: float) -> int:
    """How many of a label's ``n_members`` clips go to eval (both sides non-empty when possible)."""
    if eval_fraction == 0.0 or n_members < 2:
        return 0
    return min(max(round(n_members * eval_fraction), 1), n_members - 1)


def random_crops(
    clips: Sequence[Clip], batch_size: int, crop_samples: int, generator: torch.Generator
) -> torch.Tensor:
    """A training batch of random crops: clips drawn uniformly with replacement, offsets uniform.

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
    for clip in clips:
        if clip.num_samples < crop_samples:
            raise DataError(
                f"clip {clip.clip_id} has {clip.num_samples} samples, shorter than the training crop "
                f"({crop_samples} samples)"
            )
    picks = torch.randint(len(clips), (batch_size,), generator=generator)
    fractions = torch.rand(batch_size, generator=generator, dtype=torch.float64)
    crops = []
    for pick, fraction in zip(picks.tolist(), fractions.tolist()):
        clip = clips[pick]
        offset = int(fraction * (clip.num_samples - crop_samples + 1))
        crops.append(clip.audio[offset : offset + crop_samples].to(torch.float32))
    return torch.stack(crops).unsqueeze(1)
