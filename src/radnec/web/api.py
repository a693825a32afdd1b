"""The JSON API of ``radnec serve`` (under ``/api``): cases, imports, jobs, clinical facts, notes, downloads.

Routes validate, call the store and the job runner, and serialise; no science here. Cases and jobs are
addressed by integer keys; downloads by a fixed set of names resolved under the store root. Every route is
behind the token guard (:mod:`radnec.web.auth`). Points are LPS mm in the frame named beside them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import uuid
from typing import Annotated, Any, Literal

import yaml
from fastapi import APIRouter, File, HTTPException, Path, Query, Request, UploadFile
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from radnec.store.errors import NotFound
from radnec.store.models import Analysis, Case, Job, Note
from radnec.store.store import CasePaths, Store
from radnec.web.deps import runner_of, store_of

router = APIRouter(prefix="/api", tags=["api"])

#: Case and job ids (database keys; bounded so that no id overflows a 32-bit column).
CaseId = Annotated[int, Path(ge=1, le=2**31 - 1, description="case id (database key)")]
JobId = Annotated[int, Path(ge=1, le=2**31 - 1, description="job id (database key)")]
#: Longest tumour-board note, characters.
MAX_NOTE = 100_000


class JobOut(BaseModel):
    id: int
    case_id: int | None
    kind: str
    state: Literal["queued", "running", "done", "failed"]
    progress: list[str]
    stage: str | None = Field(description="the stage running now (the last one reached), or null")
    error: str | None
    created_utc: dt.datetime
    started_utc: dt.datetime | None
    finished_utc: dt.datetime | None


class Submitted(BaseModel):
    job_id: int
    case_id: int | None = None
    state: str = "queued"
    overview: list[dict[str, Any]] | None = Field(None, description="the analysis' per-lesion rows when waited for")


class SeriesOut(BaseModel):
    kind: str
    modality: str
    description: str | None
    n_instances: int


class StudyOut(BaseModel):
    study_date: str | None
    description: str | None
    series: list[SeriesOut]


class CaseOut(BaseModel):
    id: int
    label: str
    pseudonym: str | None
    status: str
    analysed: bool
    n_studies: int
    n_files: int
    created_utc: dt.datetime


class CaseDetail(CaseOut):
    studies: list[StudyOut]
    last_job: JobOut | None
    overview: list[dict[str, Any]] = Field(description="per-lesion rows of the latest analysis (empty before one)")


class SeedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    point_lps: list[Annotated[float, Field(allow_inf_nan=False, ge=-1e5, le=1e5)]] = Field(
        min_length=3, max_length=3, description="LPS mm in `frame`")
    frame: str = Field("planning", min_length=1, max_length=64,
                       description="planning | latest | a follow-up label | its date YYYY-MM-DD")


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=MAX_NOTE)


class NoteOut(BaseModel):
    text: str
    updated_utc: dt.datetime | None


def _job_out(job: Job) -> JobOut:
    progress = [str(p) for p in job.progress or []]
    return JobOut(id=job.id, case_id=job.case_id, kind=job.kind, state=job.state,  # type: ignore[arg-type]
                  progress=progress, stage=progress[-1] if progress and job.state == "running" else None, error=job.error,
                  created_utc=job.created_utc, started_utc=job.started_utc, finished_utc=job.finished_utc)


def _overview(paths: CasePaths) -> list[dict[str, Any]]:
    try:
        return list(json.loads(paths.analysis_json.read_text(encoding="utf-8")).get("overview") or [])
    except (OSError, ValueError):
        return []


def _case_out(store: Store, case: Case) -> dict[str, Any]:
    paths = store.paths_for(case.id)
    return dict(id=case.id, label=case.label, pseudonym=case.patient.pseudonym if case.patient else None,
                status=case.status, analysed=paths.analysed, n_studies=len(case.studies), n_files=case.n_files,
                created_utc=case.created_utc)


def _actor(request: Request) -> str:
    return f"token@{request.client.host if request.client else '?'}"


async def _submitted(request: Request, job_id: int, case_id: int | None, wait_s: float) -> Submitted:
    """The answer to a job submission; with ``wait_s`` > 0, after the job ended (or the wait ran out)."""
    store, runner = store_of(request), runner_of(request)
    state = "queued"
    if wait_s > 0:
        ended: str | None = await asyncio.to_thread(runner.wait, job_id, wait_s)
        state = ended or state
        with store.session() as s:
            job = s.get(Job, job_id)
            state = job.state if job else state
    overview = _overview(store.paths_for(case_id)) if case_id is not None and state == "done" else None
    return Submitted(job_id=job_id, case_id=case_id, state=state, overview=overview)


# ---------------------------------------------------------------------------------------------- cases
@router.get("/health")
def health(request: Request) -> dict[str, Any]:
    """Server up; the version and whether jobs run."""
    from radnec import __version__

    return {"ok": True, "version": __version__, "jobs": runner_of(request).pool is not None}


@router.get("/cases", response_model=list[CaseOut])
def list_cases(request: Request) -> list[dict[str, Any]]:
    """Every case, newest first."""
    store = store_of(request)
    with store.session() as s:
        return [_case_out(store, c) for c in s.scalars(select(Case).order_by(Case.id.desc()))]


@router.get("/cases/{case_id}", response_model=CaseDetail)
def get_case(request: Request, case_id: CaseId) -> dict[str, Any]:
    """One case: its studies and series, the last job, the latest per-lesion rows."""
    store = store_of(request)
    with store.session() as s:
        case = s.get(Case, case_id)
        if case is None:
            raise NotFound(f"no case {case_id} in the store")
        out = _case_out(store, case)
        out["studies"] = [StudyOut(study_date=st.study_date, description=st.description,
                                   series=[SeriesOut(kind=se.kind, modality=se.modality, description=se.description,
                                                     n_instances=se.n_instances) for se in st.series])
                          for st in sorted(case.studies, key=lambda st: st.study_date or "")]
        job = s.scalars(select(Job).where(Job.case_id == case_id).order_by(Job.id.desc()).limit(1)).first()
        out["last_job"] = _job_out(job) if job else None
    out["overview"] = _overview(store.paths_for(case_id))
    return out


@router.post("/cases/import", status_code=202, response_model=Submitted)
def import_zip(request: Request, file: Annotated[UploadFile, File(description="a .zip of the case folder")]) -> Submitted:
    """Upload a zipped case folder; it is imported (and then analysed) by background jobs."""
    store, runner = store_of(request), runner_of(request)
    target = store.inside(store.root / "tmp" / f"upload-{uuid.uuid4().hex}.zip")
    with target.open("wb") as out:
        shutil.copyfileobj(file.file, out, 1 << 20)
        out.flush()
        os.fsync(out.fileno())
    job_id = runner.submit("import", None, {"path": str(target), "delete_source": True,
                                            "label": (os.path.basename(file.filename or "") or "upload")[:100]})
    store.audit("upload", actor=_actor(request), job_id=job_id, size_bytes=target.stat().st_size)
    return Submitted(job_id=job_id)


@router.post("/cases/{case_id}/analyze", status_code=202, response_model=Submitted)
async def analyze_case(request: Request, case_id: CaseId,
                       wait: Annotated[float, Query(ge=0, le=600, description="seconds to wait for the result")] = 0
                       ) -> Submitted:
    """Run the whole analysis of a case (fusion included) as a job."""
    store = store_of(request)
    store.case_paths(case_id)
    job_id = runner_of(request).submit("analyze", case_id, {})
    store.audit("analyze", case_id=case_id, actor=_actor(request), job_id=job_id)
    return await _submitted(request, job_id, case_id, wait)


@router.post("/cases/{case_id}/seed", status_code=202, response_model=Submitted)
async def seed_case(request: Request, case_id: CaseId, seed: SeedIn,
                    wait: Annotated[float, Query(ge=0, le=600, description="seconds to wait for the numbers")] = 0
                    ) -> Submitted:
    """Re-run lesion → dose → evidence from a new seed (registrations reused); the job ends when the new numbers are
    written, the HTML report follows as a ``report`` job."""
    store = store_of(request)
    paths = store.case_paths(case_id)
    if not paths.analysed:
        raise HTTPException(409, f"case {case_id} has no analysis yet: analyse it first (POST /api/cases/{case_id}/analyze)")
    job_id = runner_of(request).submit("seed", case_id, {"point_lps": seed.point_lps, "frame": seed.frame})
    store.audit("seed", case_id=case_id, actor=_actor(request), job_id=job_id, frame=seed.frame)
    return await _submitted(request, job_id, case_id, wait)


# ---------------------------------------------------------------------------------------------- clinical
@router.get("/cases/{case_id}/clinical")
def get_clinical(request: Request, case_id: CaseId) -> dict[str, Any]:
    """The case's clinical facts (the fields of the clinical case file; defaults when none was given)."""
    from radnec.evidence.case import ClinicalCase, load_case

    paths = store_of(request).case_paths(case_id)
    case = load_case(paths.clinical) if paths.clinical.is_file() else ClinicalCase()
    return case.model_dump(mode="json")


