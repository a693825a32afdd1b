"""Figures of the tumour-board report, as deterministic PNG bytes.

Every function returns the bytes of one PNG drawn with matplotlib's Agg renderer on a
:class:`matplotlib.figure.Figure` (no ``pyplot`` global state, so it is safe to call from any
thread and never opens a window). Identical inputs give identical bytes: fixed size and dpi,
fixed fonts and colours, and no ``Software``/date metadata in the PNG.

Design for print (a tumour board projects or prints the page): large fonts, the Okabe-Ito
colour-blind-safe palette (Okabe & Ito, "Color Universal Design", 2008; the palette matplotlib's
``tableau-colorblind10`` style is close to) plus line styles so that nothing relies on colour
alone, legends, units on every axis and millimetre axes on every image.

Image conventions (see docs/report.md):

* every input image is a :class:`SimpleITK.Image` in DICOM patient coordinates (LPS, mm);
  images drawn together must be on the same grid (:func:`radnec.geometry.require_same_grid`);
* before slicing, each image is brought onto an axis-aligned LPS grid: a direction matrix
  that is a permutation/flip of the axes (sagittal or coronal acquisitions) is reordered
  exactly with :func:`SimpleITK.DICOMOrient`; an oblique direction is then resampled
  (linear for intensities and dose, nearest neighbour for masks) onto an axis-aligned grid
  with the same spacing covering the image's physical bounding box;
* views are in radiological orientation: axial and coronal show the patient's right on the
  viewer's left, axial has anterior at the top, coronal and sagittal have superior at the top,
  sagittal has anterior on the left; every panel carries A/P/L/R/S/I letters and mm axes with
  equal physical aspect (so anisotropic voxels are drawn at their true size).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import SimpleITK as sitk

from radnec.errors import GeometryError
from radnec.geometry import mask_centroid_lps, require_same_grid

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from radnec.case import Timepoint

#: Okabe-Ito colour-blind-safe palette (Okabe M, Ito K. Color Universal Design, 2008).
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
#: Colour and line style of each isodose level (percentage of the prescription dose). Levels not
#: listed cycle through the remaining palette.
ISODOSE_STYLE = {
    100: (OKABE_ITO["vermillion"], "-"),
    80: (OKABE_ITO["yellow"], "-"),
    50: (OKABE_ITO["sky_blue"], "-"),
}
LESION_STYLE = (OKABE_ITO["green"], "--")
#: Resolution of every PNG (dots per inch). Figures are sized in inches for an A4 page width.
DPI = 110
#: Default half-width (mm) of the square field of view drawn around the lesion in image panels.
DEFAULT_FOV_MM = 60.0
#: Intensity window of MR images: these percentiles of the non-zero voxels map to black/white.
WINDOW_PERCENTILES = (1.0, 99.5)
#: Volumes with more voxels than this are subsampled 2x per axis for the window percentiles.
WINDOW_SUBSAMPLE_ABOVE = 2_000_000

_RC = {
    "font.size": 13,
    "axes.titlesize": 14,
    "axes.labelsize": 13,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 12,
    "figure.titlesize": 16,
    "font.family": "DejaVu Sans",
    "svg.hashsalt": "radnec",
    "path.simplify": True,
}

_VIEWS = ("axial", "coronal", "sagittal")


# --------------------------------------------------------------------------------------------
# infrastructure
# --------------------------------------------------------------------------------------------
def _new_figure(width_in: float, height_in: float, *, constrained: bool = True) -> Figure:
    """A figure of fixed size; ``constrained=False`` for the image grids, which are laid out by
    :func:`_grid_axes` with fixed margins (constrained layout costs ~1 s per image grid)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), dpi=DPI, layout="constrained" if constrained else None)


def _grid_axes(fig: Figure, nrows: int, *, top_in: float = 0.95, bottom_in: float = 1.0,
               gap_in: float = 0.95) -> Any:
    """``nrows`` x 3 image panels with fixed margins (inches): room for the title above, the
    legend below and the x labels/titles between rows."""
    width, height = fig.get_size_inches()
    panel_h = (height - top_in - bottom_in - gap_in * (nrows - 1)) / nrows
    return fig.subplots(nrows, 3, squeeze=False, gridspec_kw={
        "left": 0.7 / width, "right": 1 - 0.1 / width, "top": 1 - top_in / height, "bottom": bottom_in / height,
        "wspace": 0.9 / ((width - 0.8) / 3 - 0.6), "hspace": gap_in / panel_h,
    })


