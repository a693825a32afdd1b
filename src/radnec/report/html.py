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
import json
import math
import re
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from radnec import DISCLAIMER
from radnec.errors import InputError
from radnec.evidence.render import summary_lines

if TYPE_CHECKING:  # pragma: no cover
    from radnec.case import Analysis, Lesion

#: Section ids of the report, in order. Stable: tests, the web app and users link to them.
SECTION_IDS = (
    "disclaimer-top",
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


# --------------------------------------------------------------------------------------------
# formatting helpers (also registered as Jinja filters)
# --------------------------------------------------------------------------------------------
def fmt(value: Any, digits: int = 2, unit: str = "") -> str:
    """Format a number for the report: ``None``/NaN → "—", floats with ``digits`` significant
    decimals, booleans as yes/no, and the unit appended."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return "—"
        text = f"{value:.{digits}f}" if isinstance(value, float) else str(value)
        return f"{text} {unit}".strip()
    return f"{value} {unit}".strip()


def pct(value: Any, digits: int = 0) -> str:
    """A probability 0..1 as a percentage string."""
    if value is None or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        return "—"
    return f"{float(value) * 100:.{digits}f} %"


def cite(c: Any) -> str:
    """One citation (string or dict with author/title/journal/year/pmid/doi) as text."""
    if c is None:
        return ""
    if isinstance(c, str):
        return c
    if isinstance(c, Mapping):
        if c.get("text"):
            return str(c["text"])
        head = ", ".join(str(c[k]) for k in ("author", "authors", "title", "journal", "year") if c.get(k))
        tail = []
        if c.get("pmid"):
            tail.append(f"PMID {c['pmid']}")
        if c.get("doi"):
            tail.append(f"doi:{c['doi']}")
        out = head + ("; " if head and tail else "") + "; ".join(tail)
        return out or json.dumps(dict(c), sort_keys=True, default=str)
    if isinstance(c, (list, tuple)):
        return "; ".join(cite(x) for x in c if x)
    return str(c)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return " ".join(_text(v) for v in value)
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value)


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


# --------------------------------------------------------------------------------------------
# view models: plain dicts/lists the template prints without guessing
# --------------------------------------------------------------------------------------------
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


def _plan_rows(analysis: Analysis) -> list[tuple[str, str]]:
    p = analysis.plan
    if p is None:
        return []
    rows = [
        ("Prescription", fmt(p.prescription_gy, 1, "Gy")
         + (f" to the {fmt(p.prescription_isodose_pct, 0)} % isodose" if p.prescription_isodose_pct else "")),
        ("Fractions", fmt(p.fractions)),
        ("Technique", p.technique or "unknown"),
        ("SRS date (first fraction)", p.srs_date or "—"),
        ("Target ROI", p.target_roi or "—"),
        ("GTV volume", fmt(p.gtv_cc, 2, "cm³")),
        ("Conformity index (RTOG)", fmt(p.conformity_index_rtog, 2)),
        ("Conformity index (Paddick)", fmt(p.conformity_index_paddick, 2)),
        ("Gradient index", fmt(p.gradient_index, 2)),
        ("V12 Gy (brain minus GTV)", fmt(p.v12_cc, 2, "cm³")),
        ("V10 Gy (brain minus GTV)", fmt(p.v10_cc, 2, "cm³")),
        ("GTV Dmin", fmt(p.gtv_dmin_gy, 1, "Gy")),
        ("PTV Dmin", fmt(p.ptv_dmin_gy, 1, "Gy")),
        ("Dose max", fmt(p.dose_max_gy, 1, "Gy")),
    ]
    return rows


def _timepoint_rows(lesion: Lesion) -> list[dict[str, str]]:
    rows = []
    for tp in lesion.timepoints:
        rows.append({
            "date": tp.date or "—",
            "days": fmt(tp.days_since_srs),
            "enhancing": fmt(tp.enhancing_cc, 2),
            "edema": fmt(tp.edema_cc, 2),
            "necrotic": fmt(tp.necrotic_cc, 2),
            "ld": fmt(tp.longest_diameter_mm, 1),
            "perp": fmt(tp.perpendicular_diameter_mm, 1),
            "measurable": fmt(tp.measurable),
            "ratio": fmt(tp.edema_enhancement_ratio, 2),
            "pattern": tp.enhancement_pattern or "—",
            "rano": tp.rano_bm_category or "—",
            "steroid": fmt(tp.steroid_dose_mg, 1),
            "segmentation": tp.segmentation or "—",
        })
    return rows


def _dose_rows(lesion: Lesion) -> list[tuple[str, str]]:
    d = lesion.dose
    if d is None:
        return []
    target = d.details.get("target") if isinstance(d.details.get("target"), Mapping) else {}
    rx = d.details.get("prescription_gy", target.get("prescription_gy"))
    judged = [] if rx is None else [(
        "Prescription the lesion is judged against",
        fmt(rx, 1, "Gy") + (f" — {target['prescription_source']}; lesion's GTV: {target['gtv']}" if target.get("gtv") else ""),
    )]
    return judged + [
        ("Dmin", fmt(d.dmin_gy, 1, "Gy")),
        ("Dmean", fmt(d.dmean_gy, 1, "Gy")),
        ("Dmax", fmt(d.dmax_gy, 1, "Gy")),
        ("D95", fmt(d.d95_gy, 1, "Gy")),
        ("Lesion volume ≥ 100 % of prescription", fmt(d.coverage_pct.rx100, 1, "%")),
        ("Lesion volume ≥ 80 % of prescription", fmt(d.coverage_pct.rx80, 1, "%")),
        ("Lesion volume ≥ 50 % of prescription", fmt(d.coverage_pct.rx50, 1, "%")),
    ]


def _evidence_view(ev: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not ev:
        return None
    items = []
    informational = []
    for it in _as_list(ev.get("items")):
        if not isinstance(it, Mapping):
            continue
        if "result" in it and it.get("result") is None and not it.get("used", True):
            informational.append({
                "label": str(it.get("label") or it.get("id") or "—"),
                "value": "—" if it.get("value") is None else fmt(it.get("value"), 2, it.get("unit") or ""),
                "why": _text(it.get("reason") or it.get("why") or it.get("note")),
            })
            continue
        flags = []
        if any(it.get(k) for k in ("expert_opinion", "is_expert_opinion")) or any(
            isinstance(it.get(k), str) and "expert" in it.get(k).lower()
            for k in ("grade", "evidence_level", "kind", "level", "population", "source_type")
        ):
            flags.append("expert opinion")
        if it.get("unverified"):
            flags.append("unverified")
        used = it.get("used", True)
        value = it.get("value")
        unit = it.get("unit")
        items.append({
            "label": str(it.get("label") or it.get("id") or "—"),
            "family": str(it.get("family") or "—"),
            "population": str(it.get("population") or "—"),
            "value": _text(it["finding"]) if it.get("finding") else ("—" if value is None else f"{_num(value)} {unit or ''}".strip()),
            "grade": str(it.get("grade") or ""),
            "weight": fmt(it.get("weight"), 2) if it.get("weight") is not None else "",
            "contribution": fmt(it.get("contribution"), 2) if it.get("contribution") is not None else "",
            "result": str(it.get("result") if it.get("result") is not None else "—"),
            "lr": fmt(it.get("lr"), 2),
            "log_lr": fmt(it.get("log_lr"), 2),
            "used": bool(used),
            "why": _text(it.get("why") or it.get("reason") or it.get("note") or it.get("used_note")),
            "citation": cite(it.get("citation") or it.get("citations")),
            "warnings": [_text(w) for w in _as_list(it.get("warnings"))],
            "flags": flags,
        })
    interval = ev.get("interval95")
    interval = list(interval) if isinstance(interval, (list, tuple)) and len(interval) == 2 else None
    prior_range = ev.get("prior_range")
    biopsy = ev.get("biopsy") if isinstance(ev.get("biopsy"), Mapping) else None
    influence = []
    for inf in _as_list(ev.get("influence")):
        if isinstance(inf, Mapping):
            influence.append({"observation": _text(inf.get("observation")),
                              "posterior_without": pct(inf.get("posterior_without"))})
    return {
        "informational": informational,
        "band": _text(ev.get("band")) or None,
        "prior_range": (f"{pct(prior_range[0])} – {pct(prior_range[1])}"
                        if isinstance(prior_range, (list, tuple)) and len(prior_range) == 2 else None),
        "influence": influence,
        "biopsy": None if biopsy is None else {
            "explanation": _text(biopsy.get("explanation")),
            "citations": [cite(c) for c in _as_list(biopsy.get("citation") or biopsy.get("citations"))],
        },
        "prior": pct(ev.get("prior_tp")),
        "posterior": pct(ev.get("posterior_tp")),
        "interval": f"{pct(interval[0])} – {pct(interval[1])}" if interval else "—",
        "entries": items,
        "next_best_test": _text(ev.get("next_best_test")) or None,
        "warnings": [_text(w) for w in _as_list(ev.get("warnings"))],
        "caveats": [_text(w) for w in _as_list(ev.get("caveats"))],
        "voi": _voi_view(ev.get("value_of_information")),
    }


def _voi_view(voi: Any) -> list[dict[str, str]]:
    if isinstance(voi, Mapping):
        rows = [dict(v, test=v.get("test", k)) for k, v in voi.items() if isinstance(v, Mapping)]
    else:
        rows = [dict(v) for v in _as_list(voi) if isinstance(v, Mapping)]
    out = []
    for r in rows:
        out.append({
            "test": str(r.get("label") or r.get("test") or r.get("id") or "—"),
            "p_positive": pct(r.get("p_positive")),
            "if_positive": pct(r.get("posterior_if_positive")),
            "if_negative": pct(r.get("posterior_if_negative")),
            "note": _text(r.get("note") or r.get("notes") or r.get("caveat") or r.get("warnings")),
            "citation": cite(r.get("citation") or r.get("citations")),
        })
    return out


def _options_view(options: Iterable[Any]) -> list[dict[str, Any]]:
    out = []
    for o in options:
        if isinstance(o, str):
            out.append({"name": o, "fit": "", "fit_class": "", "rationale": [], "evidence": [], "citations": [],
                        "warnings": []})
            continue
        if not isinstance(o, Mapping):
            continue
        fit = str(o.get("fit") or "")
        out.append({
            "name": str(o.get("name") or o.get("label") or o.get("option") or o.get("id") or "—"),
            "fit": fit,
            "fit_class": re.sub(r"[^a-z]+", "-", fit.lower()).strip("-"),
            "rationale": [_text(r) for r in _as_list(o.get("rationale") or o.get("why"))],
            "evidence": [_text(e) for e in _as_list(o.get("evidence"))],
            "citations": [cite(c) for c in _as_list(o.get("citations") or o.get("citation"))],
            "warnings": [_text(w) for w in _as_list(o.get("warnings") or o.get("cautions"))],
        })
    return out


def _kv_rows(obj: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Flatten a JSON-like block into (dotted key, value text) rows."""
    rows: list[tuple[str, str]] = []
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            rows.extend(_kv_rows(v, f"{prefix}{k}."))
        return rows
    key = prefix[:-1] if prefix.endswith(".") else prefix
    if isinstance(obj, (list, tuple)) and any(isinstance(v, (Mapping, list, tuple)) for v in obj):
        for n, v in enumerate(obj):
            rows.extend(_kv_rows(v, f"{key}[{n}]."))
        return rows
    if isinstance(obj, (list, tuple)):
        return [(key, ", ".join(_num(v) for v in obj))]
    return [(key, _num(obj))]


def _num(v: Any) -> str:
    """Free-form numbers (quality metrics, details): 4 significant digits."""
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else "—"
    return fmt(v)


def _label(key: str) -> str:
    """Display form of a contract key: underscores become spaces so long names can wrap."""
    return key.replace("_", " ")


def _block(obj: Any, *, depth: int = 0) -> dict[str, Any]:
    """A free-form block (registration quality, growth, details) for display: scalar entries as
    key/value rows, each list of records (e.g. growth intervals) as a table, and each nested
    mapping (e.g. thresholds, the rigid stage's own metrics) as a collapsed sub-block."""
    kv: list[tuple[str, str]] = []
    tables: list[dict[str, Any]] = []
    subs: list[dict[str, Any]] = []
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            if isinstance(v, (list, tuple)) and v and all(isinstance(r, Mapping) for r in v):
                headers: list[str] = []
                for r in v:
                    headers.extend(h for h in r if h not in headers)
                rows = [[_num(r.get(h)) if not isinstance(r.get(h), (Mapping, list, tuple))
                         else _text(r.get(h)) for h in headers] for r in v]
                tables.append({"title": _label(str(k)), "headers": [_label(h) for h in headers], "rows": rows})
            elif isinstance(v, Mapping) and v and depth < 2:
                subs.append({"title": _label(str(k)), "block": _block(v, depth=depth + 1)})
            else:
                kv.extend((_label(key), val) for key, val in _kv_rows(v, f"{k}."))
    elif obj is not None:
        kv.extend(_kv_rows(obj))
    return {"kv": kv, "tables": tables, "subs": subs}


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
            "quality": _block(tp.quality),
            "warnings": list(tp.warnings),
            "figure": fig,
        })
    overall_fig = None if tps else figs.get("registration")
    return {"method": reg.method, "quality": _block(reg.quality), "timepoints": tps, "figure": overall_fig,
            "any_poor": any(t["poor"] for t in tps)}


