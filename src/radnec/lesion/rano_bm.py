"""RANO-BM diameters, measurability and response category (Lin NU et al., Lancet Oncol 2015).

Diameters are measured in the patient *axial* plane (perpendicular to the patient S axis, LPS):

* Axial acquisitions (slice normal within ``AXIAL_TOLERANCE_DEG`` of S): each acquired slice is
  measured in-plane, whatever the slice thickness (6.5 mm slices → in-plane diameters; thickness
  only counts slices).
* Oblique, coronal or sagittal acquisitions: the mask is resampled (linear interpolation of the
  0/1 mask) onto an axial grid with the finest in-plane spacing of the image and slices as thick as
  the original slice spacing, then measured the same way.

On each axial slice the lesion outline is the 0.5 iso-contour of the mask
(:func:`skimage.measure.find_contours`, i.e. half-way between inside and outside voxel centres,
which measures edge to edge). The longest diameter (LD) is the largest distance between outline
points; the perpendicular diameter is the extent of the outline along the in-plane direction
perpendicular to the LD (caliper width; equals the longest perpendicular chord for convex
lesions). The slice with the largest LD is reported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy.spatial import ConvexHull, QhullError
from scipy.spatial.distance import pdist, squareform

from radnec.errors import InputError
from radnec.lesion.conventions import load_conventions_file

#: Maximal angle (degrees) between the slice normal and the patient S axis for a series to be
#: measured slice by slice as acquired (a geometric tolerance, not a clinical number).
AXIAL_TOLERANCE_DEG = 1.0


def rano_bm_rules() -> dict:
    """The RANO-BM block of ``conventions.yaml`` (citation, measurability, response rules)."""
    return load_conventions_file()["rano_bm"]


@dataclass(frozen=True)
class AxialSlices:
    """A mask cut into patient-axial slices.

    ``slices`` has shape (n, rows, cols) (float 0..1), ``points_lps(k, rc)`` converts (row, col)
    positions of slice k to LPS mm. ``pixel_area_mm2`` is the in-plane area of one pixel.
    """

    slices: np.ndarray
    image: sitk.Image
    resampled: bool

    @property
    def pixel_area_mm2(self) -> float:
        sx, sy, _ = self.image.GetSpacing()
        return float(sx * sy)

    @property
    def slice_thickness_mm(self) -> float:
        return float(self.image.GetSpacing()[2])

    def points_lps(self, k: int, rc: np.ndarray) -> np.ndarray:
        idx = np.column_stack([rc[:, 1], rc[:, 0], np.full(len(rc), float(k))])
        origin = np.asarray(self.image.GetOrigin())
        spacing = np.asarray(self.image.GetSpacing())
        direction = np.asarray(self.image.GetDirection()).reshape(3, 3)
        return origin + (idx * spacing) @ direction.T


def axial_slices(mask: sitk.Image, *, values: sitk.Image | None = None) -> AxialSlices:
    """Cut ``mask`` (or ``values`` on the same grid, e.g. a second mask) into patient-axial slices."""
    direction = np.asarray(mask.GetDirection()).reshape(3, 3)
    normal = direction[:, 2]
    angle = math.degrees(math.acos(min(1.0, abs(float(normal[2])))))
    src = values if values is not None else mask
    if angle <= AXIAL_TOLERANCE_DEG:
        arr = sitk.GetArrayFromImage(src).astype(np.float64)
        return AxialSlices(slices=np.clip(arr, 0, 1), image=src, resampled=False)
    # oblique / non-axial: resample onto an axial LPS grid covering the mask
    spacing = np.asarray(mask.GetSpacing())
    in_plane = float(min(spacing[0], spacing[1]))
    thickness = float(spacing[2])
    size = np.asarray(mask.GetSize())
    corners = np.array([[i, j, k] for i in (-0.5, size[0] - 0.5) for j in (-0.5, size[1] - 0.5) for k in (-0.5, size[2] - 0.5)])
    pts = np.array([mask.TransformContinuousIndexToPhysicalPoint(c.tolist()) for c in corners])
    lo, hi = pts.min(0), pts.max(0)
    new_spacing = np.array([in_plane, in_plane, thickness])
    new_size = np.ceil((hi - lo) / new_spacing).astype(int) + 1
    ref = sitk.Image([int(v) for v in new_size], sitk.sitkFloat32)
    ref.SetSpacing(tuple(float(v) for v in new_spacing))
    ref.SetOrigin(tuple(float(v) for v in lo))
    ref.SetDirection((1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))
    res = sitk.Resample(sitk.Cast(src, sitk.sitkFloat32), ref, sitk.Transform(), sitk.sitkLinear, 0.0)
    arr = sitk.GetArrayFromImage(res).astype(np.float64)
    return AxialSlices(slices=np.clip(arr, 0, 1), image=res, resampled=True)


@dataclass(frozen=True)
class AxialDiameters:
    """RANO-BM style diameters of one lesion (mm)."""

    longest_mm: float
    perpendicular_mm: float
    slice_s_mm: float | None
    n_slices: int
    endpoints_lps: tuple[tuple[float, float, float], tuple[float, float, float]] | None
    resampled_to_axial: bool


def _outline_points(sl: np.ndarray) -> np.ndarray:
    from skimage.measure import find_contours

    padded = np.pad(sl, 1)
    cont = find_contours(padded, 0.5)
    if not cont:
        return np.empty((0, 2))
    return np.concatenate(cont) - 1.0


def _ld_and_perp(xy: np.ndarray) -> tuple[float, float, np.ndarray, np.ndarray]:
    pts = xy
    if len(pts) >= 4:
        try:
            pts = xy[ConvexHull(xy).vertices]
        except QhullError:  # collinear outline
            pts = xy
    d = squareform(pdist(pts))
    i, j = np.unravel_index(int(np.argmax(d)), d.shape)
    ld = float(d[i, j])
    if ld == 0:
        return 0.0, 0.0, pts[i], pts[j]
    u = (pts[j] - pts[i]) / ld
    perp = np.array([-u[1], u[0]])
    proj = xy @ perp
    return ld, float(proj.max() - proj.min()), pts[i], pts[j]


def axial_diameters(mask: sitk.Image) -> AxialDiameters:
    """Longest axial diameter and its perpendicular (mm) of a lesion mask (see module doc)."""
    cut = axial_slices(mask)
    best = (0.0, 0.0, None, None, None)
    n = 0
    for k in range(cut.slices.shape[0]):
        sl = cut.slices[k]
        if sl.max() < 0.5:
            continue
        n += 1
        rc = _outline_points(sl)
        if len(rc) < 2:
            continue
        lps = cut.points_lps(k, rc)
        ld, perp, a, b = _ld_and_perp(lps[:, :2])
        if ld > best[0]:
            s_mm = float(np.mean(lps[:, 2]))
            pa = (float(a[0]), float(a[1]), s_mm)
            pb = (float(b[0]), float(b[1]), s_mm)
            best = (ld, perp, s_mm, pa, pb)
    ld, perp, s_mm, pa, pb = best
    return AxialDiameters(
        longest_mm=ld,
        perpendicular_mm=perp,
        slice_s_mm=s_mm,
        n_slices=n,
        endpoints_lps=(pa, pb) if pa is not None else None,
        resampled_to_axial=cut.resampled,
    )


def measurability(d: AxialDiameters, *, slice_thickness_mm: float) -> tuple[bool, str]:
    """RANO-BM measurable disease (Lin 2015): LD ≥ 10 mm, perpendicular ≥ 5 mm, ≥ 2 axial slices.

    Returns (measurable, reason). Slices thicker than the recommended 5 mm are flagged in the reason.
    """
    m = rano_bm_rules()["measurable"]
    reasons = []
    if d.longest_mm < m["min_longest_diameter_mm"]:
        reasons.append(f"longest diameter {d.longest_mm:.1f} mm < {m['min_longest_diameter_mm']:g} mm")
    if d.perpendicular_mm < m["min_perpendicular_diameter_mm"]:
        reasons.append(f"perpendicular {d.perpendicular_mm:.1f} mm < {m['min_perpendicular_diameter_mm']:g} mm")
    if d.n_slices < m["min_axial_slices"]:
        reasons.append(f"visible on {d.n_slices} axial slice(s) < {m['min_axial_slices']}")
    measurable = not reasons
    text = "measurable" if measurable else "non-measurable: " + "; ".join(reasons)
    if slice_thickness_mm > m["recommended_max_slice_thickness_mm"] + 1e-6:
        text += f" (slices {slice_thickness_mm:.1f} mm thick > recommended {m['recommended_max_slice_thickness_mm']:g} mm)"
    return measurable, text


def rano_bm_categories(
    sum_ld_mm: Sequence[float],
    *,
    steroid_mg_per_day: Sequence[float | None] | None = None,
) -> list[str]:
    """RANO-BM response category of each time point for one target lesion (or a sum of LDs).

    The first time point is the baseline. PD: ≥ 20 % increase of the sum of longest diameters
    over the nadir (smallest sum on study, including baseline) *and* ≥ 5 mm absolute increase.
    CR: the lesion has disappeared (sum 0) and no corticosteroids. PR: ≥ 30 % decrease from
    baseline with stable or lower corticosteroid dose than at baseline. Otherwise SD. Rules and
    citation: ``conventions.yaml`` → ``rano_bm`` (Lin 2015). Confirmation scans, new lesions,
    non-target lesions and clinical status are not assessed (imaging-only category).

    Returns
    -------
    list[str]
        ``"baseline"`` then one of ``"CR"``, ``"PR"``, ``"SD"``, ``"PD"`` per follow-up.
    """
    rules = rano_bm_rules()["response"]
    sld = [float(v) for v in sum_ld_mm]
    if not sld:
        return []
    if any((not math.isfinite(v)) or v < 0 for v in sld):
        raise InputError(f"sums of longest diameters must be finite and >= 0 mm, got {sld}")
    steroids = list(steroid_mg_per_day) if steroid_mg_per_day is not None else [None] * len(sld)
    if len(steroids) != len(sld):
        raise InputError("give one steroid dose (or None) per time point")
    out = ["baseline"]
    baseline = sld[0]
    nadir = sld[0]
    for i in range(1, len(sld)):
        cur = sld[i]
        increase = cur - nadir
        ster, ster0 = steroids[i], steroids[0]
        if nadir > 0 and increase >= rules["progression_increase_fraction"] * nadir and increase >= rules["progression_min_absolute_increase_mm"]:
            cat = "PD"
        elif nadir == 0 and cur >= rules["progression_min_absolute_increase_mm"]:
            cat = "PD"  # reappearance after complete disappearance
        elif cur == 0 and baseline > 0 and not (rules["complete_response_requires_no_steroids"] and ster not in (None, 0, 0.0)):
            cat = "CR"
        elif baseline > 0 and (baseline - cur) >= rules["partial_response_decrease_fraction"] * baseline and not (
            rules["partial_response_requires_stable_or_lower_steroids"] and ster is not None and ster0 is not None and ster > ster0
        ):
            cat = "PR"
        else:
            cat = "SD"
        out.append(cat)
        nadir = min(nadir, cur)
    return out


__all__ = [
    "AXIAL_TOLERANCE_DEG",
    "AxialSlices",
    "AxialDiameters",
    "axial_slices",
    "axial_diameters",
    "measurability",
    "rano_bm_categories",
    "rano_bm_rules",
]
