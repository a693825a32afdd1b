"""The HTML pages of ``radnec serve``: the case list (``/``) and the case page (``/cases/{id}``).

Jinja2 templates with plain JavaScript modules (``/static/case.js``, ``/static/viewer.js``); the HTML is
rendered from the store alone (label, pseudonym) and never waits for images or the analysis: the page
fetches ``analysis.json``, the clinical form's schema and the viewer's volumes after its first paint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from radnec import DISCLAIMER

router = APIRouter(tags=["pages"])
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
CaseId = Annotated[int, PathParam(ge=1, le=2**31 - 1, description="case id (database key)")]


@router.get("/", response_class=HTMLResponse)
def case_list(request: Request) -> HTMLResponse:
    """The case list (filled by the page from ``GET /api/cases``) and the zip import."""
    return templates.TemplateResponse(request, "cases.html", {"disclaimer": DISCLAIMER})


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, case_id: CaseId) -> HTMLResponse:
    """The case page: live panels of the analysis, the fused viewer, the clinical form and the note."""
    from radnec.store.models import Case

    store = request.app.state.store
    store.case_paths(case_id)  # 404 for an unknown case
    with store.session() as s:
        case = s.get(Case, case_id)
        label = case.label if case is not None else f"case {case_id}"
        pseudonym = case.patient.pseudonym if case is not None and case.patient is not None else None
    return templates.TemplateResponse(
        request, "case.html", {"case_id": case_id, "label": label, "pseudonym": pseudonym, "disclaimer": DISCLAIMER}
    )


__all__ = ["router", "templates"]
