from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from radnec import geometry
from radnec.errors import GeometryError


def _img(origin=(0.0, 0.0, 0.0), spacing=(1.0, 1.0, 2.0), direction=None):
    img = sitk.Image(10, 12, 8, sitk.sitkUInt8)
    img.SetOrigin(origin)
    img.SetSpacing(spacing)
    if direction is not None:
        img.SetDirection(direction)
    return img


def test_require_same_grid_rejects_shift():
    a, b = _img(), _img(origin=(0.0, 0.5, 0.0))
    geometry.require_same_grid(a, _img())
    with pytest.raises(GeometryError, match="dose and mask are on different grids"):
        geometry.require_same_grid(a, b, what="dose and mask")


def test_physical_points_roundtrip_with_oblique_direction():
    c, s = np.cos(0.3), np.sin(0.3)
    direction = (c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0)
    img = _img(origin=(-5.0, 3.0, 10.0), direction=direction)
    idx_zyx = np.array([[3, 4, 5], [0, 0, 0], [7, 11, 9]])
    pts = geometry.physical_points(img, idx_zyx)
    for (z, y, x), p in zip(idx_zyx, pts):
        assert np.allclose(p, img.TransformIndexToPhysicalPoint((int(x), int(y), int(z))))
    assert np.allclose(geometry.continuous_indices(img, pts), idx_zyx[:, ::-1])


def test_mask_volume_and_centroid():
    img = _img(spacing=(1.0, 1.0, 2.0))
    arr = np.zeros((8, 12, 10), np.uint8)
    arr[2:4, 3:7, 2:7] = 1  # 2*4*5 = 40 voxels of 2 mm3
    mask = sitk.GetImageFromArray(arr)
    mask.CopyInformation(img)
    assert geometry.mask_volume_cc(mask) == pytest.approx(0.080)
    assert np.allclose(geometry.mask_centroid_lps(mask), (4.0, 4.5, 5.0))
    with pytest.raises(GeometryError, match="empty"):
        geometry.mask_centroid_lps(img)


@pytest.mark.parametrize("text", ["1,2", "a,b,c", "1,2,nan"])
def test_parse_point_rejects(text):
    with pytest.raises(GeometryError):
        geometry.parse_point(text)


def test_parse_point():
    assert geometry.parse_point(" -12.5, 3,40 ") == (-12.5, 3.0, 40.0)
