"""The report's placement section as HTML: a small SVG of the knee's placement, a table per front point and
what alpha bought (``search.report.placement`` computes every figure; this module only renders, escaping
every study-provided text)."""

from __future__ import annotations

from html import escape

from dslnas.hw_models.counts import PATHS
from dslnas.search.report.placement import ALPHA_PAYS_ABOVE, AlphaEvidence, CoreLoad, FrontPlacement, PointPlacement
from dslnas.search.report.sparsity_twin import SparsityTest

BOX_W, LINE_H, PAD, GAP_X = 250, 17, 10, 150


def placement_section(section: FrontPlacement) -> str:
    """The whole ``<section>``: a sentence on a one-unit profile, else the diagram, the alpha note and the table."""
    head = "<section><h2>Placement: which part runs on which core</h2>"
    if not section.multi_unit:
        return (f"{head}<p>The profile <b>{escape(section.profile)}</b> has one compute unit "
                f"(<code>{escape(section.single_unit or '')}</code>): every part (base, mask, switch, both tails) runs on it, "
                "nothing crosses a link and no core is woken. Price on a multi-unit profile (e.g. "
                "<code>--profile a32-m33-pair-skip</code>) to search a placement.</p>"
                f"{sparsity_note(section.sparsity)}</section>")
    if section.shown is None:
        return f"{head}<p>No feasible point on the front yet: nothing to place.</p></section>"
    shown = section.shown
    return (f"{head}<p class=\"caption\">Trial {shown.trial} ({'the knee' if section.shown_is_knee else 'the fastest front point'}) "
            f"at <code>{escape(shown.placement)}</code> on <b>{escape(section.profile)}</b>: per segment of audio, "
            "each part's mixed-pass latency and dynamic energy on its core (a tail counts on its routed share of segments "
            "and its warm replays), and what crosses the link. The link and wake-up figures are the rest of the priced "
            f"mixed latency and energy.</p>{placement_svg(shown)}{_alpha_note(section.alpha)}{sparsity_note(section.sparsity)}"
            f"<div class=\"scroll\">{placement_table(section.points)}</div></section>")


def placement_svg(p: PointPlacement) -> str:
    """Boxes for the cores (the front's unit on the left, the others stacked on the right), each listing its parts;
    an arrow per other core labelled with the link's bytes and wake-ups per second."""
    front, others = p.cores[0], p.cores[1:]
    heights = [_box_height(c) for c in p.cores]
    right_h = sum(heights[1:]) + PAD * max(0, len(others) - 1)
    height = max(heights[0], right_h) + 2 * PAD
    width = 2 * PAD + BOX_W + (GAP_X + BOX_W if others else 0)
    body = [_box(p, front, PAD, PAD)]
    y = PAD
    for core, h in zip(others, heights[1:]):
        x = PAD + BOX_W + GAP_X
        body.append(_box(p, core, x, y))
        body.append(_arrow(PAD + BOX_W, PAD + heights[0] / 2, x, y + h / 2, p if core is others[0] else None))
        y += h + PAD
    if not others:
        body.append(_text(PAD, height - 2, "one core: nothing crosses a link", "caption"))
    return (f'<svg class="placement" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="placement of trial {p.trial}">'
            '<defs><marker id="arrowhead" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
            '<path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>'
            f"{''.join(body)}</svg>")


def _box_height(core: CoreLoad) -> float:
    return (len(core.parts) + 3) * LINE_H + PAD


def _box(p: PointPlacement, core: CoreLoad, x: float, y: float) -> str:
    lines = [(f"{core.unit}", "unit")]
    lines += [(f"{part.value}: {p.part_latency_ms[part]:.3g} ms, {p.part_energy_uj[part]:.3g} uJ", "")
              for part in core.parts]
    lines.append((f"{core.latency_share:.0%} of latency, {core.energy_share:.0%} of energy", "caption"))
    rect = (f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{_box_height(core)}" rx="6" fill="#eef3f8" '
            'stroke="#1f77b4"/>')
    return rect + "".join(_text(x + PAD, y + (i + 1.3) * LINE_H, text, cls) for i, (text, cls) in enumerate(lines))


def _arrow(x1: float, y1: float, x2: float, y2: float, labelled: PointPlacement | None) -> str:
    line = (f'<line x1="{x1}" y1="{y1:.1f}" x2="{x2 - 2}" y2="{y2:.1f}" stroke="#555" stroke-width="1.5" '
            'marker-end="url(#arrowhead)"/>')
    if labelled is None:
        return line
    mx, my = (x1 + x2) / 2, (y1 + y2) / 2
    return (line + _text(mx, my - 10, f"{labelled.link_bytes_per_s:,.0f} B/s", "", "middle")
            + _text(mx, my + 18, f"{labelled.wakeups_per_s:.1f} wake-ups/s", "", "middle")
            + _text(mx, my + 18 + LINE_H, f"+{labelled.link_wake_latency_ms:.3g} ms/segment", "caption", "middle"))


def _text(x: float, y: float, text: str, cls: str, anchor: str = "start") -> str:
    style = {"unit": 'font-weight="bold"', "caption": 'fill="#555"'}.get(cls, "")
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="12" font-family="system-ui,sans-serif" text-anchor="{anchor}" '
            f"{style}>{escape(text)}</text>")


