"""YAML in and out for the typed configs, validated on load.

Files are read with ``yaml.safe_load``. A file may name a base file with ``extends: other.yaml``
(relative to itself): the base is loaded first and this file's keys are merged over it, so an ablation
is a two-line YAML. Validation errors become one-line :class:`ConfigError` naming the file and key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from dslnas.spaces.errors import ConfigError

M = TypeVar("M", bound=pydantic.BaseModel)


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """Read a YAML file into a dict, resolving ``extends:`` chains. Raises ConfigError."""
    return _read(Path(path), seen=())


def _read(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    if path.resolve() in seen:
        raise ConfigError(f"{path}: 'extends' forms a cycle")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    base = data.pop("extends", None)
    if base is None:
        return data
    return deep_merge(_read(path.parent / str(base), seen + (path.resolve(),)), data)


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
    """Build ``model`` from plain data; a failure is a one-line ConfigError naming ``source`` and the key."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as err:
        raise ConfigError(f"{source}: {describe_validation_error(err)}") from err


def describe_validation_error(err: pydantic.ValidationError) -> str:
    """One line for the first problem: dotted key path and pydantic's message."""
    first = err.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        return f"unknown key '{key}'"
    if first["type"] == "missing":
        return f"missing key '{key}'"
    return f"key '{key}': {first['msg']}"


def load_model(model: type[M], path: str | Path) -> M:
    """Read and validate one YAML file as ``model``."""
    return validate(model, read_yaml_mapping(path), str(path))


def dump_model(obj: pydantic.BaseModel, path: str | Path | None = None) -> str:
    """Serialise a config to YAML text (and write it to ``path`` when given)."""
    text = yaml.safe_dump(obj.model_dump(mode="json"), sort_keys=False)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)
    return text
