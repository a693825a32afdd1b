"""The clinical case file: what the tumour board knows about the patient and the lesion.

A case file is YAML or JSON (see ``docs/evidence.md`` and ``examples/*.yaml``). It holds no patient
identifiers; ``label`` is a free, non-identifying name. Dates are ISO ``YYYY-MM-DD``; time since
SRS is counted in days from the first fraction. Everything is optional except what the engine needs
to place the case in time: ``srs.days_since`` or both ``srs.date`` and ``srs.assessment_date``.

:func:`load_case` reads and validates a file; any problem raises :class:`~radnec.errors.CaseFileError`
whose one-line message names the file and the field.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from radnec.errors import CaseFileError
from radnec.evidence.observations import Observation

CASE_SOURCE = "case file"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SRS(_Strict):
    """The SRS course of the lesion in question."""

    date: dt.date | None = Field(default=None, description="First fraction (ISO date).")
    assessment_date: dt.date | None = Field(default=None, description="Date of the MRI showing the enlargement.")
    days_since: int | None = Field(default=None, ge=0, le=36500, description="Days from first fraction to assessment.")
    prescription_gy: float | None = Field(default=None, gt=0, le=80, description="Total prescription dose, Gy.")
    fractions: int | None = Field(default=None, ge=1, le=10)
    v12_cc: float | None = Field(default=None, ge=0, le=500, description="Brain V12 Gy, cm³ (single fraction).")
    repeat_srs: bool = Field(default=False, description="The same lesion was irradiated again before this growth.")

    @model_validator(mode="after")
    def _timing(self) -> SRS:
        if self.date is not None and self.assessment_date is not None:
            days = (self.assessment_date - self.date).days
            if days < 0:
                raise ValueError("assessment_date is before the SRS date")
            if self.days_since is not None and abs(days - self.days_since) > 1:
                raise ValueError(f"days_since ({self.days_since}) disagrees with the dates ({days} days)")
            self.days_since = days
        elif self.date is not None:
            raise ValueError("give assessment_date together with date (or give days_since)")
        elif self.assessment_date is not None:
            raise ValueError("assessment_date needs date (the first SRS fraction)")
        return self


class Immunotherapy(_Strict):
    """Immune checkpoint inhibitors. ``concurrent``: within about 4 weeks of SRS (Vaios 2025)."""

    agents: Literal["none", "single", "dual"] = "none"
    timing: Literal["none", "concurrent", "before", "after"] = "none"

    @model_validator(mode="after")
    def _consistent(self) -> Immunotherapy:
        if (self.agents == "none") != (self.timing == "none"):
            raise ValueError("agents and timing must both be 'none' or both be given")
        return self


class Her2ADC(_Strict):
    """HER2 antibody-drug conjugate (T-DM1, T-DXd)."""

    agent: str = Field(min_length=1)
    concurrent: bool


class Steroids(_Strict):
    """Corticosteroid course for this lesion."""

    response: Literal["not_given", "improved", "no_response"] = "not_given"
    worsened_on_taper: bool = False
    dependent: bool = Field(default=False, description="Cannot be tapered without symptoms returning.")
    dose_mg_per_day: float | None = Field(default=None, ge=0, le=100, description="Current dexamethasone dose.")


class PriorCourse(_Strict):
    """An earlier radiation course (before this SRS, or an earlier SRS to the same site)."""

    kind: Literal["wbrt", "srs", "fsrt", "other"]
    total_dose_gy: float | None = Field(default=None, gt=0, le=100, description="Total dose to the lesion's site, Gy.")
    fractions: int | None = Field(default=None, ge=1, le=40)
    covers_lesion: bool | None = Field(
        default=None, description="The course irradiated the lesion's site (WBRT always does; unknown = may have)."
    )
    note: str | None = None

    def describe(self) -> str:
        names = {"wbrt": "prior WBRT", "srs": "earlier SRS", "fsrt": "earlier fractionated SRT", "other": "earlier radiotherapy"}
        dose = f" {self.total_dose_gy:g} Gy" if self.total_dose_gy is not None else ""
        fx = f"/{self.fractions}" if self.fractions is not None and self.total_dose_gy is not None else ""
        return names[self.kind] + dose + fx

    def eqd2_ready(self) -> tuple[float, int] | None:
        """(total Gy, fractions) when both are known, else None."""
        if self.total_dose_gy is None or self.fractions is None:
            return None
        return self.total_dose_gy, self.fractions


class ClinicianEstimateIn(_Strict):
    """The tumour board's own estimate, shown beside the engine's; never used in the computation."""

    p_progression: float = Field(gt=0, lt=1)
    wording: str | None = None


class DiameterPoint(_Strict):
    days_since_srs: int = Field(ge=0)
    longest_diameter_mm: float = Field(gt=0, le=200)


class Lesion(_Strict):
    """The enlarging lesion."""

    location: str | None = None
    diameter_at_srs_mm: float | None = Field(default=None, gt=0, le=200)
    diameter_now_mm: float | None = Field(default=None, gt=0, le=200)
    history: list[DiameterPoint] = Field(default_factory=list, description="Earlier diameters, optional.")
    eloquent: bool | None = None
    resectable: Literal["yes", "no", "uncertain"] | None = None
    mass_effect: bool | None = None
    pattern: Literal["in-field", "marginal", "out-of-field"] | None = None
    growth_symmetry: Literal["symmetric", "eccentric"] | None = None
    enhancement_pattern: Literal["solid", "nodular", "rim", "soap_bubble", "cystic"] | None = None
    t1_t2_match: Literal["match", "mismatch"] | None = None
    growth_on_steroids: bool | None = None
    growth_on_bevacizumab: bool | None = None
    dmax_gy: float | None = Field(default=None, ge=0, le=200, description="Max dose of this SRS course in the lesion, Gy.")
    dmax_bound_gy: float | None = Field(
        default=None, ge=0, le=200, description="Upper bound of this course's dose where the lesion lies outside the dose grid, Gy."
    )

    def doubling_time_days(self) -> float | None:
        """Volume doubling time (d) over the last growing interval of ``history`` (sphere from diameters)."""
        pts = sorted(self.history, key=lambda p: p.days_since_srs)
        if len(pts) < 2:
            return None
        a, b = pts[-2], pts[-1]
        dt_days = b.days_since_srs - a.days_since_srs
        if dt_days <= 0 or b.longest_diameter_mm <= a.longest_diameter_mm:
            return None
        return dt_days * math.log(2.0) / (3.0 * math.log(b.longest_diameter_mm / a.longest_diameter_mm))


class TestResult(_Strict):
    """A test already done, as an observation name from the knowledge base with its value."""

    name: str = Field(min_length=1)
    value: bool | float | str
    unit: str | None = None
    date: dt.date | None = None
    note: str | None = None


class ClinicalCase(_Strict):
    """A clinical case file (schema version 1)."""

    schema_version: Literal[1] = 1
    label: str | None = Field(default=None, description="Non-identifying case label.")
    primary_histology: Literal["nsclc", "sclc", "melanoma", "breast", "renal", "colorectal", "other", "unknown"] = (
        "unknown"
    )
    srs: SRS = Field(default_factory=SRS)
    prior_wbrt: bool = False
    prior_courses: list[PriorCourse] = Field(default_factory=list, description="Earlier radiation courses.")
    nsclc_driver_mutation: Literal["egfr", "alk", "none", "unknown"] | None = None
    clinician_estimate: ClinicianEstimateIn | None = None
    immunotherapy: Immunotherapy = Field(default_factory=Immunotherapy)
    her2_adc: Her2ADC | None = None
    symptoms: Literal["none", "mild", "moderate", "severe"] | None = None
    symptoms_progressive: bool = False
    steroids: Steroids = Field(default_factory=Steroids)
    kps: int | None = Field(default=None, ge=0, le=100)
    extracranial_disease: Literal["none", "stable", "progressive", "unknown"] = "unknown"
    other_brain_lesions_progressing: bool = False
    lesion: Lesion = Field(default_factory=Lesion)
    tests_done: list[TestResult] = Field(default_factory=list)
    notes: str | None = None

    def observations(self) -> list[Observation]:
        """The evidence-relevant facts of the case as observations (source ``"case file"``)."""
        out: list[Observation] = []

        def add(name: str, value: bool | float | str | None, unit: str | None = None) -> None:
            if value is not None:
                out.append(Observation(name=name, value=value, unit=unit, source=CASE_SOURCE))

        add("days_since_srs", self.srs.days_since, "d")
        add("srs_fractions", self.srs.fractions, "1")
        add("srs_prescription_gy", self.srs.prescription_gy, "Gy")
        if self.srs.fractions in (None, 1):  # V12 constraints are single-fraction (HyTEC, Minniti 2011)
            add("v12_cc", self.srs.v12_cc, "cm3")
        add("repeat_srs", self.srs.repeat_srs)
        add("prior_wbrt", self.prior_wbrt)
        add("primary_histology", self.primary_histology)
        ici = self.immunotherapy
        exposure = (
            "none"
            if ici.agents == "none"
            else ("prior" if ici.timing != "concurrent" else ("dual_concurrent" if ici.agents == "dual" else "concurrent"))
        )
        add("ici_exposure", exposure)
        if self.her2_adc is not None:
            add("her2_adc_concurrent", self.her2_adc.concurrent)
        st = self.steroids
        if st.response != "not_given":
            course = "improved_then_worse_on_taper" if st.worsened_on_taper else st.response
            add("steroid_course", course)
        add("longest_diameter_mm", self.lesion.diameter_now_mm, "mm")
        add("pattern", self.lesion.pattern)
        add("growth_symmetry", self.lesion.growth_symmetry)
        add("enhancement_pattern", self.lesion.enhancement_pattern)
        add("t1_t2_match", self.lesion.t1_t2_match)
        add("growth_on_steroids", self.lesion.growth_on_steroids)
        add("growth_on_bevacizumab", self.lesion.growth_on_bevacizumab)
        add("lesion_dmax_gy", self.lesion.dmax_gy, "Gy")
        add("lesion_dmax_bound_gy", self.lesion.dmax_bound_gy, "Gy")
        vdt = self.lesion.doubling_time_days()
        add("volume_doubling_time_days", None if vdt is None else round(vdt, 1), "d")
        add("nsclc_driver_mutation", self.nsclc_driver_mutation)
        for test in self.tests_done:
            out.append(
                Observation(
                    name=test.name,
                    value=test.value,
                    unit=test.unit,
                    source=f"{CASE_SOURCE}: tests_done" + (f" {test.date.isoformat()}" if test.date else ""),
                    note=test.note,
                )
            )
        return out


def _loc(loc: tuple) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(top level)"


def _describe(exc: ValidationError) -> str:
    errors = exc.errors()
    parts = []
    for err in errors[:3]:
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("function-", "literal["))))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (misspelt? see docs/evidence.md for the case file fields)"
        elif err["type"] == "missing":
            msg = "required field is missing"
        value = err.get("input")
        shown = "" if err["type"] in ("extra_forbidden", "missing") or isinstance(value, dict) else f" (got {value!r})"
        parts.append(f"field '{_loc(loc)}': {msg}{shown}")
    more = f"; and {len(errors) - 3} more problem(s)" if len(errors) > 3 else ""
    return "; ".join(parts) + more


def parse_case(data: object, *, path: str | Path | None = None) -> ClinicalCase:
    """Validate an already-parsed case mapping (from YAML/JSON or a web form).

    Raises
    ------
    CaseFileError
        One line naming the offending field(s).
    """
    if not isinstance(data, dict):
        raise CaseFileError("a case file must be a mapping of fields (YAML/JSON object) at top level", path=path)
    try:
        case = ClinicalCase.model_validate(data)
    except ValidationError as exc:
        raise CaseFileError(_describe(exc).replace("\n", " "), path=path) from None
    _check_tests(case, path=path)
    return case


def _check_tests(case: ClinicalCase, *, path: str | Path | None) -> None:
    from radnec.evidence.model import load_knowledge

    kb = load_knowledge()
    for i, test in enumerate(case.tests_done):
        field = f"tests_done[{i}]"
        spec = kb.observations.get(test.name)
        if spec is None:
            known = ", ".join(sorted(kb.observations))
            raise CaseFileError(f"field '{field}.name': unknown observation '{test.name}' (known: {known})", path=path)
        problem = check_value(test.name, test.value, spec)
        if problem:
            raise CaseFileError(f"field '{field}.value': {problem}", path=path)


def check_value(name: str, value: bool | float | str, spec) -> str | None:  # noqa: ANN001 - ObservationSpec
    """Why ``value`` does not fit the observation definition ``spec``, or None if it does."""
    if spec.kind == "number" and (isinstance(value, bool) or not isinstance(value, float)):
        return f"'{name}' needs a number{f' in {spec.unit}' if spec.unit else ''}, got {value!r}"
    if spec.kind == "bool" and not isinstance(value, bool):
        return f"'{name}' needs true or false, got {value!r}"
    if spec.kind == "category":
        if not isinstance(value, str):
            return f"'{name}' needs one of {spec.allowed}, got {value!r}"
        if spec.allowed and value not in spec.allowed:
            return f"'{name}' must be one of {spec.allowed}, got {value!r}"
    return None


def load_case(path: str | Path) -> ClinicalCase:
    """Read and validate a case file (``.yaml``, ``.yml`` or ``.json``).

    Raises
    ------
    CaseFileError
        Unreadable file, invalid YAML/JSON, or an invalid field (the message names it).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CaseFileError("case file not found", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseFileError(f"cannot read case file: {exc}", path=path) from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
        raise CaseFileError(f"not valid {kind}: {' '.join(str(exc).split())}", path=path) from None
    return parse_case(data, path=path)


__all__ = ["ClinicalCase", "load_case", "parse_case", "check_value", "TestResult", "CASE_SOURCE"]
