"""Deep check of a scanned folder: read every recognised object with its reader.

:func:`inspect_tree` = :func:`radnec.ingest.scan.scan` (headers) + one full read per object:
image series through :func:`radnec.ingest.series.load_series`, dynamic (multi-temporal) MR series
as 4-D through :func:`radnec.ingest.dsc.read_dsc` (see :func:`_check_dynamic`), NIfTI/NRRD through
:func:`radnec.ingest.nifti.read_volume`, SEG through :func:`radnec.ingest.seg.read_seg`, and
RTDOSE / RTSTRUCT / RTPLAN / REG through their readers in ``radnec.ingest.rt*`` and
``radnec.ingest.reg``. What each reader reports (grid, maximum
dose, ROIs, prescription, ...) is added to the object's ``details``; every reader error becomes
a :class:`Problem` rather than stopping the inspection, so one broken file does not hide the rest.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from radnec.errors import GeometryError, RadnecError
from radnec.ingest.records import Inventory, ObjectInfo, SeriesInfo
from radnec.ingest.scan import scan

log = logging.getLogger(__name__)

#: Skip reasons that are not errors: files that simply are not medical images.
BENIGN_SKIP_PREFIXES = ("not DICOM", "unsupported SOP class", "duplicate SOP Instance UID", "DICOMDIR")


class Problem(BaseModel):
    """An object that could not be read faithfully."""

    path: str
    error: str
    message: str


class InspectResult(BaseModel):
    """The inventory plus problems found while reading every object."""

    inventory: Inventory
    problems: list[Problem]
    readers: dict[str, bool]


def _orientation_label(direction: tuple[float, ...]) -> str:
    """'axial', 'coronal', 'sagittal' or 'oblique' from the slice normal (third column)."""
    normal = np.asarray(direction, dtype=float).reshape(3, 3)[:, 2]
    axis = int(np.argmax(np.abs(normal)))
    if abs(abs(normal[axis]) - 1.0) > 1e-3:
        return "oblique"
    return ("sagittal", "coronal", "axial")[axis]


def _grid(image: Any) -> dict[str, Any]:
    return {
        "size": list(image.GetSize()),
        "spacing_mm": [round(float(v), 4) for v in image.GetSpacing()],
        "origin_lps_mm": [round(float(v), 3) for v in image.GetOrigin()],
        "orientation": _orientation_label(image.GetDirection()),
    }


def _problem(path: str, exc: RadnecError) -> Problem:
    return Problem(path=exc.path or path, error=type(exc).__name__, message=exc.message)


def _remember_grid(series: SeriesInfo, image: Any, grids: dict[str, Any]) -> None:
    grids[series.series_instance_uid] = (
        np.asarray(image.GetOrigin()),
        np.asarray(image.GetSpacing()),
        np.asarray(image.GetDirection()).reshape(3, 3),
        np.asarray(image.GetSize()),
        series.frame_of_reference_uid,
    )


def _own_folder(series: SeriesInfo, inv: Inventory, *, recursive: bool) -> Path | None:
    """The folder that holds this series and nothing :func:`read_dsc` could mistake for it, else None.

    ``read_dsc`` reads a folder (recursively); it is given one only when every file of the series lies
    directly in it, no other scanned series and no duplicate SOP instance lies under it, and (for a
    non-recursive scan) it has no unscanned sub-folder.
    """
    parents = {Path(f).parent for f in series.files}
    if len(parents) != 1:
        return None
    folder = parents.pop()
    for other in inv.all_series():
        if other is not series and any(Path(f).is_relative_to(folder) for f in other.files):
            return None
    if any(Path(k.path).is_relative_to(folder) and k.reason.startswith("duplicate SOP") for k in inv.skipped):
        return None
    if not recursive and any(p.is_dir() for p in folder.iterdir()):
        return None
    return folder


def _check_dynamic(
    series: SeriesInfo, inv: Inventory, problems: list[Problem], grids: dict[str, Any], *, recursive: bool
) -> None:
    """Read a dynamic MR series as 4-D: with ``read_dsc`` when it can be a DSC series (at least
    ``MIN_FRAMES`` time points, in a folder of its own), else time point by time point with
    ``load_series`` (every 3-D stack checked, all on one grid)."""
    from radnec.ingest.dsc import MIN_FRAMES, MS_PER_S, read_dsc
    from radnec.ingest.series import load_series
    from radnec.ingest.temporal import split_timepoints

    folder = _own_folder(series, inv, recursive=recursive)
    extra: dict[str, Any] = {"dynamic": True}
    try:
        if folder is not None and series.n_timepoints >= MIN_FRAMES:
            dsc = read_dsc(folder)
            reference = dsc.reference
            extra |= {
                "n_timepoints": int(dsc.signal.shape[0]),
                "frame_interval_s": round(dsc.dt_s, 4),
                "echo_time_ms": round(dsc.te_s * MS_PER_S, 3),
                "reader": "radnec.ingest.dsc.read_dsc",
            }
        else:
            frames = split_timepoints(series.files)
            if not frames:  # an unreadable file: load_series names it
                load_series(series)
                return
            counts = [len(files) for files in frames]
            if len(set(counts)) > 1:
                t = next(t for t, c in enumerate(counts) if c != counts[0])
                raise GeometryError(
                    f"dynamic series with {len(frames)} time points: time point {t + 1} has {counts[t]} slices, "
                    f"time point 1 has {counts[0]}; the series is incomplete",
                    path=frames[t][0],
                )
            reference = None
            for t, files in enumerate(frames):
                image = load_series(files).image
                if reference is None:
                    reference = image
                    continue
                if image.GetSize() != reference.GetSize() or not np.allclose(
                    image.GetOrigin(), reference.GetOrigin(), atol=1e-3
                ):
                    raise GeometryError(
                        f"time point {t + 1} of this dynamic series is on a different grid from time point 1",
                        path=files[0],
                    )
            extra |= {"n_timepoints": len(frames), "reader": "radnec.ingest.series.load_series per time point"}
            if series.n_timepoints < MIN_FRAMES:
                extra["note"] = (
                    f"{len(frames)} time points: fewer than the {MIN_FRAMES} a DSC perfusion analysis needs"
                )
            else:
                extra["note"] = "read per time point: the series shares its folder with other files"
    except RadnecError as exc:
        problems.append(_problem(series.files[0], exc))
        return
    assert reference is not None
    _remember_grid(series, reference, grids)
    series.geometry = _grid(reference) | {"slice_spacing_mm": round(float(reference.GetSpacing()[2]), 4)} | extra


def _check_series(series: SeriesInfo, problems: list[Problem], grids: dict[str, Any]) -> None:
    from radnec.ingest.series import load_series

    try:
        loaded = load_series(series)
    except RadnecError as exc:
        problems.append(_problem(series.files[0], exc))
        return
    _remember_grid(series, loaded.image, grids)
    series.geometry = _grid(loaded.image) | {
        "slice_spacing_mm": round(loaded.meta.slice_spacing_mm, 4),
        "enhanced": loaded.meta.enhanced,
        "echo_time_ms": loaded.meta.echo_time_ms,
    }


#: Contour points may lie this many voxels outside the outermost voxel centres of the referenced
#: image before radnec warns (half a voxel = the voxel's own edge, plus rounding).
OUTSIDE_MARGIN_VOXELS = 0.5 + 1e-3


def _outside_points(points: np.ndarray, grid: tuple[np.ndarray, ...]) -> int:
    """Number of LPS points (mm) outside the image extent (in-plane only for single-slice images)."""
    origin, spacing, direction, size = grid[:4]
    idx = ((points - origin) @ direction) / spacing
    lo, hi = -OUTSIDE_MARGIN_VOXELS, size - 1 + OUTSIDE_MARGIN_VOXELS
    out = (idx < lo) | (idx > hi)
    if size[2] <= 1:
        out[:, 2] = False
    return int(np.count_nonzero(out.any(axis=1)))


def _check_rois(obj: ObjectInfo, ss: Any, grids: dict[str, Any], warnings: list[str]) -> None:
    name = Path(obj.path).name
    grid = next((grids[u] for u in obj.referenced_series_uids if u in grids), None)
    for roi in ss.rois:
        if not roi.contours:
            warnings.append(f"RTSTRUCT {name}: ROI {roi.number} '{roi.name}' is empty (no contours)")
            continue
        if grid is None:
            continue
        points = np.concatenate([np.asarray(c.points, dtype=float).reshape(-1, 3) for c in roi.contours])
        n_out = _outside_points(points, grid)
        if n_out:
            warnings.append(
                f"RTSTRUCT {name}: ROI {roi.number} '{roi.name}' has {n_out} of {len(points)} contour points "
                "outside the referenced image series"
            )


def _dose_overlaps(dose_image: Any, grid: tuple[np.ndarray, ...]) -> bool:
    """Whether the dose grid's bounding box meets the image extent (in-plane only for one slice)."""
    origin, spacing, direction, size = grid
    dsize = dose_image.GetSize()
    corners = np.array(
        [
            dose_image.TransformContinuousIndexToPhysicalPoint((i, j, k))
            for i in (-0.5, dsize[0] - 0.5)
            for j in (-0.5, dsize[1] - 0.5)
            for k in (-0.5, dsize[2] - 0.5)
        ]
    )
    idx = ((corners - origin) @ direction) / spacing
    lo, hi = idx.min(axis=0), idx.max(axis=0)
    axes = range(2) if size[2] <= 1 else range(3)
    return all(hi[a] >= -0.5 and lo[a] <= size[a] - 0.5 for a in axes)


