"""Runners by name, and the one function that builds a runner (and its power meter) from user options.

``local`` (this host), ``command`` (a board behind a command), ``replay`` (a CSV), ``unicorn-arm`` (the C
export cross-compiled for a Cortex-A32 and counted on an emulated core). The registry is lazy:
a runner's module is imported when it is built. ``build_runner`` is what ``calibrate`` and ``confirm``
both call; an unknown name, an option the runner does not take, or a missing required option is a
UserError that names the command-line flag and lists what is valid::

    build_runner("command", RunnerOptions(command='ssh board run-model {artifact}', timeout_s=60))
"""

from __future__ import annotations

import importlib
import inspect
import json
import shlex
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from dslnas.spaces.errors import ConfigError, UserError, unknown_name

if TYPE_CHECKING:
    from dslnas.hw_models.runners.base import DeviceRunner

# name -> "module:class"
RUNNERS: dict[str, str] = {
    "local": "dslnas.hw_models.runners.local:LocalRunner",
    "command": "dslnas.hw_models.runners.command:CommandRunner",
    "replay": "dslnas.hw_models.runners.replay:ReplayRunner",
    "unicorn-arm": "dslnas.hw_models.runners.emulated_arm:EmulatedArmRunner",
    "unicorn-pair": "dslnas.hw_models.runners.pair:PairRunner",
}

# runner constructor option -> the command-line flag that sets it (for error messages)
RUNNER_FLAGS = {"threads": "--threads", "warmup": "--warmup", "repeats": "--repeats", "command": "--command",
                "loop_command": "--loop-command", "csv_path": "--replay", "timeout_s": "--timeout-s"}


@dataclass(frozen=True)
class RunnerOptions:
    """What a user can say about a runner; None = not given (the runner's default applies).

    ``command`` / ``loop_command``: a JSON list of arguments or a string split like a shell would (no
    shell ever runs it).
    """

    threads: int | None = None
    warmup: int | None = None
    repeats: int | None = None
    timeout_s: float | None = None
    command: str | None = None
    loop_command: str | None = None
    csv_path: str | None = None

    def given(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
        for key in ("command", "loop_command"):
            if key in values:
                values[key] = parse_command(values[key], RUNNER_FLAGS[key])
        return values


@dataclass(frozen=True)
class PowerOptions:
    """The power meter and the paper's protocol (idle / active windows); ``meter="none"``: no power."""

    meter: str = "none"
    command: str | None = None      # command meter: prints mW
    hwmon_path: str | None = None   # hwmon meter: /sys/class/hwmon/hwmonN
    window_s: float = 30.0
    repeats: int = 10


def parse_command(text: str, flag: str = "--command") -> list[str]:
    """A command option: a JSON list of arguments, or a string split like a shell would (no shell runs it)."""
    if text.lstrip().startswith("["):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            raise UserError(f"{flag} looks like JSON but does not parse: {err}") from None
        if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
            raise UserError(f"{flag} as JSON must be a list of strings")
        return value
    try:
        return shlex.split(text)
    except ValueError as err:
        raise UserError(f"{flag} cannot be split into arguments: {err}") from None


def runner_class(name: str) -> type["DeviceRunner"]:
    if name not in RUNNERS:
        raise unknown_name("runner", name, list(RUNNERS))
    module, cls = RUNNERS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def runner_options(name: str) -> list[str]:
    """The option names ``get_runner(name, ...)`` accepts."""
    return list(inspect.signature(runner_class(name)).parameters)


def get_runner(name: str, **options: Any) -> "DeviceRunner":
    """The runner registered as ``name``, built with constructor ``options`` (the Python API)."""
    valid = runner_options(name)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigError(f"runner {name!r}: unknown option(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
    return runner_class(name)(**options)


def build_runner(name: str, options: RunnerOptions = RunnerOptions(), power: PowerOptions = PowerOptions()) -> "DeviceRunner":
    """The runner ``name`` from command-line options, with its power meter when one is asked for."""
    given = options.given()
    params = inspect.signature(runner_class(name)).parameters
    takes = ", ".join(RUNNER_FLAGS[k] for k in params if k in RUNNER_FLAGS) or "no options"
    wrong = [RUNNER_FLAGS[k] for k in given if k not in params]
    if wrong:
        raise UserError(f"{', '.join(wrong)} does not apply to the {name} runner (it takes: {takes})")
    for param in params.values():
        if param.default is inspect.Parameter.empty and param.name not in given:
            raise UserError(f"the {name} runner needs {RUNNER_FLAGS.get(param.name, param.name)}")
    if power.meter != "none":
        if "power_meter" not in params:
            raise UserError(f"runner {name!r} cannot drive a power meter")
        given["power_meter"], given["power_protocol"] = _power_meter(power)
    return get_runner(name, **given)


def _power_meter(power: PowerOptions) -> tuple[Any, Any]:
    from dslnas.hw_models.runners.power_meters import PowerProtocol, get_power_meter

    meter_options: dict[str, Any] = {}
    if power.command is not None:
        meter_options["command"] = parse_command(power.command, "--power-command")
    if power.hwmon_path is not None:
        meter_options["path"] = power.hwmon_path
    return get_power_meter(power.meter, **meter_options), PowerProtocol(window_s=power.window_s, repeats=power.repeats)
