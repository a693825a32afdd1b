"""Ingest acceptance on the full-size shared data, plus scan speed.

Run: .venv/bin/python benchmarks/bench_ingest.py   (exit 1 if a target is missed)

1. dicom2nifti (Siemens classic, Philips enhanced): radnec's series geometry vs the reference NIfTI
   (origin and direction within 1e-3 mm after RAS→LPS and a common axis order; voxel values equal).
2. `radnec inspect ../shared/data/dicompyler-core --json`: 10 ROIs, 14 Gy in 7 fractions, RTDOSE
   maximum 14.68 ± 0.01 Gy, dose/plan/structures belong together.
3. Header scan speed on a generated folder of 600 slices (256x256) in 3 series + junk files.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(2)
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared" / "data"
sys.path.insert(0, str(ROOT / "tests" / "ingest"))


def dicom2nifti_rows() -> list[tuple[str, str, str, bool]]:
    from radnec.ingest.series import load_series

    rows = []
    for name in ("siemens", "philips_enhanced"):
        base = SHARED / "dicom2nifti"
        s = load_series(base / f"{name}_anatomical_001")
        ref = sitk.ReadImage(str(base / f"{name}_anatomical_001_ground_truth.nii.gz"))
        a, b = sitk.DICOMOrient(s.image, "LPS"), sitk.DICOMOrient(ref, "LPS")
        d_origin = float(np.max(np.abs(np.subtract(a.GetOrigin(), b.GetOrigin()))))
        d_dir = float(np.max(np.abs(np.subtract(a.GetDirection(), b.GetDirection()))))
        same_pixels = a.GetSize() == b.GetSize() and np.array_equal(
            sitk.GetArrayFromImage(a), sitk.GetArrayFromImage(b).astype(np.float32)
        )
        ok = d_origin < 1e-3 and d_dir < 1e-3 and same_pixels
        rows.append((f"dicom2nifti {name}", f"origin Δ {d_origin:.2e} mm, direction Δ {d_dir:.1e}, pixels equal {same_pixels}", "< 1e-3 mm", ok))
    return rows


def dicompyler_rows() -> list[tuple[str, str, str, bool]]:
    from radnec import cli

    buf = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(buf):
        code = cli.main(["inspect", str(SHARED / "dicompyler-core"), "--json"])
    dt = time.perf_counter() - t0
    doc = json.loads(buf.getvalue())
    objs = {
        o["kind"]: o
        for p in doc["inventory"]["patients"]
        for st in p["studies"]
        for f in st["frames_of_reference"]
        for s in f["series"]
        for o in s["objects"]
    }
    n_rois = objs["RTSTRUCT"]["details"].get("n_rois")
    plan = objs["RTPLAN"]["details"]
    rx = plan.get("prescription_gy", plan.get("target_prescription_dose_gy"))
    dmax = objs["RTDOSE"]["details"].get("max_dose_gy")
    bundle = doc["inventory"]["rt_bundles"][0]
    return [
        ("dicompyler exit code", str(code), "0", code == 0),
        ("dicompyler ROIs", str(n_rois), "10", n_rois == 10),
        ("dicompyler prescription", f"{rx} Gy in {plan.get('fractions')} fx", "14 Gy in 7 fx", rx == 14.0 and plan.get("fractions") == 7),
        ("dicompyler RTDOSE max", f"{dmax} Gy", "14.68 ± 0.01", dmax is not None and abs(dmax - 14.68) <= 0.01),
        ("dicompyler belong together", str(bundle["consistent"]), "True", bundle["consistent"] is True),
        ("dicompyler inspect time", f"{dt:.1f} s", "info", True),
    ]


def brain_srs_rows() -> list[tuple[str, str, str, bool]]:
    from radnec import cli

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli.main(["inspect", str(SHARED / "brain-srs-structures"), "--json"])
    doc = json.loads(buf.getvalue())
    rois = [
        r
        for p in doc["inventory"]["patients"]
        for st in p["studies"]
        for f in st["frames_of_reference"]
        for s in f["series"]
        for o in s["objects"]
        for r in o["details"].get("rois", [])
    ]
    gtvs = {r["name"]: r.get("volume_cc") for r in rois if r["name"].upper().startswith("GTV")}
    ok = code == 0 and len(gtvs) == 5 and all(v is not None and v > 0 for v in gtvs.values())
    text = ", ".join(f"{k} {v:.3f}" for k, v in sorted(gtvs.items()))
    return [("brain-srs GTV volumes (cm³)", text, "5 GTVs, each > 0", ok)]


def scan_speed_rows() -> list[tuple[str, str, str, bool]]:
    import pydicom
    from ingest_factory import make_slice
    from pydicom.uid import generate_uid

    from radnec.ingest.scan import scan
    from radnec.ingest.series import load_series

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        n_per, n_series = 200, 3
        for s in range(n_series):
            series_uid, study_uid, for_uid = generate_uid(), generate_uid(), generate_uid()
            folder = root / f"series{s}"
            folder.mkdir()
            pix = np.random.default_rng(s).integers(0, 4000, (256, 256)).astype(np.uint16)
            for k in range(n_per):
                ds = make_slice(
                    (0.0, 0.0, 1.5 * k), shape=(256, 256), pixels=pix, series_uid=series_uid,
                    study_uid=study_uid, for_uid=for_uid, instance=k + 1,
                )
                ds.save_as(folder / f"{k:04d}.dcm", enforce_file_format=True)
        for j in range(20):
            (root / f"notes{j}.txt").write_text("not an image")
        size_mb = sum(p.stat().st_size for p in root.rglob("*")) / 1e6
        t0 = time.perf_counter()
        inv = scan(root)
        t_scan = time.perf_counter() - t0
        t0 = time.perf_counter()
        img = load_series(inv.all_series()[0]).image
        t_load = time.perf_counter() - t0
        del pydicom
    n_files = n_per * n_series
    return [
        ("scan 600 slices + 20 junk files", f"{t_scan:.2f} s ({size_mb:.0f} MB, {n_files / t_scan:.0f} files/s)", "< 30 s", t_scan < 30 and len(inv.all_series()) == 3 and len(inv.skipped) == 20),
        ("load_series 200x256x256", f"{t_load:.2f} s, size {img.GetSize()}", "< 30 s", t_load < 30),
    ]


def main() -> int:
    rows = dicom2nifti_rows() + dicompyler_rows() + brain_srs_rows() + scan_speed_rows()
    width = max(len(r[0]) for r in rows)
    mw = max(len(r[1]) for r in rows)
    print(f"{'check':{width}s}  {'measured':{mw}s}  {'target':16s}  ok")
    for name, measured, target, ok in rows:
        print(f"{name:{width}s}  {measured:{mw}s}  {target:16s}  {'yes' if ok else 'NO'}")
    return 0 if all(r[3] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
