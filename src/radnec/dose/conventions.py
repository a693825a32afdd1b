"""Load the dose-side conventions (``conventions.yaml``: isodose levels, pattern and symmetry
thresholds, plan-metric definitions, each with its citation or marked as expert opinion)."""

from __future__ import annotations

from typing import Any

from radnec.datafiles import data_path, load_yaml
from radnec.errors import EvidenceError

PATH = data_path("radnec.dose", "conventions.yaml")


def load_conventions() -> dict[str, Any]:
    """The parsed ``conventions.yaml`` (cached). Raises :class:`EvidenceError` when invalid."""
    data = load_yaml("radnec.dose", "conventions.yaml")
    for key in ("isodose_levels", "pattern", "symmetry", "plan_metrics"):
        if key not in data:
            raise EvidenceError(f"section {key!r} missing", path=PATH)
    return data


__all__ = ["load_conventions", "PATH"]
