"""The ``dslnas`` command line: a thin layer over the Python API.

Run ``dslnas --help`` for the commands. A user's mistake (bad file, bad key, unknown name) prints one
``error:`` line on stderr and exits 2; ``--json`` puts machine-readable output on stdout.
"""

from __future__ import annotations

import importlib
import sys

import optuna

import typer

from dslnas.search.cli_common import print_error
from dslnas.spaces.errors import UserError

app = typer.Typer(
    name="dslnas",
    help="Hardware-aware search of Dynamic Switch Layer placements in SoundStream-style audio encoders.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# One module per topic; each has register(app). Imported lazily so `dslnas --help` stays fast.
COMMAND_MODULES = ("cli_model", "cli_search", "cli_cost", "cli_report", "cli_calibrate")

for _name in COMMAND_MODULES:
    importlib.import_module(f"dslnas.search.{_name}").register(app)


def main() -> None:
    """Console-script entry point."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the CLI shows its own progress
    try:
        app()
    except UserError as err:
        print_error(str(err))
        sys.exit(2)
