"""RTDOSE reader: units, scaling, frame offsets, orientations, embedded DVHs, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from rt_factory import write_rtdose

from radnec.cli import main
from radnec.errors import GeometryError, InputError, UnitsError
from radnec.ingest.rtdose import read_rtdose


def _ramp(shape=(4, 5, 6)) -> np.ndarray:
    f, r, c = np.indices(shape)
    return (1.0 + c + 10.0 * r + 100.0 * f) / 10.0  # Gy, unique per voxel


def _dose_at(img: sitk.Image, point) -> float:
    idx = img.TransformPhysicalPointToIndex(tuple(float(v) for v in point))
    return float(img[idx])


def test_dicompyler_fixture_max_and_units(data_dir):
    d = read_rtdose(data_dir / "rt-dicompyler" / "rtdose.dcm", prescription_gy=14.0)
    # the cropped fixture keeps the global maximum (inside the tumour bed): 14.68 Gy
    assert d.max_gy == pytest.approx(14.68, abs=0.01)
    assert d.summation_type == "PLAN" and d.referenced_plan_uid
    heart = d.embedded_dvhs[5]
    # TPS DVH is labelled GY but is in percent of the 14 Gy prescription: detected and converted
    assert heart.dose_units == "PERCENT_OF_PRESCRIPTION"
    assert heart.dmax_gy == pytest.approx(3.095, abs=0.01)
    assert heart.dmean_gy == pytest.approx(0.6476, abs=1e-3)
    assert heart.total_volume == pytest.approx(437.46, abs=0.01)


def test_embedded_dvh_left_unresolved_without_prescription(data_dir):
    d = read_rtdose(data_dir / "rt-dicompyler" / "rtdose.dcm")
    assert all(e.dose_units == "UNRESOLVED" and e.dmean_gy is None for e in d.embedded_dvhs.values())
    assert any("percent" in n for n in d.notes)


@pytest.mark.parametrize("absolute", [False, True])
def test_relative_and_absolute_offsets_give_same_grid(tmp_path, absolute):
    arr = _ramp()
    p = write_rtdose(tmp_path / "d.dcm", arr, origin=(-10.0, 20.0, -30.0), absolute=absolute)
    img = read_rtdose(p).image
    assert img.GetOrigin() == pytest.approx((-10.0, 20.0, -30.0))
    assert img.GetSpacing() == pytest.approx((2.0, 2.0, 3.0))
    np.testing.assert_allclose(sitk.GetArrayFromImage(img), arr, atol=1e-4)


def test_decreasing_offsets_are_reversed(tmp_path):
    arr = _ramp()
    p = write_rtdose(tmp_path / "d.dcm", arr, origin=(0.0, 0.0, 0.0), offsets=[0, -3, -6, -9])
    d = read_rtdose(p)
    img = d.image
    assert img.GetSpacing()[2] == pytest.approx(3.0)
    assert img.GetOrigin()[2] == pytest.approx(-9.0)
    # frame 0 of the file (z = 0) must still hold arr[0]
    assert _dose_at(img, (0.0, 0.0, 0.0)) == pytest.approx(arr[0, 0, 0], abs=1e-4)
    assert _dose_at(img, (0.0, 0.0, -9.0)) == pytest.approx(arr[3, 0, 0], abs=1e-4)


@pytest.mark.parametrize(
    "iop",
    [(-1, 0, 0, 0, 1, 0), (1, 0, 0, 0, -1, 0), (-1, 0, 0, 0, -1, 0), (0, 1, 0, 0, 0, -1)],
    ids=["FFS", "HFP", "FFP", "decubitus-like"],
)
def test_any_orientation_places_voxels_by_iop(tmp_path, iop):
    arr = _ramp()
    origin = np.array([5.0, -7.0, 11.0])
    p = write_rtdose(tmp_path / "d.dcm", arr, origin=tuple(origin), iop=iop)
    img = read_rtdose(p).image
    row, col = np.array(iop[:3], float), np.array(iop[3:], float)
    normal = np.cross(row, col)
    for f, r, c in [(0, 0, 0), (3, 4, 5), (2, 1, 3)]:
        point = origin + c * 2.0 * row + r * 2.0 * col + f * 3.0 * normal
        assert _dose_at(img, point) == pytest.approx(arr[f, r, c], abs=1e-4)


def test_relative_units_refused_without_normalisation(tmp_path):
    p = write_rtdose(tmp_path / "d.dcm", _ramp() / 10, units="RELATIVE")
    with pytest.raises(UnitsError, match="RELATIVE"):
        read_rtdose(p)
    img = read_rtdose(p, normalisation_gy=20.0).image
    assert float(sitk.GetArrayViewFromImage(img).max()) == pytest.approx(_ramp().max() / 10 * 20.0, rel=1e-3)


@pytest.mark.parametrize("scaling", ["nan", "0", "-1e-3"])
def test_bad_scaling_refused(tmp_path, scaling):
    p = write_rtdose(tmp_path / "d.dcm", _ramp(), scaling=scaling)
    with pytest.raises(UnitsError, match="DoseGridScaling"):
        read_rtdose(p)


def test_absurd_dose_refused(tmp_path):
    p = write_rtdose(tmp_path / "d.dcm", _ramp() * 1000)
    with pytest.raises(UnitsError, match="implausible"):
        read_rtdose(p)


def test_unknown_units_refused(tmp_path):
    p = write_rtdose(tmp_path / "d.dcm", _ramp(), units="MU")
    with pytest.raises(UnitsError, match="not understood"):
        read_rtdose(p)


def test_non_uniform_offsets_refused(tmp_path):
    p = write_rtdose(tmp_path / "d.dcm", _ramp(), offsets=[0, 3, 6, 10])
    with pytest.raises(GeometryError, match="not uniformly spaced"):
        read_rtdose(p)


def test_not_dicom_and_wrong_modality(tmp_path, data_dir):
    bad = tmp_path / "x.dcm"
    bad.write_bytes(b"not a dicom file at all")
    with pytest.raises(InputError):
        read_rtdose(bad)
    with pytest.raises(InputError, match="not an RTDOSE"):
        read_rtdose(data_dir / "rt-dicompyler" / "rtss.dcm")


def test_cli_reports_bad_dose_with_exit_2(tmp_path, data_dir, capsys):
    p = write_rtdose(tmp_path / "d.dcm", _ramp(), units="RELATIVE")
    code = main(["dvh", "--dose", str(p), "--struct", str(data_dir / "rt-dicompyler" / "rtss.dcm")])
    assert code == 2
    assert "RELATIVE" in capsys.readouterr().err