def _alpha_note(alpha: AlphaEvidence | None) -> str:
    """Whether a front point uses alpha > 0.1, and the sparsest such point beside its low-alpha neighbour."""
    if alpha is None:
        return ""
    if alpha.point is None and not alpha.tried:
        return (f'<p class="note">No trained candidate of this study uses alpha &gt; {ALPHA_PAYS_ABOVE:g} yet: the front '
                "cannot show what the mask's sparsity buys on this profile.</p>")
    if alpha.point is None:
        return (f'<p class="note">No point on the front uses alpha &gt; {ALPHA_PAYS_ABOVE:g} (trained with it: trials '
                f"{', '.join(str(t) for t in alpha.tried)}): on this profile and study the mask's sparsity did not buy "
                "enough link bytes or tail work to put such a point on the front.</p>")
    p, n = alpha.point, alpha.neighbour
    said = (f"{len(alpha.above)} front point(s) use alpha &gt; {ALPHA_PAYS_ABOVE:g} (trials "
            f"{', '.join(str(t) for t in alpha.above)}). The sparsest, trial {p.trial}: {_figures(p)}")
    if n is None:
        return f'<p class="note">{said}; no front point with a smaller alpha to compare with.</p>'
    change = alpha.power_change_pct
    return (f'<p class="note">{said}; its nearest front point by light usage with alpha &lt;= {ALPHA_PAYS_ABOVE:g}, '
            f"trial {n.trial}: {_figures(n)}. Power {change:+.1f}% against it.</p>")


def _figures(p: PointPlacement) -> str:
    return (f"alpha {p.alpha:.3g}, {p.mask_sparsity:.0%} of the mask's map zero, {p.light_usage:.0%} light, "
            f"{p.link_bytes_per_s:,.0f} link B/s, {p.wakeups_per_s:.1f} wake-ups/s, {p.latency_ms:.2f} ms, {p.power_mw:.2f} mW")


def placement_table(points: tuple[PointPlacement, ...]) -> str:
    """One row per front point: alpha, sparsity, light usage, each part's core, each core's load, the link."""
    units = sorted({c.unit for p in points for c in p.cores})
    head = ["trial", "alpha", "mask zeros", "light", *(f"{part.value} on" for part in PATHS),
            *(f"{u}: ms (share), uJ (share)" for u in units), "link+wake ms", "link B/s", "wake-ups/s", "latency ms", "power mW"]
    rows = []
    for p in points:
        load = {c.unit: c for c in p.cores}
        cells = [f'<a href="#trial-{p.trial}">{p.trial}</a>', f"{p.alpha:.3g}", f"{p.mask_sparsity:.0%}",
                 f"{p.light_usage:.0%}", *(escape(p.unit_of_part[part]) for part in PATHS),
                 *(_load(load.get(u)) for u in units), f"{p.link_wake_latency_ms:.3g}", f"{p.link_bytes_per_s:,.0f}",
                 f"{p.wakeups_per_s:.1f}", f"{p.latency_ms:.2f}", f"{p.power_mw:.2f}"]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    return f'<table class="placement"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _load(core: CoreLoad | None) -> str:
    if core is None:
        return "-"
    return f"{core.latency_ms:.3g} ({core.latency_share:.0%}), {core.energy_uj:.3g} ({core.energy_share:.0%})"


def sparsity_note(test: SparsityTest | None) -> str:
    """The dense-twin test: which sparse points are on the front because their zeros pay, each beside its twin."""
    if test is None or (not test.twins and not test.not_made):
        return ""
    head = (f'<p class="note"><b>Does sparsity put a point on the front?</b> Each feasible point with alpha &gt; '
            f"{ALPHA_PAYS_ABOVE:g} and a sparse mask is priced again as its dense twin (same architecture, routing and "
            f"quality; on <b>{escape(test.profile)}</b> the zeros save {escape(test.priced_as)}) and the front is "
            "flagged again with every sparse point dense. ")
    if test.not_made:
        return f"{head}Not made: {escape(test.not_made)}.</p>"
    held = test.held_by_sparsity
    verdict = (f"On the front because of its sparsity: trial(s) {', '.join(str(t) for t in held)}."
               if held else "No front point is there because of its sparsity: each twin on the front stays on it dense, "
               "or the point is off the front.")
    shown = [t for t in test.twins if t.on_front or t.twin_on_front]
    rest = len(test.twins) - len(shown)
    rows = "".join(
        f"<tr><td>{t.trial}</td><td>{t.alpha:.3g}</td><td>{t.mask_sparsity:.0%}</td><td>{t.latency_ms:.2f} / "
        f"{t.dense_latency_ms:.2f}</td><td>{t.power_mw:.3f} / {t.dense_power_mw:.3f}</td><td>{t.link_bytes_per_s:,.0f} / "
        f"{t.dense_link_bytes_per_s:,.0f}</td><td>{'yes' if t.on_front else 'no'}</td><td>"
        f"{'yes' if t.twin_on_front else 'no'}</td><td>{'<b>yes</b>' if t.held_by_sparsity else 'no'}</td></tr>"
        for t in shown)
    if rest:
        rows += (f'<tr><td colspan="9">{rest} more sparse point(s) off the front, each dense twin off it too '
                 "(all in <code>pareto.json</code>)</td></tr>")
    table = ("<table><tr><th>trial</th><th>alpha</th><th>mask zeros</th><th>latency ms (sparse / dense)</th>"
             "<th>power mW (sparse / dense)</th><th>link B/s (sparse / dense)</th><th>on the front</th>"
             f"<th>dense twin on the front</th><th>held by sparsity</th></tr>{rows}</table>")
    return f"{head}{verdict}</p><div class=\"scroll\">{table}</div>"
