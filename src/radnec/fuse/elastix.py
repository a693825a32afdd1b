"""Deformable refinement around the lesion with itk-elastix (B-spline, Mattes mutual information,
lesion and oedema excluded from the metric with elastix masks).

Convention (as :mod:`radnec.fuse.deformable`): the result ``D`` is a SimpleITK displacement-field
transform in the PLANNING frame, identity outside a box around the lesion, and the full planning →
follow-up mapping is ``T = R ∘ D`` with ``R`` the rigid part.

How it is computed: the follow-up is resampled through ``R`` onto a planning-frame box around the
lesion (``m_box(x) = followup(R(x))``). elastix registers ``fixed = planning box`` to ``moving =
m_box``; its B-spline transform ``B`` maps a planning point ``x`` to the ``m_box`` point ``B(x)``
(ITK/elastix convention: fixed → moving), hence ``T(x) = R(B(x))`` and ``D(x) = B(x) − x``.
The elastix result is converted to a SimpleITK ``BSplineTransform`` (elastix's GridSize/Origin/
Spacing/Direction are ITK's B-spline fixed parameters) and ``B(x) − x`` is evaluated with
``sitk.TransformToDisplacementField`` directly on a ``field_spacing_mm`` grid (transformix on the
1 mm box took ~8 s more); the displacement inside the masked lesion is replaced by a smooth
interpolation of its surroundings and tapered to zero at the box border (continuous ``T``).

How the lesion is kept from "explaining away" its growth: elastix samples the metric only where the
fixed mask is set (planning head, minus the dilated planning lesion) and drops samples that map into
the moving mask's zero region (dilated follow-up lesion + oedema, and outside the follow-up field of
view). The B-spline transform is smooth and only the unchanged brain around the lesion drives it.

``itk`` is imported lazily: loading its elastix wrappers costs 10-17 s once per process (never at
import time of a CLI module). Threads: ITK's global default number of threads
is set (``SetNumberOfThreads`` on the filter with a B-spline map segfaults, ITKElastix #160).
"""

from __future__ import annotations

import logging
import tempfile
from typing import Any

import numpy as np
import SimpleITK as sitk

from radnec.errors import RegistrationError
from radnec.threads import case_threads
from radnec.fuse.checks import check_image
from radnec.fuse.field import field_grid, inpaint_field, tapered_transform
from radnec.fuse.region import (
    DEFAULT_BIAS_SIGMA_MM,
    DEFAULT_FIELD_SPACING_MM,
    DEFAULT_MARGIN_MM,
    DEFAULT_MASK_MARGIN_MM,
    DEFAULT_TAPER_MM,
    box_and_holes,
    normalise_local_mean,
)
from radnec.fuse.rigid import DEFAULT_SEED

log = logging.getLogger(__name__)



def _itk():  # noqa: ANN202
    try:
        import itk
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise RegistrationError(
            "the elastix deformable engine needs the 'itk-elastix' package (pip install itk-elastix); "
            "or choose engine='demons'"
        ) from exc
    return itk


def _to_itk(image: sitk.Image, pixel: type = np.float32):  # noqa: ANN202
    itk = _itk()
    arr = sitk.GetArrayFromImage(image).astype(pixel)
    out = itk.GetImageFromArray(np.ascontiguousarray(arr))
    out.SetOrigin(tuple(float(v) for v in image.GetOrigin()))
    out.SetSpacing(tuple(float(v) for v in image.GetSpacing()))
    out.SetDirection(itk.matrix_from_array(np.asarray(image.GetDirection(), dtype=float).reshape(3, 3)))
    return out


def parameter_map(
    *,
    grid_spacing_mm: float,
    resolutions: int,
    iterations: int,
    samples: int,
    bins: int,
    bending_weight: float,
    seed: int,
) -> dict[str, list[str]]:
    """The elastix B-spline parameter map radnec uses (strings, as elastix wants them)."""
    m: dict[str, Any] = {
        "Registration": "MultiMetricMultiResolutionRegistration" if bending_weight > 0 else "MultiResolutionRegistration",
        "FixedImagePyramid": "FixedSmoothingImagePyramid",
        "MovingImagePyramid": "MovingSmoothingImagePyramid",
        "NumberOfResolutions": resolutions,
        "Interpolator": "BSplineInterpolator",
        "BSplineInterpolationOrder": 1,
        "ResampleInterpolator": "FinalBSplineInterpolator",
        "FinalBSplineInterpolationOrder": 3,
        "Resampler": "DefaultResampler",
        "Optimizer": "AdaptiveStochasticGradientDescent",
        "MaximumNumberOfIterations": iterations,
        "Transform": "BSplineTransform",
        "FinalGridSpacingInPhysicalUnits": grid_spacing_mm,
        "HowToCombineTransforms": "Compose",
        "ImageSampler": "RandomCoordinate",
        "NumberOfSpatialSamples": samples,
        "NewSamplesEveryIteration": "true",
        "CheckNumberOfSamples": "true",
        "NumberOfHistogramBins": bins,
        "RandomSeed": seed,
        "ErodeMask": "false",
        "AutomaticTransformInitialization": "false",
        "AutomaticParameterEstimation": "true",
        "UseDirectionCosines": "true",
        "WriteResultImage": "false",
        "DefaultPixelValue": 0,
        "FixedInternalImagePixelType": "float",
        "MovingInternalImagePixelType": "float",
        "FixedImageDimension": 3,
        "MovingImageDimension": 3,
    }
    if bending_weight > 0:
        m["Metric"] = ["AdvancedMattesMutualInformation", "TransformBendingEnergyPenalty"]
        m["Metric0Weight"] = 1.0
        m["Metric1Weight"] = bending_weight
    else:
        m["Metric"] = "AdvancedMattesMutualInformation"
    out = {}
    for k, v in m.items():
        vals = v if isinstance(v, list) else [v]
        out[k] = [str(x) for x in vals]
    return out


