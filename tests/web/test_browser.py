"""The case page in a real browser (Playwright + Debian's Chromium, headless, WebGL2 by SwiftShader).

``radnec serve`` runs as a subprocess on a free port with a token file and a copy of an analysed 2 mm phantom
case. The test opens the case page, waits for the analysis and the images, scrolls slices, toggles isodoses,
moves through time points and the checkerboard, places a seed and sees the numbers change, edits the clinical
form (a validation error next to its field, then a posterior change), saves the note and downloads the report.
Screenshots are compared loosely (mean absolute difference of downscaled greyscale against
``tests/data/web/``, and "the isodose colour appears around the lesion") and kept under pytest's tmp dir.
``RADNEC_UPDATE_WEB_IMAGES=1`` rewrites the reference (the docs picture comes from ``web/screenshot.py``).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.web.test_viewer_routes import viewer_data_dir

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"]
REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "tests" / "data" / "web" / "viewer-planning.png"
UPDATE = os.environ.get("RADNEC_UPDATE_WEB_IMAGES") == "1"
TOKEN = "browser-test-token-0123456789"
ISO100_RGB = (255, 40, 40)  # viewer.js ISO_COLOURS[0]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)"),
]


@pytest.fixture()
def server(request, tmp_path_factory, tmp_path):
    """``radnec serve`` on a free port over a copy of the analysed case: (base URL, case id)."""
    data = tmp_path / "data"
    shutil.copytree(viewer_data_dir(request, tmp_path_factory), data)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    exe = shutil.which("radnec", path=str(Path(sys.executable).parent)) or shutil.which("radnec")
    cmd = [exe] if exe else [sys.executable, "-m", "radnec.cli"]
    log = open(tmp_path / "serve.log", "w+")
    proc = subprocess.Popen([*cmd, "serve", "--data", str(data), "--port", "0", "--token-file", str(token_file), "--no-demo"],
                            stdout=subprocess.PIPE, stderr=log, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"})
    try:
        base = None
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while base is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"radnec serve exited: {log.read()[-2000:]}")
            m = re.search(r"listening on [^:]+:(\d+)", line)
            if m:
                base = f"http://127.0.0.1:{m.group(1)}"
        assert base, "radnec serve did not report its port"
        yield base, 1
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _wait_viewer(page, condition: str, arg, errors: list[str], tmp_path: Path, *, timeout_ms: int = 90000) -> None:
    """Wait for the viewer's images; on a timeout fail with what the page and the server said."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(condition, arg=arg, timeout=timeout_ms)
    except PlaywrightTimeout:
        status = page.inner_text("#viewer-status")
        log = (tmp_path / "serve.log").read_text(errors="replace")[-3000:]
        pytest.fail(f"viewer images not loaded in {timeout_ms / 1000:g} s; status: {status!r}; page errors: {errors}; "
                    f"server log: {log}")


def _grey_small(png: bytes, width: int = 120) -> np.ndarray:
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("L")
    h = max(1, round(img.height * width / img.width))
    return np.asarray(img.resize((width, h), Image.BILINEAR), float) / 255.0


