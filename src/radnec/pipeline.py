"""``radnec analyze``: the whole case in one run.

ingest → fuse every follow-up onto the plan → lesion morphology per time point → dose side →
evidence → options → ``analysis.json`` + ``report.html``.

Frames and directions
---------------------
The planning frame (the RTDOSE's frame of reference, LPS mm) is the common frame. Each
follow-up T1c is registered to the planning T1c; the result ``T`` maps planning points to
follow-up points (ITK's fixed = planning convention). Lesions are segmented on each
follow-up's own T1c at its native resolution (no interpolation of the image being measured)
and the masks are brought onto the dose grid through ``T`` for the dose side. Lesion seed
points (``lesion_seeds_lps``) are given in the planning frame, as a clinician picks them on
the fused display; ``T`` carries them into each follow-up.

Missing optional inputs (no FLAIR, no clinical file, a follow-up without T1c) degrade the
analysis and are listed in :attr:`radnec.case.Analysis.skipped`; broken inputs stop with the
ingest's :class:`radnec.errors.RadnecError`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from radnec import DISCLAIMER, __version__
from radnec.case import (
    Analysis,
    CoveragePct,
    Lesion,
    LesionDose,
    PlanSummary,
    Registration,
    Timepoint,
    TimepointRegistration,
)
from radnec.errors import FrameOfReferenceError, InputError, RadnecError
from radnec.progress import Stages

log = logging.getLogger(__name__)

#: Libraries whose versions go into the provenance block.
PROVENANCE_PACKAGES = ("numpy", "scipy", "SimpleITK", "pydicom", "highdicom", "scikit-image", "pydantic", "matplotlib")
#: Half-width (mm) of the cube around the lesion resampled for the report pictures.
FIGURE_HALF_WIDTH_MM = 40.0
#: Pixel pitch (mm) of the report pictures' common grid.
FIGURE_SPACING_MM = 1.0
#: Deformable engine used by analyze (radnec.fuse.fusion.ENGINES): itk-elastix B-spline with the
#: lesion + oedema masked out of the metric, the library default (near-lesion TRE p95 <= 1 mm on
#: benchmarks/bench_fusion.py vs 2.4 mm for demons; see docs/fusion.md). "demons" needs no itk.
DEFORMABLE_ENGINE = "elastix"
#: Engine options used by analyze, per engine. elastix: the library defaults (demo case, 2 follow-ups,
#: load ~7 on 2 cores: analyze 75 s wall / 55 CPU-s, of which deformable 38 s incl. ~15 s itk module
#: load; peak RSS 2.0 GB). demons: the pyramid stops at half resolution (the field is kept on a 2 mm
#: grid anyway): -30 % time, +0.06 mm TRE on the demo case.
DEFORMABLE_OPTIONS: dict[str, dict[str, Any]] = {"elastix": {}, "demons": {"shrink_factors": (4, 2), "iterations": (60, 40)}}
#: DoseSummationType values that mean "the whole plan's dose".
PLAN_DOSE_SUMMATION_TYPES = ("PLAN", "MULTI_PLAN")
#: Bin width (Gy) of the lesion DVH stored in analysis.json.
DVH_BIN_GY = 0.1


@dataclass
class _TimepointData:
    """Images and results of one study (the planning study is time point 0)."""

    label: str
    date: str | None
    days_since_srs: int | None
    t1c: sitk.Image
    flair: sitk.Image | None
    t2: sitk.Image | None
    transform: sitk.Transform  # planning -> this study's frame (identity for planning)
    frame_uid: str | None = None
    fusion: Any | None = None
    registration: TimepointRegistration | None = None
    lesions: dict[str, Any] = field(default_factory=dict)  # lesion name -> Compartments
    measures: dict[str, Any] = field(default_factory=dict)  # lesion name -> TimepointMeasures


def analyze(
    case_dir: str | Path,
    *,
    out_dir: str | Path,
    clinical: str | Path | None = None,
    lesion_seeds_lps: Sequence[Sequence[float]] | None = None,
    quiet: bool = False,
    write_report: bool = True,
    draws: int = 20000,
) -> Analysis:
    """Analyse one case folder and write ``analysis.json`` (and ``report.html``) to ``out_dir``.

    Parameters
    ----------
    case_dir
        Folder with the planning study (MR T1c, RTPLAN, RTDOSE, RTSTRUCT) and follow-up MR
        studies, as exported from the TPS and PACS.
    out_dir
        Output folder (created).
    clinical
        Optional clinical case file (YAML/JSON, see ``examples/``) for the evidence engine.
    lesion_seeds_lps
        Points (LPS mm, planning frame) inside each lesion to follow; default: the centroid of
        the plan's GTV.
    quiet
        No progress display (``--json`` mode).
    write_report
        Also render ``report.html`` with its pictures.
    draws
        Monte Carlo draws of the evidence engine.

    Returns
    -------
    Analysis
        The same content as ``analysis.json``.
    """
    from radnec.jsonio import dumps, round_floats

    case_dir = Path(case_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stages = Stages(quiet=quiet)
    started = dt.datetime.now(dt.timezone.utc)
    skipped: list[str] = []
    warnings: list[str] = []

    with stages("ingest"):
        ctx = _ingest(case_dir, clinical=clinical, skipped=skipped, warnings=warnings)
    with stages("plan"):
        plan_summary = _plan_summary(ctx, warnings)
    with stages("fusion: rigid"):
        _fuse_rigid(ctx)
    seeds = _seeds(ctx, lesion_seeds_lps)
    ctx.seeds = seeds
    _lesion_targets(ctx)
    warnings.extend(ctx.notes)
    with stages("lesion morphology"):
        _segment_all(ctx, seeds, skipped, warnings)
    with stages("fusion: deformable"):
        _fuse_deformable(ctx, warnings)
    lesions: list[Lesion] = []
    with stages("dose side"):
        for name in seeds:
            lesions.append(_lesion_result(ctx, name, warnings))
    with stages("evidence"):
        for lesion in lesions:
            _evidence(ctx, lesion, plan_summary, draws=draws, skipped=skipped)
    registration = Registration(
        method=ctx.timepoints[1].registration.method if len(ctx.timepoints) > 1 and ctx.timepoints[1].registration else "none",
        timepoints=[tp.registration for tp in ctx.timepoints[1:] if tp.registration is not None],
    )
    analysis = Analysis(
        plan=plan_summary,
        registration=registration,
        lesions=lesions,
        skipped=_unique(skipped),
        warnings=_unique(warnings),
        provenance=_provenance(ctx),
    )
    if write_report:
        with stages("report"):
            _report(ctx, analysis, out)
    analysis.run = {
        "started_utc": started.isoformat(timespec="seconds"),
        "timings_s": {k: round(v, 2) for k, v in stages.timings_s.items()},
    }
    # Round before writing (and return the rounded result, so the file and the object agree).
    analysis = Analysis.model_validate(round_floats(analysis.model_dump(mode="json")))
    (out / "analysis.json").write_text(dumps(analysis) + "\n", encoding="utf-8")
    return analysis


# --------------------------------------------------------------------------- ingest


@dataclass
class _Context:
    case_dir: Path
    layout: Any
    plan: Any
    dose: Any
    structures: Any
    srs_date: dt.date | None
    clinical: Any | None
    timepoints: list[_TimepointData]
    input_files: list[str]
    advanced: Any = None
    seeds: dict[str, np.ndarray] = field(default_factory=dict)
    courses: dict[str, Any] = field(default_factory=dict)  # lesion name -> LesionCourse (or None)
    notes: list[str] = field(default_factory=list)  # warnings found after ingest
    prescription_gy: float | None = None
    gtv: Any = None
    gtv_centre: Any = None  # centroid (LPS mm) of ctx.gtv on the dose grid, set with the plan summary
    targets: dict[str, Any] = field(default_factory=dict)  # lesion name -> radnec.dose.targets.LesionTarget


def _ingest(case_dir: Path, *, clinical: str | Path | None, skipped: list[str], warnings: list[str]) -> _Context:
    from radnec.discover import find_case
    from radnec.ingest.rtdose import read_rtdose
    from radnec.ingest.rtplan import read_rtplan
    from radnec.ingest.rtstruct import read_rtstruct
    from radnec.ingest.scan import scan

    if not case_dir.is_dir():
        raise InputError("the case folder does not exist or is not a folder", path=case_dir)
    inv = scan(case_dir)
    warnings.extend(inv.warnings)
    for s in inv.skipped:
        if not s.reason.startswith("not DICOM"):
            skipped.append(f"file skipped by ingest: {Path(s.path).name}: {s.reason}")
    layout = find_case(inv)
    from radnec.imaging.collect import find_advanced_series

    advanced = find_advanced_series(inv)
    warnings.extend(layout.notes)
    plan = read_rtplan(layout.rtplan.path)
    dose = _plan_dose(layout, read_rtdose)
    structures = read_rtstruct(layout.rtstruct.path)
    case = None
    if clinical is not None:
        from radnec.evidence.case import load_case

        case = load_case(clinical)
    else:
        skipped.append("no clinical case file (--clinical): the prior uses defaults and clinical modifiers are not applied")
    srs_date = _srs_date(layout, case, warnings)
    planning = _load_study(layout.planning, label="planning", srs_date=srs_date, skipped=skipped)
    _require_frame(planning, dose, structures, plan, layout)
    timepoints = [planning]
    followups = list(layout.followups)
    if srs_date is not None:
        before = [f for f in followups if f.date and dt.date.fromisoformat(f.date) <= srs_date]
        for f in before:
            skipped.append(f"MR study of {f.date} is not after the SRS date ({srs_date}): not a follow-up, not analysed")
        followups = [f for f in followups if f not in before]
    if not followups:
        raise InputError("no follow-up MRI after the SRS date was found", path=case_dir)
    for i, fu in enumerate(followups, start=1):
        timepoints.append(_load_study(fu, label=f"follow-up {i}", srs_date=srs_date, skipped=skipped))
    files = sorted({f for s in inv.all_series() for f in s.files} | {o.path for o in inv.objects_of_kind("RTPLAN", "RTDOSE", "RTSTRUCT")})
    return _Context(case_dir, layout, plan, dose, structures, srs_date, case, timepoints, files, advanced=advanced)


def _plan_dose(layout: Any, read_rtdose: Any) -> Any:
    """The plan's total dose: the one RTDOSE of summation type PLAN (or MULTI_PLAN).

    Beam, fraction or control-point doses are not the delivered total; radnec refuses rather
    than guess a sum or a scaling, and refuses ambiguity (several plan doses).
    """
    from radnec.errors import MissingReferenceError, UnitsError

    doses = [read_rtdose(o.path) for o in layout.rtdoses]
    totals = [d for d in doses if d.summation_type.upper() in PLAN_DOSE_SUMMATION_TYPES]
    if len(totals) == 1:
        return totals[0]
    if len(totals) > 1:
        raise MissingReferenceError(
            f"{len(totals)} RTDOSE files of summation type PLAN reference this plan; keep only the one to analyse "
            f"({', '.join(str(d.path.name) for d in totals)})",
            path=layout.rtplan.path,
        )
    kinds = sorted({d.summation_type or "(none)" for d in doses})
    raise UnitsError(
        f"no plan-total RTDOSE: DoseSummationType is {', '.join(kinds)}; radnec needs the PLAN dose (export the "
        "plan sum from the planning system)",
        path=doses[0].path if doses else layout.rtplan.path,
    )


def _load_study(study: Any, *, label: str, srs_date: dt.date | None, skipped: list[str]) -> _TimepointData:
    from radnec.geometry import resample, same_grid
    from radnec.ingest.series import load_series

    t1c = load_series(study.series["T1c"]).image
    others: dict[str, sitk.Image | None] = {}
    for seq in ("FLAIR", "T2"):
        if seq not in study.series:
            if seq == "FLAIR":
                skipped.append(f"{label} ({study.date or 'no date'}): no FLAIR series — edema and the edema/enhancement ratio are not measured")
            others[seq] = None
            continue
        img = load_series(study.series[seq]).image
        if study.series[seq].frame_of_reference_uid != study.series["T1c"].frame_of_reference_uid:
            skipped.append(f"{label}: {seq} is in another frame of reference than the T1c; not used")
            others[seq] = None
            continue
        # Same frame of reference: the scanner coordinates agree; resample onto the T1c grid.
        others[seq] = img if same_grid(img, t1c) else resample(img, t1c, interpolator=sitk.sitkLinear)
    days = None
    if srs_date is not None and study.date:
        days = (dt.date.fromisoformat(study.date) - srs_date).days
    return _TimepointData(
        label=label,
        date=study.date,
        days_since_srs=days,
        t1c=t1c,
        flair=others["FLAIR"],
        t2=others["T2"],
        transform=sitk.Transform(3, sitk.sitkIdentity),
        frame_uid=study.series["T1c"].frame_of_reference_uid,
    )


def _srs_date(layout: Any, case: Any, warnings: list[str]) -> dt.date | None:
    """First SRS fraction: the clinical file's, else RTPLAN's RTPlanDate, else the planning MRI date."""
    if case is not None and case.srs.date is not None:
        return case.srs.date
    import pydicom

    try:
        ds = pydicom.dcmread(layout.rtplan.path, stop_before_pixels=True, specific_tags=["RTPlanDate"])
        text = str(getattr(ds, "RTPlanDate", "") or "")
        if len(text) == 8:
            warnings.append(
                "SRS date taken from the RTPLAN's RTPlanDate, the date the plan was made, which may precede the "
                "first fraction (give srs.date in the clinical file)"
            )
            return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except (OSError, ValueError, pydicom.errors.InvalidDicomError):
        pass
    if layout.planning.date:
        warnings.append("SRS date unknown: days are counted from the planning MRI date")
        return dt.date.fromisoformat(layout.planning.date)
    warnings.append("SRS date unknown and no study dates: days since SRS are not available")
    return None


def _require_frame(planning: _TimepointData, dose: Any, structures: Any, plan: Any, layout: Any) -> None:
    planning_for = layout.planning.series["T1c"].frame_of_reference_uid
    for what, uid, path in (
        ("RTDOSE", dose.frame_of_reference_uid, layout.rtdose.path),
        ("RTSTRUCT", structures.frame_of_reference_uid, layout.rtstruct.path),
    ):
        if uid and planning_for and uid != planning_for:
            raise FrameOfReferenceError(
                f"the {what} is in frame of reference {uid[-12:]} but the planning T1c is in {planning_for[-12:]}; "
                "radnec needs the plan and the planning image in one frame (export them together, or add a REG)",
                path=path,
            )


# --------------------------------------------------------------------------- plan


def _gtv_roi(ctx: _Context) -> Any:
    from radnec.errors import MissingReferenceError

    rois = ctx.structures.rois
    by_number = {r.number: r for r in rois}
    for n in getattr(ctx.plan, "target_roi_numbers", []) or []:
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
        path=ctx.layout.rtstruct.path,
    )


def _target_of(ctx: _Context, seed_lps: np.ndarray) -> Any:
    from radnec.dose.targets import lesion_target

    return lesion_target(
        ctx.structures, ctx.plan, seed_lps, plan_prescription_gy=float(ctx.prescription_gy), dose=ctx.dose.image
    )


def _plan_summary(ctx: _Context, warnings: list[str]) -> PlanSummary:
    from radnec.dose.plan_metrics import plan_metrics
    from radnec.geometry import mask_centroid_lps
    from radnec.ingest.rtstruct import roi_mask

    plan = ctx.plan
    rx = plan.prescription_gy
    if rx is None and ctx.clinical is not None and ctx.clinical.srs.prescription_gy is not None:
        rx = ctx.clinical.srs.prescription_gy
        warnings.append("prescription taken from the clinical file (the RTPLAN states none)")
    if rx is None:
        raise InputError(
            "the RTPLAN states no prescription dose and no clinical file gives srs.prescription_gy",
            path=ctx.layout.rtplan.path,
        )
    gtv = _gtv_roi(ctx)
    ctx.gtv = gtv
    ctx.prescription_gy = float(rx)  # the plan-level value; each lesion gets its target's (_lesion_targets)
    ctx.gtv_centre = mask_centroid_lps(roi_mask(gtv, ctx.dose.image))
    primary = _target_of(ctx, ctx.gtv_centre)
    per_target = getattr(plan, "target_prescriptions_gy", {}) or {}
    if len(set(per_target.values())) > 1:
        names = {r.number: r.name for r in ctx.structures.rois}
        listed = ", ".join(f"{names.get(n, n)} {v:g} Gy" for n, v in sorted(per_target.items()))
        warnings.append(
            f"the plan prescribes several target doses ({listed}); each lesion is judged against its own target's "
            f"dose, and the plan summary (CI, GI) uses {primary.prescription_gy:g} Gy of {gtv.name} ({primary.source})"
        )
    rx = primary.prescription_gy
    m = plan_metrics(ctx.dose.image, ctx.structures, plan, prescription_gy=float(rx))
    gtv_row = next((t for t in m.get("targets", []) if t["name"] == gtv.name), None)
    fractions = plan.fractions or (ctx.clinical.srs.fractions if ctx.clinical is not None else None)
    if fractions is None:
        fractions = 1
        warnings.append("number of fractions not stated in the RTPLAN or clinical file: assumed 1")
    used = {"v12_cc", "v10_cc", "ci_rtog", "ci_paddick", "gi_paddick", "min_dose_gtv_gy", "min_dose_ptv_gy"}
    return PlanSummary(
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
        dose_max_gy=_r(float(sitk.GetArrayViewFromImage(ctx.dose.image).max())),
        srs_date=ctx.srs_date.isoformat() if ctx.srs_date else None,
        details={k: v for k, v in m.items() if k not in used},
    )


# --------------------------------------------------------------------------- fusion


def _fuse_rigid(ctx: _Context) -> None:
    """Whole-head rigid registration of every follow-up T1c to the planning T1c."""
    from radnec.fuse.fusion import fuse

    planning = ctx.timepoints[0]
    for tp in ctx.timepoints[1:]:
        tp.fusion = fuse(
            planning.t1c, tp.t1c, fixed_frame_uid=planning.frame_uid, moving_frame_uid=tp.frame_uid, deformable=False
        )
        tp.transform = tp.fusion.transform


def _union(masks: list[sitk.Image]) -> sitk.Image | None:
    out = None
    for m in masks:
        out = m if out is None else sitk.Or(out, m)
    return out


def _fuse_deformable(ctx: _Context, warnings: list[str]) -> None:
    """Deformable refinement around the lesions, with lesion + oedema excluded from the metric.

    The rigid result of :func:`_fuse_rigid` is kept as the rigid part; the lesions found on each
    follow-up (and on the planning study) are masked out so that the deformation cannot
    "explain away" their growth. Seeds and masks are not re-derived: segmentation happens on the
    follow-up's own grid and only used the rigid transform to place the seed.
    """
    from radnec.fuse.fusion import fuse

    planning = ctx.timepoints[0]
    fixed_mask = _union([_lesion_and_edema(c) for c in planning.lesions.values()])
    for tp in ctx.timepoints[1:]:
        rigid_result = tp.fusion
        moving_mask = _union([_lesion_and_edema(c) for c in tp.lesions.values()])
        centre = next(iter(ctx.seeds.values())) if ctx.seeds else None
        if moving_mask is None and fixed_mask is None and centre is None:
            result = rigid_result
            warnings.append(f"{tp.label}: no lesion found, so rigid registration only")
        else:
            result = fuse(
                planning.t1c,
                tp.t1c,
                registration=rigid_result.rigid,
                moving_lesion_mask=moving_mask,
                fixed_lesion_mask=fixed_mask,
                lesion_center_lps=centre,
                deformable=True,
                deformable_options=DEFORMABLE_OPTIONS[DEFORMABLE_ENGINE],
                engine=DEFORMABLE_ENGINE,
            )
            # The rigid part was registered here (not read from a DICOM REG): say so.
            result.method = result.method.replace("dicom-reg", rigid_result.method)
        tp.fusion = result
        tp.transform = result.transform
        tp.registration = TimepointRegistration(
            date=tp.date,
            method=result.method,
            poor_quality=bool(result.poor_quality),
            quality=dict(result.quality) | {"rigid": dict(rigid_result.quality)},
            warnings=list(result.warnings),
        )
        if result.poor_quality:
            warnings.append(
                f"{tp.label} ({tp.date}): registration quality is poor — check the overlay before trusting dose numbers"
            )


def _lesion_and_edema(comps: Any) -> sitk.Image:
    masks = [comps.lesion] + ([comps.edema] if getattr(comps, "edema", None) is not None else [])
    return _union(masks)  # type: ignore[return-value]


# --------------------------------------------------------------------------- lesions


def _seeds(ctx: _Context, seeds: Sequence[Sequence[float]] | None) -> dict[str, np.ndarray]:
    if seeds:
        return {f"lesion {i + 1}" if len(seeds) > 1 else "lesion": np.asarray(s, float) for i, s in enumerate(seeds)}
    from radnec.dose.targets import is_gtv

    others = [r.name for r in ctx.structures.rois if r is not ctx.gtv and r.contours and is_gtv(r)]
    if others:
        ctx.notes.append(
            f"the structure set has {len(others) + 1} GTVs; only {ctx.gtv.name} is analysed by default "
            f"(give --lesion-seed for {', '.join(others)})"
        )
    return {ctx.gtv.name: ctx.gtv_centre}


def _lesion_targets(ctx: _Context) -> None:
    """Each lesion's GTV and prescription (radnec.dose.targets), said when it is not the plan's."""
    for name, seed in ctx.seeds.items():
        t = _target_of(ctx, seed)
        ctx.targets[name] = t
        if t.gtv is not None and t.distance_mm and t.distance_mm > 0:
            ctx.notes.append(f"{name}: the seed lies {t.distance_mm:.1f} mm outside any GTV; nearest is {t.gtv.name}")
        if abs(t.prescription_gy - float(ctx.prescription_gy)) > 1e-6:
            ctx.notes.append(
                f"{name}: judged against {t.prescription_gy:g} Gy ({t.source}), not the plan-level {ctx.prescription_gy:g} Gy"
            )


def _segment_all(ctx: _Context, seeds: dict[str, np.ndarray], skipped: list[str], warnings: list[str]) -> None:
    from radnec.lesion.morphology import measure_timepoint
    from radnec.lesion.segment import segment_from_seed

    steroid = ctx.clinical.steroids.dose_mg_per_day if ctx.clinical is not None else None
    for tp in ctx.timepoints:
        for name, seed in seeds.items():
            point = np.asarray(tp.transform.TransformPoint(tuple(float(v) for v in seed)))
            try:
                comps = segment_from_seed(tp.t1c, point, flair=tp.flair)
            except RadnecError as exc:
                skipped.append(f"{name} at {tp.label} ({tp.date}): not segmented — {exc.message}")
                continue
            tp.lesions[name] = comps
            tp.measures[name] = measure_timepoint(
                comps,
                t2=tp.t2,
                date=tp.date,
                days_since_srs=tp.days_since_srs,
                steroid_mg_per_day=steroid if tp is ctx.timepoints[-1] else None,
            )


def _lesion_result(ctx: _Context, name: str, warnings: list[str]) -> Lesion:
    from radnec.lesion.longitudinal import lesion_course

    measured = [tp for tp in ctx.timepoints if name in tp.measures]
    if all(tp.days_since_srs is not None for tp in measured):
        measured.sort(key=lambda tp: tp.days_since_srs)  # the order lesion_course gives its categories in
    timepoints: list[Timepoint] = []
    growth: dict[str, Any] = {}
    if measured:
        try:
            course = lesion_course([tp.measures[name] for tp in measured], name=name)
        except RadnecError as exc:
            course = None
            warnings.append(f"{name}: growth not computed — {exc.message}")
        ctx.courses[name] = course
        cats = course.rano_bm_category if course is not None else [None] * len(measured)
        for tp, cat in zip(measured, cats):
            m = tp.measures[name]
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
            last, before = measured[-1].measures[name], measured[-2].measures[name]
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
    lesion = Lesion(name=name, timepoints=timepoints, growth=growth)
    _dose_side(ctx, name, lesion, warnings)
    return lesion


def _dose_side(ctx: _Context, name: str, lesion: Lesion, warnings: list[str]) -> None:
    from radnec.dose.lesion import lesion_dose, map_lesion
    from radnec.dose.pattern import classify_pattern
    from radnec.dose.symmetry import growth_symmetry

    followups = [tp for tp in ctx.timepoints[1:] if name in tp.lesions]
    if not followups:
        warnings.append(f"{name}: no follow-up segmentation, so no dose-side analysis")
        return
    latest = followups[-1]
    target = ctx.targets[name]
    rx = float(target.prescription_gy)
    lesion_mask, transform = latest.lesions[name].lesion, latest.transform
    mapped = map_lesion(ctx.dose.image, lesion_mask, transform=transform)
    try:
        ld = lesion_dose(ctx.dose.image, lesion_mask, transform=transform, prescription_gy=rx, mapped=mapped, name=name)
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
    origin = _earliest_enlarging_tp(ctx.timepoints, name)
    try:
        pattern = classify_pattern(
            ctx.dose.image,
            lesion_mask,
            prescription_gy=rx,
            transform=transform,
            gtv=target.gtv if target.gtv is not None else ctx.gtv,
            origin_mask=origin.lesions[name].lesion if origin is not None else None,
            origin_transform=origin.transform if origin is not None else None,
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
        sym = growth_symmetry(ctx.dose.image, lesion_mask, prescription_gy=rx, transform=transform, mapped=mapped)
        lesion.growth_symmetry = sym.growth_symmetry  # type: ignore[assignment]
        lesion.symmetry_detail = sym.to_dict()
    except RadnecError as exc:
        warnings.append(f"{name}: growth symmetry not assessed — {exc.message}")


def _earliest_enlarging_tp(timepoints: list[_TimepointData], name: str) -> _TimepointData | None:
    """The first follow-up (not the planning study) whose T1c lesion is larger than at the
    study before it (the planning study included)."""
    previous = None
    for i, tp in enumerate(timepoints):
        cc = tp.measures[name].lesion_cc if name in tp.measures else None
        if i > 0 and previous is not None and cc is not None and cc > previous and name in tp.lesions:
            return tp
        previous = cc if cc is not None else previous
    return None


# --------------------------------------------------------------------------- evidence


def _evidence(ctx: _Context, lesion: Lesion, plan: PlanSummary, *, draws: int, skipped: list[str]) -> None:
    from radnec.evidence.observations import Observation
    from radnec.evidence.options import assessment
    from radnec.lesion.longitudinal import observations

    obs: list[Any] = []
    followed = [tp.measures[lesion.name] for tp in ctx.timepoints[1:] if lesion.name in tp.measures]
    course = ctx.courses.get(lesion.name)
    if not followed:
        # Only the planning (pre-treatment) scan was measured: it says nothing about the enlargement.
        skipped.append(f"{lesion.name}: not segmented on any follow-up, so no morphology or timing evidence from images")
    elif course is not None:
        obs.extend(observations(course, source="morphology"))
    else:  # no course (e.g. missing dates): the latest follow-up alone
        obs.extend(observations(followed[-1], source="morphology"))
    latest_days = followed[-1].days_since_srs if followed else None
    if latest_days is not None and (ctx.clinical is None or ctx.clinical.srs.days_since is None):
        obs.append(Observation(name="days_since_srs", value=latest_days, unit="d", source="images: study dates"))
    if lesion.pattern:
        obs.append(Observation(name="pattern", value=lesion.pattern, source="dose side"))
    if lesion.growth_symmetry:
        obs.append(Observation(name="growth_symmetry", value=lesion.growth_symmetry, source="dose side"))
    if lesion.dose is not None:
        obs.append(Observation(name="lesion_dmin_gy", value=lesion.dose.dmin_gy, unit="Gy", source="dose side"))
        obs.append(Observation(name="coverage_rx100_pct", value=lesion.dose.coverage_pct.rx100, unit="%", source="dose side"))
    if ctx.clinical is None or ctx.clinical.srs.fractions is None:
        obs.append(Observation(name="srs_fractions", value=plan.fractions, unit="1", source="plan"))
    if ctx.clinical is None or ctx.clinical.srs.prescription_gy is None:
        target = ctx.targets.get(lesion.name)
        rx, src = (target.prescription_gy, f"plan ({target.source})") if target is not None else (plan.prescription_gy, "plan")
        obs.append(Observation(name="srs_prescription_gy", value=rx, unit="Gy", source=src))
    if plan.v12_cc is not None and plan.fractions == 1:
        obs.append(Observation(name="v12_cc", value=plan.v12_cc, unit="cm3", source="plan"))
    obs.extend(_imaging_observations(ctx, lesion, skipped))
    result = assessment(ctx.clinical, obs, draws=draws, seed=0)
    lesion.evidence = result["evidence"]
    lesion.options = result["options"]


def _imaging_observations(ctx: _Context, lesion: Lesion, skipped: list[str]) -> list[Any]:
    """DSC perfusion, PET and MRS observations for ``lesion`` (radnec.imaging.collect).

    The lesion is taken at the latest follow-up where it was segmented; a series in that study's
    frame of reference needs no transform, others are skipped with their reason.
    """
    from radnec.imaging.collect import imaging_observations

    adv = ctx.advanced
    if adv is None or not (adv.dsc or adv.pet or adv.mrs):
        skipped.append("no perfusion, PET or MR spectroscopy series found: advanced-imaging evidence not used")
        return []
    with_lesion = [tp for tp in ctx.timepoints if lesion.name in tp.lesions]
    if not with_lesion:
        skipped.append(f"{lesion.name}: not segmented, so advanced imaging could not be measured in it")
        return []
    tp = with_lesion[-1]
    result = imaging_observations(lesion=tp.lesions[lesion.name].lesion, lesion_frame_of_reference_uid=tp.frame_uid, series=adv)
    lesion.imaging = {"timepoint": tp.label, "date": tp.date} | result["details"]
    skipped.extend(f"{lesion.name}: {s}" for s in result["skipped"])
    return list(result["observations"])


# --------------------------------------------------------------------------- report


def _report(ctx: _Context, analysis: Analysis, out: Path) -> None:
    from radnec.report.html import render_report

    render_report(analysis, _figures(ctx, analysis), out_dir=out)


def _display_grid(center_lps: np.ndarray) -> sitk.Image:
    """An axis-aligned LPS cube (1 mm) around ``center_lps`` in the planning frame, for pictures."""
    n = int(round(2 * FIGURE_HALF_WIDTH_MM / FIGURE_SPACING_MM)) + 1
    grid = sitk.Image(n, n, n, sitk.sitkUInt8)
    grid.SetSpacing((FIGURE_SPACING_MM,) * 3)
    grid.SetOrigin(tuple(float(c) - FIGURE_HALF_WIDTH_MM for c in center_lps))
    return grid


def _on_grid(image: sitk.Image, grid: sitk.Image, transform: sitk.Transform | None, *, mask: bool = False) -> sitk.Image:
    interp = sitk.sitkNearestNeighbor if mask else sitk.sitkLinear
    tx = transform if transform is not None else sitk.Transform(3, sitk.sitkIdentity)
    pixel = sitk.sitkUInt8 if mask else sitk.sitkFloat32
    return sitk.Resample(sitk.Cast(image, pixel), grid, tx, interp, 0.0, pixel)


def _figures(ctx: _Context, analysis: Analysis) -> dict[str, bytes]:
    from radnec.geometry import mask_centroid_lps
    from radnec.report import figures as F
    from radnec.report.html import figure_key

    plan_rx = analysis.plan.prescription_gy if analysis.plan else None
    out: dict[str, bytes] = {}
    planning = ctx.timepoints[0]
    for lesion in analysis.lesions:
        name = lesion.name
        rx = ctx.targets[name].prescription_gy if name in ctx.targets else plan_rx
        followups = [tp for tp in ctx.timepoints[1:] if name in tp.lesions]
        if followups:
            latest = followups[-1]
            mask_plan = _on_grid(latest.lesions[name].lesion, planning.t1c, latest.transform, mask=True)
            try:
                center = mask_centroid_lps(mask_plan)
            except RadnecError:  # the lesion maps outside the planning image: centre on the seed
                center = ctx.seeds[name]
            grid = _display_grid(center)
            dose = _on_grid(ctx.dose.image, grid, None)
            plan_t1c = _on_grid(planning.t1c, grid, None)
            by_label = {tp.label: tp for tp in followups}
            picks = [("views_latest", latest)]
            label = lesion.pattern_detail.get("origin_timepoint")
            if label in by_label and by_label[label] is not latest:
                picks.append(("views_earliest_enlarging", by_label[label]))
            for kind, tp in picks:
                t1c = _on_grid(tp.t1c, grid, tp.transform)
                les = _on_grid(tp.lesions[name].lesion, grid, tp.transform, mask=True)
                out[figure_key(kind, lesion=name)] = F.orthogonal_views(
                    t1c, dose=dose, prescription_gy=rx, lesion=les, center_lps=center,
                    title=f"{name}: {tp.label} ({tp.date}), on the planning frame",
                )
                if kind == "views_latest":
                    out[figure_key("side_by_side", lesion=name)] = F.side_by_side(
                        plan_t1c, t1c, dose=dose, prescription_gy=rx, lesion=les, center_lps=center,
                        planning_label=f"Planning ({planning.date})", followup_label=f"{tp.label} ({tp.date})",
                    )
            for tp in followups:
                if tp.date:
                    out[figure_key("registration", date=tp.date)] = F.registration_overlay(
                        plan_t1c, _on_grid(tp.t1c, grid, tp.transform), center_lps=center,
                        title=f"Registration check: {tp.label} ({tp.date}) on the planning T1c",
                    )
        curve = (lesion.dose.details.get("dvh") if lesion.dose else None) or None
        if curve:
            out[figure_key("dvh", lesion=name)] = F.dvh_plot(
                {name: (curve["dose_gy"], curve["volume_pct"])}, prescription_gy=rx
            )
        if lesion.timepoints:
            out[figure_key("growth", lesion=name)] = F.growth_curve(lesion.timepoints, title=f"{name}: growth")
        ev = lesion.evidence
        if ev:
            out[figure_key("evidence", lesion=name)] = F.evidence_contributions(
                ev.get("items", []), prior_tp=ev["prior_tp"], posterior_tp=ev["posterior_tp"],
                interval95=ev.get("interval95"),
            )
            voi = ev.get("value_of_information")
            if voi:
                out[figure_key("voi", lesion=name)] = F.value_of_information(voi, current_tp=ev["posterior_tp"])
    return out


# --------------------------------------------------------------------------- provenance


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _provenance(ctx: _Context) -> dict[str, Any]:
    versions = {"radnec": __version__, "python": platform.python_version()}
    for pkg in PROVENANCE_PACKAGES:
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = None
    files = {str(Path(f).relative_to(ctx.case_dir)) if Path(f).is_relative_to(ctx.case_dir) else Path(f).name: _sha256(f) for f in ctx.input_files}
    return {
        "versions": versions,
        "inputs_sha256": dict(sorted(files.items())),
        "planning_study_date": ctx.timepoints[0].date,
        "followup_dates": [tp.date for tp in ctx.timepoints[1:]],
        "disclaimer": DISCLAIMER,
    }


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(float(x), nd)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
