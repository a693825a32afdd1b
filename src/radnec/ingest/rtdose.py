"""RTDOSE → a SimpleITK dose image in Gy (LPS mm), plus the planning system's embedded DVHs.

What this reader handles, and how:

* **Scaling**: pixel values × ``DoseGridScaling`` (refused when missing on a GY grid only if the
  data would be implausible; NaN, zero, negative or infinite scaling is refused).
* **Units**: ``DoseUnits`` ``GY`` (used as is), ``CGY`` (non-standard but seen; divided by 100 and
  said so), ``RELATIVE`` (refused unless ``normalisation_gy`` — the dose in Gy of a scaled pixel
  value of 1.0 — is supplied).
* **Frames**: multi-frame grids with ``GridFrameOffsetVector`` either *relative* (first element
  0, offsets along the slice normal from ``ImagePositionPatient``) or *absolute* (first element
  equals the position of the first frame along the normal); both are converted to relative
  offsets. Decreasing offsets are reversed so that the image has a positive slice spacing.
  Non-uniform frame spacing is refused (SimpleITK cannot represent it faithfully).
* **Orientation**: any ``ImageOrientationPatient`` (HFS, FFS, HFP, decubitus, oblique): the
  direction cosines go straight into the image direction matrix, the slice normal is
  ``row × column``. No assumption of HFS anywhere.
* **Embedded DVHs** (``DVHSequence``): converted to Gy and cm³ when the units allow it. Some
  planning systems write percent of prescription under the label ``GY``; the bin axis and the
  min/max/mean values are judged separately (the dicompyler-core example has Gy bins and percent
  summary values). Values exceeding the grid maximum by more than
  :data:`EMBEDDED_DVH_MAX_TOLERANCE` cannot be in Gy: they are converted as percent of
  ``prescription_gy`` when that is given, and otherwise left unconverted and flagged. A curve
  whose top bin disagrees with its own stated maximum is flagged in the DVH's note.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from radnec.errors import GeometryError, InputError, UnitsError

log = logging.getLogger(__name__)

#: Frame offsets are uniform when every step differs from the mean step by less than this (mm).
#: 0.01 mm is far below any dose-grid spacing and above DS-string rounding.
FRAME_SPACING_TOLERANCE_MM = 0.01
#: A dose grid whose maximum exceeds this (Gy) is refused as implausible (scaling/units error).
#: No single radiotherapy plan delivers 500 Gy anywhere; an engineering sanity limit.
MAX_PLAUSIBLE_DOSE_GY = 500.0
#: Relative excess of an embedded DVH's maximum over the grid maximum beyond which the DVH
#: cannot be in Gy (5 %: TPS DVHs are computed on finer structure samplings than the exported
#: grid and can exceed the grid maximum slightly).
EMBEDDED_DVH_MAX_TOLERANCE = 0.05
#: Direction cosines must be unit length and orthogonal within this tolerance.
ORIENTATION_TOLERANCE = 1e-3


@dataclass(frozen=True)
class EmbeddedDVH:
    """One DVH from the RTDOSE ``DVHSequence`` (the planning system's own calculation).

    Attributes
    ----------
    roi_number
        ``ReferencedROINumber`` of the structure (RTSTRUCT).
    kind
        ``"CUMULATIVE"``, ``"DIFFERENTIAL"`` or ``"NATURAL"`` as stored.
    dose_gy
        Upper bin edges in Gy (``None`` when the units could not be resolved).
    volume
        Volume per bin as stored (cm³ when ``volume_units == "CM3"``, % when ``"PERCENT"``).
    volume_units
        ``"CM3"`` or ``"PERCENT"`` (or what the file says).
    dmin_gy, dmax_gy, dmean_gy
        The file's min/max/mean dose converted to Gy (``None`` when absent or unresolved).
    dose_units
        How the bin axis (``DVHData``) was interpreted: ``"GY"``, ``"CGY"``,
        ``"PERCENT_OF_PRESCRIPTION"`` (explicit or detected), or ``"UNRESOLVED"``.
    summary_dose_units
        The same for ``DVHMinimumDose``/``DVHMaximumDose``/``DVHMeanDose``, decided separately: a
        planning system can write the two in different units under one label (Eclipse in the
        dicompyler-core example: bins in Gy, summary values in percent of prescription).
    note
        Human-readable remark on the conversion (empty when nothing special happened).
    """

    roi_number: int
    kind: str
    dose_gy: np.ndarray | None
    volume: np.ndarray
    volume_units: str
    dmin_gy: float | None
    dmax_gy: float | None
    dmean_gy: float | None
    dose_units: str
    summary_dose_units: str = ""
    note: str = ""

    @property
    def total_volume(self) -> float:
        """Total structure volume in :attr:`volume_units` (first bin of a cumulative DVH,
        sum of a differential one)."""
        if self.kind == "CUMULATIVE":
            return float(self.volume[0]) if self.volume.size else 0.0
        return float(self.volume.sum())

    @property
    def first_bin_centre_gy(self) -> float | None:
        """Centre of the first dose bin (Gy), the dose at which :attr:`total_volume` applies.

        Measured on the Eclipse export of the dicompyler-core example, a cumulative value
        ``V[i]`` equals the volume receiving at least the bin *centre* ``(i + ½)·width`` (radnec's
        DVH matches it with median offsets of +2.5 to +8 mGy on seven ROIs, 0.01 Gy bins), so
        structure volume below half a bin is not in ``V[0]``: the BODY's 792 cm³ under 5 mGy.
        Compare ``total_volume`` with ``DVH.v_gy(first_bin_centre_gy)``, not with the structure
        volume, when the structure has dose below it."""
        if self.dose_gy is None or self.dose_gy.size == 0:
            return None
        return float(self.dose_gy[0]) / 2.0

    @property
    def volume_from_mean(self) -> float | None:
        """The structure volume implied by the file itself: the cumulative curve's dose integral
        (each step ``V[i] − V[i+1]`` lies between two bin centres, at the upper edge of bin ``i``)
        divided by ``DVHMeanDose``, which the planning system computes over the whole structure.

        It equals :attr:`total_volume` when no volume lies below :attr:`first_bin_centre_gy`. In
        the dicompyler-core example it is within 0.1 % of ``V[0]`` for eight ROIs and gives the
        BODY 14 741 cm³ where ``V[0]`` is 13 944 cm³. ``None`` for non-cumulative DVHs or without
        a mean."""
        if self.kind != "CUMULATIVE" or self.dose_gy is None or not self.dmean_gy or self.volume.size == 0:
            return None
        steps = self.volume - np.append(self.volume[1:], 0.0)
        return float(np.dot(steps, self.dose_gy)) / self.dmean_gy


@dataclass(frozen=True)
class RTDose:
    """A dose grid read from an RTDOSE file.

    Attributes
    ----------
    image
        ``sitkFloat32`` dose in Gy on the RTDOSE grid (LPS mm).
    frame_of_reference_uid, summation_type, referenced_plan_uid, sop_instance_uid
        Identifiers from the file (``DoseSummationType`` e.g. ``"PLAN"``, ``"FRACTION"``, ``"BEAM"``).
    dose_type
        ``DoseType`` (``"PHYSICAL"``, ``"EFFECTIVE"``, ``"ERROR"``).
    embedded_dvhs
        The planning system's DVHs keyed by referenced ROI number.
    path
        The file read.
    notes
        Conversions and oddities worth telling the user (units, offsets, DVH units).
    """

    image: sitk.Image
    frame_of_reference_uid: str
    summation_type: str
    referenced_plan_uid: str | None
    sop_instance_uid: str
    dose_type: str
    embedded_dvhs: dict[int, EmbeddedDVH]
    path: Path
    notes: list[str] = field(default_factory=list)

    @property
    def max_gy(self) -> float:
        """Maximum dose of the grid (Gy)."""
        return float(sitk.GetArrayViewFromImage(self.image).max())


def read_rtdose(
    path: str | PathLike[str],
    *,
    normalisation_gy: float | None = None,
    prescription_gy: float | None = None,
) -> RTDose:
    """Read an RTDOSE file into a dose image in Gy.

    Parameters
    ----------
    path
        The RTDOSE file.
    normalisation_gy
        Only for ``DoseUnits = RELATIVE``: the dose (Gy) that a scaled pixel value of 1.0
        represents. Without it a relative grid is refused.
    prescription_gy
        Prescription dose (Gy), used only to convert embedded DVHs whose dose axis is in percent
        of the prescription (explicitly, or detected as such; see module docstring).

    Returns
    -------
    RTDose

    Raises
    ------
    InputError
        Not readable, not an RTDOSE, no pixel data.
    UnitsError
        Units not understood, relative dose without normalisation, bad scaling.
    GeometryError
        Missing/invalid position or orientation, non-uniform frame offsets.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    path = Path(path)
    try:
        ds = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, EOFError, ValueError, TypeError) as exc:
        raise InputError(f"cannot read as DICOM ({exc.__class__.__name__}: {exc})", path=path) from exc
    modality = str(ds.get("Modality", ""))
    if modality != "RTDOSE":
        raise InputError(f"not an RTDOSE (Modality is {modality or 'missing'!r})", path=path)
    if "PixelData" not in ds:
        raise InputError("the RTDOSE has no pixel data (a DVH-only RTDOSE cannot give a dose grid)", path=path)
    notes: list[str] = []

    scale = _dose_scale(ds, path, normalisation_gy, notes)
    try:
        pixels = np.asarray(ds.pixel_array, dtype=np.float64)
    except Exception as exc:  # pydicom raises several types for truncated/odd pixel data
        raise InputError(f"cannot decode the dose pixel data ({exc.__class__.__name__}: {exc})", path=path) from exc
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if pixels.ndim == 2:
        pixels = pixels[np.newaxis]
    if pixels.shape[0] != frames:
        raise InputError(f"NumberOfFrames is {frames} but the pixel data holds {pixels.shape[0]} frames", path=path)
    dose = pixels * scale
    if not np.all(np.isfinite(dose)):
        raise UnitsError("the scaled dose contains NaN or infinite values", path=path)
    dmax = float(dose.max()) if dose.size else 0.0
    if dmax > MAX_PLAUSIBLE_DOSE_GY:
        raise UnitsError(
            f"maximum dose {dmax:.4g} Gy is implausible (> {MAX_PLAUSIBLE_DOSE_GY:g} Gy); check DoseGridScaling "
            f"({ds.get('DoseGridScaling')}) and DoseUnits ({ds.get('DoseUnits')})",
            path=path,
        )
    if dose.min() < 0:
        notes.append(f"negative dose values (min {dose.min():.4g} Gy) kept as they are")

    origin, row, col, normal, spacing_xy = _plane_geometry(ds, path)
    offsets = _frame_offsets(ds, frames, origin, normal, path, notes)
    if frames > 1:
        steps = np.diff(offsets)
        mean_step = float(steps.mean())
        if abs(mean_step) < FRAME_SPACING_TOLERANCE_MM:
            raise GeometryError("GridFrameOffsetVector has zero spacing (duplicate frames)", path=path)
        if np.max(np.abs(steps - mean_step)) > FRAME_SPACING_TOLERANCE_MM:
            raise GeometryError(
                f"GridFrameOffsetVector is not uniformly spaced (steps {np.unique(np.round(steps, 3))[:6]} mm); "
                "radnec refuses non-uniform dose grids rather than misplace dose",
                path=path,
            )
        if mean_step < 0:
            dose = dose[::-1]
            offsets = offsets[::-1]
            mean_step = -mean_step
            notes.append("frame offsets decrease; frames were reversed to give a positive slice spacing")
        slice_spacing = mean_step
    else:
        slice_spacing = float(ds.get("SliceThickness") or 1.0)
    first = origin + offsets[0] * normal

    image = sitk.GetImageFromArray(dose.astype(np.float32))
    image.SetOrigin(tuple(float(v) for v in first))
    image.SetSpacing((spacing_xy[1], spacing_xy[0], float(slice_spacing)))
    image.SetDirection(tuple(float(v) for v in np.column_stack([row, col, normal]).ravel()))

    embedded = _embedded_dvhs(ds, dmax, prescription_gy, path, notes)
    for n in notes:
        log.info("%s: %s", path.name, n)
    ref_plan = None
    if "ReferencedRTPlanSequence" in ds and len(ds.ReferencedRTPlanSequence):
        ref_plan = str(ds.ReferencedRTPlanSequence[0].get("ReferencedSOPInstanceUID", "")) or None
    return RTDose(
        image=image,
        frame_of_reference_uid=str(ds.get("FrameOfReferenceUID", "")),
        summation_type=str(ds.get("DoseSummationType", "")),
        referenced_plan_uid=ref_plan,
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        dose_type=str(ds.get("DoseType", "")),
        embedded_dvhs=embedded,
        path=path,
        notes=notes,
    )


