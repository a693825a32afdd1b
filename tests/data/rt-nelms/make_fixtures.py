"""Re-create the rt-* test fixtures from ../shared (run once by hand; tests never run it).

    .venv/bin/python tests/data/rt-nelms/make_fixtures.py /work/shared/data

Every output is written with the Deflated Explicit VR Little Endian transfer syntax (lossless;
pydicom reads it natively) to keep the fixtures small.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pydicom
from pydicom.uid import DeflatedExplicitVRLittleEndian

HERE = Path(__file__).resolve().parent
DATA = HERE.parent


def save(ds, path: Path) -> None:
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.save_as(path, enforce_file_format=True)
    print(path.relative_to(DATA), path.stat().st_size, "bytes")


def keep_rois(ds, names: set[str], z_range: tuple[float, float] | None = None, decimate: dict[str, int] | None = None):
    numbers = {int(r.ROINumber) for r in ds.StructureSetROISequence if r.ROIName in names}
    ds.StructureSetROISequence = [r for r in ds.StructureSetROISequence if int(r.ROINumber) in numbers]
    ds.RTROIObservationsSequence = [o for o in ds.RTROIObservationsSequence if int(o.ReferencedROINumber) in numbers]
    kept = []
    name_of = {int(r.ROINumber): r.ROIName for r in ds.StructureSetROISequence}
    for rc in ds.ROIContourSequence:
        n = int(rc.ReferencedROINumber)
        if n not in numbers:
            continue
        step = (decimate or {}).get(name_of[n], 1)
        cs = []
        for c in rc.get("ContourSequence", []):
            pts = np.array([float(v) for v in c.ContourData]).reshape(-1, 3)
            if z_range is not None and not (z_range[0] <= pts[0, 2] <= z_range[1]):
                continue
            if step > 1 and len(pts) > 8 * step:
                pts = pts[::step]
                c.ContourData = [f"{v:.2f}" for v in pts.ravel()]
                c.NumberOfContourPoints = len(pts)
            cs.append(c)
        rc.ContourSequence = cs
        kept.append(rc)
    ds.ROIContourSequence = kept
    return ds


def nelms(src: Path) -> None:
    out = DATA / "rt-nelms"
    for name in ("Sphere_10_0", "Cylinder_10_0", "Cone_10_0"):
        ds = pydicom.dcmread(src / "STRUCTURES" / f"{name}.dcm")
        save(keep_rois(ds, {name}), out / f"{name}.dcm")
    for grid in ("Linear_AntPost_1mm_Aligned", "Linear_SupInf_1mm_Aligned", "Linear_AntPost_2mm_Aligned", "Linear_SupInf_2mm_Aligned"):
        save(pydicom.dcmread(src / "DOSE GRIDS" / f"{grid}.dcm"), out / f"{grid}.dcm")
    rows = [r for r in csv.DictReader(open(src / "analytical_points.csv")) if r["structure"] in ("Sphere_10_0", "Cylinder_10_0", "Cone_10_0", "Sphere_20_0", "Cylinder_20_0", "Cone_20_0")]
    with open(out / "analytical_points.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def dicompyler(src: Path) -> None:
    out = DATA / "rt-dicompyler"
    keep = {"Scar", "Tumor Bed", "Heart"}
    ss = keep_rois(pydicom.dcmread(src / "rtss.dcm"), keep)
    save(ss, out / "rtss.dcm")
    # crop the dose to the union box of the kept ROIs (+ 2 voxels), keep their embedded DVHs
    ds = pydicom.dcmread(src / "rtdose.dcm")
    arr = ds.pixel_array
    pts = np.vstack([np.array([float(v) for v in c.ContourData]).reshape(-1, 3) for rc in ss.ROIContourSequence for c in rc.ContourSequence])
    ipp = np.array([float(v) for v in ds.ImagePositionPatient])
    ps = [float(v) for v in ds.PixelSpacing]
    off = np.array([float(v) for v in ds.GridFrameOffsetVector])
    i0 = max(0, int(np.floor((pts[:, 0].min() - ipp[0]) / ps[1])) - 2)
    i1 = min(arr.shape[2] - 1, int(np.ceil((pts[:, 0].max() - ipp[0]) / ps[1])) + 2)
    j0 = max(0, int(np.floor((pts[:, 1].min() - ipp[1]) / ps[0])) - 2)
    j1 = min(arr.shape[1] - 1, int(np.ceil((pts[:, 1].max() - ipp[1]) / ps[0])) + 2)
    zs = ipp[2] + off
    k0 = max(0, int(np.searchsorted(zs, pts[:, 2].min())) - 3)
    k1 = min(arr.shape[0] - 1, int(np.searchsorted(zs, pts[:, 2].max())) + 2)
    sub = np.ascontiguousarray(arr[k0 : k1 + 1, j0 : j1 + 1, i0 : i1 + 1])
    ds.ImagePositionPatient = [f"{ipp[0] + i0 * ps[1]:.7g}", f"{ipp[1] + j0 * ps[0]:.7g}", f"{zs[k0]:.7g}"]
    ds.GridFrameOffsetVector = [f"{v:g}" for v in (off[k0 : k1 + 1] - off[k0])]
    ds.NumberOfFrames = sub.shape[0]
    ds.Rows, ds.Columns = sub.shape[1], sub.shape[2]
    ds.PixelData = sub.astype(arr.dtype).tobytes()
    numbers = {int(r.ROINumber) for r in ss.StructureSetROISequence}
    ds.DVHSequence = [d for d in ds.DVHSequence if int(d.DVHReferencedROISequence[0].ReferencedROINumber) in numbers]
    save(ds, out / "rtdose.dcm")
    plan = pydicom.dcmread(src / "rtplan.dcm")
    for b in plan.BeamSequence:  # control points are irrelevant to radnec; keep first and last
        b.ControlPointSequence = [b.ControlPointSequence[0], b.ControlPointSequence[-1]]
        b.NumberOfControlPoints = 2
    save(plan, out / "rtplan.dcm")


def brain(src: Path) -> None:
    out = DATA / "rt-brain-srs"
    ds = pydicom.dcmread(src / "RS.dcm")
    gtvs = {f"GTV_{i}" for i in range(1, 6)}
    z = []
    for r, rc in zip(ds.StructureSetROISequence, ds.ROIContourSequence):
        pass
    name_of = {int(r.ROINumber): r.ROIName for r in ds.StructureSetROISequence}
    for rc in ds.ROIContourSequence:
        if name_of[int(rc.ReferencedROINumber)] in gtvs:
            z += [float(c.ContourData[2]) for c in rc.ContourSequence]
    keep_rois(ds, gtvs | {"BRAIN - PTV"}, z_range=(min(z) - 3, max(z) + 3))
    save(ds, out / "RS.dcm")


if __name__ == "__main__":
    root = Path(sys.argv[1])
    nelms(root / "nelms-dvh-benchmark")
    dicompyler(root / "dicompyler-core")
    brain(root / "brain-srs-structures")
