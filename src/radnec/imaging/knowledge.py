"""Cited imaging thresholds (``thresholds.yaml``) and the observations radnec.imaging emits.

An *observation* is a plain dict with the fields of ``radnec.evidence.observations.Observation``
(``name``, ``value``, ``unit``, ``source``, ``note``) plus ``threshold`` (the cited cut-off entry, or
None) and ``tumour_like`` (True/False/None when no threshold applies). :func:`to_evidence` converts
them into the evidence engine's objects.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from radnec.datafiles import load_yaml
from radnec.errors import EvidenceError

THRESHOLDS_FILE = "thresholds.yaml"
REQUIRED_FIELDS = ("threshold", "unit", "direction", "population", "citation")


@lru_cache(maxsize=1)
def load_thresholds() -> dict[str, dict[str, Any]]:
    """The cited thresholds keyed by observation name (``dsc_rcbv_mean``, ``pet_tbr_mean_FET``, ...)."""
    data = load_yaml("radnec.imaging", THRESHOLDS_FILE)
    entries = data.get("thresholds") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise EvidenceError(f"{THRESHOLDS_FILE}: no 'thresholds' mapping")
    for name, entry in entries.items():
        missing = [f for f in REQUIRED_FIELDS if f not in entry]
        if missing:
            raise EvidenceError(f"{THRESHOLDS_FILE}: threshold {name!r} lacks {', '.join(missing)}")
        if entry["direction"] not in ("above", "below"):
            raise EvidenceError(f"{THRESHOLDS_FILE}: threshold {name!r} has direction {entry['direction']!r}")
        if entry["population"] not in ("METS", "GLIOMA", "MIXED"):
            raise EvidenceError(f"{THRESHOLDS_FILE}: threshold {name!r} has population {entry['population']!r}")
    return entries


def observation(
    name: str,
    value: float | str | None,
    unit: str | None,
    *,
    source: str,
    note: str = "",
    threshold_key: str | None = None,
) -> dict[str, Any]:
    """Build one observation; when ``threshold_key`` names a cited threshold, compare against it.

    Parameters
    ----------
    name
        Observation name understood by the evidence engine (``dsc_rcbv_mean``, ``pet_tbr_max``, ...).
    value, unit
        The measurement and its unit.
    source
        What produced it (``"radnec.imaging.perfusion"``, ``"typed in"``...).
    threshold_key
        Key in ``thresholds.yaml`` (defaults to ``name``); missing keys mean "no cited threshold".
    """
    entry = load_thresholds().get(threshold_key or name)
    tumour_like = None
    notes = [note] if note else []
    if entry is not None:
        if entry["population"] == "GLIOMA":
            notes.append("threshold/accuracy derived from GLIOMA studies, not metastases")
        if entry["threshold"] is not None and isinstance(value, (int, float)):
            cut = float(entry["threshold"])
            tumour_like = bool(value >= cut) if entry["direction"] == "above" else bool(value <= cut)
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "source": source,
        "note": "; ".join(notes),
        "threshold": None if entry is None else {"key": threshold_key or name, **entry},
        "tumour_like": tumour_like,
    }


def to_evidence(observations: list[dict[str, Any]]) -> list[Any]:
    """Convert observation dicts to ``radnec.evidence.observations.Observation`` objects."""
    from radnec.evidence.observations import Observation  # owned by the evidence area

    return [
        Observation(name=o["name"], value=o["value"], unit=o["unit"], source=o["source"], note=o["note"])
        for o in observations
    ]


__all__ = ["load_thresholds", "observation", "to_evidence"]
