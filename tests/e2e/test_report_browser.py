"""End to end: the HTML report of a projection fits the browser window at 1400 and 1024 px.

Builds a tiny projection (``clustersim project baseline hub_institution --quick`` on the
three clusters the hub policy targets, two replicates) and its report, opens the report in
Debian's Chromium through Playwright (as ``test_app_browser.py`` does) and checks that the
page never scrolls sideways: wide tables scroll inside their own box (``.table-wrap``), and
nothing outside such a box is wider than the window.  Skipped only when no Chromium
executable can be found (``apt-get install -y chromium``; or set ``CLUSTERSIM_CHROMIUM``).
"""

from __future__ import annotations

import pytest
from conftest import CHROMIUM_FLAGS

from sim.face.cli import main

CLUSTERS = "jeonbuk_food,gyeonggi_north_chemicals,osong_ochang_medical_devices"  # hub_institution's targets

#: Widths of the page, of every table box and of everything outside the table boxes.
MEASURE = """() => {
  const vw = window.innerWidth;
  const inBox = el => el.closest('.table-wrap, pre') !== null;
  const over = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.matches('.table-wrap, pre') || !inBox(el)) {
      const r = el.getBoundingClientRect();
      if (r.right > vw + 0.5 || r.left < -0.5) {
        over.push(`${el.tagName.toLowerCase()}.${el.className} right=${Math.round(r.right)}`);
      }
    }
  }
  const boxes = [...document.querySelectorAll('.table-wrap')];
  return {
    scrollWidth: document.documentElement.scrollWidth, innerWidth: vw, over: over.slice(0, 10),
    tables: document.querySelectorAll('table').length,
    wrapped: document.querySelectorAll('.table-wrap > table').length,
    scrolling: boxes.filter(b => b.scrollWidth > b.clientWidth + 1).length,
  };
}"""


@pytest.fixture(scope="module")
def report_html(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "proj"
    assert main(["project", "baseline", "hub_institution", "--quick", "--clusters", CLUSTERS,
                 "--replicates", "2", "--out", str(out), "--quiet"]) == 0
    assert main(["report", str(out), "--quiet"]) == 0
    return out / "report.html"


def test_report_fits_the_window_at_1400_and_1024_px(browser_path, report_html, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path, headless=True, args=CHROMIUM_FLAGS)
        try:
            for width, height in ((1400, 900), (1024, 768)):
                page = browser.new_page(viewport={"width": width, "height": height})
                page.goto(report_html.as_uri(), wait_until="load")
                m = page.evaluate(MEASURE)
                page.screenshot(path=str(tmp_path / f"report_{width}.png"), full_page=True)
                page.close()
                assert m["scrollWidth"] <= m["innerWidth"] == width, (width, m)
                assert not m["over"], (width, m["over"])
                assert m["tables"] >= 5 and m["wrapped"] == m["tables"], (width, m)
                if width == 1024:
                    # the wide table of the named clusters (eleven columns) is there, scrolling in its box
                    assert m["scrolling"] >= 1, m
        finally:
            browser.close()
