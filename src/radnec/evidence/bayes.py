"""The Bayesian engine: prior odds × likelihood ratios → posterior P(progression), with uncertainty.

How it works (details and citations in ``docs/evidence.md``):

1. Observations (from the case file and from producers) are merged and validated
   (:func:`radnec.evidence.engine.merge_observations`).
2. **Hypothesis space** (:mod:`radnec.evidence.hypotheses`): when the lesion's maximum dose from this
   course (or its upper bound from the dose-grid edge) and every other course stay below the necrosis
   threshold, radiation necrosis is excluded and the question becomes *new or distant tumour vs another
   cause*, with its own (expert-opinion) prior; otherwise *progression vs radiation necrosis*.
3. Each knowledge-base item turns its observation into a result (+ tumour-like / finding present, −
   otherwise) and a likelihood ratio (LR), capped to [``lr_cap_min``, ``lr_cap_max``]. Items applied
   outside the situation they were measured in are marked *extrapolated* and shrunk; correlated results
   inside one family are shrunk (:mod:`radnec.evidence.engine`). Observations no item uses are listed
   as "considered, not used" with the reason.
4. posterior log-odds = logit(prior) + Σ weight × log LR.
5. A 95 % interval by Monte Carlo (:mod:`radnec.evidence.montecarlo`), and a second one that also
   covers the optimism of post-hoc cut-offs.
6. Fragility (:mod:`radnec.evidence.fragility`): leave-one-out posteriors per item, the warning when one
   small or post-hoc study moves the odds > 3-fold, and P(any viable tumour) for mixed lesions.
7. Value of information for each test not done (:mod:`radnec.evidence.voi`).

The building blocks are re-exported here for callers of the earlier single-module engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from radnec.errors import EvidenceError
from radnec.evidence.case import ClinicalCase
from radnec.evidence.engine import (
    Context,
    band_of,
    evaluate,
    evaluate_items,
    family_weights,
    merge_observations,
    point_lr,
    point_posterior,
    posterior_for,
    posterior_from_lr,
    sigmoid,
)
from radnec.evidence.fragility import leave_one_out, mixed_lesion
from radnec.evidence.hypotheses import hypothesis_space, load_hypotheses
from radnec.evidence.model import KnowledgeBase, load_knowledge
from radnec.evidence.montecarlo import evidence_draws, prior_log_odds, to_probability
from radnec.evidence.observations import Observation
from radnec.evidence.result import (
    BiopsyMeaning,
    ClinicianEstimate,
    EvidenceItem,
    EvidenceResult,
    HypothesisSpace,
    Influence,
    VOIEntry,
)
from radnec.evidence.voi import biopsy_meaning, value_of_information

#: Cues that matter for the question; listed under ``missing_cues`` when not given (name → why).
KEY_CUES = {
    "days_since_srs": "time since SRS (the strongest clinical modifier, Narloch 2017)",
    "pattern": "where the growth lies relative to the plan dose (in-field / marginal / out-of-field)",
    "enhancement_pattern": "enhancement pattern (solid/nodular vs rim, soap-bubble or cystic)",
    "edema_enhancement_ratio": "oedema/lesion volume ratio (Leeman 2013; worth measuring before 18 months)",
    "lesion_dmax_gy": "the lesion's own dose from the plan (decides whether necrosis is possible at all)",
}


def _influence(
    obs: Mapping[str, Observation], rows: Sequence[EvidenceItem], prior: float, posterior: float, kb: KnowledgeBase, excluded: bool
) -> list[Influence]:
    used = [r for r in rows if r.used]
    out = []
    for name in dict.fromkeys(r.observation for r in used if abs(r.contribution) > 1e-12):
        reduced = {k: v for k, v in obs.items() if k != name}
        ctx = Context.from_observations(reduced, necrosis_excluded=excluded)
        out.append(
            Influence(
                observation=name,
                items=[r.id for r in used if r.observation == name],
                posterior_without=posterior_for(reduced, prior, kb, ctx),
            )
        )
    out.sort(key=lambda i: -abs(i.posterior_without - posterior))
    return out


def _warnings(
    obs: Mapping[str, Observation], rows: Sequence[EvidenceItem], hyp: HypothesisSpace, warnings: list[str]
) -> None:
    used = [r for r in rows if r.used]
    if hyp.necrosis_excluded:
        warnings.append(hyp.reason)
    elif not any(r.family not in ("timing",) and r.grade == "measured" for r in used):
        warnings.append("no measured imaging test result entered: the probability rests on clinical factors only")
    if "days_since_srs" not in obs and not hyp.necrosis_excluded:
        warnings.append("time since SRS unknown: the strongest clinical modifier (Narloch 2017) is missing")
    if any(r.reason and "same family" in r.reason for r in used):
        warnings.append("correlated results in the same family were shrunk (see items)")
    for r in used:
        # a locally calibrated LR is always said, even when it came out as 1 (the cited one would not have)
        local = [f"{r.id}: {w}" for w in r.warnings if w.startswith("LOCAL CALIBRATION")]
        warnings.extend(m for m in local if m not in warnings)
        if abs(r.contribution) <= 1e-12:  # an absent risk factor (LR 1) needs no warning
            continue
        for w in r.warnings:
            if w.startswith(("glioma-derived", "EXPERT OPINION", "source attribution UNVERIFIED", "EXTRAPOLATED")):
                msg = f"{r.id}: {w}"
                if msg not in warnings:
                    warnings.append(msg)


def assess(
    case: ClinicalCase | None = None,
    observations: Sequence[Observation] = (),
    *,
    draws: int = 20000,
    seed: int = 0,
    prior_tp: float | None = None,
    knowledge: KnowledgeBase | None = None,
) -> EvidenceResult:
    """Posterior probability of tumour progression for one lesion, with uncertainty and fragility.

    Parameters
    ----------
    case
        Clinical case (timing, dose, earlier courses, systemic therapy, cues, tests already done); may be None.
    observations
        Further findings (dose side, morphology, advanced imaging); they override case-file values
        of the same name (with a warning).
    draws
        Monte Carlo draws for the 95 % interval (>= 1000).
    seed
        Seed of the numpy Generators; same inputs and seed → identical result.
    prior_tp
        Override the knowledge-base prior of progression vs necrosis (probability, fixed in the Monte
        Carlo); ignored, with a warning, when necrosis is excluded by dose.
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
    hyp = hypothesis_space(obs, case, kb=kb)
    ctx = Context.from_observations(obs, necrosis_excluded=hyp.necrosis_excluded)
    prior_model = kb.prior
    if hyp.necrosis_excluded:
        prior_model = load_hypotheses().tumour_vs_other_prior
        if prior_tp is not None:
            warnings.append(f"prior_tp {prior_tp:g} (progression vs necrosis) ignored: necrosis is excluded by dose")
        prior_tp = None
    prior = prior_model.point if prior_tp is None else prior_tp
    rows = evaluate_items(obs, kb, ctx)
    posterior = point_posterior(prior, rows)

    rng = np.random.default_rng(seed)
    prior_draws = prior_model.sample(rng, draws) if prior_tp is None else np.full(draws, prior_tp)
    ev, ev_cut = evidence_draws(rows, kb, rng, draws, np.random.default_rng([seed, 1]))
    mc_lo, mc_hi = (float(x) for x in np.percentile(to_probability(prior_log_odds(prior_draws) + ev), [2.5, 97.5]))
    cut_lo, cut_hi = (float(x) for x in np.percentile(to_probability(prior_log_odds(prior_draws) + ev_cut), [2.5, 97.5]))
    lo, hi = min(mc_lo, posterior), max(mc_hi, posterior)

    voi = value_of_information(obs, prior, posterior, kb, ctx)
    candidates = [v for v in voi if v.expected_abs_change > 0]
    next_best = max(candidates, key=lambda v: v.expected_abs_change).label if candidates else None
    loo, fragile = leave_one_out(rows, prior, kb)
    _warnings(obs, rows, hyp, warnings)
    warnings.extend(fragile)
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
    estimate = None
    if case is not None and case.clinician_estimate is not None:
        ce = case.clinician_estimate
        estimate = ClinicianEstimate(
            p_progression=ce.p_progression, wording=ce.wording, engine_posterior=posterior, difference=posterior - ce.p_progression
        )
    given = set(obs) | ({"lesion_dmax_gy"} if "lesion_dmax_bound_gy" in obs else set())
    missing = [] if hyp.necrosis_excluded else [why for name, why in KEY_CUES.items() if name not in given]
    histology = obs.get("primary_histology")
    if histology is not None and histology.value == "nsclc" and "nsclc_driver_mutation" not in obs:
        missing.append("EGFR/ALK status (in-field failure 0/225 lesions with either; a strong modifier if positive)")
    return EvidenceResult(
        prior_tp=prior,
        prior_range=None if prior_tp is not None else prior_model.range,
        posterior_tp=posterior,
        interval95=(lo, hi),
        interval95_mc=(mc_lo, mc_hi),
        interval95_cutoff=(min(cut_lo, lo), max(cut_hi, hi)),
        band=band_of(posterior, kb),
        hypotheses=hyp,
        items=rows,
        next_best_test=next_best,
        value_of_information=voi,
        biopsy=biopsy_meaning(posterior, kb),
        mixed=mixed_lesion(
            prior=prior, posterior=posterior, evidence_log_odds=ev, interval=(lo, hi), hyp=hyp, kb=kb, seed=seed
        ),
        influence=_influence(obs, rows, prior, posterior, kb, hyp.necrosis_excluded),
        leave_one_out=loo,
        clinician_estimate=estimate,
        missing_cues=missing,
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
