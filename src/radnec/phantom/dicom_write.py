"""DICOM writing for phantom cases with pydicom: MR series, RTSTRUCT, RTPLAN and RTDOSE.

UIDs are deterministic: :func:`make_uid` hashes (seed, scenario, purpose, ...) with
:func:`pydicom.uid.generate_uid`, so the same seed gives the same UIDs. Geometry is written in
DICOM patient coordinates (LPS, mm), axial slices (ImageOrientationPatient 1\\0\\0\\0\\1\\0).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from io import BytesIO

from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.tag import Tag
from pydicom.sequence import Sequence as DSequence
from pydicom.uid import ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID, generate_uid

from radnec import __version__

MR_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
RTSTRUCT_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
RTPLAN_STORAGE = "1.2.840.10008.5.1.4.1.1.481.5"
RTDOSE_STORAGE = "1.2.840.10008.5.1.4.1.1.481.2"
STUDY_COMPONENT_MANAGEMENT = "1.2.840.10008.3.1.2.3.1"
MANUFACTURER = "radnec phantom"

#: Synthetic MR acquisition parameters per sequence (phantom design; typical 3 T values).
SEQUENCES = {
    "T1c": dict(description="T1 MPRAGE POST-GD", scanning="GR\\IR", variant="SP\\MP", tr=2300.0, te=2.3, ti=900.0,
                flip=9.0, contrast="GADOBUTROL 0.1 mmol/kg", window=(750.0, 1500.0)),
    "FLAIR": dict(description="3D FLAIR", scanning="SE\\IR", variant="SK\\SP\\MP", tr=5000.0, te=390.0, ti=1800.0,
                  flip=120.0, contrast=None, window=(500.0, 1000.0)),
}


@dataclass(frozen=True)
class Patient:
    """Synthetic patient identity (no real person)."""

    name: str
    patient_id: str
    birth_date: str = "19600101"
    sex: str = "O"


def make_uid(*parts: object) -> str:
    """Deterministic UID from the given parts (pydicom's root, SHA-512 of the parts)."""
    return generate_uid(entropy_srcs=[str(p) for p in parts])


def _da(d: dt.date) -> str:
    return d.strftime("%Y%m%d")


def _base(sop_class: str, sop_uid: str, patient: Patient, modality: str) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.Modality = modality
    ds.PatientName = patient.name
    ds.PatientID = patient.patient_id
    ds.PatientBirthDate = patient.birth_date
    ds.PatientSex = patient.sex
    ds.Manufacturer = MANUFACTURER
    ds.SoftwareVersions = f"radnec {__version__}"
    ds.DeidentificationMethod = "synthetic phantom, no patient data"
    return ds


def _study(ds: Dataset, *, study_uid: str, study_id: str, date: dt.date, time: str, description: str,
           series_uid: str, series_number: int, series_description: str, for_uid: str) -> None:
    ds.StudyInstanceUID = study_uid
    ds.StudyID = study_id
    ds.StudyDate = _da(date)
    ds.StudyTime = time
    ds.StudyDescription = description
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = series_number
    ds.SeriesDescription = series_description
    ds.SeriesDate = _da(date)
    ds.SeriesTime = time
    ds.FrameOfReferenceUID = for_uid
    ds.PositionReferenceIndicator = ""


def write_mr_series(
    folder: Path,
    image: sitk.Image,
    *,
    sequence: str,
    patient: Patient,
    study_uid: str,
    study_id: str,
    study_description: str,
    series_uid: str,
    series_number: int,
    for_uid: str,
    date: dt.date,
    time: str,
    uid_parts: Sequence[object],
) -> list[tuple[str, float]]:
    """Write an axial uint16 MR volume as one file per slice; return [(SOPInstanceUID, z mm)]."""
    if image.GetPixelID() != sitk.sitkUInt16:
        raise TypeError("MR series must be uint16")
    folder.mkdir(parents=True, exist_ok=True)
    seq = SEQUENCES[sequence]
    arr = sitk.GetArrayViewFromImage(image)
    nz, ny, nx = arr.shape
    sx, sy, sz = image.GetSpacing()
    ox, oy, oz = image.GetOrigin()
    ds = _base(MR_STORAGE, "1.2.3", patient, "MR")
    _study(ds, study_uid=study_uid, study_id=study_id, date=date, time=time, description=study_description,
           series_uid=series_uid, series_number=series_number, series_description=seq["description"], for_uid=for_uid)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
    ds.ContentDate = _da(date); ds.ContentTime = time
    ds.AcquisitionDate = _da(date); ds.AcquisitionTime = time
    ds.ManufacturerModelName = "synthetic 3T"
    ds.BodyPartExamined = "HEAD"
    ds.ScanningSequence = seq["scanning"]
    ds.SequenceVariant = seq["variant"]
    ds.ScanOptions = ""
    ds.MRAcquisitionType = "3D"
    ds.SequenceName = sequence
    ds.SliceThickness = f"{sz:.4g}"
    ds.SpacingBetweenSlices = f"{sz:.4g}"
    ds.RepetitionTime = seq["tr"]; ds.EchoTime = seq["te"]; ds.InversionTime = seq["ti"]
    ds.FlipAngle = seq["flip"]
    ds.NumberOfAverages = 1
    ds.ImagingFrequency = 123.2
    ds.ImagedNucleus = "1H"
    ds.MagneticFieldStrength = 3
    ds.EchoTrainLength = 1
    if seq["contrast"]:
        ds.ContrastBolusAgent = seq["contrast"]
    ds.PatientPosition = "HFS"
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [f"{sy:.6g}", f"{sx:.6g}"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ny
    ds.Columns = nx
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.RescaleType = "US"
    ds.WindowCenter, ds.WindowWidth = seq["window"]
    ds.LossyImageCompression = "00"
    ds.InstanceNumber = 1
    ds.ImagePositionPatient = [f"{ox:.6f}", f"{oy:.6f}", f"{oz:.6f}"]
    ds.SliceLocation = f"{oz:.6f}"
    # Encode the constant part once: a dataset read back from bytes keeps its elements raw, and
    # pydicom writes raw elements without re-validating them (about 5x faster per slice).
    buf = BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    ds = dcmread(BytesIO(buf.getvalue()))
    out = []
    for k in range(nz):
        uid = make_uid(*uid_parts, "slice", k)
        z = oz + k * sz
        ds.SOPInstanceUID = uid
        ds.file_meta.MediaStorageSOPInstanceUID = uid
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [f"{ox:.6f}", f"{oy:.6f}", f"{z:.6f}"]
        ds.SliceLocation = f"{z:.6f}"
        ds.add_new(PIXEL_DATA, "OW", np.ascontiguousarray(arr[k]).tobytes())
        ds.save_as(folder / f"IM{k + 1:04d}.dcm", enforce_file_format=True)
        out.append((uid, z))
    return out


CONTOUR_DATA = Tag(0x3006, 0x0050)
PIXEL_DATA = Tag(0x7FE0, 0x0010)


def _set_raw_ds(ds: Dataset, tag: Tag, values: np.ndarray) -> None:
    """Store a long DS multi-value already encoded (pydicom would build one validated DS object
    per number, which dominates the writing time of large structure sets)."""
    text = "\\".join(f"{v:.4f}" for v in values).encode("ascii")
    if len(text) % 2:
        text += b" "
    ds[tag] = RawDataElement(tag, "DS", len(text), text, 0, False, True)


_ROI_COLOURS = {"GTV": [255, 0, 0], "PTV": [255, 128, 0], "Brain": [0, 128, 255], "Brainstem": [0, 200, 0]}
_ROI_TYPES = {"GTV": "GTV", "PTV": "PTV", "Brain": "ORGAN", "Brainstem": "ORGAN"}


def write_rtstruct(
    path: Path,
    *,
    contours: dict[str, list[np.ndarray]],
    slices: list[tuple[str, float]],
    patient: Patient,
    study: dict,
    series_uid: str,
    sop_uid: str,
    referenced_series_uid: str,
    date: dt.date,
    roi_types: dict[str, str] | None = None,
) -> dict[str, int]:
    """Write an RTSTRUCT referencing the planning T1c slices; return {ROI name: ROI number}.
    ``roi_types`` gives the RT ROI Interpreted Type per ROI name (default: by the name GTV/PTV/organ)."""
    types = roi_types if roi_types is not None else _ROI_TYPES
    ds = _base(RTSTRUCT_STORAGE, sop_uid, patient, "RTSTRUCT")
    _study(ds, series_uid=series_uid, series_number=100, series_description="RTSTRUCT phantom", date=date, **study)
    ds.StructureSetLabel = "PHANTOM"
    ds.StructureSetName = "PHANTOM"
    ds.StructureSetDate = _da(date)
    ds.StructureSetTime = study["time"]
    z_to_uid = {round(z, 3): uid for uid, z in slices}
    img_items = []
    for uid, _z in slices:
        it = Dataset(); it.ReferencedSOPClassUID = MR_STORAGE; it.ReferencedSOPInstanceUID = uid
        img_items.append(it)
    rs = Dataset(); rs.SeriesInstanceUID = referenced_series_uid; rs.ContourImageSequence = DSequence(img_items)
    rst = Dataset(); rst.ReferencedSOPClassUID = STUDY_COMPONENT_MANAGEMENT
    rst.ReferencedSOPInstanceUID = study["study_uid"]; rst.RTReferencedSeriesSequence = DSequence([rs])
    fr = Dataset(); fr.FrameOfReferenceUID = study["for_uid"]; fr.RTReferencedStudySequence = DSequence([rst])
    ds.ReferencedFrameOfReferenceSequence = DSequence([fr])
    roi_seq, contour_seq, obs_seq = [], [], []
    numbers = {}
    for n, (name, polys) in enumerate(contours.items(), start=1):
        numbers[name] = n
        roi = Dataset(); roi.ROINumber = n; roi.ReferencedFrameOfReferenceUID = study["for_uid"]
        roi.ROIName = name; roi.ROIGenerationAlgorithm = "AUTOMATIC"
        roi_seq.append(roi)
        items = []
        for pts in polys:
            c = Dataset()
            ref = Dataset(); ref.ReferencedSOPClassUID = MR_STORAGE
            ref.ReferencedSOPInstanceUID = z_to_uid[round(float(pts[0, 2]), 3)]
            c.ContourImageSequence = DSequence([ref])
            c.ContourGeometricType = "CLOSED_PLANAR"
            c.NumberOfContourPoints = len(pts)
            _set_raw_ds(c, CONTOUR_DATA, pts.ravel())
            items.append(c)
        rc = Dataset(); rc.ReferencedROINumber = n; rc.ROIDisplayColor = _ROI_COLOURS.get(name, _ROI_COLOURS.get(types.get(name, ""), [255, 255, 0]))
        rc.ContourSequence = DSequence(items)
        contour_seq.append(rc)
        ob = Dataset(); ob.ObservationNumber = n; ob.ReferencedROINumber = n
        ob.RTROIInterpretedType = types.get(name, "ORGAN"); ob.ROIInterpreter = ""
        obs_seq.append(ob)
    ds.StructureSetROISequence = DSequence(roi_seq)
    ds.ROIContourSequence = DSequence(contour_seq)
    ds.RTROIObservationsSequence = DSequence(obs_seq)
    ds.ApprovalStatus = "APPROVED"
    ds.save_as(path, enforce_file_format=True)
    return numbers


def write_rtplan(
    path: Path,
    *,
    patient: Patient,
    study: dict,
    series_uid: str,
    sop_uid: str,
    rtstruct_uid: str,
    ptv_roi_number: int,
    prescription_gy: float,
    fractions: int,
    isodose_fraction: float,
    technique: str,
    technique_cfg: dict,
    isocentre_lps: Sequence[float],
    date: dt.date,
    uid_parts: Sequence[object],
    targets: Sequence[tuple[int, str, float]] | None = None,
) -> None:
    """Write an RTPLAN: prescription (DoseReferenceSequence), fractionation (FractionGroupSequence)
    and technique (Gamma Knife: Elekta, no beams; linac: four non-coplanar 6 MV arcs)."""
    ds = _base(RTPLAN_STORAGE, sop_uid, patient, "RTPLAN")
    _study(ds, series_uid=series_uid, series_number=101, series_description="RTPLAN phantom", date=date, **study)
    ds.Manufacturer = technique_cfg["manufacturer"]
    ds.ManufacturerModelName = technique_cfg["model"]
    ds.RTPlanLabel = f"SRS {technique.upper()}"
    ds.RTPlanName = f"SRS {prescription_gy:g}Gy/{fractions}fx"
    ds.RTPlanDate = _da(date)
    ds.RTPlanTime = study["time"]
    ds.RTPlanGeometry = "PATIENT"
    ds.PlanIntent = "CURATIVE"
    ds.ApprovalStatus = "APPROVED"
    pct = 100.0 * isodose_fraction
    ds.PrescriptionDescription = f"{prescription_gy:g} Gy in {fractions} fraction(s) to the {pct:.0f}% isodose"
    ref = Dataset(); ref.ReferencedSOPClassUID = RTSTRUCT_STORAGE; ref.ReferencedSOPInstanceUID = rtstruct_uid
    ds.ReferencedStructureSetSequence = DSequence([ref])
    dr = Dataset()
    dr.DoseReferenceNumber = 1
    dr.DoseReferenceUID = make_uid(*uid_parts, "doseref")
    dr.DoseReferenceStructureType = "VOLUME"
    dr.ReferencedROINumber = ptv_roi_number
    dr.DoseReferenceDescription = f"PTV {pct:.0f}% IDL"
    dr.DoseReferenceType = "TARGET"
    dr.TargetPrescriptionDose = f"{prescription_gy:.4g}"
    dr.DeliveryMaximumDose = f"{prescription_gy / isodose_fraction:.4g}"
    ds.DoseReferenceSequence = DSequence([dr])
    if targets:  # multi-target plan: one VOLUME dose reference per target (ROI number, name, Rx Gy)
        ds.RTPlanName = f"SRS {len(targets)} targets"
        ds.PrescriptionDescription = "; ".join(f"{name}: {rx:g} Gy" for _n, name, rx in targets) + (
            f" in {fractions} fraction(s) to the {pct:.0f}% isodose")
        items = []
        for k, (roi, name, rx) in enumerate(targets, start=1):
            it = Dataset()
            it.DoseReferenceNumber = k
            it.DoseReferenceUID = make_uid(*uid_parts, "doseref", k)
            it.DoseReferenceStructureType = "VOLUME"
            it.ReferencedROINumber = roi
            it.DoseReferenceDescription = f"{name} {pct:.0f}% IDL"
            it.DoseReferenceType = "TARGET"
            it.TargetPrescriptionDose = f"{rx:.4g}"
            it.DeliveryMaximumDose = f"{rx / isodose_fraction:.4g}"
            items.append(it)
        ds.DoseReferenceSequence = DSequence(items)
    setup = Dataset(); setup.PatientPosition = "HFS"; setup.PatientSetupNumber = 1
    ds.PatientSetupSequence = DSequence([setup])
    fg = Dataset()
    fg.FractionGroupNumber = 1
    fg.NumberOfFractionsPlanned = fractions
    fg.NumberOfBrachyApplicationSetups = 0
    rdr = Dataset(); rdr.ReferencedDoseReferenceNumber = 1; rdr.TargetPrescriptionDose = f"{prescription_gy:.4g}"
    fg.ReferencedDoseReferenceSequence = DSequence([rdr])
    if targets:
        refs_t = []
        for k, (_roi, _name, rx) in enumerate(targets, start=1):
            r = Dataset(); r.ReferencedDoseReferenceNumber = k; r.TargetPrescriptionDose = f"{rx:.4g}"
            refs_t.append(r)
        fg.ReferencedDoseReferenceSequence = DSequence(refs_t)
    if technique == "linac":
        arcs = [(181.0, 179.0, 0.0), (181.0, 300.0, 45.0), (60.0, 179.0, 315.0), (181.0, 300.0, 90.0)]
        beams, refs = [], []
        for b, (start, stop, couch) in enumerate(arcs, start=1):
            beam = Dataset()
            beam.BeamNumber = b
            beam.BeamName = f"ARC{b}"
            beam.BeamType = "DYNAMIC"
            beam.RadiationType = "PHOTON"
            beam.TreatmentMachineName = technique_cfg["machine"]
            beam.Manufacturer = technique_cfg["manufacturer"]
            beam.PrimaryDosimeterUnit = "MU"
            beam.SourceAxisDistance = "1000"
            beam.TreatmentDeliveryType = "TREATMENT"
            beam.NumberOfWedges = 0; beam.NumberOfCompensators = 0; beam.NumberOfBoli = 0
            beam.NumberOfBlocks = 0
            beam.FinalCumulativeMetersetWeight = "1"
            beam.NumberOfControlPoints = 2
            cps = []
            for i, gantry in enumerate((start, stop)):
                cp = Dataset()
                cp.ControlPointIndex = i
                cp.CumulativeMetersetWeight = str(i)
                if i == 0:
                    cp.NominalBeamEnergy = "6"
                    cp.GantryAngle = f"{gantry:g}"
                    cp.GantryRotationDirection = "CW"
                    cp.BeamLimitingDeviceAngle = "0"
                    cp.PatientSupportAngle = f"{couch:g}"
                    cp.IsocenterPosition = [f"{v:.2f}" for v in isocentre_lps]
                else:
                    cp.GantryAngle = f"{gantry:g}"
                cps.append(cp)
            beam.ControlPointSequence = DSequence(cps)
            beams.append(beam)
            rb = Dataset(); rb.ReferencedBeamNumber = b
            rb.BeamDose = f"{prescription_gy / fractions / len(arcs):.4f}"
            rb.BeamMeterset = f"{1.5 * 100 * prescription_gy / fractions / len(arcs):.1f}"
            refs.append(rb)
        ds.BeamSequence = DSequence(beams)
        fg.NumberOfBeams = len(beams)
        fg.ReferencedBeamSequence = DSequence(refs)
    else:
        fg.NumberOfBeams = 0
    ds.FractionGroupSequence = DSequence([fg])
    ds.save_as(path, enforce_file_format=True)


def write_rtdose(
    path: Path,
    dose: sitk.Image,
    *,
    patient: Patient,
    study: dict,
    series_uid: str,
    sop_uid: str,
    rtplan_uid: str,
    date: dt.date,
) -> float:
    """Write a multi-frame RTDOSE (uint32, DoseUnits GY, relative GridFrameOffsetVector);
    return the DoseGridScaling (Gy per stored unit)."""
    arr = sitk.GetArrayFromImage(dose).astype(np.float64)
    if not np.allclose(dose.GetDirection(), np.eye(3).ravel()):
        raise ValueError("RTDOSE writer expects an axial grid with identity direction")
    scaling = float(f"{float(arr.max()) / 4.0e9:.9e}") if arr.max() > 0 else 1.0
    stored = np.rint(arr / scaling).astype(np.uint32)
    nz, ny, nx = arr.shape
    sx, sy, sz = dose.GetSpacing()
    ds = _base(RTDOSE_STORAGE, sop_uid, patient, "RTDOSE")
    _study(ds, series_uid=series_uid, series_number=102, series_description="RTDOSE phantom", date=date, **study)
    ds.ContentDate = _da(date); ds.ContentTime = study["time"]
    ds.InstanceNumber = 1
    ds.ImagePositionPatient = [f"{v:.6f}" for v in dose.GetOrigin()]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [f"{sy:.6g}", f"{sx:.6g}"]
    ds.SliceThickness = f"{sz:.6g}"
    ds.NumberOfFrames = nz
    ds.FrameIncrementPointer = 0x3004000C
    ds.GridFrameOffsetVector = [f"{k * sz:.6g}" for k in range(nz)]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ny
    ds.Columns = nx
    ds.BitsAllocated = 32
    ds.BitsStored = 32
    ds.HighBit = 31
    ds.PixelRepresentation = 0
    ds.DoseUnits = "GY"
    ds.DoseType = "PHYSICAL"
    ds.DoseSummationType = "PLAN"
    ds.DoseGridScaling = f"{scaling:.9e}"
    ref = Dataset(); ref.ReferencedSOPClassUID = RTPLAN_STORAGE; ref.ReferencedSOPInstanceUID = rtplan_uid
    ds.ReferencedRTPlanSequence = DSequence([ref])
    ds.PixelData = stored.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return scaling
