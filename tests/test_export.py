"""Export a trial to a RunConfig YAML that `dslnas train --config` trains as is; unusable requests are UserErrors."""

from __future__ import annotations

from importlib.metadata import version
import json
from pathlib import Path

import optuna
import pytest
import typer
from typer.testing import CliRunner

from dslnas.search.cli import export as cli_export
from dslnas.search.export import Recipe, export_run_config, write_run_config
from dslnas.search.pareto import search_config_of
from dslnas.search.records import record_from_trial
from dslnas.spaces.candidate import CandidateConfig
from dslnas.spaces.run_config import RunConfig
from dslnas.spaces.errors import UserError
from dslnas.spaces.yaml_io import load_model
from dslnas.trainers.train import train
from study_fixtures import build_demo_study


@pytest.fixture(scope="module")
def storage_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('study') / 'optuna.db'}"


@pytest.fixture(scope="module")
def study(storage_url: str) -> optuna.Study:
    return build_demo_study(storage_url)


def test_exported_config_round_trips_and_trains(tmp_path: Path, study: optuna.Study) -> None:
    path = write_run_config(export_run_config(study, 2, threshold=0.3, recipe=Recipe.FROM_SCRATCH), tmp_path / "chosen.yaml")
    run = load_model(RunConfig, path)  # what `dslnas train --config` does first
    record = record_from_trial(study.trials[2])
    searched = record.candidate
    assert run.candidate == searched.with_dsl(threshold=0.3)
    space = search_config_of(study).space
    assert run.train.steps == space.base_train.steps + space.finetune.steps
    assert run.train.learning_rate == space.base_train.learning_rate and run.train.init_checkpoint is None
    prov = run.provenance
    assert (prov["study"], prov["trial"], prov["dslnas_version"]) == ("demo-report", 2, version("dslnas"))
    assert prov["threshold"] == {"searched": 0.6, "exported": 0.3}
    assert prov["predicted"]["device_profile"] == "a32-paper" and prov["predicted"]["latency_ms"] == {"full": record.cost.latency_ms.full, "light": record.cost.latency_ms.light, "mixed": record.cost.latency_ms.mixed}
    assert prov["predicted"]["at_exported_threshold"]["threshold"] == 0.3
    assert prov["trial_checkpoint"] == record.checkpoint and prov["recipe"]["kind"] == "from-scratch"

    tiny = run.train.model_copy(update={"steps": 2, "batch_size": 2, "data": run.train.data.model_copy(update={"demo_clips": 4})})
    result = train(run.model_copy(update={"train": tiny}), tmp_path / "trained")
    assert result.checkpoint_path.is_file() and result.steps == 2


def test_by_default_the_export_is_the_scored_fine_tune_from_the_study_base(study: optuna.Study) -> None:
    """The recipe the trial ran (search.trial.trial_train_config): the space's fine-tune from its shipped base,
    with its seed, light-tail start and trainable parts; the candidate at the trial's recorded threshold."""
    run = export_run_config(study, 2)
    config = search_config_of(study)
    finetune = config.space.finetune
    assert config.space.pretrained_base is not None and run.train.init_checkpoint == config.space.pretrained_base
    assert (run.train.steps, run.train.seed, run.train.light_init, run.train.trainable) == (
        finetune.steps, finetune.seed, finetune.light_init, finetune.trainable)
    assert run.train.data == (config.data or finetune.data)
    assert run.candidate.dsl.threshold == record_from_trial(study.trials[2]).threshold == 0.6
    assert run.provenance["recipe"]["kind"] == "scored"


def test_without_threshold_the_searched_candidate_is_kept(study: optuna.Study) -> None:
    run = export_run_config(study, 0)
    assert run.candidate == record_from_trial(study.trials[0]).candidate
    assert run.provenance["role"] == "reference"


@pytest.mark.parametrize(("trial", "threshold", "message"), [
    (99, None, "study 'demo-report' has no trial 99 (trials: 0..6)"),
    (5, None, "trial 5 is fail: FloatingPointError: loss became nan"),
    (2, 1.5, "--threshold 1.5 is outside the range swept for trial 2 (0..1)"),
])
def test_unusable_requests_are_one_line_user_errors(study: optuna.Study, trial: int, threshold: float | None, message: str) -> None:
    with pytest.raises(UserError) as err:
        export_run_config(study, trial, threshold)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_export_command_writes_the_yaml(tmp_path: Path, study: optuna.Study, storage_url: str) -> None:
    app = typer.Typer()
    cli_export.register(app)
    app.command("noop")(lambda: None)  # two commands, so typer keeps the subcommand names
    out = tmp_path / "chosen.yaml"
    result = CliRunner().invoke(app, ["export", "--study", "demo-report", "--storage", storage_url, "--trial", "6", "--out", str(out)])
    assert result.exit_code == 0, result.output
    exported = load_model(RunConfig, out)
    assert exported.provenance["trial"] == 6
    # the fixture stores trial 6 under a hostile name (written before the name rule): the config must read back
    stored = study.trials[6].user_attrs
    assert "<script>" in json.dumps(stored) and exported.candidate.name == "trial6"


def test_the_cli_recipe_names_are_the_recipes() -> None:
    import typing

    assert typing.get_args(cli_export.RecipeName) == tuple(r.value for r in Recipe)


def test_confirm_picks_the_named_trial_or_the_top_k(study: optuna.Study) -> None:
    from dslnas.search.cli.confirm import _chosen_points
    from dslnas.search.pareto import compute_pareto_front

    front = compute_pareto_front(study)
    assert [p.number for p in _chosen_points(front, "demo-report", 2, None)] == [p.number for p in front.pareto[:2]]
    off_front = next(p.number for p in front.points if p not in front.pareto)
    assert [p.number for p in _chosen_points(front, "demo-report", 2, off_front)] == [off_front]
    with pytest.raises(UserError, match="no completed trial 5 with a record"):
        _chosen_points(front, "demo-report", 2, 5)  # trial 5 failed
