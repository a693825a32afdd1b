"""DICOM image series (CT, MR, PET; classic single-frame or enhanced multi-frame) →
:class:`SimpleITK.Image` in LPS millimetres.

How a stack is built, and what is refused
-----------------------------------------
* Every slice (a file, or a frame of an enhanced multi-frame object) must carry
  ImagePositionPatient, ImageOrientationPatient and PixelSpacing (from the per-frame or shared
  functional groups for enhanced objects). Missing → :class:`~radnec.errors.GeometryError`.
* All slices must share one frame of reference (else
  :class:`~radnec.errors.FrameOfReferenceError`), one orientation (direction cosines equal
  within :data:`ORIENTATION_TOLERANCE`; else "mixed orientations"), one matrix size and one
  pixel spacing.
* Slices are sorted by their position along the slice normal ``n = row × column``; the image
  axes are (row direction, column direction, n), so the direction matrix is right-handed and
  carries oblique orientations exactly.
* Duplicate positions (two slices closer than the tolerance along ``n``) are refused: a series
  with several echoes, time points or b-values must be split first.
* Spacing must be uniform: every slice must lie within :func:`spacing_tolerance_mm` of the ideal
  uniform grid fitted through the first and last slice (deviation from the grid, not gap
  differences, so small errors cannot accumulate). The tolerance is ``max(0.01 mm, 1 % of the
  slice spacing)``: above the rounding of the 16-character decimal strings DICOM uses for
  positions and of float32 exporters (≈1e-5 mm at 100 mm), far below any voxel size, so a
  missing slice (100 % deviation) or a variable-thickness stack is always caught.
* Gantry tilt / sheared stacks: slice origins that do not move along ``n`` (in-plane offset
  larger than the tolerance) are refused with the tilt angle. A sheared volume cannot be
  represented by an origin/spacing/direction grid, and resampling it would interpolate the
  clinical data; radnec leaves that to the user's scanner or converter, explicitly.
* Rescale slope/intercept (per slice, or per frame from PixelValueTransformationSequence) are
  applied; the result is float32 (Hounsfield units for CT, scanner units for MR, the
  modality's units for PET — SUV conversion is a separate step).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from radnec.errors import FrameOfReferenceError, GeometryError, InputError, RadnecError
from radnec.ingest.slices import SPLIT_KEYS, Slice, classic_slice, enhanced_slices, mr_timing, split_keys
from radnec.ingest.sopclass import classify
from radnec.ingest.values import dicom_date, text_or_none

#: Direction cosines of two slices are the same orientation when they differ by less than this
#: (dimensionless, ≈0.006°; scanners write 6+ decimals). Matches radnec.geometry.
ORIENTATION_TOLERANCE = 1e-4
#: Absolute floor (mm) of the slice-position tolerance.
POSITION_TOLERANCE_FLOOR_MM = 0.01
#: Relative slice-position tolerance (fraction of the slice spacing).
POSITION_TOLERANCE_FRACTION = 0.01
#: Tolerance (mm) when comparing the pixel spacing of slices.
PIXEL_SPACING_TOLERANCE_MM = 1e-3


def spacing_tolerance_mm(spacing_mm: float) -> float:
    """The slice-position tolerance (mm) for a stack with slice spacing ``spacing_mm``:
    ``max(0.01 mm, 1 % of the spacing)``."""
    return max(POSITION_TOLERANCE_FLOOR_MM, POSITION_TOLERANCE_FRACTION * abs(spacing_mm))


@dataclass(frozen=True)
class SeriesMetadata:
    """What radnec keeps of a series besides the pixels (no patient identifiers).

    Times are in ms, dates ``YYYY-MM-DD``, spacing in mm.
    """

    modality: str
    sop_class_uid: str
    series_instance_uid: str | None
    study_instance_uid: str | None
    frame_of_reference_uid: str | None
    series_description: str | None
    acquisition_date: str | None
    echo_time_ms: float | None
    inversion_time_ms: float | None
    repetition_time_ms: float | None
    n_slices: int
    slice_spacing_mm: float
    enhanced: bool
    files: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ImageSeries:
    """A series as a 3-D image (LPS mm, float32) and its metadata."""

    image: sitk.Image
    meta: SeriesMetadata


def split_series(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | Any,
    *,
    by: str | None = None,
) -> dict[str, list[str]]:
    """Split the files of a series that mixes several echoes, time points or acquisitions.

    Parameters
    ----------
    source
        As for :func:`load_series` (folder, list of files or ``SeriesInfo``).
    by
        The attribute to split on (one of :data:`SPLIT_KEYS`). Default: the first of
        :data:`SPLIT_KEYS` that takes more than one value and leaves no two images at the same
        position within a group.

    Returns
    -------
    dict[str, list[str]]
        Value of the attribute → files, in increasing value order (numerically when possible).
        Each group can be passed to :func:`load_series`.

    Raises
    ------
    GeometryError
        No attribute separates the images.
    """
    import pydicom

    files = _files_of(source)
    headers: list[tuple[str, dict[str, str], tuple[float, ...] | None]] = []
    for f in files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(f, stop_before_pixels=True)
        except Exception as exc:  # noqa: BLE001
            raise InputError(f"not a readable DICOM file ({type(exc).__name__})", path=f) from exc
        ipp = ds.get("ImagePositionPatient")
        pos = tuple(round(float(v), 2) for v in ipp) if ipp is not None else None
        headers.append((f, split_keys(ds), pos))
    candidates = [by] if by is not None else list(SPLIT_KEYS)
    for key in candidates:
        values = {h[1].get(key, "") for h in headers}
        if len(values) < 2 and by is None:
            continue
        groups: dict[str, list[str]] = {}
        positions: dict[str, set[tuple[float, ...] | None]] = {}
        clash = False
        for f, keys, pos in headers:
            value = keys.get(key, "")
            if pos in positions.setdefault(value, set()):
                clash = True
            positions[value].add(pos)
            groups.setdefault(value, []).append(f)
        if clash and by is None:
            continue

        def order(v: str) -> tuple[int, float, str]:
            try:
                return (0, float(v), v)
            except ValueError:
                return (1, 0.0, v)

        return {k: groups[k] for k in sorted(groups, key=order)}
    raise GeometryError(
        f"no attribute among {', '.join(SPLIT_KEYS)} separates the images at the same positions",
        path=str(Path(files[0]).parent),
    )


def _files_of(source: Any) -> list[str]:
    """Normalise the accepted inputs into a list of file paths."""
    if hasattr(source, "files") and hasattr(source, "series_instance_uid"):  # records.SeriesInfo
        return list(source.files)
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if p.is_dir():
            return sorted(str(f) for f in p.iterdir() if f.is_file())
        if p.is_file():
            return [str(p)]
        raise InputError("no such file or folder", path=p)
    files = [str(f) for f in source]
    if not files:
        raise InputError("no files given for the image series")
    return files


def load_series(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | Any,
    *,
    series_instance_uid: str | None = None,
) -> ImageSeries:
    """Read a DICOM image series into an :class:`ImageSeries` (LPS mm, float32).

    Parameters
    ----------
    source
        A folder holding one image series, a list of files, a single enhanced multi-frame
        file, or a :class:`radnec.ingest.records.SeriesInfo` from :func:`radnec.ingest.scan.scan`.
    series_instance_uid
        When the folder or list holds several series, the one to read. Files of other series
        are then ignored; without it, several series are an error.

    Returns
    -------
    ImageSeries
        ``image``: float32, origin = centre of the first voxel of the most-negative slice along
        the slice normal (LPS mm), spacing (column, row, slice) in mm, direction columns =
        (row direction, column direction, normal). ``meta``: :class:`SeriesMetadata`.

    Raises
    ------
    InputError
        Unreadable, non-image or non-DICOM files, undecodable pixels, implausible rescale.
    FrameOfReferenceError
        The slices belong to more than one frame of reference.
    GeometryError
        Missing position/orientation/spacing, mixed orientations or sizes, duplicate
        positions, non-uniform spacing, gantry tilt (see the module docstring).
    """
    import pydicom

    files = _files_of(source)
    from_dir = isinstance(source, (str, os.PathLike)) and Path(source).is_dir()
    datasets: list[tuple[str, Any]] = []
    for f in files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(f)
        except Exception as exc:  # noqa: BLE001 - pydicom raises many types on corrupt input
            if from_dir:
                continue  # a README or licence beside the slices in a folder
            raise InputError(f"not a readable DICOM file ({type(exc).__name__})", path=f) from exc
        if "SOPClassUID" not in ds:
            raise InputError("no SOP Class UID: truncated or not a DICOM image", path=f)
        kind = classify(ds)
        if kind not in ("CT", "MR", "PT"):
            if len(files) > 1:
                continue  # other objects (RTSTRUCT, SEG, ...) beside the images
            raise InputError(f"not an image slice (SOP class {ds.SOPClassUID}); expected CT, MR or PET", path=f)
        if series_instance_uid is not None and text_or_none(ds.get("SeriesInstanceUID")) != series_instance_uid:
            continue  # another series in the same folder or list, deliberately not read
        datasets.append((f, ds))
    if not datasets:
        where = files[0] if len(files) == 1 else str(Path(files[0]).parent)
        what = f"series {series_instance_uid}" if series_instance_uid else "CT/MR/PET image"
        raise InputError(f"no {what} found", path=where)

    slices: list[Slice] = []
    enhanced = False
    for f, ds in datasets:
        try:
            if "PerFrameFunctionalGroupsSequence" in ds:
                enhanced = True
                slices.extend(enhanced_slices(ds, f))
            else:
                if int(ds.get("NumberOfFrames", 1) or 1) > 1:
                    raise GeometryError(
                        f"multi-frame image ({int(ds.NumberOfFrames)} frames) without "
                        "PerFrameFunctionalGroupsSequence; radnec cannot place its frames in space (no per-frame "
                        "ImagePositionPatient)",
                        path=f,
                    )
                slices.append(classic_slice(ds, f))
        except RadnecError:
            raise
        except Exception as exc:  # noqa: BLE001 - pydicom parses values lazily; a cut file fails here
            raise InputError(f"truncated or corrupt DICOM header ({type(exc).__name__}: {exc})", path=f) from exc

    uids = sorted({s.series_instance_uid for s in slices if s.series_instance_uid})
    if len(uids) > 1:
        raise InputError(
            f"{len(uids)} different series ({', '.join(uids[:3])}{', ...' if len(uids) > 3 else ''}); "
            "pass series_instance_uid= to choose one",
            path=str(Path(slices[0].source.split('#')[0]).parent),
        )
    image, spacing = _stack(slices)
    first_ds = datasets[0][1]
    te, ti, tr = mr_timing(first_ds)
    meta = SeriesMetadata(
        modality=str(first_ds.get("Modality", "")),
        sop_class_uid=str(first_ds.SOPClassUID),
        series_instance_uid=text_or_none(first_ds.get("SeriesInstanceUID")),
        study_instance_uid=text_or_none(first_ds.get("StudyInstanceUID")),
        frame_of_reference_uid=slices[0].frame_of_reference_uid,
        series_description=text_or_none(first_ds.get("SeriesDescription")),
        acquisition_date=dicom_date(
            first_ds.get("AcquisitionDate")
            or first_ds.get("AcquisitionDateTime")
            or first_ds.get("SeriesDate")
            or first_ds.get("ContentDate")
        ),
        echo_time_ms=te,
        inversion_time_ms=ti,
        repetition_time_ms=tr,
        n_slices=len(slices),
        slice_spacing_mm=spacing,
        enhanced=enhanced,
        files=tuple(f for f, _ in datasets),
    )
    return ImageSeries(image=image, meta=meta)


def read_series(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | Any,
    *,
    series_instance_uid: str | None = None,
) -> sitk.Image:
    """Like :func:`load_series` but return only the image (float32, LPS mm)."""
    return load_series(source, series_instance_uid=series_instance_uid).image


def _stack(slices: list[Slice]) -> tuple[sitk.Image, float]:
    first = slices[0]
    fors = sorted({s.frame_of_reference_uid for s in slices if s.frame_of_reference_uid})
    if len(fors) > 1:
        raise FrameOfReferenceError(
            f"the slices belong to {len(fors)} frames of reference ({', '.join(fors)}); a series must "
            "share one — split it by FrameOfReferenceUID",
            path=first.source,
        )
    for s in slices[1:]:
        if not (
            np.allclose(s.row, first.row, atol=ORIENTATION_TOLERANCE)
            and np.allclose(s.col, first.col, atol=ORIENTATION_TOLERANCE)
        ):
            raise GeometryError(
                f"mixed orientations in one series: {_fmt(first.row, first.col)} in {Path(first.source).name} vs "
                f"{_fmt(s.row, s.col)}; a stack needs one ImageOrientationPatient (split localisers or "
                "multi-plane acquisitions)",
                path=s.source,
            )
        if s.shape != first.shape:
            raise GeometryError(
                f"matrix {s.shape[0]}x{s.shape[1]} differs from {first.shape[0]}x{first.shape[1]} of "
                f"{Path(first.source).name}",
                path=s.source,
            )
        if not np.allclose(s.pixel_spacing, first.pixel_spacing, atol=PIXEL_SPACING_TOLERANCE_MM):
            raise GeometryError(
                f"PixelSpacing {list(s.pixel_spacing)} differs from {list(first.pixel_spacing)} of "
                f"{Path(first.source).name}",
                path=s.source,
            )
    normal = np.cross(first.row, first.col)
    dist = np.array([float(s.position @ normal) for s in slices])
    order = np.argsort(dist, kind="stable")
    slices = [slices[i] for i in order]
    dist = dist[order]

    if len(slices) == 1:
        if first.thickness_mm is None or first.thickness_mm <= 0:
            raise GeometryError(
                "a single slice without SliceThickness/SpacingBetweenSlices; radnec cannot know its depth",
                path=first.source,
            )
        return _assemble([first], normal, first.thickness_mm), first.thickness_mm
    gaps = np.diff(dist)
    nominal = float((dist[-1] - dist[0]) / (len(dist) - 1))
    tol = spacing_tolerance_mm(nominal)
    dup = np.flatnonzero(gaps < tol)
    if dup.size:
        i = int(dup[0])
        a, b = slices[i], slices[i + 1]
        differ = [k for k in SPLIT_KEYS if a.keys.get(k) != b.keys.get(k)]
        hint = (
            f"they differ in {', '.join(differ)} — split the series with "
            f"radnec.ingest.series.split_series(..., by={differ[0]!r})"
            if differ
            else "the series holds several echoes, time points or acquisitions — split it first"
        )
        raise GeometryError(
            f"duplicate slice position {dist[i]:.3f} mm along the normal in {Path(a.source).name} and "
            f"{Path(b.source).name} ({dup.size} duplicate(s)); {hint}",
            path=b.source,
        )
    ideal = dist[0] + nominal * np.arange(len(dist))
    dev = np.abs(dist - ideal)
    if np.max(dev) > tol:
        k = int(np.argmax(dev))
        raise GeometryError(
            f"non-uniform slice spacing: gaps from {gaps.min():.3f} to {gaps.max():.3f} mm; slice "
            f"{Path(slices[k].source).name} lies {dev[k]:.3f} mm off the uniform grid (tolerance {tol:.3f} mm). "
            "Missing slices or variable thickness; radnec does not interpolate them",
            path=slices[k].source,
        )
    # gantry tilt / shear: origins must move along the normal only
    offsets = np.array([s.position - slices[0].position for s in slices])
    along = offsets @ normal
    in_plane = offsets - np.outer(along, normal)
    shear = np.linalg.norm(in_plane, axis=1)
    if np.max(shear) > tol:
        k = int(np.argmax(shear))
        angle = float(np.degrees(np.arctan2(shear[k], abs(along[k]))))
        raise GeometryError(
            f"slice positions are not along the slice normal (in-plane shift {shear[k]:.2f} mm over "
            f"{abs(along[k]):.2f} mm, i.e. gantry tilt or shear of {angle:.1f}°); radnec refuses sheared stacks "
            "because a faithful grid would need interpolation — reconstruct without tilt or correct it in the "
            "scanner/converter",
            path=slices[k].source,
        )

    return _assemble(slices, normal, nominal), nominal


def _assemble(slices: list[Slice], normal: np.ndarray, spacing: float) -> sitk.Image:
    first = slices[0]
    rows, cols = first.shape
    volume = np.empty((len(slices), rows, cols), dtype=np.float32)
    for k, s in enumerate(slices):
        arr = s.pixels()
        if arr.shape != (rows, cols):
            raise InputError(f"pixel data shape {arr.shape} does not match Rows x Columns {rows}x{cols}", path=s.source)
        volume[k] = arr.astype(np.float32) * np.float32(s.slope) + np.float32(s.intercept)
    image = sitk.GetImageFromArray(volume)
    image.SetOrigin(tuple(float(v) for v in slices[0].position))
    image.SetSpacing((first.pixel_spacing[1], first.pixel_spacing[0], spacing))
    direction = np.column_stack([first.row, first.col, normal])
    image.SetDirection(tuple(float(v) for v in direction.ravel()))
    return image


def _fmt(row: np.ndarray, col: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.4f}" for v in (*row, *col)) + "]"


__all__ = [
    "ImageSeries",
    "SeriesMetadata",
    "load_series",
    "read_series",
    "split_series",
    "spacing_tolerance_mm",
]
