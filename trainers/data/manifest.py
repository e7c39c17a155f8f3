"""Manifest CSVs: ``path,label[,speaker,seconds]``, one clip a row, paths relative to the CSV's folder.

A manifest is how a generated corpus (:func:`dslnas.trainers.data.speech_synth.synthesize_corpus`) and
any user's own list of files are described. The header line is required and names the columns (any
order); ``path`` and ``label`` must be present, ``speaker`` and ``seconds`` may be. An empty ``speaker``
means "unknown speaker"; ``seconds``, when given, must agree with the file (within 0.01 s).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from pathlib import Path

from dslnas.spaces.errors import DataError
from dslnas.trainers.data.clips import grouped_eval_indices
from dslnas.trainers.data.csv_text import read_csv_text

MANIFEST_NAME = "manifest.csv"
MANIFEST_COLUMNS: tuple[str, ...] = ("path", "label", "speaker", "seconds")
REQUIRED_COLUMNS: tuple[str, ...] = ("path", "label")
SECONDS_TOLERANCE_S = 0.01


@dataclass(frozen=True)
class ManifestEntry:
    """One clip: ``path`` relative to the manifest's folder (POSIX separators) or absolute."""

    path: str
    label: str
    speaker: str | None = None
    seconds: float | None = None
    line: int = 0  # 1-based line in the CSV it was read from (0: not read from a file)


@dataclass(frozen=True)
class Manifest:
    """A list of clips under ``root`` (the folder the relative paths start from).

    ``notes`` carries anything a reader of the corpus should know (e.g. that a fallback was used).
    """

    root: Path
    entries: tuple[ManifestEntry, ...]
    notes: tuple[str, ...] = ()

    @property
    def csv_path(self) -> Path:
        return self.root / MANIFEST_NAME

    def resolve(self, entry: ManifestEntry) -> Path:
        """The file an entry names."""
        path = Path(entry.path)
        return path if path.is_absolute() else self.root / path

    def seconds_by_label(self) -> dict[str, float]:
        """Total ``seconds`` per label (entries without seconds count 0)."""
        totals: dict[str, float] = {}
        for entry in self.entries:
            totals[entry.label] = totals.get(entry.label, 0.0) + (entry.seconds or 0.0)
        return totals

    def speakers(self, label: str | None = None) -> tuple[str, ...]:
        """Distinct speakers (of ``label``, or all), sorted."""
        return tuple(sorted({e.speaker for e in self.entries if e.speaker and label in (None, e.label)}))

    def write(self) -> Path:
        """Write :attr:`csv_path` (all four columns; seconds with millisecond precision)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(MANIFEST_COLUMNS)
        for e in self.entries:
            writer.writerow([e.path, e.label, e.speaker or "", "" if e.seconds is None else f"{e.seconds:.3f}"])
        self.root.mkdir(parents=True, exist_ok=True)
        self.csv_path.write_text(buffer.getvalue(), encoding="utf-8")
        return self.csv_path


def is_manifest_header(line: str) -> bool:
    """Whether a CSV's first line is a manifest header (it names ``path`` and ``label``)."""
    names = {name.strip().lower() for name in line.split(",")}
    return set(REQUIRED_COLUMNS) <= names


def read_manifest(csv_path: Path) -> Manifest:
    """Parse a manifest CSV (blank lines and ``#`` comment lines are skipped).

    Raises:
        DataError: the file is missing or not UTF-8, the header lacks ``path``/``label`` or names an unknown
            column, a row has the wrong number of fields, an empty path or label, a bad ``seconds``, or a
            path listed twice (the message gives the line).
    """
    text = read_csv_text(csv_path, "manifest CSV")
    rows = [(n, row) for n, row in enumerate(csv.reader(io.StringIO(text)), start=1)
            if row and any(f.strip() for f in row) and not row[0].lstrip().startswith("#")]
    if not rows:
        raise DataError(f"{csv_path}: manifest is empty (expected a header: path,label[,speaker,seconds])")
    columns = _columns(csv_path, rows[0][1])
    entries = tuple(_entry(csv_path, line, columns, row) for line, row in rows[1:])
    if not entries:
        raise DataError(f"{csv_path}: manifest lists no clips")
    _check_unique(csv_path, entries)
    return Manifest(csv_path.parent, entries)


