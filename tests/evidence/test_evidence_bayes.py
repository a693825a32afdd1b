"""Bayes arithmetic is exact, enumerated from the knowledge base itself."""

from __future__ import annotations

import math

import pytest
from evidence_helpers import triggering_observations

from radnec.errors import EvidenceError
from radnec.evidence.bayes import assess, family_weights, point_lr
from radnec.evidence.model import load_knowledge
from radnec.evidence.observations import Observation

KB = load_knowledge()
COUNT_ITEMS = [i for i in KB.items if i.accuracy is not None and i.accuracy.counts is not None]


def test_there_are_count_items_including_narloch_and_barajas():
    ids = {i.id for i in COUNT_ITEMS}
    assert {"timing_narloch", "dsc_rcbv_mean_barajas"} <= ids


@pytest.mark.parametrize("item", COUNT_ITEMS, ids=lambda i: i.id)
@pytest.mark.parametrize("result", ["+", "−"])
def test_single_test_posterior_equals_ppv_npv_at_study_prevalence(item, result):
    c = item.accuracy.counts
    prevalence = (c.tp + c.fn) / (c.tp + c.fn + c.tn + c.fp)
    # published predictive values straight from the 2x2 table
    expected = c.tp / (c.tp + c.fp) if result == "+" else c.fn / (c.fn + c.tn)
    res = assess(None, triggering_observations(item, result), prior_tp=prevalence, draws=2000)
    row = next(r for r in res.items if r.id == item.id)
    assert row.result == result and row.used
    raw = point_lr(item, result)
    lo, hi = KB.convention("lr_cap_min"), KB.convention("lr_cap_max")
    if lo <= raw <= hi:
        assert res.posterior_tp == pytest.approx(expected, rel=1e-12, abs=1e-12)
    else:  # 100 % sens/spec in a small study: the LR is capped and says so
        assert any("capped" in w for w in row.warnings)
        odds = prevalence / (1 - prevalence) * row.lr
        assert res.posterior_tp == pytest.approx(odds / (1 + odds))
        assert abs(res.posterior_tp - 0.5) < abs(expected - 0.5)


def test_narloch_timing_split_numbers():
    # 10/19 progression when biopsied <= 9 months, 1/16 after (Narloch 2017)
    item = KB.item("timing_narloch")
    early = assess(None, [Observation(name="days_since_srs", value=200.0, source="t")], prior_tp=11 / 35)
    late = assess(None, [Observation(name="days_since_srs", value=400.0, source="t")], prior_tp=11 / 35)
    assert early.posterior_tp == pytest.approx(10 / 19)
    assert late.posterior_tp == pytest.approx(1 / 16)
    assert point_lr(item, "−") == pytest.approx((1 / 11) / (15 / 24))


def test_borderline_timing_shows_the_other_side_of_the_cliff():
    item = KB.item("timing_narloch")
    near = assess(None, [Observation(name="days_since_srs", value=280.0, source="t")])
    far = assess(None, [Observation(name="days_since_srs", value=487.0, source="t")])
    row = next(r for r in near.items if r.id == "timing_narloch")
    (warning,) = [w for w in row.warnings if w.startswith("BORDERLINE")]
    assert f"{point_lr(item, '+'):.3g}" in warning  # 280 d is '> 9 months': shows the '<= 9 months' LR 2.42
    assert row.lr == pytest.approx(point_lr(item, "−"))  # the posterior itself is computed as published
    far_row = next(r for r in far.items if r.id == "timing_narloch")
    assert not any(w.startswith("BORDERLINE") for w in far_row.warnings)


def test_reported_meta_analysis_lrs_are_used():
    item = KB.item("aa_pet_reading_schlurmann")
    res = assess(None, triggering_observations(item, "+"), prior_tp=0.5)
    assert res.posterior_tp == pytest.approx(3.8 / 4.8)


def test_family_weights_keep_strongest_and_shrink_concordant():
    w = family_weights([("a", "perfusion", 1.0), ("b", "perfusion", 2.0), ("c", "perfusion", -0.5), ("d", "pet", 1.0)], 0.5)
    assert w["b"][0] == 1.0 and w["a"][0] == 0.5 and w["c"][0] == 1.0 and w["d"][0] == 1.0
    assert "'b'" in w["a"][1]


