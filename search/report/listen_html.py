"""The report's "Listen" and "Routing timeline" sections, rendered from a :class:`Listening` (all text escaped)."""

from __future__ import annotations

from html import escape

from dslnas.search.report.listen import Listening, listened_role


def _score(value: float | None) -> str:
    return "ViSQOL -" if value is None else f"ViSQOL {value:.2f}"


def _player(src: str, label: str) -> str:
    return (f'<div class="player"><audio controls preload="metadata" src="{escape(src)}"></audio>'
            f'<span class="caption">{escape(label)}</span></div>')


def listening_html(listening: Listening) -> str:
    """Both sections as one string (empty when nothing was asked for)."""
    notes = "".join(f'<p class="note">Not heard: {escape(u)}</p>' for u in listening.unavailable)
    if not listening.heard:
        return f"<section><h2>Listen</h2>{notes}</section>" if notes else ""
    heads = "".join(f"<th>trial {p.number}: {escape(title)}</th>" for title, p in listening.points)
    rows = []
    for clip in listening.clips:
        cells = [f"<td>{escape(clip.label)}<br><small>{escape(clip.clip_id)}, {clip.seconds:.1f} s</small>"
                 f"{_player(clip.original, 'original')}</td>"]
        for _, point in listening.points:
            h = listening.heard.get((point.number, clip.clip_id))
            if h is None:
                cells.append("<td>-</td>")
                continue
            full = _player(h.full, f"full path, {_score(h.visqol_full)}")
            routed = "" if listened_role(point) else _player(
                h.routed, f"routed ({h.light_usage:.0%} light), {_score(h.visqol_routed)}")
            cells.append(f"<td>{full}{routed}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    table = f'<div class="scroll"><table class="listen"><thead><tr><th>clip</th>{heads}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
    section = (
        "<section><h2>Listen</h2>"
        '<p class="caption">The same held-out clips for every point, streamed as deployed: the full path (every segment '
        "full) and the routed run at the point's threshold. ViSQOL is the trial's recorded score of that clip (the same "
        f"streaming run; - where the record has none).</p>{notes}{table}</section>"
    )
    return section + _timelines_html(listening)


def _timelines_html(listening: Listening) -> str:
    if not listening.timelines:
        return ""
    figures = "".join(
        f'<figure><img class="timeline" src="{escape(t.png)}" alt="routing timeline of {escape(t.clip_id)}">'
        f"<figcaption>{escape(t.clip_id)}: {escape(t.caption)}</figcaption></figure>"
        for t in listening.timelines)
    return (f"<section><h2>Routing timeline of the knee (trial {listening.knee})</h2>"
            '<p class="caption">Per clip: the waveform (light segments shaded green), the switch\'s predicted discrepancy '
            "against the threshold (red lines: switch-backs) with the actual light-vs-full discrepancy dotted, and the path "
            "per segment beside the oracle's at the same light usage (the segments of lowest actual discrepancy).</p>"
            f"{figures}</section>")
