"""Deformable refinement around the lesion, after a whole-brain rigid step.

Convention: the result ``D`` is a displacement-field transform in the PLANNING frame; the full
planning → follow-up mapping is ``T = R ∘ D`` (``sitk.CompositeTransform([R, D])``), ``R`` the rigid
part. Outside the box around the lesion, ``D`` is the identity.

How the lesion is kept from "explaining away" its own growth: the lesion and its oedema changed
between the scans, so no intensity correspondence exists there. They are removed from the
similarity metric with metric masks — the follow-up lesion + oedema segmentation (moving mask, on the
follow-up grid) and the planning lesion (fixed mask, on the planning grid), each dilated by
``mask_margin_mm``. Only the surrounding, unchanged brain drives the B-spline; inside the masked
region the displacement is the smooth B-spline interpolation of its surroundings (mass effect is
smooth), never a fit to the new lesion's edges.

Engine (chosen with ``benchmarks/bench_fusion.py``): SimpleITK B-spline (cubic, two grid levels,
control points every ``grid_spacing_mm``) with Mattes mutual information — robust to contrast change
and bias field between the two MRIs — and L-BFGS, restricted to a box of ``margin_mm`` around the
lesion. The B-spline is sampled to a displacement field (``field_spacing_mm``) whose magnitude is
tapered to zero over the outer ``taper_mm`` of the box, so the composite transform stays continuous.
"""

from __future__ import annotations

import logging

import numpy as np
import SimpleITK as sitk

from radnec.errors import RegistrationError
from radnec.fuse.checks import check_image
from radnec.fuse.rigid import DEFAULT_SEED

log = logging.getLogger(__name__)


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


def _extent_radius_mm(mask: sitk.Image | None) -> float:
    """Half the largest bounding-box side (mm) of a 0/1 mask; 0 for None or empty."""
    if mask is None:
        return 0.0
    stats = sitk.LabelShapeStatisticsImageFilter()
    stats.Execute(sitk.Cast(mask > 0, sitk.sitkUInt8))
    if not stats.HasLabel(1):
        return 0.0
    bbox = stats.GetBoundingBox(1)
    return 0.5 * max(n * s for n, s in zip(bbox[3:], mask.GetSpacing()))


def _dilate(mask: sitk.Image, margin_mm: float) -> sitk.Image:
    m = sitk.Cast(mask > 0, sitk.sitkUInt8)
    if margin_mm <= 0:
        return m
    radius = [max(0, int(round(margin_mm / s))) for s in mask.GetSpacing()]
    return sitk.BinaryDilate(m, radius, sitk.sitkBall)


def _taper(field_ref: sitk.Image, taper_mm: float) -> np.ndarray:
    """Weights 0 at the box border rising to 1 at ``taper_mm`` inside (cosine ramp), per axis product."""
    size = np.asarray(field_ref.GetSize())
    sp = np.asarray(field_ref.GetSpacing())
    weights = []
    for ax in range(3):
        pos = np.arange(size[ax]) * sp[ax]
        d = np.minimum(pos, pos[-1] - pos)
        w = np.clip(d / taper_mm, 0.0, 1.0) if taper_mm > 0 else np.ones_like(d)
        weights.append(0.5 - 0.5 * np.cos(np.pi * w))
    wz, wy, wx = weights[2], weights[1], weights[0]
    return wz[:, None, None] * wy[None, :, None] * wx[None, None, :]


