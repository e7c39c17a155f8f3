"""Contract tests: every member of every registry passes the same checks (as Optuna's pytest_samplers).

- samplers: each runs at least two trials of the demo space's knob table with constraints present;
- power meters: each builds from the registry and reads a finite mW value (or says it reads none);
- search backends: each is found by name, is a SearchBackend, and unknown names list the valid ones;
- data layouts: each ``DatasetKind`` loads labelled mono clips in a stable order, and ``--data PATH`` tells
  the path-named ones apart.
  (The end-to-end backend contract, the same record fields in storage for a tiny search, is
  ``test_search_backends.py::test_every_backend_leaves_the_same_record_fields``: it trains, so it is slow.)
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch

from dslnas.hw_models.runners.power_meters import POWER_METERS, PowerMeter, get_power_meter
from dslnas.search.backends import BACKENDS, get_backend
from dslnas.search.backends.base import SearchBackend
from dslnas.search.config import SearchConfig
from dslnas.search.samplers import SAMPLERS, make_sampler
from dslnas.spaces.errors import UserError
from dslnas.spaces.run_config import DataConfig, DatasetKind
from dslnas.spaces.space_presets import demo_space


def _toy_objective(space, trial: optuna.Trial) -> tuple[float, float]:
    """Quality falls with thinner light paths and larger alpha; 'latency' grows with the widths."""
    candidate = space.suggest(trial)
    widths = sum(candidate.dsl.light_widths)
    quality = 4.0 - 1.0 / widths - 10 * candidate.dsl.alpha
    latency = 5.0 + 0.05 * widths - candidate.dsl.threshold
    trial.set_constraint("max_latency_ms", latency - 6.0)
    return quality, latency


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_every_sampler_runs_trials_with_constraints(name: str) -> None:
    config = SearchConfig(space=demo_space(), sampler=name, seed=1)
    study = optuna.create_study(directions=[o.direction for o in config.space.objectives], sampler=make_sampler(config))
    study.optimize(lambda t: _toy_objective(config.space, t), n_trials=4)
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(done) >= 2
    for trial in done:
        assert "switch_depth" in trial.params and trial.constraints  # constraints stored with every trial
        candidate = config.space.candidate_from_params(trial.params)
        assert len(candidate.dsl.light_widths) == candidate.encoder.n_blocks - candidate.dsl.switch_depth + 1


def test_unknown_sampler_lists_the_valid_ones() -> None:
    with pytest.raises(UserError, match="unknown sampler 'cmaes'; valid: gp, grid, nsga2, random, tpe"):
        SearchConfig(space=demo_space(), sampler="cmaes")


def _meter_factories(tmp_path: Path) -> dict[str, object]:
    hwmon = tmp_path / "hwmon0"
    hwmon.mkdir()
    (hwmon / "power1_input").write_text("2500000\n")  # uW
    return {
        "none": lambda: get_power_meter("none"),
        "command": lambda: get_power_meter("command", command=[sys.executable, "-c", "print('12.5 mW')"]),
        "hwmon": lambda: get_power_meter("hwmon", path=hwmon),
    }


@pytest.mark.parametrize("name", sorted(POWER_METERS))
def test_every_power_meter_keeps_the_contract(name: str, tmp_path: Path) -> None:
    factories = _meter_factories(tmp_path)
    assert set(factories) == set(POWER_METERS), "a new power meter needs a contract factory here"
    meter = factories[name]()
    assert isinstance(meter, PowerMeter) and meter.name == name
    if meter.measures_power:
        reading = meter.read_mw()
        assert math.isfinite(reading) and reading >= 0
    else:
        with pytest.raises(UserError):
            meter.read_mw()


def test_unknown_power_meter_lists_the_valid_ones() -> None:
    with pytest.raises(UserError, match="unknown power meter 'ina'; valid: command, hwmon, none"):
        get_power_meter("ina")


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_every_backend_is_a_search_backend(name: str) -> None:
    backend = get_backend(name)
    assert isinstance(backend, SearchBackend) and backend.name == name
    assert isinstance(backend.queues_references, bool)


def test_unknown_backend_lists_the_valid_ones() -> None:
    with pytest.raises(UserError, match="unknown search backend 'dask'; valid: optuna, ray"):
        SearchConfig(space=demo_space(), backend="dask")


def _wav(path: Path, seconds: float = 0.3, rate_hz: int = 16_000, seed: int = 0) -> Path:
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    samples = 0.1 * np.random.default_rng(seed).standard_normal(round(seconds * rate_hz))
    soundfile.write(str(path), samples, rate_hz, subtype="PCM_16")
    return path


def _manifest(root: Path) -> Path:
    _wav(root / "a.wav")
    _wav(root / "b.wav", seed=1)
    (root / "manifest.csv").write_text("path,label,speaker,seconds\na.wav,speech,ann,0.3\nb.wav,silence,,0.3\n")
    return root


def _layout_factories(root: Path) -> dict[DatasetKind, Callable[[], DataConfig]]:
    """Per data layout, a tiny dataset of it on disk (DEMO generates its clips, SYNTH reads a made corpus)."""
    def folder() -> DataConfig:
        _wav(root / "one.wav")
        return DataConfig(kind=DatasetKind.FOLDER, path=str(root))

    def labelled() -> DataConfig:
        _wav(root / "speech" / "s.wav")
        _wav(root / "silence" / "q.flac", seed=1)
        return DataConfig(kind=DatasetKind.LABELLED_FOLDER, path=str(root))

    def libritts() -> DataConfig:
        _wav(root / "19" / "198" / "19_198_000000_000000.wav", rate_hz=24_000)
        _wav(root / "27" / "124" / "27_124_000000_000003.wav", rate_hz=24_000, seed=1)
        return DataConfig(kind=DatasetKind.LIBRITTS, path=str(root))

    def audioset() -> DataConfig:
        _wav(root / "clip.wav", 1.0)
        (root / "segments.csv").write_text('# YTID, start_seconds, end_seconds, positive_labels\nclip, 0.0, 0.5, "/m/09x0r"\n')
        return DataConfig(kind=DatasetKind.AUDIOSET, path=str(root / "segments.csv"))

    return {
        DatasetKind.DEMO: lambda: DataConfig(kind=DatasetKind.DEMO, demo_clips=4, demo_clip_seconds=0.2),
        DatasetKind.FOLDER: folder,
        DatasetKind.LABELLED_FOLDER: labelled,
        DatasetKind.LIBRITTS: libritts,
        DatasetKind.MANIFEST: lambda: DataConfig(kind=DatasetKind.MANIFEST, path=str(_manifest(root) / "manifest.csv")),
        DatasetKind.AUDIOSET: audioset,
        DatasetKind.SYNTH: lambda: DataConfig(kind=DatasetKind.SYNTH, path=str(_manifest(root))),
    }


PROBED = {DatasetKind.FOLDER, DatasetKind.LABELLED_FOLDER, DatasetKind.LIBRITTS, DatasetKind.MANIFEST, DatasetKind.AUDIOSET}
"""The layouts ``--data PATH`` tells apart (``trainers.data.layout``); DEMO has no path, SYNTH's is its cache."""


