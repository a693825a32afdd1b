"""Multi-target phantoms (``radnec phantom --lesions N --new-lesion``): placement, names, per-target
prescriptions read back by radnec's own readers, summed dose, new lesion; N = 1 unchanged."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from _digest import case_digest, combined

VOXEL_MM = 2.0
BASELINE = Path(__file__).parent / "data" / "n1_baseline.json"


@pytest.fixture(scope="module")
def five_targets(tmp_path_factory) -> tuple[Path, dict]:
    from radnec.phantom.generate import generate_case

    folder = tmp_path_factory.mktemp("multi") / "case"
    truth = generate_case("marginal", 3, folder, voxel_mm=VOXEL_MM, months=[3, 9], lesions=5, new_lesion=True)
    return folder, truth


@pytest.mark.parametrize("scenario", ["necrosis", "distant"])
def test_one_target_output_is_unchanged(tmp_path, scenario):
    from radnec.phantom.generate import generate_case

    ref = json.loads(BASELINE.read_text())["cases"][scenario]
    generate_case(scenario, 3, tmp_path / scenario, voxel_mm=VOXEL_MM, months=[3, 9])
    digest = case_digest(tmp_path / scenario)
    assert len(digest) == ref["n_files"]
    assert combined(digest) == ref["sha256"]
    assert "lesions" not in json.loads((tmp_path / scenario / "truth.json").read_text())


def test_targets_are_separate_inside_the_brain(five_targets):
    folder, truth = five_targets
    targets = truth["plan"]["targets"]
    assert len(targets) == 5 and sorted(t["number"] for t in targets) == [1, 2, 3, 4, 5]
    for a, b in combinations(targets, 2):
        d = np.linalg.norm(np.subtract(a["centre_lps"], b["centre_lps"]))
        assert d >= a["diameter_mm"] / 2 + b["diameter_mm"] / 2 + 15.0 - 1e-6
    labels = sitk.ReadImage(str(folder / "truth" / "planning" / "lesion_labels.nii.gz"))
    arr = sitk.GetArrayFromImage(labels)
    brain = sitk.GetArrayFromImage(sitk.ReadImage(str(folder / "truth" / "planning" / "edema.nii.gz")))  # same grid
    assert brain.shape == arr.shape
    rows = {r["name"]: r for r in truth["lesions"]}
    spacing = np.array(labels.GetSpacing()[::-1])
    pts = {n: np.argwhere(arr == r["label"]) * spacing for n, r in rows.items() if r["index"] is not None}
    assert all(len(p) for p in pts.values())
    for (na, a), (nb, b) in combinations(pts.items(), 2):  # masks apart (shape noise allowed for)
        gap = np.sqrt(((a[::7, None, :] - b[None, ::7, :]) ** 2).sum(-1)).min()
        assert gap >= 10.0, (na, nb, gap)


def test_prescriptions_and_names_read_back(five_targets):
    from radnec.dose.targets import lesion_target
    from radnec.ingest.rtdose import read_rtdose
    from radnec.ingest.rtplan import read_rtplan
    from radnec.ingest.rtstruct import read_rtstruct

    folder, truth = five_targets
    plan = read_rtplan(folder / truth["plan"]["rtplan"])
    ss = read_rtstruct(folder / truth["plan"]["rtstruct"])
    dose = read_rtdose(folder / truth["plan"]["rtdose"]).image
    by_number = {r.number: r for r in ss.rois}
    assert plan.prescription_gy == max(t["prescription_gy"] for t in truth["plan"]["targets"])
    ds = pydicom.dcmread(folder / truth["plan"]["rtstruct"])
    types = {o.ReferencedROINumber: o.RTROIInterpretedType for o in ds.RTROIObservationsSequence}
    for t in truth["plan"]["targets"]:
        assert plan.target_prescriptions_gy[t["roi_number"]] == t["prescription_gy"]
        assert by_number[t["roi_number"]].name == (t["ptv_name"] or t["gtv_name"])
        gtv_number = next(r.number for r in ss.rois if r.name == t["gtv_name"])
        assert types[gtv_number] == "GTV"
        if t["ptv_name"]:
            assert types[t["roi_number"]] == "PTV"
        expected_rx = 24.0 if t["diameter_mm"] <= 20.0 else 18.0
        if t["lesion"] != "L1":  # the index keeps the scenario's ASTRO table
            assert t["prescription_gy"] == expected_rx
        found = lesion_target(ss, plan, t["centre_lps"], plan_prescription_gy=plan.prescription_gy, dose=dose)
        assert found.gtv.name == t["gtv_name"]
        assert found.prescription_gy == t["prescription_gy"]
        at_centre = dose[dose.TransformPhysicalPointToIndex(t["centre_lps"])]
        assert at_centre >= t["prescription_gy"]


def test_lesion_truth_and_new_lesion(five_targets):
    folder, truth = five_targets
    rows = {r["name"]: r for r in truth["lesions"]}
    index = rows["L1"]
    assert index["enlarging"] and index["pattern"] == "marginal" and index["symmetry"] == "eccentric"
    assert index["index"] == truth["plan"]["index_target"]
    for name, r in rows.items():
        assert set(r["coverage_pct"]) == {"100", "80", "50"}
        if name.startswith("T"):
            assert not r["enlarging"] and r["pattern"] == "in-field"
            vols = [v["planning_frame_t1_lesion_cc"] for v in r["volumes"]]
            assert all(b <= a + 1e-9 for a, b in zip(vols, vols[1:]))      # responding: never growing
            assert r["coverage_pct"]["100"] > 90.0
    new = truth["new_lesion"]
    assert new is not None and new["name"] == "N1" and new["enlarging"] and new["pattern"] == "out-of-field"
    assert new["volumes"][0]["planning_frame_t1_lesion_cc"] == 0.0           # absent at planning
    assert new["volumes"][-1]["planning_frame_t1_lesion_cc"] > 0.0
    assert new["coverage_pct"]["50"] == 0.0
    dose = sitk.ReadImage(str(folder / "truth" / "planning" / "dose_gy.nii.gz"))
    centre = new["centre_lps"]
    assert dose[dose.TransformPhysicalPointToIndex(centre)] < 0.5 * min(t["prescription_gy"] for t in truth["plan"]["targets"])
    assert set(truth["enlarging_lesions"]) == {"L1", "N1"}


def test_lesions_out_of_range_is_a_clear_error():
    from radnec.errors import RadnecError
    from radnec.phantom.generate import build_case

    with pytest.raises(RadnecError, match="--lesions"):
        build_case("stable", 0, voxel_mm=VOXEL_MM, lesions=16)