def _check_dose_overlap(obj: ObjectInfo, dose_image: Any, grids: dict[str, Any], warnings: list[str]) -> None:
    same_frame = [g for g in grids.values() if obj.frame_of_reference_uid and g[4] == obj.frame_of_reference_uid]
    if same_frame and not any(_dose_overlaps(dose_image, g[:4]) for g in same_frame):
        warnings.append(
            f"RTDOSE {Path(obj.path).name}: the dose grid does not overlap any image series of its frame of "
            "reference (wrong ImagePositionPatient or frame of reference?)"
        )


def _check_object(
    obj: ObjectInfo,
    readers: dict[str, Any],
    problems: list[Problem],
    grids: dict[str, Any] | None = None,
    warnings: list[str] | None = None,
) -> None:
    try:
        if obj.kind == "SEG":
            from radnec.geometry import mask_volume_cc
            from radnec.ingest.seg import read_seg

            segments = read_seg(obj.path)
            obj.details["segments"] = [
                {"number": s.number, "label": s.label, "volume_cc": round(mask_volume_cc(s.mask), 3)}
                for s in segments
            ]
            if segments:
                obj.details["grid"] = _grid(segments[0].mask)
        elif obj.kind == "RTDOSE" and readers.get("rtdose"):
            dose = readers["rtdose"](obj.path)
            if warnings is not None:
                _check_dose_overlap(obj, dose.image, grids or {}, warnings)
            obj.details["max_dose_gy"] = round(float(dose.max_gy), 4)
            obj.details["grid"] = _grid(dose.image)
            if dose.notes:
                obj.details["notes"] = list(dose.notes)
        elif obj.kind == "RTPLAN" and readers.get("rtplan"):
            plan = readers["rtplan"](obj.path)
            for attr in (
                "prescription_gy",
                "prescription_source",
                "fractions",
                "dose_per_fraction_gy",
                "prescription_isodose_pct",
                "technique",
                "label",
            ):
                value = getattr(plan, attr, None)
                if value is not None:
                    obj.details[attr] = value
            if plan.target_prescriptions_gy:  # per-target doses of a multi-target plan, by ROI number
                obj.details["target_prescriptions_gy"] = {str(k): v for k, v in sorted(plan.target_prescriptions_gy.items())}
        elif obj.kind == "RTSTRUCT" and readers.get("rtstruct"):
            ss = readers["rtstruct"](obj.path)
            volume = readers.get("roi_volume_cc")
            rois = []
            for roi in ss.rois:
                entry: dict[str, Any] = {
                    "number": roi.number,
                    "name": roi.name,
                    "type": roi.type,
                    "n_contours": len(roi.contours),
                }
                if volume is not None and roi.contours:
                    try:
                        entry["volume_cc"] = round(float(volume(roi)), 4)
                    except RadnecError as exc:
                        entry["volume_cc"] = None
                        entry["note"] = exc.message
                rois.append(entry)
            obj.details["rois"] = rois
            obj.details["n_rois"] = len(rois)
            if warnings is not None:
                _check_rois(obj, ss, grids or {}, warnings)
        elif obj.kind in ("REG", "DREG") and readers.get("reg"):
            reg = readers["reg"](obj.path)
            obj.details["registration"] = reg.kind
            obj.details["registered_frame_of_reference_uid"] = reg.frame_uid
            obj.details["source_frame_of_reference_uids"] = sorted(reg.frame_uids - {reg.frame_uid})
    except RadnecError as exc:
        problems.append(_problem(obj.path, exc))


