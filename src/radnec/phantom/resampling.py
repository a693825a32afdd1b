"""Planning frame → follow-up frame: the follow-up grid and the exact resampling through ``T^-1``.

Each follow-up has its own frame: ``T = R ∘ M`` maps planning points to follow-up points (rigid
``R``, radial mass effect ``M``; :mod:`radnec.phantom.deform`). Planning-grid arrays (tissue maps,
lesion level fields, the dose) are resampled onto the follow-up grid by evaluating
``T^-1 = M^-1 ∘ R^-1`` exactly at the follow-up voxel centres and interpolating linearly.
Array indices are (z, y, x); points are LPS mm.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from scipy.ndimage import map_coordinates

from radnec.phantom.deform import MassEffect


def _grid_corners(grid: sitk.Image) -> np.ndarray:
    """The eight corner voxel centres of ``grid`` (LPS mm, 8 × 3)."""
    n = np.array(grid.GetSize())
    return np.array([grid.TransformContinuousIndexToPhysicalPoint([float(v) for v in (i, j, k)])
                     for i in (0, n[0] - 1) for j in (0, n[1] - 1) for k in (0, n[2] - 1)])


def followup_grid(planning: sitk.Image, rigid: sitk.Euler3DTransform, pad_mm: float) -> sitk.Image:
    """An axial grid with the planning spacing that holds the rigid image of the planning grid plus ``pad_mm``."""
    corners = np.array([rigid.TransformPoint(p.tolist()) for p in _grid_corners(planning)])
    s = planning.GetSpacing()[0]
    lo = corners.min(0) - pad_mm
    hi = corners.max(0) + pad_mm
    n = np.ceil((hi - lo) / s).astype(int) + 1
    g = sitk.Image([int(v) for v in n], sitk.sitkUInt8)
    g.SetSpacing(planning.GetSpacing())
    g.SetOrigin([float(round(v, 3)) for v in lo])
    g.SetDirection(np.eye(3).ravel().tolist())
    return g


def planning_indices_of(fgrid: sitk.Image, grid: sitk.Image, rigid, mass: MassEffect,
                         box: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Continuous planning-array indices (3, N; z, y, x order) of the follow-up voxel centres
    (all, or those of the index ``box`` = (lo, hi) in z, y, x order), i.e. ``T^-1 = M^-1 ∘ R^-1``
    evaluated exactly (affine part by broadcasting, radial inverse only inside the support of
    the mass effect)."""
    inv = rigid.GetInverse()
    a = np.array(inv.GetMatrix()).reshape(3, 3)
    c = np.array(inv.GetCenter()); t = np.array(inv.GetTranslation())
    off = c + t - a @ c
    of = np.array(fgrid.GetOrigin()); sf = np.array(fgrid.GetSpacing())
    op = np.array(grid.GetOrigin()); sp = np.array(grid.GetSpacing())
    g = (a * sf[None, :]) / sp[:, None]           # planning index per follow-up index (x, y, z)
    h = (a @ of + off - op) / sp
    size = np.array(fgrid.GetSize())[::-1]
    lo, hi = (np.zeros(3, int), size) if box is None else box
    ii = np.arange(lo[2], hi[2], dtype=np.float64).reshape(1, 1, -1)
    jj = np.arange(lo[1], hi[1], dtype=np.float64).reshape(1, -1, 1)
    kk = np.arange(lo[0], hi[0], dtype=np.float64).reshape(-1, 1, 1)
    shape = tuple(int(v) for v in (hi - lo))
    coords = np.empty((3, *shape), dtype=np.float32)
    for row, d in ((0, 2), (1, 1), (2, 0)):      # output order z, y, x
        coords[row] = (g[d, 0] * ii + g[d, 1] * jj) + (g[d, 2] * kk + h[d])
    coords = coords.reshape(3, -1)
    cen = np.asarray(mass.centre)
    r2 = np.zeros(coords.shape[1], dtype=np.float32)
    for row, d in ((0, 2), (1, 1), (2, 0)):
        r2 += (op[d] + sp[d] * coords[row] - cen[d]) ** 2
    near = np.flatnonzero(r2 < mass.support_mm**2)
    if near.size:
        x = np.column_stack([op[d] + sp[d] * coords[row, near].astype(np.float64) for row, d in ((2, 0), (1, 1), (0, 2))])
        x = mass.inverse_points(x)
        for row, d in ((0, 2), (1, 1), (2, 0)):
            coords[row, near] = (x[:, d] - op[d]) / sp[d]
    return coords


