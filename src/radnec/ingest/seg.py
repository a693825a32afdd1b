"""DICOM Segmentation (SEG) → one 0/1 mask per segment, read with highdicom.

The masks are on the SEG's own grid (highdicom builds the volume from the per-frame plane
positions and refuses frames that do not form a regular grid), optionally resampled onto a
reference grid with nearest neighbour. Fractional segmentations are thresholded at 0.5 of
the maximum fractional value (documented, as highdicom stores probability/occupancy).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from radnec.errors import GeometryError, InputError

#: Threshold (fraction of the maximum fractional value) that turns a FRACTIONAL segment into a mask.
FRACTIONAL_THRESHOLD = 0.5


@dataclass(frozen=True)
class Segment:
    """One segment of a DICOM SEG as a ``sitkUInt8`` 0/1 mask (LPS mm)."""

    number: int
    label: str
    mask: sitk.Image
    frame_of_reference_uid: str | None
    property_type: str | None = None


def _to_sitk(array_kji: np.ndarray, affine: np.ndarray) -> sitk.Image:
    """Image from a highdicom volume array (slice, row, column) and its LPS affine, whose
    columns 0, 1, 2 step along the array axes 0, 1, 2 (so sitk x = affine column 2). The slice
    axis is flipped when needed so that the direction matrix is right-handed, as for series."""
    cols = affine[:3, :3]
    spacing = np.linalg.norm(cols, axis=0)
    if np.any(spacing <= 0):
        raise GeometryError("the SEG frames have zero spacing")
    unit = cols / spacing
    origin = affine[:3, 3].copy()
    if np.linalg.det(np.column_stack([unit[:, 2], unit[:, 1], unit[:, 0]])) < 0:
        # same convention as radnec.ingest.series: slice axis = row x column (right-handed)
        origin = origin + cols[:, 0] * (array_kji.shape[0] - 1)
        unit[:, 0] = -unit[:, 0]
        array_kji = array_kji[::-1]
    image = sitk.GetImageFromArray(np.ascontiguousarray(array_kji))
    image.SetOrigin(tuple(float(v) for v in origin))
    image.SetSpacing((float(spacing[2]), float(spacing[1]), float(spacing[0])))
    direction = np.column_stack([unit[:, 2], unit[:, 1], unit[:, 0]])
    image.SetDirection(tuple(float(v) for v in direction.ravel()))
    return image


def read_seg(
    path: str | os.PathLike[str],
    *,
    reference: sitk.Image | None = None,
    segment_numbers: list[int] | None = None,
) -> list[Segment]:
    """Read a DICOM SEG and return its segments as masks.

    Parameters
    ----------
    path
        The SEG file.
    reference
        Optional image whose grid the masks are resampled onto (nearest neighbour, identity
        transform: the SEG and the reference must share a frame of reference — the caller
        checks that, e.g. from :func:`radnec.ingest.scan`).
    segment_numbers
        Segments to return (default all).

    Returns
    -------
    list[Segment]
        In segment-number order.

    Raises
    ------
    InputError
        Not a readable SEG, unknown segment numbers.
    GeometryError
        Frames that do not form a regular 3-D grid.
    """
    import highdicom as hd
    import pydicom

    p = Path(path)
    if not p.is_file():
        raise InputError("no such file", path=p)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(p)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"not a readable DICOM file ({type(exc).__name__})", path=p) from exc
    if str(ds.get("SOPClassUID", "")) != "1.2.840.10008.5.1.4.1.1.66.4":
        raise InputError(f"not a DICOM SEG (SOP class {ds.get('SOPClassUID', 'missing')})", path=p)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seg = hd.seg.Segmentation.from_dataset(ds, copy=False)
    except Exception as exc:  # noqa: BLE001 - highdicom raises ValueError/AttributeError/KeyError
        raise InputError(f"invalid DICOM SEG ({type(exc).__name__}: {exc})", path=p) from exc
    available = {int(s.SegmentNumber): s for s in seg.SegmentSequence}
    numbers = sorted(available) if segment_numbers is None else [int(n) for n in segment_numbers]
    unknown = [n for n in numbers if n not in available]
    if unknown:
        raise InputError(f"segment number(s) {unknown} not in the SEG (present: {sorted(available)})", path=p)
    fractional = str(ds.get("SegmentationType", "")).upper() == "FRACTIONAL"
    try:
        max_fraction = float(ds.get("MaximumFractionalValue", 255)) if fractional else 1.0
    except (TypeError, ValueError):
        raise InputError(f"MaximumFractionalValue {ds.get('MaximumFractionalValue')!r} is not a number", path=p) from None
    out: list[Segment] = []
    for number in numbers:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                volume = seg.get_volume(
                    segment_numbers=[number], combine_segments=True, skip_overlap_checks=True,
                    rescale_fractional=False,
                )
        except (ValueError, RuntimeError, TypeError) as exc:  # TypeError: a non-numeric spacing/position
            raise GeometryError(
                f"segment {number}: frames do not form a regular 3-D grid ({exc})", path=p
            ) from exc
        arr = np.asarray(volume.array)
        if arr.ndim == 4:
            arr = arr[..., 0]
        binary = arr >= FRACTIONAL_THRESHOLD * max_fraction if fractional else arr > 0
        image = _to_sitk(binary.astype(np.uint8), np.asarray(volume.affine, dtype=float))
        if reference is not None:
            image = sitk.Resample(
                image, reference, sitk.Transform(3, sitk.sitkIdentity), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8
            )
        item = available[number]
        out.append(
            Segment(
                number=number,
                label=str(item.get("SegmentLabel", f"segment {number}")),
                mask=image,
                frame_of_reference_uid=str(ds.get("FrameOfReferenceUID", "")) or None,
                property_type=(
                    str(item.SegmentedPropertyTypeCodeSequence[0].CodeMeaning)
                    if item.get("SegmentedPropertyTypeCodeSequence")
                    else None
                ),
            )
        )
    return out


__all__ = ["Segment", "read_seg", "FRACTIONAL_THRESHOLD"]
