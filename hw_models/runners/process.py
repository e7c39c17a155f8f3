"""Child processes for runners: argument lists only (never a shell), a hard timeout, readable failures.

Each child runs in its own session so that a timeout kills what it started too (an ``ssh`` or ``adb``
wrapper's children), not just the direct child.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

from dslnas.hw_models.runners.base import MeasurementError

STDERR_TAIL_CHARS = 800


def run_argv(
    artifact: str, argv: Sequence[str], timeout_s: float, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``argv``, capture text output; a timeout, a missing program or a non-zero exit is a MeasurementError."""
    try:
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=None if env is None else dict(env), start_new_session=True,
        )
    except OSError as err:
        raise MeasurementError(artifact, f"cannot start {argv[0]!r}: {err}") from err
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        stdout, stderr = proc.communicate()
        raise MeasurementError(
            artifact, f"timed out after {timeout_s:g} s: {_show(argv)}{_tail_note(stderr)}"
        ) from None
    if proc.returncode != 0:
        raise MeasurementError(artifact, f"exit status {proc.returncode} from {_show(argv)}{_tail_note(stderr)}")
    return subprocess.CompletedProcess(list(argv), proc.returncode, stdout, stderr)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the child's whole session (it was started with ``start_new_session=True``)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def parse_json_object(artifact: str, stdout: str) -> dict[str, Any]:
    """The one JSON object a device printed: the whole stdout, or exactly one line of it.

    Log lines around the object are tolerated; no object or several are a MeasurementError.
    """
    text = stdout.strip()
    whole = _as_object(text)
    if whole is not None:
        return whole
    found = [obj for obj in map(_as_object, text.splitlines()) if obj is not None]
    if len(found) == 1:
        return found[0]
    what = "no JSON object" if not found else f"{len(found)} JSON objects (expected one)"
    raise MeasurementError(artifact, f"{what} in output: {tail(text)!r}")


def _as_object(text: str) -> dict[str, Any] | None:
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def tail(text: str, chars: int = STDERR_TAIL_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= chars else "..." + text[-chars:]


def _tail_note(stderr: str) -> str:
    return f"; stderr: {tail(stderr)}" if stderr.strip() else "; no stderr"


def _show(argv: Sequence[str]) -> str:
    return " ".join(argv)