@router.put("/cases/{case_id}/clinical", status_code=202, response_model=Submitted)
async def put_clinical(request: Request, case_id: CaseId, facts: dict[str, Any],
                       wait: Annotated[float, Query(ge=0, le=600, description="seconds to wait for the posterior")] = 0
                       ) -> Submitted:
    """Replace the clinical facts (validated like a case file: 422 naming the field), then re-run the evidence."""
    from radnec.evidence.case import parse_case
    from radnec.pipeline.workspace import write_text_atomic

    store = store_of(request)
    paths = store.case_paths(case_id)
    case = parse_case(facts, path="clinical facts")
    text = "# written by radnec serve\n" + yaml.safe_dump(case.model_dump(mode="json", exclude_none=True), sort_keys=False)
    write_text_atomic(paths.clinical, text)
    store.audit("clinical", case_id=case_id, actor=_actor(request))
    if not paths.analysed:
        return Submitted(job_id=runner_of(request).submit("analyze", case_id, {}), case_id=case_id)
    job_id = runner_of(request).submit("clinical", case_id, {})
    return await _submitted(request, job_id, case_id, wait)


# ---------------------------------------------------------------------------------------------- results
@router.get("/cases/{case_id}/analysis")
def get_analysis(request: Request, case_id: CaseId) -> Response:
    """The latest ``analysis.json`` (404 before the first analysis)."""
    paths = store_of(request).case_paths(case_id)
    if not paths.analysed:
        raise NotFound(f"case {case_id} has not been analysed yet")
    return Response(paths.analysis_json.read_bytes(), media_type="application/json")


