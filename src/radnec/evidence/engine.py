"""The engine's core: observations → evidence items (result, LR, situation, weight) → point posterior.

Shared by :mod:`radnec.evidence.bayes` (the assessment), :mod:`radnec.evidence.voi` (value of
information) and :mod:`radnec.evidence.fragility` (leave-one-out); it imports none of them.

Weights (``docs/evidence.md``): an item applied outside the situation it was measured in — a lesion of
another failure pattern than its source's lesions, or glioma accuracy for a metastasis — is marked
*extrapolated* and its log-LR multiplied by ``conventions.extrapolation_shrinkage``; inside one evidence
family the strongest result per direction counts fully and further concordant results are multiplied
by ``conventions.family_shrinkage``. When radiation necrosis of every course is excluded by dose
(:mod:`radnec.evidence.hypotheses`), items that weigh necrosis against progression at an irradiated site
(``situation.contrast: course``) do not apply; tissue tests do, as tumour vs another non-tumour cause.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from radnec.errors import EvidenceError
from radnec.evidence.case import CASE_SOURCE, ClinicalCase, check_value
from radnec.evidence.model import Item, KnowledgeBase, logit
from radnec.evidence.observations import Observation
from radnec.evidence.result import EvidenceItem, Result


@dataclass(frozen=True)
class Context:
    """The situation of the lesion being assessed.

    Attributes
    ----------
    pattern
        in-field / marginal / out-of-field, or None when unknown (then nothing is extrapolated by pattern).
    necrosis_excluded
        True when the lesion received no necrosis-capable dose from any course (hypothesis space
        'new or distant tumour vs another cause').
    """

    pattern: str | None = None
    necrosis_excluded: bool = False

    @staticmethod
    def from_observations(obs: Mapping[str, Observation], *, necrosis_excluded: bool = False) -> Context:
        """The context read from the observations (``pattern``)."""
        p = obs.get("pattern")
        return Context(pattern=None if p is None else str(p.value), necrosis_excluded=necrosis_excluded)


def situation_text(item: Item) -> str:
    """One line: where the item's numbers come from."""
    s = item.situation
    n = f", {s.n_lesions} lesions" if s.n_lesions else ""
    cut = ", post-hoc cut-off" if s.cutoff == "post-hoc" else ""
    return f"{s.setting} ({item.population}; {'/'.join(s.patterns)}; reference {s.reference}{n}{cut})"


def _not_applicable(item: Item, ctx: Context) -> str | None:
    if ctx.necrosis_excluded and item.situation.contrast == "course":
        return "not applicable: radiation necrosis is excluded by dose, and this item weighs necrosis against progression"
    if ctx.pattern is not None and ctx.pattern not in item.situation.patterns and item.situation.outside == "not-applicable":
        return f"not applicable to a {ctx.pattern} lesion (defined for {'/'.join(item.situation.patterns)} lesions only)"
    return None


def _extrapolation(item: Item, ctx: Context, kb: KnowledgeBase) -> tuple[float, str] | None:
    """(shrinkage factor, why) when the item is applied outside its situation, else None."""
    why = []
    if ctx.pattern is not None and ctx.pattern not in item.situation.patterns and not ctx.necrosis_excluded:
        why.append(
            f"measured in {'/'.join(item.situation.patterns)} lesions ({item.situation.setting}), "
            f"applied to a {ctx.pattern} lesion"
        )
    if item.population == "glioma":
        why.append("measured in glioma, applied to a brain metastasis")
    if not why:
        return None
    return kb.convention("extrapolation_shrinkage"), "; ".join(why)


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
    """Wording band of a probability (conventions.decision_bands)."""
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
    if v == "not applicable":
        return None, f"'{item.observation}' is not applicable to this lesion"
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



# ------------------------------------------------------------------------------------ items
def _item_warnings(item: Item) -> list[str]:
    w = []
    if item.local_calibration:
        w.append(f"LOCAL CALIBRATION: {item.local_calibration}")
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


def evaluate_items(
    obs: Mapping[str, Observation], kb: KnowledgeBase, context: Context | None = None
) -> list[EvidenceItem]:
    """Evidence items for the observations: applicable items with point LRs, situation and family
    weights, then every observation that no item used (informational / not applicable, with why)."""
    ctx = context or Context.from_observations(obs)
    lo_cap, hi_cap = kb.convention("lr_cap_min"), kb.convention("lr_cap_max")
    rows: list[EvidenceItem] = []
    consumed: set[str] = set()
    not_applicable: dict[str, str] = {}
    extrapolation: dict[str, tuple[float, str]] = {}
    for item in kb.items:
        result, finding = evaluate(item, obs)
        if result is None:
            if item.observation in obs:
                not_applicable.setdefault(item.observation, f"{item.label}: {finding}")
            continue
        blocked = _not_applicable(item, ctx)
        if blocked is not None:
            not_applicable[item.observation] = f"{item.label}: {blocked}"
            continue
        consumed.add(item.observation)
        raw = point_lr(item, result)
        capped = min(max(raw, lo_cap), hi_cap)
        warnings = _item_warnings(item)
        shrink = _extrapolation(item, ctx, kb)
        if shrink is not None:
            extrapolation[item.id] = shrink
            warnings.append(f"EXTRAPOLATED: {shrink[1]}")
        elif ctx.necrosis_excluded:
            warnings.append(
                "applied as tumour vs another non-tumour cause; its accuracy was measured against radiation necrosis"
            )
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
                extrapolated=item.id in extrapolation,
                situation=situation_text(item),
                citation=kb.cite(item.sources),
                warnings=warnings,
                note=item.note,
            )
        )
    apply_weights(rows, extrapolation, kb)
    for name, o in obs.items():
        if name in consumed:
            continue
        spec = kb.observations[name]
        reason = (
            "considered, not used (informational): " + (spec.note or "no cited threshold maps it to a likelihood ratio")
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


def apply_weights(rows: Sequence[EvidenceItem], extrapolation: Mapping[str, tuple[float, str]], kb: KnowledgeBase) -> None:
    """Set weight, reason and contribution of the used rows: extrapolation shrinkage × family weight
    (the family order uses the log-LRs after extrapolation)."""
    ext = {r.id: extrapolation.get(r.id, (1.0, ""))[0] for r in rows}
    weights = family_weights(
        [(r.id, r.family, ext[r.id] * (r.log_lr or 0.0)) for r in rows], kb.convention("family_shrinkage")
    )
    for r in rows:
        w, why = weights[r.id]
        factor, ext_why = extrapolation.get(r.id, (1.0, None))
        r.weight = w * factor
        r.reason = "; ".join(x for x in (ext_why and f"shrunk ×{factor:g}: {ext_why}", why) if x) or None
        r.contribution = r.weight * (r.log_lr or 0.0)


def point_posterior(prior: float, rows: Sequence[EvidenceItem]) -> float:
    """Posterior from the prior and the weighted log-LRs of the used rows."""
    return sigmoid(logit(prior) + sum(r.contribution for r in rows if r.used))


def posterior_for(
    obs: Mapping[str, Observation], prior: float, kb: KnowledgeBase, context: Context | None = None
) -> float:
    """Point posterior for a set of observations (used by value of information and leave-one-out)."""
    return point_posterior(prior, evaluate_items(obs, kb, context))


__all__ = [
    "Context",
    "evaluate",
    "evaluate_items",
    "point_lr",
    "family_weights",
    "apply_weights",
    "merge_observations",
    "point_posterior",
    "posterior_for",
    "posterior_from_lr",
    "band_of",
    "sigmoid",
    "situation_text",
]
