"""The working region of the deformable engines: a box around the lesion and what is excluded in it.

Both engines (:mod:`radnec.fuse.deformable`, demons; :mod:`radnec.fuse.elastix`, B-spline) refine
the rigid fusion only in a box of the planning grid around the lesion. In that box the follow-up is
resampled through the rigid transform, and the lesion and oedema, which changed between the scans and
have no intensity correspondence, are marked as holes (dilated by a margin). Intensities are
normalised by their local mean (bias field, global scale) and holes can be filled with a smooth,
featureless interpolation of their surroundings. Grids are LPS mm; arrays are (z, y, x).
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from radnec.errors import RegistrationError

# Defaults shared by both deformable engines (one place, so demons and elastix cannot drift apart).
#: Half-size of the refined region beyond the lesion's half-extent (mm).
DEFAULT_MARGIN_MM = 35.0
#: Width of the border over which the displacement is ramped to zero (mm).
DEFAULT_TAPER_MM = 15.0
#: Dilation of the lesion / oedema exclusion masks (mm; partial volume, segmentation uncertainty).
DEFAULT_MASK_MARGIN_MM = 1.0
#: Scale of the local-mean intensity normalisation (mm).
DEFAULT_BIAS_SIGMA_MM = 15.0
#: Spacing of the output displacement field (mm).
DEFAULT_FIELD_SPACING_MM = 2.0


def lesion_box(
    reference: sitk.Image, *, center_lps: np.ndarray, half_size_mm: float
) -> tuple[list[int], list[int]]:
    """Index and size of the region of ``reference`` within ``half_size_mm`` (per axis) of
    ``center_lps``, clipped to the image. Raises :class:`RegistrationError` when the centre lies
    outside the image or the box is too thin to register (fewer than 8 voxels on an axis)."""
    c = np.asarray(reference.TransformPhysicalPointToContinuousIndex(tuple(float(v) for v in center_lps)))
    size = np.asarray(reference.GetSize())
    if np.any(c < -0.5) or np.any(c > size - 0.5):
        raise RegistrationError(
            f"the lesion centre {np.round(center_lps, 1).tolist()} (LPS mm) lies outside the planning image; "
            "check the lesion mask and the frame of reference"
        )
    half = half_size_mm / np.asarray(reference.GetSpacing())
    lo = np.clip(np.floor(c - half), 0, size - 1).astype(int)
    hi = np.clip(np.ceil(c + half), 0, size - 1).astype(int)
    box = (hi - lo + 1).astype(int)
    if np.any(box < 8):
        raise RegistrationError(
            f"the region around the lesion is only {box.tolist()} voxels; deformable registration needs at "
            "least 8 voxels per axis (thick slices? use rigid only)"
        )
    return lo.tolist(), box.tolist()


def extent_radius_mm(mask: sitk.Image | None) -> float:
    """Half the largest bounding-box side (mm) of a 0/1 mask; 0 for None or empty."""
    if mask is None:
        return 0.0
    stats = sitk.LabelShapeStatisticsImageFilter()
    stats.Execute(sitk.Cast(mask > 0, sitk.sitkUInt8))
    if not stats.HasLabel(1):
        return 0.0
    bbox = stats.GetBoundingBox(1)
    return 0.5 * max(n * s for n, s in zip(bbox[3:], mask.GetSpacing()))


def dilate(mask: sitk.Image, margin_mm: float) -> sitk.Image:
    """``mask`` (0/1) dilated by a ball of ``margin_mm`` (rounded to voxels per axis); uint8."""
    m = sitk.Cast(mask > 0, sitk.sitkUInt8)
    if margin_mm <= 0:
        return m
    radius = [max(0, int(round(margin_mm / s))) for s in mask.GetSpacing()]
    return sitk.BinaryDilate(m, radius, sitk.sitkBall)


def ones_like(image: sitk.Image) -> sitk.Image:
    """A uint8 image of ones on the grid of ``image``."""
    ones = sitk.Image(image.GetSize(), sitk.sitkUInt8) + 1
    ones.CopyInformation(image)
    return ones


def box_and_holes(
    fixed: sitk.Image,
    moving: sitk.Image,
    *,
    rigid: sitk.Transform,
    center_lps: np.ndarray,
    fixed_exclude: sitk.Image | None,
    moving_exclude: sitk.Image | None,
    margin_mm: float,
    taper_mm: float,
    mask_margin_mm: float,
) -> tuple[sitk.Image, sitk.Image, np.ndarray, np.ndarray, np.ndarray, float]:
    """The working box of a deformable engine (planning grid) and what is excluded in it.

    Returns ``(f_box, m_box, valid, f_hole, m_hole, radius_mm)``: the planning image cropped to the
    box, the follow-up resampled into it through ``rigid``, where the follow-up has data, the
    planning lesion and the follow-up lesion + oedema (both dilated by ``mask_margin_mm``) as
    boolean arrays on the box grid, and the lesions' half-extent (mm). The box extends ``taper_mm``
    beyond the refined region: registration and intensity normalisation are unreliable near a box
    border, and that is where the field is tapered away.
    """
    radius = max(extent_radius_mm(fixed_exclude), extent_radius_mm(moving_exclude))
    index, size = lesion_box(fixed, center_lps=center_lps, half_size_mm=radius + margin_mm + taper_mm)
    f_box = sitk.RegionOfInterest(sitk.Cast(fixed, sitk.sitkFloat32), size, index)
    m_box = sitk.Resample(sitk.Cast(moving, sitk.sitkFloat32), f_box, rigid, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    valid = sitk.GetArrayFromImage(
        sitk.Resample(ones_like(moving), f_box, rigid, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    ) > 0
    f_hole = np.zeros(f_box.GetSize()[::-1], dtype=bool)  # planning lesion, planning frame
    m_hole = np.zeros_like(f_hole)  # follow-up lesion + oedema, follow-up frame (box grid via R)
    for mask, tfm, hole in ((fixed_exclude, sitk.Transform(), f_hole), (moving_exclude, rigid, m_hole)):
        if mask is not None:
            hole |= sitk.GetArrayFromImage(
                sitk.Resample(dilate(mask, mask_margin_mm), f_box, tfm, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
            ) > 0
    return f_box, m_box, valid, f_hole, m_hole, radius


def normalise_local_mean(image: sitk.Image, support: np.ndarray, *, sigma_mm: float) -> np.ndarray:
    """Divide ``image`` by its local mean over ``support`` (normalised convolution, Gaussian
    ``sigma_mm``): removes a smooth bias field and the global intensity scale."""
    arr = sitk.GetArrayFromImage(image).astype(np.float64)
    from scipy.ndimage import gaussian_filter

    sig = [sigma_mm / s for s in image.GetSpacing()[::-1]]
    w = support.astype(np.float64)
    num = gaussian_filter(arr * w, sig, mode="nearest")
    den = gaussian_filter(w, sig, mode="nearest")
    local = np.where(den > 1e-3, num / np.maximum(den, 1e-3), 0.0)
    scale = np.median(local[support]) if support.any() else 1.0
    out = np.where(local > 1e-3 * scale, arr / np.maximum(local, 1e-6 * scale), 0.0)
    # Outside the head the local mean is noise: ratios there would be wild and drive demons.
    out[~support] = 0.0
    return np.clip(out, 0.0, 3.0)


def fill_smooth(arr: np.ndarray, hole: np.ndarray, spacing_zyx: tuple[float, ...], *, sigma_mm: float) -> np.ndarray:
    """Replace ``arr`` inside ``hole`` by a smooth interpolation of the values around it
    (normalised convolution), so the excluded region carries no edges and no forces."""
    from scipy.ndimage import gaussian_filter

    if not hole.any():
        return arr
    sig = [sigma_mm / s for s in spacing_zyx]
    keep = (~hole).astype(np.float64)
    num = gaussian_filter(arr * keep, sig, mode="nearest")
    den = gaussian_filter(keep, sig, mode="nearest")
    smooth = num / np.maximum(den, 1e-6)
    out = arr.copy()
    out[hole] = smooth[hole]
    return out


__all__ = [
    "DEFAULT_MARGIN_MM",
    "DEFAULT_TAPER_MM",
    "DEFAULT_MASK_MARGIN_MM",
    "DEFAULT_BIAS_SIGMA_MM",
    "DEFAULT_FIELD_SPACING_MM",
    "lesion_box", "extent_radius_mm", "dilate", "ones_like", "box_and_holes", "normalise_local_mean", "fill_smooth"]
