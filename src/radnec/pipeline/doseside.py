"""Stage 6, dose side: the plan dose on each lesion (DVH, coverage), failure pattern, growth symmetry.

The lesion at the latest follow-up where it was segmented is brought onto the dose grid through
that study's transform; each lesion is judged against its own target's prescription. Computed
once per distinct lesion mask, registration and target (saved).
"""

from __future__ import annotations

from typing import Any

from radnec.case import CoveragePct, DoseBound, Lesion, LesionDose
from radnec.errors import RadnecError
from radnec.pipeline.persist import load_json, save_json
from radnec.pipeline.state import CaseInputs, Fusion, LesionTrack, PlanResult, Study
from radnec.pipeline.workspace import Workspace

#: Bin width (Gy) of the lesion DVH stored in analysis.json.
DVH_BIN_GY = 0.1


def earliest_enlarging(case: CaseInputs, track: LesionTrack) -> Study | None:
    """The first follow-up (not the planning study) whose T1c lesion is larger than at the study
    before it (the planning study included)."""
    previous = None
    for i, tp in enumerate(case.studies):
        at = track.at.get(tp.label)
        cc = at.measures.lesion_cc if at is not None else None
        if i > 0 and previous is not None and cc is not None and cc > previous:
            return tp
        previous = cc if cc is not None else previous
    return None


def dose_side(
    ws: Workspace,
    case: CaseInputs,
    plan: PlanResult,
    fusions: dict[str, Fusion],
    track: LesionTrack,
    lesion: Lesion,
    warnings: list[str],
) -> None:
    """Fill ``lesion.dose``, ``pattern`` and ``growth_symmetry`` (with their details); saved.

    A lesion whose target has no GTV of its own is judged against the plan's primary GTV. The result is
    keyed by the dose, the lesion masks and registrations it uses, and the target.
    """
    followups = [tp for tp in case.followups if tp.label in track.at]
    if not followups:
        warnings.append(f"{track.name}: no follow-up segmentation, so no dose-side analysis")
        return
    latest = followups[-1]
    origin = earliest_enlarging(case, track)

    def ref(tp: Study | None) -> Any:
        if tp is None:
            return None
        f = fusions[tp.label]
        return [tp.label, tp.date, track.at[tp.label].compartments, f.final or f.rigid]

    key = ws.key("dose-side", track.name, case.dose_key, track.target.to_dict(), plan.gtv_name, ref(latest), ref(origin))
    block = ws.cached(
        "dose-side", key, lambda: _compute(case, plan, fusions, track, latest, origin),
        lambda d, folder: save_json(d, folder / "dose_side.json"), lambda folder: load_json(folder / "dose_side.json"),
    ).value
    if block["dose"] is not None:
        lesion.dose = LesionDose.model_validate(block["dose"])
    lesion.pattern = block["pattern"]
    lesion.pattern_detail = block["pattern_detail"]
    lesion.growth_symmetry = block["growth_symmetry"]
    lesion.symmetry_detail = block["symmetry_detail"]
    lesion.dose_bound = DoseBound(**block["dose_bound"]) if block["dose_bound"] is not None else None
    warnings.extend(block["warnings"])


