"""One lesion over time: growth curve, % change per month, doubling time, RANO-BM category.

Conventions (``conventions.yaml`` → ``morphology.growth`` and ``rano_bm``):

* time in days since SRS; a month is 30.44 days;
* percent change per month between two time points = (V₂/V₁ − 1) × 100 / Δmonths (linear, on
  the T1c lesion volume; the enhancing volume is reported beside it);
* volume doubling time = Δt · ln 2 / ln(V₂/V₁) (days; None when the volume did not grow);
* RANO-BM category of each follow-up against baseline (first time point) and nadir, on the
  longest diameter of this lesion (:func:`radnec.lesion.rano_bm.rano_bm_categories`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from radnec.errors import InputError
from radnec.lesion.conventions import load_conventions_file
from radnec.lesion.morphology import TimepointMeasures
from radnec.lesion.rano_bm import rano_bm_categories, rano_bm_rules


class Interval(BaseModel):
    """Change between two consecutive time points."""

    from_days: int
    to_days: int
    lesion_volume_change_pct: float | None
    volume_growth_pct_per_month: float | None = Field(description="T1c lesion volume, % per 30.44-day month")
    enhancing_growth_pct_per_month: float | None
    volume_doubling_time_days: float | None
    longest_diameter_change_mm: float


class LesionCourse(BaseModel):
    """A lesion's time points (sorted by days since SRS), intervals and RANO-BM categories."""

    name: str = "lesion"
    timepoints: list[TimepointMeasures]
    intervals: list[Interval]
    rano_bm_category: list[str] = Field(description="'baseline' then CR/PR/SD/PD per follow-up")
    nadir_index: int
    rano_bm_citation: str
    notes: list[str] = Field(default_factory=list)


def _days_per_month() -> float:
    return float(load_conventions_file()["morphology"]["growth"]["days_per_month"])


def pct_per_month(v1: float, v2: float, days: float) -> float | None:
    """Linear percent change per month from ``v1`` to ``v2`` over ``days`` (None if undefined)."""
    if v1 <= 0 or days <= 0:
        return None
    return (v2 / v1 - 1.0) * 100.0 / (days / _days_per_month())


def doubling_time_days(v1: float, v2: float, days: float) -> float | None:
    """Volume doubling time (days) assuming exponential growth; None without growth."""
    if v1 <= 0 or v2 <= v1 or days <= 0:
        return None
    return days * math.log(2.0) / math.log(v2 / v1)


def lesion_course(timepoints: Sequence[TimepointMeasures], *, name: str = "lesion") -> LesionCourse:
    """Assemble a lesion's course from per-time-point measures (each needs ``days_since_srs``)."""
    if not timepoints:
        raise InputError("no time points to follow")
    missing = [i for i, t in enumerate(timepoints) if t.days_since_srs is None]
    if missing:
        raise InputError(f"time point(s) {missing} have no days_since_srs; give a date and the SRS date")
    tps = sorted(timepoints, key=lambda t: t.days_since_srs)  # type: ignore[arg-type, return-value]
    days = [int(t.days_since_srs) for t in tps]  # type: ignore[arg-type]
    if len(set(days)) != len(days):
        raise InputError(f"two time points share the same day since SRS ({days})")
    intervals = []
    for a, b in zip(tps, tps[1:]):
        dt = float(b.days_since_srs - a.days_since_srs)  # type: ignore[operator]
        intervals.append(
            Interval(
                from_days=int(a.days_since_srs),  # type: ignore[arg-type]
                to_days=int(b.days_since_srs),  # type: ignore[arg-type]
                lesion_volume_change_pct=None if a.lesion_cc <= 0 else (b.lesion_cc / a.lesion_cc - 1) * 100,
                volume_growth_pct_per_month=pct_per_month(a.lesion_cc, b.lesion_cc, dt),
                enhancing_growth_pct_per_month=pct_per_month(a.enhancing_cc, b.enhancing_cc, dt),
                volume_doubling_time_days=doubling_time_days(a.lesion_cc, b.lesion_cc, dt),
                longest_diameter_change_mm=b.longest_diameter_mm - a.longest_diameter_mm,
            )
        )
    lds = [t.longest_diameter_mm for t in tps]
    cats = rano_bm_categories(lds, steroid_mg_per_day=[t.steroid_dexamethasone_mg_per_day for t in tps])
    notes = []
    if not tps[0].rano_bm_measurable:
        notes.append(
            "the baseline lesion is not RANO-BM measurable (" + tps[0].measurability + "); the category is indicative only"
        )
    return LesionCourse(
        name=name,
        timepoints=list(tps),
        intervals=intervals,
        rano_bm_category=cats,
        nadir_index=int(min(range(len(lds)), key=lambda i: (lds[i], i))),
        rano_bm_citation=rano_bm_rules()["citation"],
        notes=notes,
    )


