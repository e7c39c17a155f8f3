"""``--set key=value`` overrides of a config, validated as the YAML it stands for (``dslnas train --set``).

A key is a dotted path from the config's root (``train.steps``, ``candidate.dsl.threshold``,
``train.data.eval_clip_seconds``); for a :class:`~dslnas.spaces.run_config.RunConfig` a key that is not one
of its own fields but is a field of its ``train`` recipe means ``train.<key>`` (``--set steps=150`` is
``--set train.steps=150``). A value is read as a YAML scalar or flow list (``150``, ``1e-3``, ``true``,
``null``, ``[0.5, 0.9]``, ``cosine``), safely. The overridden config is validated whole: an unknown key, a
key that is not a section where one is needed, or a bad value is one ConfigError line naming the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import pydantic
import yaml

from dslnas.spaces.errors import ConfigError
from dslnas.spaces.yaml_io import validate

M = TypeVar("M", bound=pydantic.BaseModel)
SHORTHAND_SECTION = "train"
"""Where a key that is not a root field of a RunConfig is looked for."""


def parse_assignment(text: str) -> tuple[tuple[str, ...], Any]:
    """``"a.b=value"`` -> ``(("a", "b"), value)``; ConfigError for anything without ``=`` or with an empty key."""
    key, sep, raw = text.partition("=")
    parts = tuple(part.strip() for part in key.split("."))
    if not sep or not all(parts):
        raise ConfigError(f"--set {text!r}: expected key=value with a dotted key (e.g. train.steps=150)")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as err:
        raise ConfigError(f"--set {text!r}: the value is not a YAML scalar or list "
                          f"({str(err).splitlines()[0]})") from err
    if isinstance(value, dict):
        raise ConfigError(f"--set {text!r}: set one key at a time (a.b=1), not a mapping")
    return parts, value


def apply_overrides(config: M, assignments: Sequence[str]) -> M:
    """``config`` with every ``key=value`` of ``assignments`` applied in order, validated as a whole."""
    if not assignments:
        return config
    data = config.model_dump(mode="json")
    fields = set(type(config).model_fields)
    for text in assignments:
        parts, value = parse_assignment(text)
        if parts[0] not in fields and SHORTHAND_SECTION in fields and parts[0] in _section_fields(data, SHORTHAND_SECTION):
            parts = (SHORTHAND_SECTION, *parts)
        _set(data, parts, value, text)
    return validate(type(config), data, "--set")


def _section_fields(data: dict[str, Any], section: str) -> set[str]:
    value = data.get(section)
    return set(value) if isinstance(value, dict) else set()


def _set(data: dict[str, Any], parts: tuple[str, ...], value: Any, text: str) -> None:
    """Set ``data[parts[0]][parts[1]]... = value``; every key must already exist (the config's schema)."""
    node = data
    for depth, part in enumerate(parts):
        where = ".".join(parts[: depth + 1])
        if not isinstance(node, dict):
            raise ConfigError(f"--set {text!r}: '{'.'.join(parts[:depth])}' is a value, not a section")
        if part not in node:
            raise ConfigError(f"--set {text!r}: unknown key '{where}' (valid here: {', '.join(sorted(node))})")
        if depth == len(parts) - 1:
            node[part] = value
        else:
            node = node[part]
