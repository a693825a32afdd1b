"""Slice-wise hole filling in one labelling equals SciPy's per-plane binary_fill_holes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from radnec.lesion.regions import fill_holes_in_planes


def _per_plane(mask: np.ndarray, axis: int) -> np.ndarray:
    out = np.zeros_like(mask)
    for i in range(mask.shape[axis]):
        sl: list[slice | int] = [slice(None)] * 3
        sl[axis] = i
        out[tuple(sl)] = ndi.binary_fill_holes(mask[tuple(sl)])
    return out


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_equals_scipy_per_plane(axis):
    rng = np.random.default_rng(axis)
    for trial in range(60):
        shape = tuple(int(v) for v in rng.integers(1, 20, 3))
        mask = rng.random(shape) < rng.uniform(0.2, 0.8)
        if trial % 2:
            mask = ndi.binary_dilation(mask) ^ ndi.binary_erosion(mask, iterations=2)  # rims with holes
        np.testing.assert_array_equal(fill_holes_in_planes(mask, axis), _per_plane(mask, axis))


def test_a_ring_open_along_the_axis_is_filled_in_its_planes_only():
    ring = np.zeros((5, 9, 9), bool)
    ring[1:4, 2:7, 2:7] = True
    ring[1:4, 3:6, 3:6] = False  # a tube along z: a hole in every z plane, none in y or x planes
    assert fill_holes_in_planes(ring, 0)[1:4, 3:6, 3:6].all()
    assert not fill_holes_in_planes(ring, 1)[1:4, 3:6, 3:6].any()
    assert not fill_holes_in_planes(ring, 2)[1:4, 3:6, 3:6].any()
