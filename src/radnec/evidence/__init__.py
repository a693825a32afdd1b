"""Evidence engine: cited knowledge base → prior → likelihood ratios → posterior P(progression).

Public entry points (imported lazily so that ``import radnec.evidence`` stays cheap):

- :class:`radnec.evidence.observations.Observation` — one measured or read finding.
- :func:`radnec.evidence.bayes.assess` — posterior P(tumour progression) with a 95 % interval.
- :func:`radnec.evidence.options.options` — management options with rationale and citations.
- :func:`radnec.evidence.case.load_case` — read a clinical case file (YAML/JSON).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Observation", "assess", "options", "load_case", "ClinicalCase", "EvidenceResult"]


def __getattr__(name: str) -> Any:  # lazy re-exports
    if name == "Observation":
        from radnec.evidence.observations import Observation

        return Observation
    if name in ("assess", "EvidenceResult"):
        from radnec.evidence import bayes

        return getattr(bayes, name)
    if name == "options":
        from radnec.evidence.options import options

        return options
    if name in ("load_case", "ClinicalCase"):
        from radnec.evidence import case

        return getattr(case, name)
    raise AttributeError(name)
