"""Text formatting of the report: numbers with units, probabilities, citations, free-form values.

``fmt``, ``pct`` and ``cite`` are also the Jinja filters of the report template.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any


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


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return " ".join(as_text(v) for v in value)
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {as_text(v)}" for k, v in value.items())
    return str(value)


def num(v: Any) -> str:
    """Free-form numbers (quality metrics, details): 4 significant digits."""
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else "—"
    return fmt(v)


def label(key: str) -> str:
    """Display form of a contract key: underscores become spaces so long names can wrap."""
    return key.replace("_", " ")


def is_expert_opinion(item: Mapping[str, Any]) -> bool:
    """True when an evidence item is marked as expert opinion (a flag, or "expert" in its grade/level/kind)."""
    for key in ("expert_opinion", "is_expert_opinion"):
        if item.get(key):
            return True
    for key in ("grade", "evidence_level", "kind", "level", "population", "source_type"):
        value = item.get(key)
        if isinstance(value, str) and "expert" in value.lower():
            return True
    return False


def voi_rows(voi: Any) -> list[dict[str, Any]]:
    """Value-of-information records as a list of dicts, each with its ``test`` (mapping keys become ``test``)."""
    if isinstance(voi, Mapping):
        rows = []
        for key, val in voi.items():
            if isinstance(val, Mapping):
                row = dict(val)
                row.setdefault("test", key)
                rows.append(row)
        return rows
    return [dict(v) for v in as_list(voi) if isinstance(v, Mapping)]


__all__ = ["fmt", "pct", "cite", "as_list", "as_text", "num", "label", "is_expert_opinion", "voi_rows"]
