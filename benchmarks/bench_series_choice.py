"""Series selection on clinical-2d phantom follow-ups (issue 14 part 3). Prints a table; exits 1 if any pick is wrong.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_series_choice.py [--cases 12] [--voxel-mm 2]

Needs the phantom's ``--protocol clinical-2d`` (issue 14 part 5): routine follow-ups with a localiser,
2-D axial T1c (5 mm + 1 mm gap, some oblique), pre-contrast T1, T2, FLAIR, DWI b0/b1000 + ADC, and at some
follow-ups a sagittal 3-D T1c with its axial MPR, under Siemens, GE or Philips names. Each case's
``truth.json`` names the series a correct selector picks (``expected_series``: the 3-D T1c when present,
else the 2-D axial T1c; the 2-D FLAIR). The case folder is scanned and :func:`radnec.discover.find_case`
picks; the table prints, per follow-up, the T1c and FLAIR used and whether they are the expected ones.
Target: 100 % right (T1c and FLAIR).
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SCENARIOS = ("necrosis", "infield", "marginal", "distant", "stable")


def _expected(truth: Any, out: dict[str, dict[str, Any]]) -> None:
    if isinstance(truth, dict):
        if "expected_series" in truth:
            out[truth["expected_series"]["t1c"]] = truth["expected_series"]
        for v in truth.values():
            _expected(v, out)
    elif isinstance(truth, list):
        for v in truth:
            _expected(v, out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument("--voxel-mm", type=float, default=2.0)
    parser.add_argument("--first-seed", type=int, default=100)
    args = parser.parse_args()

    from radnec.discover import find_case
    from radnec.ingest.scan import scan
    from radnec.phantom.generate import generate_case

    if "protocol" not in inspect.signature(generate_case).parameters:
        print("this benchmark needs the phantom's --protocol clinical-2d (issue 14 part 5)")
        return 2
    rows, right, total = [], 0, 0
    with tempfile.TemporaryDirectory(prefix="radnec-bench-choice-") as tmp:
        for i in range(args.cases):
            seed, scenario = args.first_seed + i, SCENARIOS[i % len(SCENARIOS)]
            case = Path(tmp) / f"{scenario}-{seed}"
            generate_case(scenario, seed, case, voxel_mm=args.voxel_mm, months=[3, 9, 16], lesions=3 + i % 4,
                          protocol="clinical-2d")
            expected: dict[str, dict[str, Any]] = {}
            _expected(json.loads((case / "truth.json").read_text()), expected)
            t0 = time.perf_counter()
            layout = find_case(scan(case))
            dt = time.perf_counter() - t0
            for fu in layout.followups:
                t1c, flair = fu.series["T1c"], fu.series.get("FLAIR")
                exp = expected.get(t1c.series_instance_uid)
                ok = exp is not None and flair is not None and flair.series_instance_uid == exp["flair"]
                right += ok
                total += 1
                rows.append((f"{scenario}-{seed}", fu.label, t1c.description, flair.description if flair else "-",
                             "yes" if ok else "NO", f"{dt:.1f}"))
    print("\n| case | follow-up | T1c used | FLAIR used | expected | scan+choice s |\n|---|---|---|---|---|---:|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print(f"\nright series: {right}/{total} follow-ups ({100 * right / max(total, 1):.0f} %); target 100 %")
    return 0 if right == total else 1


if __name__ == "__main__":
    sys.exit(main())
