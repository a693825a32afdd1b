"""The Bayesian engine: prior odds × likelihood ratios → posterior P(progression), with uncertainty.

How it works (details and citations in ``docs/evidence.md``):

1. Observations (from the case file and from producers) are matched to knowledge-base items; each
   item turns its observation into a result (+ tumour-like / finding present, − otherwise) and a
   likelihood ratio (LR) for progression. Informational observations are listed, never used.
2. LRs outside [``lr_cap_min``, ``lr_cap_max``] are capped (small studies with 100 % sens/spec).
3. **Correlated tests**: inside one evidence family (perfusion, amino-acid PET, ...) the strongest
   result in each direction counts fully and every further concordant result is shrunk on the
   log-LR scale by ``family_shrinkage`` (evidence dossier section 7 dependence warning). Discordant
   results each keep their strongest member. Hence adding a result never moves the posterior the
   wrong way and never moves it more than treating it as independent would.
4. posterior log-odds = logit(prior) + Σ weight × log LR.
5. A 95 % interval comes from Monte Carlo: the prior from its split logit-normal (median = point, 95 % = range), sensitivities/specificities from
   Beta distributions (2×2 counts: Beta(x+1, n−x+1), whose mode is the published proportion; CIs:
   moment-matched Beta), reported LRs lognormal from their CI, expert/derived LR ranges log-uniform.
   A ``numpy.random.Generator`` with a fixed seed makes it deterministic.
6. Value of information for each test not done (:mod:`radnec.evidence.voi`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from radnec import DISCLAIMER
from radnec.errors import EvidenceError
from radnec.evidence.case import CASE_SOURCE, ClinicalCase, check_value
from radnec.evidence.model import Accuracy, Item, KnowledgeBase, LRSpec, Proportion, load_knowledge, logit
from radnec.evidence.observations import Observation

Result = Literal["+", "−"]


class EvidenceItem(BaseModel):
    """One line of the evidence table."""

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


class EvidenceResult(BaseModel):
    """The evidence block of the analysis JSON contract (plus options when filled by the caller)."""

    prior_tp: float
    prior_range: tuple[float, float] | None
    posterior_tp: float
    interval95: tuple[float, float]
    interval95_mc: tuple[float, float] = Field(description="Raw Monte Carlo 2.5/97.5 percentiles.")
    band: Literal["leans necrosis", "equivocal", "leans progression"]
    items: list[EvidenceItem]
    next_best_test: str | None
    value_of_information: list[VOIEntry]
    biopsy: BiopsyMeaning
    influence: list[Influence] = Field(
        default_factory=list, description="Leave-one-out: posterior without each observation that moved it."
    )
    warnings: list[str]
    caveats: list[str]
    draws: int
    seed: int
    disclaimer: str = DISCLAIMER


# ----------------------------------------------------------------------------------------- helpers
def sigmoid(x: float) -> float:
    """Inverse of logit."""
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def posterior_from_lr(prior: float, lr: float) -> float:
    """Posterior probability from a prior probability and one likelihood ratio (odds form)."""
    if not 0.0 < prior < 1.0:
        raise EvidenceError(f"prior must be in (0, 1), got {prior}")
    if lr == math.inf:
        return 1.0
    odds = prior / (1.0 - prior) * lr
    return odds / (1.0 + odds)


def band_of(p: float, kb: KnowledgeBase) -> Literal["leans necrosis", "equivocal", "leans progression"]:
    lo, hi = kb.convention_pair("decision_bands")
    return "leans necrosis" if p < lo else ("leans progression" if p > hi else "equivocal")


def _matches(value: bool | float | str, allowed: Iterable[bool | float | str]) -> bool:
    for a in allowed:
        if isinstance(a, bool) or isinstance(value, bool):
            if isinstance(a, bool) and isinstance(value, bool) and a is value:
                return True
        elif isinstance(a, str) or isinstance(value, str):
            if str(a) == str(value):
                return True
        elif float(a) == float(value):
            return True
    return False


def evaluate(item: Item, obs: Mapping[str, Observation]) -> tuple[Result | None, str | None]:
    """Result of ``item`` given the observations, or (None, why not applicable)."""
    o = obs.get(item.observation)
    if o is None:
        return None, f"no '{item.observation}' observation"
    for key, allowed in item.when.items():
        cond = obs.get(key)
        if cond is None:
            return None, f"needs '{key}' (one of {allowed})"
        if not _matches(cond.value, allowed):
            return None, f"applies only when {key} is one of {allowed} (got {cond.value!r})"
    v = o.value
    if item.threshold is not None:
        if isinstance(v, (bool, str)):
            return None, f"'{item.observation}' must be a number, got {v!r}"
        t = item.threshold
        positive = {">=": v >= t, ">": v > t, "<=": v <= t, "<": v < t}[item.positive_if or ">="]
        sign = item.positive_if if positive else {">=": "<", ">": "<=", "<=": ">", "<": ">="}[item.positive_if or ">="]
        return ("+" if positive else "−"), f"{v:g} {sign} {t:g}: " + (
            item.positive_finding if positive else item.negative_finding
        )
    if _matches(v, item.positive_values):
        return "+", f"{v}: {item.positive_finding}"
    if _matches(v, item.negative_values):
        return "−", f"{v}: {item.negative_finding}"
    return None, f"value {v!r} is not one of {item.positive_values + item.negative_values}"


def point_lr(item: Item, result: Result) -> float:
    """Uncapped point likelihood ratio of ``item`` for ``result`` (may be 0 or inf)."""
    if item.accuracy is not None:
        acc = item.accuracy
        if result == "+" and acc.reported_lr_positive is not None:
            return acc.reported_lr_positive.point
        if result == "−" and acc.reported_lr_negative is not None:
            return acc.reported_lr_negative.point
        sens, spec = acc.sens_spec()
        num, den = (sens, 1.0 - spec) if result == "+" else (1.0 - sens, spec)
        if den == 0.0:
            return math.inf if num > 0 else 1.0
        return num / den
    spec_lr = item.lr_positive if result == "+" else item.lr_negative
    return 1.0 if spec_lr is None else spec_lr.point


def _beta_for(p: Proportion, n_default: float) -> tuple[float, float]:
    """Beta parameters for a proportion: moment-matched to a CI, or mode = point with n trials."""
    if p.ci95 is not None:
        sd = (p.ci95[1] - p.ci95[0]) / (2 * 1.959964)
        m = min(max(p.point, 1e-6), 1 - 1e-6)
        if sd > 0:
            total = m * (1 - m) / sd**2 - 1
            if total > 2:
                return m * total, (1 - m) * total
    n = float(p.n) if p.n is not None else n_default
    return p.point * n + 1.0, (1.0 - p.point) * n + 1.0


def _sample_spec(spec: LRSpec | None, rng: np.random.Generator, draws: int) -> np.ndarray:
    if spec is None:
        return np.ones(draws)
    if spec.ci95 is not None:
        lo, hi = spec.ci95
        sigma = (math.log(hi) - math.log(lo)) / (2 * 1.959964)
        return np.exp(rng.normal(math.log(spec.point), sigma, draws)) if sigma > 0 else np.full(draws, spec.point)
    if spec.range is not None:
        lo, hi = spec.range
        return np.exp(rng.uniform(math.log(lo), math.log(hi), draws))
    return np.full(draws, spec.point)


def _sample_accuracy(acc: Accuracy, result: Result, rng: np.random.Generator, draws: int, n_default: float) -> np.ndarray:
    if acc.counts is not None:
        c = acc.counts
        sens = rng.beta(c.tp + 1, c.fn + 1, draws)
        spec = rng.beta(c.tn + 1, c.fp + 1, draws)
        point_ratio = None
    else:
        assert acc.sensitivity is not None and acc.specificity is not None
        n = acc.n_total / 2 if acc.n_total else n_default
        sens = rng.beta(*_beta_for(acc.sensitivity, n), draws)
        spec = rng.beta(*_beta_for(acc.specificity, n), draws)
        point_ratio = True
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = sens / (1 - spec) if result == "+" else (1 - sens) / spec
    reported = acc.reported_lr_positive if result == "+" else acc.reported_lr_negative
    if reported is not None:
        if reported.ci95 is not None or reported.range is not None:
            return _sample_spec(reported, rng, draws)
        if point_ratio:  # scale the sampled ratio so that its point equals the reported LR
            s, c = acc.sens_spec()
            base = s / (1 - c) if result == "+" else (1 - s) / c
            return ratio * (reported.point / base)
    return ratio


def sample_lr(item: Item, result: Result, rng: np.random.Generator, draws: int, kb: KnowledgeBase) -> np.ndarray:
    """Monte Carlo draws of the (uncapped) likelihood ratio of ``item`` for ``result``."""
    if item.accuracy is not None:
        return _sample_accuracy(item.accuracy, result, rng, draws, kb.convention("default_n_per_class"))
    return _sample_spec(item.lr_positive if result == "+" else item.lr_negative, rng, draws)


def family_weights(entries: Sequence[tuple[str, str, float]], shrinkage: float) -> dict[str, tuple[float, str | None]]:
    """Weights for (id, family, log_lr) entries: the strongest per family and direction gets 1,
    further concordant entries get ``shrinkage``. Returns id → (weight, reason or None)."""
    out: dict[str, tuple[float, str | None]] = {}
    groups: dict[tuple[str, int], list[tuple[str, float]]] = {}
    for item_id, family, log_lr in entries:
        direction = (log_lr > 0) - (log_lr < 0)
        if direction == 0:
            out[item_id] = (1.0, None)
            continue
        groups.setdefault((family, direction), []).append((item_id, log_lr))
    for (family, _), members in groups.items():
        members.sort(key=lambda m: (-abs(m[1]), m[0]))
        lead = members[0][0]
        out[lead] = (1.0, None)
        for item_id, _ in members[1:]:
            out[item_id] = (
                shrinkage,
                f"shrunk ×{shrinkage:g}: same family ({family}) and direction as '{lead}' — correlated evidence",
            )
    return out


# ------------------------------------------------------------------------------ observations
def merge_observations(
    case: ClinicalCase | None, observations: Sequence[Observation], kb: KnowledgeBase
) -> tuple[dict[str, Observation], list[str]]:
    """Case-file observations overlaid by explicit ones; validated against the knowledge base."""
    warnings: list[str] = []
    merged: dict[str, Observation] = {}
    for o in case.observations() if case is not None else []:
        merged[o.name] = o
    explicit: dict[str, Observation] = {}
    for o in observations:
        if not isinstance(o, Observation):
            raise EvidenceError(f"observations must be radnec Observation objects, got {type(o).__name__}")
        spec = kb.observations.get(o.name)
        if spec is None:
            warnings.append(f"observation '{o.name}' (from {o.source}) is not in the knowledge base; ignored")
            continue
        problem = check_value(o.name, o.value if not isinstance(o.value, int) or isinstance(o.value, bool) else float(o.value), spec)
        if problem:
            raise EvidenceError(f"observation from {o.source}: {problem}")
        if o.unit is not None and spec.unit is not None and _norm_unit(o.unit) != _norm_unit(spec.unit):
            warnings.append(f"observation '{o.name}' from {o.source} has unit '{o.unit}', expected '{spec.unit}'")
        prev = explicit.get(o.name)
        if prev is not None and prev.value != o.value:
            raise EvidenceError(
                f"observation '{o.name}' given twice with different values ({prev.value!r} from {prev.source}, "
                f"{o.value!r} from {o.source}); pass one value per lesion"
            )
        explicit[o.name] = o
        base = merged.get(o.name)
        if base is not None and base.source.startswith(CASE_SOURCE) and base.value != o.value:
            warnings.append(
                f"'{o.name}': {o.value!r} from {o.source} replaces {base.value!r} from the case file"
            )
        merged[o.name] = o
    return merged, warnings


def _norm_unit(unit: str) -> str:
    """Comparable form of a unit: dimensionless ratios (whatever their description) become '1'."""
    u = unit.replace("³", "3").replace(" ", "").lower()
    return "1" if u.startswith("ratio") or u in ("", "1", "none") else u


# ------------------------------------------------------------------------------------ engine core
def _item_warnings(item: Item) -> list[str]:
    w = []
    if item.population == "glioma":
        w.append("glioma-derived accuracy applied to a brain metastasis (extrapolated)")
    elif item.population == "mixed":
        w.append("accuracy from a mixed glioma/metastasis population")
    if item.extrapolated:
        w.append("threshold or accuracy extrapolated beyond the source population/definition (see note)")
    if item.unverified:
        w.append("source attribution UNVERIFIED in the evidence dossier")
    if item.grade == "expert-opinion":
        w.append("EXPERT OPINION: a weak likelihood ratio set by judgement, not a measured test accuracy")
    elif item.grade == "derived":
        w.append("LR derived from incidence data; the magnitude is a judgement")
    if item.accuracy is not None and item.accuracy.counts is not None and item.accuracy.counts.reconstructed:
        w.append("2×2 counts reconstructed from published percentages and group sizes")
    return w


def _borderline_warning(item: Item, value: object, result: Result, kb: KnowledgeBase) -> str | None:
    """Warning when a numeric value lies within ``borderline_fraction`` of the item's cut-off."""
    if item.threshold is None or isinstance(value, (bool, str)) or item.threshold == 0:
        return None
    frac = kb.convention("borderline_fraction")
    if abs(float(value) - item.threshold) > frac * abs(item.threshold):
        return None
    other: Result = "−" if result == "+" else "+"
    lo_cap, hi_cap = kb.convention("lr_cap_min"), kb.convention("lr_cap_max")
    other_lr = min(max(point_lr(item, other), lo_cap), hi_cap)
    return (
        f"BORDERLINE: {value:g} is within {frac:.0%} of the cut-off {item.threshold:g}; "
        f"the opposite result would give LR {other_lr:.3g} instead"
    )


