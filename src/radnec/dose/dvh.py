"""Dose-volume histograms that stay right for small SRS structures.

Method
------
A DVH here is a weighted sample: quadrature points that fill the structure, each with a volume
(cm³) and the dose interpolated **trilinearly** from the dose grid at that point. The metrics
come from the weighted dose distribution (no histogram binning error); histograms are built
from it on demand.

* **ROI (contours)**: the structure is sampled in its own geometry — the slab model of
  :mod:`radnec.geometry.contours` (even-odd holes, half-slice end-caps, sub-plane weights following
  a cubic spline of the cross-section areas between planes) on an in-plane grid of pitch
  ``resolution_mm`` (default: the smallest dose-grid spacing / ``supersample``, coarsened only
  to keep at most :data:`MAX_POINTS` points) with sub-planes that integrate each slab's
  thickness exactly. Nothing about the structure is snapped to dose voxels, so non-HFS, tilted
  and oblique dose grids are handled by the same code.
* **Mask image on any grid, no transform**: every mask voxel (weight = its value, so partial-
  volume masks work) is split into ``supersample³`` sub-voxels and the dose is interpolated at
  their centres. The mask itself is never interpolated.
* **Mask with a transform** (follow-up lesion, transform maps planning → follow-up points): the
  mask is resampled onto a ``supersample``-times finer copy of the dose grid (restricted to the
  lesion's box) with ``sitk.Resample(mask, fine_grid, T, sitkLinear)`` — linear interpolation of
  the 0/1 mask gives partial volumes — and the dose is sampled trilinearly at the fine voxel
  centres. This is the direction of the shared transform convention (no inversion needed).

Points outside the dose grid (beyond half a voxel from the outermost dose points) get no dose;
they are left out of the dose metrics and reported as :attr:`DVH.outside_fraction`.

Metric definitions: ``D_x%`` / ``D_x cc`` is the minimum dose in the hottest x % / x cm³ of the
structure (interpolated on the cumulative volume); ``V_x Gy`` the volume receiving at least
x Gy; Dmin/Dmax the extreme point doses of the sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import SimpleITK as sitk

from radnec.dose.interpolation import PlaneInterpolation
from radnec.errors import GeometryError
from radnec.geometry import MM3_PER_CC

#: Largest number of quadrature points per structure (memory/time guard; ~100 MB).
MAX_POINTS = 1_500_000
#: Default sub-division of the smallest dose-grid spacing for structure sampling.
DEFAULT_SUPERSAMPLE = 4
#: Default sub-voxels per axis of a mask voxel (stratified jittered points, so 2 already gives
#: continuous, unbiased dose samples).
DEFAULT_MASK_SUPERSAMPLE = 2


@dataclass(frozen=True)
class DVH:
    """A dose-volume histogram as a weighted dose sample.

    Attributes
    ----------
    doses_gy
        Point doses (Gy), sorted ascending (points inside the dose grid only).
    weights_cc
        Volume (cm³) of each point.
    volume_cc
        Structure volume (cm³), including any part outside the dose grid.
    name
        Structure name.
    method
        How the DVH was computed (sampling, interpolation, direction), for reports.
    notes
        Warnings (outside the grid, ignored contours, …).
    """

    doses_gy: np.ndarray
    weights_cc: np.ndarray
    volume_cc: float
    name: str = ""
    method: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    # ----- basic numbers ---------------------------------------------------------------
    @property
    def volume_in_grid_cc(self) -> float:
        """Volume (cm³) of the part of the structure inside the dose grid."""
        return float(self.weights_cc.sum())

    @property
    def outside_fraction(self) -> float:
        """Fraction (0..1) of the structure volume outside the dose grid."""
        if self.volume_cc <= 0:
            return 0.0
        return float(min(1.0, max(0.0, 1.0 - self.volume_in_grid_cc / self.volume_cc)))

    def _require(self) -> None:
        if self.doses_gy.size == 0:
            raise GeometryError(f"structure {self.name!r} has no volume inside the dose grid; no dose metric exists")

    @property
    def dmin_gy(self) -> float:
        self._require()
        return float(self.doses_gy[0])

    @property
    def dmax_gy(self) -> float:
        self._require()
        return float(self.doses_gy[-1])

    @property
    def dmean_gy(self) -> float:
        self._require()
        return float(np.dot(self.doses_gy, self.weights_cc) / self.weights_cc.sum())

    # ----- D and V metrics -------------------------------------------------------------
    def d_cc(self, volume_cc: float) -> float:
        """Minimum dose (Gy) to the hottest ``volume_cc`` cm³ (e.g. ``d_cc(0.03)``)."""
        self._require()
        if volume_cc < 0:
            raise ValueError(f"volume must be ≥ 0 cm³, got {volume_cc}")
        d = self.doses_gy[::-1]
        w = self.weights_cc[::-1]
        cum = np.cumsum(w)
        mid = cum - w / 2.0
        if volume_cc >= cum[-1]:
            return float(d[-1])
        return float(np.interp(volume_cc, mid, d))

    def d_pct(self, percent: float) -> float:
        """Minimum dose (Gy) to the hottest ``percent`` % of the in-grid volume (D95 = ``d_pct(95)``)."""
        if not 0 <= percent <= 100:
            raise ValueError(f"percent must be within 0..100, got {percent}")
        self._require()
        return self.d_cc(percent / 100.0 * self.volume_in_grid_cc)

    def v_gy(self, dose_gy: float, *, relative: bool = False) -> float:
        """Volume receiving at least ``dose_gy`` Gy: cm³, or % of the in-grid volume when
        ``relative``."""
        if self.doses_gy.size == 0:
            return 0.0
        i = np.searchsorted(self.doses_gy, dose_gy, side="left")
        v = float(self.weights_cc[i:].sum())
        return 100.0 * v / self.volume_in_grid_cc if relative else v

    # ----- histograms --------------------------------------------------------------------
    def cumulative(self, *, bin_width_gy: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
        """Cumulative DVH: dose levels (Gy, from 0) and volume (cm³) receiving at least each."""
        edges, diff = self.differential(bin_width_gy=bin_width_gy)
        cum = np.concatenate([np.cumsum(diff[::-1])[::-1], [0.0]])
        return edges, cum

    def differential(self, *, bin_width_gy: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
        """Differential DVH: bin edges (Gy) and volume (cm³) per bin."""
        if bin_width_gy <= 0:
            raise ValueError("bin_width_gy must be positive")
        top = float(self.doses_gy[-1]) if self.doses_gy.size else 0.0
        n = max(1, int(np.ceil(top / bin_width_gy + 1e-9)) + 1)
        edges = np.arange(n + 1) * bin_width_gy
        hist, _ = np.histogram(self.doses_gy, bins=edges, weights=self.weights_cc)
        return edges, hist

    def summary(self, *, d_points_pct: tuple[float, ...] = (99, 95, 50, 5, 1), d_points_cc: tuple[float, ...] = (0.03,)) -> dict[str, Any]:
        """JSON-ready summary of the DVH."""
        out: dict[str, Any] = {
            "name": self.name,
            "volume_cc": self.volume_cc,
            "volume_in_grid_cc": self.volume_in_grid_cc,
            "outside_fraction": self.outside_fraction,
        }
        if self.doses_gy.size:
            out.update(dmin_gy=self.dmin_gy, dmean_gy=self.dmean_gy, dmax_gy=self.dmax_gy)
            for p in d_points_pct:
                out[f"d{_fmt(p)}_gy"] = self.d_pct(p)
            for c in d_points_cc:
                out[f"d{_fmt(c)}cc_gy"] = self.d_cc(c)
        out["method"] = self.method
        out["notes"] = self.notes
        return out


def _fmt(x: float) -> str:
    return (f"{x:g}").replace(".", "_")


def sample_dose(dose: sitk.Image, points_lps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Trilinear dose (Gy) at LPS points; returns (doses, inside-grid boolean).

    A point is inside when it lies within half a voxel of the outermost dose points along each
    axis; in that outer half-voxel the edge value is used (no extrapolation).
    """
    from scipy import ndimage

    arr = sitk.GetArrayViewFromImage(dose)
    origin = np.asarray(dose.GetOrigin())
    spacing = np.asarray(dose.GetSpacing())
    direction = np.asarray(dose.GetDirection()).reshape(3, 3)
    ci = ((np.asarray(points_lps, dtype=float).reshape(-1, 3) - origin) @ direction) / spacing
    size = np.asarray(dose.GetSize())
    inside = np.all((ci >= -0.5) & (ci <= size - 0.5), axis=1)
    vals = np.zeros(len(ci), dtype=float)
    if inside.any():
        c = ci[inside]
        vals[inside] = ndimage.map_coordinates(
            np.asarray(arr, dtype=np.float32), [c[:, 2], c[:, 1], c[:, 0]], order=1, mode="nearest"
        )
    return vals, inside


