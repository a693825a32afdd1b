"""Stage 2, plan: prescription, fractions, the primary GTV and the plan metrics (CI, GI, V12), saved.

Keyed by the RT objects' content and the clinical facts it falls back on (prescription, fractions,
SRS date), so a clinical file that changes anything else reuses it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from radnec.case import PlanSummary
from radnec.errors import InputError, MissingReferenceError
from radnec.pipeline.persist import load_json, save_json
from radnec.pipeline.state import CaseInputs, PlanResult
from radnec.pipeline.workspace import Workspace


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(float(x), nd)


def primary_gtv(structures: Any, plan: Any, *, path: Any) -> Any:
    """The plan's primary GTV: a target ROI named GTV…, else the first GTV by name, else by type."""
    rois = structures.rois
    by_number = {r.number: r for r in rois}
    for n in getattr(plan, "target_roi_numbers", []) or []:
        r = by_number.get(n)
        if r is not None and "gtv" in r.name.lower():
            return r
    for r in rois:
        if r.name.lower().startswith("gtv") and r.contours:
            return r
    for r in rois:
        if (r.type or "").upper() == "GTV" and r.contours:
            return r
    raise MissingReferenceError(
        "the structure set has no GTV (an ROI named GTV... or of type GTV); radnec needs it to find the treated lesion",
        path=path,
    )


def _compute(case: CaseInputs) -> PlanResult:
    from radnec.dose.plan_metrics import plan_metrics
    from radnec.dose.targets import lesion_target
    from radnec.geometry import mask_centroid_lps
    from radnec.geometry.contour_masks import roi_mask

    warnings: list[str] = []
    plan, clinical = case.plan, case.clinical
    rx = plan.prescription_gy
    if rx is None and clinical is not None and clinical.srs.prescription_gy is not None:
        rx = clinical.srs.prescription_gy
        warnings.append("prescription taken from the clinical file (the RTPLAN states none)")
    if rx is None:
        raise InputError(
            "the RTPLAN states no prescription dose and no clinical file gives srs.prescription_gy",
            path=case.layout.rtplan.path,
        )
    plan_rx = float(rx)
    gtv = primary_gtv(case.structures, plan, path=case.layout.rtstruct.path)
    centre = mask_centroid_lps(roi_mask(gtv, case.dose.image))
    primary = lesion_target(case.structures, plan, centre, plan_prescription_gy=plan_rx, dose=case.dose.image)
    per_target = getattr(plan, "target_prescriptions_gy", {}) or {}
    if len(set(per_target.values())) > 1:
        names = {r.number: r.name for r in case.structures.rois}
        listed = ", ".join(f"{names.get(n, n)} {v:g} Gy" for n, v in sorted(per_target.items()))
        warnings.append(
            f"the plan prescribes several target doses ({listed}); each lesion is judged against its own target's "
            f"dose, and the plan summary (CI, GI) uses {primary.prescription_gy:g} Gy of {gtv.name} ({primary.source})"
        )
    rx = primary.prescription_gy
    m = plan_metrics(case.dose.image, case.structures, plan, prescription_gy=float(rx))
    gtv_row = next((t for t in m.get("targets", []) if t["name"] == gtv.name), None)
    fractions = plan.fractions or (clinical.srs.fractions if clinical is not None else None)
    if fractions is None:
        fractions = 1
        warnings.append("number of fractions not stated in the RTPLAN or clinical file: assumed 1")
    used = {"v12_cc", "v10_cc", "ci_rtog", "ci_paddick", "gi_paddick", "min_dose_gtv_gy", "min_dose_ptv_gy"}
    summary = PlanSummary(
        prescription_gy=float(rx),
        fractions=int(fractions),
        technique=plan.technique,
        prescription_isodose_pct=plan.prescription_isodose_pct,
        target_roi=gtv.name,
        gtv_cc=_r(gtv_row["volume_cc"]) if gtv_row else None,
        v12_cc=_r(m.get("v12_cc")),
        v10_cc=_r(m.get("v10_cc")),
        conformity_index_rtog=_r(m.get("ci_rtog")),
        conformity_index_paddick=_r(m.get("ci_paddick")),
        gradient_index=_r(m.get("gi_paddick")),
        gtv_dmin_gy=_r(m.get("min_dose_gtv_gy")),
        ptv_dmin_gy=_r(m.get("min_dose_ptv_gy")),
        dose_max_gy=_r(float(sitk.GetArrayViewFromImage(case.dose.image).max())),
        srs_date=None,  # set by plan_stage: the SRS date may come from the clinical file
        details={k: v for k, v in m.items() if k not in used},
    )
    return PlanResult(summary, gtv.name, np.asarray(centre, float), plan_rx, warnings)


def _save(result: PlanResult, folder: Path) -> None:
    save_json(
        {
            "summary": result.summary.model_dump(mode="json"),
            "gtv_name": result.gtv_name,
            "gtv_centre_lps": [float(v) for v in result.gtv_centre_lps],
            "plan_prescription_gy": result.plan_prescription_gy,
            "warnings": result.warnings,
        },
        folder / "plan.json",
    )


def _load(folder: Path) -> PlanResult:
    d = load_json(folder / "plan.json")
    return PlanResult(
        PlanSummary.model_validate(d["summary"]),
        d["gtv_name"],
        np.asarray(d["gtv_centre_lps"], float),
        float(d["plan_prescription_gy"]),
        list(d["warnings"]),
    )


def plan_stage(ws: Workspace, case: CaseInputs) -> PlanResult:
    """The plan summary (saved; see the module docstring)."""
    clinical = case.clinical
    # The clinical facts the plan stage falls back on, only where the RTPLAN is silent.
    facts = {
        "rx": clinical.srs.prescription_gy if clinical is not None and case.plan.prescription_gy is None else None,
        "fractions": clinical.srs.fractions if clinical is not None and not case.plan.fractions else None,
    }
    rt = [case.sha_of(case.layout.rtplan.path), case.sha_of(case.layout.rtstruct.path)]
    key = ws.key("plan", rt, case.dose_key, facts)
    result = ws.cached("plan", key, lambda: _compute(case), _save, _load).value
    result.summary = result.summary.model_copy(update={"srs_date": case.srs_date.isoformat() if case.srs_date else None})
    return result


__all__ = ["plan_stage", "primary_gtv"]