def _dose_scale(ds, path: Path, normalisation_gy: float | None, notes: list[str]) -> float:
    units = str(ds.get("DoseUnits", "")).upper()
    raw = ds.get("DoseGridScaling")
    if raw is None or str(raw).strip() == "":
        raise UnitsError("DoseGridScaling is missing; the dose values cannot be converted to Gy", path=path)
    try:
        scale = float(raw)
    except (TypeError, ValueError) as exc:
        raise UnitsError(f"DoseGridScaling {raw!r} is not a number", path=path) from exc
    if not np.isfinite(scale) or scale <= 0:
        raise UnitsError(f"DoseGridScaling {raw!r} is not a positive finite number", path=path)
    if units == "GY":
        return scale
    if units == "CGY":
        notes.append("DoseUnits CGY (non-standard) converted to Gy (÷100)")
        return scale / 100.0
    if units == "RELATIVE":
        if normalisation_gy is None:
            raise UnitsError(
                "DoseUnits is RELATIVE; radnec will not guess the absolute dose. Supply the dose (Gy) that a "
                "relative value of 1.0 represents (read_rtdose(..., normalisation_gy=...))",
                path=path,
            )
        if not np.isfinite(normalisation_gy) or normalisation_gy <= 0:
            raise UnitsError(f"normalisation_gy must be a positive number, got {normalisation_gy!r}", path=path)
        notes.append(f"relative dose scaled by the supplied normalisation {normalisation_gy:g} Gy")
        return scale * float(normalisation_gy)
    raise UnitsError(f"DoseUnits {units or 'missing'!r} not understood (expected GY or RELATIVE)", path=path)


