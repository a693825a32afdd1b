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
