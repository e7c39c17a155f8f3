"""The report page in a real headless Chromium: renders, draws every plot, logs no error, asks no network.

Chromium is driven over the DevTools protocol on a pipe (``bench/headless_chromium.py``), so the test needs no
websocket library and downloads no browser.
Skipped, with the reason, when Debian's chromium is absent.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from dslnas.search.report.files import write_report
from listen_fixtures import report_with_listening
from study_fixtures import build_demo_study

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from headless_chromium import CHROMIUM, PipeBrowser  # noqa: E402  (bench/ holds the browser driver)
import report_screenshot  # noqa: E402

OUTPUT_DIR = Path(__file__).resolve().parent.parent / "test-output"


@dataclass(frozen=True)
class PageCheck:
    """What the browser saw: plot divs in the page, plots drawn, errors, non-local requests."""

    plot_divs: int
    plots_drawn: int
    errors: list[str]
    remote_requests: list[str]


def check_and_screenshot(html: Path, png: Path, profile_dir: Path) -> PageCheck:
    """Open ``html``, wait until every plot is drawn, save a full-page screenshot, report what was seen."""
    browser = PipeBrowser(profile_dir)
    try:
        browser.open(html.resolve().as_uri())
        divs = browser.evaluate("document.querySelectorAll('.plotly-graph-div').length")
        browser.wait_for(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {divs}")
        drawn = browser.evaluate("document.querySelectorAll('.js-plotly-plot').length")
        browser.screenshot(png)
    finally:
        browser.close()
    remote = [u for u in browser.requested_urls() if not u.startswith(("file:", "data:", "about:"))]
    return PageCheck(divs, drawn, browser.errors(), remote)


@pytest.mark.chromium
@pytest.mark.timeout(240)  # with the screenshot script's refusal: a second browser
def test_report_renders_in_headless_chromium(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"chromium not found at {CHROMIUM} (make system-deps installs it)")
    study = build_demo_study(f"sqlite:///{tmp_path / 'optuna.db'}")
    files = write_report(study, tmp_path / "report")
    png = OUTPUT_DIR / "report.png"
    seen = check_and_screenshot(files.html, png, tmp_path / "chromium-profile")
    assert seen.errors == []
    assert seen.remote_requests == []
    assert seen.plot_divs == 7 and seen.plots_drawn == 7  # pareto x2, sweep, cost, hypervolume, search history, importance
    assert png.stat().st_size > 50_000
    shot = tmp_path / "shot.png"  # the README screenshot needs the listening section: one error line, no PNG
    assert report_screenshot.main([str(files.html), str(shot)]) == 1 and not shot.exists()
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "has no listening section" in err and err.count("\n") == 1


AUDIO_STATE = """Promise.all([...document.querySelectorAll('audio')].map((a) => new Promise((done) => {
  if (a.readyState >= 3) return done(a.duration);
  a.addEventListener('canplay', () => done(a.duration)); a.addEventListener('error', () => done(-1));
  a.preload = 'auto'; a.load(); })))"""
IMAGE_WIDTHS = "[...document.querySelectorAll('img.timeline')].map((i) => i.complete ? i.naturalWidth : 0)"


@pytest.mark.chromium
@pytest.mark.timeout(300)  # with the screenshot script's shot: a second browser
def test_report_audio_decodes_and_timelines_render_in_headless_chromium(tmp_path: Path) -> None:
    """Every player's WAV decodes in the browser (duration of the clip) and every timeline image is drawn."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"chromium not found at {CHROMIUM} (make system-deps installs it)")
    study = build_demo_study(f"sqlite:///{tmp_path / 'optuna.db'}")
    page, _, listening = report_with_listening(study, tmp_path / "report")
    browser = PipeBrowser(tmp_path / "chromium-profile")
    try:
        browser.open(page.resolve().as_uri())
        durations = browser.evaluate(AUDIO_STATE)
        widths = browser.evaluate(IMAGE_WIDTHS)
        browser.screenshot(OUTPUT_DIR / "report-listen.png")
    finally:
        browser.close()
    assert len(durations) == 2 * (1 + 1 + 2 + 2) and all(d == pytest.approx(0.5, abs=0.01) for d in durations)
    assert len(widths) == len(listening.timelines) == 2 and all(w >= 800 for w in widths)
    assert browser.errors() == []
    png = OUTPUT_DIR / "report-demo.png"  # `make screenshot` on this page: from the top through both listening sections
    shot = report_screenshot.shoot(page, png, tmp_path / "shot-profile")
    assert (shot.players, shot.timelines, shot.ends_with) == (len(durations), len(widths), "Routing timeline")
    with Image.open(png) as image:
        assert image.size == (report_screenshot.WIDTH_PX, round(shot.height_px)) and image.size[1] > 1000
        assert image.convert("L").crop((0, image.size[1] - 400, image.size[0], image.size[1])).getextrema()[0] < 128  # ink