def _plane_geometry(ds, path: Path):
    try:
        ipp = np.array([float(v) for v in ds.ImagePositionPatient], dtype=float)
        iop = np.array([float(v) for v in ds.ImageOrientationPatient], dtype=float)
        ps = [float(v) for v in ds.PixelSpacing]
    except (AttributeError, TypeError, ValueError) as exc:
        raise GeometryError(
            "ImagePositionPatient, ImageOrientationPatient or PixelSpacing missing or not numeric", path=path
        ) from exc
    if ipp.size != 3 or iop.size != 6 or len(ps) != 2 or not np.all(np.isfinite(np.r_[ipp, iop, ps])):
        raise GeometryError("malformed ImagePositionPatient/ImageOrientationPatient/PixelSpacing", path=path)
    if min(ps) <= 0:
        raise GeometryError(f"PixelSpacing {ps} must be positive", path=path)
    row, col = iop[:3], iop[3:]
    if (
        abs(np.linalg.norm(row) - 1) > ORIENTATION_TOLERANCE
        or abs(np.linalg.norm(col) - 1) > ORIENTATION_TOLERANCE
        or abs(row @ col) > ORIENTATION_TOLERANCE
    ):
        raise GeometryError(f"ImageOrientationPatient {iop.tolist()} is not two orthonormal vectors", path=path)
    row = row / np.linalg.norm(row)
    col = col - (col @ row) * row
    col = col / np.linalg.norm(col)
    normal = np.cross(row, col)
    return ipp, row, col, normal, ps


