"""Value of information: what each test not yet done could do to the probability.

For a test not yet done, the engine is re-run with a hypothetical tumour-like and a hypothetical
necrosis-like result (so family shrinkage and caps apply exactly as they would), giving
``posterior_if_positive`` (q+) and ``posterior_if_negative`` (q−). The chance of a positive result is
the one that keeps the expected posterior equal to the current one (coherence):
``p_positive = (p − q−) / (q+ − q−)``; for a test with no correlated result already present this
equals ``p·sens + (1 − p)·(1 − spec)``. ``expected_abs_change`` = E|posterior − p| ranks the tests.

The needle biopsy is treated separately (:func:`biopsy_meaning`): tumour in the sample settles that
viable tumour is present, but 'necrosis only' can be a sampling miss.
"""

from __future__ import annotations

from collections.abc import Mapping

from radnec.evidence.engine import Context, band_of, evaluate, posterior_for
from radnec.evidence.model import KnowledgeBase
from radnec.evidence.observations import Observation
from radnec.evidence.result import BiopsyMeaning, VOIEntry

HYPOTHETICAL = "hypothetical (value of information)"


def _procedure_done(proc_id: str, obs: Mapping[str, Observation], kb: KnowledgeBase) -> bool:
    return any(item.procedure == proc_id and evaluate(item, obs)[0] is not None for item in kb.items)


def value_of_information(
    obs: Mapping[str, Observation], prior: float, current: float, kb: KnowledgeBase, context: Context | None = None
) -> list[VOIEntry]:
    """VOI entries for every procedure not yet done (``context``: the lesion's situation, kept fixed)."""
    out = []
    for proc in kb.procedures:
        if _procedure_done(proc.id, obs, kb):
            continue
        clash = sorted(k for k in (*proc.positive, *proc.negative) if k in obs)
        if clash:
            # e.g. a second PET with another tracer: one value per observation name and lesion
            continue
        results = {}
        for label, values in (("+", proc.positive), ("−", proc.negative)):
            hyp = dict(obs)
            for name, value in values.items():
                hyp[name] = Observation(name=name, value=value, source=HYPOTHETICAL)
            results[label] = posterior_for(hyp, prior, kb, context)
        q_pos, q_neg = results["+"], results["−"]
        if q_pos - q_neg <= 1e-12:
            p_pos = 0.5
            change = 0.0
        else:
            p_pos = min(max((current - q_neg) / (q_pos - q_neg), 0.0), 1.0)
            change = p_pos * abs(q_pos - current) + (1 - p_pos) * abs(q_neg - current)
        band = band_of(current, kb)
        out.append(
            VOIEntry(
                test=proc.id,
                label=proc.label,
                family=proc.family,
                p_positive=p_pos,
                posterior_if_positive=q_pos,
                posterior_if_negative=q_neg,
                expected_abs_change=change,
                could_change_band=band_of(q_pos, kb) != band or band_of(q_neg, kb) != band,
                note=proc.note,
                citation=kb.cite(proc.sources),
            )
        )
    return out


def biopsy_meaning(current: float, kb: KnowledgeBase) -> BiopsyMeaning:
    """What a needle biopsy would mean at the current probability, over the sampling-sensitivity
    range of ``conventions.biopsy_sampling_sensitivity`` (expert opinion; specificity taken as 1:
    tumour seen in the sample is taken as proof that viable tumour is present)."""
    s_lo, s_hi = kb.convention_pair("biopsy_sampling_sensitivity")

    def post_neg(s: float) -> float:
        miss = current * (1 - s)
        return miss / (miss + (1 - current))

    lo_post, hi_post = sorted((post_neg(s_lo), post_neg(s_hi)))
    text = (
        f"{kb.texts['biopsy_meaning']} At the current probability {current:.2f}, a biopsy would find tumour "
        f"with probability {current * s_lo:.2f}-{current * s_hi:.2f}; a 'necrosis only' result would leave "
        f"P(progression) at {lo_post:.2f}-{hi_post:.2f}, not zero (sampling sensitivity {s_lo:g}-{s_hi:g} assumed, "
        "expert opinion)."
    )
    return BiopsyMeaning(
        sampling_sensitivity=(s_lo, s_hi),
        p_tumour_found=(current * s_lo, current * s_hi),
        posterior_if_tumour_found=1.0,
        posterior_if_necrosis_only=(lo_post, hi_post),
        explanation=text,
        citation=kb.cite(kb.conventions["biopsy_sampling_sensitivity"].sources),
    )


__all__ = ["value_of_information", "biopsy_meaning"]
