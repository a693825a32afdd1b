"""Benchmark of issue 14 on a phantom cohort as real patients come: multi-target plans (3–8 targets),
routine clinical 2-D follow-up protocols, 2–4 follow-ups, all five scenarios, some with a new
distant metastasis.

    python benchmarks/bench_realworld.py [--cases 20] [--voxel-mm 2] [--keep DIR] [--timing-case]

For every case: ``radnec phantom … --lesions N --protocol clinical-2d``, then ``radnec analyze``
without a seed (every treated target plus new-lesion candidates), judged against ``truth.json``:

* the enlarging lesion(s) found and flagged (``overview[].flagged``);
* pattern and growth symmetry of each enlarging lesion (out of field: symmetry "not applicable" is
  radnec's stated policy, issue 18);
* coverage at 100/80/50 % of the lesion's own Rx within 10 points of the truth, every truth lesion
  radnec analysed (truth: the planning-frame truth mask under the summed plan dose);
* the T1c series used at every follow-up equal to the truth's ``expected_series`` (printed);

then, with the seed given where the user sees it (``reanalyze_lesion(frame="latest")`` at the
truth centre of the index lesion on the latest follow-up, its own frame): the right lesion (its
target, or out of field for a new lesion, and the volume within 35 % of the truth).

``--timing-case`` also times one 8-target, 3-follow-up case at 1 mm as a separate process (wall s,
peak RSS): the issue's ≤ 3 min and ≤ 6 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SCENARIOS = ("necrosis", "infield", "marginal", "distant", "stable")
MONTHS = ("3,9", "3,9,15", "2,6,10,16", "4,10")
#: Acceptance thresholds of issue 14.
TARGET_FOUND, TARGET_PATTERN, TARGET_COVERAGE, TARGET_SERIES, TARGET_SEED = 0.95, 0.95, 0.95, 1.0, 1.0
COVERAGE_POINTS = 10.0
#: Lesions at least this large on the latest truth (cm³; a 10 mm sphere is 0.52 cm³, RANO-BM's measurable
#: size) are also counted apart: below it one voxel of partial volume moves coverage by tens of points.
MEASURABLE_CC = 0.5


def specs(n: int) -> list[dict]:
    """Deterministic case list: scenarios cycled, 3–8 targets, 2–4 follow-ups, a new lesion in every third."""
    out = []
    for i in range(n):
        out.append({
            "scenario": SCENARIOS[i % len(SCENARIOS)],
            "seed": 100 + i,
            "lesions": 3 + (i * 7) % 6,
            "months": MONTHS[i % len(MONTHS)],
            "new_lesion": i % 3 == 2,
        })
    return out


def _radnec(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "radnec.cli", *args], capture_output=True, text=True)


def make_case(spec: dict, folder: Path, voxel_mm: float) -> dict:
    if not (folder / "truth.json").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        args = ["phantom", "-s", spec["scenario"], "--seed", str(spec["seed"]), "--out", str(folder), "--voxel-mm", str(voxel_mm),
                "--months", spec["months"], "--lesions", str(spec["lesions"]), "--protocol", "clinical-2d"]
        if spec["new_lesion"]:
            args.append("--new-lesion")
        r = _radnec(*args)
        if r.returncode != 0:
            raise RuntimeError(f"phantom failed: {r.stderr[-2000:]}")
    return json.loads((folder / "truth.json").read_text())


def _match(truth_lesion: dict, analysis: dict) -> dict | None:
    """The analysis lesion (overview row + block) of a truth lesion: its target ROI, or for a new lesion
    the new-lesion candidate nearest its centre (planning frame, within 15 mm)."""
    rows = {r["lesion"]: r for r in analysis["overview"]}
    blocks = {b["name"]: b for b in analysis["lesions"]}
    names = [truth_lesion.get("target_gtv_name"), truth_lesion.get("target_ptv_name")]
    for n in names:
        if n and n in rows:
            return rows[n] | {"block": blocks[n]}
    if truth_lesion.get("target_gtv_name") is None:
        centre = np.asarray(truth_lesion["centre_lps"], float)
        best = None
        for r in analysis["overview"]:
            if r["kind"].startswith("new"):
                d = float(np.linalg.norm(np.asarray(r["seed_lps"], float) - centre))
                if d <= 15.0 and (best is None or d < best[0]):
                    best = (d, r)
        if best is not None:
            return best[1] | {"block": blocks[best[1]["lesion"]]}
    return None


def judge(truth: dict, analysis: dict) -> dict:
    """Per-case counts of the acceptance lines."""
    res = {"enlarging": 0, "found": 0, "patterns": 0, "pattern_ok": 0, "coverage_lesions": 0, "coverage_ok": 0,
           "coverage_big": 0, "coverage_big_ok": 0, "series": 0, "series_ok": 0, "misses": []}
    for t in truth["lesions"]:
        m = _match(t, analysis)
        if t.get("enlarging"):
            res["enlarging"] += 1
            if m is not None and m["flagged"]:
                res["found"] += 1
            else:
                res["misses"].append(f"{t['name']} ({t.get('target_gtv_name') or 'new'}): "
                                     + ("not analysed" if m is None else f"not flagged (status {m['status']})"))
            res["patterns"] += 1
            sym_ok = m is not None and (m["symmetry"] == t["symmetry"] or (t["pattern"] == "out-of-field" and m["symmetry"] == "not applicable"))
            if m is not None and m["pattern"] == t["pattern"] and sym_ok:
                res["pattern_ok"] += 1
            elif m is not None:
                res["misses"].append(f"{t['name']}: pattern {m['pattern']}/{m['symmetry']} vs truth {t['pattern']}/{t['symmetry']}")
        dose = (m or {}).get("block", {}).get("dose") if m else None
        if m is not None and t.get("coverage_pct") and t.get("target_gtv_name") is not None:
            res["coverage_lesions"] += 1
            latest_cc = (t.get("volumes") or [{}])[-1].get("t1_lesion_cc")
            big = latest_cc is not None and latest_cc >= MEASURABLE_CC
            res["coverage_big"] += int(big)
            if dose is not None:
                got = dose["coverage_pct"]
                diffs = [abs(got[f"rx{k}"] - t["coverage_pct"][k]) for k in ("100", "80", "50")]
                if max(diffs) <= COVERAGE_POINTS:
                    res["coverage_ok"] += 1
                    res["coverage_big_ok"] += int(big)
                else:
                    res["misses"].append(f"{t['name']}: coverage {[got[f'rx{k}'] for k in ('100', '80', '50')]} vs truth "
                                         f"{[round(t['coverage_pct'][k], 1) for k in ('100', '80', '50')]}"
                                         f" (latest truth volume {latest_cc if latest_cc is None else round(latest_cc, 2)} cm³)")
    used = {(r["study"], r["role"]): r for r in analysis.get("series_used", [])}
    labels = [r["study"] for r in analysis.get("series_used", []) if r["role"] == "T1c"]
    for tp, label in zip(truth["timepoints"][1:], labels[1:]):
        exp = (tp.get("expected_series") or {}).get("t1c")
        if exp is None:
            continue
        res["series"] += 1
        got = used.get((label, "T1c"), {})
        if got.get("series_instance_uid") == exp:
            res["series_ok"] += 1
        else:
            res["misses"].append(f"{label}: T1c {got.get('description')!r} used, expected {tp['expected_series'].get('t1c_description')!r}")
    return res


def seed_check(truth: dict, out: Path) -> tuple[bool, bool, str]:
    """The index lesion re-analysed from a seed on the latest follow-up (its own frame): (right lesion,
    its latest volume within 35 % of the truth, description). The no-seed analysis is kept as
    ``analysis-default.json`` beside the seeded one."""
    from radnec.pipeline import reanalyze_lesion

    shutil.copyfile(out / "analysis.json", out / "analysis-default.json")

    index = next(t for t in truth["lesions"] if t.get("is_index_lesion"))
    latest = truth["timepoints"][-1]
    at = next(x for x in latest["lesions"] if x["name"] == index["name"])
    a = reanalyze_lesion(out, at["centre_lps"], frame="latest", write_report=False)
    (lesion,) = a.lesions
    target = (lesion.dose.details.get("target", {}) if lesion.dose else {}).get("gtv") or lesion.pattern_detail.get("target", {}).get("gtv")
    want = index.get("target_gtv_name") or index.get("target_ptv_name")
    vol = lesion.timepoints[-1].details.get("lesion_cc") if lesion.timepoints else None
    true_vol = index["volumes"][-1]["t1_lesion_cc"]
    vol_ok = vol is not None and abs(vol / true_vol - 1.0) <= 0.35
    right_place = (want is not None and target == want) or (want is None and lesion.pattern == "out-of-field")
    return bool(right_place), bool(vol_ok), f"target {target} (want {want}), {vol} cm³ (truth {true_vol:.2f})"


def timing_case(root: Path) -> tuple[float, float]:
    """One 8-target, 3-follow-up clinical-2d case at 1 mm: wall s and peak RSS (GB) of `radnec analyze`."""
    case = root / "timing-case"
    make_case({"scenario": "marginal", "seed": 7, "lesions": 8, "months": "3,9,15", "new_lesion": True}, case, 1.0)
    t0 = time.perf_counter()
    r = _radnec("analyze", str(case / "dicom"), "--out", str(root / "timing-out"), "--json", "--fresh")
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-2000:])
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=20)
    ap.add_argument("--voxel-mm", type=float, default=2.0)
    ap.add_argument("--keep", type=Path, default=None, help="keep cases and outputs here (reused when present)")
    ap.add_argument("--timing-case", action="store_true")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="radnec-bench-realworld-"))
    root.mkdir(parents=True, exist_ok=True)
    totals = {"enlarging": 0, "found": 0, "patterns": 0, "pattern_ok": 0, "coverage_lesions": 0, "coverage_ok": 0,
              "coverage_big": 0, "coverage_big_ok": 0, "series": 0, "series_ok": 0, "seeds": 0, "seed_ok": 0, "seed_volume_ok": 0}
    print(f"{'case':34s} {'targets':>7s} {'fu':>3s} {'found':>6s} {'pattern':>8s} {'coverage':>9s} {'series':>7s} {'seed':>5s} {'wall s':>7s}")
    for i, spec in enumerate(specs(args.cases)):
        name = f"{i:02d}-{spec['scenario']}-{spec['lesions']}t{'-new' if spec['new_lesion'] else ''}"
        folder, out = root / name, root / f"{name}-out"
        truth = make_case(spec, folder, args.voxel_mm)
        t0 = time.perf_counter()
        r = _radnec("analyze", str(folder / "dicom"), "--out", str(out), "--json")
        wall = time.perf_counter() - t0
        if r.returncode != 0:
            print(f"{name:34s} analyze FAILED: {r.stderr.strip()[-300:]}")
            continue
        analysis = json.loads((out / "analysis.json").read_text())
        res = judge(truth, analysis)
        ok, vol_ok, why = seed_check(truth, out)
        res["seeds"], res["seed_ok"], res["seed_volume_ok"] = 1, int(ok), int(vol_ok)
        if not (ok and vol_ok):
            res["misses"].append(f"seed on the latest follow-up: {why}")
        for k in totals:
            totals[k] += res[k]
        fu = len(truth["timepoints"]) - 1
        print(f"{name:34s} {spec['lesions']:7d} {fu:3d} {res['found']}/{res['enlarging']:<4d} {res['pattern_ok']}/{res['patterns']:<6d} "
              f"{res['coverage_ok']}/{res['coverage_lesions']:<7d} {res['series_ok']}/{res['series']:<5d} {res['seed_ok']}/1   {wall:7.1f}")
        for miss in res["misses"]:
            print(f"    - {miss}")
        sys.stdout.flush()

    def rate(a: str, b: str) -> float:
        return totals[a] / totals[b] if totals[b] else float("nan")

    rows = [
        ("enlarging lesion found and flagged (no seed)", rate("found", "enlarging"), TARGET_FOUND, f"{totals['found']}/{totals['enlarging']}"),
        ("pattern and symmetry of enlarging lesions", rate("pattern_ok", "patterns"), TARGET_PATTERN, f"{totals['pattern_ok']}/{totals['patterns']}"),
        ("coverage 100/80/50 % Rx within 10 points", rate("coverage_ok", "coverage_lesions"), TARGET_COVERAGE,
         f"{totals['coverage_ok']}/{totals['coverage_lesions']}"),
        ("T1c series picked as expected", rate("series_ok", "series"), TARGET_SERIES, f"{totals['series_ok']}/{totals['series']}"),
        ("right lesion from a seed on the latest follow-up", rate("seed_ok", "seeds"), TARGET_SEED, f"{totals['seed_ok']}/{totals['seeds']}"),
    ]
    info = [("  (not an acceptance line) its latest volume within 35 %", rate("seed_volume_ok", "seeds"),
             f"{totals['seed_volume_ok']}/{totals['seeds']}"),
            (f"  (not an acceptance line) coverage, lesions ≥ {MEASURABLE_CC:g} cm³", rate("coverage_big_ok", "coverage_big"),
             f"{totals['coverage_big_ok']}/{totals['coverage_big']}")]
    print(f"\n{'acceptance line':52s} {'rate':>6s} {'target':>7s}  counts")
    ok = True
    for label, value, target, counts in rows:
        passed = value >= target
        ok &= passed
        print(f"{label:52s} {value:6.1%} {target:7.0%}  {counts}  {'ok' if passed else 'MISSED'}")
    for label, value, counts in info:
        print(f"{label:52s} {value:6.1%} {'':7s}  {counts}")
    if args.timing_case:
        wall, rss = timing_case(root)
        print(f"\n8 targets, 3 follow-ups, clinical-2d, 1 mm: analyze {wall:.0f} s (≤ 180), peak RSS {rss:.2f} GB (≤ 6)")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
