"""What each job does: the pipeline on a stored case, and the rows that record the result.

Job kinds: ``import`` (a zip or folder; :func:`radnec.store.importer.import_case`), ``analyze`` (the whole
pipeline), ``seed`` (:func:`radnec.pipeline.reanalyze_lesion` from a new seed), ``clinical``
(:func:`radnec.pipeline.update_clinical` after a new clinical file), ``report`` (the HTML report of the last
analysis, rendered after a quick ``seed``/``clinical`` run that wrote ``analysis.json`` only) and ``demo``
(generate the bundled demo case, import it, analyse it). :func:`run_job` runs one job row to its end state
(``done`` or ``failed`` with the error text); the stage names the pipeline reaches are appended to its
``progress`` as they start.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from radnec.errors import RadnecError
from radnec.store.archive import Limits
from radnec.store.errors import NotFound
from radnec.store.models import Analysis, Case, Job, Lesion, utcnow
from radnec.store.store import CasePaths, Store

log = logging.getLogger(__name__)

#: Job kinds and what they are called in the progress list.
KINDS = ("import", "analyze", "seed", "clinical", "report", "demo")
#: Kinds whose quick run leaves the HTML report to a follow-up ``report`` job.
QUICK = ("seed", "clinical")

#: Submits a follow-up job: ``submit(kind, case_id, params) -> job id`` (the runner's queue).
Submit = Callable[[str, "int | None", "dict[str, Any]"], int]


def create_job(store: Store, kind: str, *, case_id: int | None = None, params: dict[str, Any] | None = None) -> int:
    """A new ``queued`` job row; returns its id."""
    if kind not in KINDS:
        raise ValueError(f"unknown job kind {kind!r}")
    with store.session() as s:
        job = Job(kind=kind, case_id=case_id, params=params or {}, state="queued", progress=[])
        s.add(job)
        s.flush()
        return job.id


def _update(store: Store, job_id: int, **values: Any) -> None:
    with store.session() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise NotFound(f"no job {job_id}")
        for k, v in values.items():
            setattr(job, k, v)


def _progress(store: Store, job_id: int) -> Callable[[str], None]:
    def hear(stage: str) -> None:
        with store.session() as s:
            job = s.get(Job, job_id)
            if job is not None:
                job.progress = [*job.progress, stage]

    return hear


def record_analysis(store: Store, case_id: int, *, kind: str, job_id: int | None) -> int:
    """An :class:`Analysis` row (and its lesions) for the ``analysis.json`` now in the case's output folder."""
    paths = store.paths_for(case_id)
    raw = paths.analysis_json.read_bytes()
    data = json.loads(raw)
    overview = list(data.get("overview") or [])
    with store.session() as s:
        row = Analysis(case_id=case_id, job_id=job_id, kind=kind, analysis_sha256=hashlib.sha256(raw).hexdigest(),
                       summary={"overview": overview})
        for i, item in enumerate(overview):
            row.lesions.append(Lesion(index=i, label=str(item.get("lesion") or f"lesion {i + 1}")[:200],
                                      seed_lps=item.get("seed_lps"), volume_cc=item.get("latest_lesion_cc"),
                                      p_progression=item.get("posterior_tp")))
        s.add(row)
        case = s.get(Case, case_id)
        if case is not None:
            case.status = "analysed"
        s.flush()
        return row.id


def _clinical(paths: CasePaths) -> Path | None:
    return paths.clinical if paths.clinical.is_file() else None


def _rerun(paths: CasePaths, *, write_report: bool) -> None:
    """Evidence and outputs again with the case's current clinical file (``update_clinical`` keeps the last
    run's lesions and the registrations it used, also those a seed run reused)."""
    from radnec.pipeline import update_clinical

    update_clinical(paths.out_dir, _clinical(paths), quiet=True, write_report=write_report)


