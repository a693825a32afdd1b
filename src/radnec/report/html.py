"""The self-contained tumour-board report (``report.html``).

:func:`render_report` turns an :class:`radnec.case.Analysis` and a dictionary of PNG figures
(from :mod:`radnec.report.figures`) into ONE HTML file with no external reference: the CSS is
inlined, pictures are base64 ``data:`` URIs, there is no JavaScript. It opens offline, can be
mailed or archived, and prints on A4 (one section per page break).

Figures are looked up by key (see :func:`figure_key`)::

    figure_key("views_latest", lesion="L1")          -> "views_latest:L1"
    figure_key("registration", date="2026-03-01")    -> "registration:2026-03-01"

A key without the lesion suffix is used when there is exactly one lesion; an unsuffixed
``registration`` figure goes with the latest follow-up that has no dated one. Figures whose key the report does not know are shown in an
"Other figures" section, never dropped silently.

Every section has a stable ``id`` (:data:`SECTION_IDS`). A block that is missing from the
analysis (no plan, no dose, no evidence, ...) renders as a "not available because ..." note
quoting the matching entries of ``analysis.skipped``; it never raises.

Privacy: the report shows no patient name or identifier. Keys of ``provenance`` and ``run``
that look like patient identifiers are dropped (and the report says so).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from radnec import DISCLAIMER
from radnec.errors import InputError
from radnec.report.formatting import as_list, cite, fmt, pct
from radnec.report.sections import block, dose_rows, evidence_view, kv_rows, options_view, plan_rows, timepoint_rows
from radnec.evidence.render import summary_lines

if TYPE_CHECKING:  # pragma: no cover
    from radnec.case import Analysis, Lesion

#: Section ids of the report, in order. Stable: tests, the web app and users link to them.
SECTION_IDS = (
    "disclaimer-top",
    "overview",
    "summary",
    "timeline",
    "images",
    "planning-vs-followup",
    "dvh",
    "growth",
    "registration",
    "probability",
    "value-of-information",
    "options",
    "skipped",
    "provenance",
    "disclaimer-bottom",
)

#: Figure kinds the report places, with their default captions.
FIGURE_KINDS = {
    "views_latest": "Latest time point: follow-up T1c with the 50/80/100 % isodose lines and the lesion contour",
    "views_earliest_enlarging": (
        "Earliest enlarging time point: follow-up T1c with the 50/80/100 % isodose lines and the lesion contour"
    ),
    "side_by_side": "Planning T1c (top) and follow-up T1c registered onto the planning frame (bottom)",
    "dvh": "Cumulative dose-volume histogram of the lesion",
    "growth": "Longest diameter and volumes over time (RANO-BM categories, steroid doses)",
    "registration": "Registration check: checkerboard and follow-up edges on the planning image",
    "evidence": "Prior, contribution of each item (log likelihood ratio) and posterior with its 95 % interval",
    "voi": "Probability of progression after each possible next test, if positive or negative",
}
_LESION_KINDS = ("views_latest", "views_earliest_enlarging", "side_by_side", "dvh", "growth", "evidence", "voi")

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PATIENT_KEY = re.compile(r"patient|birth|(^|_)name$|^name|mrn|accession", re.IGNORECASE)

#: Patterns (regular expressions, matched case-insensitively at word starts) in
#: ``analysis.skipped`` entries that explain each block when it is missing.
_REASON_WORDS = {
    "plan": (r"plan\b", r"rtplan", r"rtdose", r"dose\b", r"rtstruct"),
    "dose": (r"dose\b", r"rtdose", r"plan\b", r"rtplan"),
    "registration": (r"regist", r"fusion", r"fuse", r"follow-?ups?\b"),
    "evidence": (r"evidence", r"clinical", r"case file", r"assess"),
    "options": (r"option", r"evidence", r"clinical"),
    "timeline": (r"follow-?ups?\b", r"time ?points?\b", r"t1c", r"lesion"),
    "images": (r"t1c", r"image", r"follow-?ups?\b", r"lesion", r"segment"),
    "growth": (r"follow-?ups?\b", r"time ?points?\b", r"lesion"),
}


def figure_key(kind: str, *, lesion: str | None = None, date: str | None = None) -> str:
    """Key under which :func:`render_report` looks for a figure.

    Parameters
    ----------
    kind
        One of :data:`FIGURE_KINDS`.
    lesion
        Lesion name for per-lesion figures.
    date
        Follow-up date (``YYYY-MM-DD``) for per-time-point registration figures.
    """
    if kind not in FIGURE_KINDS:
        raise ValueError(f"unknown figure kind {kind!r}; expected one of {', '.join(FIGURE_KINDS)}")
    return ":".join([kind, *[p for p in (lesion, date) if p]])


def _scrub(obj: Any, removed: list[str], path: str = "") -> Any:
    """Drop keys that look like patient identifiers, recording their paths in ``removed``."""
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            if _PATIENT_KEY.search(str(k)):
                removed.append(f"{path}{k}")
                continue
            out[str(k)] = _scrub(v, removed, f"{path}{k}.")
        return out
    if isinstance(obj, (list, tuple)):
        return [_scrub(v, removed, path) for v in obj]
    return obj


def _reasons(analysis: Analysis, block: str) -> list[str]:
    pattern = re.compile(r"\b(?:" + "|".join(_REASON_WORDS.get(block, (re.escape(block),))) + ")", re.IGNORECASE)
    return [s for s in analysis.skipped if pattern.search(s)]


def _data_uri(png: bytes, key: str) -> str:
    if not isinstance(png, (bytes, bytearray)) or not bytes(png[:8]) == _PNG_SIGNATURE:
        raise ValueError(f"figure {key!r} is not PNG bytes (expected the output of radnec.report.figures)")
    return "data:image/png;base64," + base64.b64encode(bytes(png)).decode("ascii")


class _Figures:
    """Figure lookup that remembers which keys were used."""

    def __init__(self, figures: Mapping[str, bytes], captions: Mapping[str, str]) -> None:
        self._figs = dict(figures)
        self._captions = dict(captions)
        self.used: set[str] = set()
        for key, png in self._figs.items():
            _data_uri(png, key)  # validate early, with the key in the message

    def get(self, kind: str, *, lesion: str | None = None, date: str | None = None,
            single: bool = True) -> dict[str, str] | None:
        candidates = [figure_key(kind, lesion=lesion, date=date)]
        if lesion and date:
            candidates.append(figure_key(kind, lesion=lesion))
        if single or not (lesion or date):
            candidates.append(kind)
        for key in candidates:
            if key in self._figs:
                self.used.add(key)
                return {
                    "key": key,
                    "src": _data_uri(self._figs[key], key),
                    "caption": self._captions.get(key, self._captions.get(kind, FIGURE_KINDS[kind])),
                }
        return None

    def leftovers(self) -> list[dict[str, str]]:
        return [
            {"key": k, "src": _data_uri(v, k), "caption": self._captions.get(k, k)}
            for k, v in self._figs.items()
            if k not in self.used
        ]


def _registration_view(analysis: Analysis, figs: _Figures) -> dict[str, Any] | None:
    reg = analysis.registration
    if reg is None:
        return None
    tps = []
    for n, tp in enumerate(reg.timepoints):
        fig = figs.get("registration", date=tp.date, single=len(reg.timepoints) == 1) if tp.date else None
        if fig is None and n == len(reg.timepoints) - 1:
            fig = figs.get("registration")
        tps.append({
            "date": tp.date or f"time point {n + 1}",
            "method": tp.method,
            "poor": tp.poor_quality,
            "quality": block(tp.quality),
            "warnings": list(tp.warnings),
            "figure": fig,
        })
    overall_fig = None if tps else figs.get("registration")
    return {"method": reg.method, "quality": block(reg.quality), "timepoints": tps, "figure": overall_fig,
            "any_poor": any(t["poor"] for t in tps)}


def _lesion_view(lesion: Lesion, figs: _Figures, single: bool) -> dict[str, Any]:
    name = lesion.name

    def g(kind: str) -> dict[str, str] | None:
        return figs.get(kind, lesion=name, single=single)

    ev = lesion.evidence
    options = list(lesion.options) or list(as_list((ev or {}).get("options")))
    return {
        "name": name,
        "slug": re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "lesion",
        "timepoints": timepoint_rows(lesion),
        "latest": lesion.timepoints[-1] if lesion.timepoints else None,
        "dose": dose_rows(lesion),
        "dose_details": block(lesion.dose.details if lesion.dose is not None else None),
        "pattern": lesion.pattern,
        "pattern_detail": block(lesion.pattern_detail),
        "symmetry": lesion.growth_symmetry,
        "symmetry_detail": block(lesion.symmetry_detail),
        "growth": block(lesion.growth),
        "imaging": block(lesion.imaging),
        "evidence": evidence_view(ev),
        "ev_summary": summary_lines(ev) if ev else None,  # hypotheses, leave-one-out, mixed (evidence.render)
        "dose_bound": lesion.dose_bound,
        "options": options_view(options),
        "fig": {kind: g(kind) for kind in _LESION_KINDS},
    }


def _versions() -> list[tuple[str, str]]:
    out = []
    for dist in ("radnec", "matplotlib", "Jinja2", "numpy", "SimpleITK"):
        try:
            out.append((dist, metadata.version(dist)))
        except metadata.PackageNotFoundError:  # pragma: no cover
            out.append((dist, "not installed"))
    return out


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------
def render_html(
    analysis: Analysis,
    figures: Mapping[str, bytes] | None = None,
    *,
    captions: Mapping[str, str] | None = None,
    title: str = "Tumour-board report",
) -> str:
    """Render the report as one HTML string (see :func:`render_report`)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("radnec.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(fmt=fmt, pct=pct, cite=cite)
    figs = _Figures(figures or {}, captions or {})
    single = len(analysis.lesions) == 1
    lesions = [_lesion_view(les, figs, single) for les in analysis.lesions]
    rows = {r.get("lesion"): r for r in analysis.overview}
    for view, model in zip(lesions, analysis.lesions):
        view["row"] = {"target": None, "prescription_gy": None, "latest_lesion_cc": None, "change_pct": None,
                       "status": model.status, "kind": model.kind, "flagged": False} | rows.get(model.name, {})
        view["status_reason"] = model.status_reason
    slugs: dict[str, int] = {}
    for view in lesions:  # unique ids even for duplicate names
        n = slugs.get(view["slug"], 0)
        slugs[view["slug"]] = n + 1
        if n:
            view["slug"] = f"{view['slug']}-{n + 1}"
    registration = _registration_view(analysis, figs)
    removed: list[str] = []
    provenance = kv_rows(_scrub(analysis.provenance, removed))
    run = kv_rows(_scrub(analysis.run, removed, "run."))
    reasons = {block: _reasons(analysis, block) for block in _REASON_WORDS}
    template = env.get_template("report.html.j2")
    return template.render(
        title=title,
        a=analysis,
        disclaimer=analysis.disclaimer or DISCLAIMER,
        plan_rows=plan_rows(analysis),
        plan_details=block(analysis.plan.details if analysis.plan is not None else None),
        lesions=lesions,
        registration=registration,
        reasons=reasons,
        provenance=provenance,
        run=run,
        removed_keys=removed,
        versions=_versions(),
        other_figures=figs.leftovers(),
        section_ids=SECTION_IDS,
    )


def render_report(
    analysis: Analysis,
    figures: Mapping[str, bytes] | None = None,
    *,
    out_dir: Path,
    captions: Mapping[str, str] | None = None,
    title: str = "Tumour-board report",
) -> Path:
    """Write the self-contained ``report.html`` of ``analysis`` into ``out_dir``.

    Parameters
    ----------
    analysis
        The analysis (the ``analysis.json`` contract).
    figures
        PNG bytes keyed as described by :func:`figure_key` (e.g. ``"views_latest"``, ``"dvh:L1"``,
        ``"registration:2026-03-01"``). Missing figures render as a note.
    out_dir
        Folder to write into (created if needed).
    captions
        Optional caption per figure key (or per kind), overriding the defaults of
        :data:`FIGURE_KINDS`.
    title
        Page title. Do not put patient names here.

    Returns
    -------
    Path
        The path of ``report.html``.

    Raises
    ------
    InputError
        When ``out_dir`` exists and is not a folder, or cannot be written.
    ValueError
        When a figure is not PNG bytes.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("the report output folder is a file; choose a folder", path=out_dir)
    html = render_html(analysis, figures, captions=captions, title=title)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "report.html"
        path.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write the report: {exc.strerror or exc}", path=out_dir) from exc
    return path


__all__ = ["SECTION_IDS", "FIGURE_KINDS", "figure_key", "render_html", "render_report"]