def lesion_status(categories: Sequence[str | None], volumes_cc: Sequence[float]) -> tuple[str, str]:
    """Where one lesion stands at its latest study: ``(status, why)``.

    ``"enlarging"`` (RANO-BM PD of this lesion at the latest study), ``"growing"`` (volume up from the
    nadir — the smallest earlier volume, planning study included, RANO-BM's reference — by the
    ``conventions.yaml`` → ``status`` rule but short of PD: a lesion that regrew after its nadir and
    then held its size has not stopped being the lesion in question), ``"responding"`` (PR/CR),
    ``"stable"``, or ``"baseline only"`` with one study. Time points in order, planning study first.

    Examples
    --------
    >>> lesion_status(["baseline", "SD", "PD"], [1.0, 1.1, 2.0])[0]
    'enlarging'
    >>> lesion_status(["baseline", "SD", "SD"], [1.0, 1.0, 1.3])[0]
    'growing'
    >>> lesion_status(["baseline", "PR", "SD", "SD"], [1.7, 0.45, 1.04, 1.03])[0]
    'growing'
    """
    rule = load_conventions_file()["status"]
    cat = categories[-1] if len(categories) > 1 else None
    if len(volumes_cc) < 2:
        return "baseline only", "one study: no change to judge"
    before, last = float(volumes_cc[-2]), float(volumes_cc[-1])
    change = f"{before:.2f} → {last:.2f} cm³"
    if cat == "PD":
        return "enlarging", f"RANO-BM PD at the latest study ({change})"
    nadir_at = int(np.argmin([float(v) for v in volumes_cc[:-1]]))
    nadir = float(volumes_cc[nadir_at])
    if last >= nadir * (1 + rule["growing_volume_increase_fraction"]) and last - nadir >= rule["growing_min_absolute_increase_cc"]:
        since = "the previous study" if nadir_at == len(volumes_cc) - 2 else f"the nadir {nadir:.2f} cm³ (study {nadir_at + 1})"
        return "growing", (f"volume up {100 * (last / nadir - 1):.0f} % since {since} ({change}), short of RANO-BM PD "
                           "(radnec convention)")
    if cat in ("PR", "CR"):
        return "responding", f"RANO-BM {cat} ({change})"
    return "stable", f"RANO-BM {cat or 'n/a'} ({change})"


def observations(course: LesionCourse | TimepointMeasures, *, source: str = "morphology") -> list[Any]:
    """Evidence-engine observations from the latest time point (and the latest interval).

    Returns :class:`radnec.evidence.observations.Observation` objects when that module exists,
    else dicts with the same fields (name, value, unit, source, note).
    """
    if isinstance(course, TimepointMeasures):
        tp, interval, category = course, None, None
    else:
        tp = course.timepoints[-1]
        interval = course.intervals[-1] if course.intervals else None
        category = course.rano_bm_category[-1] if len(course.rano_bm_category) > 1 else None
    src = source + (f":T1c day {tp.days_since_srs}" if tp.days_since_srs is not None else ":T1c")
    items: list[tuple[str, Any, str | None, str | None]] = [
        ("longest_diameter_mm", float(tp.longest_diameter_mm), "mm", tp.measurability),
    ]
    if tp.edema_enhancement_ratio is not None:
        items.append(("edema_enhancement_ratio", float(tp.edema_enhancement_ratio), "1",
            "Leeman 2013 edema/lesion volume ratio: FLAIR edema outside the T1c lesion / whole T1c lesion (enhancing + core)"
            + ("" if tp.edema_to_enhancing_ratio is None else f"; edema / enhancing only = {tp.edema_to_enhancing_ratio:.2f}")))
    if tp.enhancement_pattern is not None:
        items.append(("enhancement_pattern", tp.enhancement_pattern, None, f"necrotic fraction {tp.necrotic_fraction:.2f}"))
    if tp.necrotic_fraction is not None:
        items.append(("necrotic_fraction", float(tp.necrotic_fraction), "1", None))
    if tp.lesion_quotient is not None:
        items.append(("lesion_quotient", float(tp.lesion_quotient), "1", "Stockham 2012 found the lesion quotient uninformative"))
    if interval is not None and interval.volume_growth_pct_per_month is not None:
        items.append(
            ("volume_growth_pct_per_month", float(interval.volume_growth_pct_per_month), "%/month", f"T1c lesion volume, days {interval.from_days}→{interval.to_days}")
        )
    if category is not None:
        items.append(("rano_bm_category", category, None, "imaging-only, one lesion, against nadir/baseline (Lin 2015)"))
    try:
        from radnec.evidence.observations import Observation
    except ImportError:  # pragma: no cover - evidence module absent
        Observation = None  # type: ignore[assignment]  # noqa: N806
    out = []
    for name, value, unit, note in items:
        rec = {"name": name, "value": value, "unit": unit, "source": src, "note": note}
        out.append(Observation(**rec) if Observation is not None else rec)
    return out


__all__ = ["Interval", "LesionCourse", "lesion_course", "lesion_status", "pct_per_month", "doubling_time_days", "observations"]
