"""Management options: each with why it fits or not, given the posterior and the clinical context.

radnec never gives a single answer. Every option of ``knowledge/options.yaml`` is listed with a fit
('recommended to discuss' | 'reasonable' | 'less suitable'), the reasons, the evidence notes and
citations. The thresholds that drive the wording (``decision_bands``, ``large_lesion_mm``,
``good_kps``) are radnec conventions (expert opinion) in ``knowledge/conventions.yaml``; the rules
below are the tumour-board logic written out, not evidence.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from radnec.evidence.case import ClinicalCase
from radnec.evidence.model import KnowledgeBase, load_knowledge

Fit = Literal["recommended to discuss", "reasonable", "less suitable"]
RECOMMENDED: Fit = "recommended to discuss"
REASONABLE: Fit = "reasonable"
LESS: Fit = "less suitable"


class ManagementOption(BaseModel):
    """One option for the tumour board."""

    id: str
    label: str
    fit: Fit
    rationale: list[str]
    evidence: list[str] = Field(default_factory=list)
    citations: list[str] = Field(default_factory=list)


class _Context:
    """Derived facts the rules use (all optional facts may be unknown)."""

    def __init__(self, case: ClinicalCase | None, evidence, kb: KnowledgeBase) -> None:  # noqa: ANN001
        c = case or ClinicalCase()
        self.case = c
        self.p = evidence.posterior_tp
        self.lo, self.hi = evidence.interval95
        self.band = evidence.band
        self.symptoms = c.symptoms
        self.symptomatic = c.symptoms in ("moderate", "severe") or c.symptoms_progressive
        self.mild = c.symptoms == "mild"
        self.steroid_dependent = c.steroids.dependent or c.steroids.worsened_on_taper
        diameter = c.lesion.diameter_now_mm
        for item in evidence.items:
            if item.observation == "longest_diameter_mm" and isinstance(item.value, float):
                diameter = item.value
        self.diameter = diameter
        self.large = (diameter is not None and diameter >= kb.convention("large_lesion_mm")) or bool(c.lesion.mass_effect)
        self.kps_ok = None if c.kps is None else c.kps >= kb.convention("good_kps")
        self.resectable = c.lesion.resectable
        self.eloquent = c.lesion.eloquent
        self.on_ici = c.immunotherapy.agents != "none"
        self.systemic_progressive = c.extracranial_disease == "progressive"
        self.voi = evidence.value_of_information
        self.biopsy = evidence.biopsy
        self.repeat_srs = c.srs.repeat_srs
        hyp = getattr(evidence, "hypotheses", None)
        self.necrosis_excluded = bool(hyp is not None and hyp.necrosis_excluded)

    @property
    def p_text(self) -> str:
        return f"P(progression) {self.p:.2f} (95 % interval {self.lo:.2f}-{self.hi:.2f}, {self.band})"


def _observation(x: _Context) -> tuple[Fit, list[str]]:
    why = []
    if x.symptomatic or x.steroid_dependent:
        why.append("symptomatic or steroid-dependent: waiting alone leaves symptoms untreated")
        fit = LESS
    elif x.large:
        why.append("large lesion / mass effect: little room to wait")
        fit = LESS
    elif x.band == "leans progression":
        why.append(f"{x.p_text}: waiting risks untreated tumour growth")
        fit = REASONABLE
    else:
        why.append(f"{x.p_text}; few or no symptoms: a repeat MRI in 6-8 weeks shows the trajectory")
        fit = RECOMMENDED
    if x.hi - x.lo > 0.3:
        why.append("the interval is wide: the next scan (or a test) narrows it")
    return fit, why


def _steroids(x: _Context) -> tuple[Fit, list[str]]:
    why = []
    if x.symptomatic:
        fit, _ = RECOMMENDED, why.append("symptomatic: steroids treat oedema whatever its cause")
    elif x.mild:
        fit, _ = REASONABLE, why.append("mild symptoms: a short course at the lowest effective dose")
    else:
        fit, _ = LESS, why.append("no symptoms: steroids are not needed for an imaging finding alone")
    if x.steroid_dependent:
        why.append("already worse on taper / dependent: plan a steroid-sparing option alongside")
    if x.on_ici:
        why.append("on checkpoint inhibitors: steroid use was associated with worse survival (observational)")
    return fit, why


def _bevacizumab(x: _Context) -> tuple[Fit, list[str]]:
    why = []
    if x.necrosis_excluded:
        return LESS, ["radiation necrosis is excluded by dose: bevacizumab as a necrosis treatment does not apply"]
    if not (x.symptomatic or x.steroid_dependent or x.mild):
        return LESS, ["no symptoms and not steroid-dependent: no indication for bevacizumab yet"]
    if x.band == "leans progression":
        why.append(f"{x.p_text}: bevacizumab controls oedema but is not a definitive tumour treatment here")
        return REASONABLE, why
    why.append(f"{x.p_text} and symptoms/steroid dependence: the setting of the RN trials")
    if x.steroid_dependent:
        why.append("steroid-dependent: the BeSt-trial situation (symptoms despite dexamethasone)")
    why.append("a response does not prove necrosis (expert opinion)")
    return (RECOMMENDED if (x.symptomatic or x.steroid_dependent) else REASONABLE), why


def _litt(x: _Context, kb: KnowledgeBase) -> tuple[Fit, list[str]]:
    why = []
    if x.diameter is not None and x.diameter > kb.convention("large_lesion_mm"):
        why.append(f"lesion {x.diameter:.0f} mm: larger than usual LITT targets (LAASR mean volume 6.4 cm³)")
        return LESS, why
    if not (x.symptomatic or x.steroid_dependent) and x.band == "leans necrosis":
        return LESS, [f"{x.p_text}, asymptomatic: an invasive treatment is hard to justify yet"]
    why.append("treats necrosis and tumour alike and allows a biopsy in the same session")
    if x.resectable in ("no", "uncertain") or x.eloquent:
        why.append("deep / eloquent / not clearly resectable: the typical LITT indication")
        return RECOMMENDED, why
    if x.resectable is None:
        why.append("resectability not given: neurosurgical review decides LITT vs resection")
    why.append("adverse events ~30 % across series")
    return REASONABLE, why


def _resection(x: _Context, kb: KnowledgeBase) -> tuple[Fit, list[str]]:
    why = []
    if x.resectable == "no":
        return LESS, ["not resectable (case file)"]
    if x.kps_ok is False:
        return LESS, [f"KPS {x.case.kps} < {kb.convention('good_kps'):g}: surgical risk outweighs benefit in most cases"]
    if x.systemic_progressive:
        why.append("progressive extracranial disease: weigh survival expectations")
    need = x.large or x.symptomatic or x.steroid_dependent
    if need:
        why.append("mass effect / symptoms / steroid dependence: debulking relieves them")
    why.append("gives the whole specimen, which settles mixed tumour + necrosis better than a needle (Nath)")
    if x.resectable == "yes" and need and x.kps_ok is not False and not x.systemic_progressive:
        return RECOMMENDED, why
    if x.resectable is None:
        why.append("resectability and eloquence not given in the case file")
    return (REASONABLE if need or x.band != "leans necrosis" else LESS), why


def _biopsy(x: _Context, resection_fit: Fit) -> tuple[Fit, list[str]]:
    b = x.biopsy
    lo, hi = b.posterior_if_necrosis_only
    why = [
        f"a 'necrosis only' result would leave P(progression) at {lo:.2f}-{hi:.2f}, not zero (sampling error)",
    ]
    if resection_fit == RECOMMENDED:
        why.insert(0, "resection is on the table: it yields the whole specimen")
        return LESS, why
    if x.band == "equivocal" or x.hi - x.lo > 0.3:
        why.insert(0, f"{x.p_text}: tissue could settle what imaging leaves open")
        return RECOMMENDED, why
    why.insert(0, f"{x.p_text}: tissue is most useful if the result would change treatment")
    return REASONABLE, why


def _re_srs(x: _Context) -> tuple[Fit, list[str]]:
    if x.necrosis_excluded:
        return RECOMMENDED, [
            f"{x.p_text}: a new or distant lesion that received no necrosis-capable dose; radiosurgery of the new "
            "lesion is not a re-irradiation of the treated site"
        ]
    if x.band == "leans progression":
        why = [f"{x.p_text}: re-irradiation treats progression"]
        if x.repeat_srs:
            why.append("already re-irradiated once: cumulative necrosis risk")
            return REASONABLE, why
        return RECOMMENDED, why
    return LESS, [
        f"{x.p_text}: if this is necrosis, more dose adds necrosis risk (repeat SRS: RN 16 %)",
        "consider only once progression is confirmed",
    ]


def _wbrt(x: _Context) -> tuple[Fit, list[str]]:
    if x.case.other_brain_lesions_progressing and x.band == "leans progression":
        return REASONABLE, ["several brain lesions progressing: whole-brain treatment may be discussed"]
    return LESS, [
        "one lesion in question is not a WBRT indication",
        "salvage SRS + WBRT carried necrosis in 21.4 % (Adv Radiat Oncol 2017)",
    ]


def _advanced_imaging(x: _Context) -> tuple[Fit, list[str]]:
    if not x.voi:
        return LESS, ["the advanced-imaging tests radnec knows have been done already"]
    ranked = sorted(x.voi, key=lambda v: -v.expected_abs_change)
    lines = [
        f"{v.label}: {v.posterior_if_positive:.2f} if tumour-like (chance {v.p_positive:.2f}), "
        f"{v.posterior_if_negative:.2f} if necrosis-like"
        for v in ranked[:3]
    ]
    decisive = [v for v in x.voi if v.could_change_band]
    if decisive:
        return RECOMMENDED, ["a non-invasive result could move the probability across a decision threshold:", *lines]
    return REASONABLE, ["no single test would cross a decision threshold, but each narrows the estimate:", *lines]


def options(case: ClinicalCase | None, evidence, *, knowledge: KnowledgeBase | None = None) -> list[ManagementOption]:  # noqa: ANN001
    """Management options for one lesion.

    Parameters
    ----------
    case
        The clinical case (symptoms, steroids, KPS, resectability, ...); None = unknown context.
    evidence
        The :class:`radnec.evidence.bayes.EvidenceResult` of the same lesion.

    Returns
    -------
    list of ManagementOption
        All options of the knowledge base, in its order, each with fit, rationale and citations.
    """
    kb = knowledge or load_knowledge()
    x = _Context(case, evidence, kb)
    fits: dict[str, tuple[Fit, list[str]]] = {
        "observation": _observation(x),
        "steroids": _steroids(x),
        "bevacizumab": _bevacizumab(x),
        "litt": _litt(x, kb),
        "resection": _resection(x, kb),
        "re_srs": _re_srs(x),
        "wbrt": _wbrt(x),
        "advanced_imaging": _advanced_imaging(x),
    }
    fits["biopsy"] = _biopsy(x, fits["resection"][0])
    out = []
    for spec in kb.options:
        fit, why = fits.get(spec.id, (REASONABLE, ["no radnec rule for this option; discuss"]))
        out.append(
            ManagementOption(
                id=spec.id, label=spec.label, fit=fit, rationale=why, evidence=spec.notes, citations=kb.cite(spec.sources)
            )
        )
    return out


def assessment(case: ClinicalCase | None, observations=(), *, draws: int = 20000, seed: int = 0) -> dict:  # noqa: ANN001
    """Evidence block + options + disclaimer as one JSON-ready dict (what ``radnec assess --json`` prints)."""
    from radnec import DISCLAIMER, __version__
    from radnec.evidence.bayes import assess

    ev = assess(case, observations, draws=draws, seed=seed)
    return {
        "radnec_version": __version__,
        "case_label": case.label if case is not None else None,
        "evidence": ev.model_dump(mode="json"),
        "options": [o.model_dump(mode="json") for o in options(case, ev)],
        "disclaimer": DISCLAIMER,
    }


__all__ = ["options", "assessment", "ManagementOption"]