def dvh(
    dose: sitk.Image,
    structure: Any,
    *,
    name: str | None = None,
    transform: sitk.Transform | None = None,
    supersample: int | None = None,
    resolution_mm: float | None = None,
    slice_thickness_mm: float | None = None,
    end_cap: bool = True,
    interpolation: PlaneInterpolation | str = PlaneInterpolation.MORPH,
) -> DVH:
    """DVH of a structure in a dose grid.

    Parameters
    ----------
    dose
        Dose image (Gy), any orientation.
    structure
        An :class:`radnec.geometry.contours.ROI` (contours) or a mask ``sitk.Image`` (0/1 or
        partial-volume 0..1) on any grid.
    name
        Label for reports (default: the ROI name).
    transform
        Only for masks: maps planning (dose) points to the mask's frame (see module docstring).
    supersample
        Sub-division per axis of the smallest dose spacing (ROI; default
        :data:`DEFAULT_SUPERSAMPLE`) or of each mask voxel (mask; default
        :data:`DEFAULT_MASK_SUPERSAMPLE`, jittered sub-voxel points) or of the dose grid (mask with
        a transform; default :data:`DEFAULT_MASK_SUPERSAMPLE` + 1).
    resolution_mm
        ROI only: explicit in-plane/through-plane sampling pitch (mm), overrides ``supersample``.
    slice_thickness_mm, end_cap
        ROI only: slab model options (see :func:`radnec.geometry.contours.contour_model`).
    interpolation
        ROI only, between contour planes: ``"morph"`` (default) — both planes' shapes blended, the
        cross-section area interpolated with the family chosen per run by cross-validation
        (:func:`radnec.geometry.contours.area_profiles`); ``"shape"`` — shape-based interpolation of
        signed distance maps (:func:`radnec.dose.sampling.shape_interpolated_points`, same
        areas); ``"spline"`` — the contour model's cubic spline of the areas
        (:func:`radnec.geometry.quadrature.roi_sample_points`, the radnec 0.1 behaviour).

    Returns
    -------
    DVH
    """
    from radnec.geometry.contours import ROI, contour_model
    from radnec.geometry.quadrature import roi_sample_points

    try:
        interpolation = PlaneInterpolation(interpolation)
    except ValueError:
        raise ValueError(f"interpolation must be 'morph', 'shape' or 'spline', got {interpolation!r}") from None
    if supersample is not None and supersample < 1:
        raise ValueError(f"supersample must be ≥ 1, got {supersample}")
    notes: list[str] = []
    if isinstance(structure, ROI):
        supersample = supersample or DEFAULT_SUPERSAMPLE
        model = contour_model(structure, slice_thickness_mm=slice_thickness_mm, end_cap=end_cap)
        notes.extend(model.ignored)
        total_cc = model.volume_cc()
        h = resolution_mm if resolution_mm is not None else min(dose.GetSpacing()) / supersample
        corners = model.to_plane(model.bounds_lps())
        box = np.ptp(corners, axis=0)
        box_mm3 = float(np.prod(np.maximum(box, 1e-3)))
        h_budget = (box_mm3 / MAX_POINTS) ** (1 / 3)
        if h < h_budget:
            notes.append(f"sampling pitch coarsened from {h:.3g} to {h_budget:.3g} mm (point budget)")
            h = h_budget
        if interpolation is PlaneInterpolation.SPLINE:
            pts, w = roi_sample_points(model, spacing_mm=h)
            family = "A (cubic spline)"
        else:
            from radnec.dose.sampling import model_volume_cc, morph_points, shape_interpolated_points
            from radnec.geometry.contours import area_profiles

            profiles = area_profiles(model)
            total_cc = model_volume_cc(model, profiles)
            family = ", ".join(sorted({fam for _, fam, _ in profiles}))
            sampler = shape_interpolated_points if interpolation is PlaneInterpolation.SHAPE else morph_points
            pts, w = sampler(model, spacing_mm=h, profiles=profiles)
        if w.sum() > 0:
            # the sample's volume differs from the exact slab-model volume by the in-plane
            # discretisation (≪ 1 %); rescale so that the DVH integrates to the exact volume
            w = w * (total_cc / w.sum())
        method = {
            "structure": "contours (slab model, even-odd, "
            + ("half-slice end-caps" if end_cap else "no end-caps")
            + {PlaneInterpolation.SHAPE: ", shape-based interpolation between planes (signed distance maps)",
               PlaneInterpolation.MORPH: ", the two neighbouring plane shapes blended between planes",
               PlaneInterpolation.SPLINE: ", the two neighbouring plane shapes blended between planes"}[interpolation]
            + f", cross-section area: cubic spline of {family})",
            "sampling_mm": h,
            "dose_interpolation": "trilinear",
            "points": int(len(w)),
        }
        label = name if name is not None else structure.name
    elif isinstance(structure, sitk.Image):
        label = name or "mask"
        if supersample is None:
            supersample = DEFAULT_MASK_SUPERSAMPLE if transform is None else DEFAULT_MASK_SUPERSAMPLE + 1
        if transform is None:
            pts, w, total_cc = _mask_points(structure, supersample)
            method = {
                "structure": f"mask voxels split into {supersample}³ sub-voxels (mask not interpolated)",
                "dose_interpolation": "trilinear",
                "points": int(len(w)),
            }
        else:
            pts, w, total_cc, method = _mask_points_transformed(structure, dose, transform, supersample)
    else:
        raise TypeError(f"structure must be an ROI or a SimpleITK mask image, got {type(structure).__name__}")

    doses, inside = sample_dose(dose, pts)
    d, ww = doses[inside], w[inside]
    order = np.argsort(d, kind="stable")
    result = DVH(doses_gy=d[order], weights_cc=ww[order], volume_cc=float(total_cc), name=label, method=method, notes=notes)
    if result.outside_fraction > 1e-3:
        notes.append(f"{100 * result.outside_fraction:.1f} % of the structure lies outside the dose grid (no dose there)")
    return result