def test_two_perfusion_results_are_shrunk_and_reported():
    obs = [
        Observation(name="dsc_rcbv_mean", value=2.4, source="perfusion:DSC"),
        Observation(name="dsc_psr_pct", value=60.0, source="perfusion:DSC"),
    ]
    res = assess(None, obs)
    rows = {r.id: r for r in res.items}
    assert rows["dsc_psr_barajas"].weight == 1.0
    assert rows["dsc_rcbv_mean_barajas"].weight == 0.5 and "shrunk" in rows["dsc_rcbv_mean_barajas"].reason
    independent = 1 / (1 + (0.6 / 0.4) / (rows["dsc_psr_barajas"].lr * rows["dsc_rcbv_mean_barajas"].lr))
    assert res.posterior_tp < independent


def test_informational_and_unknown_observations_are_not_used():
    obs = [
        Observation(name="pet_suv_max", value=7.0, source="pet"),
        Observation(name="pet_tbr_max", value=3.0, source="pet"),  # tracer unknown → not applicable
        Observation(name="made_up", value=1.0, source="pet"),
    ]
    res = assess(None, obs)
    rows = {r.observation: r for r in res.items}
    assert not rows["pet_suv_max"].used and "informational" in rows["pet_suv_max"].reason
    assert not rows["pet_tbr_max"].used and "pet_tracer" in rows["pet_tbr_max"].reason
    assert res.posterior_tp == pytest.approx(res.prior_tp)
    assert any("made_up" in w for w in res.warnings)


def test_glioma_and_expert_warnings_are_visible():
    res = assess(
        None,
        [
            Observation(name="mrs_reading", value="tumour-like", source="mrs"),
            Observation(name="growth_symmetry", value="symmetric", source="dose"),
        ],
    )
    assert any("glioma-derived" in w for w in res.warnings)
    assert any("EXPERT OPINION" in w for w in res.warnings)
    assert any("64 %" in c for c in res.caveats)


def test_bad_observations_raise_clear_errors():
    with pytest.raises(EvidenceError, match="dsc_rcbv_max.*needs a number"):
        assess(None, [Observation(name="dsc_rcbv_max", value="high", source="perfusion:DSC")])
    with pytest.raises(EvidenceError, match="pattern.*must be one of"):
        assess(None, [Observation(name="pattern", value="inside", source="dose")])
    with pytest.raises(EvidenceError, match="given twice"):
        assess(
            None,
            [
                Observation(name="dsc_rcbv_max", value=2.0, source="a"),
                Observation(name="dsc_rcbv_max", value=3.0, source="b"),
            ],
        )
    with pytest.raises(EvidenceError, match="draws"):
        assess(None, [], draws=10)


def test_deterministic_and_seed_sensitive():
    obs = [Observation(name="days_since_srs", value=120.0, source="t"), Observation(name="dsc_reading", value="tumour-like", source="t")]
    a, b, c = assess(None, obs, seed=1), assess(None, obs, seed=1), assess(None, obs, seed=2)
    assert a.model_dump() == b.model_dump()
    assert a.interval95_mc != c.interval95_mc
    assert math.isclose(a.posterior_tp, c.posterior_tp)


def test_producer_style_units_and_unknown_tracer_are_accepted():
    obs = [
        Observation(name="dsc_rcbv_mean", value=1.9, unit="ratio (lesion CBV / contralateral white-matter CBV)", source="perfusion:DSC"),
        Observation(name="pet_tracer", value="unknown", source="radnec.imaging.pet"),
        Observation(name="pet_tbr_max", value=2.6, unit="1", source="radnec.imaging.pet"),
        Observation(name="mrs_lipid_lactate", value=0.8, unit="ratio (lipid-lactate 1.3 ppm area / creatine area)", source="mrs"),
        Observation(name="longest_diameter_mm", value=22.0, unit="cm", source="morphology"),
    ]
    res = assess(None, obs)
    unit_warnings = [w for w in res.warnings if "unit" in w]
    assert len(unit_warnings) == 1 and "longest_diameter_mm" in unit_warnings[0]
    rows = {r.observation: r for r in res.items}
    assert rows["dsc_rcbv_mean"].used and not rows["pet_tbr_max"].used


def test_influence_lists_the_driving_observation():
    res = assess(None, [Observation(name="days_since_srs", value=500.0, source="t")])
    assert res.influence[0].observation == "days_since_srs"
    assert res.influence[0].posterior_without == pytest.approx(res.prior_tp)
