"""Which planned target a lesion belongs to, and the prescription that target received.

Why
---
A single-isocentre SRS plan often treats several metastases with their own doses (RTOG 90-05
escalated by diameter: 24 Gy ≤ 2 cm, 18 Gy 2.1–3 cm, 15 Gy 3.1–4 cm; Shaw E et al., Int J Radiat
Oncol Biol Phys 2000;47(2):291–298, doi:10.1016/S0360-3016(99)00507-6). The isodose levels of a
lesion (100/80/50 % of prescription), its coverage and its failure pattern must use *its*
target's prescription: judged against the plan's largest dose, an 18 Gy target sits entirely
"below 80 %" of a 24 Gy prescription.

Convention (radnec's, not evidence)
-----------------------------------
1. The lesion's GTV is the GTV whose contours contain the seed point (planning frame, LPS mm);
   when none does, the GTV whose contour edges pass nearest the seed.
2. Its prescription is the plan's ``TargetPrescriptionDose`` for that GTV's ROI number; else the
   one of the smallest prescribed target whose contours contain the GTV's centroid (the PTV around
   it); else the plan-level prescription (``source == "plan"``).

Example
-------
>>> from radnec.dose.targets import is_gtv
>>> from radnec.geometry.contours import ROI
>>> is_gtv(ROI(number=1, name="GTV_2", type="", color=None, contours=[]))
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import SimpleITK as sitk

from radnec.errors import RadnecError


def is_gtv(roi: Any) -> bool:
    """An ROI named ``GTV…`` (any case) or of RT ROI interpreted type ``GTV``."""
    return roi.name.strip().lower().startswith("gtv") or (roi.type or "").upper() == "GTV"


def is_ptv(roi: Any) -> bool:
    """An ROI named ``PTV…`` (any case) or of RT ROI interpreted type ``PTV``/``CTV``."""
    return roi.name.strip().lower().startswith("ptv") or (roi.type or "").upper() in ("PTV", "CTV")


def treated_targets(structures: Any, plan: Any, *, dose: sitk.Image) -> list[Any]:
    """Every treated lesion of the plan, one ROI each, in structure-set order.

    The GTVs with contours, then each planned target without a GTV of its own: a PTV (or a ROI the
    plan's dose references name, e.g. GammaPlan's ``Matrix 4`` or ``Target 3`` of no interpreted
    type) whose contours contain no GTV's centroid. A multi-target GK or linac plan gives one per
    metastasis; a GTV inside its PTV gives the GTV only.

    Examples
    --------
    >>> import SimpleITK as sitk
    >>> from types import SimpleNamespace
    >>> treated_targets(SimpleNamespace(rois=[]), None, dose=sitk.Image(4, 4, 4, sitk.sitkFloat32))
    []
    """
    from radnec.geometry import mask_centroid_lps
    from radnec.geometry.contour_masks import grid_contour_model, roi_mask

    rois = [r for r in structures.rois if r.contours]
    gtvs = [r for r in rois if is_gtv(r)]
    referenced = set(getattr(plan, "target_roi_numbers", []) or []) | set(getattr(plan, "target_prescriptions_gy", {}) or {})
    others = [r for r in rois if r not in gtvs and (is_ptv(r) or r.number in referenced)]
    if not others:
        return gtvs
    centres = []
    for g in gtvs:
        try:
            centres.append(mask_centroid_lps(roi_mask(g, dose)))
        except RadnecError:  # a GTV outside the dose grid: it covers no target's centre here
            continue
    points = np.asarray(centres, float).reshape(-1, 3)
    own = [r for r in others if not (len(points) and bool(grid_contour_model(r, dose).inside(points).any()))]
    # a PTV around another PTV-only target (nested rings of one lesion) counts once: keep the smallest
    own.sort(key=lambda r: grid_contour_model(r, dose).volume_cc())
    kept: list[Any] = []
    for r in own:
        try:
            c = mask_centroid_lps(roi_mask(r, dose)).reshape(1, 3)
        except RadnecError:  # a target outside the dose grid is not analysed
            continue
        if not any(bool(grid_contour_model(k, dose).inside(c)[0]) for k in kept):
            kept.append(r)
    order = {r.number: i for i, r in enumerate(structures.rois)}
    return sorted(gtvs + kept, key=lambda r: order[r.number])


@dataclass(frozen=True)
class LesionTarget:
    """The planned target of one lesion.

    Attributes
    ----------
    gtv
        The lesion's GTV ROI (``None`` when the structure set has no GTV with contours).
    prescription_gy
        The prescription (Gy) to judge the lesion's dose against.
    source
        ``"target <ROI name>"`` when the plan prescribes that ROI, else ``"plan"``.
    distance_mm
        Seed to the GTV: 0 inside it, else the distance (mm) to the nearest edge of its contours.
    """

    gtv: Any
    prescription_gy: float
    source: str
    distance_mm: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "gtv": self.gtv.name if self.gtv is not None else None,
            "prescription_gy": self.prescription_gy,
            "prescription_source": self.source,
            "seed_to_gtv_mm": None if self.distance_mm is None else round(self.distance_mm, 2),
        }


def lesion_target(
    structures: Any, plan: Any, seed_lps: Any, *, plan_prescription_gy: float, dose: sitk.Image, targets: Sequence[Any] | None = None,
) -> LesionTarget:
    """The GTV a lesion seed belongs to and its prescription (see the module docstring).

    Parameters
    ----------
    structures
        :class:`radnec.ingest.rtstruct.StructureSet` of the plan.
    plan
        :class:`radnec.ingest.rtplan.RTPlan` (its ``target_prescriptions_gy``) or ``None``.
    seed_lps
        A point of the lesion in the planning frame (LPS mm).
    plan_prescription_gy
        The plan-level prescription (Gy), used when no target-specific one applies.
    dose
        The plan dose grid, on which the GTV centroid is computed.
    targets
        The plan's :func:`treated_targets` on ``dose`` when already known (they do not depend on the
        seed; a re-run with a new seed reuses them).
    """
    from radnec.geometry import mask_centroid_lps
    from radnec.geometry.contour_masks import grid_contour_model, roi_mask
    from radnec.geometry.contours import distance_to_segments, polygon_edges

    seed = np.asarray(seed_lps, dtype=float).reshape(1, 3)
    gtvs = list(targets) if targets is not None else treated_targets(structures, plan, dose=dose)
    if not gtvs:
        return LesionTarget(None, float(plan_prescription_gy), "plan", None)
    models = {}

    def model(r):  # single-plane ROIs take their thickness from the dose grid
        if r.number not in models:
            models[r.number] = grid_contour_model(r, dose)
        return models[r.number]

    inside = [r for r in gtvs if bool(model(r).inside(seed)[0])]
    if inside:
        gtv, distance = inside[0], 0.0
    else:
        def nearest(r) -> float:  # to the contour edges (3-D segments), not just their vertices
            a, b = polygon_edges([c.points for c in r.contours])
            return float(distance_to_segments(seed, a, b)[0])

        gtv = min(gtvs, key=nearest)
        distance = nearest(gtv)
    per_target: dict[int, float] = dict(getattr(plan, "target_prescriptions_gy", {}) or {})
    if gtv.number in per_target:
        return LesionTarget(gtv, per_target[gtv.number], f"target {gtv.name}", distance)
    if per_target:
        centre = mask_centroid_lps(roi_mask(gtv, dose)).reshape(1, 3)
        around = []
        for r in structures.rois:
            if r.number in per_target and r.contours and bool(model(r).inside(centre)[0]):
                around.append((model(r).volume_cc(), r))
        if around:
            _, target = min(around, key=lambda t: t[0])
            return LesionTarget(gtv, per_target[target.number], f"target {target.name}", distance)
    return LesionTarget(gtv, float(plan_prescription_gy), "plan", distance)


__all__ = ["LesionTarget", "is_gtv", "is_ptv", "lesion_target", "treated_targets"]