def evaluate_items(obs: Mapping[str, Observation], kb: KnowledgeBase) -> list[EvidenceItem]:
    """Evidence items for the observations: applicable items with point LRs and family weights,
    then every observation that no item used (informational / not applicable)."""
    lo_cap, hi_cap = kb.convention("lr_cap_min"), kb.convention("lr_cap_max")
    rows: list[EvidenceItem] = []
    consumed: set[str] = set()
    not_applicable: dict[str, str] = {}
    for item in kb.items:
        result, finding = evaluate(item, obs)
        if result is None:
            if item.observation in obs:
                not_applicable.setdefault(item.observation, f"{item.label}: {finding}")
            continue
        consumed.add(item.observation)
        raw = point_lr(item, result)
        capped = min(max(raw, lo_cap), hi_cap)
        warnings = _item_warnings(item)
        if capped != raw:
            warnings.append(f"LR {raw:.3g} capped to {capped:g} (radnec convention: small-study extremes)")
        o = obs[item.observation]
        borderline = _borderline_warning(item, o.value, result, kb)
        if borderline:
            warnings.append(borderline)
        rows.append(
            EvidenceItem(
                id=item.id,
                label=item.label,
                family=item.family,
                population=item.population,
                grade=item.grade,
                observation=item.observation,
                value=o.value,
                source=o.source,
                finding=finding,
                result=result,
                lr=capped,
                lr_uncapped=None if math.isinf(raw) else raw,
                log_lr=math.log(capped),
                used=True,
                citation=kb.cite(item.sources),
                warnings=warnings,
                note=item.note,
            )
        )
    weights = family_weights([(r.id, r.family, r.log_lr or 0.0) for r in rows], kb.convention("family_shrinkage"))
    for r in rows:
        r.weight, r.reason = weights[r.id]
        r.contribution = r.weight * (r.log_lr or 0.0)
    for name, o in obs.items():
        if name in consumed:
            continue
        spec = kb.observations[name]
        reason = (
            "informational only: no cited threshold maps it to a likelihood ratio"
            + (f" ({spec.note})" if spec.note else "")
            if spec.informational
            else not_applicable.get(name, "no knowledge-base item applies")
        )
        rows.append(
            EvidenceItem(
                id=f"info:{name}",
                label=spec.description,
                family="informational",
                population="-",
                grade="-",
                observation=name,
                value=o.value,
                source=o.source,
                used=False,
                reason=reason,
            )
        )
    return rows


