"""Write small synthetic RT objects (RTDOSE, RTSTRUCT, RTPLAN) for reader tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

RTDOSE_CLASS = "1.2.840.10008.5.1.4.1.1.481.2"
RTSTRUCT_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
RTPLAN_CLASS = "1.2.840.10008.5.1.4.1.1.481.5"
FOR_UID = "1.2.826.0.1.3680043.8.498.1"


def _base(sop_class: str, modality: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.Modality = modality
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = FOR_UID
    ds.PatientID = "SYNTH"
    return ds


def write_rtdose(
    path: Path,
    dose_gy: np.ndarray,
    *,
    origin=(0.0, 0.0, 0.0),
    spacing=(2.0, 2.0, 3.0),
    iop=(1, 0, 0, 0, 1, 0),
    offsets=None,
    units: str = "GY",
    scaling: float | str | None = 1e-4,
    absolute: bool = False,
) -> Path:
    """``dose_gy`` is (frames, rows, cols); ``spacing`` is (col, row, frame) mm."""
    ds = _base(RTDOSE_CLASS, "RTDOSE")
    frames, rows, cols = dose_gy.shape
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, cols, frames
    ds.PixelSpacing = [spacing[1], spacing[0]]
    ds.ImagePositionPatient = list(origin)
    ds.ImageOrientationPatient = list(iop)
    off = np.arange(frames) * spacing[2] if offsets is None else np.asarray(offsets, float)
    if absolute:
        normal = np.cross(np.asarray(iop[:3], float), np.asarray(iop[3:], float))
        off = off + float(np.asarray(origin) @ normal)
    ds.GridFrameOffsetVector = [float(v) for v in off]
    ds.DoseUnits = units
    ds.DoseType = "PHYSICAL"
    ds.DoseSummationType = "PLAN"
    try:
        sc = float(scaling) if scaling is not None else 1e-4
    except ValueError:
        sc = 1e-4
    if not (np.isfinite(sc) and sc > 0):
        sc = 1e-4  # pixel data for deliberately broken scaling values
    if scaling is not None:
        ds.DoseGridScaling = scaling
    ds.BitsAllocated = ds.BitsStored = 32
    ds.HighBit = 31
    ds.PixelRepresentation = 0
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = np.rint(np.asarray(dose_gy) / sc).astype(np.uint32).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def write_rtstruct(path: Path, rois: dict[str, list[np.ndarray]], *, types=None, gtype: str = "CLOSED_PLANAR") -> Path:
    """``rois`` maps names to lists of (n, 3) contours (LPS mm)."""
    ds = _base(RTSTRUCT_CLASS, "RTSTRUCT")
    ds.StructureSetLabel = "SYNTH"
    fr = Dataset()
    fr.FrameOfReferenceUID = FOR_UID
    ds.ReferencedFrameOfReferenceSequence = Sequence([fr])
    ssr, rcs, obs = [], [], []
    for i, (name, contours) in enumerate(rois.items(), start=1):
        r = Dataset()
        r.ROINumber = i
        r.ROIName = name
        r.ReferencedFrameOfReferenceUID = FOR_UID
        ssr.append(r)
        rc = Dataset()
        rc.ReferencedROINumber = i
        rc.ROIDisplayColor = [255, 0, 0]
        cs = []
        for c in contours:
            item = Dataset()
            c = np.asarray(c, float)
            item.ContourGeometricType = gtype if len(c) >= 3 else ("POINT" if len(c) == 1 else "OPEN_PLANAR")
            item.NumberOfContourPoints = len(c)
            item.ContourData = [f"{v:.4f}" for v in c.ravel()]
            cs.append(item)
        rc.ContourSequence = Sequence(cs)
        rcs.append(rc)
        o = Dataset()
        o.ObservationNumber = i
        o.ReferencedROINumber = i
        o.RTROIInterpretedType = (types or {}).get(name, "ORGAN")
        obs.append(o)
    ds.StructureSetROISequence = Sequence(ssr)
    ds.ROIContourSequence = Sequence(rcs)
    ds.RTROIObservationsSequence = Sequence(obs)
    ds.save_as(path, enforce_file_format=True)
    return path


def circle(cx: float, cy: float, z: float, r: float, n: int = 64) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.column_stack([cx + r * np.cos(t), cy + r * np.sin(t), np.full(n, z)])


def square(cx: float, cy: float, z: float, half: float) -> np.ndarray:
    return np.array([[cx - half, cy - half, z], [cx + half, cy - half, z], [cx + half, cy + half, z], [cx - half, cy + half, z]])


def write_rtplan(path: Path, *, rx: float | None = 20.0, fractions: int | None = 1, beams: int = 0, manufacturer: str = "Elekta",
                 model: str = "Leksell Gamma Knife Icon", beam_dose: float | None = None) -> Path:
    ds = _base(RTPLAN_CLASS, "RTPLAN")
    ds.RTPlanLabel = "SYNTH"
    ds.Manufacturer = manufacturer
    ds.ManufacturerModelName = model
    if rx is not None:
        dr = Dataset()
        dr.DoseReferenceNumber = 1
        dr.DoseReferenceStructureType = "VOLUME"
        dr.DoseReferenceType = "TARGET"
        dr.TargetPrescriptionDose = rx
        dr.ReferencedROINumber = 1
        ds.DoseReferenceSequence = Sequence([dr])
    if fractions is not None:
        fg = Dataset()
        fg.FractionGroupNumber = 1
        fg.NumberOfFractionsPlanned = fractions
        refs = []
        for b in range(beams):
            rb = Dataset()
            rb.ReferencedBeamNumber = b + 1
            if beam_dose is not None:
                rb.BeamDose = beam_dose
            refs.append(rb)
        fg.ReferencedBeamSequence = Sequence(refs)
        ds.FractionGroupSequence = Sequence([fg])
    if beams:
        bs = []
        for b in range(beams):
            item = Dataset()
            item.BeamNumber = b + 1
            item.BeamName = f"B{b + 1}"
            item.BeamType = "DYNAMIC"
            item.RadiationType = "PHOTON"
            item.TreatmentMachineName = "LINAC1"
            bs.append(item)
        ds.BeamSequence = Sequence(bs)
    ds.save_as(path, enforce_file_format=True)
    return path


def add_target_prescription(path, *, roi: int, rx: float, kind: str = "VOLUME") -> None:
    """Append a TARGET dose reference (``rx`` Gy to ROI ``roi``) to an RTPLAN file."""
    import pydicom

    ds = pydicom.dcmread(path)
    dr = Dataset()
    dr.DoseReferenceNumber = len(ds.DoseReferenceSequence) + 1
    dr.DoseReferenceStructureType = kind
    dr.DoseReferenceType = "TARGET"
    dr.TargetPrescriptionDose = rx
    dr.ReferencedROINumber = roi
    ds.DoseReferenceSequence.append(dr)
    ds.save_as(path)
