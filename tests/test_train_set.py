"""``dslnas train --set key=value``: any config key by its dotted path, validated; a bad key or value is one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dslnas.search.cli import cli
from dslnas.spaces.errors import ConfigError
from dslnas.spaces.overrides import apply_overrides, parse_assignment
from dslnas.spaces.run_config import LRSchedule, RunConfig
from dslnas.spaces.yaml_io import dump_model


def test_dotted_keys_set_any_field_and_a_train_key_alone_means_train() -> None:
    run = apply_overrides(RunConfig(), ["train.steps=7", "learning_rate=1e-4", "candidate.dsl.threshold=0.25",
                                        "train.data.eval_clip_seconds=2", "lr_schedule=cosine",
                                        "train.adam_betas=[0.9, 0.99]", "init_checkpoint=pretrained:speech16k"])
    assert (run.train.steps, run.train.learning_rate, run.candidate.dsl.threshold) == (7, 1e-4, 0.25)
    assert run.train.data.eval_clip_seconds == 2.0 and run.train.lr_schedule is LRSchedule.COSINE
    assert run.train.adam_betas == (0.9, 0.99) and run.train.init_checkpoint == "pretrained:speech16k"
    assert apply_overrides(run, ["init_checkpoint=null"]).train.init_checkpoint is None


@pytest.mark.parametrize(("assignment", "message"), [
    ("train.stepz=3", "unknown key 'train.stepz' (valid here: "),
    ("steps=-1", "key 'train.steps'"),
    ("train.steps=many", "key 'train.steps'"),
    ("train.steps.x=1", "'train.steps' is a value, not a section"),
    ("steps", "expected key=value"),
    ("train..steps=1", "expected key=value"),
    ("train={steps: 1}", "set one key at a time"),
    ("learning_rate=.nan", "must be a finite number"),
    ("learning_rate=nan", "key 'train.learning_rate'"),
])
def test_a_bad_key_or_value_is_a_one_line_config_error(assignment: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        apply_overrides(RunConfig(), [assignment])
    assert message in str(err.value) and "\n" not in str(err.value)


def test_values_are_yaml_scalars() -> None:
    assert parse_assignment("a.b=1.5e-3") == (("a", "b"), 1.5e-3)
    assert parse_assignment("a=true") == (("a",), True)
    assert parse_assignment("a=") == (("a",), None)


def test_train_command_applies_set_and_reports_a_bad_key_on_one_line(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    dump_model(RunConfig(), config)
    bad = CliRunner().invoke(cli, ["train", "--config", str(config), "--out", str(tmp_path / "o"), "--set", "train.nope=1"])
    assert bad.exit_code == 2 and bad.stderr.startswith("error: --set 'train.nope=1': unknown key 'train.nope'")
    assert len(bad.stderr.strip().splitlines()) == 1
    result = CliRunner().invoke(cli, ["train", "--config", str(config), "--out", str(tmp_path / "o"), "--json",
                                      "--set", "steps=2", "--set", "batch_size=2", "--set", "crop_seconds=0.2",
                                      "--set", "train.data.demo_clips=2", "--set", "train.data.demo_clip_seconds=0.5"])
    assert result.exit_code == 0, result.output
    assert '"steps": 2' in result.stdout
