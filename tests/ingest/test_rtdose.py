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
    # all labelled GY: the bins are Gy (0.01 Gy wide, the curve ends at 3.11 Gy), the min/max/mean
    # are percent of the 14 Gy prescription (Heart max 22.1): decided separately, both converted
    assert heart.dose_units == "GY" and heart.summary_dose_units == "PERCENT_OF_PRESCRIPTION"
    assert heart.dose_gy[0] == pytest.approx(0.01) and heart.first_bin_centre_gy == pytest.approx(0.005)
    assert heart.dose_gy[-1] == pytest.approx(3.11, abs=1e-6)
    assert heart.dmax_gy == pytest.approx(3.095, abs=0.01)
    assert heart.dmean_gy == pytest.approx(0.6476, abs=1e-3)
    assert heart.total_volume == pytest.approx(437.46, abs=0.01)


def test_embedded_dvh_left_unresolved_without_prescription(data_dir):
    d = read_rtdose(data_dir / "rt-dicompyler" / "rtdose.dcm")
    # the Gy bins need no prescription; the percent min/max/mean do
    assert all(e.dose_units == "GY" and e.dose_gy is not None for e in d.embedded_dvhs.values())
    assert all(e.summary_dose_units == "UNRESOLVED" and e.dmean_gy is None for e in d.embedded_dvhs.values())
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


def _with_dvh(path, *, units: str, bin_width: float, n_bins: int, dmax: float, dmean: float, volume_cc: float = 2.0):
    """Add one cumulative DVH (ROI 1, ``volume_cc`` flat up to the last bin) to an RTDOSE file."""
    import pydicom
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    ds = pydicom.dcmread(path)
    item = Dataset()
    ref = Dataset()
    ref.ReferencedROINumber = 1
    item.DVHReferencedROISequence = Sequence([ref])
    item.DVHType, item.DoseUnits, item.DoseType, item.DVHVolumeUnits = "CUMULATIVE", units, "PHYSICAL", "CM3"
    item.DVHDoseScaling = 1.0
    item.DVHNumberOfBins = n_bins
    item.DVHData = [v for _ in range(n_bins) for v in (bin_width, volume_cc)]
    item.DVHMaximumDose, item.DVHMeanDose, item.DVHMinimumDose = dmax, dmean, 0.0
    ds.DVHSequence = Sequence([item])
    ds.save_as(path)
    return path


# grid maximum of _ramp(): 3.6 Gy; prescription 3 Gy
@pytest.mark.parametrize(
    "units,bin_width,n_bins,dmax,dmean,axis,summary,top_gy,mean_gy",
    [
        ("GY", 0.01, 360, 3.6, 1.8, "GY", "GY", 3.6, 1.8),  # consistent Gy
        ("CGY", 1.0, 360, 360.0, 180.0, "CGY", "CGY", 3.6, 1.8),  # cGy is not percent
        ("GY", 1.0, 120, 120.0, 60.0, "PERCENT_OF_PRESCRIPTION", "PERCENT_OF_PRESCRIPTION", 3.6, 1.8),
        ("GY", 0.01, 360, 120.0, 60.0, "GY", "PERCENT_OF_PRESCRIPTION", 3.6, 1.8),  # Eclipse example
    ],
)
def test_embedded_dvh_axis_and_summary_units_judged_separately(
    tmp_path, units, bin_width, n_bins, dmax, dmean, axis, summary, top_gy, mean_gy
):
    p = _with_dvh(write_rtdose(tmp_path / "d.dcm", _ramp()), units=units, bin_width=bin_width, n_bins=n_bins, dmax=dmax, dmean=dmean)
    e = read_rtdose(p, prescription_gy=3.0).embedded_dvhs[1]
    assert (e.dose_units, e.summary_dose_units) == (axis, summary)
    assert e.dose_gy[-1] == pytest.approx(top_gy) and e.dmax_gy == pytest.approx(3.6) and e.dmean_gy == pytest.approx(mean_gy)
    assert "doubtful" not in e.note


def test_embedded_dvh_curve_disagreeing_with_its_maximum_is_flagged(tmp_path):
    # bins in Gy reaching 1.0 Gy, but DVHMaximumDose 3.5 Gy: one of the two is wrong
    p = _with_dvh(write_rtdose(tmp_path / "d.dcm", _ramp()), units="GY", bin_width=0.01, n_bins=100, dmax=3.5, dmean=0.5)
    e = read_rtdose(p, prescription_gy=3.0).embedded_dvhs[1]
    assert "units doubtful" in e.note


def test_volume_below_the_first_bin_centre_is_recovered_from_the_mean(tmp_path):
    """A 10 cm³ structure, 2 cm³ at 0 Gy and 8 cm³ at 1 Gy, written the Eclipse way (V[i] = volume
    at >= (i + 1/2) x 0.01 Gy): the curve starts at 8 cm³, the stated mean 0.8 Gy is over all 10."""
    p = _with_dvh(write_rtdose(tmp_path / "d.dcm", _ramp()), units="GY", bin_width=0.01, n_bins=100, dmax=1.0, dmean=0.8, volume_cc=8.0)
    e = read_rtdose(p).embedded_dvhs[1]
    assert e.total_volume == pytest.approx(8.0) and e.first_bin_centre_gy == pytest.approx(0.005)
    assert e.volume_from_mean == pytest.approx(10.0)


def test_volume_from_mean_matches_the_curve_when_nothing_is_below_it(data_dir):
    d = read_rtdose(data_dir / "rt-dicompyler" / "rtdose.dcm", prescription_gy=14.0)
    for e in d.embedded_dvhs.values():  # Heart, Scar, Tumor Bed: all above 5 mGy
        assert e.volume_from_mean == pytest.approx(e.total_volume, rel=1e-3)
