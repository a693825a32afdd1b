"""The seed case of the thread, the CLI, value of information and options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from radnec import DISCLAIMER
from radnec.cli import main
from radnec.evidence.bayes import assess
from radnec.evidence.case import load_case, parse_case
from radnec.evidence.model import load_knowledge
from radnec.evidence.observations import Observation
from radnec.evidence.options import options

SEED = Path(__file__).resolve().parents[2] / "examples" / "seed_case.yaml"


@pytest.fixture(scope="module")
def seed():
    case = load_case(SEED)
    return case, assess(case)


def test_seed_case_probability_and_wide_interval(seed):
    _, ev = seed
    lo, hi = ev.interval95
    assert 0.03 < ev.posterior_tp < 0.5
    assert hi - lo > 0.25, "an equivocal clinical-only case must show a wide interval"
    assert ev.prior_range == (0.30, 0.60)
    narloch = next(i for i in ev.items if i.id == "timing_narloch")
    assert narloch.result == "−" and narloch.log_lr < 0


def test_seed_case_lists_tissue_and_imaging_with_their_value(seed):
    case, ev = seed
    opts = {o.id: o for o in options(case, ev)}
    assert opts["advanced_imaging"].fit == "recommended to discuss"
    assert any("if tumour-like" in r for r in opts["advanced_imaging"].rationale)
    assert opts["biopsy"].fit in ("recommended to discuss", "reasonable")
    assert any("necrosis only" in r for r in opts["biopsy"].rationale)
    assert opts["steroids"].fit == "recommended to discuss"  # symptomatic
    assert opts["observation"].fit == "less suitable"  # worse on taper
    assert opts["re_srs"].fit == "less suitable"
    assert {v.test for v in ev.value_of_information} >= {"dsc", "amino_acid_pet", "fdg_pet", "mrs", "dwi"}
    assert ev.next_best_test is not None
    lo, hi = ev.biopsy.posterior_if_necrosis_only
    assert 0 < lo < hi < ev.posterior_tp


def test_voi_is_coherent_and_matches_sens_spec(seed):
    _, ev = seed
    kb = load_knowledge()
    p = ev.posterior_tp
    for v in ev.value_of_information:
        expected = v.p_positive * v.posterior_if_positive + (1 - v.p_positive) * v.posterior_if_negative
        assert expected == pytest.approx(p, abs=1e-9)
        assert v.posterior_if_negative < p < v.posterior_if_positive
    dsc = next(v for v in ev.value_of_information if v.test == "dsc")
    item = kb.item("dsc_reading_meta")
    sens, spec = item.accuracy.sens_spec()
    assert dsc.p_positive == pytest.approx(p * sens + (1 - p) * (1 - spec), rel=1e-9)


def test_done_tests_leave_the_voi_list():
    case = parse_case({"srs": {"days_since": 200}, "tests_done": [{"name": "dsc_rcbv_mean", "value": 2.5}]})
    ev = assess(case)
    assert "dsc" not in {v.test for v in ev.value_of_information}
    assert ev.posterior_tp > assess(parse_case({"srs": {"days_since": 200}})).posterior_tp


def test_options_follow_the_context():
    kb = load_knowledge()
    quiet = parse_case({"srs": {"days_since": 400}, "symptoms": "none", "lesion": {"diameter_now_mm": 12}})
    ev = assess(quiet, [Observation(name="pet_tracer", value="FET", source="t"), Observation(name="pet_tbr_mean", value=1.6, source="t")])
    fits = {o.id: o.fit for o in options(quiet, ev)}
    assert ev.band == "leans necrosis"
    assert fits["observation"] == "recommended to discuss" and fits["re_srs"] == "less suitable"
    assert fits["bevacizumab"] == "less suitable"

    tumour = parse_case(
        {
            "srs": {"days_since": 120, "fractions": 1, "prescription_gy": 14},
            "symptoms": "moderate",
            "kps": 90,
            "lesion": {"diameter_now_mm": 34, "resectable": "yes", "mass_effect": True, "pattern": "marginal"},
            "tests_done": [{"name": "dsc_psr_pct", "value": 55.0}, {"name": "pet_tracer", "value": "FET"}, {"name": "pet_reading", "value": "tumour-like"}],
        }
    )
    ev = assess(tumour)
    fits = {o.id: o.fit for o in options(tumour, ev)}
    assert ev.band == "leans progression"
    assert fits["resection"] == "recommended to discuss" and fits["biopsy"] == "less suitable"
    assert fits["re_srs"] == "recommended to discuss" and fits["litt"] == "less suitable"
    assert all(o.citations for o in options(tumour, ev, knowledge=kb))


def test_cli_json_and_rich(capsys):
    assert main(["assess", str(SEED), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ev = out["evidence"]
    for key in ("prior_tp", "posterior_tp", "interval95", "items", "next_best_test", "value_of_information", "warnings", "caveats"):
        assert key in ev
    item = ev["items"][0]
    for key in ("id", "label", "family", "population", "value", "result", "lr", "log_lr", "used", "citation", "warnings"):
        assert key in item
    assert out["disclaimer"] == DISCLAIMER and len(out["options"]) == 9
    assert main(["assess", str(SEED)]) == 0
    text = capsys.readouterr().out
    assert "posterior" in text and "not a diagnosis" in text.lower() or "does not diagnose" in text


def test_assessment_without_a_case_file():
    from radnec.evidence.options import assessment

    out = assessment(None, [Observation(name="days_since_srs", value=100, unit="d", source="images: study dates")], draws=2000)
    assert out["case_label"] is None and len(out["options"]) == 9
    assert out["evidence"]["posterior_tp"] > out["evidence"]["prior_tp"]
    assert any("no measured imaging test" in w for w in out["evidence"]["warnings"])


def test_seed_case_accounts_for_every_cue_of_the_thread(seed, capsys):
    """Issue 18: every fact of the thread is in the example; each cue is used (LR + source) or listed as
    considered-not-used (with the reason); leave-one-out; the board's 1:3 (= 0.75) beside the engine's."""
    case, ev = seed
    assert case.lesion.enhancement_pattern == "nodular" and case.primary_histology == "nsclc"
    assert case.srs.fractions == 1 and case.srs.days_since == 487 and case.lesion.pattern == "in-field"
    (a, b) = case.lesion.history
    assert (a.longest_diameter_mm, b.longest_diameter_mm, b.days_since_srs - a.days_since_srs) == (15, 35, 42)
    assert case.steroids.response == "improved" and case.steroids.worsened_on_taper
    rows = {r.observation: r for r in ev.items}
    cues = ("days_since_srs", "enhancement_pattern", "volume_doubling_time_days", "steroid_course", "primary_histology", "srs_fractions", "pattern")
    for cue in cues:
        r = rows[cue]
        if r.used:
            assert r.lr is not None and r.citation, cue
        else:
            assert r.reason, cue
    assert rows["enhancement_pattern"].used and rows["enhancement_pattern"].grade == "expert-opinion"
    assert not rows["volume_doubling_time_days"].used and "Ocana-Tienda" in rows["volume_doubling_time_days"].reason
    assert rows["volume_doubling_time_days"].value == round(42 * 0.6931471805599453 / (3 * 0.8472978603872037), 1)
    assert not rows["steroid_course"].used and "respond" in rows["steroid_course"].reason
    # leave-one-out: the timing item from 35 lesions with a post-hoc cut-off is flagged
    timing = next(lo for lo in ev.leave_one_out if lo.item == "timing_narloch")
    assert timing.fragile and timing.posterior_without > ev.posterior_tp
    assert any(w.startswith("FRAGILE") for w in ev.warnings)
    assert ev.interval95_cutoff[1] > ev.interval95[1]
    # the thread's estimate: necrosis : progression = 1 : 3 -> 0.75, beside the engine's
    est = ev.clinician_estimate
    assert est.p_progression == 0.75 and "1 : 3" in est.wording and est.engine_posterior == ev.posterior_tp
    assert main(["assess", str(SEED)]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "tumour board's estimate 75 %" in text and f"engine {100 * ev.posterior_tp:.0f} %" in text
    assert "Considered, not used" in text and "Leave one out" in text and "Cues used" in text
    assert main(["assess", str(SEED), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["evidence"]
    assert out["clinician_estimate"]["p_progression"] == 0.75 and out["leave_one_out"] and out["mixed"]
