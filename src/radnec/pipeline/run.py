"""``analyze`` and its two quick re-runs, over a workspace of saved stage results.

ingest → plan → fusion (rigid) → lesions (segment + measure) → fusion (deformable) → dose side →
evidence → options → ``analysis.json`` + ``report.html`` (+ ``run.json``).

Frames and directions
---------------------
The planning frame (the RTDOSE's frame of reference, LPS mm) is the common frame. Each follow-up
T1c is registered to the planning T1c; the result ``T`` maps planning points to follow-up points
(ITK's fixed = planning convention). Lesions are segmented on each follow-up's own T1c and the masks
are brought onto the dose grid through ``T``. Seeds are given in the planning frame
(``lesion_seeds_lps``), as a clinician picks them on the fused display, or in a follow-up study's own
frame (:func:`reanalyze_lesion` with ``frame=``), mapped to the planning frame through the inverse of
that study's registration.

Missing optional inputs degrade the analysis and are listed in :attr:`radnec.case.Analysis.skipped`;
broken inputs stop with the ingest's :class:`radnec.errors.RadnecError`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from radnec.case import Analysis, Registration
from radnec.errors import InputError
from radnec.evidence.override import ACTIVE_OVERRIDE, remembered_override
from radnec.pipeline.doseside import dose_side
from radnec.pipeline.inputs import load_inputs
from radnec.pipeline.judgement import evidence_stage, overview, series_used
from radnec.pipeline.newlesions import keep_plausible, new_lesion_tracks
from radnec.pipeline.lesions import lesion_block, lesion_tracks, segment_stage
from radnec.pipeline.outputs import figures, provenance, write_analysis, write_run
from radnec.pipeline.plansummary import plan_stage
from radnec.pipeline.registration import deformable_stage, record_for, rigid_stage, to_planning_point
from radnec.pipeline.state import Fusion
from radnec.pipeline.workspace import Workspace, open_workspace
from radnec.progress import Stages

#: Frames a seed may be given in: the planning frame, or a follow-up study's own patient coordinates
#: ("latest", a follow-up label such as "follow-up 2", or a study date YYYY-MM-DD).
PLANNING_FRAME = "planning"


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def analyze(
    case_dir: str | Path,
    *,
    out_dir: str | Path,
    clinical: str | Path | None = None,
    lesion_seeds_lps: Sequence[Sequence[float]] | None = None,
    quiet: bool = False,
    write_report: bool = True,
    draws: int = 20000,
    work_dir: str | Path | None = None,
    fresh: bool = False,
    seed_frame: str = PLANNING_FRAME,
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
    work_dir
        Workspace of saved stage results (default ``out_dir/.radnec``).
    fresh
        Recompute every stage instead of reusing saved results.
    seed_frame
        The frame of ``lesion_seeds_lps``: ``"planning"`` (default) or a follow-up study's own
        frame (``"latest"``, a label or a date), mapped through that study's rigid registration.

    Returns
    -------
    Analysis
        The same content as ``analysis.json`` (plus the run block of ``run.json``).
    """
    ws = open_workspace(out_dir, work_dir=work_dir, fresh=fresh)
    seeds = None if lesion_seeds_lps is None else [[float(v) for v in s] for s in lesion_seeds_lps]
    return _run(ws, Path(case_dir), Path(out_dir), clinical=clinical, seeds=seeds, seed_frame=seed_frame, quiet=quiet,
                write_report=write_report, draws=draws)


def reanalyze_lesion(
    out_dir: str | Path,
    seed_lps: Sequence[float],
    *,
    frame: str = PLANNING_FRAME,
    work_dir: str | Path | None = None,
    quiet: bool = True,
    write_report: bool = True,
) -> Analysis:
    """Re-run lesion → dose side → evidence → outputs for a new seed, reusing the saved registrations.

    Parameters
    ----------
    out_dir
        The output folder of an earlier :func:`analyze` (its workspace holds the saved stages).
    seed_lps
        The new seed, LPS mm, in ``frame``.
    frame
        ``"planning"``, or a follow-up study's own frame: ``"latest"``, a follow-up label
        (``"follow-up 2"``) or its date (``YYYY-MM-DD``).

    Notes
    -----
    The deformable registrations are the earlier run's (refined around its lesions); the result says
    so in ``warnings``. Run :func:`analyze` with the seed for a registration refined around it.
    """
    ws = open_workspace(out_dir, work_dir=work_dir, existing=True)
    m = ws.read_manifest()
    with remembered_override(m.get("knowledge_override")):
        return _run(ws, Path(m["case_dir"]), Path(out_dir), clinical=m["clinical"],
                    seeds=[[float(v) for v in seed_lps]], seed_frame=frame, quiet=quiet, write_report=write_report,
                    draws=m["draws"], keep_registration=True)