def _columns(csv_path: Path, header: list[str]) -> list[str]:
    """The header's column names, checked."""
    columns = [name.strip().lower() for name in header]
    unknown = [name for name in columns if name not in MANIFEST_COLUMNS]
    if unknown:
        raise DataError(f"{csv_path} line 1: unknown column {unknown[0]!r} (valid: {', '.join(MANIFEST_COLUMNS)})")
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise DataError(f"{csv_path} line 1: header lacks the {missing[0]!r} column (path,label[,speaker,seconds])")
    if len(set(columns)) != len(columns):
        raise DataError(f"{csv_path} line 1: a column is named twice")
    return columns


def _entry(csv_path: Path, line: int, columns: list[str], row: list[str]) -> ManifestEntry:
    """One data row as a :class:`ManifestEntry`."""
    where = f"{csv_path} line {line}"
    if len(row) != len(columns):
        raise DataError(f"{where}: expected {len(columns)} fields ({','.join(columns)}), got {len(row)}")
    fields = {name: value.strip() for name, value in zip(columns, row)}
    if not fields["path"] or not fields["label"]:
        raise DataError(f"{where}: empty {'path' if not fields['path'] else 'label'}")
    seconds = None
    if fields.get("seconds"):
        try:
            seconds = float(fields["seconds"])
        except ValueError:
            raise DataError(f"{where}: seconds {fields['seconds']!r} is not a number") from None
        if not 0.0 < seconds < float("inf"):
            raise DataError(f"{where}: seconds {fields['seconds']!r} is not a positive duration")
    return ManifestEntry(fields["path"], fields["label"].lower(), fields.get("speaker") or None, seconds, line)


def _check_unique(csv_path: Path, entries: tuple[ManifestEntry, ...]) -> None:
    first: dict[str, int] = {}
    for entry in entries:
        if entry.path in first:
            raise DataError(f"{csv_path} line {entry.line}: path {entry.path} repeats line {first[entry.path]}")
        first[entry.path] = entry.line


def split_manifest(manifest: Manifest, eval_fraction: float, seed: int) -> tuple[Manifest, Manifest]:
    """(train, eval) manifests with no speaker on both sides, stratified by label, deterministic per seed.

    The unit held out is a speaker (an entry without one is its own unit); per label,
    ``round(n_speakers * eval_fraction)`` speakers go to eval, at least one on each side when the label
    has two or more (the rule of :func:`~dslnas.trainers.data.clips.train_eval_split`, which applies the
    same split to clips that carry speakers).

    Raises:
        ValueError: ``eval_fraction`` is outside [0, 1).
    """
    labels = [entry.label for entry in manifest.entries]
    groups = [entry.speaker or f"\0{index}" for index, entry in enumerate(manifest.entries)]
    held_out = grouped_eval_indices(labels, groups, eval_fraction, seed)
    train = tuple(e for i, e in enumerate(manifest.entries) if i not in held_out)
    evaluation = tuple(e for i, e in enumerate(manifest.entries) if i in held_out)
    return replace(manifest, entries=train), replace(manifest, entries=evaluation)


def join_manifests(out: Path, manifests: list[Path]) -> Manifest:
    """One manifest at ``out/manifest.csv`` listing every clip of ``manifests`` in the order given, with
    absolute paths (the joined CSV may live anywhere); the files stay where they are.

    Order matters to the speaker-disjoint split: units are shuffled in order of first appearance, so a join
    that starts with corpus A and adds only A's speakers and scenes (no new label, no entry without a speaker)
    holds out A's units under A's seed. Speaker names are not namespaced: ``spk1`` in two corpora is one
    speaker, which is what a corpus re-spoken by the same voices wants, and wrong for unrelated corpora.

    Raises:
        DataError: fewer than two manifests, one unreadable (see :func:`read_manifest`), a file listed twice
            across them, or ``out`` already holding a manifest.
    """
    if len(manifests) < 2:
        raise DataError(f"data join needs at least two manifests to join, got {len(manifests)}")
    target = Path(out) / MANIFEST_NAME
    if target.exists():
        raise DataError(f"{target}: already exists (join into a new folder)")
    entries: list[ManifestEntry] = []
    for csv_path in manifests:
        source = read_manifest(Path(csv_path) / MANIFEST_NAME if Path(csv_path).is_dir() else Path(csv_path))
        entries += [replace(e, path=str(source.resolve(e).resolve()), line=0) for e in source.entries]
    seen: set[str] = set()
    for e in entries:
        if e.path in seen:
            raise DataError(f"data join: {e.path} is listed by more than one manifest")
        seen.add(e.path)
    joined = Manifest(Path(out), tuple(entries))
    joined.write()
    return joined
