"""The ``dslnas`` command line: a thin layer over the Python API.

Run ``dslnas --help`` for the commands. A user's mistake (bad file, bad key, unknown name) prints one
``error:`` line on stderr and exits 2; ``--json`` puts machine-readable output on stdout.

Commands start fast: :data:`COMMANDS` names each command's module and one-line help, and a module is
imported only when its command runs (or shows its own ``--help``). Each module's top level imports
typer and light option types only; torch, Ray, onnx and the like are imported inside the command bodies.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import click
import typer

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
    "confirm": CommandEntry("report", "Measure the top-K front candidates on a device; store them beside the prediction."),
    "export": CommandEntry("report", "Write a trial as a RunConfig YAML for `dslnas train --config`."),
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


def load_command(name: str) -> click.Command:
    """The click command ``name``, importing its module now."""
    module = importlib.import_module(f"dslnas.search.cli.{COMMANDS[name].module}")
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    module.register(app)
    group = typer.main.get_group(app)
    command = group.get_command(click.Context(group), name)
    if command is None:
        raise RuntimeError(f"module {module.__name__} does not register command {name!r}")
    return command


class LazyGroup(click.Group):
    """A click group over :data:`COMMANDS` that imports a command's module only when it is invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return load_command(cmd_name) if cmd_name in COMMANDS else None

    def invoke(self, ctx: click.Context) -> object:
        """Run the command; a user's mistake (UserError) is one ``error:`` line and exit code 2."""
        try:
            return super().invoke(ctx)
        except UserError as err:
            from dslnas.search.cli.common import print_error

            print_error(str(err))
            raise click.exceptions.Exit(2) from None
        except typer.Exit as done:  # typer's own Exit is not click's when a click group runs the command
            raise click.exceptions.Exit(done.exit_code) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, entry.help) for name, entry in COMMANDS.items()])


cli = LazyGroup(name="dslnas", help=HELP, no_args_is_help=True,
                context_settings={"help_option_names": ["--help", "-h"]})


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="dslnas", standalone_mode=True)
