"""RANO-BM diameters (axial, in-plane, oblique, thick slices), measurability and categories."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from radnec.errors import InputError
from radnec.geometry import mask_volume_cc
from radnec.lesion.conventions import Compartments
from radnec.lesion.morphology import measure_timepoint, sphericity
from radnec.lesion.rano_bm import axial_diameters, measurability, rano_bm_categories


def _ellipsoid(a_mm, b_mm, c_mm, *, spacing=(0.5, 0.5, 0.5), size=(90, 90, 90), direction=None):
    """Ellipsoid mask with semi-axes a (L/x), b (P/y), c (S/z) mm, in patient axes (LPS)."""
    img = sitk.Image(list(size), sitk.sitkUInt8)
    img.SetSpacing(spacing)
    if direction is not None:
        img.SetDirection(tuple(np.asarray(direction).ravel()))
    centre_idx = (np.asarray(size) - 1) / 2.0
    img.SetOrigin(tuple(-np.asarray(img.TransformContinuousIndexToPhysicalPoint(tuple(centre_idx)))))
    zz, yy, xx = np.meshgrid(*(np.arange(n) for n in size[::-1]), indexing="ij")
    idx = np.stack([xx.ravel(), yy.ravel(), zz.ravel()], 1).astype(float)
    d = np.asarray(img.GetDirection()).reshape(3, 3)
    pts = np.asarray(img.GetOrigin()) + (idx * np.asarray(spacing)) @ d.T
    inside = (pts[:, 0] / a_mm) ** 2 + (pts[:, 1] / b_mm) ** 2 + (pts[:, 2] / c_mm) ** 2 <= 1.0
    out = sitk.GetImageFromArray(inside.reshape(zz.shape).astype(np.uint8))
    out.CopyInformation(img)
    return out


def test_axial_diameters_of_an_ellipsoid():
    m = _ellipsoid(10.0, 6.0, 4.0)
    d = axial_diameters(m)
    assert d.longest_mm == pytest.approx(20.0, abs=0.6)
    assert d.perpendicular_mm == pytest.approx(12.0, abs=0.6)
    assert d.slice_s_mm == pytest.approx(0.0, abs=0.3)
    assert not d.resampled_to_axial
    assert sphericity(m) < sphericity(_ellipsoid(8.0, 8.0, 8.0)) <= 1.0


def test_diameters_are_axial_even_for_an_oblique_acquisition():
    # long axis along S (c = 15 mm) must NOT be the RANO-BM diameter; axial LD is 2 * 8 mm
    ang = np.deg2rad(30.0)
    rot = np.array([[1, 0, 0], [0, np.cos(ang), -np.sin(ang)], [0, np.sin(ang), np.cos(ang)]])
    m = _ellipsoid(8.0, 5.0, 15.0, spacing=(0.6, 0.6, 0.6), size=(70, 70, 70), direction=rot)
    d = axial_diameters(m)
    assert d.resampled_to_axial
    assert d.longest_mm == pytest.approx(16.0, abs=1.0)
    assert d.perpendicular_mm == pytest.approx(10.0, abs=1.0)


def test_thick_slices_in_plane_diameters_and_anisotropic_volume():
    # 6.5 mm slices as in the pyradiomics TCGA images, 0.78 mm in plane
    m = _ellipsoid(15.0, 10.0, 13.0, spacing=(0.78125, 0.78125, 6.5), size=(60, 60, 9))
    d = axial_diameters(m)
    assert d.longest_mm == pytest.approx(30.0, abs=1.0)
    assert d.perpendicular_mm == pytest.approx(20.0, abs=1.0)
    assert d.n_slices == 3  # centres at 0 and ±6.5 mm (±13 mm only touches the tip)
    vol = mask_volume_cc(m)
    n = int(sitk.GetArrayFromImage(m).sum())
    assert vol == pytest.approx(n * 0.78125 * 0.78125 * 6.5 / 1000.0)
    meas = measure_timepoint(Compartments(lesion=m))
    assert meas.slice_thickness_mm == pytest.approx(6.5)
    assert "thick" in meas.measurability


def test_measurability_rules():
    small = axial_diameters(_ellipsoid(4.0, 4.0, 4.0))
    ok, why = measurability(small, slice_thickness_mm=0.5)
    assert not ok and "< 10 mm" in why
    big = axial_diameters(_ellipsoid(10.0, 6.0, 4.0))
    assert measurability(big, slice_thickness_mm=0.5)[0]
    flat = axial_diameters(_ellipsoid(10.0, 6.0, 0.2))  # one slice only
    ok, why = measurability(flat, slice_thickness_mm=0.5)
    assert not ok and "axial slice" in why


@pytest.mark.parametrize(
    ("sld", "steroids", "expected"),
    [
        ([20, 21, 24, 25], None, ["baseline", "SD", "SD", "PD"]),  # +25 % and +5 mm vs nadir 20
        ([20, 13, 15, 16], None, ["baseline", "PR", "SD", "SD"]),  # 16 vs nadir 13: +23 % but +3 mm → SD
        ([20, 13, 15, 18], None, ["baseline", "PR", "SD", "PD"]),  # +38 %, +5 mm vs nadir 13
        ([20, 0, 0], [0, 0, 4], ["baseline", "CR", "PR"]),  # CR needs no steroids; PR then fails? (4 > 0) → see below
        ([30, 20], [4, 8], ["baseline", "SD"]),  # PR needs stable or lower steroids
        ([8, 15], None, ["baseline", "PD"]),  # +87 %, +7 mm
    ],
)
def test_rano_bm_categories(sld, steroids, expected):
    if sld == [20, 0, 0]:
        expected = ["baseline", "CR", "SD"]  # steroids at 4 mg > baseline 0: neither CR nor PR
    assert rano_bm_categories(sld, steroid_mg_per_day=steroids) == expected


def test_rano_bm_categories_reject_bad_input():
    with pytest.raises(InputError):
        rano_bm_categories([10, float("nan")])
    with pytest.raises(InputError):
        rano_bm_categories([10, 12], steroid_mg_per_day=[1])