@pytest.mark.parametrize("kind", list(DatasetKind))
def test_every_data_layout_loads_labelled_mono_clips(kind: DatasetKind, tmp_path: Path) -> None:
    from dslnas.trainers.data import load_dataset
    from dslnas.trainers.data.layout import data_config_for

    factories = _layout_factories(tmp_path)
    assert set(factories) == set(DatasetKind), "a new data layout needs a contract factory here"
    cfg = factories[kind]()
    clips = load_dataset(cfg, 16_000, min_samples=800)
    assert clips and len({c.clip_id for c in clips}) == len(clips)
    for clip in clips:
        audio = clip.audio
        assert audio.dtype == torch.float32 and audio.dim() == 1 and audio.numel() == clip.num_samples >= 800
        assert clip.label and bool(torch.isfinite(audio).all()) and float(audio.abs().max()) <= 1.0
    assert [c.clip_id for c in load_dataset(cfg, 16_000, min_samples=800)] == [c.clip_id for c in clips]  # same order
    if kind in PROBED:
        assert data_config_for(cfg.path).kind is kind


TINY_SPACE = Path(__file__).parent / "data" / "tiny-space.yaml"


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_every_backend_stores_the_same_record_fields_fast(backend: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The backend contract without training: the trial runner returns fixture points, so a 3-trial search takes
    seconds; every stored record holds exactly the stored table's keys, the references are queued, values are the
    records' objectives. (Ray runs trials in its own processes, which a stub does not reach: its trainable and
    driver-side recording run in-process in ``test_ray_records_fast.py``; a whole Ray search is
    ``test_search_backends.py::test_every_backend_leaves_the_same_record_fields``, slow.)"""
    from dataclasses import replace

    from dslnas.search import run as search_run
    from dslnas.search.points import CandidatePoints
    from dslnas.search.records import ATTR_RECORD, STORED_FIELDS, Role, record_from_trial, role_of
    from dslnas.search.trial import TrialRunner
    from dslnas.spaces.space_presets import load_space
    from study_fixtures import make_record

    if backend == "ray":
        pytest.skip("ray trials run in ray's worker processes; see test_ray_records_fast.py and the slow backend test")

    def fake_run(self: TrialRunner, candidate, trial_key: str, *args, **kwargs) -> CandidatePoints:
        checkpoint = tmp_path / "trials" / trial_key / "checkpoint.pt"
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        checkpoint.write_bytes(b"weights")
        points = tuple(replace(make_record(candidate.with_dsl(threshold=t), usage, 4.4, 4.4 - 0.2 * usage),
                               checkpoint=str(checkpoint)) for t, usage in ((0.0, 0.0), (0.5, 0.4), (1.0, 0.8)))
        return CandidatePoints(points, own=1)

    monkeypatch.setattr(search_run, "ensure_base_codec", lambda config, on_step=None: tmp_path / "base.pt")
    monkeypatch.setattr(TrialRunner, "run", fake_run)
    config = SearchConfig(study=f"fast-{backend}", space=load_space(str(TINY_SPACE)), trials=3, backend=backend,
                          storage=f"sqlite:///{tmp_path / 'study.db'}", runs_root=str(tmp_path / "runs"))
    assert search_run.run_search(config).after.complete == 3
    study = optuna.load_study(study_name=config.study, storage=config.storage)
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    roles = [role_of(t) for t in done]
    assert roles.count(Role.REFERENCE) == 1 and roles.count(Role.BASELINE) == 1
    for trial in done:
        assert list(trial.user_attrs[ATTR_RECORD]) == [f.name for f in STORED_FIELDS]
        record = record_from_trial(trial)
        assert trial.values == [record.visqol_mixed, record.latency_ms]
