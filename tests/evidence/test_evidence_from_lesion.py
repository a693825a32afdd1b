"""A lesion's analysis results → observations (evidence.from_lesion), and the out-of-field lesion in the
JSON contract and the HTML report (issue 18)."""

from __future__ import annotations

import re

from radnec.case import Analysis, CoveragePct, DoseBound, Lesion, LesionDose, PlanSummary, Timepoint
from radnec.evidence.case import parse_case
from radnec.evidence.from_lesion import lesion_observations
from radnec.evidence.options import assessment

PLAN = PlanSummary(prescription_gy=24.0, fractions=1, v12_cc=4.3)


def _tp(days: int, cc: float, ld: float) -> Timepoint:
    return Timepoint(date=None, days_since_srs=days, enhancing_cc=cc, longest_diameter_mm=ld, enhancement_pattern="solid")


def _distant() -> Lesion:
    return Lesion(
        name="L2",
        timepoints=[_tp(91, 0.1, 6.0), _tp(487, 1.5, 15.2)],
        growth={"intervals": [{"from_days": 91, "to_days": 487, "volume_doubling_time_days": 100.3}]},
        dose=LesionDose(
            dmin_gy=0.01, dmean_gy=0.012, dmax_gy=0.013, d95_gy=0.01, coverage_pct=CoveragePct(rx100=0, rx80=0, rx50=0),
            details={"dvh": {"dose_gy": [0.0, 0.1], "volume_pct": [100.0, 0.0]},
                     "target": {"prescription_gy": 24.0, "prescription_source": "target PTV"}},
        ),
        dose_bound=DoseBound(dmax_upper_bound_gy=0.9, boundary_max_gy=0.9, outside_fraction=0.83, shown="< 0.9 Gy",
                             basis="83 % of the lesion lies outside the dose grid"),
        pattern="out-of-field",
        growth_symmetry="not applicable",
    )


def test_observations_from_a_distant_lesion():
    obs = {o.name: o for o in lesion_observations(_distant(), PLAN, None)}
    assert obs["days_since_srs"].value == 487 and obs["days_since_srs"].source == "images: study dates"
    assert obs["lesion_dmax_gy"].value == 0.013 and obs["lesion_dmax_bound_gy"].value == 0.9
    assert 0.01 <= obs["lesion_d50_gy"].value <= 0.013  # kept within [Dmin, Dmax]
    assert obs["pattern"].value == "out-of-field" and obs["growth_symmetry"].value == "not applicable"
    assert obs["srs_prescription_gy"].source == "plan (target PTV)" and obs["v12_cc"].value == 4.3
    assert obs["volume_doubling_time_days"].value == 100.3


def test_case_file_facts_win_and_measured_pass_through():
    from radnec.evidence.observations import Observation

    case = parse_case({"srs": {"days_since": 480, "fractions": 1, "prescription_gy": 20}})
    measured = [Observation(name="edema_enhancement_ratio", value=3.0, unit="1", source="morphology")]
    names = [o.name for o in lesion_observations(_distant(), PLAN, case, measured=measured)]
    assert "days_since_srs" not in names and "srs_fractions" not in names and "srs_prescription_gy" not in names
    assert names[0] == "edema_enhancement_ratio"


def test_distant_lesion_assessment_and_report_say_necrosis_is_excluded():
    from radnec.report.html import render_html

    lesion = _distant()
    out = assessment(None, lesion_observations(lesion, PLAN, None), draws=2000)
    ev = out["evidence"]
    assert ev["hypotheses"]["necrosis_excluded"] and ev["posterior_tp"] >= 0.9
    assert "< 0.9 Gy" in ev["hypotheses"]["reason"]
    lesion = lesion.model_copy(update={"evidence": ev, "options": out["options"]})
    analysis = Analysis(plan=PLAN, registration=None, lesions=[lesion])
    assert Analysis.model_validate_json(analysis.model_dump_json()).lesions[0].dose_bound.shown == "< 0.9 Gy"
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", render_html(analysis))).replace("&lt;", "<")
    assert "radiation necrosis from this course excluded because the lesion received < 0.9 Gy" in text
    assert "Dose outside the dose grid: < 0.9 Gy" in text
    assert "new or distant tumour vs another cause" in text
    assert "Growth symmetry relative to the high-dose region not applicable" in text
    assert "Considered, not used" in text and "excluded by dose" in text
