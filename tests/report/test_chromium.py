"""The report opens in headless Chromium without console errors, and every section renders.

Needs Debian's ``chromium`` (``apt-get install -y chromium``); skipped with that reason when
absent.
"""

from __future__ import annotations

import io
from html.parser import HTMLParser

import pytest

from radnec.report.html import SECTION_IDS, render_report

from .chromium import console_errors, find_chromium, run_chromium, screenshot
from .conftest import full_analysis, minimal_analysis

pytestmark = pytest.mark.skipif(
    find_chromium() is None, reason="chromium is not installed (apt-get install -y chromium)"
)


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        self.ids.update(v for k, v in attrs if k == "id" and v)


@pytest.fixture(scope="module")
def report(figures, tmp_path_factory):
    return render_report(full_analysis(), figures, out_dir=tmp_path_factory.mktemp("report"))


def test_screenshot_not_blank_and_no_console_errors(report, tmp_path):
    from matplotlib.image import imread

    png = tmp_path / "shot.png"
    code, err = screenshot(report, png, width=1280, height=4000)
    assert code == 0, err[-2000:]
    assert png.exists() and png.stat().st_size > 10_000
    arr = imread(io.BytesIO(png.read_bytes()), format="png")[..., :3]
    assert arr.shape[:2] == (4000, 1280)
    non_white = float((arr.mean(axis=-1) < 0.9).mean())
    assert non_white > 0.05, f"screenshot is (almost) blank: {non_white:.3f} non-white"
    assert float(arr.std()) > 0.1
    assert console_errors(err) == [], console_errors(err)


def test_dom_has_every_section(report):
    code, dom, err = run_chromium(report, "--dump-dom")
    assert code == 0, err[-2000:]
    parser = _Ids()
    parser.feed(dom)
    missing = [sid for sid in SECTION_IDS if sid not in parser.ids]
    assert not missing
    assert console_errors(err) == []


def test_minimal_report_opens_too(tmp_path):
    path = render_report(minimal_analysis(), {}, out_dir=tmp_path)
    code, dom, err = run_chromium(path, "--dump-dom")
    assert code == 0 and "not available because" in dom
    assert console_errors(err) == []


def test_console_error_detection_works(tmp_path):
    """Negative control: a page with a failing script IS caught by the same check."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><p>x</p><script>undefined_fn();</script></body></html>")
    code, _dom, err = run_chromium(bad, "--dump-dom")
    assert code == 0
    assert any("Uncaught" in line for line in console_errors(err))


def test_prints_on_a4_one_section_per_page(report, tmp_path):
    """Print CSS: A4 pages and a page break before each section (so at least one page per
    section that starts a page)."""
    import re

    pdf = tmp_path / "report.pdf"
    code, _out, err = run_chromium(report, "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    assert code == 0, err[-2000:]
    data = pdf.read_bytes()
    boxes = {tuple(round(float(v)) for v in m.split()) for m in re.findall(rb"/MediaBox\s*\[([^\]]*)\]", data)}
    assert boxes == {(0, 0, 595, 842)}, boxes  # A4 in points
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    breaking = [sid for sid in SECTION_IDS if sid not in {"disclaimer-top", "overview", "summary"}]
    assert pages >= len(breaking), pages
