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
from radnec.pipeline.persist import load_compartments, load_image, load_json, save_compartments, save_image, save_json
from radnec.pipeline.state import CaseInputs, Fusion, LesionAt, LesionTrack, PlanResult, Study
from radnec.pipeline.workspace import Workspace
from radnec.threads import case_threads


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(float(x), nd)


def target_of(ws: Workspace, case: CaseInputs, plan: PlanResult, seed: np.ndarray) -> Any:
    """The lesion's GTV and prescription (radnec.dose.targets), saved by seed and plan."""
    from radnec.dose.targets import LesionTarget, lesion_target

    rois = {r.name: r for r in case.structures.rois}
    key = ws.key(
        "target", case.sha_of(case.layout.rtstruct.path), case.sha_of(case.layout.rtplan.path), case.dose_key,
        [float(v) for v in seed], plan.plan_prescription_gy,
    )

    def compute() -> dict[str, Any]:
        by_number = {r.number: r for r in case.structures.rois}
        treated = [by_number[n] for n in _treated_rois(ws, case)["numbers"]]
        t = lesion_target(case.structures, case.plan, seed, plan_prescription_gy=plan.plan_prescription_gy, dose=case.dose.image,
                          targets=treated)
        return {"gtv": t.gtv.name if t.gtv is not None else None, "prescription_gy": t.prescription_gy,
                "source": t.source, "distance_mm": t.distance_mm}

    d = ws.cached("target", key, compute, lambda d, f: save_json(d, f / "target.json"), lambda f: load_json(f / "target.json")).value
    gtv = rois.get(d["gtv"]) if d["gtv"] is not None else None
    return LesionTarget(gtv=gtv, prescription_gy=float(d["prescription_gy"]), source=d["source"], distance_mm=d["distance_mm"])


def lesion_tracks(
    ws: Workspace, case: CaseInputs, plan: PlanResult, seeds: Sequence[Sequence[float]] | None, notes: list[str]
) -> list[LesionTrack]:
    """One track per seed (planning frame), each with its target and prescription.

    Default: every treated target of the plan (:func:`radnec.dose.targets.treated_targets`: each
    GTV, and each planned target without a GTV of its own), seeded at its centroid on the dose grid.
    """
    if seeds:
        named = {f"lesion {i + 1}" if len(seeds) > 1 else "lesion": np.asarray(s, float) for i, s in enumerate(seeds)}
    else:
        named = _treated(ws, case, plan)
        if len(named) > 1:
            notes.append(
                f"the plan treated {len(named)} targets ({', '.join(named)}); each is analysed "
                "(give --lesion-seed or --lesion-seed-followup for one lesion only)"
            )
    tracks = []
    for name, seed in named.items():
        t = target_of(ws, case, plan, np.asarray(seed, float))
        if t.gtv is not None and t.distance_mm and t.distance_mm > 0:
            notes.append(f"{name}: the seed lies {t.distance_mm:.1f} mm outside any GTV; nearest is {t.gtv.name}")
        if abs(t.prescription_gy - plan.plan_prescription_gy) > 1e-6:
            notes.append(
                f"{name}: judged against {t.prescription_gy:g} Gy ({t.source}), not the plan-level "
                f"{plan.plan_prescription_gy:g} Gy"
            )
        tracks.append(LesionTrack(name=name, seed_lps=np.asarray(seed, float), target=t, kind="seed" if seeds else "treated target"))
    return tracks


def _treated_rois(ws: Workspace, case: CaseInputs) -> dict[str, Any]:
    """The plan's treated targets (:func:`radnec.dose.targets.treated_targets`): ROI numbers, names and
    centroids on the dose grid (saved; they depend on the plan, not on any seed)."""
    from radnec.dose.targets import treated_targets
    from radnec.geometry import mask_centroid_lps
    from radnec.geometry.contour_masks import roi_mask

    key = ws.key("targets", case.sha_of(case.layout.rtstruct.path), case.sha_of(case.layout.rtplan.path), case.dose_key)

    def compute() -> dict[str, Any]:
        found = treated_targets(case.structures, case.plan, dose=case.dose.image)
        return {
            "numbers": [int(r.number) for r in found],
            "centres": {r.name: [float(v) for v in mask_centroid_lps(roi_mask(r, case.dose.image))] for r in found},
        }

    saved = ws.cached("targets", key, compute, lambda d, f: save_json(d, f / "targets.json"), lambda f: load_json(f / "targets.json"))
    return saved.value


def _treated(ws: Workspace, case: CaseInputs, plan: PlanResult) -> dict[str, np.ndarray]:
    """The plan's treated targets by name, each at its centroid on the dose grid (saved)."""
    centres = _treated_rois(ws, case)["centres"] or {plan.gtv_name: [float(v) for v in plan.gtv_centre_lps]}
    return {name: np.asarray(c, float) for name, c in centres.items()}


def _smoothed_flair(ws: Workspace, tp: Study) -> Any:
    """The study's FLAIR median-filtered as the edema search needs it (saved; every seed reuses it)."""
    from radnec.lesion.edema import smoothed
    from radnec.lesion.intensity import segmentation_parameters

    if tp.flair is None:
        return None
    params = segmentation_parameters()
    key = ws.key("smooth", tp.flair, int(params["median_radius_vox"]), float(params["median_max_anisotropy"]))
    return ws.cached(
        "smooth", key, lambda: smoothed(tp.flair.value, params),  # type: ignore[union-attr]
        lambda img, f: save_image(img, f / "flair.npz"), lambda f: load_image(f / "flair.npz"),
    ).value


