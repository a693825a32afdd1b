"""Headless-Chromium helpers for the report tests (and the docs screenshot).

Run ``python tests/report/chromium.py [OUT/report.html]`` to regenerate
docs/report-screenshot.png from a report written by ``radnec analyze`` (or, without argument,
from the synthetic test case).
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

from radnec.export.pdf import find_chromium

#: Flags for a quiet, offline, reproducible headless run (no network, no first-run UI, no GPU).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
)
#: Page console messages as Chromium logs them with --enable-logging=stderr.
CONSOLE_LINE = re.compile(r"(INFO|WARNING|ERROR):CONSOLE|Uncaught|console\.error", re.IGNORECASE)


def run_chromium(html: Path, *args: str, timeout_s: float = 120.0) -> tuple[int, str, str]:
    """Run headless Chromium on ``html`` with extra ``args``; return (code, stdout, stderr)."""
    exe = find_chromium()
    if exe is None:
        raise FileNotFoundError("chromium not found")
    with tempfile.TemporaryDirectory(prefix="radnec-chromium-") as profile:
        cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, html.resolve().as_uri()]
        env = dict(os.environ, HOME=profile)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def console_errors(stderr: str) -> list[str]:
    """Lines of Chromium's log that are page console messages or uncaught errors."""
    return [line for line in stderr.splitlines() if CONSOLE_LINE.search(line)]


def screenshot(html: Path, png: Path, *, width: int = 1280, height: int = 4000) -> tuple[int, str]:
    """Take a headless screenshot of ``html`` into ``png``; return (exit code, stderr)."""
    code, _out, err = run_chromium(html, f"--screenshot={png.resolve()}", f"--window-size={width},{height}")
    return code, err


def _save_docs_png(raw: Path) -> Path:  # pragma: no cover - manual tool
    """Palette PNG (256 colours, no dithering: the isodose colours stay exact) in docs/."""
    from PIL import Image

    out = Path(__file__).resolve().parents[2] / "docs" / "report-screenshot.png"
    out.parent.mkdir(exist_ok=True)
    img = Image.open(raw).convert("RGB")
    img.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(out, optimize=True)
    print(out, out.stat().st_size, "bytes")
    return out


def _make_docs_screenshot(existing: Path | None = None) -> None:  # pragma: no cover - manual tool
    import sys

    import numpy as np

    if existing is not None:  # a report written by `radnec analyze`
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "shot.png"
            code, err = screenshot(existing, raw, width=1280, height=3000)
            if code != 0:
                raise SystemExit(f"chromium failed ({code}): {err[-2000:]}")
            _save_docs_png(raw)
        return

    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here.parents[1]))
    from tests.report.conftest import full_analysis, make_case_images

    from radnec.report import figures as F
    from radnec.report.html import figure_key, render_report

    im = make_case_images()
    a = full_analysis()
    les = a.lesions[0]
    ev = les.evidence
    d = np.linspace(0, 26, 60)
    figs = {
        "views_latest": F.orthogonal_views(im["followup"], dose=im["dose"], prescription_gy=20.0,
                                           lesion=im["lesion"], title="Follow-up 2025-08-15 (day 287)"),
        "views_earliest_enlarging": F.orthogonal_views(im["followup"], dose=im["dose"], prescription_gy=20.0,
                                                       lesion=im["lesion"], title="Follow-up 2025-06-01 (day 212)"),
        "side_by_side": F.side_by_side(im["planning"], im["followup"], dose=im["dose"], prescription_gy=20.0,
                                       lesion=im["lesion"]),
        "dvh": F.dvh_plot({"lesion (2025-08-15)": (d, 100 / (1 + np.exp(d - 14)))}, prescription_gy=20.0),
        "growth": F.growth_curve(les.timepoints),
        "evidence": F.evidence_contributions(ev["items"], prior_tp=ev["prior_tp"], posterior_tp=ev["posterior_tp"],
                                             interval95=ev["interval95"]),
        "voi": F.value_of_information(ev["value_of_information"], current_tp=ev["posterior_tp"]),
        figure_key("registration", date="2025-08-15"): F.registration_overlay(im["planning"], im["followup"]),
    }
    with tempfile.TemporaryDirectory() as tmp:
        report = render_report(a, figs, out_dir=Path(tmp))
        raw = Path(tmp) / "shot.png"
        code, err = screenshot(report, raw, width=1280, height=3000)
        if code != 0:
            raise SystemExit(f"chromium failed ({code}): {err[-2000:]}")
        _save_docs_png(raw)


if __name__ == "__main__":  # pragma: no cover
    import sys

    _make_docs_screenshot(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
