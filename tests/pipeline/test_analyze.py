"""End-to-end `radnec analyze` on small phantom cases (2 mm voxels, two follow-ups)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from radnec import cli
from radnec.case import Analysis

pytestmark = pytest.mark.slow


CLINICAL = Path(__file__).resolve().parents[2] / "src" / "radnec" / "commands" / "data" / "demo_clinical.yaml"


def _generate(root: Path, scenario: str, seed: int = 0, *, dsc: bool = False) -> tuple[Path, dict]:
    from radnec.phantom.generate import generate_case

    case = root / f"{scenario}-{seed}"
    truth = generate_case(scenario, seed, case, months=[3, 9], voxel_mm=2.0)
    if dsc:
        from radnec.phantom.dsc import add_dsc_to_phantom

        add_dsc_to_phantom(case)
    return case, truth


def _analysis(out: Path) -> dict:
    return json.loads((out / "analysis.json").read_text())


@pytest.fixture(scope="module")
def necrosis(tmp_path_factory):
    root = tmp_path_factory.mktemp("necrosis")
    case, truth = _generate(root, "necrosis")
    out = root / "out"
    assert cli.main(["analyze", str(case), "--out", str(out), "--clinical", str(CLINICAL)]) == 0
    return case, truth, out


@pytest.fixture(scope="module")
def marginal_dsc(tmp_path_factory):
    root = tmp_path_factory.mktemp("marginal")
    case, truth = _generate(root, "marginal", seed=1, dsc=True)
    out = root / "out"
    assert cli.main(["analyze", str(case), "--out", str(out), "--clinical", str(CLINICAL), "--no-report"]) == 0
    return case, truth, out


@pytest.mark.parametrize("which", ["necrosis", "marginal_dsc"])
def test_pattern_and_symmetry_match_truth(which, request):
    _, truth, out = request.getfixturevalue(which)
    (lesion,) = _analysis(out)["lesions"]
    assert lesion["pattern"] == truth["pattern"]
    assert lesion["growth_symmetry"] == truth["growth_symmetry"]


def test_perfusion_flows_into_the_evidence(marginal_dsc, necrosis):
    _, _, out = marginal_dsc
    (lesion,) = _analysis(out)["lesions"]
    assert "dsc" in lesion["imaging"]
    perfusion = [i for i in lesion["evidence"]["items"] if i.get("family") == "perfusion"]
    assert perfusion and all(i["lr"] > 0 for i in perfusion)
    (necrotic,) = _analysis(necrosis[2])["lesions"]
    assert lesion["evidence"]["posterior_tp"] > necrotic["evidence"]["posterior_tp"]


def test_outputs_follow_the_contract(necrosis):
    _, truth, out = necrosis
    data = _analysis(out)
    analysis = Analysis.model_validate(data)  # the versioned contract
    assert analysis.schema_version == 3 and analysis.disclaimer
    (lesion,) = analysis.lesions
    assert [tp.days_since_srs for tp in lesion.timepoints] == [tp["days_since_srs"] for tp in truth["timepoints"]]
    assert lesion.dose is not None and lesion.evidence is not None and lesion.options
    assert 0.0 <= lesion.evidence["posterior_tp"] <= 1.0
    lo, hi = lesion.evidence["interval95"]
    assert lo <= lesion.evidence["posterior_tp"] <= hi
    assert all(len(h) == 64 for h in analysis.provenance["inputs_sha256"].values())
    assert "PHANTOM" not in json.dumps(data), "no patient name or ID in analysis.json"
    html = (out / "report.html").read_text()
    assert "<img" in html and "http://" not in html and "https://" not in html
    assert analysis.disclaimer in html
    assert "Prescription the lesion is judged against" in html and "target PTV; lesion&#39;s GTV: GTV" in html


def test_plan_metrics_match_truth(necrosis):
    _, truth, out = necrosis
    plan = _analysis(out)["plan"]
    t = truth["plan"]
    assert plan["prescription_gy"] == pytest.approx(t["prescription_gy"])
    assert plan["fractions"] == t["fractions"]
    assert plan["technique"] == "gamma-knife"
    assert plan["v12_cc"] == pytest.approx(t["v12_cc"], rel=0.05)
    assert plan["gradient_index"] == pytest.approx(t["gi"], rel=0.05)


def test_days_and_volumes_track_truth(necrosis):
    _, truth, out = necrosis
    (lesion,) = _analysis(out)["lesions"]
    measured = {tp["days_since_srs"]: tp for tp in lesion["timepoints"]}
    for tp in truth["timepoints"][1:]:
        m = measured[tp["days_since_srs"]]
        true_t1 = tp["enhancing_cc"] + tp["necrotic_cc"]
        got_t1 = m["enhancing_cc"] + (m["necrotic_cc"] or 0.0)
        assert got_t1 == pytest.approx(true_t1, rel=0.25), (tp["label"], got_t1, true_t1)
        assert m["edema_cc"] is not None and m["edema_cc"] > m["enhancing_cc"]
    growth = [tp["enhancing_cc"] + (tp["necrotic_cc"] or 0) for tp in lesion["timepoints"]]
    assert growth[-1] > growth[0], "the necrosis phantom enlarges"


def test_analysis_is_deterministic(necrosis, tmp_path):
    case, _, out = necrosis
    again = tmp_path / "again"
    assert cli.main(["analyze", str(case), "--out", str(again), "--no-report", "--clinical", str(CLINICAL)]) == 0
    a, b = _analysis(out), _analysis(again)
    assert "run" not in a and a == b


def test_missing_flair_degrades_with_a_note(necrosis, tmp_path):
    case, _, _ = necrosis
    copy = tmp_path / "case"
    shutil.copytree(case / "dicom", copy)
    for flair in copy.rglob("FLAIR"):
        shutil.rmtree(flair)
    out = tmp_path / "out"
    assert cli.main(["analyze", str(copy), "--out", str(out), "--no-report"]) == 0
    data = _analysis(out)
    assert any("FLAIR" in s for s in data["skipped"])
    assert all(tp["edema_cc"] is None for tp in data["lesions"][0]["timepoints"])


def test_missing_dose_is_a_clear_error(necrosis, tmp_path, capsys):
    case, _, _ = necrosis
    copy = tmp_path / "case"
    shutil.copytree(case / "dicom", copy)
    (copy / "00_planning" / "RTDOSE.dcm").unlink()
    assert cli.main(["analyze", str(copy), "--out", str(tmp_path / "out")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].startswith("radnec: error:") and "RTDOSE" in lines[-1]
    assert "✗ ingest" in lines[-2] and not any("Traceback" in line for line in lines)


def test_not_a_folder_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["analyze", str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_shrinking_lesion_is_flagged(tmp_path):
    case, _ = _generate(tmp_path, "stable")
    out = tmp_path / "out"
    assert cli.main(["analyze", str(case), "--out", str(out), "--no-report"]) == 0
    data = _analysis(out)
    (lesion,) = data["lesions"]
    t1 = [tp["enhancing_cc"] + (tp["necrotic_cc"] or 0) for tp in lesion["timepoints"]]
    assert t1[-1] <= t1[-2]
    assert any("not enlarging" in w for w in data["warnings"])


@pytest.mark.parametrize("args, words", [(["--months", "3,x"], "--months"), (["--scenario", "bogus"], "bogus")])
def test_demo_bad_options_are_clear_errors(tmp_path, capsys, args, words):
    assert cli.main(["demo", "--out", str(tmp_path / "demo"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("radnec: error:") and words in err[-1]


def test_bad_lesion_seed_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["analyze", str(tmp_path), "--out", str(tmp_path / "o"), "--lesion-seed", "1,2"]) == 2
    assert "x,y,z" in capsys.readouterr().err


@pytest.mark.parametrize(
    "description, expected",
    [("AX T1 POST GD", "T1c"), ("T1c", "T1c"), ("MPRAGE+C", "T1c"), ("AX T1 PRE GD", None), ("T1 non-contrast", None),
     ("T1 SE pre-Gd", None), ("T1 DCE", None), ("AX T2 FLAIR", "FLAIR"), ("t2f", "FLAIR")],
)
def test_series_descriptions(description, expected):
    from radnec.discover import classify_series

    assert classify_series(description) == expected


def _set(paths, **values):
    import pydicom

    for path in paths:
        ds = pydicom.dcmread(path)
        for k, v in values.items():
            setattr(ds, k, v)
        ds.save_as(path)


def test_beam_dose_is_refused_not_taken_for_the_plan_dose(necrosis, tmp_path, capsys):
    case, _, _ = necrosis
    copy = tmp_path / "case"
    shutil.copytree(case / "dicom", copy)
    _set([copy / "00_planning" / "RTDOSE.dcm"], DoseSummationType="BEAM")
    assert cli.main(["analyze", str(copy), "--out", str(tmp_path / "out"), "--no-report"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "DoseSummationType is BEAM" in last and "PLAN dose" in last


def test_a_study_before_srs_is_not_a_follow_up(necrosis, tmp_path):
    case, truth, _ = necrosis
    copy = tmp_path / "case"
    shutil.copytree(case / "dicom", copy)
    early = "20000101"
    _set(sorted((copy / "01_fu1").rglob("*.dcm")), StudyDate=early, SeriesDate=early, AcquisitionDate=early)
    out = tmp_path / "out"
    assert cli.main(["analyze", str(copy), "--out", str(out), "--no-report"]) == 0
    data = _analysis(out)
    assert any("2000-01-01" in s and "not after the SRS date" in s for s in data["skipped"])
    days = [tp["days_since_srs"] for tp in data["lesions"][0]["timepoints"]]
    assert days == sorted(days) and len(days) == len(truth["timepoints"]) - 1


def test_multi_target_plan_judges_the_lesion_by_its_own_target(necrosis, tmp_path):
    """A second prescribed target at 30 Gy makes the plan-level prescription 30 Gy; the lesion
    (GTV inside the 24 Gy PTV) must still be judged at 24 Gy, exactly as in the single-target plan."""
    import pydicom
    from pydicom.dataset import Dataset

    case, truth, out = necrosis
    copy = tmp_path / "case"
    shutil.copytree(case / "dicom", copy)
    rp = copy / "00_planning" / "RTPLAN.dcm"
    ds = pydicom.dcmread(rp)
    second = Dataset()
    second.DoseReferenceNumber, second.DoseReferenceStructureType, second.DoseReferenceType = 2, "VOLUME", "TARGET"
    second.TargetPrescriptionDose, second.ReferencedROINumber = 30.0, 4  # "Brainstem" as a stand-in second target
    ds.DoseReferenceSequence.append(second)
    ds.save_as(rp)
    again = tmp_path / "out"
    assert cli.main(["analyze", str(copy), "--out", str(again), "--no-report", "--clinical", str(CLINICAL)]) == 0
    data, ref = _analysis(again), _analysis(out)
    assert data["plan"]["prescription_gy"] == pytest.approx(truth["plan"]["prescription_gy"]) == 24.0
    assert any("several target doses" in w and "30 Gy" in w for w in data["warnings"])
    # the plan now names two targets, so both are analysed; the GTV is judged as in the one-target plan
    assert [r["lesion"] for r in data["overview"]][0] == "GTV" and len(data["overview"]) == 2
    lesion = next(x for x in data["lesions"] if x["name"] == "GTV")
    (lesion_ref,) = ref["lesions"]
    target = lesion["dose"]["details"]["target"]
    assert (target["gtv"], target["prescription_gy"], target["prescription_source"]) == ("GTV", 24.0, "target PTV")
    # the second target's segmented region is excluded from the deformable metric too, so the
    # registration (and the coverage) may move a little, never the prescription it is judged by
    for k, v in lesion_ref["dose"]["coverage_pct"].items():
        assert lesion["dose"]["coverage_pct"][k] == pytest.approx(v, abs=3.0)
    assert lesion["pattern"] == lesion_ref["pattern"] and lesion["growth_symmetry"] == lesion_ref["growth_symmetry"]
    assert lesion["evidence"]["posterior_tp"] == pytest.approx(lesion_ref["evidence"]["posterior_tp"], abs=0.03)
