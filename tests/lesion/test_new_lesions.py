"""New enhancing lesions outside every target (radnec.lesion.new_lesions) and per-lesion status."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from radnec.lesion.longitudinal import lesion_status
from radnec.lesion.new_lesions import find_new_lesions


def _head(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A 2 mm 'head': a noisy ellipsoid of tissue (100 ± 5) in air, and the voxel grid (z, y, x) in mm."""
    z, y, x = np.mgrid[0:60, 0:80, 0:70].astype(float) * 2.0
    inside = ((x - 70) / 60) ** 2 + ((y - 80) / 70) ** 2 + ((z - 60) / 52) ** 2 <= 1.0
    arr = np.where(inside, 100.0, 0.0) + rng.normal(0, 5, inside.shape) * inside
    return arr, np.stack([z, y, x])


def _img(arr: np.ndarray) -> sitk.Image:
    img = sitk.GetImageFromArray(arr.astype(np.float32))
    img.SetSpacing((2.0, 2.0, 2.0))
    img.SetOrigin((-70.0, -80.0, -60.0))
    return img


def _ball(zyx: np.ndarray, centre_mm, radius_mm) -> np.ndarray:
    c = np.asarray(centre_mm, float).reshape(3, 1, 1, 1)
    return ((zyx - c) ** 2).sum(0) <= radius_mm**2


@pytest.fixture(scope="module")
def scans():
    rng = np.random.default_rng(0)
    plan, zyx = _head(rng)
    late = plan + rng.normal(0, 5, plan.shape) * (plan > 0)
    vessel = (np.abs(zyx[0] - 60) <= 2) & (np.abs(zyx[2] - 50) <= 2) & (np.abs(zyx[1] - 80) <= 40)
    plan[vessel] = late[vessel] = 180.0  # enhances at both times: not new
    treated = _ball(zyx, (60, 80, 100), 6)
    late[_ball(zyx, (60, 80, 100), 9)] = 170.0  # the treated lesion, grown
    new = _ball(zyx, (80, 120, 60), 5)
    late[new] = 175.0  # new metastasis
    thin = (np.abs(zyx[0] - 40) <= 1) & (np.abs(zyx[2] - 90) <= 1) & (np.abs(zyx[1] - 60) <= 14)
    late[thin] = 175.0  # a new vessel-like streak (elongated): not a lesion
    targets = _img(_ball(zyx, (60, 80, 100), 8).astype(np.uint8))
    return _img(plan), _img(late), targets, treated


def test_finds_the_new_lesion_and_nothing_else(scans):
    plan, late, targets, _ = scans
    found = find_new_lesions(plan, late, targets=targets)
    assert len(found) == 1, found
    c = found[0]
    # centre (mm, z y x) (80, 120, 60) -> LPS = origin + (x, y, z)
    assert np.allclose(c.centroid_lps, (-70 + 60, -80 + 120, -60 + 80), atol=1.0)
    assert c.volume_cc == pytest.approx(4 / 3 * np.pi * 5**3 / 1000, rel=0.35)
    assert c.elongation < 2.0  # a 5 mm ball on a 2 mm grid; the streak (elongation > 3) was dropped


def test_without_the_target_mask_the_grown_treated_lesion_is_a_candidate_too(scans):
    plan, late, _, _ = scans
    found = find_new_lesions(plan, late, targets=None)
    assert len(found) == 2  # the grown treated lesion's rim is new enhancement; the target mask is what excludes it


def test_nothing_new_nothing_found(scans):
    plan, _, targets, _ = scans
    assert find_new_lesions(plan, plan, targets=targets) == []


def test_the_follow_up_must_be_on_the_planning_grid(scans):
    plan, late, _, _ = scans
    from radnec.errors import GeometryError

    shifted = sitk.Image(late)
    shifted.SetOrigin((0.0, 0.0, 0.0))
    with pytest.raises(GeometryError):
        find_new_lesions(plan, shifted)


@pytest.mark.parametrize(
    "cats, vols, status",
    [
        (["baseline", "SD", "PD"], [1.0, 1.1, 2.0], "enlarging"),
        (["baseline", "SD", "SD"], [1.0, 1.0, 1.3], "growing"),
        (["baseline", "SD", "SD"], [0.10, 0.10, 0.13], "stable"),  # +30 % but only 0.03 cm³
        (["baseline", "PR"], [2.0, 0.8], "responding"),
        (["baseline", "SD"], [1.0, 1.05], "stable"),
        # regrown from its nadir, then holding its size: still the growing lesion (vs the nadir, not the previous study)
        (["baseline", "PR", "SD", "SD"], [1.70, 0.456, 1.04, 1.03], "growing"),
        (["baseline", "PR", "PR"], [2.0, 0.5, 0.52], "responding"),  # +4 % from the nadir: noise
        (["baseline"], [1.0], "baseline only"),
    ],
)
def test_lesion_status(cats, vols, status):
    assert lesion_status(cats, vols)[0] == status
