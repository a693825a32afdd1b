"""Image planes for display: axis-aligned LPS grids, windows, slices, orientation letters and panels.

Every input image is a :class:`SimpleITK.Image` in DICOM patient coordinates (LPS, mm). Before
slicing, an image is brought onto an axis-aligned LPS grid (:func:`to_axis_aligned_lps`). Views are
in radiological orientation with A/P/L/R/S/I letters and mm axes at equal physical aspect.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import SimpleITK as sitk

from radnec.errors import GeometryError
from radnec.geometry import mask_centroid_lps, require_same_grid
from radnec.report.figures.style import ISODOSE_STYLE, LESION_STYLE, OKABE_ITO, grid_axes, new_figure, png_bytes, style_context

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes


#: Default half-width (mm) of the square field of view drawn around the lesion in image panels.
DEFAULT_FOV_MM = 60.0

#: Intensity window of MR images: these percentiles of the non-zero voxels map to black/white.
WINDOW_PERCENTILES = (1.0, 99.5)

#: Volumes with more voxels than this are subsampled 2x per axis for the window percentiles.
WINDOW_SUBSAMPLE_ABOVE = 2_000_000

VIEWS = ("axial", "coronal", "sagittal")


def _is_axis_aligned(image: sitk.Image) -> bool:
    return bool(np.allclose(image.GetDirection(), np.eye(3).ravel(), atol=1e-6))


def to_axis_aligned_lps(image: sitk.Image, *, is_mask: bool = False) -> sitk.Image:
    """Return ``image`` on an axis-aligned LPS grid (identity direction matrix).

    Axis permutations and flips are reordered exactly with :func:`SimpleITK.DICOMOrient`.
    An oblique image is then resampled onto a grid with identity direction, the same spacing
    per axis (mm) and the physical bounding box of the image's corners; linear interpolation
    for intensities and dose, nearest neighbour for masks (``is_mask=True``). Voxels outside
    the original image become 0.
    """
    if image.GetDimension() != 3:
        raise GeometryError(f"expected a 3-D image for display, got {image.GetDimension()}-D")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise GeometryError(
            f"expected a scalar image for display, got {image.GetNumberOfComponentsPerPixel()} components per "
            "voxel (RGB or vector image); pass one channel"
        )
    if _is_axis_aligned(image):
        return image
    oriented = sitk.DICOMOrient(image, "LPS")
    if _is_axis_aligned(oriented):
        return oriented
    size = np.asarray(oriented.GetSize())
    corners = [
        oriented.TransformContinuousIndexToPhysicalPoint([float(c) for c in np.array(ix) * (size - 1)])
        for ix in np.ndindex(2, 2, 2)
    ]
    corners_arr = np.asarray(corners)
    lo, hi = corners_arr.min(axis=0), corners_arr.max(axis=0)
    spacing = np.asarray(oriented.GetSpacing())
    new_size = [int(n) for n in np.floor((hi - lo) / spacing + 1e-6).astype(int) + 1]
    reference = sitk.Image(new_size, oriented.GetPixelID())
    reference.SetOrigin([float(v) for v in lo])
    reference.SetSpacing([float(v) for v in spacing])
    reference.SetDirection(np.eye(3).ravel().tolist())
    interp = sitk.sitkNearestNeighbor if is_mask else sitk.sitkLinear
    return sitk.Resample(oriented, reference, sitk.Transform(3, sitk.sitkIdentity), interp, 0.0)


def axis_coords(image: sitk.Image) -> list[np.ndarray]:
    """Voxel-centre coordinates (mm) along x (L), y (P), z (S) of an axis-aligned image."""
    origin, spacing, size = image.GetOrigin(), image.GetSpacing(), image.GetSize()
    return [origin[i] + spacing[i] * np.arange(size[i]) for i in range(3)]


def intensity_window(arr: np.ndarray) -> tuple[float, float]:
    """Display window (low, high) of a 3-D array: percentiles of its non-zero finite voxels.
    Large volumes are subsampled (every 2nd voxel per axis) to keep this fast."""
    if arr.size > WINDOW_SUBSAMPLE_ABOVE:
        arr = arr[::2, ::2, ::2]
    values = arr[np.isfinite(arr) & (arr != 0)].astype(float)
    if values.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(values, WINDOW_PERCENTILES)
    if hi <= lo:  # (nearly) uniform non-zero values: show them bright against the zero background
        lo, hi = min(0.0, float(lo)), max(float(hi), float(lo) + 1.0)
        if lo == hi:
            hi = lo + 1.0
    return float(lo), float(hi)


def center_index(image: sitk.Image, center_lps: Sequence[float]) -> tuple[int, int, int]:
    idx = image.TransformPhysicalPointToContinuousIndex([float(c) for c in center_lps])
    size = image.GetSize()
    rounded = tuple(int(round(v)) for v in idx)
    if any(r < 0 or r >= n for r, n in zip(rounded, size, strict=True)):
        raise GeometryError(
            f"the view centre {tuple(round(float(c), 1) for c in center_lps)} (LPS mm) lies outside the "
            f"image (size {size}, origin {tuple(round(o, 1) for o in image.GetOrigin())} mm)"
        )
    return rounded  # type: ignore[return-value]


def plane_slice(arr_zyx: np.ndarray, view: str, ijk: tuple[int, int, int]) -> np.ndarray:
    i, j, k = ijk
    if view == "axial":
        return arr_zyx[k, :, :]  # rows y (P), cols x (L)
    if view == "coronal":
        return arr_zyx[:, j, :]  # rows z (S), cols x (L)
    return arr_zyx[:, :, i]  # rows z (S), cols y (P)


def view_axes(coords: list[np.ndarray], view: str) -> tuple[np.ndarray, np.ndarray, str, str]:
    x, y, z = coords
    if view == "axial":
        return x, y, "x (mm, LPS)", "y (mm, LPS)"
    if view == "coronal":
        return x, z, "x (mm, LPS)", "z (mm, LPS)"
    return y, z, "y (mm, LPS)", "z (mm, LPS)"


_LETTERS = {"axial": ("R", "L", "A", "P"), "coronal": ("R", "L", "S", "I"), "sagittal": ("A", "P", "S", "I")}


def orientation_letters(ax: Axes, view: str) -> None:
    left, right, top, bottom = _LETTERS[view]
    style = {"color": "white", "fontsize": 15, "fontweight": "bold", "transform": ax.transAxes}
    box = {"facecolor": "black", "alpha": 0.55, "pad": 1.5, "edgecolor": "none"}
    ax.text(0.02, 0.5, left, ha="left", va="center", bbox=box, **style)
    ax.text(0.98, 0.5, right, ha="right", va="center", bbox=box, **style)
    ax.text(0.5, 0.98, top, ha="center", va="top", bbox=box, **style)
    ax.text(0.5, 0.02, bottom, ha="center", va="bottom", bbox=box, **style)


def _draw_slice(
    ax: Axes,
    view: str,
    coords: list[np.ndarray],
    ijk: tuple[int, int, int],
    image_arr: np.ndarray,
    window: tuple[float, float],
    center_lps: Sequence[float],
    fov_mm: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    return draw_plane(ax, view, coords, plane_slice(image_arr, view, ijk).astype(float), window, center_lps, fov_mm)


def draw_plane(
    ax: Axes,
    view: str,
    coords: list[np.ndarray],
    plane: np.ndarray,
    window: tuple[float, float],
    center_lps: Sequence[float],
    fov_mm: float | None,
    *,
    overlay: tuple[np.ndarray, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one 2-D plane (rows = vertical axis, cols = horizontal axis of ``view``) in mm,
    radiological orientation, with an optional masked overlay ``(array, colormap)``."""
    h, v, hlabel, vlabel = view_axes(coords, view)
    dh = h[1] - h[0] if h.size > 1 else 1.0
    dv = v[1] - v[0] if v.size > 1 else 1.0
    extent = (h[0] - dh / 2, h[-1] + dh / 2, v[0] - dv / 2, v[-1] + dv / 2)
    ax.imshow(plane, cmap="gray", vmin=window[0], vmax=window[1], origin="lower", extent=extent,
              interpolation="nearest", aspect="equal")
    if overlay is not None:
        ax.imshow(overlay[0], cmap=overlay[1], vmin=0, vmax=1, origin="lower", extent=extent,
                  interpolation="nearest", aspect="equal")
    ch, cv = {"axial": (0, 1), "coronal": (0, 2), "sagittal": (1, 2)}[view]
    ax.set_facecolor("black")  # outside the image: black, as on a scanner console
    if fov_mm is not None:  # the field of view around the centre, clipped to the image
        ax.set_xlim(max(extent[0], center_lps[ch] - fov_mm), min(extent[1], center_lps[ch] + fov_mm))
        ax.set_ylim(max(extent[2], center_lps[cv] - fov_mm), min(extent[3], center_lps[cv] + fov_mm))
    else:
        ax.set_xlim(extent[0], extent[1])
        ax.set_ylim(extent[2], extent[3])
    if view == "axial":
        ax.invert_yaxis()  # anterior (small y) at the top
    ax.set_xlabel(hlabel)
    ax.set_ylabel(vlabel)
    ax.locator_params(nbins=5)  # a few mm ticks are enough (and each tick label costs drawing time)
    return h, v