def register_deformable(
    fixed: sitk.Image,
    moving: sitk.Image,
    *,
    rigid: sitk.Transform,
    center_lps: np.ndarray,
    fixed_exclude: sitk.Image | None = None,
    moving_exclude: sitk.Image | None = None,
    margin_mm: float = 40.0,
    grid_spacing_mm: float = 12.0,
    field_spacing_mm: float = 2.0,
    taper_mm: float = 8.0,
    mask_margin_mm: float = 2.0,
    histogram_bins: int = 32,
    samples: int = 40000,
    iterations: int = 60,
    seed: int = DEFAULT_SEED,
) -> sitk.DisplacementFieldTransform:
    """Deformable B-spline refinement in a box around the lesion (planning frame).

    Parameters
    ----------
    fixed, moving
        Planning and follow-up images (3-D).
    rigid
        Planning → follow-up rigid transform (from :func:`radnec.fuse.rigid.register_rigid`, a
        DICOM REG, or identity for a shared frame of reference).
    center_lps
        Centre of the region (LPS mm, planning frame), usually the lesion centroid.
    fixed_exclude, moving_exclude
        Masks (0/1) of what changed between the scans, kept out of the similarity metric:
        the planning lesion (planning grid) and the follow-up lesion + oedema (follow-up grid).
    margin_mm
        Half-size of the box is the lesion radius plus this (mm); the box is the region refined.
    grid_spacing_mm
        Final B-spline control point spacing (mm); the first level uses twice this.
    field_spacing_mm
        Spacing (mm) of the output displacement field.
    taper_mm
        Width (mm) of the cosine ramp that brings the displacement to zero at the box border.
    mask_margin_mm
        Dilation (mm) of the exclusion masks (partial volume, segmentation uncertainty).
    histogram_bins, samples, iterations, seed
        Mattes MI bins, random metric samples per level, L-BFGS iterations per level, seed.

    Returns
    -------
    SimpleITK.DisplacementFieldTransform
        ``D`` with ``T = R ∘ D`` mapping planning → follow-up; identity outside the box.
    """
    check_image(fixed, name="fixed (planning) image")
    check_image(moving, name="moving (follow-up) image")
    radius = max(_extent_radius_mm(fixed_exclude), _extent_radius_mm(moving_exclude))
    half = radius + margin_mm
    index, size = lesion_box(fixed, center_lps=center_lps, half_size_mm=half)
    f32 = sitk.RegionOfInterest(sitk.Cast(fixed, sitk.sitkFloat32), size, index)

    # Crop the follow-up to the rigid image of the box (+10 mm) so per-level set-up stays small.
    corners = np.array(
        [f32.TransformIndexToPhysicalPoint((i, j, k)) for i in (0, size[0] - 1) for j in (0, size[1] - 1) for k in (0, size[2] - 1)]
    )
    mc = np.array([rigid.TransformPoint(tuple(p)) for p in corners])
    cidx = np.array([moving.TransformPhysicalPointToContinuousIndex(tuple(p)) for p in mc])
    pad = 10.0 / np.asarray(moving.GetSpacing())
    msize = np.asarray(moving.GetSize())
    lo = np.clip(np.floor(cidx.min(axis=0) - pad), 0, msize - 1).astype(int)
    hi = np.clip(np.ceil(cidx.max(axis=0) + pad), 0, msize - 1).astype(int)
    if np.any(hi - lo < 4):
        raise RegistrationError("the region around the lesion falls outside the follow-up image after the rigid step")
    m32 = sitk.RegionOfInterest(sitk.Cast(moving, sitk.sitkFloat32), (hi - lo + 1).tolist(), lo.tolist())

    mesh = [max(1, int(round(s * sp / (2 * grid_spacing_mm)))) for s, sp in zip(f32.GetSize(), f32.GetSpacing())]
    bspline = sitk.BSplineTransformInitializer(f32, mesh, 3)
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=histogram_bins)
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentagePerLevel(
        [min(1.0, samples * f**3 / float(np.prod(f32.GetSize()))) for f in (2, 1)], seed
    )
    fmask = sitk.Image(f32.GetSize(), sitk.sitkUInt8) + 1
    fmask.CopyInformation(f32)
    if fixed_exclude is not None:
        ex = sitk.Resample(_dilate(fixed_exclude, mask_margin_mm), f32, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
        fmask = fmask - ex
    reg.SetMetricFixedMask(fmask)
    if moving_exclude is not None:
        mex = sitk.Resample(_dilate(moving_exclude, mask_margin_mm), m32, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
        reg.SetMetricMovingMask(1 - mex)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetMovingInitialTransform(rigid)
    reg.SetInitialTransformAsBSpline(bspline, inPlace=True, scaleFactors=[1, 2])
    reg.SetOptimizerAsLBFGS2(
        solutionAccuracy=1e-5,
        numberOfIterations=iterations,
        deltaConvergenceTolerance=1e-4,
    )
    reg.SetShrinkFactorsPerLevel([2, 1])
    reg.SetSmoothingSigmasPerLevel([2.0, 1.0])
    reg.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    try:
        reg.Execute(f32, m32)
    except RuntimeError as exc:
        raise RegistrationError(
            f"deformable registration failed in SimpleITK: {str(exc).strip().splitlines()[-1]}"
        ) from exc
    log.info(
        "deformable: %s, %d iterations, metric %.4f",
        reg.GetOptimizerStopConditionDescription(),
        reg.GetOptimizerIteration(),
        reg.GetMetricValue(),
    )

    fsize = [max(2, int(np.floor(s * sp / field_spacing_mm)) + 1) for s, sp in zip(f32.GetSize(), f32.GetSpacing())]
    field = sitk.TransformToDisplacementField(
        bspline, sitk.sitkVectorFloat64, fsize, f32.GetOrigin(), (field_spacing_mm,) * 3, f32.GetDirection()
    )
    arr = sitk.GetArrayFromImage(field)
    if not np.all(np.isfinite(arr)):
        raise RegistrationError("deformable registration diverged (non-finite displacement)")
    arr *= _taper(field, taper_mm)[..., None]
    out = sitk.GetImageFromArray(arr, isVector=True)
    out.CopyInformation(field)
    return sitk.DisplacementFieldTransform(out)


__all__ = ["lesion_box", "register_deformable"]