def _frame_offsets(ds, frames: int, origin, normal, path: Path, notes: list[str]) -> np.ndarray:
    gfov = ds.get("GridFrameOffsetVector")
    if gfov is None or str(gfov).strip() == "":
        if frames > 1:
            raise GeometryError("multi-frame RTDOSE without GridFrameOffsetVector", path=path)
        return np.zeros(1)
    values = list(gfov) if isinstance(gfov, (list, tuple)) or hasattr(gfov, "__len__") and not isinstance(gfov, str) else [gfov]
    try:
        off = np.array([float(v) for v in values], dtype=float)
    except (TypeError, ValueError) as exc:
        raise GeometryError("GridFrameOffsetVector is not numeric", path=path) from exc
    if off.size != frames:
        raise GeometryError(f"GridFrameOffsetVector has {off.size} values for {frames} frames", path=path)
    if not np.all(np.isfinite(off)):
        raise GeometryError("GridFrameOffsetVector contains NaN/inf", path=path)
    if abs(off[0]) > FRAME_SPACING_TOLERANCE_MM:
        # Type (b) in PS3.3 C.8.8.3.2: absolute positions; the first equals the first frame's
        # coordinate along the normal. Convert to offsets relative to the first frame.
        expected = float(origin @ normal)
        if abs(off[0] - expected) > max(FRAME_SPACING_TOLERANCE_MM, 1e-3 * abs(expected)) and abs(
            off[0] - origin[2]
        ) > FRAME_SPACING_TOLERANCE_MM:
            raise GeometryError(
                f"GridFrameOffsetVector starts at {off[0]:g} mm, neither 0 (relative) nor the first frame's "
                f"position {expected:g} mm (absolute); cannot place the frames",
                path=path,
            )
        notes.append("GridFrameOffsetVector is absolute (type b); converted to relative offsets")
        off = off - off[0]
    return off