def point_posterior(prior: float, rows: Sequence[EvidenceItem]) -> float:
    """Posterior from the prior and the weighted log-LRs of the used rows."""
    return sigmoid(logit(prior) + sum(r.contribution for r in rows if r.used))


def posterior_for(obs: Mapping[str, Observation], prior: float, kb: KnowledgeBase) -> float:
    """Point posterior for a set of observations (used by value of information)."""
    return point_posterior(prior, evaluate_items(obs, kb))


def monte_carlo(
    rows: Sequence[EvidenceItem], kb: KnowledgeBase, *, prior_fixed: float | None, draws: int, seed: int
) -> np.ndarray:
    """Posterior draws: prior from its split logit-normal (or fixed), each used item's LR from its distribution."""
    rng = np.random.default_rng(seed)
    if prior_fixed is None:
        prior = kb.prior.sample(rng, draws)
    else:
        prior = np.full(draws, prior_fixed)
    log_odds = np.log(prior) - np.log1p(-prior)
    lo_cap, hi_cap = kb.convention("lr_cap_min"), kb.convention("lr_cap_max")
    by_id = {i.id: i for i in kb.items}
    for r in rows:
        if not r.used or r.result is None:
            continue
        lr = sample_lr(by_id[r.id], r.result, rng, draws, kb)
        lr = np.clip(np.nan_to_num(lr, nan=1.0, posinf=hi_cap), lo_cap, hi_cap)
        log_odds = log_odds + r.weight * np.log(lr)
    return 1.0 / (1.0 + np.exp(-log_odds))


