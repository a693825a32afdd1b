"""RTSTRUCT → a :class:`StructureSet` of ROIs with their contours (LPS mm).

The reader only reads: it checks the contour data (x, y, z triplets, finite numbers, declared ROI
numbers) and returns :class:`radnec.geometry.contours.ROI` objects. What the contours enclose
(slabs, end-caps, areas, volumes) is the contour model of :mod:`radnec.geometry.contours`; masks
on a grid are :mod:`radnec.geometry.contour_masks`.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np

from radnec.errors import InputError, MissingReferenceError
from radnec.geometry.contours import ROI, Contour


@dataclass(frozen=True)
class StructureSet:
    """An RTSTRUCT: its ROIs and references."""

    rois: list[ROI]
    frame_of_reference_uid: str
    referenced_series_uid: str | None
    sop_instance_uid: str
    path: Path | None = None
    label: str = ""

    def roi(self, name: str) -> ROI:
        """The ROI called ``name`` (case-insensitive, surrounding spaces ignored).

        Raises
        ------
        MissingReferenceError
            No such ROI; the message lists the available names.
        """
        key = name.strip().casefold()
        for r in self.rois:
            if r.name.strip().casefold() == key:
                return r
        raise MissingReferenceError(
            f"no ROI named {name!r}; available: {', '.join(r.name for r in self.rois) or 'none'}", path=self.path
        )

    def by_number(self, number: int) -> ROI:
        """The ROI with ``ROINumber == number``."""
        for r in self.rois:
            if r.number == number:
                return r
        raise MissingReferenceError(f"no ROI number {number}", path=self.path)

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.rois]


def read_rtstruct(path: str | PathLike[str]) -> StructureSet:
    """Read an RTSTRUCT file.

    Raises
    ------
    InputError
        Not readable or not an RTSTRUCT, or contour data malformed (odd number of coordinates,
        non-numeric values, a contour referencing an ROI number that is not declared).
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    path = Path(path)
    try:
        ds = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, EOFError, ValueError, TypeError) as exc:
        raise InputError(f"cannot read as DICOM ({exc.__class__.__name__}: {exc})", path=path) from exc
    if str(ds.get("Modality", "")) != "RTSTRUCT":
        raise InputError(f"not an RTSTRUCT (Modality is {ds.get('Modality', 'missing')!r})", path=path)

    names: dict[int, str] = {}
    for item in ds.get("StructureSetROISequence", []):
        try:
            names[int(item.ROINumber)] = str(item.get("ROIName", ""))
        except (AttributeError, TypeError, ValueError) as exc:
            raise InputError("a StructureSetROISequence item has no valid ROINumber", path=path) from exc
    types: dict[int, str] = {}
    for item in ds.get("RTROIObservationsSequence", []):
        try:
            types[int(item.ReferencedROINumber)] = str(item.get("RTROIInterpretedType", "") or "")
        except (AttributeError, TypeError, ValueError):
            continue
    contours: dict[int, list[Contour]] = {n: [] for n in names}
    colors: dict[int, tuple[int, int, int] | None] = {}
    for item in ds.get("ROIContourSequence", []):
        try:
            number = int(item.ReferencedROINumber)
        except (AttributeError, TypeError, ValueError) as exc:
            raise InputError("an ROIContourSequence item has no ReferencedROINumber", path=path) from exc
        if number not in names:
            raise InputError(f"contours reference ROI number {number}, which the structure set does not declare", path=path)
        col = item.get("ROIDisplayColor")
        try:  # display only: a malformed colour is dropped, not fatal
            colors[number] = tuple(int(c) for c in col) if col is not None and len(col) == 3 else None
        except (TypeError, ValueError):
            colors[number] = None
        for j, c in enumerate(item.get("ContourSequence", [])):
            gtype = str(c.get("ContourGeometricType", "CLOSED_PLANAR")).upper()
            try:
                pts = _contour_values(c)
            except (TypeError, ValueError) as exc:
                raise InputError(f"ROI {names[number]!r} contour {j}: ContourData not numeric", path=path) from exc
            if pts is None:
                raise InputError(f"ROI {names[number]!r} contour {j} has no ContourData", path=path)
            if pts.size % 3 or pts.size == 0 or not np.all(np.isfinite(pts)):
                raise InputError(
                    f"ROI {names[number]!r} contour {j}: ContourData has {pts.size} values (need x,y,z triplets)",
                    path=path,
                )
            contours[number].append(Contour(points=pts.reshape(-1, 3), geometric_type=gtype))

    rois = [
        ROI(number=n, name=names[n], type=types.get(n, ""), color=colors.get(n), contours=contours[n])
        for n in names
    ]
    series_uid = None
    for fr in ds.get("ReferencedFrameOfReferenceSequence", []):
        for st in fr.get("RTReferencedStudySequence", []):
            for se in st.get("RTReferencedSeriesSequence", []):
                series_uid = str(se.get("SeriesInstanceUID", "")) or None
                break
    for_uid = str(ds.get("FrameOfReferenceUID", "") or "")
    if not for_uid and "ReferencedFrameOfReferenceSequence" in ds and len(ds.ReferencedFrameOfReferenceSequence):
        for_uid = str(ds.ReferencedFrameOfReferenceSequence[0].get("FrameOfReferenceUID", ""))
    return StructureSet(
        rois=rois,
        frame_of_reference_uid=for_uid,
        referenced_series_uid=series_uid,
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        path=path,
        label=str(ds.get("StructureSetLabel", "")),
    )


def _contour_values(item) -> np.ndarray | None:
    """ContourData as floats. Parses the raw DS bytes directly when pydicom has not converted them
    yet (≈ 10× faster than building one pydicom DS object per coordinate on large structure sets)."""
    tag = 0x30060050
    if tag not in item:
        return None
    elem = item.get_item(tag)
    value = getattr(elem, "value", None)
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value).replace(b"\x00", b" ").strip()
        if not text:
            return np.zeros(0)
        return np.array([float(v) for v in text.split(b"\\")], dtype=float)
    raw = item.ContourData
    if raw is None:
        return None
    if isinstance(raw, (str, float, int)):
        raw = [raw]
    return np.array([float(v) for v in raw], dtype=float)



__all__ = ["StructureSet", "read_rtstruct"]
