"""Typed configs: YAML in and out, validation errors that name the key, presets, search spaces."""

from __future__ import annotations

from pathlib import Path

import pytest

from dslnas.spaces.run_config import RunConfig
from dslnas.spaces.errors import ConfigError, UserError
from dslnas.spaces.presets import candidate_preset
from dslnas.spaces.space_presets import load_space
from dslnas.spaces.yaml_io import dump_model, load_model

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str, name: str = "run.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_run_config_round_trips_through_yaml(tmp_path: Path) -> None:
    run = load_model(RunConfig, REPO / "configs" / "demo.yaml")
    again = load_model(RunConfig, write(tmp_path, dump_model(run)))
    assert again == run
    assert again.candidate == candidate_preset("demo")


def test_extends_merges_an_ablation_over_its_base() -> None:
    run = load_model(RunConfig, REPO / "configs" / "ablation-light-thin.yaml")
    assert run.candidate.dsl.light_widths == (4, 4)
    assert run.train.steps == load_model(RunConfig, REPO / "configs" / "demo.yaml").train.steps


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("candidate: demo\ntrain: {stepz: 3}\n", "unknown key 'train.stepz'"),
        ("candidate: demo\ntrain: {steps: -1}\n", "key 'train.steps'"),
        ("candidate: {preset: demo, dsl: {switch_depth: 9}}\n", "switch_depth must be in [1, 3]"),
        ("candidate: {preset: demo, dsl: {light_widths: [4]}}\n", "light_widths needs 2 entries"),
        ("candidate: nosuch\n", "unknown candidate preset 'nosuch'"),
        ("candidate: demo\ntrain: {data: {kind: folder}}\n", "data.path is required"),
        ("- just\n- a list\n", "expected a mapping"),
        ("candidate: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_config_is_a_one_line_error_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UserError) as err:
        load_model(RunConfig, write(tmp_path, text))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.yaml: config file not found"):
        load_model(RunConfig, tmp_path / "nope.yaml")


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    path = write(tmp_path, "candidate: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_model(RunConfig, path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("base: demo\nswitch_depths: []\nlight_width_choices: [4]\nalpha: {low: 1e-5, high: 1e-3, log: true}\nbeta: {low: 1, high: 1}\n", "key 'switch_depths'"),
        ("base: demo\nswitch_depths: [3]\nlight_width_choices: [4]\nalpha: {low: 1e-3, high: 1e-5, log: true}\nbeta: {low: 1, high: 1}\n", "key 'alpha'"),
        ("base: demo\nswitch_depths: [3]\nlight_width_choices: [4]\nalpha: {low: 0, high: 1e-3, log: true}\nbeta: {low: 1, high: 1}\n", "log-scale range needs low > 0"),
        ("base: demo\nswitch_depths: [3]\nlight_width_choices: [4]\nalpha: {low: 1e-5, high: 1e-3}\nbeta: {low: 1, high: 1}\ndepthz: 3\n", "unknown key 'depthz'"),
        ("base: demo\nswitch_depths: [7]\nlight_width_choices: [4]\nalpha: {low: 1e-5, high: 1e-3}\nbeta: {low: 1, high: 1}\n", "outside [1, 3]"),
    ],
)
def test_bad_search_space_fails_at_load_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_space(str(write(tmp_path, text, "space.yaml")))
    assert message in str(err.value)


def test_space_presets_and_unknown_space() -> None:
    assert load_space("demo").base == candidate_preset("demo")
    assert load_space("paper").base == candidate_preset("paper")
    with pytest.raises(UserError, match="unknown search space 'nope'; valid: demo, paper"):
        load_space("nope")
