"""The background job runner: a stdlib thread pool over :func:`radnec.store.tasks.run_job`.

Jobs run one after the other by default (``workers=1``: the pipeline already uses both cores, and runs on one
case must not overlap: they share its workspace). A ``report`` job that a newer seed or clinical job of the
same case has made stale is skipped (the newer job's report follows it). With ``workers=0`` jobs are only
queued (an inspection copy of a store).
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy import select, update

from radnec.store.archive import Limits
from radnec.store.models import Job, utcnow
from radnec.store.store import INTERRUPTED, Store
from radnec.store.tasks import QUICK, create_job, run_job

log = logging.getLogger(__name__)

#: The viewer's volume module (helper B's) and the job kinds after which its volumes are built ahead.
VOLUMES = "radnec.web.volumes"
WARM = ("analyze", "demo")  # not after a seed: it would delay the next seed click (the page asks for them anyway)


class JobRunner:
    """Queue jobs as rows and run them in a :class:`~concurrent.futures.ThreadPoolExecutor`."""

    def __init__(self, store: Store, *, workers: int = 1, limits: Limits | None = None) -> None:
        self.store = store
        self.limits = limits or Limits()
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="radnec-job") if workers > 0 else None
        self.futures: dict[int, Future[str]] = {}

    def submit(self, kind: str, case_id: int | None = None, params: dict[str, Any] | None = None) -> int:
        """Queue a job; return its id."""
        job_id = create_job(self.store, kind, case_id=case_id, params=params or {})
        if self.pool is not None:
            try:
                self.futures[job_id] = self.pool.submit(self._run, job_id)
            except RuntimeError:  # shutting down: the row stays queued, the next start marks it failed
                log.warning("job %d (%s) not started: the server is stopping", job_id, kind)
        return job_id

    def _run(self, job_id: int) -> str:
        if self._superseded(job_id):
            return "done"
        state = run_job(self.store, job_id, submit=self.submit, limits=self.limits)
        if state == "done" and self.pool is not None:
            try:  # queued behind the follow-up jobs; not part of this job (its waiters get their answer now)
                self.pool.submit(self._warm_viewer, job_id)
            except RuntimeError:
                pass
        return state

    def _warm_viewer(self, job_id: int) -> None:
        """After a run that changed the images or lesions, build the viewer's volumes ahead (a pool task after the job), so
        that the case page opened later paints at once (the viewer builds them on first use otherwise)."""
        import importlib
        import importlib.util

        with self.store.session() as s:
            job = s.get(Job, job_id)
            kind, case_id = (job.kind, job.case_id) if job is not None else ("", None)
        if kind not in WARM or case_id is None or importlib.util.find_spec(VOLUMES) is None:
            return
        try:
            importlib.import_module(VOLUMES).ensure_volumes(self.store.paths_for(case_id).out_dir)
        except Exception:  # noqa: BLE001 - a warm-up only: the viewer builds (and reports) on first use
            log.warning("viewer volumes of case %d not prepared after job %d", case_id, job_id, exc_info=True)

    def _superseded(self, job_id: int) -> bool:
        """A report job with a newer seed/clinical job of its case waiting: mark it done (skipped)."""
        with self.store.session() as s:
            job = s.get(Job, job_id)
            if job is None or job.kind != "report" or job.state != "queued":
                return False
            newer = s.scalars(
                select(Job.id).where(Job.case_id == job.case_id, Job.id > job_id, Job.kind.in_(QUICK),
                                     Job.state.in_(("queued", "running")))
            ).first()
            if newer is None:
                return False
            job.state, job.progress = "done", ["superseded by job %d" % newer]
            return True

    def wait(self, job_id: int, timeout_s: float | None = None) -> str | None:
        """Block until the job ends (or the timeout passes); return its state (None if unknown here)."""
        future = self.futures.get(job_id)
        if future is None:
            return None
        try:
            return future.result(timeout=timeout_s)
        except TimeoutError:
            return None

    def shutdown(self) -> None:
        """Stop taking jobs; the running and queued ones are marked failed ("interrupted by a server restart") now.

        A running pipeline call cannot be stopped from outside its thread: the process exits when it ends or fails
        (its failure then leaves the reason above in place)."""
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            with self.store.session() as s:
                s.execute(update(Job).where(Job.state.in_(("running", "queued")))
                          .values(state="failed", error=INTERRUPTED, finished_utc=utcnow()))


__all__ = ["JobRunner"]
