"""Stages 3 and 5, fusion: whole-head rigid, then deformable around the lesions (both saved).

The rigid result of each follow-up is keyed by the two T1c images and their frames of reference.
The deformable refinement is keyed by the rigid result, the lesion + oedema masks that are excluded
from its metric, the lesion centre and the engine settings: a new seed that moves the masks
re-registers; a changed clinical file does not. The follow-ups are independent and run one after
the other (itk-elastix's first call loads the module, ~8–15 s, once per process).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import SimpleITK as sitk

from radnec.case import TimepointRegistration
from radnec.pipeline.persist import load_fusion, save_fusion
from radnec.pipeline.state import CaseInputs, Fusion, LesionTrack, Study
from radnec.pipeline.workspace import Workspace
from radnec.threads import case_threads

#: Deformable engine used by analyze (radnec.fuse.fusion.ENGINES): itk-elastix B-spline with the
#: lesion + oedema masked out of the metric, the library default (near-lesion TRE p95 <= 1 mm on
#: benchmarks/bench_fusion.py vs 2.4 mm for demons; see docs/fusion.md). "demons" needs no itk.
DEFORMABLE_ENGINE = "elastix"
#: Engine options used by analyze, per engine. elastix: the library defaults. demons: the pyramid
#: stops at half resolution (the field is kept on a 2 mm grid anyway): -30 % time, +0.06 mm TRE on
#: the demo case (docs/fusion.md).
DEFORMABLE_OPTIONS: dict[str, dict[str, Any]] = {"elastix": {}, "demons": {"shrink_factors": (4, 2), "iterations": (60, 40)}}


def rigid_stage(ws: Workspace, case: CaseInputs) -> dict[str, Fusion]:
    """Whole-head rigid registration of every follow-up T1c to the planning T1c (label → Fusion)."""
    from radnec.fuse.fusion import fuse

    planning = case.planning
    out: dict[str, Fusion] = {}
    for tp in case.followups:
        key = ws.key("fusion-rigid", planning.t1c, tp.t1c, planning.frame_uid, tp.frame_uid)

        def compute(tp: Study = tp) -> Any:
            return fuse(
                planning.t1c.value, tp.t1c.value, fixed_frame_uid=planning.frame_uid, moving_frame_uid=tp.frame_uid,
                deformable=False,
            )

        out[tp.label] = Fusion(rigid=ws.cached("fusion-rigid", key, compute, save_fusion, load_fusion))
    return out


def union(masks: list[sitk.Image]) -> sitk.Image | None:
    """The voxel-wise OR of masks on one grid (None for none)."""
    out = None
    for m in masks:
        out = m if out is None else sitk.Or(out, m)
    return out


def _lesion_and_edema(comps: Any) -> sitk.Image:
    masks = [comps.lesion] + ([comps.edema] if getattr(comps, "edema", None) is not None else [])
    return union(masks)  # type: ignore[return-value]


def _masks_at(tracks: list[LesionTrack], label: str) -> tuple[sitk.Image | None, list[str]]:
    found = [t.at[label].compartments for t in tracks if label in t.at]
    return union([_lesion_and_edema(k.value) for k in found]), [k.key for k in found]


def deformable_stage(
    ws: Workspace, case: CaseInputs, fusions: dict[str, Fusion], tracks: list[LesionTrack], warnings: list[str]
) -> None:
    """Deformable refinement around the lesions, with lesion + oedema excluded from the metric.

    The rigid result is kept as the rigid part; the lesions found on each follow-up (and on the
    planning study) are masked out so that the deformation cannot "explain away" their growth.
    Fills ``fusions[label].final`` and ``.record``.
    """
    from radnec.fuse.fusion import fuse

    planning = case.planning
    fixed_mask, fixed_keys = _masks_at(tracks, planning.label)
    centre = _centre(case, tracks, warnings)
    for tp in case.followups:
        fusion = fusions[tp.label]
        rigid_result = fusion.rigid.value
        moving_mask, moving_keys = _masks_at(tracks, tp.label)
        if moving_mask is None and fixed_mask is None and centre is None:
            fusion.final = fusion.rigid
            warnings.append(f"{tp.label}: no lesion found, so rigid registration only")
        else:
            options = dict(DEFORMABLE_OPTIONS[DEFORMABLE_ENGINE])
            if DEFORMABLE_ENGINE == "elastix":  # its result depends on the thread count (radnec.threads)
                options["threads"] = case_threads()
            key = ws.key(
                "fusion-deformable", planning.t1c, tp.t1c, fusion.rigid, fixed_keys, moving_keys,
                None if centre is None else [float(v) for v in centre], DEFORMABLE_ENGINE, options,
            )

            def compute(tp: Study = tp, rigid_result: Any = rigid_result, moving_mask: Any = moving_mask) -> Any:
                result = fuse(
                    planning.t1c.value,
                    tp.t1c.value,
                    registration=rigid_result.rigid,
                    moving_lesion_mask=moving_mask,
                    fixed_lesion_mask=fixed_mask,
                    lesion_center_lps=centre,
                    deformable=True,
                    deformable_options=options,
                    engine=DEFORMABLE_ENGINE,
                )
                # The rigid part was registered here (not read from a DICOM REG): say so.
                result.method = result.method.replace("dicom-reg", rigid_result.method)
                result.fixed_frame_uid, result.moving_frame_uid = planning.frame_uid, tp.frame_uid
                return result

            fusion.final = ws.cached("fusion-deformable", key, compute, save_fusion, load_fusion)
        record_for(fusion, tp, warnings)


def _centre(case: CaseInputs, tracks: list[LesionTrack], warnings: list[str]) -> np.ndarray | None:
    """Where the deformable refinement is centred: the lesion that grew most (latest over first
    segmented volume), so the enlarging lesion gets the registration refined around it."""
    if not tracks:
        return None
    if len(tracks) == 1:
        return tracks[0].seed_lps

    def growth(track: LesionTrack) -> float:
        vols = [track.at[tp.label].measures.lesion_cc for tp in case.studies if tp.label in track.at]
        return vols[-1] / vols[0] if len(vols) >= 2 and vols[0] > 0 else (float("inf") if len(vols) >= 2 else 0.0)

    chosen = max(tracks, key=growth)
    warnings.append(
        f"the deformable refinement is centred on {chosen.name} (the lesion that grew most); the other lesions "
        "are mapped by the rigid registration plus what of the refinement reaches them (it fades out beyond about "
        "35 mm from that lesion)"
    )
    return chosen.seed_lps


def record_for(fusion: Fusion, tp: Study, warnings: list[str]) -> None:
    """The contract's registration block of one follow-up (and the poor-quality warning)."""
    result = (fusion.final or fusion.rigid).value
    rigid_result = fusion.rigid.value
    fusion.record = TimepointRegistration(
        date=tp.date,
        method=result.method,
        poor_quality=bool(result.poor_quality),
        quality=dict(result.quality) | {"rigid": dict(rigid_result.quality)},
        warnings=list(result.warnings),
    )
    if result.poor_quality:
        warnings.append(
            f"{tp.label} ({tp.date}): registration quality is poor — check the overlay before trusting dose numbers"
        )