def _prepare_views(
    images: Sequence[tuple[str, sitk.Image]],
    dose: sitk.Image | None,
    lesion: sitk.Image | None,
    center_lps: Sequence[float] | None,
) -> tuple[list[tuple[str, np.ndarray]], np.ndarray | None, np.ndarray | None, list[np.ndarray], np.ndarray, sitk.Image]:
    first = images[0][1]
    for label, img in images[1:]:
        require_same_grid(first, img, what=f"{images[0][0]!r} and {label!r} images")
    if dose is not None:
        require_same_grid(first, dose, what="image and dose")
    if lesion is not None:
        require_same_grid(first, lesion, what="image and lesion mask")
    aligned = [(label, to_axis_aligned_lps(img)) for label, img in images]
    ref = aligned[0][1]
    dose_arr = None
    if dose is not None:
        dose_arr = sitk.GetArrayFromImage(to_axis_aligned_lps(sitk.Cast(dose, sitk.sitkFloat32)))
    lesion_arr = None
    if lesion is not None:
        lesion_al = to_axis_aligned_lps(sitk.Cast(lesion, sitk.sitkUInt8), is_mask=True)
        lesion_arr = sitk.GetArrayFromImage(lesion_al)
    if center_lps is None:
        if lesion is not None and np.any(lesion_arr):
            center = mask_centroid_lps(lesion)
        else:
            size = np.asarray(ref.GetSize()) - 1
            center = np.asarray(ref.TransformContinuousIndexToPhysicalPoint([float(s) / 2 for s in size]))
    else:
        center = np.asarray(center_lps, dtype=float).reshape(3)
    arrays = [(label, sitk.GetArrayFromImage(img)) for label, img in aligned]
    return arrays, dose_arr, lesion_arr, axis_coords(ref), center, ref


