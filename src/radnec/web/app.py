"""The FastAPI application of ``radnec serve``.

:func:`create_app` opens the store (Alembic migrations to head, crash recovery), starts the job runner,
queues the demo case on an empty store when asked, adds the token guard and the body limit around
everything, the JSON API (:mod:`radnec.web.api`) and the viewer's routers when present
(``radnec.web.pages``, ``radnec.web.viewer``, ``radnec.web.volumes``: each may define ``router`` and
``setup(app)``). Store errors become HTTP answers: not found 404, too large 413, refused input 400/422.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select

from radnec import __version__
from radnec.errors import CaseFileError, InputError, RadnecError
from radnec.store.archive import Limits
from radnec.store.errors import NotFound, TooLarge
from radnec.store.models import Case, Job
from radnec.store.store import INTERRUPTED, Store
from radnec.web.auth import BodyLimit, TokenGuard
from radnec.web.deps import runner_of, store_of
from radnec.web.jobs import JobRunner
from radnec.web.settings import Settings

log = logging.getLogger(__name__)

#: The viewer's modules (helper B); included when installed.
VIEWER_MODULES = ("radnec.web.pages", "radnec.web.viewer", "radnec.web.volumes")


def _status(exc: RadnecError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, TooLarge):
        return 413
    if isinstance(exc, CaseFileError):
        return 422
    if isinstance(exc, InputError):
        return 400
    return 409


def create_app(settings: Settings) -> FastAPI:
    """Build the app for ``settings`` (opens the store; jobs start running at once)."""
    store = Store(settings.data_dir, settings.db_url)
    recovery = store.recover()
    if recovery.jobs_failed or recovery.blobs or recovery.case_folders:
        log.warning("recovered after an interrupted run: %s", recovery)
    limits = Limits(max_bytes=max(settings.max_upload_bytes * 4, 1 << 20))
    runner = JobRunner(store, workers=settings.workers, limits=limits)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            runner.shutdown()
            store.close()

    app = FastAPI(
        title="radnec serve",
        version=__version__,
        summary="Tumour-board workspace: case store, jobs and analyses. Decision support, not a diagnosis.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.runner = runner
    app.state.recovery = recovery

    @app.exception_handler(RadnecError)
    async def _radnec_error(_request: Request, exc: RadnecError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=_status(exc))

    from radnec.web import api

    app.include_router(api.router)
    for name in VIEWER_MODULES:
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        if hasattr(module, "router"):
            app.include_router(module.router)
        if hasattr(module, "setup"):
            module.setup(app)

    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes)
    app.add_middleware(TokenGuard, token=settings.token)

    if settings.demo:
        _demo(store, runner, settings)
    return app


def _demo(store: Store, runner: JobRunner, settings: Settings) -> None:
    """Queue the demo case on an empty store; finish it when a restart interrupted its analysis."""
    with store.session() as s:
        empty = s.scalar(select(func.count()).select_from(Case)) == 0
        last = s.scalars(select(Job).where(Job.kind == "demo").order_by(Job.id.desc()).limit(1)).first()
        unfinished = (last is not None and last.state == "failed" and last.error == INTERRUPTED and last.case_id is not None
                      and s.get(Case, last.case_id) is not None)
        case_id = last.case_id if last is not None else None
    if empty:
        runner.submit("demo", None, {"voxel_mm": settings.demo_voxel_mm})
    elif unfinished and case_id is not None and not store.paths_for(case_id).report_html.exists():
        runner.submit("analyze", case_id, {"after": "the demo job a restart interrupted"})


__all__ = ["VIEWER_MODULES", "create_app", "runner_of", "store_of"]