def update_clinical(
    out_dir: str | Path,
    clinical: str | Path | None,
    *,
    work_dir: str | Path | None = None,
    quiet: bool = True,
    write_report: bool = True,
) -> Analysis:
    """Re-run the evidence and outputs with a new clinical file (everything else reused when unchanged).

    A clinical file that changes the SRS date, prescription or fractions also re-runs what depends on
    them (days since SRS, plan summary), never the registrations: after a :func:`reanalyze_lesion` the
    registrations it reused are kept too. A knowledge override the earlier run used is applied again.
    """
    ws = open_workspace(out_dir, work_dir=work_dir, existing=True)
    m = ws.read_manifest()
    with remembered_override(m.get("knowledge_override")):
        return _run(ws, Path(m["case_dir"]), Path(out_dir), clinical=clinical, seeds=m["lesion_seeds_lps"],
                    seed_frame=PLANNING_FRAME, quiet=quiet, write_report=write_report, draws=m["draws"],
                    keep_registration=bool(m.get("registration_reused")))


def _stages(
    ws: Workspace,
    case_dir: Path,
    *,
    clinical: str | Path | None,
    seeds: Sequence[Sequence[float]] | None,
    stages: Stages,
    skipped: list[str],
    warnings: list[str],
    seed_frame: str = PLANNING_FRAME,
    keep_registration: bool = False,
) -> tuple[Any, Any, dict[str, Fusion], list[Any], list[Any]]:
    """Every stage up to the dose side: (case inputs, plan, fusions, lesion tracks, lesion blocks)."""
    notes: list[str] = []
    with stages("ingest"):
        case = load_inputs(ws, case_dir, clinical=clinical, skipped=skipped, warnings=warnings)
    with stages("plan"):
        plan = plan_stage(ws, case)
        warnings.extend(plan.warnings)
    with stages("fusion: rigid"):
        fusions = rigid_stage(ws, case)
        if keep_registration:
            _previous_registration(ws, case, fusions, warnings)
    if seeds and seed_frame != PLANNING_FRAME:
        seeds = [_to_planning(s, seed_frame, case, fusions, notes) for s in seeds]
    tracks = lesion_tracks(ws, case, plan, seeds, notes)
    warnings.extend(notes)
    with stages("lesion morphology"):
        segment_stage(ws, case, fusions, tracks, skipped)
    with stages("fusion: deformable"):
        if not keep_registration:
            deformable_stage(ws, case, fusions, tracks, warnings)
    if not seeds:
        with stages("new lesions"):
            new = new_lesion_tracks(ws, case, plan, fusions, warnings)
            segment_stage(ws, case, fusions, new, skipped)
            tracks += keep_plausible(case, new, skipped)
    lesions = []
    with stages("dose side"):
        for track in tracks:
            lesion = lesion_block(case, track, warnings)
            dose_side(ws, case, plan, fusions, track, lesion, warnings)
            lesions.append(lesion)
    return case, plan, fusions, tracks, lesions


