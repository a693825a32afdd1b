"""Unit checks of the phantom's geometry and dose building blocks (fast, no case generation)."""

from __future__ import annotations

import numpy as np
import pytest

from radnec.errors import GeometryError
from radnec.phantom.deform import MassEffect, planning_to_followup, rigid_points, rigid_transform, rotation_angle_deg
from radnec.phantom.dose_model import build_dose, plan_metrics


def test_mass_effect_inverse_is_exact_and_diffeomorphic():
    m = MassEffect((5.0, -3.0, 2.0), 3.0, 40.0)
    pts = np.random.default_rng(0).uniform(-60, 60, size=(5000, 3))
    assert np.abs(m.inverse_points(m.forward_points(pts)) - pts).max() < 1e-6
    r = np.linspace(0, 40, 4001)
    assert np.all(np.diff(r + m.u(r)) > 0)          # rho strictly increasing
    assert m.u(np.array([0.0, 40.0, 80.0])).tolist() == [0.0, 0.0, 0.0]
    assert m.u(r).max() == pytest.approx(3.0, rel=1e-3)
    with pytest.raises(GeometryError):
        MassEffect((0.0, 0.0, 0.0), 30.0, 20.0)      # would fold


def test_composite_order_is_rigid_after_mass_effect():
    rng = np.random.default_rng(1)
    rigid = rigid_transform(rng, centre=np.zeros(3), min_deg=8, max_deg=10, min_mm=10, max_mm=15)
    assert 8 <= rotation_angle_deg(rigid) <= 10
    m = MassEffect((10.0, 0.0, 0.0), 3.0, 40.0)
    t = planning_to_followup(rigid, m, spacing_mm=1.0)
    pts = rng.uniform(-20, 40, size=(200, 3))
    expected = rigid_points(rigid, m.forward_points(pts))
    got = np.array([t.TransformPoint(p.tolist()) for p in pts])
    assert np.abs(got - expected).max() < 0.05
    wrong = m.forward_points(rigid_points(rigid, pts))   # the other order differs
    assert np.abs(got - wrong).max() > 0.5


@pytest.mark.parametrize("iso", [0.5, 0.8])
def test_dose_hits_conformity_and_gradient_targets(iso):
    z, y, x = np.mgrid[-30:31, -30:31, -30:31].astype(float)
    r = np.sqrt(x**2 + (1.2 * y) ** 2 + (0.9 * z) ** 2)   # ellipsoid: isodose volumes not in big shells
    ptv = r <= 8.0
    dose = build_dose(ptv, distance_mm=r - 8.0, spacing_zyx=(1.0, 1.0, 1.0), prescription_gy=20.0,
                      isodose_fraction=iso, ci_target=1.15, gi_target=3.0, bath_fraction=0.03,
                      bath_length_mm=25.0, smoothing_sigma_mm=0.8)
    m = plan_metrics(dose, ptv=ptv, gtv=ptv, brain=np.ones_like(ptv), voxel_cc=0.001, prescription_gy=20.0,
                     v12_threshold_gy=12.0)
    assert m.max_dose_gy == pytest.approx(20.0 / iso)
    assert m.ci_rtog == pytest.approx(1.15, abs=0.05)
    assert m.gi == pytest.approx(3.0, abs=0.15)
    assert m.gtv_coverage_pct == 100.0
    # dose decreases monotonically with distance outside the target
    prof = dose[30, 30, 39:]
    assert np.all(np.diff(prof) < 0)


def test_rano_diameters_of_an_ellipse():
    from radnec.phantom.truth import rano_diameters_mm

    yy, xx = np.mgrid[-20:21, -20:21].astype(float)
    ell = ((xx / 12.0) ** 2 + (yy / 6.0) ** 2) <= 1.0
    mask = np.zeros((3, *ell.shape), dtype=bool)
    mask[1] = ell
    ld, perp = rano_diameters_mm(mask, (0.5, 0.5))      # 0.5 mm pixels: 6 x 3 mm ellipse
    assert ld == pytest.approx(12.5, abs=0.5)
    assert perp == pytest.approx(6.5, abs=0.5)
    assert rano_diameters_mm(np.zeros((2, 4, 4), bool), (1.0, 1.0)) == (0.0, 0.0)


def test_montage_png(tmp_path):
    from radnec.phantom.generate import build_case
    from radnec.phantom.montage import save_montage

    case = build_case("marginal", 0, months=[6], voxel_mm=3.0)
    png = save_montage(case, tmp_path / "m.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_radial_jacobian_gives_the_deformed_ball_volume():
    """The follow-up volume of a planning ball = integral of the mass-effect Jacobian over it (the
    phantom's Leeman ratio is hit in the follow-up frame with this weighting)."""
    from radnec.phantom.mass_edema import radial_jacobian as _radial_jacobian

    m = MassEffect((0.0, 0.0, 0.0), 3.0, 54.0)
    for radius in (5.0, 14.0, 30.0, 60.0):
        r = np.linspace(0.0, radius, 200001)
        integral = np.trapezoid(_radial_jacobian(m, r).astype(np.float64) * 4 * np.pi * r**2, r)
        rho = radius + float(m.u(np.array([radius]))[0])
        assert integral == pytest.approx(4 / 3 * np.pi * rho**3, rel=1e-4)
    assert float(_radial_jacobian(m, np.array([0.0]))[0]) == pytest.approx(1.0)
    assert float(_radial_jacobian(m, np.array([80.0]))[0]) == pytest.approx(1.0)
    flat = MassEffect((0.0, 0.0, 0.0), 0.0, 40.0)
    assert np.allclose(_radial_jacobian(flat, np.linspace(0, 50, 11)), 1.0)
