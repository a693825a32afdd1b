"""SUV factors across vendor variants (cornerstonejs/calculate-suv metadata) and real ACRIN PET slices."""

from __future__ import annotations

import json
import math
from datetime import datetime

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from radnec.cli import main
from radnec.errors import UnitsError
from radnec.imaging.pet import load_pet_suv, pet_lesion_stats
from radnec.imaging.suv import dataset_from_metadata, suv_factors

# Expected body-weight SUV factors from upstream test/calculateSUV_SampleData.test.ts.
EXPECTED = {
    "PHILIPS_BQML": 0.0007463747013889488,
    "PHILIPS_CNTS_AND_BQML_SUV": 0.000551,
    "PHILIPS_CNTS_AND_SUV": 0.000728,
    "SIEMENS": 0.00042748316187197236,
    "GE_MEDICAL_AND_BQML": 0.0005367387681819742,
    "BQML_AC_DT_lessThan_S_DT_SIEMENS": 0.0004069156854009332,
    "CPS_AND_BQML_AC_DT_-_S_DT": 0.00026503312764157046,
    "RADIOPHARM_DATETIME_UNDEFINED": 0.0003721089202818729,
}


def _load(data_dir, name):
    meta = json.loads((data_dir / "imaging-pet-suv-metadata" / f"{name}-instances.json").read_text())
    return meta


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_vendor_variant_factor(data_dir, name):
    datasets = [dataset_from_metadata(m) for m in _load(data_dir, name)]
    factors = suv_factors(datasets)
    assert len(factors) == len(datasets)
    for f in factors:
        assert abs(f.factor / EXPECTED[name] - 1) < 1e-3, (name, f.factor, f.rule)


def test_philips_activity_scale_path(data_dir):
    # Remove the SUV scale factor: the (7053,1009) activity factor then feeds the BQML rule.
    meta = _load(data_dir, "PHILIPS_CNTS_AND_BQML_SUV")
    for m in meta:
        del m["PhilipsPETPrivateGroup"]["SUVScaleFactor"]
    f = suv_factors([dataset_from_metadata(m) for m in meta])[0]
    m = meta[0]
    inj = datetime.strptime("20201217" + m["RadiopharmaceuticalStartTime"], "%Y%m%d%H%M%S")
    acq = datetime.strptime("20201217" + m["AcquisitionTime"], "%Y%m%d%H%M%S")
    ser = datetime.strptime("20201217" + m["SeriesTime"], "%Y%m%d%H%M%S")
    t = (min(ser, acq) - inj).total_seconds()
    expected = 1.602563 * m["PatientWeight"] * 1000 / (m["RadionuclideTotalDose"] * 2 ** (-t / m["RadionuclideHalfLife"]))
    assert f.factor == pytest.approx(expected, rel=1e-9)
    assert "7053,1009" in f.rule


def test_decay_correction_admin_and_none(data_dir):
    meta = _load(data_dir, "SIEMENS")
    admin = [dataset_from_metadata({**m, "DecayCorrection": "ADMIN"}) for m in meta]
    assert suv_factors(admin)[0].factor == pytest.approx(67 * 1000 / 374e6, rel=1e-12)
    none = [dataset_from_metadata({**m, "DecayCorrection": "NONE", "CorrectedImage": ["ATTN"]}) for m in meta]
    f = suv_factors(none)[0]
    assert f.decay_time_s == pytest.approx(2 * 3600 + 17 * 60 + 45.35137, abs=1e-3)  # 08:30:45 -> 10:48:30.35


def test_ge_private_scan_time(data_dir):
    meta = _load(data_dir, "CPS_AND_BQML_AC_DT_-_S_DT")
    meta = [{**m, "GEPrivatePostInjectionDateTime": "20201217130000"} for m in meta]
    f = suv_factors([dataset_from_metadata(m) for m in meta])[0]
    assert "GE private" in f.rule
    assert f.decay_time_s == pytest.approx(3600 - 37, abs=1e-6)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"PatientWeight": 0}, "PatientWeight"),
        ({"Units": "PROPCPS"}, "not supported"),
        ({"DecayCorrection": "FOO"}, "DecayCorrection"),
        ({"CorrectedImage": ["DECY"]}, "ATTN"),
        ({"RadiopharmaceuticalStartTime": "235900", "RadiopharmaceuticalStartDateTime": ""}, "precedes"),
    ],
)
def test_bad_headers_raise(data_dir, change, message):
    meta = [{**m, **change} for m in _load(data_dir, "SIEMENS")]
    with pytest.raises(UnitsError, match=message):
        suv_factors([dataset_from_metadata(m) for m in meta])


