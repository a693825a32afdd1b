"""How fragile is the answer: leave-one-out posteriors, the single-small-study warning, mixed lesions.

* **Leave-one-out**: for every used item that moved the odds, the posterior without it, with the family
  weights recomputed among the remaining items (so removing the strongest of two concordant perfusion
  results promotes the other). Removing an item that favours progression never raises the posterior and
  removing one that favours necrosis never lowers it (property-tested).
* **Fragility warning**: a single item from a study with fewer than ``conventions.small_study_lesions``
  lesions or with a post-hoc cut-off that moves the odds more than ``conventions.fragile_odds_factor``-fold.
* **Mixed lesions**: P(any viable tumour) — Nath's 64 % of resected lesions with some tumour as the prior,
  the same likelihood ratios — vs P(pure treatment effect) (``knowledge/hypotheses.yaml``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from radnec.evidence.engine import apply_weights, point_posterior
from radnec.evidence.hypotheses import load_hypotheses
from radnec.evidence.model import KnowledgeBase, logit
from radnec.evidence.montecarlo import prior_log_odds, to_probability
from radnec.evidence.result import EvidenceItem, HypothesisSpace, LeaveOneOut, MixedLesion


def _small_or_post_hoc(item_id: str, kb: KnowledgeBase) -> tuple[bool, str]:
    s = kb.item(item_id).situation
    parts = []
    if s.n_lesions is not None and s.n_lesions < kb.convention("small_study_lesions"):
        parts.append(f"a study of {s.n_lesions} lesions")
    if s.cutoff == "post-hoc":
        parts.append("a post-hoc cut-off")
    return bool(parts), " with ".join(parts)


def leave_one_out(rows: Sequence[EvidenceItem], prior: float, kb: KnowledgeBase) -> tuple[list[LeaveOneOut], list[str]]:
    """Posterior without each used item that moved it, and the fragility warnings.

    Parameters
    ----------
    rows
        The evidence items of the assessment (weights already set).
    prior
        The prior probability the posterior was computed from.
    kb
        Knowledge base (conventions, item situations).

    Returns
    -------
    (list of LeaveOneOut sorted by how far the posterior moves, list of warning strings)
    """
    full = point_posterior(prior, rows)
    factor = kb.convention("fragile_odds_factor")
    shrink = kb.convention("extrapolation_shrinkage")
    out: list[LeaveOneOut] = []
    warnings: list[str] = []
    for r in rows:
        if not r.used or abs(r.contribution) <= 1e-12:
            continue
        rest = [x.model_copy() for x in rows if x.id != r.id and x.used]
        apply_weights(rest, {x.id: (shrink, "extrapolated") for x in rest if x.extrapolated}, kb)
        without = point_posterior(prior, rest)
        odds = math.exp(logit(min(max(full, 1e-12), 1 - 1e-12)) - logit(min(max(without, 1e-12), 1 - 1e-12)))
        small, why = _small_or_post_hoc(r.id, kb)
        fragile = small and (odds > factor or odds < 1.0 / factor)
        if fragile:
            warnings.append(
                f"FRAGILE: '{r.label}' alone moves the odds ×{odds:.2g} ({why}); without it the probability would be "
                f"{without:.2f} instead of {full:.2f}"
            )
        out.append(
            LeaveOneOut(item=r.id, label=r.label, posterior_without=without, odds_factor=odds, small_or_post_hoc=small, fragile=fragile)
        )
    out.sort(key=lambda x: -abs(x.posterior_without - full))
    return out, warnings


def mixed_lesion(
    *,
    prior: float,
    posterior: float,
    evidence_log_odds: np.ndarray,
    interval: tuple[float, float],
    hyp: HypothesisSpace,
    kb: KnowledgeBase,
    seed: int,
) -> MixedLesion:
    """P(any viable tumour) and P(pure treatment effect) (see module docstring).

    Parameters
    ----------
    prior, posterior
        The point prior and posterior of the assessment (their log-odds difference is the evidence).
    evidence_log_odds
        Monte Carlo draws of the summed weighted log-LRs; the prior is drawn from
        Beta(tumour + 1, total − tumour + 1) of ``hypotheses.yaml: any_viable_tumour``.
    interval
        The posterior's 95 % interval (used when necrosis is excluded).
    hyp
        The hypothesis space (when necrosis is excluded, any viable tumour = tumour).
    kb
        Knowledge base (citations).
    seed
        Seed of the prior draws (a generator of its own, so the other draws do not change).
    """
    avt = load_hypotheses().any_viable_tumour
    cite = kb.cite(avt.sources)
    if hyp.necrosis_excluded:
        return MixedLesion(
            p_any_viable_tumour=posterior,
            interval95=interval,
            p_pure_treatment_effect=0.0,
            explanation="Radiation necrosis is excluded by dose, so there is no treatment effect to mix with: "
            "P(any viable tumour) is P(tumour) above (its interval there); the alternative is another cause.",
            citation=cite,
        )
    p = avt.proportion
    evidence = logit(posterior) - logit(prior)
    p_any = max(posterior, 1.0 / (1.0 + math.exp(-(logit(p) + evidence))))
    rng = np.random.default_rng([seed, 2])
    draws = rng.beta(avt.tumour + 1, avt.total - avt.tumour + 1, evidence_log_odds.size)
    lo, hi = (float(x) for x in np.percentile(to_probability(prior_log_odds(draws) + evidence_log_odds), [2.5, 97.5]))
    return MixedLesion(
        p_any_viable_tumour=p_any,
        interval95=(min(lo, p_any), max(hi, p_any)),
        p_pure_treatment_effect=1.0 - p_any,
        explanation=(
            f"Most resected lesions are mixed: {avt.tumour}/{avt.total} ({100 * p:.0f} %) contained some viable "
            f"tumour (Nath). With that prior and the same evidence, P(any viable tumour) is {p_any:.2f} and "
            f"P(pure treatment effect) {1 - p_any:.2f}. A needle biopsy can confirm tumour, but a 'necrosis only' "
            "result cannot exclude it. Assumption: the items' likelihood ratios carry over to this definition."
        ),
        citation=cite,
    )


__all__ = ["leave_one_out", "mixed_lesion"]
