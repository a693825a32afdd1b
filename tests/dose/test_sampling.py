"""Between-plane interpolation of contoured ROIs (radnec.dose.sampling) against exact shapes."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from radnec.dose.dvh import dvh
from radnec.dose.sampling import model_volume_cc, signed_distance
from radnec.geometry.contours import ROI, Contour, area_profiles, contour_model, roi_volume_cc

R = 12.0  # mm
L = 24.0  # mm
STEP = 3.0  # mm between contour planes
SLIVER = 0.01  # mm: width of the tangent-plane contour (as in the Nelms RtCylinder set)


def _roi(polys: list[np.ndarray], name: str) -> ROI:
    return ROI(number=1, name=name, type="ORGAN", color=None, contours=[Contour(p, "CLOSED_PLANAR") for p in polys])


def lying_cylinder() -> ROI:
    """Cylinder of radius R, axis along x (in the contour planes), contoured on z planes every
    STEP mm from the bottom to the top tangent plane: each contour is a rectangle."""
    polys = []
    for z in np.arange(-R, R + 1e-9, STEP):
        hw = max(np.sqrt(max(R**2 - z**2, 0.0)), SLIVER / 2)
        polys.append(np.array([[-L / 2, -hw, z], [L / 2, -hw, z], [L / 2, hw, z], [-L / 2, hw, z]]))
    return _roi(polys, "lying cylinder")


def sphere(n_pts: int = 180) -> ROI:
    polys = []
    a = np.linspace(0, 2 * np.pi, n_pts, endpoint=False)
    for z in np.arange(-R, R + 1e-9, STEP):
        r = max(np.sqrt(max(R**2 - z**2, 0.0)), 0.16)
        polys.append(np.column_stack([r * np.cos(a), r * np.sin(a), np.full(n_pts, z)]))
    return _roi(polys, "sphere")


def linear_dose_z(spacing: float = 1.0, size: int = 40) -> sitk.Image:
    """Dose (Gy) = 20 + 0.5 z (mm) on a grid covering ±(size/2) mm."""
    img = sitk.Image([size] * 3, sitk.sitkFloat32)
    img.SetSpacing([spacing] * 3)
    img.SetOrigin([-(size - 1) / 2 * spacing] * 3)
    z = img.GetOrigin()[2] + np.arange(size) * spacing
    arr = np.broadcast_to((20 + 0.5 * z)[:, None, None], (size, size, size)).astype(np.float32)
    out = sitk.GetImageFromArray(np.ascontiguousarray(arr))
    out.CopyInformation(img)
    return out


def _segment_fraction(h: float) -> float:
    """Fraction of a circle's area (radius R) below a chord at height h above its bottom."""
    return (R**2 * np.arccos((R - h) / R) - (R - h) * np.sqrt(2 * R * h - h**2)) / (np.pi * R**2)


def test_area_family_is_chosen_by_cross_validation():
    assert [f for _, f, _ in area_profiles(contour_model(lying_cylinder()))] == ["A^2"]
    assert [f for _, f, _ in area_profiles(contour_model(sphere()))] == ["A"]


def test_lying_cylinder_volume_and_d99():
    roi = lying_cylinder()
    true_cc = np.pi * R**2 * L / 1000 + 2 * SLIVER * L * STEP / 2 / 1000  # + the sliver end-caps
    model = contour_model(roi)
    assert model_volume_cc(model) == pytest.approx(true_cc, rel=0.003)
    # the contour model (inspect, roi_volume_cc, roi_fraction) shares the same area profile; a plain
    # spline of the areas would miss the square-root shape near the tangent planes by ~1.9 %
    assert model.volume_cc() == pytest.approx(true_cc, rel=0.003)
    assert roi_volume_cc(roi) == pytest.approx(true_cc, rel=0.003)
    dose = linear_dose_z()
    h = dvh(dose, roi)
    assert h.volume_cc == pytest.approx(true_cc, rel=0.003)
    # analytical D99: the chord below which 1 % of the circle lies
    from scipy.optimize import brentq

    h99 = brentq(lambda x: _segment_fraction(x) - 0.01, 1e-6, R)
    d99 = 20 + 0.5 * (-R + h99)
    assert h.d_pct(99) == pytest.approx(d99, rel=0.01)
    assert h.dmean_gy == pytest.approx(20.0, rel=0.002)
    old = dvh(dose, roi, interpolation="spline")
    assert abs(old.d_pct(99) / d99 - 1) > abs(h.d_pct(99) / d99 - 1)


def test_sphere_stays_exact_in_every_mode():
    roi = sphere()
    true_cc = 4 / 3 * np.pi * R**3 / 1000
    dose = linear_dose_z(spacing=2.0, size=24)
    for mode in ("morph", "shape", "spline"):
        h = dvh(dose, roi, interpolation=mode)
        assert h.volume_cc == pytest.approx(true_cc, rel=0.005), mode
        assert h.dmean_gy == pytest.approx(20.0, rel=0.003), mode


def test_shape_mode_follows_a_shifted_shape():
    """An oblique (sheared) cylinder: circles of radius 6 whose centre moves 2 mm per 3 mm plane.
    Between planes the shape-based interpolant stays a disc of radius 6 at the interpolated
    centre, so no sample point lies farther than ~radius + pitch from the true axis."""
    a = np.linspace(0, 2 * np.pi, 120, endpoint=False)
    polys = [np.column_stack([6 * np.cos(a) + 2 * k, 6 * np.sin(a), np.full(120, 3.0 * k)]) for k in range(6)]
    roi = _roi(polys, "oblique")
    from radnec.dose.sampling import morph_points, shape_interpolated_points

    model = contour_model(roi)

    def max_offset(sampler) -> float:
        p, _ = sampler(model, spacing_mm=0.25)
        inner = (p[:, 2] > 0) & (p[:, 2] < 15)
        return float(np.hypot(p[inner, 0] - p[inner, 2] * 2 / 3, p[inner, 1]).max())

    assert max_offset(shape_interpolated_points) < 6.3
    # the blend of the two neighbouring shapes reaches up to the plane offset (2 mm) beyond
    assert max_offset(morph_points) > 7.0


def test_signed_distance_of_a_square():
    sq = [np.array([[-5.0, -5.0], [5.0, -5.0], [5.0, 5.0], [-5.0, 5.0]])]
    us = np.arange(-10, 10, 0.5) + 0.25
    sd = signed_distance(sq, us, us)
    i = int(np.argmin(np.abs(us - 0.25)))
    assert sd[i, i] == pytest.approx(-4.75, abs=0.01)  # inside: distance to the nearest edge
    j = int(np.argmin(np.abs(us - 7.25)))
    assert sd[j, i] == pytest.approx(2.25, abs=0.01)  # outside, beside the right edge


def test_bad_interpolation_name():
    with pytest.raises(ValueError, match="interpolation"):
        dvh(linear_dose_z(), sphere(), interpolation="linear")
