"""Stage 4, lesions: seeds and targets, segmentation per study (saved), measures and growth.

Lesions are segmented on each study's own T1c at its native resolution (no interpolation of the
image being measured); the seed (planning frame) is carried into each study by the rigid transform.
A segmentation is keyed by the study's images and the seed point in that study's frame. Measures
(volumes, RANO-BM, ratios) are recomputed each run: they are cheap and carry clinical facts (the
steroid dose) and dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from radnec.case import Lesion, Timepoint
from radnec.errors import RadnecError
from radnec.pipeline.persist import load_compartments, load_json, save_compartments, save_json
from radnec.pipeline.state import CaseInputs, Fusion, LesionAt, LesionTrack, PlanResult, Study
from radnec.pipeline.workspace import Workspace


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(float(x), nd)


def _target(ws: Workspace, case: CaseInputs, plan: PlanResult, seed: np.ndarray) -> Any:
    """The lesion's GTV and prescription (radnec.dose.targets), saved by seed and plan."""
    from radnec.dose.targets import LesionTarget, lesion_target

    rois = {r.name: r for r in case.structures.rois}
    key = ws.key(
        "target", case.sha_of(case.layout.rtstruct.path), case.sha_of(case.layout.rtplan.path), case.dose_key,
        [float(v) for v in seed], plan.plan_prescription_gy,
    )

    def compute() -> dict[str, Any]:
        t = lesion_target(case.structures, case.plan, seed, plan_prescription_gy=plan.plan_prescription_gy, dose=case.dose.image)
        return {"gtv": t.gtv.name if t.gtv is not None else None, "prescription_gy": t.prescription_gy,
                "source": t.source, "distance_mm": t.distance_mm}

    d = ws.cached("target", key, compute, lambda d, f: save_json(d, f / "target.json"), lambda f: load_json(f / "target.json")).value
    gtv = rois.get(d["gtv"]) if d["gtv"] is not None else None
    return LesionTarget(gtv=gtv, prescription_gy=float(d["prescription_gy"]), source=d["source"], distance_mm=d["distance_mm"])


def lesion_tracks(
    ws: Workspace, case: CaseInputs, plan: PlanResult, seeds: Sequence[Sequence[float]] | None, notes: list[str]
) -> list[LesionTrack]:
    """One track per seed (planning frame), each with its target and prescription.

    Default: the plan's primary GTV at its centroid (the other GTVs are named in a note).
    """
    from radnec.dose.targets import is_gtv

    if seeds:
        named = {f"lesion {i + 1}" if len(seeds) > 1 else "lesion": np.asarray(s, float) for i, s in enumerate(seeds)}
    else:
        others = [r.name for r in case.structures.rois if r.name != plan.gtv_name and r.contours and is_gtv(r)]
        if others:
            notes.append(
                f"the structure set has {len(others) + 1} GTVs; only {plan.gtv_name} is analysed by default "
                f"(give --lesion-seed for {', '.join(others)})"
            )
        named = {plan.gtv_name: plan.gtv_centre_lps}
    tracks = []
    for name, seed in named.items():
        t = _target(ws, case, plan, np.asarray(seed, float))
        if t.gtv is not None and t.distance_mm and t.distance_mm > 0:
            notes.append(f"{name}: the seed lies {t.distance_mm:.1f} mm outside any GTV; nearest is {t.gtv.name}")
        if abs(t.prescription_gy - plan.plan_prescription_gy) > 1e-6:
            notes.append(
                f"{name}: judged against {t.prescription_gy:g} Gy ({t.source}), not the plan-level "
                f"{plan.plan_prescription_gy:g} Gy"
            )
        tracks.append(LesionTrack(name=name, seed_lps=np.asarray(seed, float), target=t))
    return tracks


