"""Every command through the INSTALLED ``dslnas`` entry point with bad options: one ``error:`` line, exit 2.

A dependency upgrade that changes the parser (typer 0.26 started carrying its own copy of click, whose
exceptions the group did not catch: a traceback per bad option) fails here, not on a user's machine.
Each command (and sub-command) has its row in :data:`BAD_OPTIONS`; a command without one fails the suite.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dslnas.search.cli import COMMANDS, load_command

ENTRY_POINT = Path(sys.executable).parent / "dslnas"

# command -> (a required option left out (None: it has none), a malformed value)
BAD_OPTIONS: dict[str, tuple[list[str] | None, list[str]]] = {
    "search": (None, ["--trials", "abc"]),
    "trials": ([], ["--study"]),  # an option missing its value
    "report": ([], ["--study", "s", "--out"]),
    "confirm": (["--top-k", "3"], ["--study", "s", "--top-k", "abc"]),
    "export": (None, ["--study", "s", "--trial", "abc"]),
    "data synth": (None, ["--minutes", "abc"]),
    "data join": (["a.json"], ["--out", "x", "--json=maybe", "a.json"]),
    "train": ([], ["--config", "c.yaml", "--set"]),
    "light-bank": (None, ["--steps", "abc"]),
    "evaluate": (None, ["--checkpoint", "c.pt", "--threshold", "abc"]),
    "stream": (["--audio", "a.wav"], ["--audio", "a.wav", "--out", "b.wav", "--route", "sideways"]),
    "visqol": (["ref.wav"], ["--mode", "sideways", "ref.wav", "deg.wav"]),
    "describe": (None, ["--switch-depth", "abc"]),
    "cost": (None, ["--light-usage", "abc"]),
    "placement": (None, ["--objective", "sideways"]),
    "calibrate": (["--runner", "local"], ["--runner", "local", "--out", "p.yaml", "--folds", "abc"]),
}


def leaf_commands(name: str, command: Any) -> Iterator[str]:
    """``name`` and, for a group, the path of each of its sub-commands."""
    subcommands = getattr(command, "commands", None)
    if not subcommands:
        yield name
        return
    for sub, child in subcommands.items():
        yield from leaf_commands(f"{name} {sub}", child)


def run_dslnas(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ENTRY_POINT), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def assert_one_error_line(result: subprocess.CompletedProcess[str], command: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert f"dslnas {command}" in lines[0] and result.stdout == ""


def test_every_command_has_its_bad_options() -> None:
    leaves = [leaf for name in COMMANDS for leaf in leaf_commands(name, load_command(name))]
    assert sorted(leaves) == sorted(BAD_OPTIONS)


@pytest.mark.parametrize("command", [c for c, (missing, _) in BAD_OPTIONS.items() if missing is not None])
def test_a_missing_required_option_is_one_error_line(command: str, tmp_path: Path) -> None:
    missing, _ = BAD_OPTIONS[command]
    result = run_dslnas([*command.split(), *(missing or [])], tmp_path)
    assert_one_error_line(result, command)
    assert "Missing" in result.stderr


@pytest.mark.parametrize("command", list(BAD_OPTIONS))
def test_a_malformed_value_is_one_error_line(command: str, tmp_path: Path) -> None:
    result = run_dslnas([*command.split(), *BAD_OPTIONS[command][1]], tmp_path)
    assert_one_error_line(result, command)


@pytest.mark.parametrize("command", list(BAD_OPTIONS))
def test_an_unknown_option_is_one_error_line(command: str, tmp_path: Path) -> None:
    result = run_dslnas([*command.split(), "--no-such-option"], tmp_path)
    assert_one_error_line(result, command)
    assert "--no-such-option" in result.stderr


@pytest.mark.parametrize("args", [["no-such-command"], ["data", "no-such-command"]])
def test_an_unknown_command_is_one_error_line(args: list[str], tmp_path: Path) -> None:
    result = run_dslnas(args, tmp_path)
    assert result.returncode == 2 and result.stderr.strip().splitlines()[0].startswith("error: ")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [
    ["search", "--trials", "0"], ["search", "--workers", "-3"],
    ["evaluate", "--checkpoint", "c.pt", "--threshold", "nan"], ["evaluate", "--checkpoint", "c.pt", "--threshold", "-1"],
    ["stream", "--audio", "a.wav", "--out", "b.wav", "--threshold", "nan"],
    ["stream", "--audio", "a.wav", "--out", "b.wav", "--threshold", "abc"],
])
def test_the_probed_out_of_range_values_are_one_error_line(args: list[str], tmp_path: Path) -> None:
    assert_one_error_line(run_dslnas(args, tmp_path), args[0])
