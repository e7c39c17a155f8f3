"""Runners by name: ``local`` (this host), ``command`` (a board behind a command), ``replay`` (a CSV).

``get_runner("command", command=["ssh", "board", "run-model", "{artifact}"], timeout_s=60)``; an
unknown name or option is a UserError that lists the valid ones.
"""

from __future__ import annotations

import inspect
from typing import Any

from dslnas.hw_models.runners.base import DeviceRunner
from dslnas.hw_models.runners.command import CommandRunner
from dslnas.hw_models.runners.local import LocalRunner
from dslnas.hw_models.runners.replay import ReplayRunner
from dslnas.spaces.errors import ConfigError, unknown_name

RUNNERS: dict[str, type[DeviceRunner]] = {cls.name: cls for cls in (LocalRunner, CommandRunner, ReplayRunner)}


def runner_options(name: str) -> list[str]:
    """The option names ``get_runner(name, ...)`` accepts."""
    return list(inspect.signature(_runner_class(name)).parameters)


def get_runner(name: str, **options: Any) -> DeviceRunner:
    """The runner registered as ``name``, built with ``options``."""
    valid = runner_options(name)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigError(f"runner {name!r}: unknown option(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
    return _runner_class(name)(**options)


def _runner_class(name: str) -> type[DeviceRunner]:
    if name not in RUNNERS:
        raise unknown_name("runner", name, list(RUNNERS))
    return RUNNERS[name]