def _compute(
    case: CaseInputs, plan: PlanResult, fusions: dict[str, Fusion], track: LesionTrack, latest: Study, origin: Study | None
) -> dict[str, Any]:
    from radnec.dose.lesion import lesion_dose, map_lesion, volume_conservation
    from radnec.dose.pattern import classify_pattern
    from radnec.dose.symmetry import growth_symmetry

    name = track.name
    warnings: list[str] = []
    out: dict[str, Any] = {"dose": None, "pattern": None, "pattern_detail": {}, "growth_symmetry": None,
                           "symmetry_detail": {}, "warnings": warnings}
    target = track.target
    rx = float(target.prescription_gy)
    dose = case.dose.image
    lesion_mask, transform = track.at[latest.label].compartments.value.lesion, fusions[latest.label].transform
    mapped = map_lesion(dose, lesion_mask, transform=transform)
    try:
        ld = lesion_dose(dose, lesion_mask, transform=transform, prescription_gy=rx, mapped=mapped, name=name)
    except RadnecError as exc:
        # e.g. a distant lesion entirely outside the dose grid: its dose is unknown (not zero),
        # but its pattern can still be read when the grid holds the whole fall-off.
        warnings.append(f"{name}: dose to the lesion not computed — {exc.message}")
        ld = None
    if ld is not None:
        block = ld.to_contract()
        dose_gy, volume_cc = ld.dvh.cumulative(bin_width_gy=DVH_BIN_GY)
        volume_pct = 100.0 * volume_cc / max(ld.volume_in_grid_cc, 1e-12)
        block["dvh"] = {
            "dose_gy": [round(float(x), 3) for x in dose_gy],
            "volume_pct": [round(float(y), 3) for y in volume_pct],
            "note": "cumulative, % of the lesion volume inside the dose grid",
        }
        block["timepoint"] = {"label": latest.label, "date": latest.date}
        block["target"] = target.to_dict()
        block["volume_mapping"] = check = volume_conservation(mapped, transform)
        if not check["consistent"]:
            warnings.append(
                f"{name}: the lesion mapped onto the dose grid has {check['planning_cc']:.2f} cm³ for "
                f"{check['followup_cc']:.2f} cm³ at {latest.label} (ratio {check['ratio']:.2f}); the registration's "
                f"Jacobian implies {check['expected_ratio']:.2f}: the dose numbers of this lesion may be off"
            )
        out["dose"] = LesionDose(
            dmin_gy=round(block.pop("dmin_gy"), 3),
            dmean_gy=round(block.pop("dmean_gy"), 3),
            dmax_gy=round(block.pop("dmax_gy"), 3),
            d95_gy=round(block.pop("d95_gy"), 3),
            coverage_pct=CoveragePct(**{k: round(v, 2) for k, v in block.pop("coverage_pct").items()}),
            details=block,
        ).model_dump(mode="json")
    gtv = target.gtv if target.gtv is not None else next(r for r in case.structures.rois if r.name == plan.gtv_name)
    try:
        pattern = classify_pattern(
            dose,
            lesion_mask,
            prescription_gy=rx,
            transform=transform,
            gtv=gtv,
            origin_mask=track.at[origin.label].compartments.value.lesion if origin is not None else None,
            origin_transform=fusions[origin.label].transform if origin is not None and origin.label in fusions else None,
            mapped=mapped,
        )
        out["pattern"] = pattern.pattern
        out["pattern_detail"] = pattern.to_dict() | {
            "origin_timepoint": origin.label if origin is not None else latest.label,
            "target": target.to_dict(),
        }
    except RadnecError as exc:
        warnings.append(f"{name}: failure pattern not classified — {exc.message}")
    try:
        sym = growth_symmetry(dose, lesion_mask, prescription_gy=rx, transform=transform, mapped=mapped)
        out["growth_symmetry"] = sym.growth_symmetry
        out["symmetry_detail"] = sym.to_dict()
    except RadnecError as exc:
        warnings.append(f"{name}: growth symmetry not assessed — {exc.message}")
    _outside_grid(dose, mapped, out, name)
    return out


def _outside_grid(dose: Any, mapped: Any, out: dict[str, Any], name: str) -> None:
    """Dose bound for a lesion (partly) outside the dose grid; no growth symmetry out of field (issue 18)."""
    from radnec.dose.outside import outside_dose_bound

    dmax = out["dose"]["dmax_gy"] if out["dose"] is not None else None
    bound = outside_dose_bound(dose, mapped, dmax_in_grid_gy=dmax)
    out["dose_bound"] = bound.to_contract() if bound is not None else None
    if bound is not None and out["dose"] is None:
        out["warnings"].append(f"{name}: dose bounded from above by the dose-grid boundary: {bound.shown}")
    if out["pattern"] == "out-of-field":
        out["growth_symmetry"] = "not applicable"
        out["symmetry_detail"] = {"reason": "out of field: there is no high-dose region the lesion could grow about"}


__all__ = ["DVH_BIN_GY", "dose_side", "earliest_enlarging"]