def _mask_points(mask: sitk.Image, s: int) -> tuple[np.ndarray, np.ndarray, float]:
    arr = sitk.GetArrayViewFromImage(mask)
    vals = np.asarray(arr, dtype=float)
    if not np.issubdtype(arr.dtype, np.floating):
        vals = (vals > 0).astype(float)
    vals = np.clip(vals, 0.0, 1.0)
    idx = np.argwhere(vals > 0)  # z, y, x
    vox_cc = float(np.prod(mask.GetSpacing())) / MM3_PER_CC
    total = float(vals[vals > 0].sum()) * vox_cc
    if idx.size == 0:
        return np.zeros((0, 3)), np.zeros(0), 0.0
    while s > 1 and len(idx) * s**3 > MAX_POINTS:
        s -= 1
    offs = (np.arange(s) + 0.5) / s - 0.5
    sub = np.array(np.meshgrid(offs, offs, offs, indexing="ij")).reshape(3, -1).T
    base = idx[:, ::-1].astype(float)
    pidx = (base[:, None, :] + sub[None, :, :]).reshape(-1, 3)
    origin = np.asarray(mask.GetOrigin())
    spacing = np.asarray(mask.GetSpacing())
    direction = np.asarray(mask.GetDirection()).reshape(3, 3)
    # stratified jitter inside each sub-voxel (fixed seed): continuous doses, unbiased D-metrics
    pidx = pidx + np.random.default_rng(0).uniform(-0.5 / s, 0.5 / s, size=pidx.shape)
    pts = origin + (pidx * spacing) @ direction.T
    w = np.repeat(vals[idx[:, 0], idx[:, 1], idx[:, 2]] * vox_cc / s**3, s**3)
    return pts, w, total


