"""The analysis JSON contract (``analysis.json``), as pydantic models.

This is the machine-readable output of ``radnec analyze``: the minimum contract of
DESIGN.md, extended. ``schema_version`` is bumped on any breaking change. Numbers carry their
unit in the field name (``_gy``, ``_cc``, ``_mm``, ``_pct``, ``days_``). Free-form blocks from
the stages (registration quality, dose details, evidence) are kept as plain dictionaries so that
each stage owns its own schema; their keys are documented in docs/.

Determinism: ``analysis.json`` is a function of the inputs only; :attr:`Analysis.run` (timestamps,
timings, which saved stages were reused) is written to ``run.json`` beside it, not into it
(schema 2; in schema 1 it was part of ``analysis.json``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from radnec import DISCLAIMER, __version__

SCHEMA_VERSION = 3

Pattern = Literal["in-field", "marginal", "out-of-field"]
Symmetry = Literal["symmetric", "eccentric", "not applicable"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlanSummary(_Model):
    """The SRS plan as read from RTPLAN/RTDOSE/RTSTRUCT."""

    prescription_gy: float
    fractions: int
    technique: str = "unknown"
    prescription_isodose_pct: float | None = None
    target_roi: str | None = None
    gtv_cc: float | None = None
    v12_cc: float | None = Field(None, description="Brain minus GTV receiving >= 12 Gy (cm3)")
    v10_cc: float | None = None
    conformity_index_rtog: float | None = None
    conformity_index_paddick: float | None = None
    gradient_index: float | None = None
    gtv_dmin_gy: float | None = None
    ptv_dmin_gy: float | None = None
    dose_max_gy: float | None = None
    srs_date: str | None = Field(None, description="YYYY-MM-DD of the plan / first fraction when known")
    details: dict[str, Any] = Field(default_factory=dict)


class TimepointRegistration(_Model):
    """How one follow-up study was brought onto the planning frame."""

    date: str | None
    method: str
    poor_quality: bool = False
    quality: dict[str, Any] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)


class Registration(_Model):
    method: str
    timepoints: list[TimepointRegistration] = Field(default_factory=list)
    quality: dict[str, Any] = Field(default_factory=dict)


class Timepoint(_Model):
    """Lesion measures at one follow-up (volumes cm3, diameters mm)."""

    date: str | None
    days_since_srs: int | None
    enhancing_cc: float
    edema_cc: float | None = None
    necrotic_cc: float | None = None
    longest_diameter_mm: float
    perpendicular_diameter_mm: float | None = None
    measurable: bool | None = None
    edema_enhancement_ratio: float | None = None
    necrotic_fraction: float | None = None
    enhancement_pattern: str | None = None
    sphericity: float | None = None
    rano_bm_category: str | None = None
    steroid_dose_mg: float | None = None
    segmentation: str = Field("", description="how the lesion was delineated (seed / supplied mask)")
    details: dict[str, Any] = Field(default_factory=dict)


class CoveragePct(_Model):
    rx100: float
    rx80: float
    rx50: float


class LesionDose(_Model):
    dmin_gy: float
    dmean_gy: float
    dmax_gy: float
    d95_gy: float
    coverage_pct: CoveragePct
    details: dict[str, Any] = Field(default_factory=dict)


class DoseBound(_Model):
    """Upper bound of the plan dose in a lesion that lies (partly) outside the dose grid
    (radnec.dose.outside): the dose there is below the highest dose on the grid boundary."""

    dmax_upper_bound_gy: float
    boundary_max_gy: float
    outside_fraction: float
    shown: str = Field(description="as printed, e.g. '< 3.4 Gy'")
    basis: str


class Lesion(_Model):
    name: str
    kind: str = Field("treated target", description="'treated target', 'seed' (a point given by the user) or "
                      "'new, out of field' (enhancing on the latest T1c, absent at planning, outside every target)")
    status: str | None = Field(None, description="enlarging | growing | stable | responding | new | baseline only | "
                               "not seen at the latest study (radnec.lesion.longitudinal.lesion_status)")
    status_reason: str = ""
    timepoints: list[Timepoint]
    growth: dict[str, Any] = Field(default_factory=dict)
    dose: LesionDose | None = None
    dose_bound: DoseBound | None = Field(None, description="set when the lesion lies (partly) outside the dose grid")
    pattern: Pattern | None = None
    pattern_detail: dict[str, Any] = Field(default_factory=dict)
    growth_symmetry: Symmetry | None = None
    symmetry_detail: dict[str, Any] = Field(default_factory=dict)
    imaging: dict[str, Any] = Field(default_factory=dict)
    evidence: dict[str, Any] | None = None
    options: list[dict[str, Any]] = Field(default_factory=list)


class Analysis(_Model):
    """The whole result of ``radnec analyze``."""

    schema_version: int = SCHEMA_VERSION
    radnec_version: str = __version__
    plan: PlanSummary | None
    registration: Registration | None
    lesions: list[Lesion]
    overview: list[dict[str, Any]] = Field(
        default_factory=list, description="one row per lesion: target, Rx, latest volume and change, status, pattern, "
        "symmetry, P(progression); the report opens with it")
    series_used: list[dict[str, Any]] = Field(
        default_factory=list, description="per study and role (T1c, FLAIR, T2): the series used (UID, description, "
        "number, voxel size) and why it was chosen over the others")
    skipped: list[str] = Field(default_factory=list, description="optional inputs missing or stages skipped, with why")
    warnings: list[str] = Field(default_factory=list)
    provenance: dict[str, Any] = Field(default_factory=dict)
    disclaimer: str = DISCLAIMER
    run: dict[str, Any] = Field(
        default_factory=dict,
        description="timestamps, timings and reused stages: the only non-deterministic block; written to run.json, "
        "not to analysis.json",
    )


__all__ = [
    "SCHEMA_VERSION",
    "PlanSummary",
    "TimepointRegistration",
    "Registration",
    "Timepoint",
    "CoveragePct",
    "LesionDose",
    "DoseBound",
    "Lesion",
    "Analysis",
]
