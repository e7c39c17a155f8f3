"""Guards on the package layout: the import direction, no import cycles, module and function sizes, and
commands that start without heavy imports.

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


PACKAGES = ("spaces", "trainers", "hw_models", "search")  # data flows this way: each may import only those before it
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 40
CLI_COMMANDS = ROOT / "search" / "cli"  # a command function's body is mostly its option list: exempt from the length rule


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return "dslnas." + ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:`` (annotations only: never run)."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


def _dslnas_imports(path: Path, runtime_only: bool = False) -> set[str]:
    """The dslnas modules ``path`` imports anywhere (module level or inside a function: lazy imports count);
    ``from pkg import submodule`` names the submodule. ``runtime_only`` leaves out ``if TYPE_CHECKING:`` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_only(tree) if runtime_only else set()
    names = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dslnas."):
            names.update(f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("dslnas."))
    return names


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (or a module importing itself), Tarjan's way."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    graph = {name: _dslnas_imports(path, runtime_only=True) & MODULES.keys() for name, path in MODULES.items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_lazy_cycle(tmp_path: Path) -> None:
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("from dslnas.spaces import errors\n\ndef f():\n    from dslnas.spaces.presets import x\n")
    b.write_text("if TYPE_CHECKING:\n    from dslnas.spaces.candidate import y\n")
    assert _dslnas_imports(a, runtime_only=True) == {"dslnas.spaces.errors", "dslnas.spaces.presets"}
    assert _dslnas_imports(b, runtime_only=True) == set() and _dslnas_imports(b) == {"dslnas.spaces.candidate"}
    assert _cycles({"x": {"y"}, "y": {"z"}, "z": {"x"}, "w": {"x"}}) == [["x", "y", "z"]]


@pytest.mark.parametrize("package", PACKAGES[:-1])
def test_imports_follow_the_data_flow(package: str) -> None:
    """spaces -> trainers -> hw_models -> search: a package imports only itself and the packages before it."""
    later = tuple(f"dslnas.{p}" for p in PACKAGES[PACKAGES.index(package) + 1:])
    offenders = {str(p.relative_to(ROOT)): sorted(m for m in _dslnas_imports(p) if m.startswith(later))
                 for p in (ROOT / package).rglob("*.py")}
    assert not {k: v for k, v in offenders.items() if v}


@pytest.mark.parametrize("path", MODULES.values(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_size(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(ROOT)} has {lines} lines (at most {MAX_MODULE_LINES}): split it"


def test_function_size() -> None:
    long = {}
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not (
                    path.parent == CLI_COMMANDS and node.name.endswith("_command")):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"] = lines
    assert long == {}


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
            # the listening section streams clips through the codec (torch, by design): without it, no torch
            "report": ["report", "--study", "demo-report", "--storage", url, "--out", str(tmp_path / "report"), "--no-audio"],
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
