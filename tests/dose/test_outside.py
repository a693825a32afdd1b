"""Dose outside the dose grid: bounded by the highest dose on the grid boundary (issue 18)."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from radnec.dose.lesion import lesion_dose, map_lesion
from radnec.dose.outside import outside_dose_bound
from radnec.dose.pattern import dose_edge_max_gy


def _dose() -> sitk.Image:
    """A 41×41×41 grid (2 mm) with a Gaussian dose peak of 24 Gy at the centre (LPS origin -40 mm)."""
    z, y, x = np.mgrid[0:41, 0:41, 0:41].astype(float)
    r2 = (x - 20) ** 2 + (y - 20) ** 2 + (z - 20) ** 2
    img = sitk.GetImageFromArray((24.0 * np.exp(-r2 / (2 * 6.0**2))).astype(np.float32))
    img.SetSpacing((2.0, 2.0, 2.0))
    img.SetOrigin((-40.0, -40.0, -40.0))
    return img


def _sphere(centre_mm: tuple[float, float, float], radius_mm: float) -> sitk.Image:
    """A sphere mask on a large 1-mm grid around the origin (the 'follow-up' grid)."""
    n = 161
    z, y, x = (np.mgrid[0:n, 0:n, 0:n].astype(float) - 80.0)
    cx, cy, cz = centre_mm
    m = ((x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 <= radius_mm**2).astype(np.uint8)
    img = sitk.GetImageFromArray(m)
    img.SetOrigin((-80.0, -80.0, -80.0))
    return img


def test_lesion_entirely_outside_is_bounded_by_the_boundary_maximum():
    dose = _dose()
    mask = _sphere((65.0, 0.0, 0.0), 6.0)  # 25 mm beyond the +x face at 40 mm
    mapped = map_lesion(dose, mask)
    bound = outside_dose_bound(dose, mapped, dmax_in_grid_gy=None)
    assert bound is not None and bound.outside_fraction == 1.0
    edge = dose_edge_max_gy(dose)
    assert bound.dmax_upper_bound_gy == edge == bound.boundary_max_gy
    assert bound.shown == f"< {edge:.2g} Gy" and "whole lesion" in bound.basis
    block = bound.to_contract()
    assert block["shown"].startswith("< ") and block["outside_fraction"] == 1.0


def test_lesion_partly_outside_takes_the_larger_of_inside_maximum_and_boundary():
    dose = _dose()
    mask = _sphere((38.0, 0.0, 0.0), 6.0)  # straddles the +x face
    mapped = map_lesion(dose, mask)
    ld = lesion_dose(dose, mask, transform=None, prescription_gy=24.0, mapped=mapped)
    bound = outside_dose_bound(dose, mapped, dmax_in_grid_gy=ld.dmax_gy)
    assert bound is not None and 0.05 < bound.outside_fraction < 0.8
    assert bound.dmax_upper_bound_gy == max(ld.dmax_gy, dose_edge_max_gy(dose))
    # the true dose of the analytic Gaussian beyond the face is indeed below the bound
    true_outside_max = 24.0 * np.exp(-((40.0 / 2) ** 2) / (2 * 6.0**2))
    assert true_outside_max <= bound.dmax_upper_bound_gy + 1e-6


def test_lesion_inside_the_grid_needs_no_bound():
    dose = _dose()
    mapped = map_lesion(dose, _sphere((5.0, 0.0, 0.0), 5.0))
    assert outside_dose_bound(dose, mapped, dmax_in_grid_gy=20.0) is None
