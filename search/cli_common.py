"""What every CLI command shares: JSON output, one-line errors, the progress console.

Each ``search/cli_<topic>.py`` module defines ``register(app: typer.Typer)`` adding its commands; the
commands are thin: parse options, call the Python API, print (text or ``--json``).
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

from dslnas.search.json_out import dumps

# Human-facing text and progress go to stderr so that stdout stays clean JSON with --json.
console = Console(stderr=True)


def print_json(payload: Any) -> None:
    """Write ``payload`` as indented JSON to stdout (NaN is not valid JSON: it is written as null)."""
    sys.stdout.write(dumps(payload) + "\n")


def print_error(message: str) -> None:
    """``error: message`` on stderr, on one line whatever the terminal width (message text is not markup)."""
    console.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)


def fail(message: str, code: int = 2) -> None:
    """Print ``error: message`` on stderr and exit with ``code``."""
    print_error(message)
    raise typer.Exit(code)
