"""The one way a CSV enters dslnas's data loaders: its text (a byte-order mark dropped), and which lines are data.

A missing or non-UTF-8 file is a one-line :class:`DataError` naming it; blank lines and ``#`` comment lines
are not data (manifests, AudioSet segment lists and the layout probe of ``--data`` all read CSVs this way).
"""

from __future__ import annotations

from pathlib import Path

from dslnas.spaces.errors import DataError

CSV_ENCODING = "utf-8-sig"
"""UTF-8, with the byte-order mark spreadsheets write dropped."""


def read_csv_text(csv_path: Path, what: str) -> str:
    """The text of ``csv_path``; missing: ``DataError("<path>: <what> not found")``, not UTF-8: a DataError too."""
    if not csv_path.is_file():
        raise DataError(f"{csv_path}: {what} not found")
    try:
        return csv_path.read_text(encoding=CSV_ENCODING)
    except UnicodeDecodeError as err:
        raise DataError(f"{csv_path}: not a UTF-8 text file") from err


def is_data_line(line: str) -> bool:
    """Whether a CSV line holds data: neither blank nor a ``#`` comment."""
    return bool(line.strip()) and not line.lstrip().startswith("#")
