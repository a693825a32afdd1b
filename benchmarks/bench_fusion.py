"""Fusion benchmark: accuracy, time and memory of the registration engines on phantom pairs with a
KNOWN planning → follow-up transform, plus the real cross-contrast case TCGA-FG-6692 (T1c ↔ FLAIR).

Pairs (radnec.fuse.synthetic on the MNI152 2009a template from ../shared/data/nilearn-mni152):
rigid misalignment up to 10° / 15 mm per axis, radial mass effect 3-5 mm around a grown ring-enhancing
lesion with oedema, follow-up contrast change (gamma 0.7-1.4), smooth multiplicative bias field
(±15 %) and 2 % noise. TRE = |T_est(G(y)) - y| at follow-up lattice points (3 mm), exact.

Regions: brain (GM+WM > 50 %), near = brain within 30 mm of the lesion surface but outside the
lesion + oedema (no correspondence exists inside them), lesion = inside the oedema (information only).

Targets (issue 4): near-lesion TRE p95 <= 1 mm, brain TRE mean <= 1 mm, <= 30 s wall per pair on
2 threads; rigid-only pairs TRE mean <= 0.5 mm. Exit code 1 when a target is missed.

Usage: python benchmarks/bench_fusion.py [--seeds 5] [--engines rigid,demons,elastix] [--no-tcga]
Each engine runs in its own worker process (peak RSS and start-up per process are measured; for
elastix the start-up includes itk's lazy loading of the elastix wrappers). The targets are checked
on the default engine (radnec.fuse.fusion.DEFAULT_ENGINE); a correct result flagged poor counts
as a miss (false alarm).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO / ".." / "shared" / "data"
MNI = SHARED / "nilearn-mni152"
TCGA = SHARED / "tcga-fg-6692-brainlesion" / "native"

TARGET_NEAR_P95_MM = 1.0
TARGET_BRAIN_MEAN_MM = 1.0
TARGET_WALL_S = 30.0
TARGET_RIGID_MEAN_MM = 0.5


def _load_mni():  # noqa: ANN202
    import SimpleITK as sitk

    t1 = sitk.ReadImage(str(MNI / "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"), sitk.sitkFloat32)
    gm = sitk.ReadImage(str(MNI / "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz"), sitk.sitkFloat32)
    wm = sitk.ReadImage(str(MNI / "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz"), sitk.sitkFloat32)
    return t1, sitk.Cast((gm + wm) > 127, sitk.sitkUInt8)


def worker(engine: str, seeds: list[int], rigid_only_pairs: bool) -> list[dict]:
    """Run one engine on every seed in this process; return one row per pair."""
    t_start = time.perf_counter()
    import SimpleITK as sitk

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(2)
    from radnec.fuse.fusion import fuse
    from radnec.fuse.synthetic import make_pair, target_registration_error

    if engine == "elastix":
        # itk loads its elastix wrappers lazily on first use (~10-17 s): a once-per-process cost,
        # counted here as start-up rather than in the first pair's wall time.
        import itk

        itk.MultiThreaderBase.SetGlobalDefaultNumberOfThreads(2)
        itk.ParameterObject.New()
    startup = time.perf_counter() - t_start
    t1, brain = _load_mni()
    rows = []
    for seed in seeds:
        if rigid_only_pairs:
            pair = make_pair(t1, brain, seed=seed, mass_effect_mm=0.0, edema_radius_mm=0.0, lesion_radius_mm=(4.0, 4.0))
        else:
            pair = make_pair(t1, brain, seed=seed, mass_effect_mm=None, max_mass_effect_mm=5.0)
        w0, c0 = time.perf_counter(), time.process_time()
        if engine == "rigid":
            res = fuse(pair.planning, pair.followup, deformable=False)
        elif engine in ("demons", "elastix"):
            res = fuse(
                pair.planning,
                pair.followup,
                moving_lesion_mask=pair.followup_lesion_mask,
                fixed_lesion_mask=pair.planning_lesion_mask,
                engine=engine,
            )
        else:
            raise SystemExit(f"unknown engine {engine}")
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        tre = target_registration_error(pair, res.transform)
        rows.append(
            {
                "engine": engine,
                "seed": seed,
                "pair": pair.parameters,
                "wall_s": wall,
                "cpu_s": cpu,
                "startup_s": startup,
                "tre": tre,
                "poor_quality": bool(res.quality.get("poor_quality", False)),
                "failed_checks": res.quality.get("failed_checks", []),
                "jacobian_min": res.quality.get("jacobian_min"),
                "jacobian_low": res.quality.get("jacobian_low"),
                "jacobian_high": res.quality.get("jacobian_high"),
                "folded_fraction": res.quality.get("folded_fraction"),
            }
        )
        print(
            f"  {engine} seed {seed}: wall {wall:.1f} s cpu {cpu:.1f} s near mean {tre['near']['mean']:.2f} p95 "
            f"{tre['near']['p95']:.2f} max {tre['near']['max']:.2f} mm; brain mean {tre['brain']['mean']:.2f} mm; "
            f"det(J) min {res.quality.get('jacobian_min')} p1/p99 {res.quality.get('jacobian_low')}/"
            f"{res.quality.get('jacobian_high')}; poor={res.quality.get('poor_quality')} {res.quality.get('failed_checks')}",
            file=sys.stderr,
            flush=True,
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    for r in rows:
        r["peak_rss_mb"] = peak_mb
    return rows


def tcga_cross_contrast(out_png: Path) -> dict:
    """Rigid T1c ↔ FLAIR on the native TCGA-FG-6692 series (different grids, 5.5 mm slices)."""
    import SimpleITK as sitk

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(2)
    from radnec.fuse import quality
    from radnec.fuse.fusion import fuse
    from radnec.ingest.nifti import read_volume

    files = {p.name: p for p in TCGA.glob("*.nii.gz")}
    t1c = next(p for n, p in files.items() if n.endswith("t1c.nii.gz") and "mask" not in n)
    fla = next(p for n, p in files.items() if n.endswith("fla.nii.gz"))
    fixed, moving = read_volume(t1c), read_volume(fla)
    w0, c0 = time.perf_counter(), time.process_time()
    res = fuse(fixed, moving, deformable=False, inverse_consistency=True)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    quality.overlay_png(fixed, moving, res.transform, out_png, title="TCGA-FG-6692 native T1c (planning) vs FLAIR, rigid")
    q = res.quality
    return {
        "fixed": t1c.name.split("_")[-1],
        "moving": fla.name.split("_")[-1],
        "wall_s": wall,
        "cpu_s": cpu,
        "nmi_before": q["nmi_before"],
        "nmi_after": q["nmi_after"],
        "foreground_dice": q["foreground_dice"],
        "inverse_consistency_mean_mm": q["inverse_consistency_mean_mm"],
        "poor_quality": q["poor_quality"],
        "failed_checks": q["failed_checks"],
        "rigid_params": [round(v, 4) for v in res.rigid.GetParameters()],
    }


def _run_worker(engine: str, seeds: list[int], rigid_only: bool) -> list[dict]:
    cmd = [sys.executable, __file__, "--worker", engine, "--seeds-list", ",".join(map(str, seeds))]
    if rigid_only:
        cmd.append("--rigid-only-pairs")
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        return [{"engine": engine, "error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _summary(rows: list[dict]) -> dict:
    import numpy as np

    ok = [r for r in rows if "tre" in r]
    if not ok:
        return {}

    def agg(region: str, stat: str, fn) -> float:  # noqa: ANN001
        return float(fn([r["tre"][region][stat] for r in ok]))

    return {
        "n": len(ok),
        "brain_mean": agg("brain", "mean", np.mean),
        "brain_p95": agg("brain", "p95", np.mean),
        "brain_max": agg("brain", "max", np.max),
        "near_mean": agg("near", "mean", np.mean),
        "near_p95": agg("near", "p95", np.mean),
        "near_p95_worst": agg("near", "p95", np.max),
        "near_max": agg("near", "max", np.max),
        "wall_mean": float(np.mean([r["wall_s"] for r in ok])),
        "wall_max": float(np.max([r["wall_s"] for r in ok])),
        "cpu_mean": float(np.mean([r["cpu_s"] for r in ok])),
        "peak_mb": float(max(r["peak_rss_mb"] for r in ok)),
        "startup_s": float(ok[0]["startup_s"]),
        "flagged": sum(r["poor_quality"] for r in ok),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=1, help="first seed (tuning used 1, 2, 5; 6-10 are held out)")
    ap.add_argument("--engines", default="rigid,demons,elastix")
    ap.add_argument("--no-tcga", action="store_true")
    ap.add_argument("--tcga-only", action="store_true")
    ap.add_argument("--worker")
    ap.add_argument("--seeds-list")
    ap.add_argument("--rigid-only-pairs", action="store_true")
    args = ap.parse_args()
    if args.worker:
        rows = worker(args.worker, [int(s) for s in args.seeds_list.split(",")], args.rigid_only_pairs)
        print(json.dumps(rows))
        return 0
    if not MNI.exists():
        print(f"missing {MNI}; the benchmark needs ../shared", file=sys.stderr)
        return 1
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    if args.tcga_only:
        args.engines, seeds = "", []
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall times scale with it)")
    failed = []
    results = {}
    for engine in [e for e in args.engines.split(",") if e]:
        results[engine] = _summary(_run_worker(engine, seeds, rigid_only=False))
    rigid_only = _summary(_run_worker("rigid", seeds, rigid_only=True)) if seeds else {}

    hdr = "| engine | pairs | TRE brain mean / p95 | TRE near mean / p95 (worst p95) / max | wall s mean / max | CPU s | start-up s | peak RSS MB | flagged |"
    print("\nMass-effect pairs (10°/15 mm + 3-5 mm mass effect, contrast + bias change):\n")
    print(hdr)
    print("|" + "---|" * 10)
    for engine, s in results.items():
        if not s:
            print(f"| {engine} | failed | | | | | | | |")
            continue
        print(
            f"| {engine} | {s['n']} | {s['brain_mean']:.2f} / {s['brain_p95']:.2f} | {s['near_mean']:.2f} / {s['near_p95']:.2f} "
            f"({s['near_p95_worst']:.2f}) / {s['near_max']:.2f} | {s['wall_mean']:.1f} / {s['wall_max']:.1f} | {s['cpu_mean']:.1f} | "
            f"{s['startup_s']:.1f} | {s['peak_mb']:.0f} | {s['flagged']} |"
        )
    from radnec.fuse.fusion import DEFAULT_ENGINE

    best = results.get(DEFAULT_ENGINE) or {}
    if DEFAULT_ENGINE in results and not best:
        failed.append(f"default engine {DEFAULT_ENGINE} failed")
    if best:
        if best["near_p95_worst"] > TARGET_NEAR_P95_MM:
            failed.append(f"near-lesion TRE p95 {best['near_p95_worst']:.2f} mm > {TARGET_NEAR_P95_MM}")
        if best["brain_mean"] > TARGET_BRAIN_MEAN_MM:
            failed.append(f"brain TRE mean {best['brain_mean']:.2f} mm > {TARGET_BRAIN_MEAN_MM}")
        if best["flagged"]:
            failed.append(f"{best['flagged']} correct {DEFAULT_ENGINE} results flagged poor (false alarms)")
        if best["wall_max"] > TARGET_WALL_S:
            failed.append(f"wall {best['wall_max']:.1f} s > {TARGET_WALL_S} s (load average {os.getloadavg()[0]:.1f})")
    print("\nRigid-only pairs (same misalignment, no mass effect):\n")
    print("| engine | pairs | TRE brain mean / p95 / max (worst) | wall s mean | CPU s |")
    print("|---|---|---|---|---|")
    if rigid_only:
        print(
            f"| rigid | {rigid_only['n']} | {rigid_only['brain_mean']:.2f} / {rigid_only['brain_p95']:.2f} / "
            f"{rigid_only['brain_max']:.2f} | {rigid_only['wall_mean']:.1f} | {rigid_only['cpu_mean']:.1f} |"
        )
        if rigid_only["brain_mean"] > TARGET_RIGID_MEAN_MM:
            failed.append(f"rigid-only TRE mean {rigid_only['brain_mean']:.2f} mm > {TARGET_RIGID_MEAN_MM}")
    if not args.no_tcga and TCGA.exists():
        t = tcga_cross_contrast(REPO / "docs" / "fusion_tcga_t1c_flair.png")
        print("\nCross-contrast TCGA-FG-6692 native T1c (fixed) <- FLAIR (moving), rigid:\n")
        print(
            f"NMI {t['nmi_before']:.3f} -> {t['nmi_after']:.3f} (gain {t['nmi_after'] - t['nmi_before']:+.3f}); head Dice "
            f"{t['foreground_dice']:.3f}; inverse consistency {t['inverse_consistency_mean_mm']:.2f} mm; wall {t['wall_s']:.1f} s; "
            f"poor_quality={t['poor_quality']} {t['failed_checks']}; picture docs/fusion_tcga_t1c_flair.png"
        )
        if t["poor_quality"] or t["nmi_after"] <= t["nmi_before"]:
            failed.append("TCGA T1c/FLAIR rigid registration flagged or no similarity gain")
    print()
    if failed:
        print("TARGETS MISSED: " + "; ".join(failed))
        return 1
    print("all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
