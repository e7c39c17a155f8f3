"""Check a dataset's clips in seconds, before any compute: lengths, sample rates and labels, files named.

:func:`check_clips` reads nothing but the index a loader built from file headers (``soundfile.info``), so
it costs milliseconds per thousand files. What it reports (and ``dslnas evaluate`` prints before it streams
a single clip):

* **labels**: clips and seconds per class; clips of no known class (``unknown``: a flat folder) are
  counted, since per-class figures (speech vs silence light usage) need labels;
* **sample rates**: every file is resampled to the codec's rate; files recorded *below* it are named
  (upsampling adds no content above their Nyquist frequency, so the codec hears a band-limited clip);
* **lengths**: the shortest and longest clip, and the clips shorter than the evaluation's minimum (ViSQOL's
  0.64 s, or one routing segment when that is longer), named; they are joined or skipped by the short-clip
  rule (:func:`dslnas.trainers.data.clips.join_short_clips`), never fatal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dslnas.trainers.data.audio_io import AudioSpan
from dslnas.trainers.data.clips import SILENCE, SPEECH, UNKNOWN, Clip

NAMED = 5
"""How many offending clips a line names before it says ``...``."""


@dataclass(frozen=True)
class LabelCount:
    clips: int
    seconds: float


@dataclass(frozen=True)
class DataCheck:
    """What :func:`check_clips` found. Seconds are at the codec's rate, before any cut or join."""

    source: str
    sample_rate_hz: int
    clips: int
    seconds: float
    per_label: dict[str, LabelCount]
    file_rates_hz: dict[int, int]            # file sample rate -> number of files
    below_rate: tuple[str, ...]              # clips recorded below the codec's rate (upsampled)
    shortest_s: float
    longest_s: float
    min_seconds: float                       # the evaluation's shortest usable clip
    short: tuple[str, ...]                   # clips shorter than min_seconds (joined or skipped)

    @property
    def unlabelled(self) -> int:
        return self.per_label[UNKNOWN].clips if UNKNOWN in self.per_label else 0

    def lines(self) -> list[str]:
        """The check as a few human lines."""
        labels = ", ".join(f"{k} {v.clips} ({v.seconds:.1f} s)" for k, v in self.per_label.items())
        rates = ", ".join(f"{rate} Hz x{n}" for rate, n in sorted(self.file_rates_hz.items()))
        out = [f"{self.source}: {self.clips} clips, {self.seconds:.1f} s; {labels}",
               f"lengths {self.shortest_s:.2f}..{self.longest_s:.2f} s; "
               f"{len(self.short)} shorter than {self.min_seconds:.2f} s{_named(self.short)}"]
        if rates:
            out.append(f"sample rates: {rates} (resampled to {self.sample_rate_hz} Hz)"
                       + (f"; {len(self.below_rate)} below it, band-limited{_named(self.below_rate)}"
                          if self.below_rate else ""))
        if self.unlabelled:
            out.append(f"{self.unlabelled} clips have no class (put them in speech/ and silence/ folders "
                       "or a manifest for per-class figures)")
        missing = [k for k in (SPEECH, SILENCE) if k not in self.per_label]
        if missing and not self.unlabelled:
            out.append(f"no {' or '.join(missing)} clips: per-class figures cover {', '.join(self.per_label)} only")
        return out

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "clips": self.clips, "seconds": round(self.seconds, 3),
                "per_label": {k: {"clips": v.clips, "seconds": round(v.seconds, 3)} for k, v in self.per_label.items()},
                "file_rates_hz": {str(k): v for k, v in sorted(self.file_rates_hz.items())},
                "below_rate": list(self.below_rate), "shortest_s": round(self.shortest_s, 3),
                "longest_s": round(self.longest_s, 3), "min_seconds": round(self.min_seconds, 3),
                "short": list(self.short)}


def check_clips(source: str, clips: Sequence[Clip], sample_rate_hz: int, min_samples: int) -> DataCheck:
    """Check ``clips`` (an index: nothing is read) against the codec's rate and the shortest usable clip."""
    per_label: dict[str, list[int]] = {}
    rates: Counter[int] = Counter()
    below: list[str] = []
    for clip in clips:
        per_label.setdefault(clip.label, []).append(clip.num_samples)
        if isinstance(clip.samples, AudioSpan):
            rates[clip.samples.file_rate_hz] += 1
            if clip.samples.file_rate_hz < sample_rate_hz:
                below.append(clip.clip_id)
    lengths = [clip.num_samples for clip in clips] or [0]
    return DataCheck(
        source=source, sample_rate_hz=sample_rate_hz, clips=len(clips), seconds=sum(lengths) / sample_rate_hz,
        per_label={k: LabelCount(len(v), sum(v) / sample_rate_hz) for k, v in sorted(per_label.items())},
        file_rates_hz=dict(rates), below_rate=tuple(below),
        shortest_s=min(lengths) / sample_rate_hz, longest_s=max(lengths) / sample_rate_hz,
        min_seconds=min_samples / sample_rate_hz,
        short=tuple(clip.clip_id for clip in clips if clip.num_samples < min_samples),
    )


def _named(ids: tuple[str, ...]) -> str:
    return f" ({', '.join(ids[:NAMED])}{', ...' if len(ids) > NAMED else ''})" if ids else ""
