"""Lesion dose, failure pattern and growth symmetry on synthetic geometry built by construction:
a spherical dose cloud (100 % Rx at 8 mm, 80 % at 8.86 mm, 50 % at 10.5 mm) and spherical lesions at
known places, seen in a rotated, shifted follow-up frame through a known rigid transform."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from radnec.dose.lesion import lesion_dose, map_lesion
from radnec.dose.pattern import classify_pattern
from radnec.dose.symmetry import growth_symmetry
from radnec.errors import GeometryError

from .synthetic import R_RX_MM, RX_GY, dose_cloud, grid, radius_at_pct, sphere_mask


@pytest.fixture(scope="module")
def setup():
    dose = dose_cloud(grid(56, 1.0))
    fu = grid(64, 0.9, direction=[[0, 1, 0], [-1, 0, 0], [0, 0, 1]], origin_shift=(5, -3, 2))
    T = sitk.Euler3DTransform()
    T.SetRotation(0.1, -0.05, 0.2)
    T.SetTranslation((5.0, -3.0, 2.0))

    def lesion(centre, radius):
        c = np.array(T.TransformPoint(tuple(float(v) for v in centre)))
        return sphere_mask(fu, c, radius)

    gtv = sphere_mask(grid(56, 1.0), (0, 0, 0), 6.0)
    return dose, T, lesion, gtv


SCENARIOS = {
    # name: (centre in planning frame, radius, expected pattern, expected symmetry)
    "necrosis": ((0.0, 0.0, 0.0), 1.2 * R_RX_MM, "in-field", "symmetric"),
    "infield": ((3.0, 0.0, 0.0), 3.0, "in-field", "eccentric"),
    "marginal": ((radius_at_pct(80), 0.0, 0.0), 4.0, "marginal", "eccentric"),
    "distant": ((0.0, 24.0, 0.0), 3.5, "out-of-field", "eccentric"),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenarios_with_true_transform(setup, name):
    dose, T, lesion, gtv = setup
    centre, radius, pattern, symmetry = SCENARIOS[name]
    les = lesion(centre, radius)
    m = map_lesion(dose, les, transform=T)
    p = classify_pattern(dose, les, transform=T, prescription_gy=RX_GY, gtv=gtv, mapped=m)
    s = growth_symmetry(dose, les, transform=T, prescription_gy=RX_GY, mapped=m)
    assert p.pattern == pattern, p.to_dict()
    assert s.growth_symmetry == symmetry, s.to_dict()
    assert "glioma" in p.citation.lower() or "Radiat Oncol 2013" in p.citation


def test_lesion_coverage_matches_geometry(setup):
    dose, T, lesion, _ = setup
    r = 1.2 * R_RX_MM
    ld = lesion_dose(dose, lesion((0, 0, 0), r), transform=T, prescription_gy=RX_GY)
    # fraction of a centred sphere of radius r inside the isodose sphere of radius ρ: (ρ / r)³
    for key, pct in (("rx100", 100), ("rx80", 80), ("rx50", 50)):
        expected = 100 * min(1.0, (radius_at_pct(pct) / r) ** 3)
        assert ld.coverage_pct[key] == pytest.approx(expected, abs=3.0), key
    assert ld.dmax_gy == pytest.approx(2 * RX_GY, rel=0.01)
    # Dmin at the surface of the voxelised sphere (0.9 mm follow-up voxels reach ≤ 0.78 mm beyond r)
    d_at = lambda rad: 2 * RX_GY / (1 + (rad / R_RX_MM) ** 4)  # noqa: E731
    assert d_at(r + 0.9 * np.sqrt(3) / 2) - 0.1 <= ld.dmin_gy <= d_at(r) + 0.1
    assert ld.volume_cc == pytest.approx(4 / 3 * np.pi * r**3 / 1000, rel=0.03)
    assert ld.outside_fraction < 0.01
    block = ld.to_contract()
    assert set(block) >= {"dmin_gy", "dmean_gy", "dmax_gy", "d95_gy", "coverage_pct"}
    assert set(block["coverage_pct"]) == {"rx100", "rx80", "rx50"}
    assert set(block["coverage_abs_pct"]) == {"12gy", "10gy"}
    assert "Resample" in block["method"]["direction"]


def test_wrong_transform_direction_changes_the_answer(setup):
    """Guard the convention: using T⁻¹ instead of T must not give the same coverage."""
    dose, T, lesion, _ = setup
    les = lesion(SCENARIOS["marginal"][0], 4.0)
    right = lesion_dose(dose, les, transform=T, prescription_gy=RX_GY)
    wrong = lesion_dose(dose, les, transform=T.GetInverse(), prescription_gy=RX_GY)
    assert abs(right.coverage_pct["rx50"] - wrong.coverage_pct["rx50"]) > 20


def test_point_of_origin_from_earlier_time_point(setup):
    dose, T, lesion, gtv = setup
    late = lesion((radius_at_pct(80) + 2.0, 0, 0), 5.0)
    early = lesion((radius_at_pct(90), 0, 0), 2.0)
    p = classify_pattern(dose, late, transform=T, prescription_gy=RX_GY, gtv=gtv, origin_mask=early, origin_transform=T)
    assert p.origin["source"] == "earliest enlarging time point"
    assert p.origin["dose_pct_rx"] == pytest.approx(90, abs=4)
    assert p.origin["zone"] == "between the 80 % and 100 % Rx isodoses"
    assert p.origin["signed_distance_to_rx_isodose_mm"] == pytest.approx(radius_at_pct(90) - R_RX_MM, abs=1.0)


def test_lesion_outside_dose_grid_refused(setup):
    dose, _, _, _ = setup
    far = sphere_mask(grid(20, 1.0, origin_shift=(300.0, 0, 0)), (300.0, 0.0, 0.0), 4.0)
    with pytest.raises(GeometryError, match="outside the dose grid"):
        lesion_dose(dose, far, transform=None, prescription_gy=RX_GY)
    with pytest.raises(GeometryError, match="empty"):
        lesion_dose(dose, sphere_mask(grid(20, 1.0), (0, 0, 0), 0.0) * 0, transform=None, prescription_gy=RX_GY)


def test_analyze_lesion_one_call(setup):
    import json

    from radnec.jsonio import dumps
    from radnec.dose.analysis import analyze_lesion

    dose, T, lesion, gtv = setup
    centre, radius, pattern, symmetry = SCENARIOS["necrosis"]
    out = analyze_lesion(dose, lesion(centre, radius), prescription_gy=RX_GY, transform=T, gtv=gtv)
    assert (out["pattern"], out["growth_symmetry"]) == (pattern, symmetry)
    assert set(out["dose"]["coverage_pct"]) == {"rx100", "rx80", "rx50"}
    back = json.loads(dumps(out))  # JSON-safe
    assert back["pattern_detail"]["fractions_inside"]["rx50"] > 0.9


def test_lesion_beyond_a_grid_that_holds_the_falloff_is_out_of_field(setup):
    dose, _, _, _ = setup  # 56 mm grid, 50 % Rx isodose at 10.5 mm: the grid contains it
    far = sphere_mask(grid(30, 1.0, origin_shift=(60.0, 0, 0)), (60.0, 0.0, 0.0), 4.0)
    p = classify_pattern(dose, far, prescription_gy=RX_GY)
    assert p.pattern == "out-of-field" and p.origin["zone"] == "outside the dose grid"
    assert growth_symmetry(dose, far, prescription_gy=RX_GY).growth_symmetry == "eccentric"
    # half in, half out of the grid (grid edge at x = 27.5 mm)
    edge = sphere_mask(grid(40, 1.0, origin_shift=(27.5, 0, 0)), (27.5, 0.0, 0.0), 4.0)
    q = classify_pattern(dose, edge, prescription_gy=RX_GY)
    assert q.pattern == "out-of-field" and any("outside the dose grid" in n for n in q.notes)


def test_volume_changing_transform_is_not_reported_as_outside(setup):
    """A transform that expands tissue (mass effect) changes the mapped volume; that is not a part
    of the lesion outside the dose grid."""
    dose, _, _, _ = setup
    T = sitk.ScaleTransform(3, (1.3, 1.3, 1.3))  # planning → follow-up: everything 1.3× larger there
    fu_lesion = sphere_mask(grid(64, 1.0), (0.0, 0.0, 0.0), 1.3 * 6.0)  # = planning sphere of 6 mm
    ld = lesion_dose(dose, fu_lesion, transform=T, prescription_gy=RX_GY)
    assert ld.outside_fraction == 0.0 and not ld.notes
    assert ld.volume_in_grid_cc == pytest.approx(4 / 3 * np.pi * 6.0**3 / 1000, rel=0.05)
    assert ld.volume_cc == pytest.approx(4 / 3 * np.pi * 7.8**3 / 1000, rel=0.05)  # follow-up frame
    assert ld.coverage_pct["rx100"] == pytest.approx(100.0, abs=0.5)  # 6 mm < 8 mm Rx radius
    p = classify_pattern(dose, fu_lesion, transform=T, prescription_gy=RX_GY)
    assert p.pattern == "in-field" and not p.notes


def test_origin_rule_keeps_necrosis_like_growth_into_the_falloff_in_field(setup):
    """A lesion centred in the Rx isodose that reaches well into the fall-off (only ~60-70 % of its
    new volume inside the 50 % isodose) stays in-field by the point-of-origin rule; the same lesion
    centred at the 80 % isodose (origin outside Rx) is marginal."""
    dose, T, lesion, gtv = setup
    r50 = radius_at_pct(50)
    big = lesion((0.0, 0.0, 0.0), 1.2 * r50)
    p = classify_pattern(dose, big, transform=T, prescription_gy=RX_GY, gtv=gtv)
    assert 0.5 <= p.fractions["rx50"] < 0.8, p.to_dict()
    assert p.pattern == "in-field"
    shifted = lesion((radius_at_pct(80), 0.0, 0.0), 1.2 * r50)
    q = classify_pattern(dose, shifted, transform=T, prescription_gy=RX_GY, gtv=gtv)
    assert q.origin["dose_pct_rx"] < 100 and q.pattern == "marginal", q.to_dict()


def test_origin_outside_a_grid_that_holds_the_falloff_is_out_of_field(setup):
    """A distant lesion whose earliest enlarging time point lies wholly outside the dose grid
    (the grid holds the whole 50 % isodose) is out-of-field, not an error."""
    dose, _, _, gtv = setup  # 56 mm grid holding the 50 % isodose
    far = sphere_mask(grid(30, 1.0, origin_shift=(60.0, 0, 0)), (60.0, 0.0, 0.0), 4.0)
    p = classify_pattern(dose, far, prescription_gy=RX_GY, gtv=gtv, origin_mask=far)
    assert p.pattern == "out-of-field"
    assert p.origin["zone"] == "outside the dose grid"
