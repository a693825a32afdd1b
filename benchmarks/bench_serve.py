"""Benchmark of ``radnec serve`` on the bundled demo case (1 mm phantom, 2 follow-ups).

Starts ``radnec serve --port 0`` on a data folder (default ``bench-out/serve``); on an empty store the server
generates, imports and analyses the demo case itself (timed: "demo ready"). Then, over HTTP like the page:

* first paint of the case page: the HTML, then the viewer's catalogue (``index.json``) and first volume
  (``t1c-0.nii.gz``) — cold (first request after an analysis) and warm;
* seed click → new numbers: ``POST /api/cases/{id}/seed?wait=…`` until the job wrote ``analysis.json``;
* clinical edit → new posterior: ``PUT /api/cases/{id}/clinical?wait=…``;
* the follow-up ``report`` job (HTML report re-rendered after the quick run).

Prints a table with the load average. Run: ``.venv/bin/python benchmarks/bench_serve.py [--data DIR]``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _start(data: Path) -> tuple[subprocess.Popen, str, str]:
    exe = Path(sys.executable).with_name("radnec")
    proc = subprocess.Popen([str(exe), "serve", "--data", str(data), "--port", "0"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        m = re.search(r"(http://[^/ ]+)/login\?token=(\S+)", line)
        if m:
            return proc, m.group(1), m.group(2)
    raise SystemExit("radnec serve did not print its login link")


def _wait_job(c: httpx.Client, job_id: int, timeout_s: float = 1800) -> dict:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        job = c.get(f"/api/jobs/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.25)
    raise SystemExit(f"job {job_id} did not finish")


def _paint(c: httpx.Client, case_id: int) -> tuple[float, float, int]:
    """(seconds to the HTML, seconds to HTML + index.json + first volume, bytes of that volume)."""
    t0 = time.perf_counter()
    html = c.get(f"/cases/{case_id}")
    html.raise_for_status()
    t_html = time.perf_counter() - t0
    index = c.get(f"/cases/{case_id}/volumes/index.json")
    if index.status_code != 200:
        raise SystemExit(f"index.json: {index.status_code} {index.text[:300]}")
    vol = c.get(f"/cases/{case_id}/volumes/t1c-0.nii.gz")
    vol.raise_for_status()
    return t_html, time.perf_counter() - t0, len(vol.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("bench-out/serve"))
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []
    proc, base, token = _start(args.data)
    try:
        transport = httpx.HTTPTransport(retries=3)  # a keep-alive connection closed by the server is retried
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=600, transport=transport) as c:
            t0 = time.perf_counter()
            while True:  # the demo job (first start) or any job still running
                try:
                    jobs = c.get("/api/jobs").json()
                except httpx.TransportError:  # the server closed a kept-alive connection: poll again
                    time.sleep(1)
                    continue
                if jobs and jobs[0]["state"] == "failed":
                    raise SystemExit(f"{jobs[0]['kind']} job failed: {jobs[0]['error']}")
                if jobs and all(j["state"] in ("done", "failed") for j in jobs):
                    break
                time.sleep(1)
            waited = time.perf_counter() - t0
            if waited > 5:
                rows.append(("demo generated, imported, analysed (first start)", f"{waited:.1f} s", "background job"))
            case_id = c.get("/api/cases").json()[0]["id"]
            t_html, t_paint, size = _paint(c, case_id)
            rows.append(("first paint, cold (HTML + index.json + t1c-0.nii.gz)", f"{t_paint:.2f} s",
                         f"HTML {t_html * 1000:.0f} ms, volume {size / 1e6:.1f} MB gz"))
            t_html, t_paint, size = _paint(c, case_id)
            rows.append(("first paint, warm", f"{t_paint:.2f} s", f"HTML {t_html * 1000:.0f} ms"))
            seed0 = c.get(f"/api/cases/{case_id}").json()["overview"][0]["seed_lps"]
            for i, delta in enumerate((1.5, -1.5)):
                t0 = time.perf_counter()
                r = c.post(f"/api/cases/{case_id}/seed", params={"wait": 300},
                           json={"point_lps": [v + delta for v in seed0], "frame": "planning"}).json()
                dt = time.perf_counter() - t0
                rows.append((f"seed click → new numbers ({'first' if i == 0 else 'second'})", f"{dt:.2f} s",
                             f"{r['state']}, P(progression) {r['overview'][0]['posterior_tp']:.3f}"))
                jobs = c.get(f"/api/cases/{case_id}/jobs").json()
                report = next(j for j in jobs if j["kind"] == "report")
                done = _wait_job(c, report["id"])
                took = _ts(done["finished_utc"]) - _ts(done["started_utc"]) if done["started_utc"] else 0.0
                rows.append(("  then the HTML report (follow-up job)", f"{took:.2f} s", done["state"]))
            t_html, t_paint, size = _paint(c, case_id)
            rows.append(("first paint after the seed (volumes rebuilt)", f"{t_paint:.2f} s", f"HTML {t_html * 1000:.0f} ms"))
            facts = c.get(f"/api/cases/{case_id}/clinical").json()
            for value in (2.6, 1.2):
                facts["tests_done"] = [{"name": "dsc_rcbv_max", "value": value}]
                t0 = time.perf_counter()
                r = c.put(f"/api/cases/{case_id}/clinical", params={"wait": 300}, json=facts).json()
                dt = time.perf_counter() - t0
                rows.append((f"clinical edit → new posterior (rCBV max {value})", f"{dt:.2f} s",
                             f"{r['state']}, P(progression) {r['overview'][0]['posterior_tp']:.3f}"))
            jobs = c.get(f"/api/cases/{case_id}/jobs").json()
            _wait_job(c, jobs[0]["id"])
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    load = os.getloadavg()
    print(f"\nradnec serve on the demo case — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}\n")
    width = max(len(r[0]) for r in rows)
    print(f"| {'step'.ljust(width)} | time | detail |\n|{'-' * (width + 2)}|---|---|")
    for name, value, detail in rows:
        print(f"| {name.ljust(width)} | {value} | {detail} |")


def _ts(text: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(text).timestamp()


if __name__ == "__main__":
    main()
