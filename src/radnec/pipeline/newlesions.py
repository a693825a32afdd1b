"""Stage 5b, new lesions: enhancing spots on the latest T1c outside every target, absent at planning
(:mod:`radnec.lesion.new_lesions`), each followed as a lesion of its own (kind ``new, out of field``).

Run only when no seed narrows the analysis; the search is saved under the planning and latest T1c,
the latest study's registration and the structure set.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import SimpleITK as sitk

from radnec.errors import RadnecError
from radnec.pipeline.persist import load_json, save_json
from radnec.pipeline.state import CaseInputs, Fusion, LesionTrack, PlanResult
from radnec.pipeline.workspace import Workspace

#: Name prefix of the tracks this stage adds.
NEW_LESION_NAME = "new lesion"


def _target_mask(case: CaseInputs) -> sitk.Image | None:
    """Every target ROI (treated targets and PTVs) on the planning T1c grid, as one mask."""
    from radnec.dose.targets import is_ptv, treated_targets
    from radnec.geometry.contour_masks import roi_mask

    grid = case.planning.t1c_image
    rois = {r.number: r for r in treated_targets(case.structures, case.plan, dose=case.dose.image)}
    rois |= {r.number: r for r in case.structures.rois if r.contours and is_ptv(r)}
    if not rois:
        return None
    union = np.zeros(sitk.GetArrayViewFromImage(grid).shape, bool)
    for r in rois.values():
        # A copy, not a view: the view of a temporary image outlives its buffer (use after free).
        union |= sitk.GetArrayFromImage(roi_mask(r, grid)).astype(bool)
    mask = sitk.GetImageFromArray(union.astype(np.uint8))
    mask.CopyInformation(grid)
    return mask


def new_lesion_tracks(
    ws: Workspace, case: CaseInputs, plan: PlanResult, fusions: dict[str, Fusion], warnings: list[str]
) -> list[LesionTrack]:
    """Tracks for the new out-of-field lesion candidates on the latest follow-up (may be empty)."""
    from radnec.lesion.new_lesions import find_new_lesions
    from radnec.pipeline.lesions import target_of

    if not case.followups:
        return []
    latest = case.followups[-1]
    fusion = fusions[latest.label]
    key = ws.key("new-lesions", case.planning.t1c, latest.t1c, fusion.final or fusion.rigid,
                 case.sha_of(case.layout.rtstruct.path), case.sha_of(case.layout.rtplan.path))

    def compute() -> list[dict[str, Any]]:
        grid = case.planning.t1c_image
        moved = sitk.Resample(sitk.Cast(latest.t1c_image, sitk.sitkFloat32), grid, fusion.transform, sitk.sitkLinear, 0.0,
                              sitk.sitkFloat32)
        return [c.to_dict() for c in find_new_lesions(grid, moved, targets=_target_mask(case))]

    try:
        found = ws.cached("new-lesions", key, compute, lambda d, f: save_json(d, f / "candidates.json"),
                          lambda f: load_json(f / "candidates.json")).value
    except RadnecError as exc:
        warnings.append(f"new lesions outside the targets not searched — {exc.message}")
        return []
    tracks = []
    for i, c in enumerate(found, start=1):
        seed = np.asarray(c["centroid_lps"], float)
        name = f"{NEW_LESION_NAME} {i}"
        tracks.append(LesionTrack(name=name, seed_lps=seed, target=target_of(ws, case, plan, seed), kind="new, out of field"))
        warnings.append(
            f"{name}: enhancing on the latest T1c ({latest.date}) and not at planning, outside every target "
            f"({c['volume_cc']:.2f} cm³ at {', '.join(f'{v:.0f}' for v in c['centroid_lps'])} mm LPS, planning frame): "
            "a candidate for the tumour board to confirm (a new metastasis, or a vessel or artefact)"
        )
    return tracks


def keep_plausible(case: CaseInputs, tracks: list[LesionTrack], skipped: list[str]) -> list[LesionTrack]:
    """The new-lesion tracks segmented at the latest study; at earlier studies a segmentation larger
    than twice the latest one is dropped (the seed fell on other tissue there: a spot that is new now
    was smaller or absent before)."""
    if not case.followups:
        return []
    latest = case.followups[-1].label
    kept = []
    for t in tracks:
        if latest not in t.at:
            skipped.append(f"{t.name}: not delineated on the latest T1c from the candidate's centre; not followed")
            continue
        ref = t.at[latest].measures.lesion_cc
        for label in [k for k in t.at if k != latest]:
            cc = t.at[label].measures.lesion_cc
            if cc > 2.0 * ref:
                del t.at[label]
                skipped.append(
                    f"{t.name} at {label}: the region grown from its site ({cc:.2f} cm³) is more than twice the "
                    f"latest lesion ({ref:.2f} cm³), so it is not this lesion; treated as absent there"
                )
        kept.append(t)
    return kept


__all__ = ["NEW_LESION_NAME", "keep_plausible", "new_lesion_tracks"]
