"""``preflight``: check everything a search will need before its first training step.

A search spends minutes on the base codec before the first trial; a mistake found only then (an unknown
profile, a knob range that yields invalid candidates, an unwritable runs folder, a data path with no
audio) wastes them. :func:`preflight` checks, cheaply and in this order, and raises a one-line
:class:`~dslnas.spaces.errors.UserError` naming the thing for the first problem:

1. every knob, at the ends of its range and at each of its choices, builds a valid candidate;
2. the device profile loads and prices the space's base candidate to finite numbers;
3. the data each training run reads exists and holds audio, every file's header readable (an unreadable or
   empty file is named);
4. the runs folder and the storage can be written (a server URL: its driver imports; no connection).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydantic

from dslnas.search.artifacts import check_artifact_store
from dslnas.search.config import SearchConfig
from dslnas.spaces.run_config import DataConfig, DatasetKind
from dslnas.spaces.errors import ConfigError, DataError, UserError
from dslnas.spaces.knobs import Knob, KnobKind
from dslnas.spaces.space import SearchSpace
from dslnas.spaces.yaml_io import check_writable_dir, describe_validation_error

if TYPE_CHECKING:
    from dslnas.trainers.data.check import DataCheck

PREFLIGHT_LIGHT_USAGE = 0.5


def preflight(config: SearchConfig) -> None:
    """Raise UserError for the first thing ``config`` gets wrong that a run would hit later."""
    check_space(config.space)
    check_profile(config.profile, config.space)
    for data in _training_data(config):
        check_data(data, config.space.base.encoder.sample_rate_hz)
    check_writable_dir(config.study_root, "runs folder")
    check_storage(config.storage)
    check_artifact_store(config.artifact_location)
    if config.space.pretrained_base is not None:
        check_pretrained_base(config.space.pretrained_base)


def check_pretrained_base(value: str) -> None:
    """The space's base exists (a shipped name or a checkpoint file); its fit is checked when a trial loads it."""
    from dslnas.trainers.pretrained import resolve_init_checkpoint

    path = resolve_init_checkpoint(value)
    if not path.is_file():
        raise UserError(f"pretrained_base {value!r}: checkpoint {path} does not exist")


def check_space(space: SearchSpace) -> None:
    """Every knob value a sampler can draw (range ends, every choice) gives a valid candidate.

    Each non-entry knob is varied alone from the base candidate's values; each per-entry knob (a light
    width) at every value, in every context the categorical knobs set (each switch depth), with the other
    entries at their smallest choice.
    """
    knobs = space.knobs()
    start = _start_params(space, knobs)
    contexts: list[tuple[dict[str, Any], str]] = [(start, "")]
    for knob in knobs:
        if knob.entry is not None:
            continue
        for value in _values(knob):
            params = {**start, knob.name: value}
            _check_point(space, params, f"{knob.name} = {value!r}")
            if knob.kind is KnobKind.CATEGORICAL:
                contexts.append((params, f" with {knob.name} = {value!r}"))
    for params, context in contexts:
        for knob in knobs:
            if knob.entry is None or not knob.active(params):
                continue
            for value in _values(knob):
                _check_point(space, {**params, knob.name: value}, f"{knob.name} = {value!r}{context}")


def _start_params(space: SearchSpace, knobs: tuple[Knob, ...]) -> dict[str, Any]:
    params = space.complete_params(space.params_of(space.base))
    for knob in knobs:
        if knob.entry is not None:
            params[knob.name] = _smallest(knob)
    return params


def _values(knob: Knob) -> Iterator[Any]:
    if knob.kind is KnobKind.CATEGORICAL:
        yield from knob.choices
    else:
        cast = int if knob.kind is KnobKind.INT else float
        yield from dict.fromkeys((cast(knob.low), cast(knob.high)))


def _smallest(knob: Knob) -> Any:
    if knob.kind is not KnobKind.CATEGORICAL:
        return knob.first
    try:
        return min(knob.choices)
    except TypeError:  # unordered choices (enums): any one
        return knob.first


def _check_point(space: SearchSpace, params: dict[str, Any], what: str) -> None:
    try:
        space.candidate_from_params(params)
    except pydantic.ValidationError as err:
        raise ConfigError(f"search space '{space.name}': {what} gives an invalid candidate: "
                          f"{describe_validation_error(err)}") from err


