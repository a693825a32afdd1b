"""The plan dose on a follow-up lesion: DVH, dose metrics and isodose coverage.

Direction and interpolation (the shared transform convention): the registration result ``T``
maps a PLANNING point (dose frame, LPS mm) to the corresponding FOLLOW-UP point. The follow-up
lesion mask is therefore brought onto the dose grid — refined ``supersample`` times per axis
and restricted to the lesion's box — with ``sitk.Resample(mask, fine_dose_grid, T, linear)``:
linear interpolation of the 0/1 mask gives partial volumes at the lesion boundary, no field is
inverted, and the dose itself is only ever interpolated trilinearly at the fine voxel centres.
Without ``T`` the mask is taken to be in the planning frame already (identity).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import SimpleITK as sitk

from radnec.dose.dvh import DVH, map_mask_to_grid, sample_dose
from radnec.errors import GeometryError
from radnec.geometry import MM3_PER_CC

#: Default refinement of the dose grid for lesion sampling (per axis).
DEFAULT_SUPERSAMPLE = 3


@dataclass(frozen=True)
class MappedLesion:
    """A follow-up lesion mask brought onto a refined dose grid (planning frame).

    Attributes
    ----------
    fractions
        Lesion fraction (0..1) of each point (partial volume at the boundary).
    fraction
        Fine planning-frame grid with the lesion fraction 0..1 (``None`` when the lesion lands
        entirely outside the dose grid).
    points_lps, weights_cc, doses_gy
        Fine voxel centres inside the lesion (LPS mm), their partial volumes (cm³) and the
        trilinear dose there (Gy).
    volume_cc
        Volume of the mask in its own frame (cm³).
    method
        Direction and interpolation used.
    """

    fraction: sitk.Image | None
    points_lps: np.ndarray
    weights_cc: np.ndarray
    doses_gy: np.ndarray
    volume_cc: float
    method: dict[str, Any]
    fractions: np.ndarray | None = None
    touches_grid_edge: bool = False

    @property
    def outside_cc(self) -> float:
        """Estimated lesion volume (cm³) outside the dose grid: 0 unless the mapped lesion reaches
        the grid faces; then the mask volume not mapped (exact for rigid transforms)."""
        if self.fraction is None:
            return self.volume_cc
        if not self.touches_grid_edge:
            return 0.0
        return max(0.0, self.volume_cc - self.mapped_cc)

    @property
    def mapped_cc(self) -> float:
        return float(self.weights_cc.sum())

    def centroid_lps(self, weights: np.ndarray | None = None) -> np.ndarray:
        w = self.weights_cc if weights is None else weights
        if w.sum() <= 0:
            raise GeometryError("the lesion has no volume inside the dose grid; it has no centroid there")
        return (self.points_lps * w[:, None]).sum(axis=0) / w.sum()

    def fraction_at(self, points_lps: np.ndarray) -> np.ndarray:
        """Lesion fraction (0..1, linear) at LPS points of the planning frame."""
        from scipy import ndimage

        if self.fraction is None:
            return np.zeros(len(points_lps))
        img = self.fraction
        ci = ((np.asarray(points_lps, float) - np.asarray(img.GetOrigin())) @ np.asarray(img.GetDirection()).reshape(3, 3)) / np.asarray(img.GetSpacing())
        arr = sitk.GetArrayViewFromImage(img)
        return ndimage.map_coordinates(np.asarray(arr), [ci[:, 2], ci[:, 1], ci[:, 0]], order=1, mode="constant", cval=0.0)


def map_lesion(
    dose: sitk.Image,
    lesion_mask: sitk.Image,
    *,
    transform: sitk.Transform | None = None,
    supersample: int = DEFAULT_SUPERSAMPLE,
) -> MappedLesion:
    """Bring a lesion mask onto a refined copy of the dose grid (see module docstring)."""
    if not isinstance(lesion_mask, sitk.Image) or lesion_mask.GetDimension() != 3:
        raise GeometryError("the lesion mask must be a 3-D SimpleITK image")
    if not np.any(sitk.GetArrayViewFromImage(lesion_mask)):
        raise GeometryError("the lesion mask is empty")
    tx = transform if transform is not None else sitk.Transform(3, sitk.sitkIdentity)
    fine, total, touches = map_mask_to_grid(lesion_mask, dose, tx, supersample=supersample)
    method = {
        "direction": "follow-up lesion mask → planning dose grid, Resample(mask, fine_dose_grid, T); T maps planning → follow-up points"
        if transform is not None
        else "lesion mask already in the planning frame (identity transform)",
        "mask_interpolation": f"linear (partial volume) on the dose grid refined {supersample}× per axis",
        "dose_interpolation": "trilinear",
        "transform": type(transform).__name__ if transform is not None else "identity",
    }
    if fine is None:
        return MappedLesion(None, np.zeros((0, 3)), np.zeros(0), np.zeros(0), total, method, None, True)
    arr = sitk.GetArrayViewFromImage(fine)
    idx = np.argwhere(arr > 1e-6)
    w = arr[idx[:, 0], idx[:, 1], idx[:, 2]].astype(float) * float(np.prod(fine.GetSpacing())) / MM3_PER_CC
    origin = np.asarray(fine.GetOrigin())
    direction = np.asarray(fine.GetDirection()).reshape(3, 3)
    pts = origin + (idx[:, ::-1] * np.asarray(fine.GetSpacing())) @ direction.T
    f = arr[idx[:, 0], idx[:, 1], idx[:, 2]].astype(float)
    d, inside = sample_dose(dose, pts)
    return MappedLesion(fine, pts[inside], w[inside], d[inside], total, method, f[inside], touches)


#: Relative tolerance between the measured planning/follow-up volume ratio of a mapped lesion and the
#: ratio the transform's Jacobian implies; beyond it the mapping is flagged (a geometric check of
#: radnec's own computation, not a clinical number).
VOLUME_RATIO_TOLERANCE = 0.10
#: At most this many lesion points are used for the Jacobian (every k-th point, deterministic).
JACOBIAN_SAMPLES = 2000


def volume_conservation(mapped: MappedLesion, transform: sitk.Transform | None, *, step_mm: float = 0.5) -> dict[str, Any]:
    """Does the lesion keep its volume when brought onto the dose grid?

    The transform ``T`` maps planning points to follow-up points, so a lesion of volume ``V_fu`` in
    its own frame covers ``V_plan`` = ``V_fu`` / mean(det J_T) in the planning frame (mean over the
    mapped lesion, weighted by its partial volumes). det J_T is taken by central differences of
    ``T.TransformPoint`` (±``step_mm``) at up to :data:`JACOBIAN_SAMPLES` lesion points; a rigid
    transform has det J = 1 exactly.

    Returns
    -------
    dict
        ``followup_cc``, ``planning_cc`` (mapped inside the grid plus the estimate outside it),
        ``ratio`` (planning / follow-up), ``jacobian_mean``, ``expected_ratio``, ``consistent`` and
        ``tolerance``.
    """
    planning_cc = mapped.mapped_cc + mapped.outside_cc
    followup_cc = float(mapped.volume_cc)
    jac = 1.0
    n = len(mapped.points_lps)
    if transform is not None and n and not _is_linear_rigid(transform):
        k = max(1, n // JACOBIAN_SAMPLES)
        pts, w = mapped.points_lps[::k], mapped.weights_cc[::k]
        dets = np.empty(len(pts))
        for i, p in enumerate(pts):
            cols = []
            for axis in range(3):
                d = np.zeros(3)
                d[axis] = step_mm
                a = np.asarray(transform.TransformPoint(tuple(float(v) for v in p + d)))
                b = np.asarray(transform.TransformPoint(tuple(float(v) for v in p - d)))
                cols.append((a - b) / (2 * step_mm))
            dets[i] = float(np.linalg.det(np.column_stack(cols)))
        jac = float((dets * w).sum() / w.sum()) if w.sum() > 0 else 1.0
    expected = 1.0 / jac if jac > 0 else float("nan")
    ratio = planning_cc / followup_cc if followup_cc > 0 else float("nan")
    consistent = bool(np.isfinite(ratio) and np.isfinite(expected) and abs(ratio / expected - 1.0) <= VOLUME_RATIO_TOLERANCE)
    return {
        "followup_cc": round(followup_cc, 4),
        "planning_cc": round(planning_cc, 4),
        "ratio": round(ratio, 4),
        "jacobian_mean": round(jac, 4),
        "expected_ratio": round(expected, 4),
        "consistent": consistent,
        "tolerance": VOLUME_RATIO_TOLERANCE,
        "note": "planning-frame volume of the mapped lesion vs its follow-up volume; the ratio should equal "
        "1 / mean Jacobian determinant of the registration over the lesion",
    }


def _is_linear_rigid(transform: sitk.Transform) -> bool:
    """A transform whose matrix is a rotation (det J = 1 everywhere)."""
    try:
        tx = sitk.CompositeTransform(transform) if not isinstance(transform, sitk.CompositeTransform) else transform
        parts = [tx.GetNthTransform(i) for i in range(tx.GetNumberOfTransforms())]
    except RuntimeError:
        return False
    for part in parts:
        name = part.GetName()
        if name in ("Euler3DTransform", "VersorRigid3DTransform", "TranslationTransform", "IdentityTransform"):
            continue
        return False
    return True


@dataclass(frozen=True)
class LesionDose:
    """Dose to a follow-up lesion (the ``dose`` block of the analysis JSON contract and more).

    ``volume_cc`` is the mask volume in its own (follow-up) frame; ``volume_in_grid_cc`` the
    volume mapped onto the planning dose grid (they differ under a deformable transform, e.g.
    mass effect); ``outside_fraction`` only counts what lies beyond the dose grid.
    """

    dmin_gy: float
    dmean_gy: float
    dmax_gy: float
    d95_gy: float
    coverage_pct: dict[str, float]
    coverage_abs_pct: dict[str, float]
    prescription_gy: float
    volume_cc: float
    volume_in_grid_cc: float
    outside_fraction: float
    dvh: DVH
    method: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_contract(self) -> dict[str, Any]:
        """The JSON-ready ``dose`` block (contract keys first, then the extras)."""
        return {
            "dmin_gy": self.dmin_gy,
            "dmean_gy": self.dmean_gy,
            "dmax_gy": self.dmax_gy,
            "d95_gy": self.d95_gy,
            "coverage_pct": dict(self.coverage_pct),
            "coverage_abs_pct": dict(self.coverage_abs_pct),
            "prescription_gy": self.prescription_gy,
            "volume_cc": self.volume_cc,
            "volume_in_grid_cc": self.volume_in_grid_cc,
            "outside_fraction": self.outside_fraction,
            "method": dict(self.method),
            "notes": list(self.notes),
        }


def lesion_dose(
    dose: sitk.Image,
    lesion_mask: sitk.Image,
    *,
    transform: sitk.Transform | None,
    prescription_gy: float,
    supersample: int = DEFAULT_SUPERSAMPLE,
    mapped: MappedLesion | None = None,
    name: str = "lesion",
) -> LesionDose:
    """Dose metrics and isodose coverage of a follow-up lesion.

    Parameters
    ----------
    dose
        Plan dose (Gy) on its grid (planning frame).
    lesion_mask
        Lesion mask (uint8 0/1) in the follow-up frame.
    transform
        Maps planning points to follow-up points (``None``: the mask is in the planning frame).
    prescription_gy
        Prescription dose (Gy) for the relative isodose levels.
    supersample
        Refinement of the dose grid per axis for the lesion sampling.
    mapped
        A :class:`MappedLesion` from :func:`map_lesion` to reuse (skips the resampling).

    Returns
    -------
    LesionDose
        Dmin/Dmax are taken over the sample points at least half inside the lesion; Dmean, D95
        and coverages over the partial-volume-weighted sample. ``coverage_pct.rxNN`` = % of the lesion volume (inside the dose grid) receiving at least
        NN % of the prescription; ``coverage_abs_pct`` likewise for 12 Gy and 10 Gy.
    """
    from radnec.dose.isodose import isodose_levels_gy

    levels = isodose_levels_gy(prescription_gy)
    m = mapped if mapped is not None else map_lesion(dose, lesion_mask, transform=transform, supersample=supersample)
    order = np.argsort(m.doses_gy, kind="stable")
    h = DVH(doses_gy=m.doses_gy[order], weights_cc=m.weights_cc[order], volume_cc=m.mapped_cc + m.outside_cc, name=name, method=m.method)
    notes: list[str] = []
    if h.doses_gy.size == 0:
        raise GeometryError("the lesion lies entirely outside the dose grid; its dose is unknown (not zero)")
    if h.outside_fraction > 1e-3:
        notes.append(f"{100 * h.outside_fraction:.1f} % of the lesion lies outside the dose grid; metrics use the rest")
    # Dmin/Dmax over the points at least half inside the lesion: the partial-volume rim of the
    # linearly resampled mask reaches up to one follow-up voxel beyond the boundary and would
    # otherwise bias Dmin low (steep SRS gradients: several Gy per mm)
    core = m.doses_gy[m.fractions >= 0.5] if m.fractions is not None and np.any(m.fractions >= 0.5) else m.doses_gy
    rel = {k: h.v_gy(v, relative=True) for k, v in levels.items() if k.startswith("rx")}
    ab = {k: h.v_gy(v, relative=True) for k, v in levels.items() if not k.startswith("rx")}
    return LesionDose(
        dmin_gy=float(core.min()),
        dmean_gy=h.dmean_gy,
        dmax_gy=float(core.max()),
        d95_gy=h.d_pct(95),
        coverage_pct=rel,
        coverage_abs_pct=ab,
        prescription_gy=float(prescription_gy),
        volume_cc=m.volume_cc,
        volume_in_grid_cc=h.volume_in_grid_cc,
        outside_fraction=h.outside_fraction,
        dvh=h,
        method=m.method,
        notes=notes,
    )


__all__ = ["VOLUME_RATIO_TOLERANCE", "MappedLesion", "map_lesion", "LesionDose", "lesion_dose", "volume_conservation"]
