"""AudioSet segment CSVs over local audio files.

``YTID, start_seconds, end_seconds, positive_labels`` (``#`` lines are comments, a ``YTID,...`` header line is
optional) over ``<audio_dir or the CSV's folder>/<YTID>.wav|.flac``; clip id = YTID. A file that covers
``end_seconds`` is cropped to ``[start_seconds, end_seconds]``; a file no longer than the segment (+0.5 s) is
taken to be the segment already cut out (as AudioSet downloads usually are) and used whole. Label:
``"speech"`` or ``"silence"`` when a positive label is Speech (``/m/09x0r``) or Silence (``/m/028v0c``), by MID
or name, first one listed wins; otherwise the first label, lowercased. Every problem is a one-line
:class:`DataError` naming the CSV line at fault.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from dslnas.spaces.run_config import DataConfig
from dslnas.spaces.errors import DataError
from dslnas.trainers.data.audio_io import AUDIO_SUFFIXES, AudioSpan, open_span
from dslnas.trainers.data.clips import SILENCE, SPEECH, Clip
from dslnas.trainers.data.csv_text import is_data_line, read_csv_text

AUDIOSET_COLUMNS: tuple[str, ...] = ("YTID", "start_seconds", "end_seconds", "positive_labels")
AUDIOSET_LABELS: dict[str, str] = {"/m/09x0r": SPEECH, "/m/028v0c": SILENCE}
"""AudioSet MIDs mapped to the class names the DSL evaluation reports on."""
PRECUT_TOLERANCE_S = 0.5


@dataclass(frozen=True)
class AudioSetRow:
    """One segment of an AudioSet CSV; ``line`` is its 1-based line number in the file."""

    line: int
    ytid: str
    start_s: float
    end_s: float
    labels: tuple[str, ...]


def load_audioset(cfg: DataConfig, sample_rate_hz: int) -> list[Clip]:
    """The segments an AudioSet CSV lists, cut (lazily) from ``<audio_dir>/<YTID>.wav|.flac``."""
    if not cfg.path:
        raise DataError("data.path must name the AudioSet segment CSV")
    csv_path = Path(cfg.path).expanduser()
    rows = read_audioset_csv(csv_path)
    audio_dir = Path(cfg.audio_dir).expanduser() if cfg.audio_dir else csv_path.parent
    if not audio_dir.is_dir():
        raise DataError(f"{audio_dir}: AudioSet audio folder not found")
    return [_audioset_clip(row, csv_path, audio_dir, sample_rate_hz) for row in rows]


def read_audioset_csv(csv_path: Path) -> list[AudioSetRow]:
    """Parse an AudioSet segment CSV (``#`` comment lines and an optional ``YTID,...`` header allowed).

    Raises:
        DataError: the file is missing or undecodable, lists no segments, has a malformed row (the message
            gives its line), a segment with ``end_seconds <= start_seconds``, or a repeated YTID.
    """
    text = read_csv_text(csv_path, "AudioSet segment CSV")
    lines = re.split(r"\r\n|\r|\n", text)  # the line breaks pandas honours
    is_data = [is_data_line(line) for line in lines]
    skipped = [index for index, data in enumerate(is_data) if not data]
    line_numbers = [index + 1 for index, data in enumerate(is_data) if data]
    records = _read_records(csv_path, text, skipped, line_numbers) if line_numbers else []
    if records and records[0][1][0] == "YTID":  # an optional header line
        records = records[1:]
    rows = [_parse_row(f"{csv_path} line {line}", line, fields) for line, fields in records]
    if not rows:
        raise DataError(f"{csv_path}: lists no segments")
    _check_unique_ytids(csv_path, rows)
    return rows


def _read_records(
    csv_path: Path, text: str, skipped: list[int], line_numbers: list[int]
) -> list[tuple[int, list[str]]]:
    """``(line number, four stripped fields)`` per data line; a row with extra fields is a DataError."""
    expected = f"expected {len(AUDIOSET_COLUMNS)} fields: {', '.join(AUDIOSET_COLUMNS)}"
    try:
        frame = pd.read_csv(
            io.StringIO(text), header=None, skiprows=skipped, dtype=str, keep_default_na=False,
            skipinitialspace=True, skip_blank_lines=False,
        )
    except pd.errors.ParserError as err:  # a row with more fields than the first one
        found = re.search(r"line (\d+)", str(err))
        where = f"{csv_path} line {found.group(1)}" if found else str(csv_path)
        raise DataError(f"{where}: malformed row ({expected})") from err
    records = []
    for line, values in zip(line_numbers, frame.values.tolist()):
        fields = ["" if pd.isna(value) else str(value).strip() for value in values]
        if any(fields[len(AUDIOSET_COLUMNS) :]):
            raise DataError(f"{csv_path} line {line}: malformed row ({expected})")
        records.append((line, (fields + [""] * len(AUDIOSET_COLUMNS))[: len(AUDIOSET_COLUMNS)]))
    return records


def _parse_row(where: str, line: int, fields: list[str]) -> AudioSetRow:
    """One CSV record (four stripped strings) as a validated :class:`AudioSetRow`."""
    ytid, start_text, end_text, labels_text = fields
    if not ytid:
        raise DataError(f"{where}: malformed row (empty YTID)")
    start_s = _seconds(where, "start_seconds", start_text)
    end_s = _seconds(where, "end_seconds", end_text)
    if end_s <= start_s:
        raise DataError(f"{where}: end_seconds {end_s:g} is not after start_seconds {start_s:g}")
    labels = tuple(label.strip() for label in labels_text.split(",") if label.strip())
    if not labels:
        raise DataError(f"{where}: malformed row (no positive_labels)")
    return AudioSetRow(line, ytid, start_s, end_s, labels)


def _seconds(where: str, column: str, text: str) -> float:
    """A non-negative, finite time in seconds from a CSV field."""
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{where}: malformed row ({column} {text!r} is not a number)") from None
    if not 0.0 <= value < float("inf"):
        raise DataError(f"{where}: malformed row ({column} {text!r} is not a time >= 0)")
    return value


def _check_unique_ytids(csv_path: Path, rows: list[AudioSetRow]) -> None:
    """Clip ids are YTIDs, so each may appear once."""
    first_line: dict[str, int] = {}
    for row in rows:
        if row.ytid in first_line:
            first = first_line[row.ytid]
            raise DataError(f"{csv_path} line {row.line}: YTID {row.ytid} repeats line {first}")
        first_line[row.ytid] = row.line


def audioset_label(labels: Sequence[str]) -> str:
    """A segment's class: its first speech/silence label (MID or name), else its first label lowercased."""
    names = [AUDIOSET_LABELS.get(label, label.lower()) for label in labels]
    return next((name for name in names if name in (SPEECH, SILENCE)), names[0])


def _audioset_clip(row: AudioSetRow, csv_path: Path, audio_dir: Path, sample_rate_hz: int) -> Clip:
    """Index, crop and label one segment (the file's header is read, not its samples)."""
    candidates = [audio_dir / f"{row.ytid}{suffix}" for suffix in AUDIO_SUFFIXES]
    path = next((candidate for candidate in candidates if candidate.is_file()), None)
    if path is None:
        raise DataError(
            f"{candidates[0]}: audio file for YTID {row.ytid} ({csv_path} line {row.line}) not found "
            f"(looked for {' and '.join(c.name for c in candidates)})"
        )
    span = _crop_segment(open_span(path, sample_rate_hz), row, sample_rate_hz)
    return Clip(row.ytid, span, audioset_label(row.labels))


def _crop_segment(span: AudioSpan, row: AudioSetRow, sample_rate_hz: int) -> AudioSpan:
    """The span ``[start, end)`` of a whole recording, or the whole file when it is the segment already."""
    start, end = round(row.start_s * sample_rate_hz), round(row.end_s * sample_rate_hz)
    if span.length_samples >= end:
        return replace(span, offset_samples=start, length_samples=end - start)
    if span.length_samples <= end - start + PRECUT_TOLERANCE_S * sample_rate_hz:
        return span
    raise DataError(
        f"{span.path}: audio is {span.length_samples / sample_rate_hz:.2f} s, neither the segment "
        f"[{row.start_s:g}, {row.end_s:g}] s alone nor a recording that reaches its end (line {row.line})"
    )