def _lesion_view(lesion: Lesion, figs: _Figures, single: bool) -> dict[str, Any]:
    name = lesion.name

    def g(kind: str) -> dict[str, str] | None:
        return figs.get(kind, lesion=name, single=single)

    ev = lesion.evidence
    options = list(lesion.options) or list(_as_list((ev or {}).get("options")))
    return {
        "name": name,
        "slug": re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "lesion",
        "timepoints": _timepoint_rows(lesion),
        "latest": lesion.timepoints[-1] if lesion.timepoints else None,
        "dose": _dose_rows(lesion),
        "dose_details": _block(lesion.dose.details if lesion.dose is not None else None),
        "pattern": lesion.pattern,
        "pattern_detail": _block(lesion.pattern_detail),
        "symmetry": lesion.growth_symmetry,
        "symmetry_detail": _block(lesion.symmetry_detail),
        "growth": _block(lesion.growth),
        "imaging": _block(lesion.imaging),
        "evidence": _evidence_view(ev),
        "ev_summary": summary_lines(ev) if ev else None,  # hypotheses, leave-one-out, mixed (evidence.render)
        "dose_bound": lesion.dose_bound,
        "options": _options_view(options),
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
    slugs: dict[str, int] = {}
    for les in lesions:  # unique ids even for duplicate names
        n = slugs.get(les["slug"], 0)
        slugs[les["slug"]] = n + 1
        if n:
            les["slug"] = f"{les['slug']}-{n + 1}"
    registration = _registration_view(analysis, figs)
    removed: list[str] = []
    provenance = _kv_rows(_scrub(analysis.provenance, removed))
    run = _kv_rows(_scrub(analysis.run, removed, "run."))
    reasons = {block: _reasons(analysis, block) for block in _REASON_WORDS}
    template = env.get_template("report.html.j2")
    return template.render(
        title=title,
        a=analysis,
        disclaimer=analysis.disclaimer or DISCLAIMER,
        plan_rows=_plan_rows(analysis),
        plan_details=_block(analysis.plan.details if analysis.plan is not None else None),
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


__all__ = ["SECTION_IDS", "FIGURE_KINDS", "figure_key", "render_html", "render_report", "fmt", "pct", "cite"]
