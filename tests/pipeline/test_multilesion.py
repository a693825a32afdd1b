"""Issue 14 end to end on a multi-target phantom: every treated target analysed by default with its own
prescription, the enlarging one flagged, a new distant lesion found, the overview and the series used
in analysis.json, the lesion volume kept on the dose grid, and the seed given on the latest follow-up."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    from radnec.phantom.generate import generate_case
    from radnec.pipeline import analyze

    root = tmp_path_factory.mktemp("multi")
    truth = generate_case("marginal", 3, root / "case", months=[3, 9], voxel_mm=2.0, lesions=3, new_lesion=True)
    analysis = analyze(root / "case" / "dicom", out_dir=root / "out", quiet=True, write_report=False)
    return root, truth, analysis


def test_every_treated_target_is_analysed_with_its_own_prescription(multi):
    _, truth, analysis = multi
    treated = [t for t in truth["lesions"] if t.get("target_gtv_name")]
    rows = {r["lesion"]: r for r in analysis.overview}
    for t in treated:
        assert t["target_gtv_name"] in rows, (t["target_gtv_name"], list(rows))
        row = rows[t["target_gtv_name"]]
        assert row["kind"] == "treated target"
        assert row["prescription_gy"] == pytest.approx(t["prescription_gy"])
    assert [b.name for b in analysis.lesions] == [r["lesion"] for r in analysis.overview]


def test_the_enlarging_lesion_is_flagged_and_the_responding_ones_are_not(multi):
    _, truth, analysis = multi
    rows = {r["lesion"]: r for r in analysis.overview}
    index = next(t for t in truth["lesions"] if t.get("is_index_lesion"))
    assert rows[index["target_gtv_name"]]["flagged"], rows[index["target_gtv_name"]]
    for t in truth["lesions"]:
        if t.get("target_gtv_name") and not t["enlarging"]:
            assert not rows[t["target_gtv_name"]]["flagged"], rows[t["target_gtv_name"]]


def test_the_new_distant_lesion_is_found_out_of_field(multi):
    _, truth, analysis = multi
    new = truth["new_lesion"]
    found = [r for r in analysis.overview if r["kind"].startswith("new")]
    assert found, analysis.warnings
    d = min(float(np.linalg.norm(np.asarray(r["seed_lps"]) - np.asarray(new["centre_lps"]))) for r in found)
    assert d <= 15.0
    best = min(found, key=lambda r: float(np.linalg.norm(np.asarray(r["seed_lps"]) - np.asarray(new["centre_lps"]))))
    assert best["status"] == "new" and best["flagged"] and best["pattern"] == "out-of-field"
    assert best["symmetry"] == "not applicable"


def test_volume_on_the_dose_grid_matches_the_jacobian(multi):
    _, _, analysis = multi
    checked = 0
    for lesion in analysis.lesions:
        if lesion.dose is None:
            continue
        v = lesion.dose.details["volume_mapping"]
        assert v["followup_cc"] > 0 and v["planning_cc"] > 0
        assert v["consistent"], (lesion.name, v)
        checked += 1
    assert checked >= 3


def test_analysis_json_carries_overview_and_series(multi):
    root, _, _ = multi
    data = json.loads((root / "out" / "analysis.json").read_text())
    assert data["schema_version"] == 3
    assert data["overview"] and data["series_used"]
    roles = {(r["study"], r["role"]) for r in data["series_used"]}
    assert ("planning", "T1c") in roles and ("follow-up 2", "T1c") in roles


def test_seed_on_the_latest_follow_up_finds_the_index_lesion(multi):
    from radnec.pipeline import reanalyze_lesion

    root, truth, _ = multi
    index = next(t for t in truth["lesions"] if t.get("is_index_lesion"))
    at = next(x for x in truth["timepoints"][-1]["lesions"] if x["name"] == index["name"])
    a = reanalyze_lesion(root / "out", at["centre_lps"], frame="latest", write_report=False)
    (lesion,) = a.lesions
    assert lesion.kind == "seed"
    assert lesion.dose is not None and lesion.dose.details["target"]["gtv"] == index["target_gtv_name"]
    true_cc = index["volumes"][-1]["t1_lesion_cc"]
    assert lesion.timepoints[-1].details["lesion_cc"] == pytest.approx(true_cc, rel=0.35)
