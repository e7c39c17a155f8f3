"""Ray Tune backend: a ``Tuner`` with ``OptunaSearch`` (multi-objective), results in the Optuna storage.

Ray runs the trials (locally, or on the cluster at ``--address``) with the resources the config asks for;
a driver-side callback writes each finished Ray trial into the study through the same record format as
the Optuna backend, so ``report``/``export`` do not care which backend ran (each trained trial's other sweep
points included; ``OptunaSearch``'s own sampler learns from the trained trials' own points only). On resume, finished trials of
the study are handed to ``OptunaSearch`` as already evaluated points.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState
from ray.tune import Callback

from dslnas.search.artifacts import claim_study_store, link_attrs, open_artifact_store, write_checkpoint
from dslnas.search.backends.base import ProgressCallback, SearchBackend
from dslnas.search.backends.optuna_backend import objective_values
from dslnas.search.config import SearchConfig
from dslnas.search.records import Role, fail_attrs, record_attrs, record_from_json, record_to_json, role_attrs
from dslnas.search.samplers import make_sampler
from dslnas.search.points import CandidatePoints
from dslnas.search.study import add_sweep_trials, open_study, trained_trials
from dslnas.search.points import constraint_values
from dslnas.search.trial import TrialRunner

POINTS_KEY = "dslnas_points"   # every sweep point's record, as JSON
OWN_KEY = "dslnas_own"         # index of the trained trial's own point


def _trainable(params: dict[str, Any], config_json: str, base_checkpoint: str) -> dict[str, Any]:
    """Runs inside a Ray worker: one trial, returning its own point's objective values and every point."""
    import ray.tune

    import torch

    config = SearchConfig.model_validate_json(config_json)
    torch.set_num_threads(config.torch_threads or max(1, int(config.cpus_per_trial)))  # this trial's CPUs
    candidate = config.space.candidate_from_params(params)
    trial_key = f"ray-{ray.tune.get_context().get_trial_id()}"
    points = TrialRunner(config, Path(base_checkpoint)).run(candidate, trial_key)
    objective_values(points, config)  # raises on NaN / inf: Ray records the trial as errored, we as FAIL
    points = write_checkpoint(open_artifact_store(config.artifact_location), points)
    result: dict[str, Any] = {o.value: points.own_point.objective_value(o) for o in config.space.objectives}
    result[POINTS_KEY] = [record_to_json(r) for r in points.points]
    result[OWN_KEY] = points.own
    return result


def record_ray_trial(study: optuna.Study, config: SearchConfig, params: dict[str, Any], result: dict[str, Any] | None,
                     error: str | None, role: Role) -> None:
    """Write one finished Ray trial into the Optuna study (COMPLETE with its record, or FAIL with the reason)."""
    params = config.space.used_params(params)
    dists = {k: v for k, v in config.space.optuna_distributions().items() if k in params}
    attrs: dict[str, Any] = role_attrs(role)
    if result is not None and POINTS_KEY in result:
        points = CandidatePoints(tuple(record_from_json(r) for r in result[POINTS_KEY]), int(result[OWN_KEY]))
        record = points.own_point
        try:
            values = objective_values(points, config)
        except ValueError as err:
            attrs.update(fail_attrs(err))
            study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, user_attrs=attrs,
                                                      state=TrialState.FAIL))
            return
        attrs.update(record_attrs(record))
        constraints = constraint_values(record, config.space.constraints)
        links = link_attrs(record.checkpoint_artifact, record.checkpoint) if record.checkpoint_artifact else {}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, values=values, user_attrs=attrs,
                                                  constraints=constraints, system_attrs=links))
        number = study.get_trials(deepcopy=False)[-1].number
        add_sweep_trials(study, config, number, params, points, role)
    else:
        attrs.update(fail_attrs(error or "Ray trial ended without a result"))
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, user_attrs=attrs, state=TrialState.FAIL))


class OptunaRecorder(Callback):
    """Driver-side Ray Tune callback: writes each finished Ray trial into the Optuna study.

    Ray pickles its callbacks with the experiment state; the study handle and the progress hook are not
    picklable and are dropped from that copy (dslnas resumes from the Optuna storage, never from Ray's).
    """

    def __init__(self, config: SearchConfig, references: list[dict[str, Any]], on_trial: Any = None) -> None:
        self.config, self.references, self._on_trial = config, references, on_trial
        self._study: optuna.Study | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_on_trial": None, "_study": None}

    @property
    def study(self) -> optuna.Study:
        if self._study is None:
            self._study = open_study(self.config)
        return self._study

    def _role(self, params: dict[str, Any]) -> Role:
        for ref in self.references:
            if all(params.get(k) == v for k, v in ref.items()):
                return Role.REFERENCE
        return Role.SEARCH

    def _record(self, trial: Any, result: dict[str, Any] | None, error: str | None) -> None:
        record_ray_trial(self.study, self.config, trial.config, result, error, self._role(trial.config))
        if self._on_trial is not None:
            self._on_trial()

    def on_trial_complete(self, iteration, trials, trial, **info):  # noqa: ANN001 - Ray's signature
        self._record(trial, trial.last_result, None)

    def on_trial_error(self, iteration, trials, trial, **info):  # noqa: ANN001
        self._record(trial, None, _error_text(trial) or "Ray trial raised")


