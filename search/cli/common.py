"""What every CLI command shares: JSON output, one-line errors, the progress display, shared options.

Each ``search/cli/<topic>.py`` module defines ``register(app: typer.Typer)`` adding its commands; the
commands are thin: parse options, call the Python API (imported inside the command: commands start
fast), print text or ``--json``.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from typer.core import TyperGroup
from rich.text import Text

from dslnas.search.json_out import dumps

# Human-facing text and progress go to stderr so that stdout stays clean JSON with --json.
console = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
StudyOpt = Annotated[str, typer.Option("--study", help="Study name (letters, digits, '.', '_', '-').")]
StorageOpt = Annotated[Optional[str], typer.Option("--storage", help="Storage URL (default: runs/<study>/optuna.db).")]
LightUsageOpt = Annotated[float, typer.Option("--light-usage", help="Fraction of segments on the light path, 0..1.")]
# Device-runner options shared by `confirm` and `calibrate` (one declaration, one help text).
RunnerCommandOpt = Annotated[Optional[str], typer.Option("--command", help="command runner: JSON list or shell-style string with {artifact}, {name}, {format}, {input_shape}, e.g. \"ssh board run {artifact}\".")]
RunnerReplayOpt = Annotated[Optional[Path], typer.Option("--replay", help="replay runner: CSV of earlier measurements (saved by calibrate --save-measurements).")]
RunnerRepeatsOpt = Annotated[Optional[int], typer.Option("--repeats", help="local runner: timed runs per artifact (>= 50, default 100).")]
RunnerWarmupOpt = Annotated[Optional[int], typer.Option("--warmup", help="local runner: untimed runs first (default 10).")]
RunnerThreadsOpt = Annotated[Optional[int], typer.Option("--threads", help="local runner: inference threads (default 1).")]
RunnerTimeoutOpt = Annotated[Optional[float], typer.Option("--timeout-s", help="local/command runner: seconds per measurement.")]


class CommandGroup(TyperGroup):
    """A command group that shows its help (on stderr, exit code 2) when given no command, without going through
    typer's own no-args error (a parser exception this CLI would otherwise print as an error line)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args and not ctx.resilient_parsing:
            typer.echo(ctx.get_help(), err=True)
            raise typer.Exit(2)
        return super().parse_args(ctx, args)


def finite(value: float | None) -> float | None:
    """Option callback: a float option's value is a finite number (``nan`` and ``inf`` parse as floats)."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"must be a finite number, got {value}")
    return value


def print_json(payload: Any) -> None:
    """Write ``payload`` as indented JSON to stdout (NaN is not valid JSON: it is written as null)."""
    sys.stdout.write(dumps(payload) + "\n")


def print_error(message: str) -> None:
    """``error: message`` on stderr, on one line whatever the terminal width (message text is not markup;
    a line break inside it becomes a space)."""
    console.print(Text.assemble(("error: ", "bold red"), " ".join(message.split("\n"))), soft_wrap=True)


def fail(message: str, code: int = 2) -> None:
    """Print ``error: message`` on stderr and exit with ``code``."""
    print_error(message)
    raise typer.Exit(code)


def quiet_optuna() -> None:
    """Optuna's per-trial log lines off: the CLI shows its own progress."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass
class _PlainTask:
    description: str
    total: float | None
    completed: float = 0.0
    status: str = ""
    printed_at_s: float = field(default=float("-inf"))
    printed_completed: float = -1.0


class PlainProgress:
    """Progress as plain lines on stderr, for logs (``make demo 2>&1 | tee log``): the subset of
    ``rich.progress.Progress`` the commands use (``add_task``, ``update``, context manager).

    A task prints a line when its count grows and it has small totals (trials: every trial), or at most
    every ``min_interval_s`` (training steps), and always when it completes.
    """

    SMALL_TOTAL = 100

    def __init__(self, stream: Any = None, min_interval_s: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.min_interval_s = min_interval_s
        self.tasks: list[_PlainTask] = []

    def __enter__(self) -> "PlainProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, description: str, total: float | None = None, **fields: Any) -> int:
        self.tasks.append(_PlainTask(description, total, status=str(fields.get("status", ""))))
        return len(self.tasks) - 1

    def update(self, task_id: int, completed: float | None = None, status: str | None = None, **_: Any) -> None:
        task = self.tasks[task_id]
        if completed is not None:
            task.completed = completed
        if status is not None:
            task.status = status
        if task.completed > task.printed_completed and self._due(task):
            self._print(task)

    def _due(self, task: _PlainTask) -> bool:
        done = task.total is not None and task.completed >= task.total
        small = task.total is not None and task.total <= self.SMALL_TOTAL
        return done or small or time.monotonic() - task.printed_at_s >= self.min_interval_s

    def _print(self, task: _PlainTask) -> None:
        of = f"/{task.total:g}" if task.total is not None else ""
        status = f" {task.status}" if task.status else ""
        self.stream.write(f"{task.description}: {task.completed:g}{of}{status}\n")
        self.stream.flush()
        task.printed_at_s, task.printed_completed = time.monotonic(), task.completed


def duration_text(seconds: float) -> str:
    """``1m05s`` / ``42s`` (``?`` for an unknown duration)."""
    if not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def eta_text(elapsed_s: float, done: int, total: int) -> str:
    """A task's progress as ``eta 1m05s`` (from the mean time per item so far) or ``done in 42s``."""
    if done >= total:
        return "done in " + duration_text(elapsed_s)
    return "eta " + duration_text(elapsed_s / done * (total - done) if done > 0 else math.nan)


def progress_bar() -> Any:
    """The progress display of long commands, on stderr: a live bar on a terminal, plain lines otherwise."""
    if not console.is_terminal:
        return PlainProgress()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"), TimeRemainingColumn(), console=console, transient=False,
    )
