"""Header-scan speed on a flat PACS export (issue 14 part 4). Prints a table; exits 1 if a target is missed.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_scan.py [--files 3000] [--repeat 3]

Writes ``--files`` header-only MR instances (30 series, 16×16 pixels, random 16-hex-digit names, no
extension, one flat folder; the generator of ``tests/ingest/flat_export.py``), then times
:func:`radnec.ingest.scan.scan` of the folder (best and median of ``--repeat`` runs, cold OS cache not
forced) and the series choice of the study. The same folder zipped is also scanned (extraction + scan).
Target: ≥ 300 files/s for the scan on the 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "ingest"))

TARGET_FILES_PER_S = 300.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from flat_export import write_flat_export

    from radnec.discover import _study_series
    from radnec.ingest.scan import scan

    n_series = 30
    with tempfile.TemporaryDirectory(prefix="radnec-bench-scan-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        paths = write_flat_export(root / "flat", n_series=n_series, n_slices=max(1, args.files // n_series))
        t_write = time.perf_counter() - t0
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            inv = scan(root / "flat")
            times.append(time.perf_counter() - t0)
        assert len(inv.series_of_kind("MR")) == n_series, "wrong number of series"
        (study,) = [st for p in inv.patients for st in p.studies]
        t0 = time.perf_counter()
        _study_series(study)
        t_choose = time.perf_counter() - t0
        with zipfile.ZipFile(root / "export.zip", "w") as zf:
            for p in paths:
                zf.write(p, p.name)
        t0 = time.perf_counter()
        inv_zip = scan(root / "export.zip", extract_dir=root / "cache")
        t_zip = time.perf_counter() - t0
        assert len(inv_zip.series_of_kind("MR")) == n_series

    n = len(paths)
    best, med = min(times), statistics.median(times)
    rows = [
        ("write (byte templates)", t_write, n / t_write),
        (f"scan, best of {args.repeat}", best, n / best),
        (f"scan, median of {args.repeat}", med, n / med),
        ("series choice (30 series)", t_choose, float("nan")),
        ("zip: extract + scan", t_zip, n / t_zip),
    ]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nflat export: {n} files, {n_series} series, random names, no extension; load average {load:.1f} "
          f"on {os.cpu_count()} CPUs\n")
    print("| step | seconds | files/s |\n|---|---:|---:|")
    for name, sec, rate in rows:
        print(f"| {name} | {sec:.2f} | {'' if rate != rate else f'{rate:.0f}'} |")
    ok = n / med >= TARGET_FILES_PER_S
    print(f"\ntarget ≥ {TARGET_FILES_PER_S:.0f} files/s (median scan): {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
