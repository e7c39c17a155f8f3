"""The one exception type for a user's mistake.

Everything a user can get wrong (a missing file, a bad YAML key, an unknown preset) raises
:class:`UserError` with a one-line message that names the thing and what is wrong. The CLI prints that
line and exits non-zero; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the user's input; ``str(err)`` is the whole one-line explanation."""


class DataError(UserError):
    """Audio or dataset input that cannot be used (missing, empty, corrupt, too short)."""


class ConfigError(UserError):
    """A configuration file or value that fails validation."""


def unknown_name(kind: str, name: str, valid: list[str] | tuple[str, ...]) -> UserError:
    """The error for a registry lookup that failed; lists the valid names."""
    return UserError(f"unknown {kind} {name!r}; valid: {', '.join(sorted(valid))}")
