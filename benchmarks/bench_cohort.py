"""Benchmark of `radnec cohort` (issue 17): a mixed-scenario phantom cohort on 1 and on 2 local Dask workers.

    python benchmarks/bench_cohort.py [--cases 24] [--voxel-mm 2] [--keep DIR] [--threads-per-case 1]

Generates ``--cases`` phantom cases (`radnec phantom` scenarios necrosis, infield, marginal, distant,
stable in turn, seed = index, follow-ups at 3 and 9 months) and an outcomes file from their truth
(progression when the phantom's truth says so, else necrosis; reference follow-up), then runs the same
cohort twice from scratch in this process's machine: ``--workers 1`` and ``--workers 2`` (each its own
output folder and workspaces, no per-case report). Prints wall time, speed-up, cases/hour, peak memory
per worker and the calibration (AUC, Brier). Targets (issue 17, 24 cases, 2 mm): speed-up >= 1.8 and
2 workers <= 20 min; exits 1 when a target is missed (only judged with >= 24 cases).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCENARIOS = ("necrosis", "infield", "marginal", "distant", "stable")
TARGET_SPEEDUP = 1.8
TARGET_2W_S = 20 * 60.0
BIN = Path(sys.executable).parent


def _generate(root: Path, n: int, voxel_mm: float) -> Path:
    from radnec.phantom.generate import generate_case

    cases = root / "cases"
    lines = []
    for i in range(n):
        scenario = SCENARIOS[i % len(SCENARIOS)]
        name = f"{i:03d}-{scenario}"
        if not (cases / name / "truth.json").is_file():
            shutil.rmtree(cases / name, ignore_errors=True)
            generate_case(scenario, i, cases / name, months=[3, 9], voxel_mm=voxel_mm)
        truth = json.loads((cases / name / "truth.json").read_text())
        lines.append(f"{name},GTV,{'progression' if truth['progression'] else 'necrosis'},follow-up")
    (root / "outcomes.csv").write_text("case,lesion,outcome,reference\n" + "\n".join(lines) + "\n")
    return cases


def _run(cases: Path, out: Path, workers: int, outcomes: Path, threads: int) -> tuple[float, dict]:
    shutil.rmtree(out, ignore_errors=True)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    subprocess.run([str(BIN / "radnec"), "cohort", str(cases), "--out", str(out), "--workers", str(workers),
                    "--no-report", "--quiet", "--outcomes", str(outcomes), "--threads-per-case", str(threads)], check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    summary = json.loads((out / "cohort.json").read_text())
    records = [json.loads(p.read_text()) for p in (out / "records").glob("*.json")]
    summary["task_cpu_s"] = sum(r.get("cpu_s") or 0.0 for r in records)
    summary["task_wall_s"] = sum(r.get("wall_s") or 0.0 for r in records)
    summary["load"] = (load0, os.getloadavg()[0])
    return wall, summary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=24)
    ap.add_argument("--voxel-mm", type=float, default=2.0)
    ap.add_argument("--keep", type=Path, default=None, help="keep cases and outputs here (cases are reused)")
    ap.add_argument("--threads-per-case", type=int, default=1,
                    help="radnec cohort --threads-per-case (1, the default: one core per worker; 2: as radnec analyze)")
    args = ap.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="radnec-bench-cohort-"))
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    cases = _generate(root, args.cases, args.voxel_mm)
    print(f"generated {args.cases} cases ({args.voxel_mm:g} mm) in {time.perf_counter() - t0:.0f} s under {root}")
    results = {w: _run(cases, root / f"out-{w}w", w, root / "outcomes.csv", args.threads_per_case) for w in (1, 2)}
    print(f"threads per case: {args.threads_per_case}")
    (t1, _), (t2, s2) = results[1], results[2]
    speedup = t1 / t2
    print(f"\n{'workers':>8} {'wall s':>8} {'cases/h':>8} {'failed':>7} {'task CPU s':>10} {'task wall s':>11} "
          f"{'load 1 min':>11}  peak memory per worker (MB)")
    for w, (t, s) in results.items():
        peaks = ", ".join(f"{mb:.0f}" for mb in s["worker_peak_memory_mb"].values())
        load = f"{s['load'][0]:.1f}-{s['load'][1]:.1f}"
        print(f"{w:>8} {t:>8.1f} {3600 * args.cases / t:>8.1f} {len(s['failed']):>7} {s['task_cpu_s']:>10.1f} "
              f"{s['task_wall_s']:>11.1f} {load:>11}  {peaks}")
    print("(task CPU s: the cases' summed CPU time, the same work on 1 or 2 workers; a load above the 2 cores "
          "means other jobs shared them and the speed-up is not the cohort's)")
    cal = s2.get("calibration", {})
    auc = cal.get("auc", {})
    print(f"\nspeed-up 2 vs 1 worker: {speedup:.2f}x (target >= {TARGET_SPEEDUP}); 2 workers: {t2 / 60:.1f} min "
          f"for {args.cases} cases (target <= 20 min for 24)")
    print(f"calibration on {cal.get('n')} lesions: AUC {auc.get('point')} (95 % CI {auc.get('ci95')}), Brier {cal.get('brier')}")
    if args.cases >= 24 and (speedup < TARGET_SPEEDUP or t2 > TARGET_2W_S):
        print("TARGET MISSED")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
