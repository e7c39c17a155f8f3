"""Outputs written whole or not at all: every file or folder a command writes goes through here.

A writer writes a temporary name in the target's folder (``.<name>.<pid>.tmp<suffix>``: same filesystem,
same suffix so format-by-extension writers still work); when it returns, the temporary name is renamed over
the target. A failure or a kill leaves the previous target as it was (and no temporary file after a
failure). A folder (an ONNX export, a report's ``png/``) is built beside its target and swapped in:
the target holds the old folder or the new one, never a mix of both.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from dslnas.spaces.errors import UserError

T = TypeVar("T")


def temporary_name(path: Path) -> Path:
    """The name ``path`` is written under until complete (hidden, in the same folder, same suffix)."""
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")


@contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield the temporary path to write; on success it replaces ``path``, on an error it is removed.

    A ``path`` that is a folder is a UserError before anything is written.
    """
    target = Path(path)
    if target.is_dir():
        raise UserError(f"{target}: is a folder; give a file path to write")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(target)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


@contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary folder (beside folder ``path``) to fill; on success each of its entries is
    renamed into ``path`` (replacing an entry of the same name; other files there are kept), on an error it is
    removed and ``path`` is left as it was. The renames take microseconds: a kill during the long writing
    leaves the earlier export whole."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise UserError(f"{target}: is a file; give a folder to write")
    target.mkdir(parents=True, exist_ok=True)
    fresh = temporary_name(target)
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir()
    try:
        yield fresh
        for entry in sorted(fresh.iterdir()):
            if (target / entry.name).is_dir():
                shutil.rmtree(target / entry.name)
            os.replace(entry, target / entry.name)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)


def relocated(value: T, fresh: Path, target: Path) -> T:
    """``value`` (a dataclass, or a path) with every path inside ``fresh`` moved to the same place in ``target``."""
    if isinstance(value, Path):
        return target / value.relative_to(fresh) if value.is_relative_to(fresh) else value  # type: ignore[return-value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: relocated(getattr(value, f.name), fresh, target) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    return value
