"""Datasets: a :class:`DataConfig` in, an index of labelled mono :class:`Clip` out.

One loader per :class:`DatasetKind`, looked up in a registry (``layout.data_config_for`` picks the kind
from what a ``--data`` path holds):

* ``demo``: generated speech-like / silence-like clips (:mod:`.demo_audio`), in memory, nothing on disk.
* ``folder``: every ``*.wav`` / ``*.flac`` under ``path`` (recursive, sorted), label ``"unknown"``,
  clip id = the file's path relative to ``path``.
* ``labelled_folder``: ``<path>/<label>/**/*.wav|.flac``: the first-level sub-folder is the class label
  (lowercased); clip id = the path relative to ``path``.
* ``libritts``: ``<path>/[...]/<speaker>/<chapter>/<speaker>_<chapter>_<...>.wav``, label ``"speech"``,
  speaker kept, clip id = the file stem.
* ``manifest``: a ``path,label[,speaker,seconds]`` CSV (:mod:`.manifest`), paths relative to the CSV.
* ``audioset``: an AudioSet segment CSV over local files (:mod:`.audioset`).

Clips from files are lazy: indexing reads each file's header (``soundfile.info``), samples are read when a
crop or a whole clip is asked for, so memory grows with the number of clips, not hours of audio. A clip
shorter than ``min_samples`` is zero-padded to it and counted (:attr:`DatasetIndex.padded_clip_ids`, and a
:class:`ShortClipWarning`); padding rather than dropping keeps the list, and so the train/eval split, the
same whatever crop length a caller asks for. Every problem is a one-line :class:`DataError` naming the path
(and CSV line) at fault.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dslnas.spaces.run_config import DataConfig, DatasetKind
from dslnas.spaces.synth_config import SynthOptions
from dslnas.spaces.errors import ConfigError, DataError, UserError, unknown_name
from dslnas.trainers.data.audio_io import AUDIO_SUFFIXES, is_audio_file, open_span
from dslnas.trainers.data.audioset import audioset_label, load_audioset, read_audioset_csv
from dslnas.trainers.data.clips import SPEECH, UNKNOWN, Clip, ShortClipWarning
from dslnas.trainers.data.demo_audio import generate_demo_clips
from dslnas.trainers.data.layout import MANIFEST_FILE
from dslnas.trainers.data.manifest import SECONDS_TOLERANCE_S, read_manifest
from dslnas.trainers.data.voices import Voice, available_voices

Loader = Callable[[DataConfig, int], list[Clip]]

__all__ = ["DatasetIndex", "ShortClipWarning", "audioset_label", "index_dataset", "load_dataset",
           "read_audioset_csv"]


@dataclass(frozen=True)
class DatasetIndex:
    """The clips of one dataset and what was done to them.

    Attributes:
        source: the dataset's path (or ``"demo dataset"``).
        clips: every clip, in a deterministic order, each at least ``min_samples`` long.
        padded_clip_ids: the clips that were shorter than ``min_samples`` and zero-padded to it.
        min_samples: the length asked for, in samples.
    """

    source: str
    clips: tuple[Clip, ...]
    padded_clip_ids: tuple[str, ...]
    min_samples: int


def index_dataset(cfg: DataConfig, sample_rate_hz: int, min_samples: int) -> DatasetIndex:
    """Index the clips ``cfg`` names, at ``sample_rate_hz``, padding any shorter than ``min_samples``.

    Raises:
        DataError: missing folder/CSV/audio file, no audio found, a malformed CSV row, an unreadable file.
    """
    loader = _LOADERS.get(cfg.kind)
    if loader is None:
        raise unknown_name("dataset kind", str(cfg.kind), [kind.value for kind in _LOADERS])
    clips = loader(cfg, sample_rate_hz)
    wanted = max(min_samples, 1)
    padded = tuple(clip.clip_id for clip in clips if clip.num_samples < wanted)
    source = cfg.path if cfg.path else f"{cfg.kind.value} dataset"
    return DatasetIndex(source, tuple(clip.padded_to(wanted) for clip in clips), padded, wanted)


def load_dataset(cfg: DataConfig, sample_rate_hz: int, min_samples: int) -> list[Clip]:
    """The clips ``cfg`` names, as mono float32 at ``sample_rate_hz`` (file-backed clips read lazily).

    Args:
        cfg: which dataset (kind, path, demo settings).
        sample_rate_hz: rate every clip is resampled to, in Hz.
        min_samples: the shortest clip wanted in samples (a training crop or one routing segment); shorter
            clips are zero-padded to it with a :class:`ShortClipWarning` that counts them.

    Returns:
        The clips in a deterministic order, each ``[T]`` with ``T >= max(min_samples, 1)``.

    Raises:
        DataError: see :func:`index_dataset`.
    """
    index = index_dataset(cfg, sample_rate_hz, min_samples)
    if index.padded_clip_ids:
        shown = ", ".join(index.padded_clip_ids[:5]) + (", ..." if len(index.padded_clip_ids) > 5 else "")
        warnings.warn(
            f"{index.source}: {len(index.padded_clip_ids)} of {len(index.clips)} clips are shorter than "
            f"{index.min_samples / sample_rate_hz:.2f} s and were zero-padded to it ({shown})",
            ShortClipWarning, stacklevel=2,
        )
    return list(index.clips)


def load_demo(cfg: DataConfig, sample_rate_hz: int) -> list[Clip]:
    """Generated speech-like and silence-like clips (no files)."""
    return generate_demo_clips(cfg.demo_clips, cfg.demo_clip_seconds, sample_rate_hz, cfg.seed)


def load_synth(cfg: DataConfig, sample_rate_hz: int) -> list[Clip]:
    """The corpus ``synthesize_corpus`` speaks for ``cfg.seed``, ``cfg.synth_minutes`` and ``cfg.synth`` (the
    natural options; checked before anything is spoken), made once into ``cfg.path`` (default:
    ``synth_cache_dir``) and read from its manifest afterwards. Workers starting together wait for the first
    to finish (a file lock); a half-made corpus is never read.

    Raises:
        ConfigError: a ``data.synth`` value that ``data synth`` refuses (the message names the key).
    """
    import fcntl
    import shutil

    from dslnas.trainers.data.speech_synth import synthesize_corpus

    options = synth_corpus_options(cfg.synth)
    voices = available_voices()  # asked once: the cache name and the corpus made under it speak with the same
    if cfg.synth is not None and cfg.synth.voices is not None:
        voice_ids: list[str] | None = list(cfg.synth.voices)
    else:
        voice_ids = [voice.voice_id for voice in voices] if voices else None
    folder = Path(cfg.path).expanduser() if cfg.path else synth_cache_dir(cfg.synth_minutes, cfg.seed, voices, cfg.synth)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / MANIFEST_FILE).exists():
            partial = folder.with_name(folder.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            synthesize_corpus(partial, cfg.synth_minutes, cfg.seed, sample_rate_hz, voices=voice_ids, options=options)
            partial.rename(folder)
    return load_manifest(cfg.model_copy(update={"path": str(folder / MANIFEST_FILE)}), sample_rate_hz)


def synth_corpus_options(synth: SynthOptions | None) -> CorpusOptions:
    """``data.synth`` as :class:`.speech_synth.CorpusOptions` (``None``: the default recipe's).

    Raises:
        ConfigError: a band, scene or voice name, or a span, that ``data synth`` refuses (names ``data.synth``).
    """
    from dslnas.trainers.data.speech_synth import CorpusOptions
    from dslnas.trainers.data.synth_options import corpus_options
    from dslnas.trainers.data.synth_piper import PIPER_VOICES
    from dslnas.trainers.data.voices import VOICES

    if synth is None:
        return CorpusOptions()
    known = {voice.voice_id for voice in (*VOICES, *PIPER_VOICES)}
    unknown = [voice for voice in synth.voices or () if voice not in known]
    if unknown:
        raise ConfigError(f"data.synth.voices: unknown voice {unknown[0]!r} (dslnas data synth --voices list)")
    spans = {key: None if span is None else span if isinstance(span, str) else f"{span[0]},{span[1]}"
             for key, span in (("level_dbfs", synth.level_dbfs), ("floor_dbfs", synth.floor_dbfs))}
    try:
        return corpus_options(
            rooms=synth.rooms, microphones=synth.microphones, speaker_variants=synth.speaker_variants,
            bands=None if synth.bands is None else ",".join(synth.bands),
            scenes=None if synth.scenes is None else ",".join(synth.scenes), **spans)
    except UserError as err:
        raise ConfigError(str(err).replace("data synth: ", "data.synth: ", 1)) from None


def synth_cache_dir(minutes: float, seed: int, voices: Sequence[Voice] | None = None,
                    synth: SynthOptions | None = None) -> Path:
    """Where a generated corpus is kept: ``$DSLNAS_CACHE`` (default ``~/.cache/dslnas``)
    ``/corpus-<minutes>min-seed<seed>-<fingerprint>``, the fingerprint naming ``voices`` (default: the
    installed ones) and the corpus recipe (:func:`.speech_synth.corpus_fingerprint`), so a new voice table
    makes a new corpus; natural options (``synth``, unless default) add ``-n<their fingerprint>``."""
    import os

    from dslnas.trainers.data.speech_synth import corpus_fingerprint

    root = Path(os.environ.get("DSLNAS_CACHE", "~/.cache/dslnas")).expanduser()
    fingerprint = corpus_fingerprint(available_voices() if voices is None else voices)
    natural = "" if synth is None or synth.is_default() else f"-n{synth.fingerprint()}"
    return root / f"corpus-{minutes:g}min-seed{seed}-{fingerprint}{natural}"


def load_folder(cfg: DataConfig, sample_rate_hz: int) -> list[Clip]:
    """Every wav/flac under ``cfg.path``, recursively, sorted by path; label ``"unknown"``."""
    root = _existing_folder(cfg.path)
    return [Clip(path.relative_to(root).as_posix(), open_span(path, sample_rate_hz), UNKNOWN)
            for path in _audio_files(root)]


def load_labelled_folder(cfg: DataConfig, sample_rate_hz: int) -> list[Clip]:
    """``<root>/<label>/**/*.wav|.flac``; the first-level folder, lowercased, is the label."""
    root = _existing_folder(cfg.path)
    clips = []
    for path in _audio_files(root):
        relative = path.relative_to(root)
        if len(relative.parts) < 2:
            raise DataError(f"{path}: audio directly in a labelled folder (expected <label>/<file> under {root})")
        clips.append(Clip(relative.as_posix(), open_span(path, sample_rate_hz), relative.parts[0].lower()))
    return clips


def load_libritts(cfg: DataConfig, sample_rate_hz: int) -> list[Clip]:
    """LibriTTS utterances ``<speaker>/<chapter>/<speaker>_<chapter>_*.wav``; label ``"speech"``."""
    root = _existing_folder(cfg.path)
    clips = []
    for path in _audio_files(root, "(expected <speaker>/<chapter>/*.wav under it, as LibriTTS)"):
        speaker, chapter = path.parent.parent.name, path.parent.name
        if not path.stem.startswith(f"{speaker}_{chapter}_"):
            raise DataError(f"{path}: not named like a LibriTTS utterance ({speaker}_{chapter}_*.wav)")
        clips.append(Clip(path.stem, open_span(path, sample_rate_hz), SPEECH, speaker))
    return clips


def load_manifest(cfg: DataConfig, sample_rate_hz: int) -> list[Clip]:
    """The clips a manifest CSV lists (label and speaker as written; ``seconds`` checked against the file)."""
    if not cfg.path:
        raise DataError("data.path must name the manifest CSV")
    csv_path = Path(cfg.path).expanduser()
    manifest = read_manifest(csv_path)
    clips = []
    for entry in manifest.entries:
        where = f"{csv_path} line {entry.line}"
        try:
            span = open_span(manifest.resolve(entry), sample_rate_hz)
        except DataError as err:
            raise DataError(f"{err} ({where})") from err
        file_seconds = span.file_frames / span.file_rate_hz
        if entry.seconds is not None and abs(entry.seconds - file_seconds) > SECONDS_TOLERANCE_S:
            raise DataError(f"{where}: seconds is {entry.seconds:g} but {entry.path} holds {file_seconds:.3f} s")
        clips.append(Clip(entry.path, span, entry.label, entry.speaker))
    return clips


def _audio_files(root: Path, hint: str = "") -> list[Path]:
    """The wav/flac files under ``root``, sorted; none is a DataError."""
    files = sorted(path for path in root.rglob("*") if is_audio_file(path))
    if not files:
        found = ", ".join("*" + suffix for suffix in AUDIO_SUFFIXES)
        raise DataError(f"{root}: no audio files ({found}) found" + (f" {hint}" if hint else ""))
    return files


def _existing_folder(path_text: str | None) -> Path:
    """``path_text`` as a Path that is an existing folder, or a DataError naming it."""
    if not path_text:
        raise DataError("data.path is required for this dataset kind")
    root = Path(path_text).expanduser()
    if not root.exists():
        raise DataError(f"{root}: dataset folder not found")
    if not root.is_dir():
        raise DataError(f"{root}: expected a folder, found a file")
    return root


_LOADERS: dict[DatasetKind, Loader] = {
    DatasetKind.DEMO: load_demo,
    DatasetKind.FOLDER: load_folder,
    DatasetKind.LABELLED_FOLDER: load_labelled_folder,
    DatasetKind.LIBRITTS: load_libritts,
    DatasetKind.MANIFEST: load_manifest,
    DatasetKind.AUDIOSET: load_audioset,
    DatasetKind.SYNTH: load_synth,
}
