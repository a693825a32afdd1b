"""Mask ↔ planar contour conversion for RTSTRUCT (axial slices, LPS mm).

Contours are traced with :func:`skimage.measure.find_contours` at the 0.5 level of each axial
slice of a binary mask, so each polygon passes midway between inside and outside voxel centres
and rasterising it back with the voxel-centre rule (:func:`skimage.draw.polygon2mask`) returns
the same mask. Masks are hole-filled per slice first, so contours of one structure never nest.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from scipy import ndimage
from skimage import draw, measure

from radnec.errors import GeometryError


def _require_axial(grid: sitk.Image) -> None:
    if not np.allclose(grid.GetDirection(), np.eye(3).ravel(), atol=1e-6):
        raise GeometryError("phantom contours need an axial grid with identity direction cosines")


def mask_to_contours(mask: sitk.Image) -> list[np.ndarray]:
    """Closed planar contours (each an (N, 3) array of LPS mm points, one z) of a uint8 mask."""
    _require_axial(mask)
    arr = sitk.GetArrayViewFromImage(mask) > 0
    o = np.array(mask.GetOrigin()); s = np.array(mask.GetSpacing())
    out: list[np.ndarray] = []
    for k in np.flatnonzero(arr.reshape(arr.shape[0], -1).any(1)):
        sl = ndimage.binary_fill_holes(arr[k])
        padded = np.pad(sl, 1).astype(np.float32)
        for c in measure.find_contours(padded, 0.5):
            rows, cols = c[:, 0] - 1.0, c[:, 1] - 1.0
            if len(c) < 4:
                continue
            pts = np.column_stack([o[0] + s[0] * cols, o[1] + s[1] * rows, np.full(len(c), o[2] + s[2] * k)])
            if np.allclose(pts[0], pts[-1]):
                pts = pts[:-1]
            out.append(pts)
    return out


def contours_to_mask(contours: list[np.ndarray], grid: sitk.Image) -> np.ndarray:
    """Rasterise planar contours (LPS mm) onto ``grid`` (voxel-centre rule, XOR of polygons per
    slice). Returns a boolean (z, y, x) array."""
    _require_axial(grid)
    n = grid.GetSize(); o = np.array(grid.GetOrigin()); s = np.array(grid.GetSpacing())
    out = np.zeros((n[2], n[1], n[0]), dtype=bool)
    for pts in contours:
        k = int(round((pts[0, 2] - o[2]) / s[2]))
        if not 0 <= k < n[2]:
            continue
        rc = np.column_stack([(pts[:, 1] - o[1]) / s[1], (pts[:, 0] - o[0]) / s[0]])
        out[k] ^= draw.polygon2mask((n[1], n[0]), rc)
    return out