def _run(
    ws: Workspace,
    case_dir: Path,
    out: Path,
    *,
    clinical: str | Path | None,
    seeds: Sequence[Sequence[float]] | None,
    quiet: bool,
    write_report: bool,
    draws: int,
    seed_frame: str = PLANNING_FRAME,
    keep_registration: bool = False,
) -> Analysis:
    out.mkdir(parents=True, exist_ok=True)
    stages = Stages(quiet=quiet)
    started = dt.datetime.now(dt.timezone.utc)
    skipped: list[str] = []
    warnings: list[str] = []
    case, plan, fusions, tracks, lesions = _stages(
        ws, case_dir, clinical=clinical, seeds=seeds, stages=stages, skipped=skipped, warnings=warnings,
        seed_frame=seed_frame, keep_registration=keep_registration,
    )
    with stages("evidence"):
        for track, lesion in zip(tracks, lesions):
            evidence_stage(case, track, lesion, plan.summary, draws=draws, skipped=skipped)
    records = [r for tp in case.followups if (r := fusions[tp.label].record) is not None]
    analysis = Analysis(
        plan=plan.summary,
        registration=Registration(method=records[0].method if records else "none", timepoints=records),
        lesions=lesions,
        overview=overview(tracks, lesions),
        series_used=series_used(case),
        skipped=_unique(skipped),
        warnings=_unique(warnings),
        provenance=provenance(case),
    )
    analysis = write_analysis(analysis, out)
    if write_report:
        from radnec.report.html import render_report

        with stages("report"):
            analysis.run = _run_block(started, stages, ws)
            render_report(analysis, figures(ws, case, fusions, tracks, analysis), out_dir=out)
    analysis.run = _run_block(started, stages, ws)
    write_run(analysis.run, out)
    ws.write_manifest(
        {
            "case_dir": str(case_dir.resolve()),
            "clinical": None if clinical is None else str(Path(clinical).resolve()),
            "lesion_seeds_lps": [[float(v) for v in t.seed_lps] for t in tracks] if seeds else None,
            "draws": draws,
            "registration_reused": keep_registration,
            "knowledge_override": None if (o := ACTIVE_OVERRIDE.get()) is None else str(o),
            "registrations": {label: (f.final or f.rigid).key for label, f in fusions.items()},
        }
    )
    return analysis


def saved_state(out_dir: str | Path, *, work_dir: str | Path | None = None) -> tuple[Any, dict[str, Fusion], list[Any]]:
    """The last analysis's case inputs, fusions and lesion tracks, from the workspace (nothing recomputed
    when the case folder and the code are unchanged): what the DICOM exports need."""
    ws = open_workspace(out_dir, work_dir=work_dir, existing=True)
    m = ws.read_manifest()
    case, _, fusions, tracks, _ = _stages(
        ws, Path(m["case_dir"]), clinical=m["clinical"], seeds=m["lesion_seeds_lps"], stages=Stages(quiet=True),
        skipped=[], warnings=[], keep_registration=bool(m.get("registration_reused")),
    )
    return case, fusions, tracks


def _to_planning(seed: Sequence[float], frame: str, case: Any, fusions: dict[str, Fusion], notes: list[str]) -> list[float]:
    """A seed given in a follow-up study's own frame, mapped to the planning frame."""
    followups = case.followups
    if frame == "latest":
        study = followups[-1]
    else:
        study = next((tp for tp in followups if frame in (tp.label, tp.date)), None)
        if study is None:
            have = ", ".join(f"{tp.label} ({tp.date})" for tp in followups)
            raise InputError(f"the seed's frame {frame!r} is not a follow-up of this case (have: {have})", path=case.case_dir)
    fusion = fusions[study.label]
    point = to_planning_point(np.asarray(seed, float), fusion.transform)
    how = "deformable" if fusion.final is not None and fusion.final.value.deformation is not None else "rigid"
    notes.append(
        f"seed ({', '.join(f'{v:.1f}' for v in seed)}) given on {study.label} ({study.date}) in its own frame; "
        f"mapped through its {how} registration to the planning frame ({', '.join(f'{v:.1f}' for v in point)})"
    )
    return [float(v) for v in point]


def _run_block(started: dt.datetime, stages: Stages, ws: Workspace) -> dict[str, Any]:
    return {
        "started_utc": started.isoformat(timespec="seconds"),
        "timings_s": {k: round(v, 2) for k, v in stages.timings_s.items()},
        "stages": ws.record.summary(),
        "workspace": str(ws.root),
    }


def _previous_registration(ws: Workspace, case: Any, fusions: dict[str, Fusion], warnings: list[str]) -> None:
    """Reuse the deformable registrations of the workspace's last analyze (no re-registration)."""
    from radnec.pipeline.persist import load_fusion
    from radnec.pipeline.workspace import Keyed

    saved = ws.read_manifest().get("registrations", {})
    for tp in case.followups:
        key = saved.get(tp.label)
        if key is not None and ws.has("fusion-deformable", key):
            fusions[tp.label].final = Keyed(key, load_fusion(ws.path("fusion-deformable", key)))
        else:
            fusions[tp.label].final = fusions[tp.label].rigid
            warnings.append(f"{tp.label}: no saved deformable registration to reuse; rigid registration only")
        record_for(fusions[tp.label], tp, warnings)
    warnings.append(
        "registration reused from the previous analysis (its lesion masks were excluded from the deformable metric, "
        "not this lesion's): run analyze with this seed for a registration refined around it"
    )


__all__ = ["PLANNING_FRAME", "analyze", "reanalyze_lesion", "update_clinical"]