def test_acrin_slices_consistent_with_headers(data_dir):
    for name in ("1.dcm", "2.dcm"):
        path = data_dir / "imaging-pet-acrin" / name
        ds = pydicom.dcmread(path)
        rp = ds.RadiopharmaceuticalInformationSequence[0]
        half = float(rp.RadionuclideHalfLife)
        # The header's decay factor is the one from the frame reference time back to the series
        # start: the reference we use as scan time for DecayCorrection START.
        assert float(ds.DecayFactor) == pytest.approx(2 ** (float(ds.FrameReferenceTime) / 1000 / half), rel=2e-4)
        pet = load_pet_suv(path)
        f = pet.factors[0]
        series = datetime.strptime(ds.SeriesDate + ds.SeriesTime, "%Y%m%d%H%M%S.%f")
        inj = datetime.strptime(ds.SeriesDate + rp.RadiopharmaceuticalStartTime.split(".")[0], "%Y%m%d%H%M%S")
        assert f.decay_time_s == pytest.approx((series - inj).total_seconds(), abs=1e-3)
        expected = float(ds.PatientWeight) * 1000 / (float(rp.RadionuclideTotalDose) * math.exp(
            -math.log(2) * f.decay_time_s / half))
        assert f.factor == pytest.approx(expected, rel=1e-9)
        arr = sitk.GetArrayFromImage(pet.suv)
        # The largest stored value times the rescale slope times the factor is the image SUVmax.
        assert arr.max() == pytest.approx(int(ds.LargestImagePixelValue) * float(ds.RescaleSlope) * f.factor, rel=1e-5)
        assert 0.5 < arr.max() < 30  # plausible FLT SUVmax
        assert np.allclose(pet.suv.GetOrigin(), [float(v) for v in ds.ImagePositionPatient])


def _synthetic_head(hot_value: float):
    arr = np.zeros((10, 40, 40), np.float32)
    zz, yy, xx = np.mgrid[:10, :40, :40]
    head = (xx - 19.5) ** 2 + (yy - 19.5) ** 2 < 17**2
    arr[head] = 1.0
    lesion = ((xx - 10) ** 2 + (yy - 20) ** 2 < 9) & (zz > 3) & (zz < 7)
    arr[lesion] = hot_value
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((2.0, 2.0, 2.0))
    img.SetOrigin((-40.0, -40.0, 0.0))
    les = sitk.GetImageFromArray(lesion.astype(np.uint8))
    les.CopyInformation(img)
    return img, les


def test_tbr_with_mirror_background_and_threshold():
    img, les = _synthetic_head(2.5)
    stats = pet_lesion_stats(img, les, tracer="FET")
    assert stats["tbr_max"] == pytest.approx(2.5, rel=1e-6)
    assert stats["tbr_mean"] == pytest.approx(2.5, rel=1e-6)
    obs = {o["name"]: o for o in stats["observations"]}
    assert obs["pet_tbr_mean"]["threshold"]["threshold"] == 1.95
    assert obs["pet_tbr_mean"]["tumour_like"] is True
    low = pet_lesion_stats(*_synthetic_head(1.5), tracer="FET")
    assert {o["name"]: o for o in low["observations"]}["pet_tbr_mean"]["tumour_like"] is False
    fdg = pet_lesion_stats(img, les, tracer="FDG")
    assert {o["name"]: o for o in fdg["observations"]}["pet_tbr_mean"]["tumour_like"] is None


