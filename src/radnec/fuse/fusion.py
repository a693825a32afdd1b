"""One call from two images to a checked :class:`FusionResult` (rigid, then deformable around the lesion).

Decision on what the files already say (issue 4, item 3):

* same FrameOfReferenceUID → the scanner already puts both series in one patient frame: radnec does
  not re-register but *verifies* — a rigid registration is run and the mean distance it moves brain
  points is reported as ``same_frame_residual_mm``; the identity is kept when that residual is within
  the TG-132 tolerance, otherwise the registered transform is used and the result is flagged;
* a DICOM Spatial Registration (e.g. from the planning system or MIM) linking the two frames → its
  matrix is the rigid part (no rigid optimisation);
* otherwise → rigid registration.

A deformable refinement around the lesion follows when a lesion centre or mask is given.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import SimpleITK as sitk

from radnec.errors import RegistrationError
from radnec.fuse import quality
from radnec.fuse.checks import check_image, require_overlap
from radnec.fuse.deformable import register_deformable
from radnec.fuse.rigid import initial_rigid, register_rigid
from radnec.fuse.transforms import FusionResult
from radnec.geometry import mask_centroid_lps

log = logging.getLogger(__name__)

#: Deformable engines ``fuse`` can use (see docs/fusion.md for the benchmark that chose the default).
ENGINES = ("elastix", "demons")
#: The default deformable engine: near-lesion TRE p95 <= 1 mm on the benchmark (demons: 2.4 mm).
DEFAULT_ENGINE = "elastix"


def _engine_description(engine: str) -> str:
    base = f"SimpleITK {sitk.Version.VersionString()}"
    if engine == "elastix":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"{base} rigid + itk-elastix {version('itk-elastix')} B-spline"
        except PackageNotFoundError:  # pragma: no cover
            return f"{base} rigid + itk-elastix B-spline"
    if engine == "demons":
        return f"{base} rigid + symmetric-forces demons"
    return base


def fuse(
    fixed: sitk.Image,
    moving: sitk.Image,
    *,
    fixed_frame_uid: str | None = None,
    moving_frame_uid: str | None = None,
    registration: sitk.Transform | None = None,
    moving_lesion_mask: sitk.Image | None = None,
    fixed_lesion_mask: sitk.Image | None = None,
    lesion_center_lps: np.ndarray | None = None,
    deformable: bool = True,
    inverse_consistency: bool = False,
    rigid_options: dict[str, Any] | None = None,
    deformable_options: dict[str, Any] | None = None,
    engine: str = DEFAULT_ENGINE,
) -> FusionResult:
    """Fuse a follow-up image (``moving``) to the planning image (``fixed``).

    Parameters
    ----------
    fixed, moving
        Planning and follow-up images (3-D).
    fixed_frame_uid, moving_frame_uid
        DICOM FrameOfReferenceUIDs, when known; equal UIDs trigger verification instead of
        registration.
    registration
        A rigid planning → follow-up transform from a DICOM REG (:mod:`radnec.ingest.reg`), used as the
        rigid part.
    moving_lesion_mask
        Follow-up lesion + oedema (0/1, follow-up grid): excluded from the deformable similarity and
        used to centre the deformable box.
    fixed_lesion_mask
        Planning lesion (0/1, planning grid), excluded too.
    lesion_center_lps
        Centre of the deformable box (planning frame, LPS mm); default: centroid of the follow-up
        lesion mapped rigidly, or of the planning lesion.
    deformable
        Run the deformable refinement (needs a lesion mask or centre).
    inverse_consistency
        Also register follow-up → planning rigidly and report the inverse-consistency error (costs
        one more rigid registration).
    rigid_options, deformable_options
        Keyword options passed to :func:`register_rigid` and to the deformable engine's function.
    engine
        Deformable engine: ``"elastix"`` (default; itk-elastix B-spline with metric masks,
        :func:`radnec.fuse.elastix.register_deformable_elastix`) or ``"demons"`` (SimpleITK
        symmetric-forces demons, :func:`radnec.fuse.deformable.register_deformable`; no itk import).
    """
    if engine not in ENGINES:
        raise RegistrationError(f"unknown deformable engine {engine!r}; choose one of {', '.join(ENGINES)}")
    check_image(fixed, name="fixed (planning) image")
    check_image(moving, name="moving (follow-up) image")
    rigid_options = dict(rigid_options or {})
    deformable_options = dict(deformable_options or {})
    timings: dict[str, float] = {}
    warnings: list[str] = []
    same_frame_residual = None
    t0 = time.perf_counter()

    if registration is not None:
        from radnec.fuse.transforms import require_rigid

        rigid = require_rigid(registration)
        require_overlap(fixed, moving, rigid, what="DICOM registration")
        method = "dicom-reg"
        start = rigid
    elif fixed_frame_uid is not None and fixed_frame_uid == moving_frame_uid:
        identity = sitk.Euler3DTransform()
        require_overlap(fixed, moving, identity, what="same frame of reference")
        check = register_rigid(fixed, moving, initial_transform=identity, **rigid_options)
        pts = quality.sample_points(quality.foreground(fixed), n=2000)
        same_frame_residual = float(
            np.mean(np.linalg.norm(np.array([check.TransformPoint(tuple(p)) for p in pts]) - pts, axis=1))
        ) if len(pts) else 0.0
        from radnec.fuse.checks import threshold

        if same_frame_residual <= threshold("same_frame_residual", "max_mean_mm"):
            rigid, method = identity, "same-frame-verified"
        else:
            rigid, method = check, "same-frame-registered"
            warnings.append(
                f"the series share a frame of reference but the verification moved the anatomy by "
                f"{same_frame_residual:.2f} mm on average; the registered transform is used"
            )
        start = identity
    else:
        start = initial_rigid(fixed, moving)
        rigid = register_rigid(fixed, moving, **rigid_options)
        method = "registered-rigid"
    timings["rigid_s"] = time.perf_counter() - t0

    deformation = None
    if deformable and (moving_lesion_mask is not None or fixed_lesion_mask is not None or lesion_center_lps is not None):
        t1 = time.perf_counter()
        centre = lesion_center_lps
        if centre is None and moving_lesion_mask is not None:
            # Follow-up centroid back to the planning frame through the rigid inverse.
            centre = np.asarray(rigid.GetInverse().TransformPoint(tuple(mask_centroid_lps(moving_lesion_mask))))
        if centre is None and fixed_lesion_mask is not None:
            centre = mask_centroid_lps(fixed_lesion_mask)
        if engine == "elastix":
            from radnec.fuse.elastix import register_deformable_elastix as register
        else:
            register = register_deformable
        deformation = register(
            fixed,
            moving,
            rigid=rigid,
            center_lps=np.asarray(centre, dtype=float),
            fixed_exclude=fixed_lesion_mask,
            moving_exclude=moving_lesion_mask,
            **deformable_options,
        )
        method += "+deformable"
        timings["deformable_s"] = time.perf_counter() - t1
    elif deformable:
        warnings.append("no lesion mask or centre given: deformable refinement skipped (rigid only)")

    ic = None
    if inverse_consistency:
        backward = register_rigid(moving, fixed, **rigid_options)
        ic = quality.inverse_consistency_mm(rigid, backward, quality.sample_points(quality.foreground(fixed), n=2000))
    result = FusionResult(
        rigid=rigid,
        deformation=deformation,
        method=method,
        parameters={
            "engine": _engine_description(engine if deformation is not None else "rigid"),
            "rigid": {k: (list(v) if isinstance(v, tuple) else v) for k, v in rigid_options.items()},
            "deformable": {k: (list(v) if isinstance(v, tuple) else v) for k, v in deformable_options.items()},
            "deformable_engine": engine if deformation is not None else None,
            "lesion_excluded_from_metric": bool(moving_lesion_mask is not None or fixed_lesion_mask is not None),
        },
        fixed_frame_uid=fixed_frame_uid,
        moving_frame_uid=moving_frame_uid,
        warnings=warnings,
    )
    t2 = time.perf_counter()
    result.quality = quality.assess_registration(
        fixed,
        moving,
        transform=result.transform,
        initial_transform=start,
        deformation=deformation,
        fixed_exclude=fixed_lesion_mask,
        moving_exclude=moving_lesion_mask,
        inverse_consistency=ic,
        same_frame_residual_mm=same_frame_residual,
    )
    timings["quality_s"] = time.perf_counter() - t2
    result.parameters["timings_s"] = {k: round(v, 2) for k, v in timings.items()}
    if result.quality["poor_quality"]:
        msg = "registration quality is POOR: " + "; ".join(result.quality["failed_checks"])
        result.warnings.append(msg)
        log.warning(msg)
    return result


__all__ = ["fuse"]
