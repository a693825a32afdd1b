"""Load the dose-side conventions (``conventions.yaml``: isodose levels, pattern and symmetry
thresholds, plan-metric definitions, each with its citation or marked as expert opinion)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from radnec.errors import EvidenceError

PATH = Path(__file__).with_name("conventions.yaml")


@lru_cache(maxsize=1)
def load_conventions() -> dict[str, Any]:
    """The parsed ``conventions.yaml`` (cached). Raises :class:`EvidenceError` when invalid."""
    import yaml

    try:
        data = yaml.safe_load(PATH.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise EvidenceError(f"cannot read the dose conventions: {exc}", path=PATH) from exc
    for key in ("isodose_levels", "pattern", "symmetry", "plan_metrics"):
        if key not in data:
            raise EvidenceError(f"section {key!r} missing", path=PATH)
    return data


__all__ = ["load_conventions", "PATH"]
