"""Monte Carlo of the posterior: the uncertainty of the prior and of every used item's likelihood ratio.

Sensitivities/specificities are drawn from Beta distributions (2×2 counts: Beta(x+1, n−x+1), whose mode
is the published proportion; CIs: moment-matched Beta; neither: ``n`` per class), reported LRs
lognormal from their CI, expert/derived LR ranges log-uniform; caps and weights as in the point
estimate. A ``numpy.random.Generator`` with a fixed seed makes it deterministic.

:func:`evidence_draws` returns the summed weighted log-LRs per draw twice: as published, and *with
cut-off uncertainty*, where every item with a post-hoc cut-off has its log-LR multiplied by a factor
drawn uniformly from ``conventions.cutoff_optimism_shrinkage`` (data-driven 'optimal' thresholds
overstate accuracy; the range is expert opinion). The caller adds the prior's log-odds draws.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from radnec.evidence.model import Accuracy, Item, KnowledgeBase, LRSpec, Proportion
from radnec.evidence.result import EvidenceItem, Result


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


def evidence_draws(
    rows: Sequence[EvidenceItem],
    kb: KnowledgeBase,
    rng: np.random.Generator,
    draws: int,
    cutoff_rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Summed weighted log-LRs of the used rows per draw: (as published, with cut-off uncertainty).

    ``cutoff_rng`` draws only the cut-off factors, so that the published draws do not depend on them."""
    total = np.zeros(draws)
    total_cut = np.zeros(draws)
    lo_cap, hi_cap = kb.convention("lr_cap_min"), kb.convention("lr_cap_max")
    c_lo, c_hi = kb.convention_pair("cutoff_optimism_shrinkage")
    by_id = {i.id: i for i in kb.items}
    for r in rows:
        if not r.used or r.result is None:
            continue
        item = by_id[r.id]
        lr = sample_lr(item, r.result, rng, draws, kb)
        log_lr = r.weight * np.log(np.clip(np.nan_to_num(lr, nan=1.0, posinf=hi_cap), lo_cap, hi_cap))
        total += log_lr
        if item.situation.cutoff == "post-hoc":
            total_cut += log_lr * cutoff_rng.uniform(c_lo, c_hi, draws)
        else:
            total_cut += log_lr
    return total, total_cut


def to_probability(log_odds: np.ndarray) -> np.ndarray:
    """Probabilities from log-odds draws."""
    return 1.0 / (1.0 + np.exp(-log_odds))


def prior_log_odds(prior: np.ndarray) -> np.ndarray:
    """Log-odds of prior probability draws."""
    return np.log(prior) - np.log1p(-prior)


__all__ = ["sample_lr", "evidence_draws", "to_probability", "prior_log_odds"]
