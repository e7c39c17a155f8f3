"""The README screenshot: a study's report page rendered in headless Chromium, from its top down to the end of
its listening sections ("Listen" and the knee's "Routing timeline"), as a PNG.

    .venv/bin/python bench/report_screenshot.py runs/demo/report/index.html docs/report-demo.png   # make screenshot

The page is opened from its folder (the WAVs and timeline PNGs in ``listen/`` load as they do for a reader);
the shot waits until every audio player knows its clip's duration and every timeline image is drawn. A report
written with ``--no-audio`` (no listening section), a player that does not decode, an image that does not
draw or an error on the page's console is one ``error:`` line and exit status 1: no PNG is written then.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from headless_chromium import CHROMIUM, PipeBrowser  # noqa: E402  (the driver beside this script)

WIDTH_PX = 1280
LOAD_TIMEOUT_S = 180.0  # a demo page (inline plotly, a few hundred plot points) on a loaded 2-core host
HEADINGS = ("Listen", "Routing timeline")  # the listening sections' headings (search/report/listen_html.py)
SECTION = "[...document.querySelectorAll('section')].find((s) => (s.querySelector('h2') || {{}}).textContent?.startsWith('{heading}'))"
BOTTOM_OF = "(() => {{ const s = " + SECTION + "; return s ? s.getBoundingClientRect().bottom + window.scrollY : null; }})()"
AUDIO_DURATIONS = ("Promise.all([...(" + SECTION.format(heading="Listen") + """)?.querySelectorAll('audio') ?? []].map((a) =>
  new Promise((done) => {
    if (a.readyState >= 1) return done(a.duration);
    a.addEventListener('loadedmetadata', () => done(a.duration)); a.addEventListener('error', () => done(-1));
    a.preload = 'metadata'; a.load(); })))""")
IMAGE_WIDTHS = "[...document.querySelectorAll('img.timeline')].map((i) => i.complete ? i.naturalWidth : 0)"


class ScreenshotError(Exception):
    """The page cannot give the screenshot asked for (said in one line)."""


@dataclass(frozen=True)
class Screenshot:
    """What was shot: the PNG, its height in CSS pixels, the section it ends with, the page's players and
    timeline images."""

    png: Path
    height_px: float
    ends_with: str
    players: int
    timelines: int


def shoot(html: Path, png: Path, profile_dir: Path, width_px: int = WIDTH_PX, through: str = HEADINGS[-1]) -> Screenshot:
    """Render ``html`` and write its top down to the end of the section headed ``through`` (one of
    :data:`HEADINGS`; the "Listen" section where a report has no timeline) to ``png``."""
    if not Path(CHROMIUM).exists():
        raise ScreenshotError(f"chromium not found at {CHROMIUM} (make system-deps installs it)")
    if not html.is_file():
        raise ScreenshotError(f"no report page at {html} (run `dslnas report` first)")
    browser = PipeBrowser(profile_dir, width=width_px)
    try:
        browser.call("Emulation.setScrollbarsHidden", session=True, hidden=True)  # the PNG is width_px wide
        browser.open(html.resolve().as_uri(), LOAD_TIMEOUT_S)
        bottoms = {h: browser.evaluate(BOTTOM_OF.format(heading=h)) for h in HEADINGS}
        if bottoms["Listen"] is None:
            raise ScreenshotError(f"{html} has no listening section: write the report with --audio (the default)")
        durations, widths = browser.evaluate(AUDIO_DURATIONS), browser.evaluate(IMAGE_WIDTHS)
        if not durations or any(not d or d < 0 for d in durations):
            raise ScreenshotError(f"{html}: {sum(1 for d in durations if not d or d < 0)} of {len(durations)} audio players do not decode")
        if any(w == 0 for w in widths):
            raise ScreenshotError(f"{html}: {widths.count(0)} of {len(widths)} timeline images did not load")
        if browser.errors():
            raise ScreenshotError(f"{html}: the page logged an error: {browser.errors()[0]}")
        ends_with = through if bottoms[through] is not None else HEADINGS[0]
        height = bottoms[ends_with] + 16  # the section's bottom margin
        browser.screenshot(png, full_page=False, height_px=height)
    finally:
        browser.close()
    return Screenshot(png, height, ends_with, len(durations), len(widths))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html", type=Path, help="the report's index.html (e.g. runs/demo/report/index.html)")
    parser.add_argument("png", type=Path, help="where the PNG goes (e.g. docs/report-demo.png)")
    parser.add_argument("--width", type=int, default=WIDTH_PX, help=f"page width in CSS pixels (default {WIDTH_PX})")
    parser.add_argument("--through", choices=HEADINGS, default=HEADINGS[-1],
                        help="the last section shown: the players (Listen) or the knee's routing timelines (default)")
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="dslnas-chromium-") as profile:
            shot = shoot(args.html, args.png, Path(profile), args.width, args.through)
    except (ScreenshotError, TimeoutError, RuntimeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{shot.png}: {args.width} x {shot.height_px:.0f} px, from the top through the '{shot.ends_with}' section; "
          f"{shot.players} audio players, {shot.timelines} timelines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
