"""Dose-aware hypotheses (issue 18): necrosis excluded below the dose threshold, the bound from the
grid edge, earlier courses, pattern-specific reasoning and extrapolation."""

from __future__ import annotations

import math

import pytest

from radnec.cli import main
from radnec.evidence.bayes import assess
from radnec.evidence.case import parse_case
from radnec.evidence.hypotheses import eqd2_gy, load_hypotheses, total_for_eqd2_gy
from radnec.evidence.model import load_knowledge
from radnec.evidence.observations import Observation
from radnec.evidence.result import SPACE_OTHER, SPACE_RN

LATE = {"days_since": 487, "fractions": 1, "prescription_gy": 24}


def _case(lesion: dict, srs: dict | None = None, **extra) -> object:
    return parse_case({"srs": srs or LATE, "lesion": lesion, **extra})


def _rows(ev):
    return {r.id: r for r in ev.items}


def test_below_threshold_necrosis_is_excluded_and_says_why():
    ev = assess(_case({"pattern": "out-of-field", "growth_symmetry": "eccentric", "dmax_bound_gy": 3.4}))
    h = ev.hypotheses
    assert h.necrosis_excluded and h.space == SPACE_OTHER
    assert h.lesion_dose == "< 3.4 Gy" and h.dose_is_upper_bound
    assert "radiation necrosis from this course excluded because the lesion received < 3.4 Gy" in h.reason
    assert h.reason.startswith("out of field: new or distant tumour, or another cause")
    assert ev.posterior_tp >= 0.9 and ev.interval95[0] >= 0.85
    assert any("excluded" in w for w in ev.warnings)
    # the > 9-month timing item no longer pulls it down: listed as not applicable, with the reason
    timing = next(r for r in ev.items if r.observation == "days_since_srs")
    assert not timing.used and "excluded by dose" in timing.reason
    sym = next(r for r in ev.items if r.observation == "growth_symmetry")
    assert not sym.used
    from radnec.evidence.options import options

    fits = {o.id: o for o in options(_case({"pattern": "out-of-field", "dmax_bound_gy": 3.4}), ev)}
    assert fits["bevacizumab"].fit == "less suitable" and "excluded by dose" in fits["bevacizumab"].rationale[0]
    assert fits["re_srs"].fit == "recommended to discuss"


def test_at_or_above_threshold_necrosis_stays_possible():
    ev = assess(_case({"pattern": "marginal", "dmax_gy": 12.0}))
    assert not ev.hypotheses.necrosis_excluded and ev.hypotheses.space == SPACE_RN
    assert "≤ 12.0 Gy" in ev.hypotheses.reason and "possible" in ev.hypotheses.reason


def test_fractionated_threshold_is_the_same_eqd2():
    hk = load_hypotheses()
    ab, thr = hk.alpha_beta_gy.value, hk.necrosis_threshold.single_fraction_gy
    e = eqd2_gy(thr, 1, ab)
    assert e == pytest.approx(thr * (thr + ab) / (2 + ab))
    t3 = total_for_eqd2_gy(e, 3, ab)
    assert eqd2_gy(t3, 3, ab) == pytest.approx(e) and t3 > thr
    below = assess(_case({"dmax_gy": t3 - 0.5}, {"days_since": 200, "fractions": 3}))
    above = assess(_case({"dmax_gy": t3 + 0.5}, {"days_since": 200, "fractions": 3}))
    assert below.hypotheses.necrosis_excluded and not above.hypotheses.necrosis_excluded
    assert below.hypotheses.threshold_gy == pytest.approx(t3, abs=0.01)


def test_prior_wbrt_or_earlier_srs_keep_necrosis_possible():
    wbrt = assess(_case({"pattern": "out-of-field", "dmax_gy": 2.0}, prior_wbrt=True))
    assert not wbrt.hypotheses.necrosis_excluded and "WBRT" in wbrt.hypotheses.reason
    resrs = assess(_case({"dmax_gy": 2.0}, {**LATE, "repeat_srs": True}))
    assert not resrs.hypotheses.necrosis_excluded and "earlier SRS" in resrs.hypotheses.reason
    # an earlier course with a known dose is added in EQD2; one that did not cover the lesion is not
    covered = assess(_case({"dmax_gy": 2.0}, prior_courses=[{"kind": "srs", "total_dose_gy": 20, "fractions": 1, "covers_lesion": True}]))
    assert not covered.hypotheses.necrosis_excluded and covered.hypotheses.lesion_eqd2_gy > 100
    elsewhere = assess(_case({"dmax_gy": 2.0}, prior_courses=[{"kind": "srs", "total_dose_gy": 20, "fractions": 1, "covers_lesion": False}]))
    assert elsewhere.hypotheses.necrosis_excluded
    maybe = assess(_case({"dmax_gy": 2.0}, prior_courses=[{"kind": "fsrt", "total_dose_gy": 30, "fractions": 5}]))
    assert not maybe.hypotheses.necrosis_excluded and "may have covered" in maybe.hypotheses.reason


