"""Rebuild this fixture from ../shared/data (run from the repository root):

    .venv/bin/python tests/data/ingest-demo/build.py

Everything is cut down to stay small; see PROVENANCE.md for what was changed and why.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2] / ".." / "shared" / "data"
CROP = 16  # in-plane crop of the noise-only dicom2nifti series (rows/columns kept from index 0)


def crop_image(ds: pydicom.Dataset, rows: int, cols: int, r0: int = 0, c0: int = 0) -> None:
    """Crop the pixel data in-plane, moving ImagePositionPatient to the new first pixel."""
    arr = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    arr = arr.reshape((frames, int(ds.Rows), int(ds.Columns)))[:, r0 : r0 + rows, c0 : c0 + cols]
    ds.Rows, ds.Columns = rows, cols
    ds.PixelData = np.ascontiguousarray(arr).astype(arr.dtype).tobytes()
    if (r0 or c0) and "ImagePositionPatient" in ds:
        iop = np.asarray(ds.ImageOrientationPatient, float)
        ps = np.asarray(ds.PixelSpacing, float)
        ipp = np.asarray(ds.ImagePositionPatient, float) + c0 * ps[1] * iop[:3] + r0 * ps[0] * iop[3:]
        ds.ImagePositionPatient = [f"{v:.6f}" for v in ipp]


def downsample_image(ds: pydicom.Dataset, factor: int) -> None:
    """Block-average a single-frame image by ``factor`` keeping its field of view: the pixel
    spacing grows by ``factor`` and the first pixel centre moves by (factor - 1) / 2 old pixels."""
    raw = ds.pixel_array
    arr = raw.astype(np.float64)
    r, c = arr.shape[0] // factor, arr.shape[1] // factor
    small = arr[: r * factor, : c * factor].reshape(r, factor, c, factor).mean(axis=(1, 3))
    iop = np.asarray(ds.ImageOrientationPatient, float)
    ps = np.asarray(ds.PixelSpacing, float)
    shift = (factor - 1) / 2.0
    ipp = np.asarray(ds.ImagePositionPatient, float) + shift * ps[1] * iop[:3] + shift * ps[0] * iop[3:]
    ds.ImagePositionPatient = [f"{v:.4f}" for v in ipp]
    ds.PixelSpacing = [f"{v * factor:.6f}" for v in ps]
    ds.Rows, ds.Columns = r, c
    ds.PixelData = np.round(small).astype(raw.dtype).tobytes()


def main() -> None:
    out = HERE
    # --- dicom2nifti: Siemens classic series + Philips enhanced, with cropped reference NIfTI
    for name, sub in (("siemens", "mr-siemens"), ("philips_enhanced", "mr-philips-enhanced")):
        src = SHARED / "dicom2nifti" / f"{name}_anatomical_001"
        dst = out / sub
        dst.mkdir(exist_ok=True)
        for f in sorted(src.glob("*.dcm")):
            ds = pydicom.dcmread(f)
            crop_image(ds, CROP, CROP)
            ds.remove_private_tags()  # Siemens CSA headers: 65 kB per slice, irrelevant to geometry
            ds.save_as(dst / f.name)
        ref = nib.load(SHARED / "dicom2nifti" / f"{name}_anatomical_001_ground_truth.nii.gz")
        small = ref.slicer[0:CROP, 0:CROP, ...]
        nib.save(nib.Nifti1Image(np.asarray(small.dataobj), small.affine, small.header), out / f"{sub}-reference.nii.gz")
        shutil.copy(SHARED / "dicom2nifti" / "LICENSE", dst / "LICENSE")
    # --- dicompyler-core RT set: plan, structures, dose cropped around its maximum, one CT slice
    rt = out / "rt"
    rt.mkdir(exist_ok=True)
    src = SHARED / "dicompyler-core"
    plan = pydicom.dcmread(src / "rtplan.dcm")
    for beam in plan.BeamSequence:  # keep the first and last control point (MLC detail is 95 % of the file)
        cps = beam.ControlPointSequence
        first, last = cps[0], cps[-1]
        last.ControlPointIndex = 1
        beam.ControlPointSequence = pydicom.Sequence([first, last])
        beam.NumberOfControlPoints = 2
    plan.save_as(rt / "rtplan.dcm")
    ss = pydicom.dcmread(src / "rtss.dcm")
    for roi in ss.ROIContourSequence:  # every 4th contour, every 3rd point
        contours = list(roi.get("ContourSequence", []))
        kept = contours[::4]
        for c in kept:
            pts = np.asarray(c.ContourData, float).reshape(-1, 3)
            if len(pts) > 12:
                pts = pts[::3]
            c.ContourData = [f"{v:.2f}" for v in pts.ravel()]
            c.NumberOfContourPoints = len(pts)
        if "ContourSequence" in roi:
            roi.ContourSequence = pydicom.Sequence(kept)
    ss.save_as(rt / "rtss.dcm")
    dose = pydicom.dcmread(src / "rtdose.dcm")
    arr = dose.pixel_array
    k, j, i = np.unravel_index(int(arr.argmax()), arr.shape)
    f0, r0, c0, nf, n = k - 5, j - 10, i - 10, 10, 20
    sub = np.ascontiguousarray(arr[f0 : f0 + nf, r0 : r0 + n, c0 : c0 + n])
    offsets = np.asarray(dose.GridFrameOffsetVector, float)
    ipp = np.asarray(dose.ImagePositionPatient, float)
    ps = np.asarray(dose.PixelSpacing, float)
    iop = np.asarray(dose.ImageOrientationPatient, float)
    normal = np.cross(iop[:3], iop[3:])
    new_ipp = ipp + c0 * ps[1] * iop[:3] + r0 * ps[0] * iop[3:] + offsets[f0] * normal
    dose.ImagePositionPatient = [f"{v:.4f}" for v in new_ipp]
    dose.GridFrameOffsetVector = [f"{v:g}" for v in offsets[f0 : f0 + nf] - offsets[f0]]
    dose.Rows, dose.Columns, dose.NumberOfFrames = n, n, nf
    dose.PixelData = sub.astype(arr.dtype).tobytes()
    dose.save_as(rt / "rtdose.dcm")
    ct = pydicom.dcmread(src / "ct.0.dcm")
    downsample_image(ct, 8)  # same field of view (so contours stay inside), 64x64 pixels
    ct.save_as(rt / "ct.0.dcm")
    shutil.copy(src / "LICENSE", rt / "LICENSE")
    # --- MR spectroscopy (suspect): Philips MR Spectroscopy Storage + Siemens RDA
    mrs = out / "mrs"
    mrs.mkdir(exist_ok=True)
    for name in ("IM-0001-0002.dcm", "SVS_30.rda"):
        shutil.copy(SHARED / "mrs-suspect" / name, mrs / name)
    shutil.copy(SHARED / "mrs-suspect" / "LICENSE", mrs / "LICENSE")
    # --- DICOM SEG (pydicom test file made with dcmqi)
    seg = out / "seg"
    seg.mkdir(exist_ok=True)
    shutil.copy(SHARED / "pydicom" / "liver_1frame.dcm", seg / "liver_1frame.dcm")
    shutil.copy(SHARED / "pydicom" / "LICENSE", seg / "LICENSE")


if __name__ == "__main__":
    main()
