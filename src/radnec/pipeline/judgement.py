"""Stage 7, evidence and options: every lesion's observations → prior, posterior, interval, value of
the next tests, management options (:mod:`radnec.evidence`). Computed every run (milliseconds)."""

from __future__ import annotations

from typing import Any

from radnec.case import Lesion, PlanSummary
from radnec.pipeline.state import CaseInputs, LesionTrack


def _imaging_observations(case: CaseInputs, track: LesionTrack, lesion: Lesion, skipped: list[str]) -> list[Any]:
    """DSC perfusion, PET and MRS observations for the lesion (radnec.imaging.collect).

    The lesion is taken at the latest study where it was segmented; a series in that study's frame
    of reference needs no transform, others are skipped with their reason.
    """
    from radnec.imaging.collect import imaging_observations

    adv = case.advanced
    if adv is None or not (adv.dsc or adv.pet or adv.mrs):
        skipped.append("no perfusion, PET or MR spectroscopy series found: advanced-imaging evidence not used")
        return []
    with_lesion = [tp for tp in case.studies if tp.label in track.at]
    if not with_lesion:
        skipped.append(f"{lesion.name}: not segmented, so advanced imaging could not be measured in it")
        return []
    tp = with_lesion[-1]
    result = imaging_observations(
        lesion=track.at[tp.label].compartments.value.lesion, lesion_frame_of_reference_uid=tp.frame_uid, series=adv
    )
    lesion.imaging = {"timepoint": tp.label, "date": tp.date} | result["details"]
    skipped.extend(f"{lesion.name}: {s}" for s in result["skipped"])
    return list(result["observations"])


def evidence_stage(
    case: CaseInputs, track: LesionTrack, lesion: Lesion, plan: PlanSummary, *, draws: int, skipped: list[str]
) -> None:
    """Fill ``lesion.evidence`` and ``lesion.options``."""
    from radnec.evidence.observations import Observation
    from radnec.evidence.options import assessment
    from radnec.lesion.longitudinal import observations

    clinical = case.clinical
    obs: list[Any] = []
    followed = [track.at[tp.label].measures for tp in case.followups if tp.label in track.at]
    if not followed:
        # Only the planning (pre-treatment) scan was measured: it says nothing about the enlargement.
        skipped.append(f"{lesion.name}: not segmented on any follow-up, so no morphology or timing evidence from images")
    elif track.course is not None:
        obs.extend(observations(track.course, source="morphology"))
    else:  # no course (e.g. missing dates): the latest follow-up alone
        obs.extend(observations(followed[-1], source="morphology"))
    latest_days = followed[-1].days_since_srs if followed else None
    if latest_days is not None and (clinical is None or clinical.srs.days_since is None):
        obs.append(Observation(name="days_since_srs", value=latest_days, unit="d", source="images: study dates"))
    if lesion.pattern:
        obs.append(Observation(name="pattern", value=lesion.pattern, source="dose side"))
    if lesion.growth_symmetry:
        obs.append(Observation(name="growth_symmetry", value=lesion.growth_symmetry, source="dose side"))
    if lesion.dose is not None:
        obs.append(Observation(name="lesion_dmin_gy", value=lesion.dose.dmin_gy, unit="Gy", source="dose side"))
        obs.append(Observation(name="coverage_rx100_pct", value=lesion.dose.coverage_pct.rx100, unit="%", source="dose side"))
    if clinical is None or clinical.srs.fractions is None:
        obs.append(Observation(name="srs_fractions", value=plan.fractions, unit="1", source="plan"))
    if clinical is None or clinical.srs.prescription_gy is None:
        target = track.target
        obs.append(
            Observation(name="srs_prescription_gy", value=target.prescription_gy, unit="Gy", source=f"plan ({target.source})")
        )
    if plan.v12_cc is not None and plan.fractions == 1:
        obs.append(Observation(name="v12_cc", value=plan.v12_cc, unit="cm3", source="plan"))
    obs.extend(_imaging_observations(case, track, lesion, skipped))
    result = assessment(clinical, obs, draws=draws, seed=0)
    lesion.evidence = result["evidence"]
    lesion.options = result["options"]


__all__ = ["evidence_stage"]