def _png_bytes(fig: Figure) -> bytes:
    """Serialise ``fig`` as PNG without any metadata that varies between runs or versions."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None}, facecolor="white")
    return buf.getvalue()


def _rc():  # noqa: ANN202 - matplotlib imported lazily
    import matplotlib

    return matplotlib.rc_context(_RC)


# --------------------------------------------------------------------------------------------
# geometry for display
# --------------------------------------------------------------------------------------------
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


def _axis_coords(image: sitk.Image) -> list[np.ndarray]:
    """Voxel-centre coordinates (mm) along x (L), y (P), z (S) of an axis-aligned image."""
    origin, spacing, size = image.GetOrigin(), image.GetSpacing(), image.GetSize()
    return [origin[i] + spacing[i] * np.arange(size[i]) for i in range(3)]


def _window(arr: np.ndarray) -> tuple[float, float]:
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


def _center_index(image: sitk.Image, center_lps: Sequence[float]) -> tuple[int, int, int]:
    idx = image.TransformPhysicalPointToContinuousIndex([float(c) for c in center_lps])
    size = image.GetSize()
    rounded = tuple(int(round(v)) for v in idx)
    if any(r < 0 or r >= n for r, n in zip(rounded, size, strict=True)):
        raise GeometryError(
            f"the view centre {tuple(round(float(c), 1) for c in center_lps)} (LPS mm) lies outside the "
            f"image (size {size}, origin {tuple(round(o, 1) for o in image.GetOrigin())} mm)"
        )
    return rounded  # type: ignore[return-value]


def _slice(arr_zyx: np.ndarray, view: str, ijk: tuple[int, int, int]) -> np.ndarray:
    i, j, k = ijk
    if view == "axial":
        return arr_zyx[k, :, :]  # rows y (P), cols x (L)
    if view == "coronal":
        return arr_zyx[:, j, :]  # rows z (S), cols x (L)
    return arr_zyx[:, :, i]  # rows z (S), cols y (P)


def _view_axes(coords: list[np.ndarray], view: str) -> tuple[np.ndarray, np.ndarray, str, str]:
    x, y, z = coords
    if view == "axial":
        return x, y, "x (mm, LPS)", "y (mm, LPS)"
    if view == "coronal":
        return x, z, "x (mm, LPS)", "z (mm, LPS)"
    return y, z, "y (mm, LPS)", "z (mm, LPS)"


# letters at (left, right, top, bottom) of each view in radiological orientation
_LETTERS = {"axial": ("R", "L", "A", "P"), "coronal": ("R", "L", "S", "I"), "sagittal": ("A", "P", "S", "I")}


def _orientation_letters(ax: Axes, view: str) -> None:
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
    return _draw_plane(ax, view, coords, _slice(image_arr, view, ijk).astype(float), window, center_lps, fov_mm)


def _draw_plane(
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
    h, v, hlabel, vlabel = _view_axes(coords, view)
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
    return arrays, dose_arr, lesion_arr, _axis_coords(ref), center, ref


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


def _image_grid(
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
    ijk = _center_index(ref, center)
    levels = _isodose_levels(isodose_pct, prescription_gy) if (dose_arr is not None and prescription_gy) else []
    nrows = len(arrays)
    with _rc():
        fig = _new_figure(13.0, 4.6 * nrows + 1.4, constrained=False)
        axes = _grid_axes(fig, nrows)
        for r, (label, arr) in enumerate(arrays):
            window = _window(arr)
            for c, view in enumerate(_VIEWS):
                ax = axes[r][c]
                h, v = _draw_slice(ax, view, coords, ijk, arr, window, center, fov_mm)
                if dose_arr is not None and levels:
                    dsl = _slice(dose_arr, view, ijk).astype(float)
                    for _pct, gy, colour, style in levels:
                        if np.nanmax(dsl) >= gy:
                            ax.contour(h, v, dsl, levels=[gy], colors=[colour], linestyles=[style], linewidths=2.0)
                if lesion_arr is not None:
                    lsl = (_slice(lesion_arr, view, ijk) > 0).astype(float)
                    if lsl.max() > 0:
                        ax.contour(
                            h, v, lsl, levels=[0.5], colors=[LESION_STYLE[0]], linestyles=[LESION_STYLE[1]],
                            linewidths=2.2,
                        )
                _orientation_letters(ax, view)
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
        return _png_bytes(fig)


# --------------------------------------------------------------------------------------------
# public figures
# --------------------------------------------------------------------------------------------
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
    return _image_grid(
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
    return _image_grid(
        [(planning_label, planning_t1c), (followup_label, followup_on_planning)],
        dose=dose, prescription_gy=prescription_gy, isodose_pct=isodose_pct, lesion=lesion,
        center_lps=center_lps, title=title, fov_mm=fov_mm,
    )


_LINESTYLES = ("-", "--", "-.", ":")


def dvh_plot(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    prescription_gy: float | None,
    title: str = "Cumulative dose-volume histogram",
) -> bytes:
    """Cumulative DVHs: volume (% of the structure) receiving at least a dose (Gy).

    Parameters
    ----------
    curves
        ``label -> (dose_gy, volume_pct)`` arrays of equal length; volume in 0..100 %.
    prescription_gy
        Prescription dose (Gy), drawn as a vertical line with a secondary axis in % of it.
    """
    if not curves:
        raise ValueError("dvh_plot needs at least one curve")
    checked = {}
    for label, (dose_gy, vol_pct) in curves.items():
        d = np.asarray(dose_gy, dtype=float).ravel()
        v = np.asarray(vol_pct, dtype=float).ravel()
        if d.shape != v.shape or d.size < 2:
            raise ValueError(f"DVH curve {label!r}: dose and volume must be equal-length arrays of >= 2 points")
        if not (np.all(np.isfinite(d)) and np.all(np.isfinite(v))):
            raise ValueError(f"DVH curve {label!r} contains non-finite values")
        if v.min() < -1e-6 or v.max() > 100.0 + 1e-6:
            raise ValueError(f"DVH curve {label!r}: volume must be in % (0..100), got {v.min():.3g}..{v.max():.3g}")
        checked[label] = (d, v)
    colours = list(OKABE_ITO.values())[1:] + [OKABE_ITO["black"]]
    with _rc():
        fig = _new_figure(10.0, 5.6)
        ax = fig.subplots()
        for n, (label, (d, v)) in enumerate(checked.items()):
            ax.plot(d, v, color=colours[n % len(colours)], linestyle=_LINESTYLES[n % len(_LINESTYLES)],
                    linewidth=2.5, label=label)
        if prescription_gy:
            ax.axvline(prescription_gy, color="0.3", linestyle=":", linewidth=1.5,
                       label=f"prescription {prescription_gy:g} Gy")
            sec = ax.secondary_xaxis(
                "top", functions=(lambda g: g / prescription_gy * 100.0, lambda p: p * prescription_gy / 100.0)
            )
            sec.set_xlabel("dose (% of prescription)")
        ax.set_xlabel("dose (Gy)")
        ax.set_ylabel("volume (% of structure)")
        ax.set_ylim(0, 102)
        ax.set_xlim(left=0)
        ax.grid(True, color="0.85")
        ax.legend(loc="lower left")
        ax.set_title(title)
        return _png_bytes(fig)


def growth_curve(timepoints: Sequence[Timepoint], *, title: str = "Lesion growth") -> bytes:
    """Longest diameter and volumes over time, with RANO-BM categories and steroid doses.

    Parameters
    ----------
    timepoints
        :class:`radnec.case.Timepoint` objects in chronological order. The x axis is days since
        SRS when every time point has it, otherwise the time-point order (said on the axis).
    """
    if not timepoints:
        raise ValueError("growth_curve needs at least one time point")
    days = [tp.days_since_srs for tp in timepoints]
    if all(d is not None for d in days):
        x = np.asarray(days, dtype=float)
        xlabel = "days since SRS"
    else:
        x = np.arange(1, len(timepoints) + 1, dtype=float)
        xlabel = "time point (days since SRS unknown)"
    ld = np.asarray([tp.longest_diameter_mm for tp in timepoints], dtype=float)
    enh = np.asarray([tp.enhancing_cc for tp in timepoints], dtype=float)
    edema = [tp.edema_cc for tp in timepoints]
    steroids = [tp.steroid_dose_mg for tp in timepoints]
    has_steroids = any(s is not None for s in steroids)
    nrows = 3 if has_steroids else 2
    ratios = [3, 3, 1.4][:nrows]
    with _rc():
        fig = _new_figure(10.0, 3.0 * nrows + 0.6)
        axes = fig.subplots(nrows, 1, sharex=True, gridspec_kw={"height_ratios": ratios})
        ax_ld, ax_v = axes[0], axes[1]
        ax_ld.plot(x, ld, marker="o", markersize=8, color=OKABE_ITO["blue"], linewidth=2.5,
                   label="longest diameter")
        for xi, yi, tp in zip(x, ld, timepoints, strict=True):
            if tp.rano_bm_category:
                ax_ld.annotate(tp.rano_bm_category, (xi, yi), xytext=(0, 11), textcoords="offset points",
                               ha="center", fontsize=12, fontweight="bold",
                               bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "0.5"})
        ax_ld.set_ylabel("longest diameter (mm)")
        ax_ld.set_ylim(0, max(float(np.nanmax(ld)) * 1.3, 1.0))
        ax_ld.grid(True, color="0.85")
        ax_ld.legend(loc="upper left")
        ax_ld.set_title(title + " (labels: RANO-BM category)" if any(tp.rano_bm_category for tp in timepoints)
                        else title)
        ax_v.plot(x, enh, marker="s", markersize=7, color=OKABE_ITO["vermillion"], linewidth=2.5,
                  label="enhancing volume")
        if any(e is not None for e in edema):
            ex = [xi for xi, e in zip(x, edema, strict=True) if e is not None]
            ey = [e for e in edema if e is not None]
            ax_v.plot(ex, ey, marker="^", markersize=7, color=OKABE_ITO["sky_blue"], linestyle="--",
                      linewidth=2.5, label="oedema volume (FLAIR)")
        ax_v.set_ylabel("volume (cm³)")
        ax_v.set_ylim(bottom=0)
        ax_v.grid(True, color="0.85")
        ax_v.legend(loc="upper left")
        if has_steroids:
            ax_s = axes[2]
            sx = [xi for xi, s in zip(x, steroids, strict=True) if s is not None]
            sy = [s for s in steroids if s is not None]
            span = float(np.ptp(x)) if x.size > 1 else 1.0
            ax_s.bar(sx, sy, width=max(span / 40.0, 0.5), color=OKABE_ITO["orange"], edgecolor="black")
            for xi, s in zip(sx, sy, strict=True):
                ax_s.annotate(f"{s:g}", (xi, s), xytext=(0, 3), textcoords="offset points", ha="center")
            ax_s.set_ylabel("steroid\n(mg)")
            ax_s.set_ylim(0, max(max(sy) * 1.4, 1.0))
            ax_s.grid(True, axis="y", color="0.85")
        axes[-1].set_xlabel(xlabel)
        if xlabel.startswith("time point"):
            axes[-1].set_xticks(x)
        return _png_bytes(fig)


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
    f_win, m_win = _window(f_arr), _window(m_arr)

    def _norm(a: np.ndarray, win: tuple[float, float]) -> np.ndarray:
        return np.clip((a.astype(float) - win[0]) / (win[1] - win[0]), 0.0, 1.0)

    coords = _axis_coords(f_al)
    if center_lps is None:
        size = np.asarray(f_al.GetSize()) - 1
        center = np.asarray(f_al.TransformContinuousIndexToPhysicalPoint([float(s) / 2 for s in size]))
    else:
        center = np.asarray(center_lps, dtype=float).reshape(3)
    ijk = _center_index(f_al, center)
    # per view: the two normalised slices (2-D), their checkerboard (SimpleITK) and the moving edges
    panels = {}
    for view in _VIEWS:
        f_sl = _norm(_slice(f_arr, view, ijk), f_win)
        m_sl = _norm(_slice(m_arr, view, ijk), m_win)
        h, v, _hl, _vl = _view_axes(coords, view)
        extent_mm = (h.size * (h[1] - h[0] if h.size > 1 else 1.0), v.size * (v[1] - v[0] if v.size > 1 else 1.0))
        pattern = [max(1, int(round(e / checker_mm))) for e in extent_mm]
        checker = sitk.GetArrayFromImage(
            sitk.CheckerBoard(sitk.GetImageFromArray(f_sl), sitk.GetImageFromArray(m_sl), pattern)
        )
        panels[view] = (f_sl, checker, canny(m_sl, sigma=2.0))
    with _rc():
        fig = _new_figure(13.0, 10.6, constrained=False)
        axes = _grid_axes(fig, 2, bottom_in=0.55)
        from matplotlib.colors import ListedColormap

        edge_cmap = ListedColormap([OKABE_ITO["orange"]])
        for c, view in enumerate(_VIEWS):
            f_sl, checker, edges = panels[view]
            ax = axes[0][c]
            _draw_plane(ax, view, coords, checker, (0.0, 1.0), center, fov_mm)
            _orientation_letters(ax, view)
            ax.set_title(f"checkerboard — {view}")
            ax = axes[1][c]
            _draw_plane(ax, view, coords, f_sl, (0.0, 1.0), center, fov_mm,
                        overlay=(np.ma.masked_where(~edges, edges.astype(float)), edge_cmap))
            _orientation_letters(ax, view)
            ax.set_title(f"follow-up edges — {view}")
        fig.suptitle(f"{title} · squares {checker_mm:g} mm · orange = follow-up edges")
        return _png_bytes(fig)


def _logit(p: float) -> float:
    p = min(max(float(p), 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _wrap(text: str, width: int = 46, lines: int = 2) -> str:
    """Wrap a long axis label onto at most ``lines`` lines, ellipsis beyond."""
    import textwrap

    parts = textwrap.wrap(text, width=width)
    if len(parts) > lines:
        parts = parts[:lines]
        parts[-1] = parts[-1][: width - 1] + "…"
    return "\n".join(parts)


def _is_expert_opinion(item: Mapping[str, Any]) -> bool:
    for key in ("expert_opinion", "is_expert_opinion"):
        if item.get(key):
            return True
    for key in ("grade", "evidence_level", "kind", "level", "population", "source_type"):
        value = item.get(key)
        if isinstance(value, str) and "expert" in value.lower():
            return True
    return False


def evidence_contributions(
    items: Sequence[Mapping[str, Any]],
    *,
    prior_tp: float,
    posterior_tp: float,
    interval95: Sequence[float] | None = None,
    title: str = "Probability of progression: prior → evidence → posterior",
) -> bytes:
    """Waterfall on the log-odds scale: the prior, each item's log likelihood ratio, the posterior
    with its 95 % interval. Axis ticks are labelled in probability (%).

    Parameters
    ----------
    items
        Evidence items as in the evidence block of :mod:`radnec.evidence` (keys used: ``label``,
        ``contribution`` (weight × log LR, what the engine added to the log-odds; ``log_lr`` when
        absent), ``weight``, ``used``, ``result``, ``population``, ``grade``/expert-opinion flags,
        ``unverified``). Observed items the engine did not use are listed in grey with zero length;
        informational items (``result`` None) are left out.
    prior_tp, posterior_tp
        Prior and posterior probability of tumour progression (0..1).
    interval95
        95 % interval of the posterior (0..1).

    Notes
    -----
    Bars are the items' contributions, so they add up from the prior to the posterior. If they do
    not (an engine that adjusts otherwise), the difference is drawn as its own "adjustment" bar
    rather than hidden.
    """
    from matplotlib.patches import Patch

    for name, p in (("prior_tp", prior_tp), ("posterior_tp", posterior_tp)):
        if not (isinstance(p, (int, float)) and 0.0 <= float(p) <= 1.0):
            raise ValueError(f"{name} must be a probability in 0..1, got {p!r}")
    rows: list[tuple[str, float, float, str, str | None]] = []  # label, start, length, colour, hatch
    prior_lo = _logit(prior_tp)
    rows.append((f"prior ({prior_tp * 100:.0f} %)", 0.0, prior_lo, "0.55", None))
    cum = prior_lo
    any_expert = False
    for it in items:
        label = str(it.get("label") or it.get("id") or "item")
        pop = it.get("population")
        tags = []
        if pop:
            tags.append(str(pop))
        expert = _is_expert_opinion(it)
        if expert:
            any_expert = True
            tags.append("expert opinion")
        if it.get("unverified"):
            tags.append("unverified")
        text = label + (f" [{', '.join(tags)}]" if tags else "")
        if "result" in it and it.get("result") is None and not it.get("used", True):
            continue  # informational only or not observed: nothing to draw
        llr = it.get("contribution", it.get("log_lr"))
        used = it.get("used", True)
        if llr is None or not used or not math.isfinite(float(llr)):
            rows.append((text + " — not used", cum, 0.0, "0.8", None))
            continue
        llr = float(llr)
        if llr == 0.0:
            text += " (no effect)"
        weight = it.get("weight")
        if isinstance(weight, (int, float)) and 0.0 < float(weight) < 1.0:
            text += f" (×{float(weight):.2f}, same family)"
        colour = OKABE_ITO["vermillion"] if llr > 0 else (OKABE_ITO["blue"] if llr < 0 else "0.8")
        rows.append((text, cum, llr, colour, "//" if expert else None))
        cum += llr
    post_lo = _logit(posterior_tp)
    if abs(post_lo - cum) > 0.01:
        rows.append(("adjustment (not itemised by the engine)", cum, post_lo - cum, OKABE_ITO["purple"], None))
    post_label = f"posterior ({posterior_tp * 100:.0f} %"
    if interval95 is not None and len(interval95) == 2:
        post_label += f"; 95 % interval {interval95[0] * 100:.0f}–{interval95[1] * 100:.0f} %"
    post_label += ")"
    rows.append((post_label, 0.0, post_lo, OKABE_ITO["black"], None))
    n = len(rows)
    with _rc():
        fig = _new_figure(12.0, 2.0 + 0.62 * n)
        ax = fig.subplots()
        ypos = np.arange(n)[::-1]
        for y, (_text, start, length, colour, hatch) in zip(ypos, rows, strict=True):
            ax.barh(y, length, left=start, color=colour, edgecolor="black", hatch=hatch, height=0.6)
        if interval95 is not None and len(interval95) == 2:
            lo, hi = _logit(interval95[0]), _logit(interval95[1])
            ax.errorbar([post_lo], [ypos[-1]], xerr=[[post_lo - lo], [hi - post_lo]], fmt="none",
                        ecolor=OKABE_ITO["orange"], elinewidth=3, capsize=8, capthick=3)
        for y in ypos[1:-1]:
            ax.axhline(y, color="0.92", linewidth=0.8, zorder=0)
        ax.axvline(0.0, color="0.3", linewidth=1.0, linestyle=":")
        ax.set_yticks(ypos)
        ax.set_yticklabels([_wrap(r[0]) for r in rows], fontsize=11)
        probs = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99]
        all_x = [0.0] + [r[1] for r in rows] + [r[1] + r[2] for r in rows]
        if interval95 is not None and len(interval95) == 2:
            all_x += [_logit(interval95[0]), _logit(interval95[1])]
        xmin, xmax = min(all_x) - 0.3, max(all_x) + 0.3
        ticks = [p for p in probs if xmin <= _logit(p) <= xmax]
        ax.set_xlim(xmin, xmax)
        ax.set_xticks([_logit(p) for p in ticks])
        ax.set_xticklabels([f"{p * 100:g} %" for p in ticks])
        ax.set_xlabel("probability of progression (log-odds scale)")
        handles = [
            Patch(facecolor=OKABE_ITO["vermillion"], edgecolor="black", label="favours progression"),
            Patch(facecolor=OKABE_ITO["blue"], edgecolor="black", label="favours necrosis"),
        ]
        if any_expert:
            handles.append(Patch(facecolor="white", edgecolor="black", hatch="//", label="expert opinion (weak)"))
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), frameon=False, fontsize=11)
        ax.set_title(title)
        return _png_bytes(fig)


def _voi_rows(voi: Any) -> list[dict[str, Any]]:
    if isinstance(voi, Mapping):
        rows = []
        for key, val in voi.items():
            if isinstance(val, Mapping):
                row = dict(val)
                row.setdefault("test", key)
                rows.append(row)
        return rows
    return [dict(v) for v in (voi or []) if isinstance(v, Mapping)]


def value_of_information(
    voi: Sequence[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]],
    *,
    current_tp: float | None = None,
    title: str = "What the next test could change",
) -> bytes:
    """Per test not yet done: the probability of progression if it came back positive and if
    negative (dumbbell plot), with the current posterior as a vertical line.

    Parameters
    ----------
    voi
        A list of dicts (or a dict keyed by test) with ``posterior_if_positive``,
        ``posterior_if_negative`` (0..1) and optionally ``label``/``test`` and ``p_positive``.
    current_tp
        The current posterior probability of progression (0..1).
    """
    rows = _voi_rows(voi)
    good = []
    for r in rows:
        pp, pn = r.get("posterior_if_positive"), r.get("posterior_if_negative")
        if pp is None or pn is None:
            continue
        if not (0.0 <= float(pp) <= 1.0 and 0.0 <= float(pn) <= 1.0):
            raise ValueError(f"value of information for {r.get('test')!r}: posteriors must be in 0..1")
        good.append(r)
    if not good:
        raise ValueError("value_of_information needs at least one test with posterior_if_positive/negative")
    n = len(good)
    with _rc():
        fig = _new_figure(12.0, 1.8 + 0.6 * n)
        ax = fig.subplots()
        ypos = np.arange(n)[::-1]
        labels = []
        for y, r in zip(ypos, good, strict=True):
            pp, pn = float(r["posterior_if_positive"]) * 100, float(r["posterior_if_negative"]) * 100
            ax.plot([pn, pp], [y, y], color="0.5", linewidth=3, zorder=1)
            ax.scatter([pn], [y], s=120, color=OKABE_ITO["blue"], marker="o", zorder=2, edgecolor="black")
            ax.scatter([pp], [y], s=120, color=OKABE_ITO["vermillion"], marker="s", zorder=2, edgecolor="black")
            name = str(r.get("label") or r.get("test") or r.get("id") or "test")
            if r.get("p_positive") is not None:
                name += f" (P(positive) {float(r['p_positive']) * 100:.0f} %)"
            labels.append(_wrap(name))
        if current_tp is not None:
            ax.axvline(float(current_tp) * 100, color="black", linestyle="--", linewidth=1.8,
                       label=f"current {float(current_tp) * 100:.0f} %")
        ax.scatter([], [], s=120, color=OKABE_ITO["vermillion"], marker="s", edgecolor="black",
                   label="if positive")
        ax.scatter([], [], s=120, color=OKABE_ITO["blue"], marker="o", edgecolor="black", label="if negative")
        ax.set_yticks(ypos)
        ax.set_yticklabels(labels)
        ax.set_xlim(0, 100)
        ax.set_ylim(-0.7, n - 0.3)
        ax.set_xlabel("probability of progression after the test (%)")
        ax.grid(True, axis="x", color="0.85")
        ax.legend(loc="best", fontsize=11)
        ax.set_title(title)
        return _png_bytes(fig)


__all__ = [
    "OKABE_ITO",
    "DPI",
    "DEFAULT_FOV_MM",
    "to_axis_aligned_lps",
    "orthogonal_views",
    "side_by_side",
    "dvh_plot",
    "growth_curve",
    "registration_overlay",
    "evidence_contributions",
    "value_of_information",
]
