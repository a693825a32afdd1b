"""Segmentation input: label maps, DICOM SEG and RTSTRUCT ROIs → lesion compartments.

The compartments (``enhancing``, ``necrotic``, ``edema``, ``lesion``) and the label conventions
that say which label means what are defined in :mod:`radnec.lesion.conventions`. This module reads
the user's segmentation in any of its forms and turns it into :class:`Compartments` on the image
grid; :func:`split_lesion_by_enhancement` estimates the enhancing/necrotic split when the source
gives only the whole T1c lesion.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from radnec.errors import GeometryError, InputError, MissingReferenceError, RadnecError
from radnec.geometry import require_same_grid, same_grid
from radnec.ingest.nifti import read_volume
from radnec.geometry.contour_masks import roi_mask
from radnec.ingest.rtstruct import read_rtstruct
from radnec.ingest.seg import read_seg
from radnec.lesion.conventions import COMPARTMENTS, Compartments, LabelConvention, mask_image, parse_convention
from radnec.lesion.intensity import enhancement_threshold

log = logging.getLogger(__name__)


def read_label_map(path: str | Path) -> sitk.Image:
    """Read a NIfTI/NRRD/MHA label map as an integer image in LPS (SimpleITK converts NIfTI RAS).

    Raises :class:`InputError` for unreadable files, non-3-D images, non-integer or negative labels.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("label map not found", path=path)
    try:
        img = read_volume(path)
    except RadnecError:
        raise
    except Exception as exc:  # SimpleITK raises RuntimeError with a long ITK message
        raise InputError(f"cannot read the label map ({str(exc).splitlines()[0][:120]})", path=path) from exc
    if img.GetDimension() != 3 or img.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(
            f"the label map must be a 3-D scalar image, got {img.GetDimension()}-D with "
            f"{img.GetNumberOfComponentsPerPixel()} components",
            path=path,
        )
    arr = sitk.GetArrayViewFromImage(img)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or not np.allclose(arr, np.round(arr)):
            raise InputError("the label map has non-integer values; a label map holds integer labels", path=path)
        img = sitk.Cast(img, sitk.sitkInt32)
    if float(np.min(arr)) < 0:
        raise InputError("the label map has negative labels", path=path)
    return img