def assess(
    case: ClinicalCase | None = None,
    observations: Sequence[Observation] = (),
    *,
    draws: int = 20000,
    seed: int = 0,
    prior_tp: float | None = None,
    knowledge: KnowledgeBase | None = None,
) -> EvidenceResult:
    """Posterior probability of tumour progression for one lesion, with uncertainty.

    Parameters
    ----------
    case
        Clinical case (timing, dose, systemic therapy, tests already done); may be None.
    observations
        Further findings (dose side, morphology, advanced imaging); they override case-file values
        of the same name (with a warning).
    draws
        Monte Carlo draws for the 95 % interval (>= 1000).
    seed
        Seed of the numpy Generator; same inputs and seed → identical result.
    prior_tp
        Override the knowledge-base prior (probability, fixed in the Monte Carlo); e.g. a local
        prevalence or a study's prevalence.
    knowledge
        Knowledge base; default the packaged one.

    Returns
    -------
    EvidenceResult
        ``.model_dump()`` is the evidence block of the analysis JSON contract.
    """
    kb = knowledge or load_knowledge()
    if draws < 1000:
        raise EvidenceError(f"draws must be >= 1000 for a stable 95 % interval, got {draws}")
    if prior_tp is not None and not 0.0 < prior_tp < 1.0:
        raise EvidenceError(f"prior_tp must be a probability strictly between 0 and 1, got {prior_tp}")
    obs, warnings = merge_observations(case, observations, kb)
    prior = kb.prior.point if prior_tp is None else prior_tp
    rows = evaluate_items(obs, kb)
    posterior = point_posterior(prior, rows)
    sims = monte_carlo(rows, kb, prior_fixed=prior_tp, draws=draws, seed=seed)
    mc_lo, mc_hi = (float(x) for x in np.percentile(sims, [2.5, 97.5]))
    lo, hi = min(mc_lo, posterior), max(mc_hi, posterior)

    from radnec.evidence.voi import biopsy_meaning, value_of_information

    voi = value_of_information(obs, prior, posterior, kb)
    candidates = [v for v in voi if v.expected_abs_change > 0]
    next_best = max(candidates, key=lambda v: v.expected_abs_change).label if candidates else None

    used = [r for r in rows if r.used]
    influence = []
    for name in dict.fromkeys(r.observation for r in used if abs(r.contribution) > 1e-12):
        reduced = {k: v for k, v in obs.items() if k != name}
        influence.append(
            Influence(
                observation=name,
                items=[r.id for r in used if r.observation == name],
                posterior_without=posterior_for(reduced, prior, kb),
            )
        )
    influence.sort(key=lambda i: -abs(i.posterior_without - posterior))
    if not any(r.family not in ("timing",) and r.grade == "measured" for r in used):
        warnings.append("no measured imaging test result entered: the probability rests on clinical factors only")
    if "days_since_srs" not in obs:
        warnings.append("time since SRS unknown: the strongest clinical modifier (Narloch 2017) is missing")
    if any(r.weight < 1.0 for r in used):
        warnings.append("correlated results in the same family were shrunk (see items)")
    for r in used:
        if abs(r.contribution) <= 1e-12:  # an absent risk factor (LR 1) needs no warning
            continue
        for w in r.warnings:
            if w.startswith(("glioma-derived", "EXPERT OPINION", "source attribution UNVERIFIED")):
                msg = f"{r.id}: {w}"
                if msg not in warnings:
                    warnings.append(msg)
    if (lo, hi) != (mc_lo, mc_hi):
        warnings.append(
            f"the point estimate {posterior:.3f} lies outside the Monte Carlo percentile interval "
            f"[{mc_lo:.3f}, {mc_hi:.3f}] (skewed small-study uncertainty); the interval shown was widened to include it"
        )
    caveats = [
        kb.texts["mixed_caveat"],
        kb.texts["dependence_warning"].replace("{shrinkage}", f"{kb.convention('family_shrinkage'):g}"),
        kb.texts["reference_standard"],
    ]
    return EvidenceResult(
        prior_tp=prior,
        prior_range=None if prior_tp is not None else kb.prior.range,
        posterior_tp=posterior,
        interval95=(lo, hi),
        interval95_mc=(mc_lo, mc_hi),
        band=band_of(posterior, kb),
        items=rows,
        next_best_test=next_best,
        value_of_information=voi,
        biopsy=biopsy_meaning(posterior, kb),
        influence=influence,
        warnings=warnings,
        caveats=caveats,
        draws=draws,
        seed=seed,
    )


__all__ = [
    "assess",
    "EvidenceResult",
    "EvidenceItem",
    "VOIEntry",
    "BiopsyMeaning",
    "posterior_from_lr",
    "point_lr",
    "family_weights",
    "evaluate",
    "sigmoid",
]
