"""Values of DICOM header elements as plain Python: text, numbers, dates and UID lists.

Every converter returns ``None`` (or an empty list) for an absent, empty or malformed value
rather than raising: the callers decide what is missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def dicom_date(value: Any) -> str | None:
    """A DICOM DA (or the date part of a DT) ``YYYYMMDD...`` as ``YYYY-MM-DD``."""
    text = str(value or "").strip()
    if len(text) >= 8 and text[:8].isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:8]}"
    return None


def text_or_none(value: Any) -> str | None:
    """The value as stripped text, ``None`` when absent or blank."""
    text = str(value).strip() if value is not None else ""
    return text or None


def int_or_none(value: Any) -> int | None:
    """The value as an ``int``, ``None`` when absent or not a number."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def float_or_none(value: Any) -> float | None:
    """The value as a ``float``, ``None`` when absent or not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def seq_uids(items: Iterable[Any], keyword: str) -> list[str]:
    """The distinct non-empty values of ``keyword`` in the items of a sequence, in order."""
    out: list[str] = []
    for item in items or []:
        uid = text_or_none(item.get(keyword))
        if uid and uid not in out:
            out.append(uid)
    return out


__all__ = ["dicom_date", "text_or_none", "int_or_none", "float_or_none", "seq_uids"]
