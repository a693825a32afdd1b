"""Boolean region operations on (z, y, x) voxel arrays used by the lesion segmentation.

Connectivity is 26-neighbour throughout; distances use the voxel spacing (mm, z-y-x order).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi


def ball(spacing_zyx: np.ndarray, radius_mm: float) -> np.ndarray:
    """A spherical structuring element of ``radius_mm`` on a grid of ``spacing_zyx`` (mm)."""
    r = np.maximum(np.floor(radius_mm / spacing_zyx), 0).astype(int)
    zz, yy, xx = np.ogrid[-r[0] : r[0] + 1, -r[1] : r[1] + 1, -r[2] : r[2] + 1]
    return ((zz * spacing_zyx[0]) ** 2 + (yy * spacing_zyx[1]) ** 2 + (xx * spacing_zyx[2]) ** 2) <= radius_mm**2 + 1e-9


def component_at(mask: np.ndarray, seed_zyx: tuple[int, int, int] | np.ndarray) -> np.ndarray:
    """The 26-connected component of ``mask`` containing the seed voxel (or touching a seed mask)."""
    lab, _ = ndi.label(mask, structure=np.ones((3, 3, 3), bool))
    if isinstance(seed_zyx, np.ndarray) and seed_zyx.dtype == bool:
        ids = np.unique(lab[seed_zyx & mask])
        ids = ids[ids > 0]
        return np.isin(lab, ids) if ids.size else np.zeros_like(mask)
    z, y, x = (int(v) for v in seed_zyx)
    return lab == lab[z, y, x] if lab[z, y, x] > 0 else np.zeros_like(mask)


def fill_holes(mask: np.ndarray, *, dark: np.ndarray | None = None) -> np.ndarray:
    """3-D hole filling, then slice-wise 2-D filling in each of the three voxel planes (a rim open
    at its top or bottom still encloses its core in-plane).

    A 2-D fill is kept where at least two planes agree (so concave notches are not filled), or, when
    ``dark`` is given, where one plane encloses voxels that are dark (non-enhancing core).
    """
    out = ndi.binary_fill_holes(mask)
    votes = np.zeros(out.shape, np.uint8)
    for axis in range(3):
        votes += fill_holes_in_planes(out, axis) & ~out
    keep = votes >= 2
    if dark is not None:
        keep |= (votes >= 1) & dark
    return out | keep


def fill_holes_in_planes(mask: np.ndarray, axis: int) -> np.ndarray:
    """:func:`scipy.ndimage.binary_fill_holes` of every 2-D plane of ``mask`` across ``axis`` (4-connected
    background, as that function's default), in one labelling of the whole volume instead of a call per plane."""
    structure = np.zeros((3, 3, 3), bool)
    plane: list[slice | int] = [slice(None)] * 3
    plane[axis] = 1
    structure[tuple(plane)] = ndi.generate_binary_structure(2, 1)
    lab, n = ndi.label(~mask, structure=structure)
    outside = np.zeros(n + 1, bool)
    outside[0] = True  # label 0: the mask itself
    for ax in range(3):
        if ax != axis:
            for end in (0, -1):
                face: list[slice | int] = [slice(None)] * 3
                face[ax] = end
                outside[np.unique(lab[tuple(face)])] = True
    return mask | ~outside[lab]


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 26-connected component of ``mask`` (``mask`` itself when empty)."""
    lab, n = ndi.label(mask, structure=np.ones((3, 3, 3), bool))
    if n == 0:
        return mask
    sizes = ndi.sum(mask, lab, index=np.arange(1, n + 1))
    return lab == int(np.argmax(sizes)) + 1


def drop_small(mask: np.ndarray, min_vox: int) -> np.ndarray:
    """``mask`` without its 26-connected components of fewer than ``min_vox`` voxels."""
    lab, n = ndi.label(mask, structure=np.ones((3, 3, 3), bool))
    if n == 0:
        return mask
    sizes = ndi.sum(mask, lab, index=np.arange(1, n + 1))
    keep = np.flatnonzero(sizes >= min_vox) + 1
    return np.isin(lab, keep)


__all__ = ["ball", "component_at", "fill_holes", "largest_component", "drop_small"]
