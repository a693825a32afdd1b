"""`radnec analyze` on the phantom 'distant' scenario: a new lesion far outside the field (issue 18)."""

from __future__ import annotations

import json
import re

import pytest

from radnec import cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def distant(tmp_path_factory):
    from radnec.phantom.generate import generate_case

    root = tmp_path_factory.mktemp("distant")
    case = root / "distant-0"
    truth = generate_case("distant", 0, case, months=[3, 16], voxel_mm=2.0)
    seed = truth["timepoints"][-1]["pattern_measures"]["new_enhancing_centroid_lps"]
    out = root / "out"
    assert cli.main(["analyze", str(case), "--out", str(out), "--lesion-seed", ",".join(f"{v:.1f}" for v in seed)]) == 0
    return truth, out


def test_distant_lesion_necrosis_excluded_in_the_analysis(distant):
    truth, out = distant
    (lesion,) = json.loads((out / "analysis.json").read_text())["lesions"]
    assert lesion["pattern"] == truth["pattern"] == "out-of-field"
    assert lesion["growth_symmetry"] == "not applicable"
    bound = lesion["dose_bound"]
    assert bound["shown"].startswith("< ") and bound["dmax_upper_bound_gy"] < 10.0
    ev = lesion["evidence"]
    assert ev["hypotheses"]["necrosis_excluded"] and ev["hypotheses"]["space"] == "new or distant tumour vs another cause"
    assert ev["posterior_tp"] >= 0.9
    assert "radiation necrosis from this course excluded because the lesion received < " in ev["hypotheses"]["reason"]
    timing = next(i for i in ev["items"] if i["observation"] == "days_since_srs")
    assert not timing["used"] and "excluded by dose" in timing["reason"]


def test_distant_lesion_report_says_so(distant):
    _, out = distant
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", (out / "report.html").read_text())).replace("&lt;", "<")
    assert "radiation necrosis from this course excluded because the lesion received < " in text
    assert "Dose outside the dose grid: < " in text
    assert "new or distant tumour vs another cause" in text