def check_profile(profile: str, space: SearchSpace) -> None:
    """The profile loads and prices the space's base candidate to finite latency and power."""
    from dslnas.hw_models.cost import ProfileCostModel
    from dslnas.hw_models.profile import load_profile

    cost = ProfileCostModel(load_profile(profile)).predict(space.base, PREFLIGHT_LIGHT_USAGE)
    for name, figures in (("latency_ms", cost.latency_ms), ("power_mw", cost.power_mw)):
        values = (figures.light, figures.full, figures.mixed)
        if not all(math.isfinite(v) for v in values):
            raise ConfigError(f"profile '{profile}' prices the base candidate '{space.base.name}' at a "
                              f"non-finite {name} ({', '.join(map(str, values))})")


def _training_data(config: SearchConfig) -> list[DataConfig]:
    """The data of the base training and of the fine-tunes (as ``base_codec`` and ``trial`` pick it)."""
    if config.data is not None:
        return [config.data]
    found = [config.space.base_train.data, config.space.finetune.data]
    return found[:1] if found[0] == found[1] else found


def check_data(data: DataConfig, sample_rate_hz: int | None = None) -> "DataCheck | None":
    """The data's path exists and holds audio (generated demo audio needs nothing). With ``sample_rate_hz``, every
    file's header is read too (``trainers.data.check``): an unreadable or empty file is a DataError naming it,
    and the check (lengths, rates, labels) is returned. Cheap: no audio is read."""
    if data.kind in (DatasetKind.DEMO, DatasetKind.SYNTH):  # generated here (synth: on first use)
        return None
    path = Path(str(data.path)).expanduser()
    if not path.exists():
        raise DataError(f"data path {path} does not exist")
    if data.kind in (DatasetKind.MANIFEST, DatasetKind.AUDIOSET):
        _check_csv(data, path)
    elif not path.is_dir():
        raise DataError(f"data path {path}: expected a folder of wav/flac for kind '{data.kind.value}', found a file")
    elif not any(_audio_files(path)):
        raise DataError(f"data path {path}: no audio files (*.wav, *.flac) found")
    if sample_rate_hz is None:
        return None
    from dslnas.trainers.data import load_dataset
    from dslnas.trainers.data.check import check_clips
    from dslnas.trainers.data.clips import visqol_min_samples

    clips = load_dataset(data, sample_rate_hz, min_samples=1)  # headers only
    return check_clips(str(path), clips, sample_rate_hz, visqol_min_samples(sample_rate_hz))


def _check_csv(data: DataConfig, path: Path) -> None:
    if not path.is_file():
        raise DataError(f"data path {path}: expected a CSV file for kind '{data.kind.value}', found a folder")
    if data.kind is DatasetKind.MANIFEST:
        from dslnas.trainers.data.manifest import read_manifest

        if not read_manifest(path).entries:
            raise DataError(f"data path {path}: the manifest lists no audio")
    else:
        audio_dir = Path(data.audio_dir).expanduser() if data.audio_dir else path.parent
        if not audio_dir.is_dir():
            raise DataError(f"data.audio_dir {audio_dir}: AudioSet audio folder not found")


def _audio_files(root: Path) -> Iterator[Path]:
    from dslnas.trainers.data.audio_io import is_audio_file

    return (p for p in root.rglob("*") if is_audio_file(p))


def check_storage(url: str | None) -> None:
    """The storage can be used: a journal's or SQLite file's folder is writable; a server URL parses and
    its driver imports (nothing connects: opening the study does, before any training)."""
    from dslnas.search.storage import is_journal_url, journal_path, resolve_storage_url, shown_url

    if url is None:
        return  # the default SQLite file lives in the runs folder, checked by preflight
    if is_journal_url(url):
        path = journal_path(url)
        if path.is_dir():
            raise UserError(f"journal file {path} is a folder; give a file path")
        check_writable_dir(path.parent, "journal folder")
        return
    import sqlalchemy

    try:
        engine_url = sqlalchemy.engine.make_url(resolve_storage_url(url))
        if engine_url.get_backend_name() == "sqlite" and engine_url.database not in (None, "", ":memory:"):
            check_writable_dir(Path(engine_url.database).parent, "SQLite folder")
        sqlalchemy.create_engine(engine_url).dispose()
    except UserError:
        raise
    except Exception as err:  # a bad URL or a driver that is not installed
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise UserError(f"storage {shown_url(url)!r} cannot be used: {first}") from err
