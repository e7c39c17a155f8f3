"""The ``dslnas`` command line: a thin layer over the Python API.

Run ``dslnas --help`` for the commands. A user's mistake (bad file, bad key, unknown name) prints one
``error:`` line on stderr and exits 2; ``--json`` puts machine-readable output on stdout.

Commands start fast: :data:`COMMANDS` names each command's module and one-line help, and a module is
imported only when its command runs (or shows its own ``--help``). Each module's top level imports
typer and light option types only; torch, Ray, onnx and the like are imported inside the command bodies.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import typer

from dslnas.search.cli.common import CommandGroup, print_error
from dslnas.spaces.errors import UserError


@dataclass(frozen=True)
class CommandEntry:
    """Where a command lives (``dslnas.search.cli.<module>``, whose ``register(app)`` adds it) and its help line."""

    module: str
    help: str


COMMANDS: dict[str, CommandEntry] = {
    "search": CommandEntry("search", "Search DSL configurations: ViSQOL against predicted latency/power (the main job)."),
    "trials": CommandEntry("search", "Every trial of a study with state, params, values and attributes."),
    "report": CommandEntry("report", "Write the Pareto report: index.html (self-contained), trials.csv, pareto.json and png/."),
    "confirm": CommandEntry("confirm", "Measure the top-K front candidates on a device; store them beside the prediction."),
    "export": CommandEntry("export", "Write a trial as a RunConfig YAML for `dslnas train --config`."),
    "data": CommandEntry("data", "Audio data: `data synth` makes a labelled speech / silence corpus here."),
    "train": CommandEntry("model", "Train a candidate codec with its DSL; checkpoints resume when rerun with the same --out."),
    "light-bank": CommandEntry("model", "Distil a base's elastic light tails once, so trials start their light tails from them."),
    "evaluate": CommandEntry("model", "Full / light / mixed ViSQOL, light-path usage, sparsity and switch error."),
    "stream": CommandEntry("stream", "Encode and decode a file segment by segment as deployed: routes, light usage, switch-backs."),
    "visqol": CommandEntry("model", "ViSQOL v3 MOS-LQO of DEGRADED against REFERENCE."),
    "describe": CommandEntry("cost", "Per-path parameters, MACs per second of audio and layers of a candidate's encoder."),
    "cost": CommandEntry("cost", "Latency and power of the full, light and mixed pass on a device profile."),
    "placement": CommandEntry("cost", "Price every placement of base, light and full path on a profile's units."),
    "calibrate": CommandEntry("calibrate", "Measure a suite of encoders on a runner, fit and cross-validate a device profile."),
}

HELP = "Hardware-aware search of Dynamic Switch Layer placements in SoundStream-style audio encoders."


def load_command(name: str) -> Any:
    """The parser command ``name`` (typer's), importing its module now."""
    module = importlib.import_module(f"dslnas.search.cli.{COMMANDS[name].module}")
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    module.register(app)
    command = typer.main.get_group(app).commands.get(name)
    if command is None:
        raise RuntimeError(f"module {module.__name__} does not register command {name!r}")
    return command


class LazyCommands(Mapping[str, Any]):
    """:data:`COMMANDS` as a group's command table: a command's module is imported when it is looked up."""

    def __getitem__(self, name: str) -> Any:
        if name not in COMMANDS:
            raise KeyError(name)
        return load_command(name)

    def __iter__(self) -> Iterator[str]:
        return iter(COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS)


class LazyGroup(CommandGroup):
    """The ``dslnas`` group: commands from :data:`COMMANDS`, imported when run; every error is one line.

    typer (>= 0.26) parses with its own copy of click, not the ``click`` package: this group is built on
    typer's public classes, so that what typer's parser raises is caught here (see :meth:`main`).
    """

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LazyCommands()  # type: ignore[assignment]

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def invoke(self, ctx: Any) -> None:
        """Run the command (its return value is not an exit code); a UserError is one line and exit code 2."""
        try:
            super().invoke(ctx)
        except UserError as err:
            print_error(str(err))
            raise typer.Exit(2) from None
        except OSError as err:  # a full disk, a folder gone: what the system said, on one line
            print_error(f"{err.strerror or type(err).__name__}" + (f": {err.filename}" if err.filename else ""))
            raise typer.Exit(1) from None
        except Exception as err:
            line = storage_failure(err)
            if line is None:
                raise
            print_error(line)
            raise typer.Exit(1) from None

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        """Parse and run. Whatever typer's parser raises (a missing, unknown or malformed option, a bad value)
        is one ``error:`` line on stderr and exit code 2; an abort is exit code 1; no traceback."""
        try:
            code = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                                standalone_mode=False, **extra)
        except typer.TyperException as err:  # typer's click errors all derive from it
            print_error(parser_error_line(err, sys.argv[1:] if args is None else list(args)))
            code = 2
        except typer.Abort:
            print_error("aborted")
            code = 1
        if standalone_mode:
            sys.exit(code or 0)
        return code

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, entry.help) for name, entry in COMMANDS.items()])


def storage_failure(err: Exception) -> str | None:
    """The storage's one line for ``err`` (None when it is not a storage's); optuna loads only if it ran."""
    if "optuna" not in sys.modules:
        return None
    from dslnas.search.storage import storage_failure as of_storage

    return of_storage(err)


def parser_error_line(err: typer.TyperException, args: Sequence[str] = ()) -> str:
    """``dslnas CMD: <the parser's message> (see dslnas CMD --help)``: one line. The command is the error's
    (the parser raises some, such as an option missing its value, without one), else the one ``args`` name."""
    ctx = getattr(err, "ctx", None)
    message = " ".join(err.format_message().split())
    path = ctx.command_path if ctx is not None else command_path(args)
    return f"{path}: {message} (see '{path} --help')"


def command_path(args: Sequence[str]) -> str:
    """``dslnas`` and the command (and sub-command) names that ``args`` start with."""
    path = ["dslnas"]
    if args and args[0] in COMMANDS:
        path.append(args[0])
        subcommands = getattr(load_command(args[0]), "commands", None) or {}
        if len(args) > 1 and args[1] in subcommands:
            path.append(args[1])
    return " ".join(path)


app = typer.Typer(cls=LazyGroup, name="dslnas", help=HELP, add_completion=False, pretty_exceptions_enable=False,
                  rich_markup_mode=None, context_settings={"help_option_names": ["--help", "-h"]})


@app.callback()
def _root() -> None:
    """Hardware-aware search of Dynamic Switch Layer placements in SoundStream-style audio encoders."""


cli = typer.main.get_command(app)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="dslnas", standalone_mode=True)
