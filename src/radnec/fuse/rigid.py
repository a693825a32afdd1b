"""Rigid registration of a follow-up MRI to the planning MRI (SimpleITK, Mattes mutual information).

Convention (project-wide): the returned transform ``T`` maps a point of the PLANNING (fixed) frame,
LPS mm, to the corresponding point of the FOLLOW-UP (moving) frame, so
``sitk.Resample(followup, planning, T)`` brings the follow-up onto the planning grid.

Design: centre-of-mass initialisation (image moments), then a pyramid of images smoothed and shrunk
to about 4 and 2 mm voxels (thick-slice axes are not shrunk further) with Mattes mutual
information (robust to different contrasts and to a smooth bias field) on a fixed random sample of
voxels (fixed seed: same input, same output) and a regular-step gradient descent whose scales are
estimated from a physical shift. Masks restrict the metric (e.g. brain mask, or "not lesion").
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import contextmanager

import numpy as np
import SimpleITK as sitk

from radnec.errors import RegistrationError
from radnec.fuse.checks import check_image, require_overlap

log = logging.getLogger(__name__)

#: Default random seed of the metric sampling (determinism).
DEFAULT_SEED = 20240611
#: ITK threads during rigid registration. ITK's v4 metrics sum per-thread partial results in the
#: order the thread pool hands out work, so with several threads the result differs run to run at
#: ~1e-15, and downstream steps can amplify that (seen: two `analyze` runs of the demo case 0.2 mm
#: apart in maximum displacement). The registration method's own thread setting does not reach the
#: metric; the global default does, so it is set for the duration (and restored). One thread makes
#: the rigid result bit-reproducible across processes.
RIGID_THREADS = 1


@contextmanager
def _itk_threads(n: int):
    before = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(n)
    try:
        yield
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(before)


def _to_float(image: sitk.Image) -> sitk.Image:
    return sitk.Cast(image, sitk.sitkFloat32)


def initial_rigid(fixed: sitk.Image, moving: sitk.Image, *, mode: str = "moments") -> sitk.Euler3DTransform:
    """Centre the moving image on the fixed one.

    Parameters
    ----------
    fixed, moving
        Planning and follow-up images.
    mode
        ``"moments"`` (centres of intensity mass) or ``"geometry"`` (image centres).
    """
    flag = {
        "moments": sitk.CenteredTransformInitializerFilter.MOMENTS,
        "geometry": sitk.CenteredTransformInitializerFilter.GEOMETRY,
    }.get(mode)
    if flag is None:
        raise ValueError(f"mode must be 'moments' or 'geometry', got {mode!r}")
    tx = sitk.CenteredTransformInitializer(_to_float(fixed), _to_float(moving), sitk.Euler3DTransform(), flag)
    return sitk.Euler3DTransform(tx)


def downsample(image: sitk.Image, *, spacing_mm: float) -> sitk.Image:
    """Gaussian-smooth (sigma = half the target spacing, mm) and shrink ``image`` towards an
    isotropic ``spacing_mm`` grid (integer shrink per axis; thick-slice axes are left alone)."""
    factors = [max(1, int(round(spacing_mm / s))) for s in image.GetSpacing()]
    if max(factors) == 1:
        return image
    # ITK's recursive Gaussian refuses sigma 0: axes that are not shrunk get a negligible sigma.
    sig = [0.5 * spacing_mm if f > 1 else 1e-3 * s for f, s in zip(factors, image.GetSpacing())]
    return sitk.Shrink(sitk.SmoothingRecursiveGaussian(image, sig), factors)


def register_rigid(
    fixed: sitk.Image,
    moving: sitk.Image,
    *,
    fixed_mask: sitk.Image | None = None,
    moving_mask: sitk.Image | None = None,
    initial_transform: sitk.Transform | None = None,
    level_spacings_mm: Sequence[float] = (4.0, 2.0),
    histogram_bins: int = 50,
    samples_per_level: int = 20000,
    iterations: int = 150,
    seed: int = DEFAULT_SEED,
) -> sitk.Euler3DTransform:
    """Rigidly register ``moving`` (follow-up) to ``fixed`` (planning).

    Parameters
    ----------
    fixed, moving
        3-D scalar images (any pixel type; cast to float32).
    fixed_mask, moving_mask
        Optional sitkUInt8 0/1 masks restricting the metric (on the fixed / moving grid).
    initial_transform
        Start transform (planning → follow-up); default: moments-centred identity rotation.
    level_spacings_mm
        Pyramid: the images are smoothed and shrunk to about these voxel sizes (mm), coarse to
        fine. Registering a rigid body at 2 mm is as accurate as at 1 mm (the 3-D fit averages
        over 10⁴ samples; bench: 0.1 mm TRE) and 3× faster, because ITK recomputes full-image
        gradients at every level.
    histogram_bins
        Mattes mutual information histogram bins.
    samples_per_level
        Number of voxels sampled at random (fixed ``seed``) for the metric at each level.
    iterations
        Maximum optimiser iterations per level.

    Returns
    -------
    SimpleITK.Euler3DTransform
        Planning → follow-up rigid transform (LPS mm).

    Raises
    ------
    RegistrationError
        2-D input, absurd spacing, no overlap, or an optimiser failure.
    """
    check_image(fixed, name="fixed (planning) image")
    check_image(moving, name="moving (follow-up) image")
    f32, m32 = _to_float(fixed), _to_float(moving)
    if initial_transform is None:
        init = initial_rigid(fixed, moving)
    else:
        init = sitk.Euler3DTransform()
        init.SetCenter(_center_of(fixed))
        _set_from(init, initial_transform)
    require_overlap(fixed, moving, init, what="rigid registration")
    tx = sitk.Euler3DTransform(init)
    for level, spacing in enumerate(level_spacings_mm):
        fl = downsample(f32, spacing_mm=spacing)
        ml = downsample(m32, spacing_mm=spacing)
        reg = sitk.ImageRegistrationMethod()
        reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=histogram_bins)
        reg.SetMetricSamplingStrategy(reg.RANDOM)
        reg.SetMetricSamplingPercentage(min(1.0, samples_per_level / float(np.prod(fl.GetSize()))), seed)
        if fixed_mask is not None:
            reg.SetMetricFixedMask(_mask_on(fixed_mask, fl))
        if moving_mask is not None:
            reg.SetMetricMovingMask(_mask_on(moving_mask, ml))
        reg.SetInterpolator(sitk.sitkLinear)
        reg.SetOptimizerAsRegularStepGradientDescent(
            learningRate=0.5 * spacing,
            minStep=1e-3,
            numberOfIterations=iterations,
            relaxationFactor=0.5,
            gradientMagnitudeTolerance=1e-8,
        )
        reg.SetOptimizerScalesFromPhysicalShift()
        reg.SetInitialTransform(tx, inPlace=True)
        try:
            with _itk_threads(RIGID_THREADS):
                reg.Execute(fl, ml)
        except RuntimeError as exc:  # ITK raises e.g. "All samples map outside moving image buffer"
            raise RegistrationError(
                f"rigid registration failed in SimpleITK at the {spacing} mm level: "
                f"{str(exc).strip().splitlines()[-1]}"
            ) from exc
        log.info(
            "rigid level %d (%.1f mm): %s after %d iterations, metric %.4f",
            level,
            spacing,
            reg.GetOptimizerStopConditionDescription(),
            reg.GetOptimizerIteration(),
            reg.GetMetricValue(),
        )
    params = np.asarray(tx.GetParameters())
    if not np.all(np.isfinite(params)):
        raise RegistrationError("rigid registration diverged (non-finite parameters)")
    return tx


def _mask_on(mask: sitk.Image, reference: sitk.Image) -> sitk.Image:
    """A 0/1 mask resampled (nearest) onto ``reference``'s grid."""
    return sitk.Resample(sitk.Cast(mask > 0, sitk.sitkUInt8), reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)