def segment_stage(
    ws: Workspace, case: CaseInputs, fusions: dict[str, Fusion], tracks: list[LesionTrack], skipped: list[str]
) -> None:
    """Segment every lesion on every study (saved) and measure it there (fills ``track.at``).

    Studies are segmented in :func:`radnec.threads.case_threads` threads (ITK, NumPy and SciPy release
    the GIL for the heavy parts); the results are gathered in study and lesion order, so the output does not depend on
    which thread finished first.
    """
    from concurrent.futures import ThreadPoolExecutor

    from radnec.lesion.segment import segment_from_seed

    def study_jobs(tp: Study) -> list[tuple[LesionTrack, Any]]:
        transform = fusions[tp.label].rigid.value.transform if tp.label in fusions else None
        smoothed: list[Any] = []  # filtered once, only when a segmentation must be computed
        out: list[tuple[LesionTrack, Any]] = []
        for track in tracks:
            seed = tuple(float(v) for v in track.seed_lps)
            point = tuple(float(v) for v in (transform.TransformPoint(seed) if transform is not None else seed))
            key = ws.key("segment", tp.t1c, tp.flair, list(point))

            def compute(point: tuple[float, ...] = point) -> Any:
                if not smoothed:
                    smoothed.append(_smoothed_flair(ws, tp))
                return segment_from_seed(tp.t1c.value, point, flair=tp.flair.value if tp.flair else None,
                                         smoothed_flair=smoothed[0])

            try:
                out.append((track, ws.cached("segment", key, compute, save_compartments, load_compartments)))
            except RadnecError as exc:
                out.append((track, exc))
        return out

    with ThreadPoolExecutor(max_workers=case_threads(), thread_name_prefix="radnec-segment") as pool:
        per_study = list(pool.map(study_jobs, case.studies))
    for tp, results in zip(case.studies, per_study):
        for track, comps in results:
            if isinstance(comps, RadnecError):
                skipped.append(f"{track.name} at {tp.label} ({tp.date}): not segmented — {comps.message}")
                continue
            track.at[tp.label] = LesionAt(compartments=comps, measures=_measures(ws, case, tp, comps))


def _measures(ws: Workspace, case: CaseInputs, tp: Study, comps: Any) -> Any:
    """Volumes, diameters and ratios of one segmentation (saved by segmentation, T2 and facts)."""
    from radnec.lesion.morphology import TimepointMeasures, measure_timepoint

    steroid = case.clinical.steroids.dose_mg_per_day if case.clinical is not None else None
    steroid = steroid if tp is case.studies[-1] else None
    mkey = ws.key("measure", comps, tp.t2, {"date": tp.date, "days": tp.days_since_srs, "steroid": steroid})

    def measure() -> Any:
        return measure_timepoint(
            comps.value, t2=tp.t2.value if tp.t2 else None, date=tp.date, days_since_srs=tp.days_since_srs,
            steroid_mg_per_day=steroid,
        )

    def save_measures(m: Any, f: Any) -> None:
        (f / "measures.json").write_text(m.model_dump_json(), encoding="utf-8")

    return ws.cached(
        "measure", mkey, measure, save_measures,
        lambda f: TimepointMeasures.model_validate_json((f / "measures.json").read_text(encoding="utf-8")),
    ).value


def lesion_block(case: CaseInputs, track: LesionTrack, warnings: list[str]) -> Lesion:
    """The contract's lesion block without dose side and evidence: time points and growth."""
    from radnec.lesion.longitudinal import lesion_course
    from radnec.lesion.morphology import slice_volume_uncertainty_cc

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
                             "edema_to_enhancing_ratio": _r(m.edema_to_enhancing_ratio),
                             # ± from the slice spacing (2-D thick-slice series): radnec.lesion.morphology
                             "lesion_cc_uncertainty": _r(slice_volume_uncertainty_cc(track.at[tp.label].compartments.value.lesion)),
                             "slice_spacing_mm": round(float(tp.t1c_image.GetSpacing()[2]), 2)},
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
    lesion = Lesion(name=name, kind=track.kind, timepoints=timepoints, growth=growth)
    lesion.status, lesion.status_reason = _status(case, track, measured)
    return lesion


def _status(case: CaseInputs, track: LesionTrack, measured: list[Study]) -> tuple[str | None, str]:
    """Where the lesion stands at the latest study (enlarging / growing / stable / responding)."""
    from radnec.lesion.longitudinal import lesion_status

    if not measured:
        return None, "not segmented at any study"
    if measured[-1] is not case.studies[-1]:
        return "not seen at the latest study", f"last segmented at {measured[-1].label} ({measured[-1].date})"
    if track.kind.startswith("new"):
        first = measured[0]
        return "new", (f"enhancing at the latest study and not at planning (first delineated at {first.label}, "
                       f"{first.date})")
    cats = track.course.rano_bm_category if track.course is not None else [None] * len(measured)
    return lesion_status(cats, [track.at[tp.label].measures.lesion_cc for tp in measured])


__all__ = ["lesion_block", "lesion_tracks", "segment_stage"]
