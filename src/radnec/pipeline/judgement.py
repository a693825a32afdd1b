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
    """Fill ``lesion.evidence`` and ``lesion.options`` (observations: :mod:`radnec.evidence.from_lesion`)."""
    from radnec.evidence.from_lesion import lesion_observations
    from radnec.evidence.options import assessment
    from radnec.lesion.longitudinal import observations

    measured: list[Any] = []
    followed = [track.at[tp.label].measures for tp in case.followups if tp.label in track.at]
    if not followed:
        # Only the planning (pre-treatment) scan was measured: it says nothing about the enlargement.
        skipped.append(f"{lesion.name}: not segmented on any follow-up, so no morphology or timing evidence from images")
    else:  # the course, or without one (e.g. missing dates) the latest follow-up alone
        measured.extend(observations(track.course if track.course is not None else followed[-1], source="morphology"))
    measured.extend(_imaging_observations(case, track, lesion, skipped))
    obs = lesion_observations(lesion, plan, case.clinical, measured=measured)
    result = assessment(case.clinical, obs, draws=draws, seed=0)
    lesion.evidence = result["evidence"]
    lesion.options = result["options"]


__all__ = ["evidence_stage"]
