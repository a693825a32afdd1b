"""Deterministic JSON: numpy/pydantic to plain JSON, float rounding for reproducible outputs.

Used by the pipeline (``analysis.json``), the fusion transforms and every ``--json`` command.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any


def _clean(obj: Any) -> Any:
    """Make ``obj`` JSON-safe: numpy scalars/arrays to Python, NaN/inf to None, pydantic to dict."""
    if hasattr(obj, "model_dump"):
        return _clean(obj.model_dump(mode="json"))
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "tolist"):
        return _clean(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def round_floats(obj: Any, *, significant: int = 7) -> Any:
    """Round every float in a JSON-like structure to ``significant`` significant digits.

    Multi-threaded reductions (ITK metrics, resampling) differ between runs in the last bits
    (~1e-12 relative); no clinical number carries more than a few significant digits, so
    rounding makes outputs reproducible without losing information.
    """
    if isinstance(obj, float):
        return float(f"{obj:.{significant}g}") if math.isfinite(obj) else obj
    if isinstance(obj, dict):
        return {k: round_floats(v, significant=significant) for k, v in obj.items()}
    if isinstance(obj, list):
        return [round_floats(v, significant=significant) for v in obj]
    return obj


def dumps(obj: Any) -> str:
    """Deterministic, indented JSON (sorted keys are not used: order carries meaning)."""
    return json.dumps(_clean(obj), indent=2, ensure_ascii=False, allow_nan=False)


def print_json(obj: Any) -> None:
    """Write ``obj`` as JSON to stdout."""
    sys.stdout.write(dumps(obj) + "\n")
    sys.stdout.flush()


__all__ = ["round_floats", "dumps", "print_json"]
