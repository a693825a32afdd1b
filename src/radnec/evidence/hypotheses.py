"""Dose-aware hypotheses: can this lesion be radiation necrosis at all?

Radiation necrosis needs dose. The lesion's maximum planned dose from this course (``lesion_dmax_gy``,
and for a part outside the dose grid the upper bound ``lesion_dmax_bound_gy`` = the highest dose on the
grid boundary) is compared with the necrosis threshold of ``knowledge/hypotheses.yaml``: 10 Gy in one
fraction (the lowest isodose level the cited literature ties to necrosis, Minniti 2011 / HyTEC), the same
EQD2 (α/β = 2 Gy, expert opinion) for a fractionated course. Earlier courses listed in the clinical file
(prior WBRT, an earlier SRS to the same site, ``prior_courses``) add their EQD2 when their dose is
known; a course that covered (or may have covered) the lesion with an unknown dose keeps necrosis
possible.

Below the threshold, the hypothesis space becomes *new or distant tumour vs another cause* with an
expert-opinion prior P(tumour) = 0.95 (0.90–0.98); the items that weigh necrosis against progression at
an irradiated site no longer apply (:mod:`radnec.evidence.engine`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from radnec.evidence.case import ClinicalCase
from radnec.evidence.model import KnowledgeBase, Prior
from radnec.evidence.observations import Observation
from radnec.evidence.result import SPACE_OTHER, SPACE_RN, HypothesisSpace


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NecrosisThreshold(_Strict):
    single_fraction_gy: float = Field(gt=0)
    population: Literal["mets", "glioma", "mixed", "other"]
    grade: Literal["measured", "derived", "expert-opinion"]
    basis: str
    sources: list[str] = Field(min_length=1)


class AlphaBeta(_Strict):
    value: float = Field(gt=0)
    population: Literal["mets", "glioma", "mixed", "other"]
    grade: Literal["measured", "derived", "expert-opinion"]
    basis: str


class AnyViableTumour(_Strict):
    tumour: int = Field(ge=0)
    total: int = Field(gt=0)
    population: Literal["mets", "glioma", "mixed", "other"]
    grade: Literal["measured", "derived", "expert-opinion"]
    basis: str
    sources: list[str] = Field(min_length=1)

    @property
    def proportion(self) -> float:
        return self.tumour / self.total


class HypothesesKnowledge(_Strict):
    """``knowledge/hypotheses.yaml``."""

    schema_version: Literal[1] = 1
    necrosis_threshold: NecrosisThreshold
    alpha_beta_gy: AlphaBeta
    tumour_vs_other_prior: Prior
    any_viable_tumour: AnyViableTumour

    def check_sources(self, kb: KnowledgeBase) -> None:
        """Every source id must exist in the knowledge base (raises EvidenceError naming the id)."""
        from radnec.errors import EvidenceError

        ids = [*self.necrosis_threshold.sources, *self.tumour_vs_other_prior.sources, *self.any_viable_tumour.sources]
        unknown = [s for s in ids if s not in kb.sources]
        if unknown:
            raise EvidenceError(f"knowledge/hypotheses.yaml cites unknown source(s) {unknown}")


@functools.lru_cache(maxsize=1)
def load_hypotheses() -> HypothesesKnowledge:
    """The packaged ``knowledge/hypotheses.yaml``, validated (cached)."""
    from radnec.datafiles import load_yaml

    return load_yaml("radnec.evidence", "knowledge/hypotheses.yaml", HypothesesKnowledge)


def _gy(dose_gy: float) -> str:
    return f"{dose_gy:.1f}" if abs(dose_gy) >= 1.0 else f"{dose_gy:.2g}"


def eqd2_gy(total_gy: float, fractions: int, alpha_beta_gy: float) -> float:
    """Equivalent dose in 2-Gy fractions (Gy) of ``total_gy`` given in ``fractions`` fractions."""
    d = total_gy / fractions
    return total_gy * (d + alpha_beta_gy) / (2.0 + alpha_beta_gy)


def total_for_eqd2_gy(eqd2: float, fractions: int, alpha_beta_gy: float) -> float:
    """Total dose (Gy) in ``fractions`` fractions whose EQD2 is ``eqd2`` (inverse of :func:`eqd2_gy`)."""
    ab = alpha_beta_gy
    d = (-ab + math.sqrt(ab * ab + 4.0 * eqd2 * (2.0 + ab) / fractions)) / 2.0
    return d * fractions


def _courses(case: ClinicalCase | None, obs: Mapping[str, Observation]) -> list[tuple[str, float | None, bool | None]]:
    """Earlier radiation courses: (label, EQD2-ready (total, fractions) → computed later, covers lesion)."""
    out: list[tuple[str, float | None, bool | None]] = []
    listed = list(case.prior_courses) if case is not None else []
    has_wbrt = any(c.kind == "wbrt" for c in listed)
    if obs.get("prior_wbrt") is not None and obs["prior_wbrt"].value is True and not has_wbrt:
        out.append(("prior WBRT (dose not given)", None, True))
    if obs.get("repeat_srs") is not None and obs["repeat_srs"].value is True and not any(c.kind in ("srs", "fsrt") for c in listed):
        out.append(("an earlier SRS to this lesion (dose not given)", None, True))
    for c in listed:
        covers = True if c.kind == "wbrt" else c.covers_lesion
        label = c.describe()
        out.append((label, c.eqd2_ready(), covers))  # type: ignore[arg-type]
    return out


def _lesion_dose(obs: Mapping[str, Observation]) -> tuple[float | None, bool]:
    """(maximum dose of this course in the lesion, whether it is an upper bound from the grid edge)."""
    dmax = obs.get("lesion_dmax_gy")
    bound = obs.get("lesion_dmax_bound_gy")
    d = float(dmax.value) if dmax is not None else None
    b = float(bound.value) if bound is not None else None
    if b is not None and (d is None or b >= d):
        return b, True
    return d, False


def hypothesis_space(
    obs: Mapping[str, Observation], case: ClinicalCase | None, *, kb: KnowledgeBase, hk: HypothesesKnowledge | None = None
) -> HypothesisSpace:
    """Decide whether radiation necrosis is possible for this lesion, and say why.

    Parameters
    ----------
    obs
        Merged observations (``lesion_dmax_gy``, ``lesion_dmax_bound_gy`` in Gy; ``srs_fractions``;
        ``prior_wbrt``, ``repeat_srs``; ``pattern``).
    case
        Clinical case (its ``prior_courses``), or None.
    kb, hk
        Knowledge base (citations) and the hypotheses file (default: packaged).

    Returns
    -------
    HypothesisSpace
        ``necrosis_excluded`` with the printed reason, the lesion dose ("≤ X Gy" or "< X Gy") and the
        threshold for this fractionation.
    """
    hk = hk or load_hypotheses()
    hk.check_sources(kb)
    ab = hk.alpha_beta_gy.value
    thr1 = hk.necrosis_threshold.single_fraction_gy
    thr_eqd2 = eqd2_gy(thr1, 1, ab)
    n_obs = obs.get("srs_fractions")
    n = int(n_obs.value) if n_obs is not None and not isinstance(n_obs.value, (bool, str)) and n_obs.value >= 1 else 1
    thr_n = total_for_eqd2_gy(thr_eqd2, n, ab)
    cite = kb.cite(hk.necrosis_threshold.sources)
    d, is_bound = _lesion_dose(obs)
    common = dict(fractions=n, threshold_gy=round(thr_n, 2), threshold_eqd2_gy=round(thr_eqd2, 2), citation=cite)
    if d is None:
        return HypothesisSpace(
            space=SPACE_RN,
            necrosis_excluded=False,
            reason="the lesion's dose from this course is not known (no dose grid or lesion dose given): radiation "
            "necrosis cannot be excluded by dose",
            **common,
        )
    shown = f"{'<' if is_bound else '≤'} {_gy(d)} Gy"
    e_this = eqd2_gy(d, n, ab)
    counted = [f"this course: {shown} in {n} fraction{'s' if n > 1 else ''} (EQD2 {'<' if is_bound else '≤'} {_gy(e_this)} Gy)"]
    e_total = e_this
    blockers = []
    for label, total_fx, covers in _courses(case, obs):
        if covers is False:
            counted.append(f"{label}: did not cover the lesion")
            continue
        if total_fx is None:
            blockers.append(label if covers else f"{label}, which may have covered the lesion")
            counted.append(f"{label}: dose to the lesion unknown")
            continue
        total, fx = total_fx
        e = eqd2_gy(total, fx, ab)
        if covers is None:
            blockers.append(f"{label}, which may have covered the lesion")
        e_total += e
        counted.append(f"{label}: EQD2 {e:.1f} Gy")
    base = dict(lesion_dose=shown, lesion_dmax_gy=round(d, 3), dose_is_upper_bound=is_bound, lesion_eqd2_gy=round(e_total, 2), courses=counted, **common)
    pattern = obs.get("pattern")
    where = "out of field: " if pattern is None or pattern.value == "out-of-field" else "low dose: "
    if blockers:
        return HypothesisSpace(
            space=SPACE_RN,
            necrosis_excluded=False,
            reason=f"the lesion received {shown} from this course, but radiation necrosis stays possible because of "
            + "; ".join(blockers),
            **base,
        )
    if e_total < thr_eqd2:
        fx = f"{n} fraction{'s' if n > 1 else ''}"
        return HypothesisSpace(
            space=SPACE_OTHER,
            necrosis_excluded=True,
            reason=f"{where}new or distant tumour, or another cause — radiation necrosis from this course excluded "
            f"because the lesion received {shown} (necrosis threshold {thr_n:.1f} Gy in {fx}, EQD2 {thr_eqd2:.0f} Gy"
            f" with α/β {ab:g} Gy)" + ("" if len(counted) == 1 else "; no other course reached a necrosis-capable dose"),
            **base,
        )
    return HypothesisSpace(
        space=SPACE_RN,
        necrosis_excluded=False,
        reason=f"the lesion received {shown} (EQD2 {e_total:.1f} Gy, all courses), at or above the necrosis threshold "
        f"(EQD2 {thr_eqd2:.0f} Gy): radiation necrosis is possible",
        **base,
    )


__all__ = ["hypothesis_space", "load_hypotheses", "eqd2_gy", "total_for_eqd2_gy", "HypothesesKnowledge"]
