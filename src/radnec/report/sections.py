"""View models of the report sections: plain rows and dicts the template prints without guessing.

Each function turns one block of the :class:`radnec.case.Analysis` contract (plan, time points,
lesion dose, evidence, value of information, options, free-form blocks) into display rows, with
every number formatted by :mod:`radnec.report.formatting`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from radnec.report.formatting import as_list, as_text, cite, fmt, is_expert_opinion, label, num, pct, voi_rows

if TYPE_CHECKING:  # pragma: no cover
    from radnec.case import Analysis, Lesion


def plan_rows(analysis: Analysis) -> list[tuple[str, str]]:
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


def timepoint_rows(lesion: Lesion) -> list[dict[str, str]]:
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


def dose_rows(lesion: Lesion) -> list[tuple[str, str]]:
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


def evidence_view(ev: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not ev:
        return None
    items = []
    informational = []
    for it in as_list(ev.get("items")):
        if not isinstance(it, Mapping):
            continue
        if "result" in it and it.get("result") is None and not it.get("used", True):
            informational.append({
                "label": str(it.get("label") or it.get("id") or "—"),
                "value": "—" if it.get("value") is None else fmt(it.get("value"), 2, it.get("unit") or ""),
                "why": as_text(it.get("reason") or it.get("why") or it.get("note")),
            })
            continue
        flags = []
        if is_expert_opinion(it):
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
            "value": as_text(it["finding"]) if it.get("finding") else ("—" if value is None else f"{num(value)} {unit or ''}".strip()),
            "grade": str(it.get("grade") or ""),
            "weight": fmt(it.get("weight"), 2) if it.get("weight") is not None else "",
            "contribution": fmt(it.get("contribution"), 2) if it.get("contribution") is not None else "",
            "result": str(it.get("result") if it.get("result") is not None else "—"),
            "lr": fmt(it.get("lr"), 2),
            "log_lr": fmt(it.get("log_lr"), 2),
            "used": bool(used),
            "why": as_text(it.get("why") or it.get("reason") or it.get("note") or it.get("used_note")),
            "citation": cite(it.get("citation") or it.get("citations")),
            "warnings": [as_text(w) for w in as_list(it.get("warnings"))],
            "flags": flags,
        })
    interval = ev.get("interval95")
    interval = list(interval) if isinstance(interval, (list, tuple)) and len(interval) == 2 else None
    prior_range = ev.get("prior_range")
    biopsy = ev.get("biopsy") if isinstance(ev.get("biopsy"), Mapping) else None
    influence = []
    for inf in as_list(ev.get("influence")):
        if isinstance(inf, Mapping):
            influence.append({"observation": as_text(inf.get("observation")),
                              "posterior_without": pct(inf.get("posterior_without"))})
    return {
        "informational": informational,
        "band": as_text(ev.get("band")) or None,
        "prior_range": (f"{pct(prior_range[0])} – {pct(prior_range[1])}"
                        if isinstance(prior_range, (list, tuple)) and len(prior_range) == 2 else None),
        "influence": influence,
        "biopsy": None if biopsy is None else {
            "explanation": as_text(biopsy.get("explanation")),
            "citations": [cite(c) for c in as_list(biopsy.get("citation") or biopsy.get("citations"))],
        },
        "prior": pct(ev.get("prior_tp")),
        "posterior": pct(ev.get("posterior_tp")),
        "interval": f"{pct(interval[0])} – {pct(interval[1])}" if interval else "—",
        "entries": items,
        "next_best_test": as_text(ev.get("next_best_test")) or None,
        "warnings": [as_text(w) for w in as_list(ev.get("warnings"))],
        "caveats": [as_text(w) for w in as_list(ev.get("caveats"))],
        "voi": voi_view(ev.get("value_of_information")),
    }


def voi_view(voi: Any) -> list[dict[str, str]]:
    out = []
    for r in voi_rows(voi):
        out.append({
            "test": str(r.get("label") or r.get("test") or r.get("id") or "—"),
            "p_positive": pct(r.get("p_positive")),
            "if_positive": pct(r.get("posterior_if_positive")),
            "if_negative": pct(r.get("posterior_if_negative")),
            "note": as_text(r.get("note") or r.get("notes") or r.get("caveat") or r.get("warnings")),
            "citation": cite(r.get("citation") or r.get("citations")),
        })
    return out


def options_view(options: Iterable[Any]) -> list[dict[str, Any]]:
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
            "rationale": [as_text(r) for r in as_list(o.get("rationale") or o.get("why"))],
            "evidence": [as_text(e) for e in as_list(o.get("evidence"))],
            "citations": [cite(c) for c in as_list(o.get("citations") or o.get("citation"))],
            "warnings": [as_text(w) for w in as_list(o.get("warnings") or o.get("cautions"))],
        })
    return out


def kv_rows(obj: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Flatten a JSON-like block into (dotted key, value text) rows."""
    rows: list[tuple[str, str]] = []
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            rows.extend(kv_rows(v, f"{prefix}{k}."))
        return rows
    key = prefix[:-1] if prefix.endswith(".") else prefix
    if isinstance(obj, (list, tuple)) and any(isinstance(v, (Mapping, list, tuple)) for v in obj):
        for n, v in enumerate(obj):
            rows.extend(kv_rows(v, f"{key}[{n}]."))
        return rows
    if isinstance(obj, (list, tuple)):
        return [(key, ", ".join(num(v) for v in obj))]
    return [(key, num(obj))]


def block(obj: Any, *, depth: int = 0) -> dict[str, Any]:
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
                rows = [[num(r.get(h)) if not isinstance(r.get(h), (Mapping, list, tuple))
                         else as_text(r.get(h)) for h in headers] for r in v]
                tables.append({"title": label(str(k)), "headers": [label(h) for h in headers], "rows": rows})
            elif isinstance(v, Mapping) and v and depth < 2:
                subs.append({"title": label(str(k)), "block": block(v, depth=depth + 1)})
            else:
                kv.extend((label(key), val) for key, val in kv_rows(v, f"{k}."))
    elif obj is not None:
        kv.extend(kv_rows(obj))
    return {"kv": kv, "tables": tables, "subs": subs}


__all__ = ["plan_rows", "timepoint_rows", "dose_rows", "evidence_view", "voi_view", "options_view", "kv_rows", "block"]
