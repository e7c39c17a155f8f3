"""Which layout a ``--data PATH`` holds: :func:`data_config_for` looks at the disk and names the
:class:`DatasetKind` whose loader (``trainers.data.datasets``) reads it.

The first rule that matches decides:

1. a ``.csv`` file: its first line that is neither blank nor a ``#`` comment names the columns ``path``
   and ``label`` -> ``manifest``; otherwise (or when the file cannot be read) ``audioset``;
2. a folder holding ``manifest.csv`` -> ``manifest`` (that CSV);
3. a folder where at least half of the wav/flac files are LibriTTS utterances
   (``<speaker>/<chapter>/<speaker>_<chapter>_*``) -> ``libritts``;
4. a folder with no audio directly inside it but audio in its sub-folders -> ``labelled_folder`` (each
   first-level sub-folder is a class);
5. anything else (audio directly in the folder, or a path that does not exist) -> ``folder``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dslnas.spaces.run_config import DataConfig, DatasetKind
from dslnas.trainers.data.audio_io import AUDIO_SUFFIXES
from dslnas.trainers.data.csv_text import CSV_ENCODING, is_data_line

MANIFEST_FILE = "manifest.csv"


def data_config_for(path: str | Path, **changes: Any) -> DataConfig:
    """The data a ``--data PATH`` option names, its layout told from what the path holds (module docstring);
    ``changes``: other :class:`DataConfig` fields."""
    path = Path(path).expanduser()
    if path.suffix.lower() == ".csv":
        kind = DatasetKind.MANIFEST if _has_manifest_header(path) else DatasetKind.AUDIOSET
    elif path.is_dir() and (path / MANIFEST_FILE).is_file():
        kind, path = DatasetKind.MANIFEST, path / MANIFEST_FILE
    else:
        kind = _folder_kind(path)
    return DataConfig(kind=kind, path=str(path), **changes)


def _has_manifest_header(csv_path: Path) -> bool:
    """Whether the CSV's first data line names the ``path`` and ``label`` columns."""
    try:
        with csv_path.open(encoding=CSV_ENCODING) as lines:
            first = next((line for line in lines if is_data_line(line)), "")
    except (OSError, UnicodeDecodeError):
        return False
    return {"path", "label"} <= {name.strip().strip('"').lower() for name in first.split(",")}


def _folder_kind(root: Path) -> DatasetKind:
    """Rules 3-5 for a folder (or a path that is not one)."""
    if not root.is_dir():
        return DatasetKind.FOLDER
    files = [p.relative_to(root) for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()]
    if not files:
        return DatasetKind.FOLDER
    libritts = sum(
        len(rel.parts) >= 3 and rel.stem.startswith(f"{rel.parts[-3]}_{rel.parts[-2]}_") for rel in files
    )
    if 2 * libritts >= len(files):
        return DatasetKind.LIBRITTS
    if all(len(rel.parts) >= 2 for rel in files):
        return DatasetKind.LABELLED_FOLDER
    return DatasetKind.FOLDER