def segment_stage(
    ws: Workspace, case: CaseInputs, fusions: dict[str, Fusion], tracks: list[LesionTrack], skipped: list[str]
) -> None:
    """Segment every lesion on every study (saved) and measure it there (fills ``track.at``)."""
    from radnec.lesion.morphology import TimepointMeasures, measure_timepoint
    from radnec.lesion.segment import segment_from_seed

    steroid = case.clinical.steroids.dose_mg_per_day if case.clinical is not None else None
    latest = case.studies[-1]
    for tp in case.studies:
        transform = fusions[tp.label].rigid.value.transform if tp.label in fusions else None
        for track in tracks:
            seed = tuple(float(v) for v in track.seed_lps)
            point = np.asarray(transform.TransformPoint(seed) if transform is not None else seed, float)
            key = ws.key("segment", tp.t1c, tp.flair, [float(v) for v in point])

            def compute(tp: Study = tp, point: np.ndarray = point) -> Any:
                return segment_from_seed(tp.t1c.value, tuple(float(v) for v in point), flair=tp.flair.value if tp.flair else None)

            try:
                comps = ws.cached("segment", key, compute, save_compartments, load_compartments)
            except RadnecError as exc:
                skipped.append(f"{track.name} at {tp.label} ({tp.date}): not segmented — {exc.message}")
                continue
            facts = {"date": tp.date, "days": tp.days_since_srs, "steroid": steroid if tp is latest else None}
            mkey = ws.key("measure", comps, tp.t2, facts)

            def measure(comps: Any = comps, tp: Study = tp, facts: dict[str, Any] = facts) -> Any:
                return measure_timepoint(
                    comps.value,
                    t2=tp.t2.value if tp.t2 else None,
                    date=facts["date"],
                    days_since_srs=facts["days"],
                    steroid_mg_per_day=facts["steroid"],
                )

            def save_measures(m: Any, f: Any) -> None:
                (f / "measures.json").write_text(m.model_dump_json(), encoding="utf-8")

            measures = ws.cached(
                "measure", mkey, measure, save_measures,
                lambda f: TimepointMeasures.model_validate_json((f / "measures.json").read_text(encoding="utf-8")),
            ).value
            track.at[tp.label] = LesionAt(compartments=comps, measures=measures)


def lesion_block(case: CaseInputs, track: LesionTrack, warnings: list[str]) -> Lesion:
    """The contract's lesion block without dose side and evidence: time points and growth."""
    from radnec.lesion.longitudinal import lesion_course

    name = track.name
    measured = [tp for tp in case.studies if tp.label in track.at]
    if all(tp.days_since_srs is not None for tp in measured):
        measured.sort(key=lambda tp: tp.days_since_srs)  # type: ignore[arg-type,return-value]
    timepoints: list[Timepoint] = []
    growth: dict[str, Any] = {}
    if measured:
        try:
            course = lesion_course([track.at[tp.label].measures for tp in measured], name=name)
        except RadnecError as exc:
            course = None
            warnings.append(f"{name}: growth not computed — {exc.message}")
        track.course = course
        cats = course.rano_bm_category if course is not None else [None] * len(measured)
        for tp, cat in zip(measured, cats):
            m = track.at[tp.label].measures
            timepoints.append(
                Timepoint(
                    date=m.date,
                    days_since_srs=m.days_since_srs,
                    enhancing_cc=round(m.enhancing_cc, 3),
                    edema_cc=_r(m.edema_cc),
                    necrotic_cc=_r(m.necrotic_cc),
                    longest_diameter_mm=round(m.longest_diameter_mm, 2),
                    perpendicular_diameter_mm=_r(m.perpendicular_diameter_mm, 2),
                    measurable=m.rano_bm_measurable,
                    edema_enhancement_ratio=_r(m.edema_enhancement_ratio),  # Leeman 2013: edema / whole T1c lesion
                    necrotic_fraction=_r(m.necrotic_fraction),
                    enhancement_pattern=m.enhancement_pattern,
                    sphericity=_r(m.sphericity),
                    rano_bm_category=cat,
                    steroid_dose_mg=m.steroid_dexamethasone_mg_per_day,
                    segmentation=m.segmentation_source,
                    details={"label": tp.label, "lesion_cc": round(m.lesion_cc, 3), "notes": list(m.notes),
                             "edema_to_enhancing_ratio": _r(m.edema_to_enhancing_ratio)},
                )
            )
        if len(timepoints) >= 2 and timepoints[-1].rano_bm_category != "PD":
            last, before = track.at[measured[-1].label].measures, track.at[measured[-2].label].measures
            if last.lesion_cc <= before.lesion_cc:
                warnings.append(
                    f"{name}: not enlarging at the latest MRI ({before.lesion_cc:.2f} → {last.lesion_cc:.2f} cm³, "
                    f"RANO-BM {timepoints[-1].rano_bm_category}); radnec's probability addresses an ENLARGING lesion"
                )
        if course is not None:
            growth = {
                "intervals": [i.model_dump(mode="json") for i in course.intervals],
                "nadir_index": course.nadir_index,
                "rano_bm_citation": course.rano_bm_citation,
                "notes": course.notes,
            }
    return Lesion(name=name, timepoints=timepoints, growth=growth)


__all__ = ["lesion_block", "lesion_tracks", "segment_stage"]
