"""One image slice (a classic single-frame file, or one frame of an enhanced multi-frame object)
from its DICOM header: position, orientation, pixel spacing, rescale, and its pixels on demand.

The checks here are per slice (finite numbers, unit and orthogonal direction cosines, positive
spacing, plausible rescale); the checks across slices (one frame of reference, uniform spacing,
no tilt) are :func:`radnec.ingest.series.load_series`'s.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from radnec.errors import GeometryError, InputError
from radnec.ingest.values import float_or_none, text_or_none

#: Tolerance on the length of a direction cosine vector and on row·column orthogonality.
ORTHONORMAL_TOLERANCE = 1e-3


@dataclass
class Slice:
    """One slice: where it is (LPS mm), how to rescale it, and a callable returning its pixels."""

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


def classic_slice(ds: Any, path: str) -> Slice:
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

    return Slice(
        source=path,
        position=pos,
        row=row,
        col=col,
        pixel_spacing=(float(ps[0]), float(ps[1])),
        shape=(int(ds.Rows), int(ds.Columns)),
        frame_of_reference_uid=text_or_none(ds.get("FrameOfReferenceUID")),
        series_instance_uid=text_or_none(ds.get("SeriesInstanceUID")),
        slope=slope,
        intercept=intercept,
        pixels=pixels,
        thickness_mm=_thickness(ds),
        keys=split_keys(ds),
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


def split_keys(ds: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in SPLIT_KEYS:
        value = ds.get(key)
        if value is not None and str(value).strip() != "":
            out[key] = "\\".join(str(v) for v in value) if key == "ImageType" else str(value).strip()
    return out



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


def functional_group(item: Any, shared: Any, seq: str) -> Any:
    """Functional group ``seq`` of a frame, falling back to the shared groups."""
    for source in (item, shared):
        if source is not None and seq in source and len(source[seq].value) > 0:
            return source[seq].value[0]
    return None


def enhanced_slices(ds: Any, path: str) -> list[Slice]:
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

    slices: list[Slice] = []
    for k, item in enumerate(per_frame):
        src = f"{path}#frame{k + 1}"
        plane_pos = functional_group(item, shared, "PlanePositionSequence")
        plane_ori = functional_group(item, shared, "PlaneOrientationSequence")
        measures = functional_group(item, shared, "PixelMeasuresSequence")
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
        transform = functional_group(item, shared, "PixelValueTransformationSequence")
        try:
            slope, intercept = _rescale(transform if transform is not None else ds)
        except InputError as exc:
            raise InputError(exc.message, path=src) from exc
        slices.append(
            Slice(
                source=src,
                position=_floats(plane_pos.ImagePositionPatient, 3, "ImagePositionPatient", src),
                row=row,
                col=col,
                pixel_spacing=(float(ps[0]), float(ps[1])),
                shape=(int(ds.Rows), int(ds.Columns)),
                frame_of_reference_uid=text_or_none(ds.get("FrameOfReferenceUID")),
                series_instance_uid=text_or_none(ds.get("SeriesInstanceUID")),
                slope=slope,
                intercept=intercept,
                pixels=(lambda k=k: frames()[k]),
            )
        )
    return slices




def mr_timing(ds: Any) -> tuple[float | None, float | None, float | None]:
    f = float_or_none
    te, ti, tr = f(ds.get("EchoTime")), f(ds.get("InversionTime")), f(ds.get("RepetitionTime"))
    shared_seq = ds.get("SharedFunctionalGroupsSequence")
    if shared_seq:
        shared = shared_seq[0]
        timing = functional_group(None, shared, "MRTimingAndRelatedParametersSequence")
        if timing is not None and tr is None:
            tr = f(timing.get("RepetitionTime"))
        per = ds.get("PerFrameFunctionalGroupsSequence") or []
        echo = functional_group(per[0] if per else None, shared, "MREchoSequence")
        if echo is not None and te is None:
            te = f(echo.get("EffectiveEchoTime"))
        mod = functional_group(None, shared, "MRModifierSequence")
        if mod is not None and ti is None:
            ti = f(mod.get("InversionTimes", [None])[0] if mod.get("InversionTimes") else None)
    return te, ti, tr



__all__ = [
    "SPLIT_KEYS",
    "Slice",
    "classic_slice",
    "enhanced_slices",
    "functional_group",
    "mr_timing",
    "split_keys",
]
