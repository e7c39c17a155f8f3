"""``data synth``'s options as text (what a command line or a job script passes) -> :class:`CorpusOptions`."""

from __future__ import annotations

from dslnas.spaces.errors import UserError
from dslnas.trainers.data.scenes import SCENES
from dslnas.trainers.data.scenes_ambience import ALL_SCENES, AMBIENCE_SCENES
from dslnas.trainers.data.speech_synth import CorpusOptions
from dslnas.trainers.data.synth_recording import FLOOR_DBFS, LEVEL_DBFS, RecordingOptions, parse_bands

SCENE_SETS: dict[str, tuple[str, ...]] = {
    "default": tuple(sorted(SCENES)),
    "ambience": tuple(sorted(AMBIENCE_SCENES)),
    "all": tuple(sorted(ALL_SCENES)),
}
"""Names ``--scenes`` accepts besides a comma-separated list of scene ids."""


def corpus_options(
    *, rooms: bool = False, microphones: bool = False, bands: str | None = None, level_dbfs: str | None = None,
    floor_dbfs: str | None = None, speaker_variants: int = 1, scenes: str | None = None,
) -> CorpusOptions:
    """The options named; the recording chain is on when any of its five options is given.

    ``bands``: comma-separated :class:`.synth_recording.Band` names; ``level_dbfs`` / ``floor_dbfs``: ``LOW,HIGH``
    (``floor_dbfs`` may be ``none``); ``scenes``: a name of :data:`SCENE_SETS` or comma-separated scene ids.

    Raises:
        UserError: a value that does not parse or is out of range (the message names the option).
    """
    chain = rooms or microphones or any(v is not None for v in (bands, level_dbfs, floor_dbfs))
    try:
        recording = RecordingOptions(
            room=rooms, microphone=microphones,
            bands=parse_bands(_items(bands)) if bands is not None else RecordingOptions().bands,
            level_dbfs=_span(level_dbfs, "--level-dbfs") if level_dbfs is not None else LEVEL_DBFS,
            floor_dbfs=_span(floor_dbfs, "--floor-dbfs") if floor_dbfs is not None else FLOOR_DBFS,
        ) if chain else None
        scene_ids = None if scenes is None else SCENE_SETS.get(scenes, tuple(_items(scenes)))
        return CorpusOptions(recording, speaker_variants, scene_ids)
    except ValueError as err:
        raise UserError(f"data synth: {err}") from None


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _span(text: str, option: str) -> tuple[float, float] | None:
    """``"LOW,HIGH"`` -> (low, high); ``"none"`` -> None."""
    if text.strip().lower() == "none":
        return None
    parts = _items(text)
    try:
        low, high = (float(part) for part in parts)
    except ValueError:
        raise ValueError(f"{option} takes LOW,HIGH in dBFS (e.g. -45,-15), got {text!r}") from None
    return low, high
