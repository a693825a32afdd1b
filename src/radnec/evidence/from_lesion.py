"""A lesion's analysis results (``analysis.json`` → ``lesions[]``) as evidence observations.

The pipeline measures; this module says which of its results are evidence and under which name: time
since SRS from the study dates, the dose side (pattern, symmetry, the lesion's own dose — Dmax, D50,
coverage — and the upper bound for a part outside the dose grid), growth kinetics, the plan
(fractions, the prescription of the lesion's own target, V12), plus the observations the image
producers already made (morphology of the latest follow-up, perfusion, PET, MRS), passed in as
``measured``. Case-file facts win over image-derived ones of the same kind (the clinician knows the
date of the first fraction better than the study dates do).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from radnec.case import Lesion, PlanSummary
from radnec.evidence.case import ClinicalCase
from radnec.evidence.observations import Observation

DOSE_SOURCE = "dose side"


def _d50_gy(details: dict[str, Any]) -> float | None:
    """Median dose (Gy) from the stored cumulative DVH (linear interpolation at 50 % volume)."""
    dvh = details.get("dvh") or {}
    doses, vols = dvh.get("dose_gy") or [], dvh.get("volume_pct") or []
    for i in range(1, min(len(doses), len(vols))):
        v0, v1 = vols[i - 1], vols[i]
        if v0 >= 50.0 >= v1:
            if v0 == v1:
                return float(doses[i])
            return float(doses[i - 1] + (v0 - 50.0) / (v0 - v1) * (doses[i] - doses[i - 1]))
    return None


def _followups(lesion: Lesion) -> list[Any]:
    return [tp for tp in lesion.timepoints if tp.days_since_srs is not None and tp.days_since_srs > 0]


def lesion_observations(
    lesion: Lesion,
    plan: PlanSummary | None,
    clinical: ClinicalCase | None,
    *,
    measured: Sequence[Observation] = (),
) -> list[Observation]:
    """Observations for the evidence engine from one lesion's results.

    Parameters
    ----------
    lesion
        The lesion block of the analysis (time points, growth, dose, dose bound, pattern, symmetry).
    plan
        The plan summary (fractions, prescription, V12), or None without a plan.
    clinical
        The clinical case file, or None; its timing, fractions and prescription take precedence.
    measured
        Observations the image producers made for this lesion (``radnec.lesion.longitudinal.observations``,
        ``radnec.imaging.collect``); passed through unchanged.

    Returns
    -------
    list of Observation
        Ready for :func:`radnec.evidence.bayes.assess` together with ``clinical``.
    """
    obs: list[Observation] = list(measured)
    names = {o.name for o in obs}

    def add(name: str, value: Any, unit: str | None, source: str, note: str | None = None) -> None:
        if value is not None and name not in names:
            obs.append(Observation(name=name, value=value, unit=unit, source=source, note=note))
            names.add(name)

    follow = _followups(lesion)
    if follow and (clinical is None or clinical.srs.days_since is None):
        add("days_since_srs", int(follow[-1].days_since_srs), "d", "images: study dates")
    intervals = (lesion.growth or {}).get("intervals") or []
    if intervals and intervals[-1].get("volume_doubling_time_days") is not None:
        last = intervals[-1]
        add(
            "volume_doubling_time_days",
            round(float(last["volume_doubling_time_days"]), 1),
            "d",
            "morphology: T1c lesion volume",
            f"days {last.get('from_days')}→{last.get('to_days')}",
        )
    if lesion.pattern:
        add("pattern", lesion.pattern, None, DOSE_SOURCE)
    if lesion.growth_symmetry:
        add("growth_symmetry", lesion.growth_symmetry, None, DOSE_SOURCE)
    if lesion.dose is not None:
        d = lesion.dose
        add("lesion_dmax_gy", float(d.dmax_gy), "Gy", DOSE_SOURCE)
        d50 = _d50_gy(d.details)  # from 0.1-Gy DVH bins: kept within [Dmin, Dmax]
        add("lesion_d50_gy", None if d50 is None else min(max(d50, float(d.dmin_gy)), float(d.dmax_gy)), "Gy", DOSE_SOURCE)
        add("lesion_dmin_gy", float(d.dmin_gy), "Gy", DOSE_SOURCE)
        add("coverage_rx100_pct", float(d.coverage_pct.rx100), "%", DOSE_SOURCE)
        add("coverage_rx50_pct", float(d.coverage_pct.rx50), "%", DOSE_SOURCE)
    if lesion.dose_bound is not None:
        b = lesion.dose_bound
        add("lesion_dmax_bound_gy", float(b.dmax_upper_bound_gy), "Gy", "dose side: grid boundary", b.basis)
    if plan is not None:
        if clinical is None or clinical.srs.fractions is None:
            add("srs_fractions", float(plan.fractions), "1", "plan")
        if clinical is None or clinical.srs.prescription_gy is None:
            target = (lesion.dose.details.get("target") if lesion.dose is not None else None) or lesion.pattern_detail.get("target")
            if isinstance(target, dict) and target.get("prescription_gy") is not None:
                src = f"plan ({target.get('prescription_source') or 'lesion target'})"
                add("srs_prescription_gy", float(target["prescription_gy"]), "Gy", src)
            else:
                add("srs_prescription_gy", float(plan.prescription_gy), "Gy", "plan")
        if plan.v12_cc is not None and plan.fractions == 1:
            add("v12_cc", float(plan.v12_cc), "cm3", "plan")
    return obs


__all__ = ["lesion_observations"]
