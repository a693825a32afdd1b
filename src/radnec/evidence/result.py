"""The evidence block of the analysis JSON contract, as pydantic models.

Shared by the engine (:mod:`radnec.evidence.bayes`), value of information (:mod:`radnec.evidence.voi`) and
fragility (:mod:`radnec.evidence.fragility`); it imports none of them. Probabilities are in [0, 1];
likelihood ratios (LR) are for progression (LR > 1 favours progression).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from radnec import DISCLAIMER

Result = Literal["+", "−"]
Band = Literal["leans necrosis", "equivocal", "leans progression"]
SPACE_RN = "progression vs radiation necrosis"
SPACE_OTHER = "new or distant tumour vs another cause"


class EvidenceItem(BaseModel):
    """One line of the evidence table: used (with LR and source) or considered and not used (with why)."""

    id: str
    label: str
    family: str
    population: str
    grade: str
    observation: str
    value: bool | float | str | None
    source: str | None = None
    finding: str | None = None
    result: Result | None = None
    lr: float | None = Field(default=None, description="Likelihood ratio for progression after capping.")
    lr_uncapped: float | None = None
    log_lr: float | None = Field(default=None, description="Natural log of lr.")
    weight: float = 0.0
    contribution: float = Field(default=0.0, description="weight × log_lr, added to the log-odds.")
    used: bool = False
    extrapolated: bool = Field(default=False, description="Applied outside the situation it was measured in (shrunk).")
    situation: str | None = Field(default=None, description="Where the item was measured: setting, patterns, reference.")
    reason: str | None = Field(default=None, description="Why not used, or why shrunk.")
    citation: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    note: str | None = None


class VOIEntry(BaseModel):
    """Value of information of one test not yet done."""

    test: str
    label: str
    family: str
    p_positive: float
    posterior_if_positive: float
    posterior_if_negative: float
    expected_abs_change: float
    could_change_band: bool
    note: str | None = None
    citation: list[str] = Field(default_factory=list)


class BiopsyMeaning(BaseModel):
    """What a stereotactic needle biopsy would and would not tell (sampling error)."""

    sampling_sensitivity: tuple[float, float]
    p_tumour_found: tuple[float, float]
    posterior_if_tumour_found: float
    posterior_if_necrosis_only: tuple[float, float]
    explanation: str
    citation: list[str]


class Influence(BaseModel):
    """How much one observation drives the result: the posterior without it."""

    observation: str
    items: list[str]
    posterior_without: float


class LeaveOneOut(BaseModel):
    """The posterior without one used item (family weights recomputed), and how far that item moves the odds."""

    item: str
    label: str
    posterior_without: float
    odds_factor: float = Field(description="Odds with the item / odds without it (> 1: it favours progression).")
    small_or_post_hoc: bool = Field(description="From a study with few lesions or a post-hoc cut-off.")
    fragile: bool = Field(description="small_or_post_hoc and it moves the odds more than conventions.fragile_odds_factor.")


class HypothesisSpace(BaseModel):
    """What the probability is about: progression vs radiation necrosis, or — when the lesion received no
    necrosis-capable dose from any course — new/distant tumour vs another cause."""

    space: Literal["progression vs radiation necrosis", "new or distant tumour vs another cause"]
    necrosis_excluded: bool
    reason: str
    lesion_dose: str | None = Field(default=None, description="e.g. '≤ 3.2 Gy' or '< 4.1 Gy' (bound from the grid edge).")
    lesion_dmax_gy: float | None = None
    dose_is_upper_bound: bool = False
    fractions: int | None = None
    threshold_gy: float | None = Field(default=None, description="Necrosis threshold for this course's fractionation (Gy).")
    threshold_eqd2_gy: float | None = None
    lesion_eqd2_gy: float | None = Field(default=None, description="EQD2 of the lesion's maximum dose, all courses counted.")
    courses: list[str] = Field(default_factory=list, description="Radiation courses counted, with their dose.")
    grade: str = "derived"
    citation: list[str] = Field(default_factory=list)


class MixedLesion(BaseModel):
    """P(any viable tumour) vs P(pure treatment effect): what a needle biopsy can and cannot answer."""

    p_any_viable_tumour: float
    interval95: tuple[float, float]
    p_pure_treatment_effect: float
    explanation: str
    citation: list[str]


class ClinicianEstimate(BaseModel):
    """The tumour board's own estimate, shown next to the engine's (never used in the computation)."""

    p_progression: float
    wording: str | None = None
    engine_posterior: float
    difference: float = Field(description="engine − clinicians.")


class EvidenceResult(BaseModel):
    """The evidence block of the analysis JSON contract (plus options when filled by the caller)."""

    prior_tp: float
    prior_range: tuple[float, float] | None
    posterior_tp: float
    interval95: tuple[float, float]
    interval95_mc: tuple[float, float] = Field(description="Raw Monte Carlo 2.5/97.5 percentiles.")
    interval95_cutoff: tuple[float, float] | None = Field(
        default=None, description="95 % interval also over the cut-off uncertainty of post-hoc thresholds."
    )
    band: Band
    hypotheses: HypothesisSpace
    items: list[EvidenceItem]
    next_best_test: str | None
    value_of_information: list[VOIEntry]
    biopsy: BiopsyMeaning
    mixed: MixedLesion | None = None
    influence: list[Influence] = Field(
        default_factory=list, description="Posterior without each observation that moved it."
    )
    leave_one_out: list[LeaveOneOut] = Field(default_factory=list, description="Posterior without each used item.")
    clinician_estimate: ClinicianEstimate | None = None
    missing_cues: list[str] = Field(default_factory=list, description="Cues that would matter but were not given.")
    warnings: list[str]
    caveats: list[str]
    draws: int
    seed: int
    disclaimer: str = DISCLAIMER


__all__ = [
    "EvidenceItem",
    "VOIEntry",
    "BiopsyMeaning",
    "Influence",
    "LeaveOneOut",
    "HypothesisSpace",
    "MixedLesion",
    "ClinicianEstimate",
    "EvidenceResult",
    "Result",
    "Band",
    "SPACE_RN",
    "SPACE_OTHER",
]
