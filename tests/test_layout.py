"""Guards on the package layout: the import direction, and commands that start without heavy imports.

Checked by what a fresh interpreter has in ``sys.modules``, never by timing (``bench/cli_startup.py``
prints the seconds).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import typing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "ray", "onnx", "onnxruntime", "vector_quantize_pytorch", "fvcore")


def _imported(code: str) -> set[str]:
    """Top-level module names a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def _dslnas_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dslnas."):
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("dslnas."))
    return names


@pytest.mark.parametrize("package", ["trainers", "hw_models", "spaces"])
def test_lower_layers_never_import_search(package: str) -> None:
    offenders = {str(p.relative_to(ROOT)): sorted(m for m in _dslnas_imports(p) if m.startswith("dslnas.search"))
                 for p in (ROOT / package).rglob("*.py")}
    assert not {k: v for k, v in offenders.items() if v}


def test_spaces_never_import_trainers_or_hw_models() -> None:
    bad = {str(p.relative_to(ROOT)): sorted(m for m in _dslnas_imports(p) if m.startswith(("dslnas.trainers", "dslnas.hw_models")))
           for p in (ROOT / "spaces").rglob("*.py")}
    assert not {k: v for k, v in bad.items() if v}


def test_computing_a_front_imports_no_torch_or_onnx() -> None:
    loaded = _imported("import dslnas.search.pareto, dslnas.search.records, dslnas.hw_models.cost")
    assert not loaded & set(HEAVY)


def test_dslnas_help_imports_nothing_heavy() -> None:
    loaded = _imported("from dslnas.search.cli import cli\ncli.main(['--help'], standalone_mode=False)")
    assert not loaded & {*HEAVY, "optuna", "pydantic", "scipy"}


def test_every_command_help_imports_nothing_heavy() -> None:
    code = ("from dslnas.search.cli import COMMANDS, load_command\n"
            "for name in COMMANDS:\n    load_command(name)")
    assert not _imported(code) & {*HEAVY, "optuna"}


@pytest.mark.parametrize("command", ["trials", "report", "export"])
def test_study_commands_import_no_torch(command: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    args = {"trials": ["trials", "--study", "demo-report", "--storage", url, "--json"],
            "report": ["report", "--study", "demo-report", "--storage", url, "--out", str(tmp_path / "report")],
            "export": ["export", "--study", "demo-report", "--storage", url, "--trial", "0", "--out", str(tmp_path / "x.yaml")]}
    build = f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r})\nfrom study_fixtures import build_demo_study\nbuild_demo_study({url!r})"
    subprocess.run([sys.executable, "-c", build], check=True, capture_output=True, cwd=ROOT)
    run = f"from dslnas.search.cli import cli\ntry:\n    cli.main({args[command]!r})\nexcept SystemExit as e:\n    assert not e.code, e.code"
    assert "torch" not in _imported(run)


def test_option_literals_match_their_enums() -> None:
    from dslnas.hw_models.calibrate import DEFAULT_FOLDS, DEFAULT_ROUNDS, DEFAULT_SUITE_SIZE
    from dslnas.hw_models.calibration_suite import SuiteKind
    from dslnas.hw_models.placement import PlacementObjective
    from dslnas.search.cli import calibrate, cost, model
    from dslnas.trainers.visqol_score import VisqolMode

    assert typing.get_args(model.VisqolModeName) == tuple(m.value for m in VisqolMode)
    assert typing.get_args(cost.PlacementObjectiveName) == tuple(o.value for o in PlacementObjective)
    assert typing.get_args(calibrate.SuiteName) == tuple(k.value for k in SuiteKind)
    assert (calibrate.DEFAULT_SUITE_SIZE, calibrate.DEFAULT_FOLDS, calibrate.DEFAULT_ROUNDS) == (
        DEFAULT_SUITE_SIZE, DEFAULT_FOLDS, DEFAULT_ROUNDS)


def test_command_table_help_matches_the_commands() -> None:
    from dslnas.search.cli import COMMANDS, load_command

    for name in COMMANDS:
        assert load_command(name).name == name