#: The summary values of an embedded DVH item.
_DVH_STATS = ("DVHMinimumDose", "DVHMaximumDose", "DVHMeanDose")
#: Factor from a labelled absolute ``DoseUnits`` to Gy.
_LABEL_TO_GY = {"GY": 1.0, "CGY": 0.01}


def _unit_factor(units: str, in_percent: bool, prescription_gy: float | None) -> tuple[float | None, str]:
    """Factor to Gy and the interpretation of one dose axis of an embedded DVH."""
    if units in _LABEL_TO_GY and not in_percent:
        return _LABEL_TO_GY[units], units
    if units in ("RELATIVE", "PERCENT") or in_percent:
        return (prescription_gy / 100.0, "PERCENT_OF_PRESCRIPTION") if prescription_gy else (None, "UNRESOLVED")
    return None, "UNRESOLVED"


def _top_edge(widths: np.ndarray, vols: np.ndarray, scale: float) -> float:
    """Upper edge of the highest bin holding volume (the DVH's own maximum on its axis)."""
    nz = np.flatnonzero(vols > 0)
    return float(np.cumsum(widths)[nz[-1]] * scale) if nz.size else 0.0


def _embedded_dvhs(ds, grid_max_gy: float, prescription_gy: float | None, path: Path, notes: list[str]):
    """Read the ``DVHSequence``. The bin axis (``DVHData``) and the summary values
    (``DVHMinimumDose``/``DVHMaximumDose``/``DVHMeanDose``) are checked against the grid maximum
    separately: the Eclipse export of the dicompyler-core example has its bins in Gy (0.01 Gy wide,
    top edge 14.70 Gy against a 14.68 Gy grid) but its summary values in percent of the 14 Gy
    prescription (maximum 104.86), both labelled ``GY``."""
    out: dict[int, EmbeddedDVH] = {}
    if "DVHSequence" not in ds:
        return out
    seq = ds.DVHSequence
    limit = grid_max_gy * (1 + EMBEDDED_DVH_MAX_TOLERANCE)
    parsed = []
    for item in seq:
        try:
            refs = item.DVHReferencedROISequence
            roi_number = int(refs[0].ReferencedROINumber)
            data = np.array([float(v) for v in item.DVHData], dtype=float)
        except (AttributeError, IndexError, TypeError, ValueError):
            notes.append("an embedded DVH without ROI reference or data was skipped")
            continue
        try:
            dscale = float(item.get("DVHDoseScaling", 1.0) or 1.0)
            stats = {k: None if item.get(k) in (None, "") else float(item.get(k)) for k in _DVH_STATS}
        except (TypeError, ValueError):
            notes.append(f"the embedded DVH of ROI {roi_number} has a non-numeric scaling or min/max/mean; skipped")
            continue
        parsed.append((item, roi_number, data[0::2], data[1::2], dscale, stats))
    if not parsed:
        return out
    # the highest DVH on each axis, in Gy as labelled; a labelled-absolute value above the grid
    # maximum (beyond the tolerance, and one bin for the axis) cannot be in Gy
    def label(it) -> float | None:
        return _LABEL_TO_GY.get(str(it.get("DoseUnits", "")).upper())

    absolute = [(label(it), w, v, sc, st) for it, _, w, v, sc, st in parsed if label(it) is not None]
    axis_top = max((_top_edge(w, v, sc) * f for f, w, v, sc, _ in absolute), default=0.0)
    widest = max((float(w.max()) * sc * f for f, w, _, sc, _ in absolute if w.size), default=0.0)
    maxima = [st["DVHMaximumDose"] * f for f, *_, st in absolute if st["DVHMaximumDose"] is not None]
    axis_pct = axis_top > limit + widest
    stats_pct = bool(maxima) and max(maxima) > limit
    for what, flag, top in (("bins", axis_pct, axis_top), ("min/max/mean", stats_pct, max(maxima, default=0.0))):
        if flag:
            notes.append(
                f"embedded DVH {what} reach {top:.4g} while the grid maximum is {grid_max_gy:.4g} Gy: they cannot "
                "be Gy; read as percent of prescription"
                + ("" if prescription_gy else " (left unconverted: no prescription supplied)")
            )
    for item, roi_number, widths, vols, dscale, stats in parsed:
        units = str(item.get("DoseUnits", "")).upper()
        f_axis, axis_units = _unit_factor(units, axis_pct, prescription_gy)
        f_stats, stats_units = _unit_factor(units, stats_pct, prescription_gy)
        notes_i = []
        if units not in ("GY", "CGY", "RELATIVE", "PERCENT"):
            notes_i.append(f"dose units {units!r} not understood")
        elif units in _LABEL_TO_GY and (axis_pct or stats_pct):
            parts = [n for n, f in (("bins", axis_pct), ("min/max/mean", stats_pct)) if f]
            notes_i.append(f"labelled {units} but {' and '.join(parts)} exceed the grid maximum: percent of prescription")
        if "UNRESOLVED" in (axis_units, stats_units) and units in ("GY", "CGY", "RELATIVE", "PERCENT"):
            notes_i.append("no prescription given: percent values left unconverted")

        def conv(key: str, f: float | None = f_stats, st=stats) -> float | None:
            return None if st[key] is None or f is None else st[key] * f

        edges = np.cumsum(widths) * dscale
        top, dmax = _top_edge(widths, vols, dscale), stats["DVHMaximumDose"]
        # the curve's top bin must hold the stated maximum: a check on both unit decisions
        checkable = f_axis is not None and f_stats is not None and dmax is not None and widths.size
        if checkable and abs(top * f_axis - dmax * f_stats) > float(widths.max()) * dscale * f_axis + 0.05 * top * f_axis:
            notes_i.append(
                f"curve ends at {top * f_axis:.4g} Gy but DVHMaximumDose says {dmax * f_stats:.4g} Gy: units doubtful"
            )
        out[roi_number] = EmbeddedDVH(
            roi_number=roi_number,
            kind=str(item.get("DVHType", "")).upper(),
            dose_gy=None if f_axis is None else edges * f_axis,
            volume=vols,
            volume_units=str(item.get("DVHVolumeUnits", "")).upper(),
            dmin_gy=conv("DVHMinimumDose"),
            dmax_gy=conv("DVHMaximumDose"),
            dmean_gy=conv("DVHMeanDose"),
            dose_units=axis_units,
            summary_dose_units=stats_units,
            note="; ".join(notes_i),
        )
    return out


__all__ = ["RTDose", "EmbeddedDVH", "read_rtdose"]