def _error_text(trial: Any) -> str | None:
    path = getattr(trial, "error_file", None)
    if path and Path(path).exists():
        lines = [ln for ln in Path(path).read_text().splitlines() if ln.strip()]
        return lines[-1] if lines else None
    return None


def _evaluated_points(study: optuna.Study, config: SearchConfig) -> tuple[list[dict], list[list[float]]]:
    """Finished trials as (points, values) for OptunaSearch, so a resumed Ray search knows them."""
    done = trained_trials(study)
    return [config.space.complete_params(t.params) for t in done], [list(t.values) for t in done]


class RayBackend(SearchBackend):
    """Ray Tune's ``Tuner`` with ``OptunaSearch``, locally or on the cluster at ``config.ray_address``."""

    name = "ray"
    queues_references = False  # handed to OptunaSearch as points to evaluate

    def run(self, config: SearchConfig, base_checkpoint: Path, max_attempts: int,
            on_progress: ProgressCallback | None = None) -> None:
        if config.fidelity is not None:  # Tune's schedulers take one metric: Pareto halving drives Ray tasks
            from dslnas.search.fidelity_run import run_fidelity

            run_fidelity(config, base_checkpoint, RayJobs(config, base_checkpoint), on_progress)
            return
        run_ray(config, base_checkpoint, max_attempts, on_progress)


class RayJobs:
    """Multi-fidelity rung jobs as Ray tasks (``cpus_per_trial`` / ``gpus_per_trial`` each), locally or on the
    cluster at ``config.ray_address``; a rung's jobs run at once, up to what the cluster holds."""

    def __init__(self, config: SearchConfig, base_checkpoint: Path) -> None:
        self.config, self.base_checkpoint = config, base_checkpoint

    def run(self, jobs: Any) -> Any:
        import ray

        from dslnas.search.fidelity_run import failure_text

        if not jobs:
            return
        _init_ray(self.config)
        task = ray.remote(num_cpus=self.config.cpus_per_trial, num_gpus=self.config.gpus_per_trial)(_ray_job)
        pending = {task.remote(self.config.model_dump_json(), str(self.base_checkpoint), job): job for job in jobs}
        while pending:
            [done], _ = ray.wait(list(pending), num_returns=1)
            job = pending.pop(done)
            try:
                yield job, ray.get(done)
            except Exception as err:  # a task's exception arrives wrapped (RayTaskError): recorded, the search goes on
                yield job, failure_text(getattr(err, "cause", None) or err)


def _ray_job(config_json: str, base_checkpoint: str, job: Any) -> CandidatePoints:
    """Runs inside a Ray worker: one rung job with this task's CPUs as torch threads."""
    import torch

    from dslnas.search.fidelity_run import run_job

    config = SearchConfig.model_validate_json(config_json)
    torch.set_num_threads(config.torch_threads or max(1, int(config.cpus_per_trial)))
    return run_job(config, Path(base_checkpoint), job)


def _init_ray(config: SearchConfig) -> None:
    import ray

    if not ray.is_initialized():
        ray.init(address=config.ray_address, include_dashboard=False, log_to_driver=False,
                 num_cpus=None if config.ray_address else max(1, int(config.cpus_per_trial * config.workers)))


def run_ray(config: SearchConfig, base_checkpoint: Path, n_trials: int, on_trial: ProgressCallback | None = None) -> None:
    """Run up to ``n_trials`` trials on Ray, stopping when the study has ``config.trials`` completed ones."""
    import ray
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    study = open_study(config)
    open_artifact_store(config.artifact_location)  # created (or found) before any worker writes to it
    claim_study_store(study, config.artifact_location)
    n_done = len(trained_trials(study))
    _init_ray(config)
    objectives = config.space.objectives
    references = []
    points, rewards = _evaluated_points(study, config)
    if n_done == 0 and not points:
        references = [config.space.complete_params(config.space.reference_point())]
    search = OptunaSearch(
        space=config.space.optuna_distributions(),
        metric=[o.value for o in objectives],
        mode=["max" if o.maximise else "min" for o in objectives],
        sampler=make_sampler(config),
        points_to_evaluate=(points + references) or None,
        evaluated_rewards=rewards or None,
    )
    trainable = tune.with_resources(
        tune.with_parameters(_trainable, config_json=config.model_dump_json(), base_checkpoint=str(base_checkpoint)),
        {"cpu": config.cpus_per_trial, "gpu": config.gpus_per_trial},
    )
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(search_alg=search, num_samples=max(0, config.trials - n_done),
                                    max_concurrent_trials=config.max_concurrent_trials or config.workers),
        run_config=tune.RunConfig(name=f"ray-{config.study}", storage_path=str(config.study_root / "ray"),
                                  callbacks=[OptunaRecorder(config, references, on_trial)], verbose=0),
    )
    with contextlib.redirect_stdout(sys.stderr):  # Ray Tune's tables must not mix with --json on stdout
        tuner.fit()
