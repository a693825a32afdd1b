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


#: Statuses that flag a lesion in the overview (the question radnec answers is about these).
FLAGGED_STATUS = ("enlarging", "growing")


def _target_name(track: LesionTrack) -> str | None:
    gtv = track.target.gtv if track.target is not None else None
    if gtv is None:
        return None
    return f"none (nearest {gtv.name})" if track.kind.startswith("new") else gtv.name


def overview(tracks: list[LesionTrack], lesions: list[Lesion]) -> list[dict[str, Any]]:
    """One row per lesion for the top of the report: target and Rx, latest volume and change, status,
    pattern, symmetry and P(progression); ``flagged`` marks the lesions the question is about."""
    rows = []
    for track, lesion in zip(tracks, lesions):
        tps = lesion.timepoints
        last = tps[-1] if tps else None
        before = tps[-2] if len(tps) > 1 else None
        cc = (last.details.get("lesion_cc") if last else None)
        prev = (before.details.get("lesion_cc") if before else None)
        ev = lesion.evidence or {}
        rows.append({
            "lesion": lesion.name,
            "kind": lesion.kind,
            "seed_lps": [round(float(v), 2) for v in track.seed_lps],
            "target": _target_name(track),
            "prescription_gy": float(track.target.prescription_gy) if track.target is not None else None,
            "latest_date": last.date if last else None,
            "latest_lesion_cc": cc,
            "change_pct": None if cc is None or not prev else round(100.0 * (cc / prev - 1.0), 1),
            "rano_bm": last.rano_bm_category if last else None,
            "status": lesion.status,
            "flagged": lesion.status in FLAGGED_STATUS or lesion.kind.startswith("new"),
            "pattern": lesion.pattern,
            "symmetry": lesion.growth_symmetry,
            "coverage_rx100_pct": lesion.dose.coverage_pct.rx100 if lesion.dose else None,
            "posterior_tp": ev.get("posterior_tp"),
            "interval95": ev.get("interval95"),
        })
    return rows


def series_used(case: CaseInputs) -> list[dict[str, Any]]:
    """Which series each study contributed, per role, with the selector's reason when it gives one."""
    rows = []
    by_uid = {s.study_uid: s for s in [case.layout.planning, *case.layout.followups]}
    reasons = {(c.series_uid, c.role): c.reason for c in case.layout.series_choices if c.used}
    for tp in case.studies:
        study = by_uid.get(tp.study_uid)
        for role, info in (study.series.items() if study is not None else []):
            geo = info.geometry or {}
            rows.append({
                "study": tp.label, "date": tp.date, "role": role, "series_instance_uid": info.series_instance_uid,
                "description": info.description, "series_number": info.series_number,
                "spacing_mm": geo.get("spacing_mm"), "orientation": geo.get("orientation"),
                "reason": reasons.get((info.series_instance_uid, role)),
            })
    return rows


__all__ = ["FLAGGED_STATUS", "evidence_stage", "overview", "series_used"]
