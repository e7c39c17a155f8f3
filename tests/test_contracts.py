"""Contract tests: every member of every registry passes the same checks (as Optuna's pytest_samplers).

- samplers: each runs at least two trials of the demo space's knob table with constraints present;
- power meters: each builds from the registry and reads a finite mW value (or says it reads none);
- search backends: each is found by name, is a SearchBackend, and unknown names list the valid ones.
  (The end-to-end backend contract, the same record fields in storage for a tiny search, is
  ``test_search_backends.py::test_every_backend_leaves_the_same_record_fields``: it trains, so it is slow.)
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import optuna
import pytest

from dslnas.hw_models.runners.power_meters import POWER_METERS, PowerMeter, get_power_meter
from dslnas.search.backends import BACKENDS, get_backend
from dslnas.search.backends.base import SearchBackend
from dslnas.search.config import SearchConfig
from dslnas.search.samplers import SAMPLERS, make_sampler
from dslnas.spaces.errors import UserError
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
