"""Image figures: orthogonal views with isodose lines and lesion contours, planning vs follow-up,
and the registration check (checkerboard and edges)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import SimpleITK as sitk

from radnec.geometry import require_same_grid
from radnec.report.figures.planes import (
    DEFAULT_FOV_MM,
    VIEWS,
    axis_coords,
    center_index,
    draw_plane,
    image_grid,
    intensity_window,
    orientation_letters,
    plane_slice,
    to_axis_aligned_lps,
    view_axes,
)
from radnec.report.figures.style import OKABE_ITO, grid_axes, new_figure, png_bytes, style_context


def orthogonal_views(
    t1c: sitk.Image,
    *,
    dose: sitk.Image | None = None,
    prescription_gy: float | None = None,
    isodose_pct: Sequence[float] = (50, 80, 100),
    lesion: sitk.Image | None = None,
    center_lps: Sequence[float] | None = None,
    title: str = "",
    fov_mm: float | None = DEFAULT_FOV_MM,
) -> bytes:
    """Axial, coronal and sagittal slices of a T1c image through the lesion, as PNG bytes.

    Parameters
    ----------
    t1c
        Contrast-enhanced T1 image (any intensity unit), LPS.
    dose
        Dose (Gy) on the same grid as ``t1c``; drawn as isodose lines.
    prescription_gy
        Prescription dose (Gy); the isodose levels are percentages of it. Without it the dose is
        not contoured and the figure says so.
    isodose_pct
        Isodose levels in % of the prescription.
    lesion
        Lesion mask (0/1) on the same grid; drawn as a dashed contour.
    center_lps
        View centre (LPS mm); default the lesion centroid, else the image centre.
    title
        Figure title (e.g. the time point). Do not put patient names here.
    fov_mm
        Half-width (mm) of the field of view around the centre; ``None`` shows the whole slice.

    Raises
    ------
    GeometryError
        When the inputs are not on the same grid or the centre lies outside the image.
    """
    return image_grid(
        [("", t1c)], dose=dose, prescription_gy=prescription_gy, isodose_pct=isodose_pct, lesion=lesion,
        center_lps=center_lps, title=title, fov_mm=fov_mm,
    )


def side_by_side(
    planning_t1c: sitk.Image,
    followup_on_planning: sitk.Image,
    *,
    dose: sitk.Image | None = None,
    prescription_gy: float | None = None,
    isodose_pct: Sequence[float] = (50, 80, 100),
    lesion: sitk.Image | None = None,
    center_lps: Sequence[float] | None = None,
    planning_label: str = "Planning",
    followup_label: str = "Follow-up",
    title: str = "",
    fov_mm: float | None = DEFAULT_FOV_MM,
) -> bytes:
    """Planning T1c (top row) and the follow-up resampled onto the planning grid (bottom row),
    axial/coronal/sagittal through the same point, with the same isodose lines and lesion contour.

    Parameters are those of :func:`orthogonal_views`; all images share the planning grid.
    """
    return image_grid(
        [(planning_label, planning_t1c), (followup_label, followup_on_planning)],
        dose=dose, prescription_gy=prescription_gy, isodose_pct=isodose_pct, lesion=lesion,
        center_lps=center_lps, title=title, fov_mm=fov_mm,
    )


def registration_overlay(
    fixed: sitk.Image,
    moving_resampled: sitk.Image,
    *,
    center_lps: Sequence[float] | None = None,
    checker_mm: float = 20.0,
    title: str = "Registration check",
    fov_mm: float | None = None,
) -> bytes:
    """Checkerboard (top row) and edge overlay (bottom row) of a registered pair.

    Top row: :func:`SimpleITK.CheckerBoard` of the two slices through the centre, each image
    scaled to its own intensity window first (so different contrasts are comparable); a
    misregistration shows as broken edges at the square borders. Bottom row: the fixed image in grey with the edges of the
    moving image (Canny, :func:`skimage.feature.canny`) in colour; edges should sit on the
    fixed image's boundaries.

    Parameters
    ----------
    fixed, moving_resampled
        The planning image and the follow-up resampled onto it (same grid).
    checker_mm
        Side of a checkerboard square (mm).
    """
    from skimage.feature import canny

    require_same_grid(fixed, moving_resampled, what="fixed and resampled moving images")
    if not (math.isfinite(checker_mm) and checker_mm > 0):
        raise ValueError(f"checker_mm must be a positive length in mm, got {checker_mm!r}")
    f_al = to_axis_aligned_lps(sitk.Cast(fixed, sitk.sitkFloat32))
    m_al = to_axis_aligned_lps(sitk.Cast(moving_resampled, sitk.sitkFloat32))
    f_arr = sitk.GetArrayFromImage(f_al)
    m_arr = sitk.GetArrayFromImage(m_al)
    f_win, m_win = intensity_window(f_arr), intensity_window(m_arr)

    def _norm(a: np.ndarray, win: tuple[float, float]) -> np.ndarray:
        return np.clip((a.astype(float) - win[0]) / (win[1] - win[0]), 0.0, 1.0)

    coords = axis_coords(f_al)
    if center_lps is None:
        size = np.asarray(f_al.GetSize()) - 1
        center = np.asarray(f_al.TransformContinuousIndexToPhysicalPoint([float(s) / 2 for s in size]))
    else:
        center = np.asarray(center_lps, dtype=float).reshape(3)
    ijk = center_index(f_al, center)
    # per view: the two normalised slices (2-D), their checkerboard (SimpleITK) and the moving edges
    panels = {}
    for view in VIEWS:
        f_sl = _norm(plane_slice(f_arr, view, ijk), f_win)
        m_sl = _norm(plane_slice(m_arr, view, ijk), m_win)
        h, v, _hl, _vl = view_axes(coords, view)
        extent_mm = (h.size * (h[1] - h[0] if h.size > 1 else 1.0), v.size * (v[1] - v[0] if v.size > 1 else 1.0))
        pattern = [max(1, int(round(e / checker_mm))) for e in extent_mm]
        checker = sitk.GetArrayFromImage(
            sitk.CheckerBoard(sitk.GetImageFromArray(f_sl), sitk.GetImageFromArray(m_sl), pattern)
        )
        panels[view] = (f_sl, checker, canny(m_sl, sigma=2.0))
    with style_context():
        fig = new_figure(13.0, 10.6, constrained=False)
        axes = grid_axes(fig, 2, bottom_in=0.55)
        from matplotlib.colors import ListedColormap

        edge_cmap = ListedColormap([OKABE_ITO["orange"]])
        for c, view in enumerate(VIEWS):
            f_sl, checker, edges = panels[view]
            ax = axes[0][c]
            draw_plane(ax, view, coords, checker, (0.0, 1.0), center, fov_mm)
            orientation_letters(ax, view)
            ax.set_title(f"checkerboard — {view}")
            ax = axes[1][c]
            draw_plane(ax, view, coords, f_sl, (0.0, 1.0), center, fov_mm,
                        overlay=(np.ma.masked_where(~edges, edges.astype(float)), edge_cmap))
            orientation_letters(ax, view)
            ax.set_title(f"follow-up edges — {view}")
        fig.suptitle(f"{title} · squares {checker_mm:g} mm · orange = follow-up edges")
        return png_bytes(fig)


__all__ = ["orthogonal_views", "side_by_side", "registration_overlay"]