@router.get("/cases/{case_id}/analyses")
def list_analyses(request: Request, case_id: CaseId) -> list[dict[str, Any]]:
    """Every finished analysis run of the case, newest first, with its lesions."""
    store = store_of(request)
    store.case_paths(case_id)
    with store.session() as s:
        rows = s.scalars(select(Analysis).where(Analysis.case_id == case_id).order_by(Analysis.id.desc())).all()
        return [{"id": a.id, "kind": a.kind, "job_id": a.job_id, "finished_utc": a.finished_utc,
                 "analysis_sha256": a.analysis_sha256,
                 "lesions": [{"index": le.index, "label": le.label, "seed_lps": le.seed_lps, "volume_cc": le.volume_cc,
                              "p_progression": le.p_progression} for le in a.lesions]} for a in rows]


#: Downloadable files of a case's output folder: name → media type.
DOWNLOADS = {"report.html": "text/html", "analysis.json": "application/json", "run.json": "application/json"}


@router.get("/cases/{case_id}/files/{name}")
def download(request: Request, case_id: CaseId, name: Literal["report.html", "analysis.json", "run.json"]) -> FileResponse:
    """Download the report or the analysis JSON (as an attachment)."""
    store = store_of(request)
    paths = store.case_paths(case_id)
    if name not in DOWNLOADS:  # the Literal already refuses; kept for callers that bypass validation
        raise NotFound(f"no file {name!r}")
    path = store.inside(paths.out_dir / name)
    if not path.is_file():
        raise NotFound(f"case {case_id} has no {name} yet")
    store.audit("download", case_id=case_id, actor=_actor(request), file=name)
    return FileResponse(path, media_type=DOWNLOADS[name], filename=f"radnec-case-{case_id}-{name}")


# ---------------------------------------------------------------------------------------------- jobs
@router.get("/jobs/{job_id}", response_model=JobOut)
def get_job(request: Request, job_id: JobId) -> JobOut:
    """One job: state, stages reached, error."""
    with store_of(request).session() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise NotFound(f"no job {job_id}")
        return _job_out(job)


@router.get("/cases/{case_id}/jobs", response_model=list[JobOut])
def case_jobs(request: Request, case_id: CaseId,
              limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[JobOut]:
    """The case's jobs, newest first."""
    store = store_of(request)
    store.case_paths(case_id)
    with store.session() as s:
        return [_job_out(j) for j in s.scalars(select(Job).where(Job.case_id == case_id).order_by(Job.id.desc()).limit(limit))]


@router.get("/jobs", response_model=list[JobOut])
def list_jobs(request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[JobOut]:
    """The newest jobs of every case (imports included)."""
    with store_of(request).session() as s:
        return [_job_out(j) for j in s.scalars(select(Job).order_by(Job.id.desc()).limit(limit))]


# ---------------------------------------------------------------------------------------------- note
@router.get("/cases/{case_id}/note", response_model=NoteOut)
def get_note(request: Request, case_id: CaseId) -> NoteOut:
    """The tumour-board note of the case."""
    store = store_of(request)
    store.case_paths(case_id)
    with store.session() as s:
        note = s.scalars(select(Note).where(Note.case_id == case_id)).first()
        return NoteOut(text=note.text if note else "", updated_utc=note.updated_utc if note else None)


@router.put("/cases/{case_id}/note", response_model=NoteOut)
def put_note(request: Request, case_id: CaseId, body: NoteIn) -> NoteOut:
    """Replace the tumour-board note (audited: who, when, how long)."""
    from radnec.store.models import utcnow

    store = store_of(request)
    store.case_paths(case_id)
    with store.session() as s:
        note = s.scalars(select(Note).where(Note.case_id == case_id)).first()
        if note is None:
            note = Note(case_id=case_id)
            s.add(note)
        note.text, note.updated_utc = body.text, utcnow()
        out = NoteOut(text=note.text, updated_utc=note.updated_utc)
    store.audit("note", case_id=case_id, actor=_actor(request), n_chars=len(body.text))
    return out


@router.get("/audit")
def audit_log(request: Request, case_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    """The newest audit events (of one case, when given)."""
    from radnec.store.models import AuditEvent

    with store_of(request).session() as s:
        q = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
        if case_id is not None:
            q = q.where(AuditEvent.case_id == case_id)
        return [{"at_utc": e.at_utc, "actor": e.actor, "action": e.action, "case_id": e.case_id, "detail": e.detail}
                for e in s.scalars(q)]


__all__ = ["DOWNLOADS", "router"]
