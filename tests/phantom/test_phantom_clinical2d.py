"""``radnec phantom --protocol clinical-2d``: the routine follow-up series, their tags and geometry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

VOXEL_MM = 2.0


@pytest.fixture(scope="module")
def clinical(tmp_path_factory) -> tuple[Path, dict]:
    from radnec.phantom.generate import generate_case

    folder = tmp_path_factory.mktemp("clinical2d") / "case"
    truth = generate_case("infield", 4, folder, voxel_mm=VOXEL_MM, months=[3, 9], lesions=2, protocol="clinical-2d",
                          sag3d="always", oblique="always")
    return folder, truth


def _headers(folder: Path, entry: dict) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted((folder / entry["folder"]).glob("*.dcm"))]


def _read(folder: Path, entry: dict) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder / entry["folder"])))
    return reader.Execute()


def test_series_and_tags(clinical):
    folder, truth = clinical
    assert truth["protocol"] == "clinical-2d"
    planning = truth["timepoints"][0]
    assert set(planning["series"]) == {"T1c", "FLAIR"}            # the planning study stays 3-D
    for tp in truth["timepoints"][1:]:
        s = tp["series"]
        assert set(s) == {"localizer", "t1c_2d", "t1_2d", "t2_2d", "flair_2d", "dwi", "adc", "t1c_sag3d", "t1c_mpr"}
        loc = _headers(folder, s["localizer"])
        assert len(loc) == 3 and all("LOCALIZER" in h.ImageType for h in loc)
        assert len({tuple(round(float(v)) for v in h.ImageOrientationPatient) for h in loc}) == 3
        for key in ("t1c_2d", "t1_2d", "t2_2d", "flair_2d"):
            hs = _headers(folder, s[key])
            assert all(h.MRAcquisitionType == "2D" and float(h.SliceThickness) == 5.0 and float(h.SpacingBetweenSlices) == 6.0
                       for h in hs)
            normal = np.cross(np.array(hs[0].ImageOrientationPatient[:3], float), np.array(hs[0].ImageOrientationPatient[3:], float))
            pos = sorted(float(np.dot(np.array(h.ImagePositionPatient, float), normal)) for h in hs)
            assert np.allclose(np.diff(pos), 6.0, atol=1e-3)
            assert ("ContrastBolusAgent" in hs[0]) == (key == "t1c_2d")
        dwi = _headers(folder, s["dwi"])
        assert sorted({float(h.DiffusionBValue) for h in dwi}) == [0.0, 1000.0]
        assert all("ContrastBolusAgent" not in h for h in dwi)
        adc = _headers(folder, s["adc"])
        assert adc[0].ImageType[0] == "DERIVED" and any("ADC" in v for v in adc[0].ImageType)
        mpr = _headers(folder, s["t1c_mpr"])
        assert list(mpr[0].ImageType[:2]) == ["DERIVED", "SECONDARY"]
        sag = _headers(folder, s["t1c_sag3d"])
        assert sag[0].MRAcquisitionType == "3D" and "ContrastBolusAgent" in sag[0]
        assert [round(float(v)) for v in sag[0].ImageOrientationPatient] == [0, 1, 0, 0, 0, -1]
        exp = tp["expected_series"]
        assert exp["t1c"] == s["t1c_sag3d"]["series_instance_uid"] and exp["why"] == "3-D post-contrast present"
        assert exp["flair"] == s["flair_2d"]["series_instance_uid"]
        assert len({h.Manufacturer for h in loc + dwi + sag}) == 1
        assert len({h.FrameOfReferenceUID for h in loc + dwi + sag}) == 1


def test_sagittal_and_oblique_geometry_put_the_lesion_where_truth_says(clinical):
    folder, truth = clinical
    for tp in truth["timepoints"][1:]:
        seed = next(r["seed_lps"] for r in tp["lesions"] if r["name"] == "L1")
        assert tp["protocol"]["oblique"] and 5.0 <= abs(tp["protocol"]["axial_tilt_deg"]) <= 15.0
        for key in ("t1c_sag3d", "t1c_2d"):
            img = _read(folder, tp["series"][key])
            arr = sitk.GetArrayFromImage(img).astype(float)
            if key == "t1c_2d":
                t = np.deg2rad(tp["protocol"]["axial_tilt_deg"])
                assert np.allclose(np.array(img.GetDirection()).reshape(3, 3)[:, 1], [0, np.cos(t), np.sin(t)], atol=1e-4)
            idx = img.TransformPhysicalPointToIndex(seed)
            value = arr[idx[2], idx[1], idx[0]]
            brain = np.median(arr[arr > 300])
            assert value > 1.2 * brain, (tp["label"], key, value, brain)


def test_slab_average_gives_partial_volume():
    from radnec.phantom.protocol import slab_average, stack_grid, tilt_x

    src = sitk.Image([60, 60, 60], sitk.sitkFloat32)
    src.SetOrigin([-30.0, -30.0, -30.0])
    a = np.zeros((60, 60, 60), np.float32)
    a[30:, :, :] = 1000.0                       # a plane edge at z = -0.5 mm (voxel centres at -30 + k)
    img = sitk.GetImageFromArray(a)
    img.CopyInformation(src)
    grid = stack_grid(centre_lps=np.zeros(3), direction=tilt_x(0.0), spacing=(1.0, 1.0, 6.0), size=(10, 10, 3),
                      first_offset_mm=-6.0)
    out = slab_average(img, grid, thickness_mm=5.0, samples=5)
    assert out[0].max() == pytest.approx(0.0, abs=1e-3)     # slab -8.5..-3.5 mm
    assert 300.0 < out[1].mean() < 700.0                       # slab -2.5..2.5 mm straddles the edge
    assert out[2].min() == pytest.approx(1000.0, abs=1e-3)


def test_scan_finds_every_series(clinical):
    from radnec.ingest.scan import scan

    folder, truth = clinical
    inv = scan(folder)
    for tp in truth["timepoints"][1:]:
        for entry in tp["series"].values():
            assert inv.series_by_uid(entry["series_instance_uid"]) is not None


def test_one_target_clinical_case_without_3d_and_with_dsc(tmp_path):
    from radnec.phantom.dsc import add_dsc_to_phantom
    from radnec.phantom.generate import generate_case

    truth = generate_case("distant", 1, tmp_path / "c", voxel_mm=VOXEL_MM, months=[3], protocol="clinical-2d",
                          sag3d="never", oblique="never")
    tp = truth["timepoints"][1]
    assert "t1c_sag3d" not in tp["series"] and "t1c_mpr" not in tp["series"]
    assert tp["expected_series"]["why"] == "2-D axial T1 post-contrast only"
    assert tp["expected_series"]["t1c"] == tp["series"]["t1c_2d"]["series_instance_uid"]
    assert tp["protocol"]["axial_tilt_deg"] == 0.0
    rows = {r["name"]: r for r in truth["lesions"]}
    assert rows["L1"]["target_gtv_name"] == "GTV" and not rows["L1"]["enlarging"]
    assert rows["L2"]["target_gtv_name"] is None and rows["L2"]["enlarging"] and rows["L2"]["pattern"] == "out-of-field"
    assert truth["new_lesion"] is None
    dsc = add_dsc_to_phantom(tmp_path / "c", seed=1)
    assert (tmp_path / "c" / dsc["folder"]).is_dir()