def test_unknown_dose_is_said_and_keeps_the_question():
    ev = assess(_case({"pattern": "out-of-field"}))
    assert not ev.hypotheses.necrosis_excluded and "not known" in ev.hypotheses.reason
    assert any("lesion's own dose" in m for m in ev.missing_cues)


def test_out_of_field_without_dose_symmetry_not_applicable_and_timing_extrapolated():
    ev = assess(_case({"pattern": "out-of-field", "growth_symmetry": "eccentric"}))
    rows = _rows(ev)
    sym = next(r for r in ev.items if r.observation == "growth_symmetry")
    assert not sym.used and "not applicable to a out-of-field lesion" in sym.reason
    timing = rows["timing_narloch"]
    k = load_knowledge().convention("extrapolation_shrinkage")
    assert timing.extrapolated and timing.weight == pytest.approx(k)
    assert "applied to a out-of-field lesion" in timing.reason
    assert rows["pattern_out_of_field"].lr == pytest.approx(4.0)
    in_field = assess(_case({"pattern": "in-field", "growth_symmetry": "eccentric"}))
    assert ev.posterior_tp > in_field.posterior_tp


def test_marginal_nodule_timing_is_extrapolated_and_shrunk_visibly():
    ev = assess(_case({"pattern": "marginal", "growth_symmetry": "eccentric"}))
    timing = _rows(ev)["timing_narloch"]
    k = load_knowledge().convention("extrapolation_shrinkage")
    assert timing.extrapolated and timing.contribution == pytest.approx(k * math.log(timing.lr))
    assert any(w.startswith("timing_narloch: EXTRAPOLATED") for w in ev.warnings)
    in_field = assess(_case({"pattern": "in-field", "growth_symmetry": "eccentric"}))
    assert not _rows(in_field)["timing_narloch"].extrapolated
    assert ev.posterior_tp > in_field.posterior_tp


def test_every_item_declares_its_situation_and_out_of_field_lr_covers_the_losses():
    """Structural guarantee behind the out-of-field ≥ in-field property: the out-of-field LR outweighs
    what extrapolation (and symmetry becoming not applicable) can take away from the same lesion in-field."""
    from radnec.evidence.engine import point_lr

    kb = load_knowledge()
    k = kb.convention("extrapolation_shrinkage")
    per_observation: dict[str, float] = {}  # items on one observation give one result: keep the largest loss
    for item in kb.items:
        assert item.situation.setting and item.situation.patterns
        if "out-of-field" in item.situation.patterns:
            continue
        lr = max(1.0, *(min(point_lr(item, r), kb.convention("lr_cap_max")) for r in ("+", "−")))
        loss = lr if item.situation.outside == "not-applicable" else lr ** (1 - k)
        per_observation[item.observation] = max(per_observation.get(item.observation, 1.0), loss)
    # fractionated_srs (fractions >= 2) and low_single_fraction_dose (fractions == 1) exclude each other
    exclusive = max(per_observation.pop("srs_fractions", 1.0), per_observation.pop("srs_prescription_gy", 1.0))
    total = math.prod(per_observation.values()) * exclusive
    assert kb.item("pattern_out_of_field").lr_positive.point > total > 1.0


def test_cli_prints_the_exclusion(tmp_path, capsys):
    f = tmp_path / "oof.yaml"
    f.write_text("srs: {days_since: 487, fractions: 1}\nlesion: {pattern: out-of-field, dmax_bound_gy: 3.4}\n")
    assert main(["assess", str(f)]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "radiation necrosis from this course excluded because the lesion received < 3.4 Gy" in text
    assert "new or distant tumour vs another cause" in text


def test_observation_dose_overrides_and_producer_style():
    ev = assess(None, [Observation(name="lesion_dmax_gy", value=0.4, unit="Gy", source="dose side"),
                       Observation(name="pattern", value="out-of-field", source="dose side")])
    assert ev.hypotheses.necrosis_excluded and ev.hypotheses.lesion_dose == "≤ 0.4 Gy"
    assert ev.posterior_tp >= 0.9
