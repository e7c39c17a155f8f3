"""Search backends by name: ``optuna`` (workers sharing an Optuna storage) and ``ray`` (Ray Tune).

The registry is lazy (Ray is heavy): :func:`get_backend` imports a backend's module only when asked
for it. An unknown name is a UserError listing the valid ones.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from dslnas.spaces.errors import unknown_name

if TYPE_CHECKING:
    from dslnas.search.backends.base import SearchBackend

# name -> "module:class"
BACKENDS: dict[str, str] = {
    "optuna": "dslnas.search.backends.optuna_backend:OptunaBackend",
    "ray": "dslnas.search.backends.ray_backend:RayBackend",
}


def check_backend_name(name: str) -> str:
    if name not in BACKENDS:
        raise unknown_name("search backend", name, list(BACKENDS))
    return name


def get_backend(name: str) -> "SearchBackend":
    """A new instance of the backend registered as ``name``."""
    module, cls = BACKENDS[check_backend_name(name)].split(":")
    return getattr(importlib.import_module(module), cls)()
