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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from radnec.errors import FrameOfReferenceError, GeometryError, InputError, RadnecError

#: Direction cosines of two slices are the same orientation when they differ by less than this
#: (dimensionless, ≈0.006°; scanners write 6+ decimals). Matches radnec.geometry.
ORIENTATION_TOLERANCE = 1e-4
#: Tolerance on the length of a direction cosine vector and on row·column orthogonality.
ORTHONORMAL_TOLERANCE = 1e-3
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


@dataclass
class _Slice:
    source: str
    position: np.ndarray
    row: np.ndarray
    col: np.ndarray
    pixel_spacing: tuple[float, float]  # (row spacing = between rows, column spacing)
    shape: tuple[int, int]
    frame_of_reference_uid: str | None
    series_instance_uid: str | None
    slope: float
    intercept: float
    pixels: Callable[[], np.ndarray]
    thickness_mm: float | None = None
    keys: dict[str, str] = field(default_factory=dict)


def _floats(value: Any, n: int, what: str, source: str) -> np.ndarray:
    try:
        arr = np.asarray([float(v) for v in value], dtype=float)
    except (TypeError, ValueError) as exc:
        raise GeometryError(f"{what} is not numeric ({value!r})", path=source) from exc
    if arr.shape != (n,) or not np.all(np.isfinite(arr)):
        raise GeometryError(f"{what} must be {n} finite numbers, got {value!r}", path=source)
    return arr


def _orientation(iop: Any, source: str) -> tuple[np.ndarray, np.ndarray]:
    v = _floats(iop, 6, "ImageOrientationPatient", source)
    row, col = v[:3], v[3:]
    nr, nc = np.linalg.norm(row), np.linalg.norm(col)
    if abs(nr - 1) > ORTHONORMAL_TOLERANCE or abs(nc - 1) > ORTHONORMAL_TOLERANCE:
        raise GeometryError(
            f"ImageOrientationPatient {list(v)} is not made of unit vectors (|row| {nr:.4f}, |col| {nc:.4f})",
            path=source,
        )
    if abs(float(row @ col)) > ORTHONORMAL_TOLERANCE:
        raise GeometryError(
            f"ImageOrientationPatient row and column directions are not orthogonal (dot {row @ col:.4f})",
            path=source,
        )
    return row / nr, col / nc


def _require(ds: Any, keyword: str, source: str) -> Any:
    value = ds.get(keyword)
    if value is None or (hasattr(value, "__len__") and len(value) == 0 and not isinstance(value, (int, float))):
        raise GeometryError(f"missing {keyword}; radnec cannot place this slice in space", path=source)
    return value


def _rescale(ds: Any) -> tuple[float, float]:
    slope = ds.get("RescaleSlope", 1.0)
    intercept = ds.get("RescaleIntercept", 0.0)
    try:
        s, i = float(slope if slope not in (None, "") else 1.0), float(intercept if intercept not in (None, "") else 0.0)
    except (TypeError, ValueError) as exc:
        raise InputError(f"RescaleSlope/RescaleIntercept not numeric ({slope!r}, {intercept!r})") from exc
    if not (np.isfinite(s) and np.isfinite(i)) or s == 0:
        raise InputError(f"implausible RescaleSlope {s} / RescaleIntercept {i}")
    return s, i


def _classic_slice(ds: Any, path: str) -> _Slice:
    pos = _floats(_require(ds, "ImagePositionPatient", path), 3, "ImagePositionPatient", path)
    row, col = _orientation(_require(ds, "ImageOrientationPatient", path), path)
    ps = _floats(_require(ds, "PixelSpacing", path), 2, "PixelSpacing", path)
    if np.any(ps <= 0):
        raise GeometryError(f"PixelSpacing {list(ps)} must be positive", path=path)
    try:
        slope, intercept = _rescale(ds)
    except InputError as exc:
        raise InputError(exc.message, path=path) from exc

    def pixels() -> np.ndarray:
        return _pixel_array(ds, path)

    return _Slice(
        source=path,
        position=pos,
        row=row,
        col=col,
        pixel_spacing=(float(ps[0]), float(ps[1])),
        shape=(int(ds.Rows), int(ds.Columns)),
        frame_of_reference_uid=_s(ds.get("FrameOfReferenceUID")),
        series_instance_uid=_s(ds.get("SeriesInstanceUID")),
        slope=slope,
        intercept=intercept,
        pixels=pixels,
        thickness_mm=_thickness(ds),
        keys=_split_keys(ds),
    )