def fine_grid(reference: sitk.Image, supersample: int, lo_xyz: np.ndarray, hi_xyz: np.ndarray) -> sitk.Image:
    """A ``supersample``-times finer grid covering voxels ``lo..hi`` (inclusive, x,y,z) of
    ``reference``; same direction, sub-voxel centres aligned with the parent voxels."""
    s = int(supersample)
    spacing = np.asarray(reference.GetSpacing())
    direction = np.asarray(reference.GetDirection()).reshape(3, 3)
    first = np.asarray(lo_xyz, dtype=float) - 0.5 + 0.5 / s
    origin = np.asarray(reference.GetOrigin()) + (first * spacing) @ direction.T
    size = ((np.asarray(hi_xyz) - np.asarray(lo_xyz) + 1) * s).astype(int)
    img = sitk.Image([int(v) for v in size], sitk.sitkFloat32)
    img.SetSpacing(tuple(float(v) for v in spacing / s))
    img.SetOrigin(tuple(float(v) for v in origin))
    img.SetDirection(reference.GetDirection())
    return img


def map_mask_to_grid(
    mask: sitk.Image, reference: sitk.Image, transform: sitk.Transform, *, supersample: int
) -> tuple[sitk.Image | None, float, bool]:
    """Fraction image of ``mask`` on a finer copy of ``reference`` (restricted to where it lands).

    ``transform`` maps reference (planning) points to mask (follow-up) points. Returns the fine
    fraction image (``None`` when the mask lands entirely outside ``reference``), the mask's own
    volume (cm³, in its frame — differs from the mapped volume under a deformable transform), and
    whether the mapped mask touches the faces of ``reference`` (only then can part of it lie
    outside the grid).
    """
    m = sitk.Cast(mask > 0, sitk.sitkFloat32) if mask.GetPixelID() != sitk.sitkFloat32 else mask
    total = float(np.clip(sitk.GetArrayViewFromImage(m), 0, 1).sum()) * float(np.prod(mask.GetSpacing())) / MM3_PER_CC
    coarse = sitk.Resample(m, reference, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    arr = sitk.GetArrayViewFromImage(coarse)
    nz = np.argwhere(arr > 0)
    if nz.size == 0:
        return None, total, True
    touches = bool(
        arr[0].max() > 0 or arr[-1].max() > 0 or arr[:, 0].max() > 0 or arr[:, -1].max() > 0
        or arr[:, :, 0].max() > 0 or arr[:, :, -1].max() > 0
    )
    size = np.asarray(reference.GetSize())
    lo = np.clip(nz.min(axis=0)[::-1] - 1, 0, size - 1)
    hi = np.clip(nz.max(axis=0)[::-1] + 1, 0, size - 1)
    grid = fine_grid(reference, supersample, lo, hi)
    fine = sitk.Resample(m, grid, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    return fine, total, touches


def _mask_points_transformed(mask, dose, transform, s):
    fine, total, touches = map_mask_to_grid(mask, dose, transform, supersample=s)
    method = {
        "structure": f"mask resampled onto the dose grid refined {s}× per axis",
        "direction": "follow-up mask → planning dose grid: Resample(mask, fine_dose_grid, T), T maps planning → follow-up points",
        "mask_interpolation": "linear (partial volume)",
        "dose_interpolation": "trilinear",
    }
    if fine is None:
        return np.zeros((0, 3)), np.zeros(0), total, method
    pts, w, _ = _mask_points(fine, 1)
    method["points"] = int(len(w))
    mapped = float(w.sum())
    if not touches:
        # wholly inside the grid: the structure's volume is its mapped volume (a deformable
        # transform changes volumes; that is not a part outside the grid)
        total = mapped
    return pts, w, max(total, mapped), method


__all__ = ["DVH", "dvh", "sample_dose", "fine_grid", "map_mask_to_grid", "MAX_POINTS"]
