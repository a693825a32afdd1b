"""The viewer's data routes: NIfTI volumes, their catalogue, point mapping, the clinical form's schema,
the report's pictures; and the ``/static`` mount (the NiiVue bundle, the page scripts).

Everything here reads what the pipeline saved (:mod:`radnec.web.volumes`); no request string reaches
the filesystem: cases are addressed by integer keys through the store, volumes by the names of the
current set's catalogue, figures by the ``data-figure`` keys of ``report.html``.

Routes (all behind the token guard)::

    GET /cases/{id}/volumes/index.json          catalogue (time points, lesions, isodose levels, files)
    GET /cases/{id}/volumes/{name}.nii.gz       a volume (gzipped NIfTI, planning grid, RAS affine)
    GET /cases/{id}/viewer/map?ras=x,y,z        a viewer point in LPS mm: planning frame and each follow-up's
    GET /cases/{id}/viewer/figure/{key}.png     a picture of the report (e.g. views_latest:GTV)
    GET /cases/{id}/viewer/clinical-schema      JSON schema of the clinical case file (the form's fields)
"""

from __future__ import annotations

import asyncio
import base64
import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from radnec.errors import InputError

router = APIRouter(tags=["viewer"])

STATIC_DIR = Path(__file__).parent / "static"
CaseId = Annotated[int, PathParam(ge=1, le=2**31 - 1, description="case id (database key)")]
#: Volume file names the catalogue may list (anything else is refused before touching the disk).
_VOLUME_NAME = re.compile(r"^(t1c|lesion|checker|isodose)-\d{1,3}\.nii\.gz$|^(dose|structures)\.nii\.gz$|^index\.json$")
_FIGURE_KEY = re.compile(r"^[A-Za-z_]{1,40}:[^/\\<>\"]{1,80}$")


def _out_dir(request: Request, case_id: int) -> Path:
    store = request.app.state.store
    return Path(store.case_paths(case_id).out_dir)


def _analysed(out: Path, case_id: int) -> None:
    from radnec.store.errors import NotFound

    if not (out / "analysis.json").is_file():
        raise NotFound(f"case {case_id} has not been analysed yet: no images to show")


@router.get("/cases/{case_id}/volumes/{name}")
async def volume(request: Request, case_id: CaseId, name: str) -> Response:
    """A file of the case's current viewer set (built on first use, then read from the workspace)."""
    from radnec.store.errors import NotFound
    from radnec.web.volumes import volume_path

    if not _VOLUME_NAME.match(name):
        raise NotFound(f"no viewer volume named {name!r}")
    out = _out_dir(request, case_id)
    _analysed(out, case_id)
    try:
        path = await asyncio.to_thread(volume_path, out, name)
    except InputError as exc:
        raise NotFound(exc.message) from None
    if name == "index.json":
        return FileResponse(path, media_type="application/json", headers={"Cache-Control": "no-store"})
    # the set's folder is named by the analysis state: the same URL may later serve another state
    return FileResponse(path, media_type="application/octet-stream", headers={"Cache-Control": "no-cache"})


@router.get("/cases/{case_id}/viewer/map")
async def map_point(
    request: Request, case_id: CaseId,
    ras: Annotated[str, Query(max_length=100, description="x,y,z in RAS mm (the viewer's world = planning frame)")],
) -> dict[str, Any]:
    """A viewer point in LPS mm, in the planning frame and in each follow-up's own frame."""
    from radnec.web.volumes import map_point as _map

    try:
        point = [float(v) for v in ras.split(",")]
    except ValueError:
        return JSONResponse({"detail": "ras must be three numbers x,y,z (mm)"}, status_code=422)  # type: ignore[return-value]
    if len(point) != 3:
        return JSONResponse({"detail": "ras must be three numbers x,y,z (mm)"}, status_code=422)  # type: ignore[return-value]
    out = _out_dir(request, case_id)
    _analysed(out, case_id)
    try:
        return await asyncio.to_thread(_map, out, point)
    except InputError as exc:
        return JSONResponse({"detail": exc.message}, status_code=422)  # type: ignore[return-value]


@router.get("/cases/{case_id}/viewer/figure/{key}.png")
def figure(request: Request, case_id: CaseId, key: str) -> Response:
    """A picture of the case's ``report.html`` by its ``data-figure`` key (``kind:lesion`` or ``kind:date``)."""
    from radnec.store.errors import NotFound

    if not _FIGURE_KEY.match(key):
        raise NotFound(f"no figure {key!r}")
    report = _out_dir(request, case_id) / "report.html"
    if not report.is_file():
        raise NotFound(f"case {case_id} has no report yet")
    png = report_figure(report.read_text(encoding="utf-8"), key)
    if png is None:
        raise NotFound(f"the report has no figure {key!r}")
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-cache"})


def report_figure(html: str, key: str) -> bytes | None:
    """The PNG of the report's ``<figure data-figure="key">`` (decoded from its data URI), or None."""
    start = html.find(f'data-figure="{key}"')
    if start < 0:
        return None
    m = re.compile(r'<img[^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"').search(html, start)
    if m is None or html.find("</figure>", start) < m.start():
        return None
    return base64.b64decode(m.group(1))


def report_figure_keys(html: str) -> list[str]:
    """Every ``data-figure`` key of a report, in order."""
    return re.findall(r'data-figure="([^"]+)"', html)


@router.get("/cases/{case_id}/viewer/figures")
def figures(request: Request, case_id: CaseId) -> list[str]:
    """The keys of the report's pictures (empty before the first report)."""
    report = _out_dir(request, case_id) / "report.html"
    return report_figure_keys(report.read_text(encoding="utf-8")) if report.is_file() else []


@router.get("/cases/{case_id}/viewer/clinical-schema")
def clinical_schema(request: Request, case_id: CaseId) -> dict[str, Any]:
    """The JSON schema of the clinical case file (:class:`radnec.evidence.case.ClinicalCase`), for the form."""
    from radnec.evidence.case import ClinicalCase

    _out_dir(request, case_id)  # 404 for an unknown case
    return ClinicalCase.model_json_schema()


def setup(app: FastAPI) -> None:
    """Mount ``/static`` (the NiiVue bundle and the page scripts; behind the same token guard)."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


__all__ = ["STATIC_DIR", "report_figure", "report_figure_keys", "router", "setup"]
