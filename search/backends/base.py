"""The interface every search backend implements: run trials into the study, report progress.

A backend takes a :class:`SearchConfig` and the study's trained base codec and runs trials until the
study holds ``config.trials`` completed ones (or it has made ``max_attempts`` attempts), writing each
finished trial into the Optuna storage through ``search.records`` so that reports, confirmation and export
read one format whichever backend ran. ``on_progress`` is called with no arguments after each finished
trial and now and then while trials run; the caller reads the study's state itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from dslnas.search.config import SearchConfig

ProgressCallback = Callable[[], None]


class SearchBackend(ABC):
    """One way of running a study's trials (``optuna`` workers, ``ray`` Tune)."""

    name: ClassVar[str]
    # Whether the study's creator queues the reference points as the first trials (Optuna), or the
    # backend hands them to its own searcher (Ray's OptunaSearch).
    queues_references: ClassVar[bool] = True

    @abstractmethod
    def run(self, config: SearchConfig, base_checkpoint: Path, max_attempts: int,
            on_progress: ProgressCallback | None = None) -> None:
        """Run trials until the study holds ``config.trials`` completed ones, at most ``max_attempts``."""
