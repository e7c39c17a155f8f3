"""Where the switch routes over time: one clip's routing timeline, as a typed value and as a PNG.

A :class:`RoutingTimeline` holds what one streaming run of a clip decided, segment by segment: the switch's
predicted discrepancy against the threshold, the path each segment took (light where predicted < threshold),
the switch-backs (light -> full), and beside it the oracle's choice at the same light usage (the same number
of light segments, given to the segments whose actual light-vs-full discrepancy is lowest). Rendered by
:func:`timeline_png` for the report (``search.report.listen``) and for ``dslnas stream --plot``. Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dslnas.spaces.atomic_io import atomic_file

LIGHT_COLOUR, FULL_COLOUR, ORACLE_COLOUR = "#2ca02c", "#d62728", "#9467bd"


@dataclass(frozen=True)
class RoutingTimeline:
    """One clip routed at ``threshold``. Arrays: ``waveform`` ``[T]`` at ``sample_rate_hz``; ``predicted``,
    ``light`` (bool) and, when known, ``actual`` and ``oracle_light`` (bool), each ``[S]`` per segment of
    ``segment_s`` seconds."""

    title: str
    sample_rate_hz: int
    waveform: np.ndarray
    segment_s: float
    threshold: float
    predicted: np.ndarray
    light: np.ndarray
    actual: np.ndarray | None = None
    oracle_light: np.ndarray | None = None

    @property
    def segments(self) -> int:
        return len(self.light)

    @property
    def light_usage(self) -> float:
        return float(np.mean(self.light)) if self.segments else 0.0

    @property
    def switch_backs(self) -> tuple[int, ...]:
        """Segments where a light segment is followed by a full one (the index of the full segment)."""
        return tuple(int(i) + 1 for i in np.flatnonzero(self.light[:-1] & ~self.light[1:]))

    @property
    def oracle_agreement(self) -> float | None:
        """Share of segments where the switch routes as the oracle does (None without the oracle)."""
        return None if self.oracle_light is None else float(np.mean(self.light == self.oracle_light))


def oracle_at_equal_usage(actual: np.ndarray, light_segments: int) -> np.ndarray:
    """``[S]`` bool: the ``light_segments`` segments of lowest actual discrepancy (ties: the earlier) routed light."""
    chosen = np.zeros(len(actual), dtype=bool)
    chosen[np.argsort(actual, kind="stable")[:light_segments]] = True
    return chosen


def caption(t: RoutingTimeline) -> str:
    """One line under a timeline: usage, switch-backs and oracle agreement."""
    agree = "" if t.oracle_agreement is None else f"; routes as the oracle does on {t.oracle_agreement:.0%} of segments"
    return (f"{t.segments} segments of {t.segment_s * 1000:g} ms at threshold {t.threshold:.3g}: {t.light_usage:.0%} light, "
            f"{len(t.switch_backs)} switch-backs{agree}")


def _route_bar(ax, light: np.ndarray, segment_s: float, y: float, label: str) -> None:  # type: ignore[no-untyped-def]
    colours = [LIGHT_COLOUR if x else FULL_COLOUR for x in light]
    ax.broken_barh([(i * segment_s, segment_s) for i in range(len(light))], (y - 0.4, 0.8), facecolors=colours)
    ax.text(-0.01, y, label, ha="right", va="center", transform=ax.get_yaxis_transform(), fontsize=8)


def timeline_png(t: RoutingTimeline, path: Path, dpi: int = 100) -> Path:
    """Render ``t`` as a PNG at ``path`` (written whole or not at all): waveform with light segments shaded,
    prediction against the threshold, and the path per segment beside the oracle's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (wave, pred, routes) = plt.subplots(3, 1, figsize=(9, 4.5), sharex=True,
                                             gridspec_kw={"height_ratios": [2, 2, 1]})
    seconds = np.arange(len(t.waveform)) / t.sample_rate_hz
    wave.plot(seconds, t.waveform, color="#444", linewidth=0.5)
    for i in np.flatnonzero(t.light):
        wave.axvspan(i * t.segment_s, (i + 1) * t.segment_s, color=LIGHT_COLOUR, alpha=0.15, linewidth=0)
    wave.set_ylabel("audio")
    wave.set_title(f"{t.title}\n{caption(t)}", fontsize=9)
    mids = (np.arange(t.segments) + 0.5) * t.segment_s
    pred.step(mids, t.predicted, where="mid", color="#1f77b4", label="switch prediction")
    if t.actual is not None:
        pred.step(mids, t.actual, where="mid", color=ORACLE_COLOUR, linestyle=":", label="actual discrepancy")
    pred.axhline(t.threshold, color="black", linestyle="--", linewidth=1, label=f"threshold {t.threshold:.3g}")
    for s in t.switch_backs:
        pred.axvline(s * t.segment_s, color=FULL_COLOUR, linewidth=0.8, alpha=0.6)
    pred.set_ylabel("discrepancy")
    pred.legend(fontsize=7, loc="upper right")
    _route_bar(routes, t.light, t.segment_s, 1.0, "switch")
    if t.oracle_light is not None:
        _route_bar(routes, t.oracle_light, t.segment_s, 0.0, "oracle")
    routes.set_yticks([])
    routes.set_xlabel("time (s); green: light path, red: full path", fontsize=8)
    fig.tight_layout()
    with atomic_file(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)
    return path