def register_deformable_elastix(
    fixed: sitk.Image,
    moving: sitk.Image,
    *,
    rigid: sitk.Transform,
    center_lps: np.ndarray,
    fixed_exclude: sitk.Image | None = None,
    moving_exclude: sitk.Image | None = None,
    margin_mm: float = DEFAULT_MARGIN_MM,
    taper_mm: float = DEFAULT_TAPER_MM,
    mask_margin_mm: float = DEFAULT_MASK_MARGIN_MM,
    grid_spacing_mm: float = 15.0,
    resolutions: int = 2,
    iterations: int = 150,
    samples: int = 2000,
    bins: int = 32,
    bending_weight: float = 0.0,
    normalise: bool = True,
    bias_sigma_mm: float = DEFAULT_BIAS_SIGMA_MM,
    field_spacing_mm: float = DEFAULT_FIELD_SPACING_MM,
    threads: int | None = None,
    seed: int = DEFAULT_SEED,
) -> sitk.DisplacementFieldTransform:
    """Deformable refinement (itk-elastix B-spline) in a box around the lesion, after the rigid step.

    Parameters
    ----------
    fixed, moving
        Planning and follow-up images (3-D).
    rigid
        Planning → follow-up rigid transform.
    center_lps
        Centre of the region (LPS mm, planning frame), usually the lesion centroid.
    fixed_exclude, moving_exclude
        Masks (0/1) of what changed between the scans: the planning lesion (planning grid) and the
        follow-up lesion + oedema (follow-up grid); excluded from the metric.
    margin_mm
        The refined region's half-size is the lesion's half-extent plus this (mm).
    taper_mm
        The box extends this far beyond the refined region; the displacement is ramped to zero over
        it (mm).
    mask_margin_mm
        Dilation (mm) of the exclusion masks.
    grid_spacing_mm
        Final B-spline control-point spacing (mm); elastix halves the density per coarser level.
        Tuned on ``benchmarks/bench_fusion.py`` seeds 1, 2, 5 (near-lesion TRE p95, mm, at
        150 iterations / 2000 samples): 7 mm 1.03-1.20, 10 mm 0.81-0.97, 15 mm 0.56-0.80,
        20 mm 0.57-0.84; 15 mm with 2 levels 0.57-0.64 and the fastest. Mass effect is smooth; a
        finer grid over-fits the tissue next to the masked region.
    resolutions, iterations, samples, bins
        elastix pyramid levels, optimiser iterations per level, random samples per iteration,
        Mattes histogram bins (250 iterations / 4000 samples was worse on seed 1 at a 10 mm grid:
        p95 1.09 vs 0.81 mm).
    bending_weight
        Weight of elastix's bending-energy penalty (0 = off).
    normalise
        Divide each image by its local mean first (``bias_sigma_mm``; removes the bias field).
    field_spacing_mm
        Spacing (mm) of the output displacement field.
    threads
        ITK global default number of threads; None: :func:`radnec.threads.case_threads` (2 unless a
        cohort worker limits it).
    seed
        elastix random sampler seed (deterministic given the thread count).

    Returns
    -------
    SimpleITK.DisplacementFieldTransform
        ``D`` with ``T = R ∘ D`` mapping planning → follow-up; identity outside the box.
    """
    check_image(fixed, name="fixed (planning) image")
    check_image(moving, name="moving (follow-up) image")
    itk = _itk()
    itk.MultiThreaderBase.SetGlobalDefaultNumberOfThreads(int(case_threads() if threads is None else threads))
    f_box, m_box, valid, f_hole, m_hole, radius = box_and_holes(
        fixed, moving, rigid=rigid, center_lps=center_lps, fixed_exclude=fixed_exclude,
        moving_exclude=moving_exclude, margin_mm=margin_mm, taper_mm=taper_mm, mask_margin_mm=mask_margin_mm,
    )
    fhead = sitk.GetArrayFromImage(sitk.OtsuThreshold(f_box, 0, 1, 128)) > 0
    mhead = sitk.GetArrayFromImage(sitk.OtsuThreshold(m_box, 0, 1, 128)) > 0
    if normalise:
        fa = normalise_local_mean(f_box, fhead & ~f_hole, sigma_mm=bias_sigma_mm)
        ma = normalise_local_mean(m_box, mhead & ~m_hole & valid, sigma_mm=bias_sigma_mm)
    else:
        fa, ma = sitk.GetArrayFromImage(f_box), sitk.GetArrayFromImage(m_box)
    # Fixed mask: planning head minus its (dilated) lesion. Moving mask: everything but the
    # follow-up lesion + oedema and the outside of the follow-up field of view; elastix drops the
    # samples that the current transform maps there, so the follow-up lesion's planning-frame
    # pre-image is excluded as the registration proceeds.
    f_mask = fhead & ~f_hole & valid
    m_mask = ~m_hole & valid
    if f_mask.sum() < 1000:
        raise RegistrationError(
            f"only {int(f_mask.sum())} voxels of brain around the lesion are usable for deformable registration "
            "(lesion mask covers the region? follow-up field of view too small?)"
        )

    def img(a: np.ndarray, pixel: type) -> Any:
        s = sitk.GetImageFromArray(a.astype(pixel))
        s.CopyInformation(f_box)
        return _to_itk(s, pixel)

    f_itk, m_itk = img(fa, np.float32), img(ma, np.float32)
    params = itk.ParameterObject.New()
    params.AddParameterMap(
        parameter_map(
            grid_spacing_mm=grid_spacing_mm,
            resolutions=resolutions,
            iterations=iterations,
            samples=samples,
            bins=bins,
            bending_weight=bending_weight,
            seed=seed,
        )
    )
    with tempfile.TemporaryDirectory(prefix="radnec-elastix-") as tmp:
        try:
            elx = itk.ElastixRegistrationMethod.New(fixed_image=f_itk, moving_image=m_itk)
            elx.SetParameterObject(params)
            elx.SetFixedMask(img(f_mask, np.uint8))
            elx.SetMovingMask(img(m_mask, np.uint8))
            elx.SetLogToConsole(False)
            elx.SetLogToFile(False)
            elx.SetOutputDirectory(tmp)
            elx.UpdateLargestPossibleRegion()
            bspline = _bspline_from_elastix(elx.GetTransformParameterObject())
        except RuntimeError as exc:
            raise RegistrationError(
                f"deformable registration failed in elastix: {str(exc).strip().splitlines()[-1] if str(exc).strip() else exc}"
            ) from exc
    # D(x) = B(x) - x on the output grid (field_spacing_mm) covering the box.
    ref = field_grid(f_box, field_spacing_mm)
    out_field = sitk.TransformToDisplacementField(
        bspline, sitk.sitkVectorFloat64, ref.GetSize(), ref.GetOrigin(), ref.GetSpacing(), ref.GetDirection()
    )
    arr = sitk.GetArrayFromImage(out_field)
    if not np.all(np.isfinite(arr)):
        raise RegistrationError("elastix returned a non-finite deformation")
    hole_img = sitk.GetImageFromArray((f_hole | m_hole).astype(np.uint8))
    hole_img.CopyInformation(f_box)
    hole = sitk.GetArrayFromImage(sitk.Resample(hole_img, ref, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)) > 0
    if hole.any():
        arr = inpaint_field(arr, hole, ref.GetSpacing()[::-1], sigma_mm=max(3.0, 0.5 * radius))
    out_field = sitk.GetImageFromArray(arr, isVector=True)
    out_field.CopyInformation(ref)
    return tapered_transform(out_field, taper_mm)


__all__ = ["parameter_map", "register_deformable_elastix"]


def _bspline_from_elastix(params) -> sitk.BSplineTransform:  # noqa: ANN001
    """The elastix result (one B-spline map) as a SimpleITK B-spline transform (same fixed → moving
    mapping; elastix's grid parameters are ITK's B-spline fixed parameters)."""
    m = params.GetParameterMap(params.GetNumberOfParameterMaps() - 1)

    def floats(key: str) -> list[float]:
        return [float(v) for v in m[key]]

    if m["Transform"][0] != "BSplineTransform" or params.GetNumberOfParameterMaps() != 1:
        raise RegistrationError("unexpected elastix result: one BSplineTransform map expected")
    if any(float(v) != 0 for v in m["GridIndex"]):
        raise RegistrationError("unexpected elastix result: non-zero B-spline GridIndex")
    order = int(m.get("BSplineTransformSplineOrder", ["3"])[0])
    b = sitk.BSplineTransform(3, order)
    b.SetFixedParameters(floats("GridSize") + floats("GridOrigin") + floats("GridSpacing") + floats("GridDirection"))
    b.SetParameters(floats("TransformParameters"))
    return b