def followup_box_of_planning_box(fgrid: sitk.Image, grid: sitk.Image, rigid, lo: np.ndarray, hi: np.ndarray,
                            margin_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Follow-up index box (z, y, x; [lo, hi)) containing the rigid image of a planning index box
    plus ``margin_mm`` (covers the mass-effect displacement)."""
    corners = []
    for k in (lo[0], hi[0] - 1):
        for j in (lo[1], hi[1] - 1):
            for i in (lo[2], hi[2] - 1):
                p = grid.TransformIndexToPhysicalPoint([int(i), int(j), int(k)])
                corners.append(rigid.TransformPoint(p))
    corners = np.array(corners)
    of = np.array(fgrid.GetOrigin()); sf = np.array(fgrid.GetSpacing())
    a = np.floor((corners.min(0) - margin_mm - of) / sf).astype(int)[::-1]
    b = np.ceil((corners.max(0) + margin_mm - of) / sf).astype(int)[::-1] + 1
    size = np.array(fgrid.GetSize())[::-1]
    return np.clip(a, 0, size), np.clip(b, 0, size)


def to_followup(arrays: list[np.ndarray], cvals: list[float], *, grid: sitk.Image, fgrid: sitk.Image, rigid,
                 mass: MassEffect, planning_box: tuple[np.ndarray, np.ndarray] | None = None) -> list[np.ndarray]:
    """Resample planning-grid arrays onto the follow-up grid through ``T^-1`` (linear).

    With ``planning_box`` only the follow-up region that can receive values from that planning
    index box is computed (``cval`` elsewhere). Without it the whole grid is resampled with the
    rigid part by SimpleITK and the region within the mass-effect support is recomputed exactly."""
    fshape = tuple(fgrid.GetSize()[::-1])
    margin = mass.amplitude_mm + 2.0 * max(grid.GetSpacing())
    if planning_box is None:
        out = []
        inv = rigid.GetInverse()
        for arr, cv in zip(arrays, cvals):
            img = sitk.GetImageFromArray(arr.astype(np.float32, copy=False))
            img.CopyInformation(grid)
            out.append(sitk.GetArrayFromImage(sitk.Resample(img, fgrid, inv, sitk.sitkLinear, float(cv), sitk.sitkFloat32)))
        c = np.asarray(mass.centre)
        ci = np.array(grid.TransformPhysicalPointToContinuousIndex(c.tolist()))[::-1]
        half = mass.support_mm / np.array(grid.GetSpacing())[::-1] + 1
        lo = np.maximum(np.floor(ci - half).astype(int), 0)
        hi = np.minimum(np.ceil(ci + half).astype(int) + 1, arrays[0].shape)
        flo, fhi = followup_box_of_planning_box(fgrid, grid, rigid, lo, hi, margin)
        if np.any(fhi <= flo):
            return out
        coords = planning_indices_of(fgrid, grid, rigid, mass, (flo, fhi))
        box = tuple(slice(a, b) for a, b in zip(flo, fhi))
        for o, arr, cv in zip(out, arrays, cvals):
            o[box] = sample_linear(arr, coords, cv).reshape(fhi - flo)
        return out
    lo, hi = planning_box
    flo, fhi = followup_box_of_planning_box(fgrid, grid, rigid, lo, hi, margin)
    out = [np.full(fshape, cv, dtype=np.float32) for cv in cvals]
    if np.any(fhi <= flo):
        return out
    coords = planning_indices_of(fgrid, grid, rigid, mass, (flo, fhi))
    coords -= lo[:, None].astype(np.float32)
    box = tuple(slice(a, b) for a, b in zip(flo, fhi))
    pbox = tuple(slice(a, b) for a, b in zip(lo, hi))
    for o, arr, cv in zip(out, arrays, cvals):
        o[box] = sample_linear(np.ascontiguousarray(arr[pbox]), coords, cv).reshape(fhi - flo)
    return out


def sample_linear(arr: np.ndarray, coords: np.ndarray, cval: float) -> np.ndarray:
    """Linear interpolation of ``arr`` at continuous indices ``coords`` (3, N; z, y, x), ``cval`` outside."""
    return map_coordinates(arr, coords, order=1, mode="constant", cval=cval, prefilter=False)


__all__ = ["followup_grid", "planning_indices_of", "followup_box_of_planning_box", "to_followup", "sample_linear"]