def compartments_from_label_map(
    label_map: sitk.Image,
    convention: LabelConvention | str,
    *,
    reference: sitk.Image | None = None,
    resample_to_reference: bool = False,
    source: str = "label map",
) -> Compartments:
    """Split a label map into compartments following ``convention``.

    Parameters
    ----------
    label_map
        Integer label image (LPS).
    convention
        A :class:`LabelConvention` or its name / custom specification.
    reference
        The image the masks must match (usually the T1c). When given, the label map's grid is
        checked against it: a mismatch raises :class:`GeometryError` unless
        ``resample_to_reference`` is True (then nearest-neighbour resampling, identity transform:
        both must already be in the same patient frame).
    source
        Words naming the input, copied into the result.
    """
    conv = parse_convention(convention) if isinstance(convention, str) else convention
    if reference is not None and not same_grid(label_map, reference):
        if not resample_to_reference:
            raise GeometryError(
                f"the segmentation ({source}) is on a different grid from the image (size {label_map.GetSize()} vs "
                f"{reference.GetSize()}, spacing {tuple(round(v, 3) for v in label_map.GetSpacing())} vs "
                f"{tuple(round(v, 3) for v in reference.GetSpacing())} mm, origin "
                f"{tuple(round(v, 1) for v in label_map.GetOrigin())} vs {tuple(round(v, 1) for v in reference.GetOrigin())} mm); "
                "resample it explicitly (resample_to_reference=True, CLI --resample) if both are in the same patient frame"
            )
        _check_overlap(label_map, reference, source)
        label_map = sitk.Resample(label_map, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
    arr = sitk.GetArrayViewFromImage(label_map)
    present = {int(v) for v in np.unique(arr) if v != 0}
    declared = set(conv.enhancing) | set(conv.necrotic) | set(conv.edema)
    if conv.lesion == "nonzero":
        declared |= present
    else:
        declared |= set(conv.lesion)
    unknown = sorted(present - declared)
    if unknown:
        raise InputError(
            f"the segmentation ({source}) contains labels {unknown} that the convention "
            f"{conv.name!r} does not declare (it declares {sorted(declared)}); choose the right "
            "convention (e.g. brats-2021 uses 4 for enhancing, brats-mets uses 3) or a custom mapping"
        )

    def sel(labels: tuple[int, ...] | str) -> np.ndarray:
        if labels == "nonzero":
            return arr > 0
        return np.isin(arr, np.asarray(labels, dtype=arr.dtype)) if labels else np.zeros(arr.shape, bool)

    enh, nec, ede, les_only = sel(conv.enhancing), sel(conv.necrotic), sel(conv.edema), sel(conv.lesion)
    lesion = enh | nec | les_only
    if not lesion.any():
        raise InputError(
            f"the segmentation ({source}) has no T1c lesion voxels under convention {conv.name!r} "
            f"(labels present: {sorted(present)})"
        )
    if conv.separates_core and not enh.any():
        raise InputError(
            f"the segmentation ({source}) has no enhancing voxels (labels {list(conv.enhancing)}) under convention "
            f"{conv.name!r} although it has labels {sorted(present)}; this is probably the wrong convention "
            "(aurora: 1 edema / 2 metastasis; brats-mets: 3 enhancing; brats-2021: 4 enhancing) — or declare a "
            "custom mapping such as 'lesion=1,edema=2'"
        )
    ref = label_map
    out = Compartments(lesion=mask_image(lesion, ref), source=f"{source} [{conv.name}]")
    if conv.separates_core:
        out.enhancing = mask_image(enh, ref)
        out.necrotic = mask_image(nec, ref)
    if conv.edema:
        out.edema = mask_image(ede & ~lesion, ref)
    return out


def _check_overlap(moving: sitk.Image, reference: sitk.Image, source: str) -> None:
    """Refuse to resample when the two grids do not overlap at all (wrong frame)."""

    def bounds(img: sitk.Image) -> np.ndarray:
        size = np.asarray(img.GetSize()) - 1
        corners = np.array([[i, j, k] for i in (0, size[0]) for j in (0, size[1]) for k in (0, size[2])], float)
        pts = np.array([img.TransformContinuousIndexToPhysicalPoint(c.tolist()) for c in corners])
        return np.stack([pts.min(0), pts.max(0)])

    a, b = bounds(moving), bounds(reference)
    if np.any(a[1] < b[0]) or np.any(b[1] < a[0]):
        raise GeometryError(
            f"the segmentation ({source}) does not overlap the image in patient space; they are not in "
            "the same frame of reference (register them first)"
        )


def split_lesion_by_enhancement(
    compartments: Compartments, t1c: sitk.Image, *, threshold: float | None = None
) -> Compartments:
    """Estimate enhancing vs necrotic inside ``compartments.lesion`` from T1c intensity.

    Used when the segmentation gives only the whole T1c lesion. Voxels of the lesion brighter than
    ``threshold`` are enhancing; the others are the non-enhancing core. By default the threshold
    is the enhancement threshold of :func:`radnec.lesion.intensity.enhancement_threshold` computed
    around the lesion (same rule as the semi-automatic segmentation).
    """
    if compartments.enhancing is not None:
        return compartments
    require_same_grid(compartments.lesion, t1c, what="the lesion mask and the T1c image")
    les = sitk.GetArrayViewFromImage(compartments.lesion) > 0
    img = sitk.GetArrayViewFromImage(t1c).astype(np.float64)
    thr = enhancement_threshold(t1c, compartments.lesion) if threshold is None else float(threshold)
    enh = les & (img >= thr)
    out = replace(compartments)
    out.enhancing = mask_image(enh, compartments.lesion)
    out.necrotic = mask_image(les & ~enh, compartments.lesion)
    out.notes = [*compartments.notes, f"enhancing/necrotic split estimated from T1c intensity (threshold {thr:.4g})"]
    return out


# ---------------------------------------------------------------------------------------------
# DICOM SEG and RTSTRUCT
# ---------------------------------------------------------------------------------------------
def compartments_from_seg(
    path: str | Path,
    reference: sitk.Image,
    *,
    segments: dict[str, str],
) -> Compartments:
    """Masks from a DICOM SEG (read with :func:`radnec.ingest.seg.read_seg`) on ``reference``.

    The SEG and the reference must share a frame of reference (nearest-neighbour resampling,
    identity transform).

    Parameters
    ----------
    path
        The DICOM Segmentation file.
    reference
        The T1c image the masks are put on.
    segments
        Compartment name → segment label (SegmentLabel, case-insensitive) or segment number,
        e.g. ``{"enhancing": "Enhancing", "necrotic": "Necrosis", "edema": "Edema"}`` or
        ``{"lesion": "1"}``.
    """
    path = Path(path)
    segs = read_seg(path, reference=reference)
    numbers = {s.number: s.label for s in segs}
    by_number = {s.number: s for s in segs}
    arrays: dict[str, np.ndarray] = {}
    for comp, wanted in segments.items():
        if comp not in COMPARTMENTS:
            raise InputError(f"unknown compartment {comp!r} (use {', '.join(COMPARTMENTS)})", path=path)
        number = _find_segment(numbers, wanted)
        if number is None:
            raise MissingReferenceError(
                f"no segment {wanted!r} in the SEG (segments: "
                f"{', '.join(f'{n}={lab!r}' for n, lab in sorted(numbers.items()))})",
                path=path,
            )
        arrays[comp] = sitk.GetArrayFromImage(by_number[number].mask) > 0
    return _compartments_from_arrays(arrays, reference, source=f"SEG {path.name}")


def _find_segment(numbers: dict[int, str], wanted: str) -> int | None:
    if str(wanted).isdigit() and int(wanted) in numbers:
        return int(wanted)
    for n, lab in numbers.items():
        if str(lab).strip().lower() == str(wanted).strip().lower():
            return n
    return None


def compartments_from_rtstruct(
    path: str | Path,
    reference: sitk.Image,
    *,
    rois: dict[str, str],
) -> Compartments:
    """Masks from RTSTRUCT ROIs rasterised on ``reference`` (uses ``radnec.ingest.rtstruct``).

    ``rois`` maps compartment → ROI name (case-insensitive), e.g. ``{"lesion": "GTV_FU1",
    "edema": "Edema"}``.
    """
    path = Path(path)
    ss = read_rtstruct(path)
    by_name = {r.name.strip().lower(): r for r in ss.rois}
    arrays: dict[str, np.ndarray] = {}
    for comp, name in rois.items():
        if comp not in COMPARTMENTS:
            raise InputError(f"unknown compartment {comp!r} (use {', '.join(COMPARTMENTS)})", path=path)
        roi = by_name.get(name.strip().lower())
        if roi is None:
            raise MissingReferenceError(
                f"no ROI named {name!r} in the RTSTRUCT (ROIs: {', '.join(sorted(r.name for r in ss.rois))})",
                path=path,
            )
        arrays[comp] = sitk.GetArrayFromImage(roi_mask(roi, reference)) > 0
    return _compartments_from_arrays(arrays, reference, source=f"RTSTRUCT {path.name}")


def _compartments_from_arrays(arrays: dict[str, np.ndarray], reference: sitk.Image, *, source: str) -> Compartments:
    enh, nec = arrays.get("enhancing"), arrays.get("necrotic")
    lesion = arrays.get("lesion")
    if lesion is None:
        if enh is None:
            raise InputError(f"{source}: give at least an 'enhancing' or a 'lesion' mask")
        lesion = enh | (nec if nec is not None else False)
    if not lesion.any():
        raise InputError(f"{source}: the T1c lesion mask is empty on the image grid")
    out = Compartments(lesion=mask_image(lesion, reference), source=source)
    if enh is not None:
        nec_arr = nec if nec is not None else (lesion & ~enh)
        out.enhancing = mask_image(enh, reference)
        out.necrotic = mask_image(nec_arr & ~enh, reference)
    if "edema" in arrays:
        out.edema = mask_image(arrays["edema"] & ~lesion, reference)
    return out


__all__ = [
    "read_label_map",
    "compartments_from_label_map",
    "split_lesion_by_enhancement",
    "compartments_from_seg",
    "compartments_from_rtstruct",
]