def _run_kind(store: Store, job: Job, submit: Submit | None, limits: Limits) -> int | None:
    """Do the work of ``job``; return the case id it produced or worked on."""
    from radnec.pipeline import analyze, reanalyze_lesion

    p = job.params
    if job.kind == "import":
        from radnec.store.importer import import_case

        source = store.inside(Path(p["path"]))
        try:
            case_id = import_case(store, source, label=p.get("label"), limits=limits)
        finally:
            if p.get("delete_source"):
                source.unlink(missing_ok=True)
        store.audit("import", case_id=case_id, job_id=job.id)
        if p.get("analyze", True) and submit is not None:
            submit("analyze", case_id, {})
        return case_id
    if job.kind == "demo":
        return _demo(store, job, limits)
    if job.case_id is None:
        raise NotFound(f"job {job.id} names no case")
    case_id = job.case_id
    paths = store.case_paths(case_id)
    if job.kind == "analyze":
        analyze(paths.dicom_dir, out_dir=paths.out_dir, clinical=_clinical(paths), quiet=True, write_report=True)
    elif job.kind == "seed":
        reanalyze_lesion(paths.out_dir, p["point_lps"], frame=p.get("frame", "planning"), quiet=True,
                         write_report=submit is None)
    elif job.kind == "clinical":
        _rerun(paths, write_report=submit is None)
    elif job.kind == "report":
        _rerun(paths, write_report=True)
        return case_id
    record_analysis(store, case_id, kind=job.kind, job_id=job.id)
    if job.kind in QUICK and submit is not None:
        submit("report", case_id, {"after_job": job.id})
    return case_id


def _demo(store: Store, job: Job, limits: Limits) -> int:
    """Generate the bundled demo case (as ``radnec demo``), import it with its clinical file and analyse it."""
    from importlib.resources import files

    from radnec.phantom.generate import generate_case
    from radnec.pipeline import analyze
    from radnec.store.importer import import_case

    p = job.params
    work = store.root / "tmp" / f"demo-{job.id}"
    shutil.rmtree(work, ignore_errors=True)
    try:
        generate_case(p.get("scenario", "necrosis"), int(p.get("seed", 0)), work / "case", months=[3.0, 9.0],
                      voxel_mm=float(p.get("voxel_mm", 1.0)))
        case_id = import_case(store, work / "case" / "dicom", label=p.get("label", "demo (synthetic phantom)"), limits=limits)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _update(store, job.id, case_id=case_id)
    paths = store.paths_for(case_id)
    shutil.copyfile(Path(str(files("radnec.commands").joinpath("data", "demo_clinical.yaml"))), paths.clinical)
    store.audit("import", case_id=case_id, job_id=job.id, demo=True)
    analyze(paths.dicom_dir, out_dir=paths.out_dir, clinical=paths.clinical, quiet=True, write_report=True)
    record_analysis(store, case_id, kind="analyze", job_id=job.id)
    return case_id


def run_job(store: Store, job_id: int, *, submit: Submit | None = None, limits: Limits | None = None) -> str:
    """Run the queued job ``job_id`` to ``done`` or ``failed``; return the end state.

    ``submit`` queues follow-up jobs (an import's analysis, a quick run's report); without it (a CLI or a test
    running jobs inline) a quick run renders its report itself and an import is not analysed.
    """
    from radnec.progress import listening

    with store.session() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise NotFound(f"no job {job_id}")
        if job.state != "queued":
            return job.state
        job.state, job.started_utc = "running", utcnow()
    try:
        with listening(_progress(store, job_id)):
            case_id = _run_kind(store, job, submit, limits or Limits())
    except Exception as exc:  # noqa: BLE001 - every failure ends up in the job row, the server keeps running
        message = str(exc) if isinstance(exc, RadnecError) else f"{type(exc).__name__}: {exc}"
        with store.session() as s:
            job_now = s.get(Job, job_id)
            if job_now is not None and job_now.state != "running":  # the server stopped meanwhile: keep its reason
                log.warning("job %d (%s) ended after the server stopped: %s", job_id, job.kind, message)
                return job_now.state
        if not isinstance(exc, RadnecError):
            log.error("job %d (%s) failed:\n%s", job_id, job.kind, traceback.format_exc())
        _update(store, job_id, state="failed", error=message[:4000], finished_utc=utcnow())
        return "failed"
    _update(store, job_id, state="done", case_id=case_id, finished_utc=utcnow())
    return "done"


def latest_job(store: Store, case_id: int) -> Job | None:
    """The newest job of a case."""
    with store.session() as s:
        return s.scalars(select(Job).where(Job.case_id == case_id).order_by(Job.id.desc()).limit(1)).first()


__all__ = ["KINDS", "QUICK", "create_job", "latest_job", "record_analysis", "run_job"]