def test_cli_suv_json(data_dir, capsys):
    assert main(["suv", "--pet", str(data_dir / "imaging-pet-acrin" / "1.dcm"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["units"] == "BQML"
    assert 7.0 < out["image_suv_max"] < 7.4


def test_cli_suv_errors(tmp_path, data_dir, capsys):
    bad = tmp_path / "x.dcm"
    bad.write_text("not dicom")
    assert main(["suv", "--pet", str(bad)]) == 2
    assert "not a DICOM file" in capsys.readouterr().err
    assert main(["suv", "--pet", str(tmp_path / "missing")]) == 2
    ds = pydicom.dcmread(data_dir / "imaging-pet-acrin" / "1.dcm")
    ds.PatientWeight = "0"
    ds.save_as(tmp_path / "noweight.dcm")
    assert main(["suv", "--pet", str(tmp_path / "noweight.dcm")]) == 2
    assert "PatientWeight" in capsys.readouterr().err
    assert main(["suv", "--pet", str(tmp_path / "noweight.dcm"), "--weight-kg", "70"]) == 0


def test_met_tbr_max_is_a_ratio_of_maxima():
    img, les = _synthetic_head(2.5)
    arr = sitk.GetArrayFromImage(img)
    arr[2, 20, 30] = 2.0  # a hot background voxel in the mirror region
    noisy = sitk.GetImageFromArray(arr)
    noisy.CopyInformation(img)
    met = pet_lesion_stats(noisy, les, tracer="MET")
    fet = pet_lesion_stats(noisy, les, tracer="FET")
    assert met["tbr_max"] == pytest.approx(met["suv_max"] / met["background_suv_max"])
    assert fet["tbr_max"] == pytest.approx(fet["suv_max"] / fet["background_suv_mean"])


def test_pet_folder_geometry_and_dynamic_rejection(data_dir, tmp_path):
    src = pydicom.dcmread(data_dir / "imaging-pet-acrin" / "1.dcm")
    z0 = float(src.ImagePositionPatient[2])
    folder = tmp_path / "pet"
    folder.mkdir()
    for i, dz in enumerate((10.0, 0.0, 5.0)):  # written out of order
        ds = pydicom.dcmread(data_dir / "imaging-pet-acrin" / "1.dcm")
        ds.ImagePositionPatient = [ds.ImagePositionPatient[0], ds.ImagePositionPatient[1], z0 + dz]
        ds.SOPInstanceUID = f"1.2.826.0.1.3680043.8.498.{i + 1}"
        ds.save_as(folder / f"s{i}.dcm")
    (folder / "README.txt").write_text("not dicom")
    pet = load_pet_suv(folder)
    assert pet.suv.GetSize() == (168, 168, 3)
    assert pet.suv.GetSpacing()[2] == pytest.approx(5.0)
    assert pet.suv.GetOrigin()[2] == pytest.approx(z0)
    # a second frame at an existing position: dynamic PET is refused with the reason
    ds = pydicom.dcmread(folder / "s1.dcm")
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.9"
    ds.save_as(folder / "dup.dcm")
    from radnec.errors import GeometryError

    with pytest.raises(GeometryError, match="dynamic"):
        load_pet_suv(folder)


@pytest.mark.parametrize(
    ("text", "tracer"),
    [
        ("[18F]FET", "FET"), ("O-(2-fluoroethyl)-L-tyrosine", "FET"), ("Fludeoxyglucose F^18^ FDG", "FDG"),
        ("L-[methyl-11C]methionine", "MET"), ("11C-MET", "MET"), ("18F-DOPA", "FDOPA"), ("Fluorodopa F18", "FDOPA"),
        ("FLT", "FLT"), ("Metomidate", None), ("", None),
    ],
)
def test_detect_tracer(text, tracer):
    from pydicom.dataset import Dataset

    from radnec.imaging.pet import detect_tracer

    item = Dataset()
    item.Radiopharmaceutical = text
    ds = Dataset()
    ds.RadiopharmaceuticalInformationSequence = [item]
    assert detect_tracer(ds) == tracer


def test_mirror_background_with_flipped_direction():
    # Same head and lesion, stored with x and y axes reversed (as NIfTI-from-RAS data often are):
    # the mirrored background and the TBR must not change.
    img, les = _synthetic_head(2.5)
    arr = sitk.GetArrayFromImage(img)
    arr[:, :, 25:] *= 0.8  # make the contralateral side distinguishable: background mean 0.8
    base = sitk.GetImageFromArray(arr)
    base.CopyInformation(img)
    ref = pet_lesion_stats(base, les, tracer="FET")
    flip = sitk.GetImageFromArray(arr[:, ::-1, ::-1].copy())
    flip.SetSpacing(img.GetSpacing())
    flip.SetDirection((-1, 0, 0, 0, -1, 0, 0, 0, 1))
    size = img.GetSize()
    flip.SetOrigin(img.TransformIndexToPhysicalPoint((size[0] - 1, size[1] - 1, 0)))
    les_flip = sitk.GetImageFromArray(sitk.GetArrayFromImage(les)[:, ::-1, ::-1].copy())
    les_flip.CopyInformation(flip)
    out = pet_lesion_stats(flip, les_flip, tracer="FET")
    assert out["background_suv_mean"] == pytest.approx(ref["background_suv_mean"], rel=1e-6)
    assert out["tbr_mean"] == pytest.approx(ref["tbr_mean"], rel=1e-6)
    assert ref["background_suv_mean"] == pytest.approx(0.8, rel=1e-6)
