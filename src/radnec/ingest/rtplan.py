"""RTPLAN → prescription, fractionation, technique and references.

Prescription (Gy), in order of preference, and :attr:`RTPlan.prescription_source` says which:

1. ``DoseReferenceSequence``: ``TargetPrescriptionDose`` of the TARGET dose references. Volume-
   like references (``DoseReferenceStructureType`` SITE or VOLUME) win over POINT/COORDINATES
   ones (a calculation point is not a prescription); among several, the largest is taken and
   the others are listed in :attr:`RTPlan.notes`.
2. ``FractionGroupSequence``: Σ ``BeamDose`` of the referenced beams × ``NumberOfFractionsPlanned``.
3. Nothing: ``prescription_gy is None`` (Gamma Knife exports often carry no beams and no dose
   reference; that is not an error — the caller must then ask the user).

Technique: ``"gamma-knife"`` when the manufacturer, model or machine name says Elekta
Gamma Knife/Leksell/Perfexion/Icon or the plan has no beams but a GK-like label;
``"linac"`` when there are photon beams (STATIC/DYNAMIC) on a non-GK machine, including
CyberKnife (robotic linac); ``"other"`` for ion/electron-only plans; ``"unknown"`` otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

from radnec.errors import InputError, UnitsError

#: Words that identify a Gamma Knife (manufacturer, model, machine, plan label, software).
GAMMA_KNIFE_PATTERN = re.compile(r"gamma\s*-?\s*knife|leksell|perfexion|\bicon\b|\bGK\b", re.IGNORECASE)
#: A prescription above this (Gy) is refused as implausible for one plan (units error).
MAX_PLAUSIBLE_PRESCRIPTION_GY = 150.0


@dataclass(frozen=True)
class RTPlan:
    """The parts of an RTPLAN radnec uses.

    Attributes
    ----------
    prescription_gy
        Total prescription dose (Gy) or ``None`` when the plan does not state one.
    prescription_source
        ``"DoseReferenceSequence"``, ``"FractionGroupSequence"`` or ``"none"``.
    fractions
        ``NumberOfFractionsPlanned`` (``None`` when absent).
    dose_per_fraction_gy
        ``prescription_gy / fractions`` when both are known.
    technique
        ``"gamma-knife" | "linac" | "other" | "unknown"``.
    prescription_isodose_pct
        Prescription isodose line (%), when the file states it (GK exports sometimes do, in a
        private or description field); else ``None``.
    target_roi_numbers
        ROI numbers referenced by dose references (``ReferencedROINumber``).
    target_prescriptions_gy
        ``TargetPrescriptionDose`` (Gy) of each TARGET dose reference that names its ROI, keyed by
        ``ReferencedROINumber``: the per-target prescriptions of a multi-target plan (e.g. 24 Gy to
        a small metastasis and 18 Gy to a larger one in one single-isocentre plan). Empty when the
        plan's dose references name no ROI.
    """

    prescription_gy: float | None
    prescription_source: str
    fractions: int | None
    dose_per_fraction_gy: float | None
    technique: str
    prescription_isodose_pct: float | None
    target_roi_numbers: list[int]
    referenced_structure_set_uid: str | None
    frame_of_reference_uid: str
    sop_instance_uid: str
    label: str
    path: Path | None = None
    notes: list[str] = field(default_factory=list)
    target_prescriptions_gy: dict[int, float] = field(default_factory=dict)


def read_rtplan(path: str | PathLike[str]) -> RTPlan:
    """Read an RTPLAN (or RT Ion Plan) file.

    Raises
    ------
    InputError
        Not readable, or not an RTPLAN.
    UnitsError
        A stated prescription that is not a positive, plausible number.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    path = Path(path)
    try:
        ds = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, EOFError, ValueError, TypeError) as exc:
        raise InputError(f"cannot read as DICOM ({exc.__class__.__name__}: {exc})", path=path) from exc
    if str(ds.get("Modality", "")) != "RTPLAN":
        raise InputError(f"not an RTPLAN (Modality is {ds.get('Modality', 'missing')!r})", path=path)
    notes: list[str] = []

    fractions = None
    fg_total = None
    fgs = ds.get("FractionGroupSequence", [])
    if len(fgs):
        fg = fgs[0]
        if len(fgs) > 1:
            notes.append(f"{len(fgs)} fraction groups; only the first is used")
        fractions = _number(fg.get("NumberOfFractionsPlanned"), "NumberOfFractionsPlanned", path)
        beam_doses = [_number(b.get("BeamDose"), "BeamDose", path, float) for b in fg.get("ReferencedBeamSequence", [])]
        beam_doses = [d for d in beam_doses if d is not None]
        if beam_doses and fractions:
            fg_total = sum(beam_doses) * fractions

    rx = None
    source = "none"
    targets: list[int] = []
    volume_like: list[float] = []
    point_like: list[float] = []
    per_target: dict[int, float] = {}
    for ref in ds.get("DoseReferenceSequence", []):
        roi_number = _number(ref.get("ReferencedROINumber"), "ReferencedROINumber", path)
        if roi_number is not None:
            targets.append(roi_number)
        if str(ref.get("DoseReferenceType", "")).upper() != "TARGET":
            continue
        value = ref.get("TargetPrescriptionDose")
        if value in (None, ""):
            continue
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise UnitsError(f"TargetPrescriptionDose {value!r} is not a number", path=path) from None
        if not (v > 0 and v <= MAX_PLAUSIBLE_PRESCRIPTION_GY):
            raise UnitsError(f"TargetPrescriptionDose {value!r} Gy is not plausible", path=path)
        kind = str(ref.get("DoseReferenceStructureType", "")).upper()
        (point_like if kind in ("POINT", "COORDINATES") else volume_like).append(v)
        if roi_number is not None and kind not in ("POINT", "COORDINATES"):
            roi = roi_number
            if roi in per_target and per_target[roi] != v:
                notes.append(f"ROI {roi} has two target prescriptions ({per_target[roi]:g} and {v:g} Gy); the larger is used")
            per_target[roi] = max(v, per_target.get(roi, 0.0))
    if volume_like:
        rx, source = max(volume_like), "DoseReferenceSequence"
        others = sorted(set(volume_like + point_like) - {rx})
        if others:
            notes.append(f"other target doses in the plan (Gy): {others}; the largest volume target dose is used")
    elif point_like:
        rx, source = max(point_like), "DoseReferenceSequence"
        notes.append("prescription taken from a point dose reference (no volume target reference)")
    elif fg_total is not None:
        rx, source = fg_total, "FractionGroupSequence"
    if rx is not None and fg_total is not None and abs(fg_total - rx) > 0.01 * rx:
        notes.append(f"beam doses × fractions = {fg_total:.3g} Gy differs from the prescription {rx:.3g} Gy")

    beams = list(ds.get("BeamSequence", [])) + list(ds.get("IonBeamSequence", []))
    technique = _technique(ds, beams)
    isodose = _prescription_isodose(ds)
    ss_uid = None
    if len(ds.get("ReferencedStructureSetSequence", [])):
        ss_uid = str(ds.ReferencedStructureSetSequence[0].get("ReferencedSOPInstanceUID", "")) or None
    return RTPlan(
        prescription_gy=rx,
        prescription_source=source,
        fractions=fractions,
        dose_per_fraction_gy=(rx / fractions) if rx is not None and fractions else None,
        technique=technique,
        prescription_isodose_pct=isodose,
        target_roi_numbers=sorted(set(targets)),
        referenced_structure_set_uid=ss_uid,
        frame_of_reference_uid=str(ds.get("FrameOfReferenceUID", "")),
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        label=str(ds.get("RTPlanLabel", "")),
        path=path,
        notes=notes,
        target_prescriptions_gy=per_target,
    )


