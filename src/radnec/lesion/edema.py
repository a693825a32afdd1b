"""Peritumoral edema from FLAIR: hyperintensity connected to the T1c lesion, outside it.

Voxels brighter than normal FLAIR tissue (median + ``edema_sd`` robust SD), connected to the
lesion, with the boundary at half contrast; the T1c lesion is excluded. Parameters are in
``conventions.yaml`` → ``segmentation``. Edema that merges with other FLAIR hyperintensity
(small-vessel disease, another lesion) is merged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

from radnec.lesion.intensity import RobustStats, background_level, robust_stats
from radnec.lesion.regions import ball, component_at, fill_holes


def smoothed(image: sitk.Image, params: dict[str, Any]) -> sitk.Image:
    """``image`` median-filtered as the segmentation denoises it (``median_radius_vox``), float32.

    Filtering the whole image once lets every lesion and seed on that study reuse it (the edema
    search box spans most of the brain).
    """
    return sitk.Median(sitk.Cast(image, sitk.sitkFloat32), median_radius(image, params))


def median_radius(image: sitk.Image, params: dict[str, Any]) -> list[int]:
    """Per-axis median radius (voxels, x-y-z order): ``median_radius_vox`` along every axis whose
    spacing is at most ``median_max_anisotropy`` times the finest, 0 along a coarser one.

    A 2-D thick-slice series (0.9 × 0.9 × 6 mm) filtered across slices mixes tissue 12 mm apart and
    erases a thin enhancing rim that sits on one slice only; in-plane filtering keeps it.

    Examples
    --------
    >>> img = sitk.Image(8, 8, 8, sitk.sitkFloat32)
    >>> img.SetSpacing((0.9, 0.9, 6.0))
    >>> median_radius(img, {"median_radius_vox": 1, "median_max_anisotropy": 2.0})
    [1, 1, 0]
    """
    spacing = np.asarray(image.GetSpacing(), float)
    r = int(params["median_radius_vox"])
    limit = float(params.get("median_max_anisotropy", 2.0)) * spacing.min()
    return [r if s <= limit else 0 for s in spacing]


def segment_edema(
    flair: sitk.Image, lesion: np.ndarray, params: dict[str, Any], *, smoothed_flair: sitk.Image | None = None
) -> np.ndarray:
    """FLAIR hyperintensity connected to the lesion, outside it (full-grid boolean array).

    Normal-tissue statistics come from the lesion box + ``edema_margin_mm``; the edema itself may
    extend up to ``edema_extent_mm`` from the lesion box (vasogenic edema follows white matter far).
    ``smoothed_flair`` is :func:`smoothed` of ``flair`` when the caller keeps it (same grid); else
    the search box is filtered here.
    """
    if not lesion.any():
        return np.zeros_like(lesion)
    spacing_zyx = np.asarray(flair.GetSpacing())[::-1]
    idx = np.argwhere(lesion)

    def box(margin_mm: float) -> tuple[np.ndarray, np.ndarray]:
        margin = np.ceil(margin_mm / spacing_zyx).astype(int)
        return np.maximum(idx.min(0) - margin, 0), np.minimum(idx.max(0) + margin + 1, lesion.shape)

    lo, hi = box(max(params["edema_extent_mm"], params["edema_margin_mm"]))
    sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
    if smoothed_flair is not None:
        arr = sitk.GetArrayViewFromImage(smoothed_flair)[sl].astype(np.float64)
    else:
        roi = sitk.RegionOfInterest(flair, [int(v) for v in (hi - lo)[::-1]], [int(v) for v in lo[::-1]])
        arr = sitk.GetArrayFromImage(smoothed(roi, params)).astype(np.float64)
    les = lesion[sl]
    tissue = (arr > background_level(arr)) & ~les
    slo, shi = box(params["edema_margin_mm"])
    stats_box = np.zeros_like(les)
    stats_box[tuple(slice(int(a - o), int(b - o)) for a, b, o in zip(slo, shi, lo))] = True
    near = ndi.binary_dilation(les, structure=np.ones((3, 3, 3), bool), iterations=2)
    normal, cand = edema_normal_stats(arr, tissue & stats_box, tissue, near, params["edema_sd"])
    out = np.zeros_like(lesion)
    if not cand.any():
        return out
    thr = 0.5 * (float(arr[cand].mean()) + normal.median)
    ed = component_at(tissue & (arr >= thr), near)
    closing = ball(spacing_zyx, params["closing_mm"])
    # closing and hole filling on the bounding box of edema + lesion with a margin wider than the
    # closing element: the same result as on the whole search box (outside it all is background), faster
    both = ed | les
    nz = np.argwhere(both)
    pad = np.asarray(closing.shape) + 1
    blo, bhi = np.maximum(nz.min(0) - pad, 0), np.minimum(nz.max(0) + pad + 1, both.shape)
    bsl = tuple(slice(int(a), int(b)) for a, b in zip(blo, bhi))
    part = both[bsl]
    filled = np.zeros_like(both)
    filled[bsl] = fill_holes(ndi.binary_closing(part, structure=closing, border_value=0) | part)
    out[sl] = filled & ~les
    return out


def edema_normal_stats(
    arr: np.ndarray, sample: np.ndarray, tissue: np.ndarray, near: np.ndarray, k_sd: float, *, iterations: int = 3
) -> tuple[RobustStats, np.ndarray]:
    """Normal-tissue FLAIR statistics and the edema candidates (hyperintense voxels connected to the
    lesion, above median + ``k_sd`` robust SD).

    The statistics are re-estimated without the edema candidates found with the previous estimate:
    extensive edema filling a large part of the statistics box would otherwise pull the median
    towards the edema and inflate the SD (threshold too high: faint edema and partial-volume borders
    lost). Only the hyperintense region connected to the lesion is excluded, not every bright voxel,
    so the grey-matter mode stays part of 'normal' (excluding everything above a cut collapses the
    statistics onto white matter and turns grey matter into edema)."""
    normal = robust_stats(arr[sample])
    cand = np.zeros_like(sample)
    for _ in range(iterations):
        cand = component_at(tissue & (arr >= normal.median + k_sd * normal.sd), near)
        rest = sample & ~cand
        if rest.sum() < 50:
            break
        new = robust_stats(arr[rest])
        converged = abs(new.median - normal.median) <= 1e-3 * max(abs(normal.median), 1.0) and abs(new.sd - normal.sd) <= 1e-3 * normal.sd
        normal = new
        if converged:
            break
    cand = component_at(tissue & (arr >= normal.median + k_sd * normal.sd), near)
    return normal, cand


__all__ = ["segment_edema", "edema_normal_stats", "smoothed"]
