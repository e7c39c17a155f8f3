"""The Ray backend's half of the backend contract, without starting Ray (seconds).

``test_contracts.py::test_every_backend_stores_the_same_record_fields_fast`` runs a stubbed 3-trial search on
every backend but Ray, whose trials run in Ray's worker processes where a stub does not reach. What Ray adds to
the shared record code is two functions: the worker-side trainable (one trial -> a result dict carrying every
point's record as JSON) and the driver-side ``record_ray_trial`` (that dict -> an Optuna trial). Here both run
in-process on a stubbed trial runner and the stored trial is held to the same contract as the other backends':
exactly the stored table's keys, the objectives are the record's, the checkpoint link resolves. Ray's scheduling
itself is covered by the slow ``test_search_backends.py::test_every_backend_leaves_the_same_record_fields``.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest

from dslnas.search.config import SearchConfig
from dslnas.search.points import CandidatePoints
from dslnas.search.records import ATTR_RECORD, STORED_FIELDS, Role, parent_of, record_from_trial, role_of
from dslnas.search.study import open_study
from dslnas.search.trial import TrialRunner
from dslnas.spaces.space_presets import load_space
from study_fixtures import fake_trial_points

ray_backend = pytest.importorskip("dslnas.search.backends.ray_backend")
TINY_SPACE = Path(__file__).parent / "data" / "tiny-space.yaml"


def test_a_ray_trial_is_stored_with_the_same_record_fields(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ray.tune

    usages = (0.0, 0.4, 0.8)

    def fake_run(self: TrialRunner, candidate, trial_key: str, *args, **kwargs) -> CandidatePoints:
        return fake_trial_points(tmp_path, candidate, trial_key, usages)

    monkeypatch.setattr(TrialRunner, "run", fake_run)
    monkeypatch.setattr(ray.tune, "get_context", lambda: SimpleNamespace(get_trial_id=lambda: "t0"))
    config = SearchConfig(study="fast-ray", space=load_space(str(TINY_SPACE)), trials=1, backend="ray",
                          storage=f"sqlite:///{tmp_path / 'study.db'}", runs_root=str(tmp_path / "runs"))
    params = config.space.complete_params(config.space.reference_point())
    result = ray_backend._trainable(params, config.model_dump_json(), str(tmp_path / "base.pt"))
    assert set(result) == {*(o.value for o in config.space.objectives), ray_backend.POINTS_KEY, ray_backend.OWN_KEY}

    study = open_study(config)
    ray_backend.record_ray_trial(study, config, params, result, None, Role.REFERENCE)
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    trained = [t for t in done if parent_of(t) is None]
    assert len(trained) == 1 and role_of(trained[0]) is Role.REFERENCE
    assert len(done) == len(usages)   # the trained point and its sweep points
    for trial in done:
        assert list(trial.user_attrs[ATTR_RECORD]) == [f.name for f in STORED_FIELDS]
        record = record_from_trial(trial)
        assert trial.values == [record.visqol_mixed, record.latency_ms]
    own = record_from_trial(trained[0])
    assert own.light_usage == usages[1] and own.checkpoint_artifact
    assert [o.value for o in config.space.objectives] == ["visqol", "latency_ms"]
