"""Stage 6, dose side: the plan dose on each lesion (DVH, coverage), failure pattern, growth symmetry.

The lesion at the latest follow-up where it was segmented is brought onto the dose grid through
that study's transform; each lesion is judged against its own target's prescription. Computed
every run (under a second a lesion).
"""

from __future__ import annotations

from radnec.case import CoveragePct, Lesion, LesionDose
from radnec.errors import RadnecError
from radnec.pipeline.state import CaseInputs, Fusion, LesionTrack, PlanResult, Study

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
    case: CaseInputs, plan: PlanResult, fusions: dict[str, Fusion], track: LesionTrack, lesion: Lesion, warnings: list[str]
) -> None:
    """Fill ``lesion.dose``, ``pattern`` and ``growth_symmetry`` (with their details).

    A lesion whose target has no GTV of its own is judged against the plan's primary GTV.
    """
    from radnec.dose.lesion import lesion_dose, map_lesion
    from radnec.dose.pattern import classify_pattern
    from radnec.dose.symmetry import growth_symmetry

    name = track.name
    followups = [tp for tp in case.followups if tp.label in track.at]
    if not followups:
        warnings.append(f"{name}: no follow-up segmentation, so no dose-side analysis")
        return
    latest = followups[-1]
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
        lesion.dose = LesionDose(
            dmin_gy=round(block.pop("dmin_gy"), 3),
            dmean_gy=round(block.pop("dmean_gy"), 3),
            dmax_gy=round(block.pop("dmax_gy"), 3),
            d95_gy=round(block.pop("d95_gy"), 3),
            coverage_pct=CoveragePct(**{k: round(v, 2) for k, v in block.pop("coverage_pct").items()}),
            details=block,
        )
    origin = earliest_enlarging(case, track)
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
        lesion.pattern = pattern.pattern  # type: ignore[assignment]
        lesion.pattern_detail = pattern.to_dict() | {
            "origin_timepoint": origin.label if origin is not None else latest.label,
            "target": target.to_dict(),
        }
    except RadnecError as exc:
        warnings.append(f"{name}: failure pattern not classified — {exc.message}")
    try:
        sym = growth_symmetry(dose, lesion_mask, prescription_gy=rx, transform=transform, mapped=mapped)
        lesion.growth_symmetry = sym.growth_symmetry  # type: ignore[assignment]
        lesion.symmetry_detail = sym.to_dict()
    except RadnecError as exc:
        warnings.append(f"{name}: growth symmetry not assessed — {exc.message}")
    _outside_grid(dose, mapped, lesion, warnings)


def _outside_grid(dose, mapped, lesion: Lesion, warnings: list[str]) -> None:  # noqa: ANN001 - sitk.Image, MappedLesion
    """Dose bound for a lesion (partly) outside the dose grid; no growth symmetry out of field (issue 18)."""
    from radnec.case import DoseBound
    from radnec.dose.outside import outside_dose_bound

    bound = outside_dose_bound(dose, mapped, dmax_in_grid_gy=lesion.dose.dmax_gy if lesion.dose else None)
    lesion.dose_bound = DoseBound(**bound.to_contract()) if bound is not None else None
    if bound is not None and lesion.dose is None:
        warnings.append(f"{lesion.name}: dose bounded from above by the dose-grid boundary: {bound.shown}")
    if lesion.pattern == "out-of-field":
        lesion.growth_symmetry = "not applicable"
        lesion.symmetry_detail = {"reason": "out of field: there is no high-dose region the lesion could grow about"}


__all__ = ["DVH_BIN_GY", "dose_side", "earliest_enlarging"]
