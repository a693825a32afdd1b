"""The case-page picture in the docs (``docs/img/serve-case.png``), from the 1 mm demo case.

    .venv/bin/python web/screenshot.py [--data bench-out/serve] [--zoom 2] [--out docs/img/serve-case.png]

Starts ``radnec serve`` on ``--data`` (an empty folder: the server makes and analyses the demo case
first, about a minute), opens the case page in Debian's Chromium (Playwright, headless), shows the latest
follow-up centred on the lesion at ``--zoom`` and saves the top of the page. Not a test: the browser test checks
the page; this only makes the picture.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"]


def _wait_analysed(base: str, token: str, timeout_s: float = 600) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        req = urllib.request.Request(f"{base}/api/cases", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req) as r:
            cases = json.loads(r.read())
        cases = cases.get("cases", cases) if isinstance(cases, dict) else cases
        done = [c for c in cases if c.get("status") == "analysed"]
        if done:
            return int(done[0]["id"])
        time.sleep(2)
    raise SystemExit("no analysed case within the time limit")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO / "bench-out" / "serve")
    ap.add_argument("--zoom", default="2")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "img" / "serve-case.png")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    args.data.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    token_file = args.data.parent / f".{args.data.name}-screenshot-token"
    token_file.write_text(token)
    exe = shutil.which("radnec", path=str(Path(sys.executable).parent)) or "radnec"
    proc = subprocess.Popen([exe, "serve", "--data", str(args.data), "--port", "0", "--token-file", str(token_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        base = None
        assert proc.stdout is not None
        while base is None:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                raise SystemExit("radnec serve exited")
            if m := re.search(r"listening on [^:]+:(\d+)", line):
                base = f"http://127.0.0.1:{m.group(1)}"
        case_id = _wait_analysed(base, token)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.goto(f"{base}/login?token={token}")
            page.goto(f"{base}/cases/{case_id}")
            page.wait_for_function("document.body.dataset.viewerKey", timeout=120000)
            page.wait_for_timeout(1000)
            last = page.get_attribute("#tp-slider", "max") or "0"  # the latest follow-up
            page.fill("#tp-slider", last)
            page.dispatch_event("#tp-slider", "input")
            page.wait_for_timeout(1500)
            page.click("#centre")
            page.select_option("#zoom", args.zoom)
            page.wait_for_timeout(1000)
            page.evaluate("window.scrollTo(0, 0)")
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out), full_page=True, clip={"x": 0, "y": 0, "width": 1400, "height": 1250})
            browser.close()
        print(f"wrote {args.out}")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        token_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
