"""Observations: the findings the evidence engine turns into likelihood ratios.

An :class:`Observation` is one measured or read finding about one lesion — a number (rCBV 2.3,
TBRmax 2.4, 120 days since SRS), a flag, or a category ('rim', 'in-field', 'FET'). The image
pipeline (dose side, morphology, perfusion, PET, MRS) produces them; the clinical case file
produces them from ``tests_done``; users can type them in.

Which names the engine understands, their units and allowed values, and which cited threshold
maps a value to a test result are defined in the knowledge base
(``radnec/evidence/knowledge/observations.yaml``), not here; :data:`KNOWN_NAMES` mirrors that
list for producers that want to check names without loading the knowledge base (a test keeps
the two in sync). Unknown names are reported as warnings by the engine, never silently used.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Observation names the knowledge base defines (value type; unit). Keep in sync with
#: knowledge/observations.yaml (tests/evidence/test_knowledge.py checks it).
KNOWN_NAMES: dict[str, tuple[str, str | None]] = {
    # timing / kinetics
    "days_since_srs": ("number", "d"),
    "volume_growth_pct_per_month": ("number", "%/month"),
    "volume_doubling_time_days": ("number", "d"),
    "growth_on_steroids": ("bool", None),
    "growth_on_bevacizumab": ("bool", None),
    "rano_bm_category": ("category", None),
    "longest_diameter_mm": ("number", "mm"),
    # morphology
    "edema_enhancement_ratio": ("number", "1"),  # Leeman 2013: oedema / whole T1c lesion volume
    "enhancement_pattern": ("category", None),
    "lesion_quotient": ("number", "1"),
    "necrotic_fraction": ("number", "1"),
    "t1_t2_match": ("category", None),
    # geometry / dose side
    "pattern": ("category", None),
    "growth_symmetry": ("category", None),
    "lesion_dmin_gy": ("number", "Gy"),
    "coverage_rx100_pct": ("number", "%"),
    "lesion_dmax_gy": ("number", "Gy"),
    "lesion_dmax_bound_gy": ("number", "Gy"),
    "lesion_d50_gy": ("number", "Gy"),
    "coverage_rx50_pct": ("number", "%"),
    "v12_cc": ("number", "cm3"),
    # perfusion
    "dsc_rcbv_max": ("number", "ratio to contralateral white matter"),
    "dsc_rcbv_mean": ("number", "ratio to contralateral white matter"),
    "dsc_psr_pct": ("number", "%"),
    "dsc_reading": ("category", None),
    "asl_reading": ("category", None),
    "dce_reading": ("category", None),
    # PET
    "pet_tracer": ("category", None),
    "pet_tbr_max": ("number", "1"),
    "pet_tbr_mean": ("number", "1"),
    "pet_suv_max": ("number", "g/mL"),
    "pet_reading": ("category", None),
    "fdg_dual_phase_lgm_change_pct": ("number", "%"),
    # MRS / diffusion
    "mrs_cho_cr": ("number", "1"),
    "mrs_cho_naa": ("number", "1"),
    "mrs_lipid_lactate": ("number", "1"),
    "mrs_reading": ("category", None),
    "dwi_reading": ("category", None),
    # clinical facts (usually from the case file)
    "srs_fractions": ("number", "1"),
    "srs_prescription_gy": ("number", "Gy"),
    "ici_exposure": ("category", None),
    "her2_adc_concurrent": ("bool", None),
    "repeat_srs": ("bool", None),
    "prior_wbrt": ("bool", None),
    "primary_histology": ("category", None),
    "nsclc_driver_mutation": ("category", None),
    "steroid_course": ("category", None),
}


class Observation(BaseModel):
    """One finding about one lesion, with where it came from.

    Parameters
    ----------
    name
        Observation name, one of :data:`KNOWN_NAMES` (e.g. ``"dsc_rcbv_max"``).
    value
        Number (in the unit of the name, e.g. rCBV as a ratio to contralateral normal white
        matter, days for ``days_since_srs``), bool, or category string (``"rim"``,
        ``"in-field"``, ``"FET"``, readings ``"tumour-like"`` / ``"necrosis-like"``).
    unit
        Unit of a numeric value as the producer understood it (``"d"``, ``"mm"``, ``"Gy"``,
        ``"cm3"``, ``"%"``, ``"1"`` for dimensionless); optional, checked against the knowledge
        base when given.
    source
        Where the value comes from, e.g. ``"morphology:T1c 2026-03-01"``, ``"perfusion:DSC"``,
        ``"case file"``.
    note
        Free text shown next to the item (no patient identifiers).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    value: bool | float | str
    unit: str | None = None
    source: str = Field(min_length=1)
    note: str | None = None

    @field_validator("value")
    @classmethod
    def _finite(cls, value: bool | float | str) -> bool | float | str:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("numeric observation values must be finite (got NaN or infinity)")
        if isinstance(value, str) and not value.strip():
            raise ValueError("categorical observation values must not be empty")
        return value


__all__ = ["Observation", "KNOWN_NAMES"]