def _colour_near(png: bytes, rgb: tuple[int, int, int], centre: tuple[float, float], radius: float, tol: int = 40) -> int:
    """Pixels of colour ``rgb`` (± tol) within ``radius`` px of ``centre`` (x, y) in a screenshot."""
    from PIL import Image

    a = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    match = (np.abs(a - np.array(rgb)) <= tol).all(axis=2)
    yy, xx = np.mgrid[: a.shape[0], : a.shape[1]]
    near = (xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 <= radius**2
    return int((match & near).sum())


def test_case_page_in_a_real_browser(server, tmp_path):
    from playwright.sync_api import sync_playwright

    base, case_id = server
    shots = tmp_path / "screenshots"
    shots.mkdir()
    errors: list[str] = []
    t_start = time.perf_counter()
    marks: dict[str, float] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
            page = ctx.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{base}/login?token={TOKEN}")

            # first paint does not wait for the images
            page.goto(f"{base}/cases/{case_id}")
            fcp = page.evaluate("performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint')?.startTime")
            nav = page.evaluate("performance.getEntriesByType('navigation')[0].responseEnd")
            assert fcp is not None and fcp < 2000, fcp
            page.wait_for_selector("#overview table", timeout=20000)
            assert "GTV" in page.inner_text("#overview")
            _wait_viewer(page, "document.body.dataset.viewerKey", None, errors, tmp_path)
            page.wait_for_timeout(800)
            seed = page.evaluate("window.radnec.viewer.index.lesions[0].seed_lps")
            canvas = page.locator("#gl")
            page.evaluate("document.querySelector('.viewer-panel').scrollIntoView()")
            page.wait_for_timeout(200)
            box = canvas.bounding_box()
            assert box and box["y"] >= 0 and box["y"] + box["height"] <= 1000, box

            def at(lps):
                xy = page.evaluate("(p) => window.radnec.viewer.canvasXY(p)", lps)
                assert xy, f"{lps} is not on the canvas"
                return xy

            sx, sy = at(seed)
            planning = canvas.screenshot(path=str(shots / "planning.png"))
            iso_on = _colour_near(planning, ISO100_RGB, (sx, sy), 60)
            assert iso_on > 10, "the 100 % isodose line is drawn around the lesion"

            # loose comparison with the reference rendering (downscaled greyscale)
            if UPDATE:
                from PIL import Image

                REFERENCE.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray((_grey_small(planning) * 255).astype(np.uint8)).save(REFERENCE)
            ref = _grey_small(REFERENCE.read_bytes())
            now = _grey_small(planning)
            assert ref.shape == now.shape
            mad = float(np.abs(ref - now).mean())
            assert mad < 0.06, f"viewer rendering differs from tests/data/web reference: MAD {mad:.3f}"

            marks["viewer loaded"] = time.perf_counter() - t_start
            # isodoses off: the red line disappears around the lesion
            page.uncheck("#show-isodose")
            page.wait_for_timeout(300)
            off = canvas.screenshot(path=str(shots / "isodose-off.png"))
            assert _colour_near(off, ISO100_RGB, (sx, sy), 60) < iso_on / 4
            page.check("#show-isodose")
            page.check("#show-colourwash")
            page.wait_for_timeout(300)
            wash = canvas.screenshot(path=str(shots / "colourwash.png"))
            assert float(np.abs(_grey_small(wash) - now).mean()) > 0.002
            page.uncheck("#show-colourwash")

            # scroll slices over the axial tile: the crosshair (planning LPS z) moves
            before = page.inner_text("#coords td[data-frame='planning']")
            page.mouse.move(box["x"] + sx, box["y"] + sy)
            for _ in range(3):
                page.mouse.wheel(0, 120)
                page.wait_for_timeout(150)
            page.wait_for_function("(b) => document.querySelector(\"#coords td[data-frame='planning']\")?.textContent !== b",
                                   arg=before, timeout=5000)
            after = page.inner_text("#coords td[data-frame='planning']")
            assert after != before
            assert page.locator("#coords td[data-frame='follow-up 2']").count() == 1

            # time points: the latest follow-up fused, then its checkerboard against the planning T1c
            page.fill("#tp-slider", "2")
            page.dispatch_event("#tp-slider", "input")
            page.wait_for_timeout(400)
            assert "follow-up 2" in page.inner_text("#tp-label")
            latest = canvas.screenshot(path=str(shots / "follow-up-2.png"))
            assert float(np.abs(_grey_small(latest) - now).mean()) > 0.003
            page.select_option("#compare", "checker")
            page.wait_for_function("window.radnec.viewer.layers['checker-2'] !== undefined", timeout=15000)
            page.wait_for_timeout(400)
            checker = canvas.screenshot(path=str(shots / "checkerboard.png"))
            assert float(np.abs(_grey_small(checker) - _grey_small(latest)).mean()) > 0.002
            page.select_option("#compare", "fused")
            page.wait_for_timeout(300)
            # zoomed 3x about the lesion: the isodose rings grow on screen
            page.click("#centre")
            page.select_option("#zoom", "3")
            page.wait_for_timeout(400)
            zx, zy = at(seed)
            zoomed = canvas.screenshot(path=str(shots / "zoom-3.png"))
            assert _colour_near(zoomed, ISO100_RGB, (zx, zy), 180) > 2 * _colour_near(latest, ISO100_RGB, (sx, sy), 60)
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(shots / "case-page.png"))
            page.select_option("#zoom", "1")
            page.evaluate("document.querySelector('.viewer-panel').scrollIntoView()")

            # clinical form: an invalid KPS is marked next to its field; dual concurrent immunotherapy moves the posterior
            page.wait_for_selector("#clinical-fields select", timeout=10000)
            posterior = page.inner_text("#overview td.posterior")
            page.fill("[name='kps']", "150")
            page.click("#clinical-save")
            page.wait_for_function("document.querySelector('[data-error-for=\"kps\"]').textContent.length > 0", timeout=10000)
            assert "100" in page.inner_text("[data-error-for='kps']")
            page.fill("[name='kps']", "80")
            page.select_option("[name='immunotherapy.agents']", "dual")
            page.select_option("[name='immunotherapy.timing']", "concurrent")
            page.click("#clinical-save")
            page.wait_for_function("(p) => document.querySelector('#overview td.posterior')?.textContent !== p"
                                   " || document.querySelector('#clinical-status').textContent.startsWith('not saved')",
                                   arg=posterior, timeout=60000)
            assert not page.inner_text("#clinical-status").startswith("not saved"), page.inner_text("#clinical-status")
            page.wait_for_function("document.querySelector('#clinical-status').textContent === 'saved; posterior updated'",
                                   timeout=10000)
            assert page.inner_text("[data-error-for='kps']") == ""

            marks["clinical done"] = time.perf_counter() - t_start
            # seed (after the clinical form: the report job a seed queues takes ~1 min on 2 cores and the one job
            # thread would hold the clinical job behind it): arm, click 4 mm to the patient's left of the seed,
            # the numbers change and the viewer reloads the new state's volumes
            old_seed = page.inner_text("#overview td.seed")
            target = [seed[0] + 4.0, seed[1], seed[2]]
            page.fill("#tp-slider", "0")
            page.dispatch_event("#tp-slider", "input")
            page.select_option("#layout", "axial")
            page.evaluate("(p) => window.radnec.viewer.goTo(p)", seed)  # back to the seed's slice
            page.evaluate("document.querySelector('.viewer-panel').scrollIntoView()")
            page.wait_for_timeout(300)
            box = canvas.bounding_box()
            assert box
            old_key = page.evaluate("document.body.dataset.viewerKey")
            tx, ty = at(target)
            page.click("#seed-mode")
            t_click = time.perf_counter()
            page.mouse.click(box["x"] + tx, box["y"] + ty)
            page.wait_for_function("(s) => document.querySelector('#overview td.seed')?.textContent !== s", arg=old_seed,
                                   timeout=60000)
            seed_s = time.perf_counter() - t_click
            marks["seed done"] = time.perf_counter() - t_start
            new_seed = [float(v) for v in page.inner_text("#overview td.seed").split(",")]
            assert abs(new_seed[0] - target[0]) < 3.0 and abs(new_seed[2] - target[2]) < 3.0, (new_seed, target)
            _wait_viewer(page, "(k) => document.body.dataset.viewerKey !== k", old_key, errors, tmp_path, timeout_ms=30000)

            # the tumour-board note and the downloads
            page.fill("#note", "Tumour board: discuss perfusion MRI.")
            page.click("#note-save")
            page.wait_for_function("document.querySelector('#note-status').textContent.startsWith('saved')", timeout=10000)
            with page.expect_download() as dl:
                page.click("#dl-report")
            report = tmp_path / "report.html"
            dl.value.save_as(report)
            assert "<html" in report.read_text(encoding="utf-8")[:500].lower()
            with page.expect_download() as dl:
                page.click("#dl-json")
            dl.value.save_as(tmp_path / "analysis.json")
            assert '"lesions"' in (tmp_path / "analysis.json").read_text(encoding="utf-8")
            page.screenshot(path=str(shots / "case-page-end.png"), full_page=True)
        finally:
            browser.close()
    assert not errors, errors
    total = time.perf_counter() - t_start
    print(f"first contentful paint {fcp:.0f} ms (HTML {nav:.0f} ms); seed click -> numbers {seed_s:.1f} s; browser test {total:.0f} s; {marks}")
    assert total < 150
