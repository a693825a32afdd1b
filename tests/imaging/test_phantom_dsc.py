"""radnec.phantom.dsc.add_dsc_to_phantom on a minimal phantom-like case folder (no full phantom needed)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from radnec.errors import InputError
from radnec.ingest.dsc import read_dsc
from radnec.imaging.perfusion import analyze_dsc
from radnec.phantom.dsc import DscSeries, add_dsc_to_phantom, leakage_for_psr, psr_for_leakage, write_dsc_dicom


def _fake_case(tmp_path, diagnosis="progression"):
    shape = (10, 48, 48)  # z, y, x at 2 mm
    z, y, x = np.mgrid[: shape[0], : shape[1], : shape[2]]
    head = ((x - 23.5) / 20) ** 2 + ((y - 23.5) / 22) ** 2 + ((z - 4.5) / 7) ** 2 < 1
    t1 = np.where(head, 800.0, 0.0).astype(np.float32)
    grid = sitk.GetImageFromArray(t1)
    grid.SetSpacing((2.0, 2.0, 2.0))
    grid.SetOrigin((-48.0, -48.0, -10.0))
    series = DscSeries(t1[None], grid, np.zeros(1), 0.01, "t1")
    study_uid, for_uid = "1.2.3.4.1", "1.2.3.4.2"
    write_dsc_dicom(series, tmp_path / "dicom" / "01_fu1" / "T1c", study_uid=study_uid, frame_of_reference_uid=for_uid)
    les = ((x - 12) ** 2 + (y - 24) ** 2 + (z - 5) ** 2 < 16).astype(np.uint8)
    mask = sitk.GetImageFromArray(les)
    mask.CopyInformation(grid)
    (tmp_path / "truth" / "fu1").mkdir(parents=True)
    sitk.WriteImage(mask, str(tmp_path / "truth" / "fu1" / "enhancing.nii.gz"))
    truth = {
        "scenario": "infield", "seed": 0, "diagnosis": diagnosis,
        "patient": {"name": "PHANTOM^X", "id": "PHANTOM-x-0"},
        "timepoints": [
            {"label": "planning"},
            {"label": "fu1", "folder": "dicom/01_fu1", "date": "2026-06-01", "study_instance_uid": study_uid,
             "frame_of_reference_uid": for_uid, "series": {"T1c": {"folder": "dicom/01_fu1/T1c"}},
             "masks": {"enhancing": "truth/fu1/enhancing.nii.gz"}},
        ],
    }
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    return tmp_path


def test_leakage_calibration_hits_the_psr():
    k2 = leakage_for_psr(70.0, lesion_rcbv=2.0, n_frames=60, tr_s=1.5, te_ms=30.0)
    assert k2 < 0  # T2*-dominant leakage lowers the recovery
    assert psr_for_leakage(k2, lesion_rcbv=2.0, n_frames=60, tr_s=1.5, te_ms=30.0) == pytest.approx(70.0, abs=0.01)


@pytest.mark.parametrize(("diagnosis", "tumour_like"), [("progression", True), ("necrosis", False)])
def test_add_dsc_to_phantom(tmp_path, diagnosis, tumour_like):
    case = _fake_case(tmp_path, diagnosis)
    entry = add_dsc_to_phantom(case, seed=1)
    truth = json.loads((case / "truth.json").read_text())
    assert truth["timepoints"][1]["dsc"]["lesion_rcbv"] == entry["lesion_rcbv"]
    series = read_dsc(case / entry["folder"])
    lesion = sitk.ReadImage(str(case / entry["lesion_mask_on_dsc_grid"]))
    res = analyze_dsc(series, lesion=lesion)
    assert res.lesion["rcbv_mean"] == pytest.approx(entry["lesion_rcbv"], rel=0.1)
    assert res.lesion["psr_pct"] == pytest.approx(entry["lesion_psr_pct"], abs=5.0)
    obs = {o["name"]: o for o in res.observations}
    assert obs["dsc_rcbv_mean"]["tumour_like"] is tumour_like
    assert obs["dsc_psr_pct"]["tumour_like"] is tumour_like
    import pydicom

    first = pydicom.dcmread(next((case / entry["folder"]).iterdir()))
    assert first.StudyInstanceUID == "1.2.3.4.1" and first.FrameOfReferenceUID == "1.2.3.4.2"
    assert first.PatientID == "PHANTOM-x-0"


def test_add_dsc_errors(tmp_path):
    with pytest.raises(InputError, match="truth.json"):
        add_dsc_to_phantom(tmp_path)
    case = _fake_case(tmp_path)
    with pytest.raises(InputError, match="no follow-up study 'fu9'"):
        add_dsc_to_phantom(case, study="fu9")


def test_collect_finds_dsc_and_measures_the_lesion(tmp_path):
    from radnec.imaging.collect import find_advanced_series, imaging_observations
    from radnec.ingest.scan import scan

    case = _fake_case(tmp_path, "progression")
    entry = add_dsc_to_phantom(case, seed=2)
    found = find_advanced_series(scan(case))
    assert len(found.dsc) == 1 and not found.pet and not found.mrs  # the one-frame T1c is not dynamic
    lesion = sitk.ReadImage(str(case / "truth" / "fu1" / "enhancing.nii.gz"))  # on the anatomical grid
    res = imaging_observations(lesion=lesion, lesion_frame_of_reference_uid="1.2.3.4.2", series=found)
    values = {o.name: o.value for o in res["observations"]}
    assert values["dsc_rcbv_mean"] == pytest.approx(entry["lesion_rcbv"], rel=0.15)
    assert res["skipped"] == []
    other = imaging_observations(lesion=lesion, lesion_frame_of_reference_uid="9.9.9", series=found)
    assert other["observations"] == [] and "other frame of reference" in other["skipped"][0]