def to_planning_point(point_lps: np.ndarray, transform: sitk.Transform, *, iterations: int = 50, tol_mm: float = 1e-4) -> np.ndarray:
    """Map a follow-up point (LPS mm, that study's frame) to the planning frame through ``transform``
    (planning → follow-up), by inverting it.

    A rigid transform is inverted exactly; ``R ∘ D`` (rigid after a displacement field ``D(x) = x + u(x)``)
    by the fixed-point iteration ``x ← R⁻¹(q) − u(x)``, which converges where the field is smooth
    (|∇u| < 1, true of every registration that passes the folding check).
    """
    q = tuple(float(v) for v in point_lps)
    if isinstance(transform, sitk.CompositeTransform) and transform.GetNumberOfTransforms() == 2:
        rigid = transform.GetNthTransform(0)
        field = transform.GetNthTransform(1)
        y = np.asarray(rigid.GetInverse().TransformPoint(q))
        x = y.copy()
        for _ in range(iterations):
            u = np.asarray(field.TransformPoint(tuple(x))) - x
            new = y - u
            if np.max(np.abs(new - x)) < tol_mm:
                x = new
                break
            x = new
        return x
    return np.asarray(transform.GetInverse().TransformPoint(q))


__all__ = ["DEFORMABLE_ENGINE", "DEFORMABLE_OPTIONS", "deformable_stage", "record_for", "rigid_stage", "to_planning_point", "union"]