def _number(value, keyword: str, path: Path, kind: type = int):
    """An IS/DS value as ``kind`` (``None`` when absent); a malformed one is refused naming the file."""
    if value in (None, ""):
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        what = "an integer" if kind is int else "a number"
        raise InputError(f"{keyword} {str(value)!r} is not {what}", path=path) from None


def _technique(ds, beams) -> str:
    texts = [str(ds.get(k, "")) for k in ("Manufacturer", "ManufacturerModelName", "RTPlanLabel", "RTPlanName", "RTPlanDescription")]
    texts += [str(ds.get("SoftwareVersions", ""))]
    for b in beams:
        texts += [str(b.get(k, "")) for k in ("TreatmentMachineName", "Manufacturer", "ManufacturerModelName", "BeamName")]
    if any(GAMMA_KNIFE_PATTERN.search(t) for t in texts if t):
        return "gamma-knife"
    if not beams:
        return "unknown"
    radiation = {str(b.get("RadiationType", "")).upper() for b in beams}
    if "PHOTON" in radiation:
        return "linac"
    if radiation & {"PROTON", "ION", "ELECTRON", "NEUTRON"}:
        return "other"
    return "unknown"


def _prescription_isodose(ds) -> float | None:
    for key in ("RTPlanDescription", "PrescriptionDescription"):
        text = str(ds.get(key, "") or "")
        m = re.search(r"(\d{2,3}(?:\.\d+)?)\s*%\s*(?:iso|IDL|isodose)", text, re.IGNORECASE)
        if m:
            return float(m.group(1))
    return None


__all__ = ["RTPlan", "read_rtplan"]
