"""Search backends by name: ``optuna`` (workers sharing an Optuna storage) and ``ray`` (Ray Tune)."""

from __future__ import annotations

from collections.abc import Callable

from dslnas.search.config import BackendKind


def get_backend(kind: BackendKind) -> Callable[..., None]:
    """The ``run(config, n_trials, on_trial)`` function of a backend (imported lazily: Ray is heavy)."""
    if kind is BackendKind.RAY:
        from dslnas.search.backends.ray_backend import run_ray

        return run_ray
    from dslnas.search.backends.optuna_backend import run_optuna

    return run_optuna

