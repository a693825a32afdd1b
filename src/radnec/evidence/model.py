"""Pydantic schema of the knowledge base (``radnec/evidence/knowledge/*.yaml``) and its loader.

The knowledge base is data, not code: sources (citations), the default prior, radnec conventions
(LR caps, within-family shrinkage, decision bands), observation definitions, evidence items (tests,
clinical modifiers and expert-opinion rules, each mapping one observation to a result with a
likelihood ratio), procedures (for value of information) and management options.

Conventions used throughout: a *positive* result of a test is the tumour-like reading;
sensitivity = P(test + | progression), specificity = P(test − | necrosis); LR = likelihood ratio
for progression (LR > 1 favours progression). Clinical modifiers and expert rules give their LRs
directly (``lr_positive``: finding present; ``lr_negative``: finding absent, default 1).
"""

from __future__ import annotations

import functools
import math
from contextvars import ContextVar
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from radnec.errors import EvidenceError

KNOWLEDGE_DIR = Path(__file__).with_name("knowledge")

Population = Literal["mets", "glioma", "mixed", "other"]
Grade = Literal["measured", "derived", "expert-opinion"]
Family = Literal[
    "timing",
    "perfusion",
    "metabolic_pet",
    "amino_acid_pet",
    "mrs",
    "diffusion",
    "morphology",
    "kinetics",
    "geometry",
    "dose_volume",
    "systemic_therapy",
    "reirradiation",
]
Scalar = bool | float | str
PatternName = Literal["in-field", "marginal", "out-of-field"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    """One cited source. ``verified`` is False where the evidence dossier says UNVERIFIED."""

    citation: str
    year: int
    pmid: str | None = None
    doi: str | None = None
    population: Population
    verified: bool
    note: str | None = None

    def short(self) -> str:
        """Citation with PMID/DOI and an UNVERIFIED mark when applicable."""
        ids = [f"PMID {self.pmid}" if self.pmid else None, f"doi {self.doi}" if self.doi else None]
        tail = "; ".join(i for i in ids if i)
        text = self.citation + (f" ({tail})" if tail else "")
        return text if self.verified else text + " [UNVERIFIED attribution]"


class Proportion(_Strict):
    """A proportion (sensitivity or specificity) with its 95 % CI or its denominator."""

    point: float = Field(ge=0.0, le=1.0)
    ci95: tuple[float, float] | None = None
    n: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check(self) -> Proportion:
        if self.ci95 is not None:
            lo, hi = self.ci95
            if not (0.0 <= lo <= self.point <= hi <= 1.0):
                raise ValueError(f"ci95 {self.ci95} must satisfy 0 <= low <= point ({self.point}) <= high <= 1")
        return self


class Counts(_Strict):
    """Published 2×2 counts. tp/fn: progression lesions test +/−; tn/fp: necrosis lesions test −/+."""

    tp: int = Field(ge=0)
    fn: int = Field(ge=0)
    tn: int = Field(ge=0)
    fp: int = Field(ge=0)
    reconstructed: bool = False

    @model_validator(mode="after")
    def _check(self) -> Counts:
        if self.tp + self.fn == 0 or self.tn + self.fp == 0:
            raise ValueError("counts need at least one progression and one necrosis lesion")
        return self

    @property
    def sensitivity(self) -> float:
        return self.tp / (self.tp + self.fn)

    @property
    def specificity(self) -> float:
        return self.tn / (self.tn + self.fp)

    @property
    def prevalence(self) -> float:
        """Study prevalence of progression, tp+fn over all lesions."""
        return (self.tp + self.fn) / (self.tp + self.fn + self.tn + self.fp)


class LRSpec(_Strict):
    """A likelihood ratio with either a 95 % CI (lognormal sampling) or a plausible range
    (log-uniform sampling); neither → fixed."""

    point: float = Field(gt=0.0)
    ci95: tuple[float, float] | None = None
    range: tuple[float, float] | None = None

    @model_validator(mode="after")
    def _check(self) -> LRSpec:
        if self.ci95 is not None and self.range is not None:
            raise ValueError("give ci95 or range, not both")
        for name in ("ci95", "range"):
            bounds = getattr(self, name)
            if bounds is not None and not (0 < bounds[0] <= self.point <= bounds[1]):
                raise ValueError(f"{name} {bounds} must satisfy 0 < low <= point ({self.point}) <= high")
        return self

    def bounds(self) -> tuple[float, float]:
        b = self.ci95 or self.range
        return (self.point, self.point) if b is None else b


class Accuracy(_Strict):
    """Test accuracy: 2×2 counts, or sensitivity/specificity (with CI, denominators or the study's
    total n), optionally the LRs a meta-analysis reported (used instead of sens/spec ratios)."""

    counts: Counts | None = None
    sensitivity: Proportion | None = None
    specificity: Proportion | None = None
    n_total: int | None = Field(default=None, gt=0)
    reported_lr_positive: LRSpec | None = None
    reported_lr_negative: LRSpec | None = None

    @model_validator(mode="after")
    def _check(self) -> Accuracy:
        has_ss = self.sensitivity is not None and self.specificity is not None
        if self.counts is None and not has_ss:
            raise ValueError("accuracy needs counts or both sensitivity and specificity")
        if self.counts is not None and (self.sensitivity or self.specificity):
            raise ValueError("give counts or sensitivity/specificity, not both")
        if (self.reported_lr_positive is None) != (self.reported_lr_negative is None):
            raise ValueError("reported_lr_positive and reported_lr_negative go together")
        return self

    def sens_spec(self) -> tuple[float, float]:
        if self.counts is not None:
            return self.counts.sensitivity, self.counts.specificity
        assert self.sensitivity is not None and self.specificity is not None
        return self.sensitivity.point, self.specificity.point


class ObservationSpec(_Strict):
    """Definition of an observation name the engine understands."""

    kind: Literal["number", "bool", "category"]
    unit: str | None = None
    allowed: list[str] | None = None
    description: str
    informational: bool = False
    note: str | None = None


class Situation(_Strict):
    """The situation an item was measured in, so that the engine can tell when it is applied outside it.

    ``patterns``: where the lesions of the source lay relative to the treated target (a biopsy series of
    lesions enlarging at the treated site is ``[in-field]``); ``outside``: what happens for a lesion of
    another pattern (``extrapolate``: used, marked extrapolated and shrunk by
    ``conventions.extrapolation_shrinkage``; ``not-applicable``: not used, with the reason).
    ``contrast``: ``tissue`` — the item tells viable tumour from non-tumour tissue (imaging tests), so it
    stays usable when radiation necrosis is excluded; ``course`` — it weighs necrosis against progression
    at an irradiated site (timing, dose, therapy, geometry) and does not apply once necrosis is excluded.
    ``reference``: the reference standard; ``n_lesions`` and ``cutoff`` feed the fragility warnings.
    """

    patterns: list[PatternName] = Field(min_length=1)
    outside: Literal["extrapolate", "not-applicable"] = "extrapolate"
    contrast: Literal["tissue", "course"]
    reference: Literal["histology", "follow-up", "mixed", "incidence", "expert"]
    setting: str = Field(min_length=1)
    n_lesions: int | None = Field(default=None, gt=0)
    cutoff: Literal["prespecified", "post-hoc", "categorical", "unknown"] = "categorical"


class Item(_Strict):
    """One evidence item: maps an observation to a result (+/−) with a likelihood ratio."""

    id: str
    label: str
    family: Family
    population: Population
    grade: Grade
    observation: str
    situation: Situation
    sources: list[str] = Field(min_length=1)
    unverified: bool = False
    extrapolated: bool = False
    note: str | None = None
    when: dict[str, list[Scalar]] = Field(default_factory=dict)
    positive_if: Literal[">=", ">", "<=", "<"] | None = None
    threshold: float | None = None
    positive_values: list[Scalar] = Field(default_factory=list)
    negative_values: list[Scalar] = Field(default_factory=list)
    positive_finding: str = "tumour-like"
    negative_finding: str = "necrosis-like"
    accuracy: Accuracy | None = None
    lr_positive: LRSpec | None = None
    lr_negative: LRSpec | None = None
    procedure: str | None = None
    local_calibration: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Item:
        if (self.accuracy is None) == (self.lr_positive is None):
            raise ValueError(f"item {self.id}: give exactly one of accuracy or lr_positive")
        if self.lr_negative is not None and self.lr_positive is None:
            raise ValueError(f"item {self.id}: lr_negative without lr_positive")
        numeric = self.threshold is not None or self.positive_if is not None
        if numeric and (self.threshold is None or self.positive_if is None):
            raise ValueError(f"item {self.id}: threshold and positive_if go together")
        if not numeric and not self.positive_values:
            raise ValueError(f"item {self.id}: needs threshold/positive_if or positive_values")
        if self.grade == "expert-opinion" and self.accuracy is not None:
            raise ValueError(f"item {self.id}: expert-opinion items give weak LRs, not accuracy")
        return self


class Prior(_Strict):
    """Default prior P(progression) with its plausible range.

    For Monte Carlo the prior is a *split logit-normal*: its median is ``point`` and its 2.5 % / 97.5 %
    quantiles are exactly ``range`` (one normal scale below the median and one above, on the logit scale).
    A Beta cannot honour an asymmetric range and the point at once: the Beta fitted to 0.30-0.60 has median
    0.447, which shifted the whole interval away from the point estimate.
    """

    point: float = Field(gt=0.0, lt=1.0)
    range: tuple[float, float]
    population: Population
    grade: Grade
    definition: str
    sources: list[str] = Field(min_length=1)
    note: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Prior:
        if not (0 < self.range[0] <= self.point <= self.range[1] < 1):
            raise ValueError("prior range must contain the point and lie in (0, 1)")
        return self

    def logit_scales(self) -> tuple[float, float]:
        """Logit-scale standard deviations below and above the median (from the 95 % range)."""
        z = 1.959963984540054  # standard normal 97.5 % quantile
        lo, hi = self.range
        m = math.log(self.point / (1 - self.point))
        return (m - math.log(lo / (1 - lo))) / z, (math.log(hi / (1 - hi)) - m) / z

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` prior draws (probabilities) from the split logit-normal; median = ``point``."""
        s_lo, s_hi = self.logit_scales()
        z = rng.standard_normal(n)
        logit = math.log(self.point / (1 - self.point)) + np.where(z < 0, s_lo, s_hi) * z
        return 1.0 / (1.0 + np.exp(-logit))


class Convention(_Strict):
    """A radnec convention (not evidence): value(s), basis and optional sources."""

    value: float | list[float] | str
    basis: str
    grade: Grade = "expert-opinion"
    sources: list[str] = Field(default_factory=list)


class Procedure(_Strict):
    """A test that may not have been done yet, for value of information."""

    id: str
    label: str
    family: Family
    positive: dict[str, Scalar]
    negative: dict[str, Scalar]
    invasive: bool = False
    note: str | None = None
    sources: list[str] = Field(default_factory=list)


class OptionSpec(_Strict):
    """A management option: what it is and the sources behind it."""

    id: str
    label: str
    description: str
    sources: list[str] = Field(min_length=1)
    notes: list[str] = Field(default_factory=list)


class KnowledgeBase(_Strict):
    """The whole knowledge base, cross-validated (every reference resolves)."""

    sources: dict[str, Source]
    prior: Prior
    conventions: dict[str, Convention]
    observations: dict[str, ObservationSpec]
    items: list[Item]
    procedures: list[Procedure]
    options: list[OptionSpec]
    texts: dict[str, str]

    @model_validator(mode="after")
    def _cross_check(self) -> KnowledgeBase:
        problems: list[str] = []
        required = (
            "lr_cap_max", "lr_cap_min", "expert_lr_bounds", "family_shrinkage", "default_n_per_class",
            "decision_bands", "biopsy_sampling_sensitivity", "large_lesion_mm", "good_kps",
            "extrapolation_shrinkage", "fragile_odds_factor", "small_study_lesions", "cutoff_optimism_shrinkage",
        )
        missing = [k for k in required if k not in self.conventions]
        missing += [f"texts.{k}" for k in ("mixed_caveat", "dependence_warning", "reference_standard", "biopsy_meaning") if k not in self.texts]
        if missing:
            raise ValueError(f"conventions.yaml lacks {', '.join(missing)}")

        def need_sources(owner: str, ids: list[str]) -> None:
            problems.extend(f"{owner}: unknown source '{s}'" for s in ids if s not in self.sources)

        need_sources("prior", self.prior.sources)
        for key, conv in self.conventions.items():
            need_sources(f"convention {key}", conv.sources)
        seen: set[str] = set()
        lo, hi = self.convention_pair("expert_lr_bounds")
        for item in self.items:
            if item.id in seen:
                problems.append(f"item id '{item.id}' is duplicated")
            seen.add(item.id)
            need_sources(f"item {item.id}", item.sources)
            if item.observation not in self.observations:
                problems.append(f"item {item.id}: unknown observation '{item.observation}'")
            problems.extend(
                f"item {item.id}: 'when' uses unknown observation '{k}'" for k in item.when if k not in self.observations
            )
            if item.grade == "expert-opinion":
                for spec in (item.lr_positive, item.lr_negative):
                    if spec is not None and not (lo <= min(spec.bounds()) and max(spec.bounds()) <= hi):
                        problems.append(f"item {item.id}: expert-opinion LR {spec} outside the weak bounds [{lo}, {hi}]")
        for proc in self.procedures:
            need_sources(f"procedure {proc.id}", proc.sources)
            for key in (*proc.positive, *proc.negative):
                if key not in self.observations:
                    problems.append(f"procedure {proc.id}: unknown observation '{key}'")
        for opt in self.options:
            need_sources(f"option {opt.id}", opt.sources)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def convention(self, key: str) -> float:
        value = self.conventions[key].value
        if not isinstance(value, (int, float)):
            raise EvidenceError(f"knowledge convention '{key}' must be a number, got {value!r}")
        return float(value)

    def convention_pair(self, key: str) -> tuple[float, float]:
        value = self.conventions[key].value
        if not (isinstance(value, list) and len(value) == 2):
            raise EvidenceError(f"knowledge convention '{key}' must be a [low, high] pair, got {value!r}")
        return float(value[0]), float(value[1])

    def cite(self, ids: list[str]) -> list[str]:
        return [self.sources[s].short() for s in ids]

    def item(self, item_id: str) -> Item:
        for item in self.items:
            if item.id == item_id:
                return item
        raise EvidenceError(f"knowledge base has no item '{item_id}'")


def _read_yaml(path: Path) -> dict:
    try:
        with path.open(encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except OSError as exc:
        raise EvidenceError(f"cannot read knowledge file: {exc.strerror}", path=path) from exc
    except yaml.YAMLError as exc:
        raise EvidenceError(f"not valid YAML: {exc}".replace("\n", " "), path=path) from exc
    if not isinstance(data, dict):
        raise EvidenceError("knowledge file must hold a mapping at top level", path=path)
    return data


def _format_validation(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


#: The knowledge base in force instead of the packaged one (a local calibration set by
#: :func:`radnec.evidence.override.knowledge_override`); None: the packaged, cited knowledge base.
ACTIVE_KNOWLEDGE: ContextVar[KnowledgeBase | None] = ContextVar("radnec_active_knowledge", default=None)


def load_knowledge(directory: str | Path | None = None) -> KnowledgeBase:
    """Load and validate the knowledge base.

    Parameters
    ----------
    directory
        Folder with sources.yaml, prior.yaml, conventions.yaml, observations.yaml, items.yaml,
        procedures.yaml and options.yaml; default: the packaged knowledge base (cached), or the
        locally calibrated one inside :func:`radnec.evidence.override.knowledge_override`.

    Raises
    ------
    EvidenceError
        A file is missing, is not YAML, or fails the schema (message names the file and field).
    """
    if directory is None:
        active = ACTIVE_KNOWLEDGE.get()
        return _load_default() if active is None else active
    return _load(Path(directory))


@functools.lru_cache(maxsize=1)
def _load_default() -> KnowledgeBase:
    return _load(KNOWLEDGE_DIR)


def _load(directory: Path) -> KnowledgeBase:
    parts = {}
    for name in ("sources", "prior", "conventions", "observations", "items", "procedures", "options"):
        path = directory / f"{name}.yaml"
        if not path.is_file():
            raise EvidenceError(f"knowledge file '{name}.yaml' is missing", path=directory)
        parts[name] = _read_yaml(path)
    try:
        return KnowledgeBase(
            sources=parts["sources"].get("sources", {}),
            prior=parts["prior"].get("prior"),
            conventions=parts["conventions"].get("conventions", {}),
            texts=parts["conventions"].get("texts", {}),
            observations=parts["observations"].get("observations", {}),
            items=parts["items"].get("items", []),
            procedures=parts["procedures"].get("procedures", []),
            options=parts["options"].get("options", []),
        )
    except ValidationError as exc:
        raise EvidenceError(f"knowledge base invalid: {_format_validation(exc)}", path=directory) from exc
    except ValueError as exc:  # cross-check problems
        raise EvidenceError(f"knowledge base invalid: {exc}", path=directory) from exc


def logit(p: float) -> float:
    """log(p / (1 − p)); p in (0, 1)."""
    return math.log(p / (1.0 - p))


__all__ = [
    "KnowledgeBase",
    "Item",
    "Situation",
    "Accuracy",
    "Counts",
    "Proportion",
    "LRSpec",
    "Prior",
    "Procedure",
    "OptionSpec",
    "ObservationSpec",
    "Source",
    "load_knowledge",
    "KNOWLEDGE_DIR",
]
