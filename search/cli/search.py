"""CLI commands ``search`` (the main job) and ``trials`` (every trial of a study, for scripts)."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from dslnas.search.backends import BACKENDS
from dslnas.search.cli.common import (
    JsonOpt, StorageOpt, StudyOpt, console, eta_text, fail, print_json, progress_bar, quiet_optuna,
)
from dslnas.search.cli.report import MaxVisqolLossOpt
from dslnas.search.config import DEFAULT_PROFILE, DEFAULT_SAMPLER, REFERENCE_PROFILE
from dslnas.search.samplers import SAMPLERS

if TYPE_CHECKING:
    import optuna

    from dslnas.search.fidelity import FidelityConfig
    from dslnas.search.run import SearchStatus
    from dslnas.spaces.run_config import DataConfig
    from dslnas.spaces.space import SearchSpace


def search_command(
    space: Annotated[str, typer.Option("--space", help="Search space: 'demo', 'paper' or a YAML file.")] = "demo",
    trials: Annotated[int, typer.Option("--trials", min=1, help="The study's total of trained candidates (not this run's; each brings its swept thresholds as points): a rerun continues up to it, a larger number extends the study.")] = 12,
    backend: Annotated[str, typer.Option("--backend", help=f"Search backend: {', '.join(BACKENDS)} (optuna: workers on a shared storage; ray: Ray Tune).")] = "optuna",
    storage: Annotated[Optional[str], typer.Option("--storage", help="Optuna storage URL (default: SQLite under runs/<study>/); postgresql://... for a cluster, *.log for a journal file.")] = None,
    study: Annotated[Optional[str], typer.Option("--study", help="Study name (default: the space's name).")] = None,
    sampler: Annotated[str, typer.Option("--sampler", help=f"Optuna sampler: {', '.join(SAMPLERS)} (random: the best on bench/search_efficiency.py at the demo's budget; gp the best model-based one; docs/search-efficiency.md).")] = DEFAULT_SAMPLER,
    seed: Annotated[int, typer.Option("--seed", help="Sampler seed (training seeds are in the space's recipes).")] = 0,
    fidelity: Annotated[str, typer.Option("--fidelity", help="full: every candidate gets the whole fine-tune; sh: Pareto successive halving on the fine-tune's steps (docs/search.md).")] = "full",
    rungs: Annotated[Optional[str], typer.Option("--rungs", help="--fidelity sh: fine-tune steps per rung, comma-separated, ending at the space's finetune.steps (default: steps/eta^2, steps/eta, steps).")] = None,
    eta: Annotated[int, typer.Option("--eta", min=2, help="--fidelity sh: each rung keeps 1/eta of its candidates.")] = 3,
    bracket_size: Annotated[Optional[int], typer.Option("--bracket-size", min=1, help="--fidelity sh: candidates entering a bracket's first rung (default eta^(rungs-1): one finalist).")] = None,
    data: Annotated[Optional[Path], typer.Option("--data", help="Folder of wav/flac or an AudioSet-style CSV (default: generated demo audio).")] = None,
    profile: Annotated[str, typer.Option("--profile", help=f"Device profile name or YAML used to price candidates ({REFERENCE_PROFILE}: the paper-solved reference).")] = DEFAULT_PROFILE,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Parallel trials (processes for optuna, concurrent trials for ray).")] = 1,
    address: Annotated[Optional[str], typer.Option("--address", help="Ray cluster address (default: start a local Ray).")] = None,
    gpus_per_trial: Annotated[float, typer.Option("--gpus-per-trial", min=0.0, help="Ray: GPUs per trial.")] = 0.0,
    heartbeat_interval: Annotated[int, typer.Option("--heartbeat-interval", min=1, help="Seconds between a running trial's heartbeats (RDB storages).")] = 20,
    grace_period: Annotated[int, typer.Option("--grace-period", min=1, help="Seconds without heartbeat before a trial counts as dead and is retried.")] = 60,
    artifacts: Annotated[Optional[str], typer.Option("--artifacts", help="Artifact store every node reaches (a shared folder; s3://bucket/prefix): trial checkpoints go there. Default: runs/<study>/artifacts.")] = None,
    eval_clip_seconds: Annotated[Optional[float], typer.Option("--eval-clip-seconds", min=0.0, help="Score each held-out clip's first N s (>= 1; 0: whole clips). Default: the space's setting (kept with --data).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the final status as JSON on stdout.")] = False,
) -> None:
    """Search DSL configurations: quality (ViSQOL) against predicted A32 latency/power. With no options:
    the demo space on generated audio, stored under runs/demo/. Exits 1 when every trial of the run failed."""
    from dslnas.search.config import SearchConfig
    from dslnas.search.run import run_search
    from dslnas.spaces.space_presets import load_space

    quiet_optuna()
    space_obj = load_space(space)
    config = SearchConfig(
        study=study or space_obj.name, space=space_obj, trials=trials, backend=backend, storage=storage,
        sampler=sampler, seed=seed, data=_user_data(data, space_obj, eval_clip_seconds), profile=profile, workers=workers,
        ray_address=address, gpus_per_trial=gpus_per_trial, max_concurrent_trials=workers,
        heartbeat_interval_s=heartbeat_interval, grace_period_s=grace_period, artifact_store=artifacts,
        fidelity=_fidelity(fidelity, rungs, eta, bracket_size, space_obj),
    )
    console.print(f"study [bold]{config.study}[/] · space {space_obj.name} · profile {config.profile} · {backend}/{sampler} · "
                  f"storage {storage or config.runs_root + '/' + config.study + '/optuna.db'}")
    with progress_bar() as bar:
        pretrained = space_obj.pretrained_base
        base_task = bar.add_task("base codec", total=1 if pretrained else space_obj.base_train.steps,
                                 status=f"shipped {pretrained}" if pretrained else "")
        trial_task = bar.add_task("trials", total=trials, status="")

        def on_base_step(step: int, total: int, losses: dict[str, float]) -> None:
            bar.update(base_task, completed=step, status=f"loss {losses['total']:.3f}")

        started, first_complete = time.monotonic(), []

        def on_status(status: "SearchStatus") -> None:  # the ETA counts this run's trials only
            bar.update(base_task, completed=1 if pretrained else space_obj.base_train.steps)
            first_complete[:] = first_complete or [status.complete]
            eta = eta_text(time.monotonic() - started, status.complete - first_complete[0], trials - first_complete[0])
            bar.update(trial_task, completed=status.complete, status=f"{_status_text(status)} · {eta}")

        outcome = run_search(config, on_status=on_status, on_base_step=on_base_step)
        on_status(outcome.after)
    final = outcome.after
    if json_out:
        print_json({**final.__dict__, "completed_now": outcome.completed_now, "failed_now": outcome.failed_now,
                    "rank_correlation": [{**r.__dict__, "spearman": None if math.isnan(r.spearman) else r.spearman}
                                         for r in outcome.rank_correlation]})
    for row in () if json_out else outcome.rank_correlation:
        console.print(f"low vs full fidelity, {row.text()}")
    if outcome.all_failed:
        fail(f"all {outcome.failed_now} trial(s) of this run failed; see why with: dslnas trials --study {config.study}"
             + (f" --storage {storage}" if storage else ""), code=1)
    if not json_out:
        console.print(f"done: {final.complete} complete, {final.failed} failed, front of {final.front_size}. "
                      f"Next: dslnas report --study {config.study}" + (f" --storage {storage}" if storage else ""))


def _fidelity(kind: str, rungs: str | None, eta: int, bracket_size: int | None, space: "SearchSpace") -> "FidelityConfig | None":
    """The ``--fidelity`` options as a config (None for ``full``); one UserError line for anything unusable."""
    from pydantic import ValidationError

    from dslnas.search.fidelity import FidelityConfig, FidelityKind, default_rungs
    from dslnas.spaces.errors import UserError, unknown_name

    if kind not in {k.value for k in FidelityKind}:
        raise unknown_name("--fidelity", kind, [k.value for k in FidelityKind])
    if FidelityKind(kind) is FidelityKind.FULL:
        if rungs is not None or bracket_size is not None:
            raise UserError("--rungs and --bracket-size apply to --fidelity sh only")
        return None
    full_steps = space.finetune.steps
    try:
        steps = tuple(int(x) for x in rungs.split(",")) if rungs else default_rungs(full_steps, eta)
        config = FidelityConfig(rungs_steps=steps, eta=eta, bracket_size=bracket_size)
    except ValueError as err:  # pydantic's ValidationError is one
        why = err.errors()[0]["msg"] if isinstance(err, ValidationError) else "expected comma-separated step counts"
        raise UserError(f"--rungs {rungs!r}: {why}") from None
    if steps[-1] != full_steps or space.finetune.lr_schedule.value != "constant":
        raise UserError(f"--fidelity sh: the rungs must end at the space's finetune.steps ({full_steps}), got "
                        f"{list(steps)}, and the fine-tune's lr_schedule must be constant")
    return config


def _user_data(path: Path | None, space: "SearchSpace", eval_clip_seconds: float | None = None) -> "DataConfig | None":
    """``--data PATH`` with the space's evaluation settings (eval_clip_seconds, eval_fraction, seed) kept, and
    ``--eval-clip-seconds`` over the space's cut (0: whole clips); None: the space's own data unchanged."""
    from dslnas.spaces.errors import UserError
    from dslnas.trainers.data.layout import data_config_for

    if eval_clip_seconds is not None and 0 < eval_clip_seconds < 1:
        raise UserError(f"--eval-clip-seconds must be 0 (whole clips) or at least 1, got {eval_clip_seconds:g}")
    settings = space.finetune.data
    cut = settings.eval_clip_seconds if eval_clip_seconds is None else (eval_clip_seconds or None)
    if path is None:
        return None if eval_clip_seconds is None else settings.model_copy(update={"eval_clip_seconds": cut})
    return data_config_for(path, eval_clip_seconds=cut, eval_fraction=settings.eval_fraction, seed=settings.seed)


def _status_text(status: "SearchStatus") -> str:
    best = ", ".join(f"{k} {v:.2f}" for k, v in (status.best or {}).items())
    return f"failed {status.failed} · front {status.front_size}" + (f" · best {best}" if best else "")


def trial_json(trial: "optuna.trial.FrozenTrial") -> dict[str, Any]:
    """One trial for scripts: number, state, params, values, role, failure reason, record and its named fields."""
    from dslnas.search.records import fail_reason, record_from_trial, record_to_json, role_of
    from dslnas.search.records.fields import record_fields_json

    record = record_from_trial(trial)
    return {
        "number": trial.number,
        "state": trial.state.name,
        "params": trial.params,
        "values": trial.values,
        "role": role_of(trial).value,
        "fail_reason": fail_reason(trial),
        "record": None if record is None else record_to_json(record),
        "fields": None if record is None else record_fields_json(record),  # the field table's named figures
        "datetime_start": trial.datetime_start.isoformat() if trial.datetime_start else None,
        "datetime_complete": trial.datetime_complete.isoformat() if trial.datetime_complete else None,
    }


def trials_command(study: StudyOpt, storage: StorageOpt = None, json_out: JsonOpt = False,
                   max_visqol_loss: MaxVisqolLossOpt = None) -> None:
    """Every trial of a study with state, params, values and attributes (--json: with the picks and each
    point's bootstrap intervals)."""
    from dslnas.search.records import fail_reason, role_of
    from dslnas.search.storage import load_existing_study

    quiet_optuna()
    loaded = load_existing_study(storage, study)
    trials = loaded.get_trials(deepcopy=False)
    if json_out:
        print_json({"study": study, "metric_names": loaded.metric_names, **_front_json(loaded, max_visqol_loss),
                    "trials": [trial_json(t) for t in trials]})
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"study {study}")
    for col in ("#", "state", "role", *(loaded.metric_names or ["values"]), "reason"):
        table.add_column(col)
    for t in trials:
        values = [f"{v:.3f}" for v in (t.values or [])] or ["-"] * len(loaded.metric_names or [1])
        reason = Text((fail_reason(t) or "")[:60])
        table.add_row(str(t.number), t.state.name, role_of(t).value, *values, reason)
    console.print(table)


def _front_json(study: "optuna.Study", max_visqol_loss: float | None) -> dict[str, Any]:
    """The picks and each point's intervals (``uncertainty`` by trial number); nothing for a study dslnas did
    not create."""
    from dslnas.search.pareto import STUDY_ATTR_CONFIG, compute_pareto_front
    from dslnas.search.report.files import picks_json, uncertainty_json

    if STUDY_ATTR_CONFIG not in study.user_attrs:
        return {}
    front = compute_pareto_front(study, max_visqol_loss)
    return {"picks": picks_json(front), "uncertainty": {str(p.number): uncertainty_json(p) for p in front.points}}


def register(app: typer.Typer) -> None:
    app.command("search")(search_command)
    app.command("trials")(trials_command)