def inspect_tree(
    root: str | os.PathLike[str], *, recursive: bool = True, headers_only: bool = False
) -> InspectResult:
    """Scan ``root`` and (unless ``headers_only``) read every object fully.

    Parameters
    ----------
    root
        Folder or single file.
    recursive
        Descend into sub-folders.
    headers_only
        Only the header scan (fast; no pixel data read, no geometry checks).

    Returns
    -------
    InspectResult
        The inventory (objects enriched with what their readers report) and the problems:
        broken files found by the scan (truncated, incomplete headers, unreadable volumes) and
        every reader error.
    """
    inv = scan(root, recursive=recursive)
    single_file = Path(root).is_file()  # a file the user named explicitly must be readable
    problems = [
        Problem(path=s.path, error="InputError", message=s.reason)
        for s in inv.skipped
        if single_file or not s.reason.startswith(BENIGN_SKIP_PREFIXES)
    ]
    from radnec.geometry.contours import roi_volume_cc
    from radnec.ingest.reg import read_registration
    from radnec.ingest.rtdose import read_rtdose
    from radnec.ingest.rtplan import read_rtplan
    from radnec.ingest.rtstruct import read_rtstruct

    readers = {
        "rtdose": read_rtdose,
        "rtstruct": read_rtstruct,
        "roi_volume_cc": roi_volume_cc,
        "rtplan": read_rtplan,
        "reg": read_registration,
    }
    if not headers_only:
        from radnec.ingest.nifti import read_volume

        grids: dict[str, Any] = {}
        for series in inv.all_series():
            if series.kind == "MR" and series.dynamic:
                _check_dynamic(series, inv, problems, grids, recursive=recursive)
            elif series.kind in ("CT", "MR", "PT"):
                _check_series(series, problems, grids)
        for series in inv.all_series():
            for obj in series.objects:
                _check_object(obj, readers, problems, grids, inv.warnings)
        for vol in inv.volumes:
            try:
                read_volume(vol.path)
            except RadnecError as exc:
                problems.append(_problem(vol.path, exc))
    log.info("inspected %s: %d problems", Path(root).name, len(problems))
    return InspectResult(
        inventory=inv, problems=problems, readers={k: v is not None for k, v in readers.items()}
    )


__all__ = ["inspect_tree", "InspectResult", "Problem"]