def _isodose_levels(
    isodose_pct: Sequence[float], prescription_gy: float
) -> list[tuple[float, float, str, str]]:
    spare = [c for c in OKABE_ITO.values() if c not in {s[0] for s in ISODOSE_STYLE.values()}]
    out = []
    for n, pct in enumerate(sorted(isodose_pct)):
        colour, style = ISODOSE_STYLE.get(int(pct), (spare[n % len(spare)], "-.")) if float(pct).is_integer() else (
            spare[n % len(spare)], "-."
        )
        out.append((float(pct), float(pct) / 100.0 * prescription_gy, colour, style))
    return out


def image_grid(
    images: Sequence[tuple[str, sitk.Image]],
    *,
    dose: sitk.Image | None,
    prescription_gy: float | None,
    isodose_pct: Sequence[float],
    lesion: sitk.Image | None,
    center_lps: Sequence[float] | None,
    title: str,
    fov_mm: float | None,
    lesion_label: str = "lesion",
) -> bytes:
    from matplotlib.lines import Line2D

    if prescription_gy is not None and not (math.isfinite(prescription_gy) and prescription_gy > 0):
        raise ValueError(f"prescription_gy must be a positive number of Gy, got {prescription_gy!r}")
    if any(not (math.isfinite(p) and p > 0) for p in isodose_pct):
        raise ValueError(f"isodose_pct must be positive percentages, got {tuple(isodose_pct)!r}")
    arrays, dose_arr, lesion_arr, coords, center, ref = _prepare_views(images, dose, lesion, center_lps)
    ijk = center_index(ref, center)
    levels = _isodose_levels(isodose_pct, prescription_gy) if (dose_arr is not None and prescription_gy) else []
    nrows = len(arrays)
    with style_context():
        fig = new_figure(13.0, 4.6 * nrows + 1.4, constrained=False)
        axes = grid_axes(fig, nrows)
        for r, (label, arr) in enumerate(arrays):
            window = intensity_window(arr)
            for c, view in enumerate(VIEWS):
                ax = axes[r][c]
                h, v = _draw_slice(ax, view, coords, ijk, arr, window, center, fov_mm)
                if dose_arr is not None and levels:
                    dsl = plane_slice(dose_arr, view, ijk).astype(float)
                    for _pct, gy, colour, style in levels:
                        if np.nanmax(dsl) >= gy:
                            ax.contour(h, v, dsl, levels=[gy], colors=[colour], linestyles=[style], linewidths=2.0)
                if lesion_arr is not None:
                    lsl = (plane_slice(lesion_arr, view, ijk) > 0).astype(float)
                    if lsl.max() > 0:
                        ax.contour(
                            h, v, lsl, levels=[0.5], colors=[LESION_STYLE[0]], linestyles=[LESION_STYLE[1]],
                            linewidths=2.2,
                        )
                orientation_letters(ax, view)
                ax.set_title(f"{label} — {view}" if nrows > 1 or label else view)
        handles = [
            Line2D([], [], color=colour, linestyle=style, linewidth=2.5, label=f"{pct:g} % isodose ({gy:.1f} Gy)")
            for pct, gy, colour, style in reversed(levels)
        ]
        if lesion_arr is not None:
            handles.append(Line2D([], [], color=LESION_STYLE[0], linestyle=LESION_STYLE[1], linewidth=2.5,
                                  label=lesion_label))
        notes = []
        if dose_arr is not None and not levels:
            notes.append("isodose lines not drawn: prescription dose unknown")
        if handles:
            fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=min(len(handles), 4),
                       frameon=False)
        centre_txt = "centre (LPS mm): " + ", ".join(f"{v:.1f}" for v in center)
        suptitle = " · ".join([t for t in (title, centre_txt, *notes) if t])
        fig.suptitle(suptitle)
        return png_bytes(fig)


__all__ = ["DEFAULT_FOV_MM", "WINDOW_PERCENTILES", "WINDOW_SUBSAMPLE_ABOVE", "VIEWS", "to_axis_aligned_lps", "axis_coords", "intensity_window", "center_index", "plane_slice", "view_axes", "orientation_letters", "draw_plane", "image_grid"]