#: Attributes that tell apart images at the same position within one series (checked in this order
#: by :func:`split_series`).
SPLIT_KEYS = (
    "TemporalPositionIdentifier",
    "EchoNumbers",
    "AcquisitionNumber",
    "TriggerTime",
    "InversionTime",
    "DiffusionBValue",
    "ImageType",
)


def _split_keys(ds: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in SPLIT_KEYS:
        value = ds.get(key)
        if value is not None and str(value).strip() != "":
            out[key] = "\\".join(str(v) for v in value) if key == "ImageType" else str(value).strip()
    return out


#: Attributes that number the time points of a dynamic (multi-temporal) series, in order of preference.
TEMPORAL_KEYS = ("TemporalPositionIdentifier", "AcquisitionNumber", "TriggerTime", "AcquisitionTime")
#: Attributes that, when they take more than one value in a series, mean that repeated positions are
#: several contrasts (echoes, inversion times, b-values), not only time points.
CONTRAST_KEYS = ("EchoNumbers", "InversionTime", "DiffusionBValue")
#: Decimals (mm) of ImagePositionPatient that decide whether two images of a series share a position.
#: 0.01 mm is the floor of :func:`spacing_tolerance_mm`; the time frames of one acquisition carry
#: bit-identical positions.
POSITION_DECIMALS = 2

#: What :func:`temporal_facts` returns for one image: its rounded position (None when it has none) and
#: the values of :data:`TEMPORAL_KEYS` and :data:`CONTRAST_KEYS` it carries.
TemporalFacts = tuple[tuple[float, ...] | None, dict[str, str]]


def temporal_facts(ds: Any) -> TemporalFacts:
    """The header facts :func:`temporal_frames` needs, from one classic (single-frame) image header."""
    ipp = ds.get("ImagePositionPatient")
    try:
        pos = tuple(round(float(v), POSITION_DECIMALS) for v in ipp) if ipp is not None else None
    except (TypeError, ValueError):
        pos = None
    keys: dict[str, str] = {}
    for key in (*TEMPORAL_KEYS, *CONTRAST_KEYS):
        value = ds.get(key)
        if value is not None and str(value).strip() != "":
            keys[key] = str(value).strip()
    return pos, keys


def temporal_frames(facts: Sequence[TemporalFacts]) -> tuple[list[list[int]], str | None]:
    """Group the images of one series into time points when it is a dynamic (multi-temporal) series.

    A series is dynamic when (1) every image has a position, (2) positions repeat: every position
    occurs ``n`` or ``n - 1`` times (``n >= 2``; ``n - 1`` allows an incomplete last time point, which
    the 4-D reader then reports) and at least twice, (3) no attribute of :data:`CONTRAST_KEYS` varies
    (several echoes or b-values are not a time series), and (4) one attribute of :data:`TEMPORAL_KEYS`,
    present in every image, takes a different value for every image at the same position. A 3-D
    series with a duplicated slice, or a copy of a whole stack, fails (2) or (4) and stays a 3-D
    series, which :func:`load_series` refuses with the duplicate position.

    Parameters
    ----------
    facts
        :func:`temporal_facts` of each image, in any order.

    Returns
    -------
    frames, key
        ``frames[t]`` = indices into ``facts`` of time point ``t`` (ordered by ``key``, numerically when
        possible); ``([], None)`` when the series is not dynamic.
    """
    if len(facts) < 2 or any(pos is None for pos, _ in facts):
        return [], None
    by_pos: dict[Any, list[int]] = {}
    for i, (pos, _) in enumerate(facts):
        by_pos.setdefault(pos, []).append(i)
    counts = [len(v) for v in by_pos.values()]
    n = max(counts)
    if n < 2 or min(counts) < max(2, n - 1):
        return [], None
    for key in CONTRAST_KEYS:
        if len({keys.get(key) for _, keys in facts}) > 1:
            return [], None

    def order(v: str) -> tuple[int, float, str]:
        try:
            return (0, float(v), v)
        except ValueError:
            return (1, 0.0, v)

    for key in TEMPORAL_KEYS:
        if any(key not in keys for _, keys in facts):
            continue
        if any(len({facts[i][1][key] for i in idx}) != len(idx) for idx in by_pos.values()):
            continue
        frames: list[list[int]] = [[] for _ in range(n)]
        for idx in by_pos.values():
            for t, i in enumerate(sorted(idx, key=lambda i: order(facts[i][1][key]))):
                frames[t].append(i)
        return frames, key
    return [], None


def _read_temporal_facts(files: Sequence[str]) -> list[TemporalFacts]:
    import pydicom

    facts: list[TemporalFacts] = []
    for f in files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(
                    f, stop_before_pixels=True, specific_tags=["ImagePositionPatient", *TEMPORAL_KEYS, *CONTRAST_KEYS]
                )
        except Exception:  # noqa: BLE001 - unreadable files are reported by the readers themselves
            continue
        facts.append(temporal_facts(ds))
    return facts


def count_timepoints(files: Sequence[str | os.PathLike[str]]) -> int:
    """Number of time points of a DICOM series given as files: 1 unless it is dynamic
    (see :func:`temporal_frames`). Reads only the headers."""
    frames, _ = temporal_frames(_read_temporal_facts([str(f) for f in files]))
    return len(frames) if frames else 1


def is_dynamic(files: Sequence[str | os.PathLike[str]], *, min_timepoints: int = 2) -> bool:
    """Whether the files form a dynamic (multi-temporal) series with at least ``min_timepoints``
    time points (see :func:`temporal_frames`). Reads only the headers."""
    if len(files) < min_timepoints:
        return False
    return count_timepoints(files) >= min_timepoints


def split_timepoints(files: Sequence[str | os.PathLike[str]]) -> list[list[str]]:
    """The files of a dynamic series grouped by time point (each group a 3-D stack for
    :func:`load_series`); ``[]`` when the series is not dynamic."""
    names = [str(f) for f in files]
    facts = _read_temporal_facts(names)
    if len(facts) != len(names):
        return []  # an unreadable file: let load_series name it
    frames, _ = temporal_frames(facts)
    return [[names[i] for i in frame] for frame in frames]


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
        headers.append((f, _split_keys(ds), pos))
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


def _thickness(ds: Any) -> float | None:
    for key in ("SpacingBetweenSlices", "SliceThickness"):
        try:
            value = float(ds.get(key))
        except (TypeError, ValueError):
            continue
        if np.isfinite(value) and value > 0:
            return value
    return None


def _pixel_array(ds: Any, path: str) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(ds.pixel_array)
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types for bad pixel data
        raise InputError(
            f"cannot decode the pixel data ({type(exc).__name__}: {exc}); truncated file or unsupported "
            "transfer syntax (install pylibjpeg/gdcm plugins for compressed data)",
            path=path,
        ) from exc


def _fg(item: Any, shared: Any, seq: str) -> Any:
    """Functional group ``seq`` of a frame, falling back to the shared groups."""
    for source in (item, shared):
        if source is not None and seq in source and len(source[seq].value) > 0:
            return source[seq].value[0]
    return None


def _enhanced_slices(ds: Any, path: str) -> list[_Slice]:
    n_frames = int(ds.get("NumberOfFrames", 1))
    shared_seq = ds.get("SharedFunctionalGroupsSequence")
    shared = shared_seq[0] if shared_seq else None
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is None or len(per_frame) != n_frames:
        raise GeometryError(
            f"enhanced multi-frame object with {n_frames} frames has "
            f"{0 if per_frame is None else len(per_frame)} PerFrameFunctionalGroupsSequence items",
            path=path,
        )
    cache: dict[str, np.ndarray] = {}

    def frames() -> np.ndarray:
        if "a" not in cache:
            arr = _pixel_array(ds, path)
            cache["a"] = arr.reshape((n_frames, int(ds.Rows), int(ds.Columns)))
        return cache["a"]

    slices: list[_Slice] = []
    for k, item in enumerate(per_frame):
        src = f"{path}#frame{k + 1}"
        plane_pos = _fg(item, shared, "PlanePositionSequence")
        plane_ori = _fg(item, shared, "PlaneOrientationSequence")
        measures = _fg(item, shared, "PixelMeasuresSequence")
        if plane_pos is None or "ImagePositionPatient" not in plane_pos:
            raise GeometryError(
                "missing ImagePositionPatient (PlanePositionSequence) for this frame", path=src
            )
        if plane_ori is None or "ImageOrientationPatient" not in plane_ori:
            raise GeometryError(
                "missing ImageOrientationPatient (PlaneOrientationSequence) for this frame", path=src
            )
        if measures is None or "PixelSpacing" not in measures:
            raise GeometryError("missing PixelSpacing (PixelMeasuresSequence) for this frame", path=src)
        row, col = _orientation(plane_ori.ImageOrientationPatient, src)
        ps = _floats(measures.PixelSpacing, 2, "PixelSpacing", src)
        transform = _fg(item, shared, "PixelValueTransformationSequence")
        try:
            slope, intercept = _rescale(transform if transform is not None else ds)
        except InputError as exc:
            raise InputError(exc.message, path=src) from exc
        slices.append(
            _Slice(
                source=src,
                position=_floats(plane_pos.ImagePositionPatient, 3, "ImagePositionPatient", src),
                row=row,
                col=col,
                pixel_spacing=(float(ps[0]), float(ps[1])),
                shape=(int(ds.Rows), int(ds.Columns)),
                frame_of_reference_uid=_s(ds.get("FrameOfReferenceUID")),
                series_instance_uid=_s(ds.get("SeriesInstanceUID")),
                slope=slope,
                intercept=intercept,
                pixels=(lambda k=k: frames()[k]),
            )
        )
    return slices


def _s(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _date(value: Any) -> str | None:
    text = str(value or "").strip()
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}" if len(text) >= 8 and text[:8].isdigit() else None


def _mr_timing(ds: Any) -> tuple[float | None, float | None, float | None]:
    def f(v: Any) -> float | None:
        try:
            return float(v)
        except (TypeError, ValueError):
            return None

    te, ti, tr = f(ds.get("EchoTime")), f(ds.get("InversionTime")), f(ds.get("RepetitionTime"))
    shared_seq = ds.get("SharedFunctionalGroupsSequence")
    if shared_seq:
        shared = shared_seq[0]
        timing = _fg(None, shared, "MRTimingAndRelatedParametersSequence")
        if timing is not None and tr is None:
            tr = f(timing.get("RepetitionTime"))
        per = ds.get("PerFrameFunctionalGroupsSequence") or []
        echo = _fg(per[0] if per else None, shared, "MREchoSequence")
        if echo is not None and te is None:
            te = f(echo.get("EffectiveEchoTime"))
        mod = _fg(None, shared, "MRModifierSequence")
        if mod is not None and ti is None:
            ti = f(mod.get("InversionTimes", [None])[0] if mod.get("InversionTimes") else None)
    return te, ti, tr


def _files_of(source: Any) -> list[str]:
    """Normalise the accepted inputs into a list of file paths."""
    if hasattr(source, "files") and hasattr(source, "series_instance_uid"):  # scan.SeriesInfo
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
        file, or a :class:`radnec.ingest.scan.SeriesInfo` from :func:`radnec.ingest.scan`.
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

    from radnec.ingest.scan import classify

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
        if series_instance_uid is not None and _s(ds.get("SeriesInstanceUID")) != series_instance_uid:
            continue  # another series in the same folder or list, deliberately not read
        datasets.append((f, ds))
    if not datasets:
        where = files[0] if len(files) == 1 else str(Path(files[0]).parent)
        what = f"series {series_instance_uid}" if series_instance_uid else "CT/MR/PET image"
        raise InputError(f"no {what} found", path=where)

    slices: list[_Slice] = []
    enhanced = False
    for f, ds in datasets:
        try:
            if "PerFrameFunctionalGroupsSequence" in ds:
                enhanced = True
                slices.extend(_enhanced_slices(ds, f))
            else:
                if int(ds.get("NumberOfFrames", 1) or 1) > 1:
                    raise GeometryError(
                        f"multi-frame image ({int(ds.NumberOfFrames)} frames) without "
                        "PerFrameFunctionalGroupsSequence; radnec cannot place its frames in space (no per-frame "
                        "ImagePositionPatient)",
                        path=f,
                    )
                slices.append(_classic_slice(ds, f))
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
    te, ti, tr = _mr_timing(first_ds)
    meta = SeriesMetadata(
        modality=str(first_ds.get("Modality", "")),
        sop_class_uid=str(first_ds.SOPClassUID),
        series_instance_uid=_s(first_ds.get("SeriesInstanceUID")),
        study_instance_uid=_s(first_ds.get("StudyInstanceUID")),
        frame_of_reference_uid=slices[0].frame_of_reference_uid,
        series_description=_s(first_ds.get("SeriesDescription")),
        acquisition_date=_date(
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


def _stack(slices: list[_Slice]) -> tuple[sitk.Image, float]:
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


def _assemble(slices: list[_Slice], normal: np.ndarray, spacing: float) -> sitk.Image:
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
    "TEMPORAL_KEYS",
    "CONTRAST_KEYS",
    "temporal_facts",
    "temporal_frames",
    "count_timepoints",
    "is_dynamic",
    "split_timepoints",
]
