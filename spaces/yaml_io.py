"""YAML in and out for the typed configs, validated on load.

Files are read with ``yaml.safe_load``. A file may name a base file with ``extends: other.yaml``
(relative to itself): the base is loaded first and this file's keys are merged over it, so an ablation
is a two-line YAML. Validation errors become one-line :class:`ConfigError` naming the file and key: an
empty file, a binary or non-UTF-8 file and a non-finite number (``.inf``, ``.nan``) are errors too.

Writes go through :func:`atomic_write_text` (a temporary file renamed over the target), so a failed
write never leaves half a file; :func:`check_writable_dir` tells before any work whether a folder can
be written.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from dslnas.spaces import atomic_io
from dslnas.spaces.errors import ConfigError, UserError

M = TypeVar("M", bound=pydantic.BaseModel)


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """Read a YAML file into a dict, resolving ``extends:`` chains. Raises ConfigError."""
    return _read(Path(path), seen=())


def _read(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    if path.resolve() in seen:
        raise ConfigError(f"{path}: 'extends' forms a cycle")
    data = yaml_of(read_text(path), path)
    if data is None:
        raise ConfigError(f"{path}: the file is empty (expected a YAML mapping)")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    base = data.pop("extends", None)
    if base is None:
        return data
    return deep_merge(_read(path.parent / str(base), seen + (path.resolve(),)), data)


def read_text(path: Path) -> str:
    """The UTF-8 text of ``path``; an unreadable, binary or non-UTF-8 file is a ConfigError naming it."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"{path}: cannot be read ({err.strerror or type(err).__name__})") from err
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not a UTF-8 text file (byte {err.start} is not UTF-8); expected YAML") from err
    if "\x00" in text:
        raise ConfigError(f"{path}: a binary file (it holds NUL bytes); expected YAML")
    return text


def yaml_of(text: str, path: Path) -> Any:
    """``yaml.safe_load`` of ``text``; a syntax error is a ConfigError naming the file and line."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from err
    if _expands_beyond(data, MAX_YAML_VALUES):
        raise ConfigError(f"{path}: expands to more than {MAX_YAML_VALUES:,} values (aliases of aliases?); "
                          "a config is far smaller")
    return data


MAX_YAML_VALUES = 100_000
"""The most values a config file may expand to, its aliases counted each time they are used (an alias bomb
of a few hundred bytes expands to billions, and every reader of it would hang)."""


def _expands_beyond(data: Any, limit: int) -> bool:
    """Whether ``data`` holds more than ``limit`` values once shared (aliased) parts are counted per use;
    stops counting at the limit, so it is bounded whatever the nesting."""
    stack, count = [data], 0
    while stack:
        value = stack.pop()
        count += 1
        if count > limit:
            return True
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``override`` merged in; nested mappings merge, everything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def validate(model: type[M], data: Any, source: str) -> M:
    """Build ``model`` from plain data; a failure is a one-line ConfigError naming ``source`` and the key.

    A non-finite float anywhere in ``data`` (except free-form ``provenance``) is an error naming its key.
    """
    bad = first_non_finite(data)
    if bad is not None:
        key, value = bad
        raise ConfigError(f"{source}: key '{key}': must be a finite number, got {value}")
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as err:
        raise ConfigError(f"{source}: {describe_validation_error(err)}") from err


def describe_validation_error(err: pydantic.ValidationError) -> str:
    """One line for the first problem: dotted key path and pydantic's message."""
    first = err.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    if first["type"] == "extra_forbidden":
        return f"unknown key '{key}'"
    if first["type"] == "missing":
        return f"missing key '{key}'"
    message = str(first["msg"]).removeprefix("Value error, ").splitlines()[0]
    return f"key '{key}': {message}" if key else message


def first_non_finite(data: Any, prefix: str = "") -> tuple[str, float] | None:
    """(dotted key, value) of the first ``inf``/``nan`` float in nested mappings and lists, else None.

    ``provenance`` mappings are skipped: they record where a config came from, not what it configures.
    """
    if isinstance(data, float) and not math.isfinite(data):
        return prefix or "(top level)", data
    if isinstance(data, dict):
        items = ((str(k), v) for k, v in data.items() if k != "provenance")
    elif isinstance(data, (list, tuple)):
        items = ((str(i), v) for i, v in enumerate(data))
    else:
        return None
    for key, value in items:
        found = first_non_finite(value, f"{prefix}.{key}" if prefix else key)
        if found is not None:
            return found
    return None


def load_model(model: type[M], path: str | Path) -> M:
    """Read and validate one YAML file as ``model``."""
    return validate(model, read_yaml_mapping(path), str(path))


def dump_model(obj: pydantic.BaseModel, path: str | Path | None = None) -> str:
    """Serialise a config to YAML text (and write it to ``path`` when given)."""
    text = yaml.safe_dump(obj.model_dump(mode="json"), sort_keys=False)
    if path is not None:
        atomic_write_text(Path(path), text)
    return text


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in its folder and a rename: a failure leaves no
    partial file (and an existing one untouched). A folder, or a place that cannot be written, is a UserError."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a folder; give a file path to write")
    check_writable_dir(path.parent, f"the folder of {path},")
    try:
        atomic_io.atomic_write_text(path, text)
    except OSError as err:
        raise UserError(f"{path}: cannot be written ({err.strerror or type(err).__name__})") from err


def check_writable_dir(path: str | Path, what: str = "folder") -> Path:
    """Raise UserError unless ``path`` is a folder this process can write in, or one it can create.

    Creates nothing that stays: a probe file is made and removed in the nearest existing ancestor
    (permission bits alone do not tell: root ignores them, a read-only mount does not).
    """
    path = Path(path).expanduser()
    ancestor = path
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UserError(f"{what} {path} cannot be created: {ancestor} is a file")
    try:
        fd, probe = tempfile.mkstemp(prefix=".dslnas-write-probe-", dir=ancestor)
    except OSError as err:
        raise UserError(f"{what} {path} is not writable: {err.strerror or type(err).__name__} ({ancestor})") from err
    os.close(fd)
    os.unlink(probe)
    return path