def _center_of(image: sitk.Image) -> tuple[float, float, float]:
    size = np.asarray(image.GetSize(), dtype=float)
    return image.TransformContinuousIndexToPhysicalPoint(tuple((size - 1) / 2.0))


def _set_from(target: sitk.Euler3DTransform, source: sitk.Transform) -> None:
    """Set ``target`` (with its centre kept) to the rigid transform ``source`` (any affine-like)."""
    matrix, translation = affine_parts(source)
    target.SetMatrix(tuple(matrix.ravel()), 1e-4)
    c = np.asarray(target.GetCenter())
    # x -> M (x - c) + c + t'  equals  x -> M x + translation
    target.SetTranslation(tuple(translation - c + matrix @ c))


def affine_parts(transform: sitk.Transform) -> tuple[np.ndarray, np.ndarray]:
    """Matrix ``M`` (3x3) and translation ``t`` (mm) with ``T(x) = M x + t`` for a linear transform.

    Works for any transform that is affine (Euler, Versor, Affine, Translation, composites of those)
    by probing points; raises :class:`RegistrationError` when the transform is not affine.
    """
    pts = np.array([[0, 0, 0], [100, 0, 0], [0, 100, 0], [0, 0, 100], [37, -51, 23]], dtype=float)
    out = np.array([transform.TransformPoint(tuple(p)) for p in pts])
    t = out[0]
    m = (out[1:4] - t).T / 100.0
    if not np.allclose(m @ pts[4] + t, out[4], atol=1e-6):
        raise RegistrationError(f"transform {transform.GetName()} is not affine; cannot use it as the rigid part")
    return m, t


def matrix_of(transform: sitk.Transform) -> np.ndarray:
    """4x4 homogeneous matrix of an affine-like transform (see :func:`affine_parts`)."""
    m, t = affine_parts(transform)
    out = np.eye(4)
    out[:3, :3] = m
    out[:3, 3] = t
    return out


__all__ = [
    "DEFAULT_SEED",
    "initial_rigid",
    "register_rigid",
    "downsample",
    "affine_parts",
    "matrix_of",
]
