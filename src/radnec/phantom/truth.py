"""Ground truth of a phantom case: numeric pattern measures and ``truth.json``.

All pattern measures are computed in the PLANNING frame on the planning grid (where the dose
is), from the planning-frame truth masks of each follow-up (before the follow-up's own
rigid/mass-effect transform). "New enhancing volume" = enhancing voxels of the index lesion
outside the planning GTV.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.ndimage import map_coordinates

from radnec.geometry import MM3_PER_CC
from radnec.phantom.model import PhantomCase, Study

TRUTH_SCHEMA_VERSION = 1


def _frac(mask: np.ndarray, region: np.ndarray) -> float | None:
    n = int(mask.sum())
    return None if n == 0 else float((mask & region).sum()) / n


def _centroid_idx(mask: np.ndarray) -> np.ndarray:
    return np.argwhere(mask).mean(0)


def pattern_measures(case: PhantomCase, study: Study) -> dict[str, Any]:
    """Geometry of the index lesion relative to the planned dose (planning frame)."""
    grid = case.anatomy.grid
    pm = study.planning_masks
    names = sorted(case.lesion_names)
    j = names.index(case.index_lesion) + 1
    voxel_cc = float(np.prod(grid.GetSpacing())) / MM3_PER_CC
    lesion = pm["lesion_labels"] == j
    enh = lesion & pm["enhancing"]
    gtv = _arr(case.structures["GTV"]) > 0
    new = enh & ~gtv
    dose = case.dose_on_planning
    rx = case.prescription_gy
    piv = dose >= rx
    ref = new if new.any() else enh
    out: dict[str, Any] = {"index_lesion": case.index_lesion, "frame": "planning"}
    out["t1_lesion_cc"] = float(lesion.sum() * voxel_cc)
    out["enhancing_cc"] = float(enh.sum() * voxel_cc)
    out["new_enhancing_cc"] = float(new.sum() * voxel_cc)
    for pct in (100, 95, 80, 50):
        region = dose >= rx * pct / 100.0
        out[f"enhancing_inside_rx{pct}"] = _frac(enh, region)
        out[f"new_enhancing_inside_rx{pct}"] = _frac(new, region)
    if ref.any():
        c = _centroid_idx(ref)
        out["new_enhancing_centroid_lps"] = list(grid.TransformContinuousIndexToPhysicalPoint([float(v) for v in c[::-1]]))
        out["dose_at_new_centroid_pct_rx"] = 100.0 * float(map_coordinates(dose, c.reshape(3, 1), order=1)[0]) / rx
    if lesion.any():
        cl = _centroid_idx(lesion)
        out["dose_at_lesion_centroid_pct_rx"] = 100.0 * float(map_coordinates(dose, cl.reshape(3, 1), order=1)[0]) / rx
    out["rx_isodose_inside_lesion"] = _frac(piv, lesion)
    if lesion.any():
        off = (_centroid_idx(lesion) - _centroid_idx(piv)) * np.array(grid.GetSpacing()[::-1])
        r_eq = (3.0 * lesion.sum() * voxel_cc * MM3_PER_CC / (4.0 * np.pi)) ** (1.0 / 3.0)
        out["centroid_offset_from_rx_volume_mm"] = float(np.linalg.norm(off))
        out["centroid_offset_fraction_of_radius"] = float(np.linalg.norm(off) / r_eq)
    return out


def _arr(img) -> np.ndarray:
    import SimpleITK as sitk

    return sitk.GetArrayViewFromImage(img)


def rano_diameters_mm(mask: np.ndarray, spacing_xy: tuple[float, float]) -> tuple[float, float]:
    """RANO-BM longest axial diameter and the longest diameter perpendicular to it (mm), over
    all axial slices (voxel-centre extent plus one voxel)."""

    best = (0.0, 0.0)
    if not mask.any():
        return best
    for k in np.flatnonzero(mask.reshape(mask.shape[0], -1).any(1)):
        pts = np.argwhere(mask[k]).astype(float) * np.array([spacing_xy[1], spacing_xy[0]])
        if len(pts) == 1:
            d = (min(spacing_xy), min(spacing_xy))
        else:
            from scipy.spatial import ConvexHull, QhullError

            try:
                hull = pts[ConvexHull(pts).vertices]
            except (QhullError, ValueError):
                hull = pts
            diff = hull[:, None, :] - hull[None, :, :]
            dist = np.sqrt((diff**2).sum(-1))
            a, b = np.unravel_index(np.argmax(dist), dist.shape)
            axis = (hull[b] - hull[a]) / max(dist[a, b], 1e-9)
            perp = np.array([-axis[1], axis[0]])
            proj = pts @ perp
            d = (float(dist[a, b]) + min(spacing_xy), float(proj.max() - proj.min()) + min(spacing_xy))
        if d[0] > best[0]:
            best = d
    return best
