"""Growth symmetry of a lesion relative to the high-dose region: symmetric or eccentric.

Continuous measures (all in the planning frame, on the refined dose grid):

* **centroid offset**: distance (mm) between the lesion centroid and the dose-weighted centre of
  the high-dose region (the connected part of the Rx isodose volume that overlaps the lesion,
  or the nearest one), divided by the lesion's equivalent-sphere radius;
* **envelopment**: fraction of that high-dose region's volume covered by the lesion (1 = the
  lesion envelops the whole prescription isodose volume, as necrosis does);
* **radial spread**: rays are cast from the dose-weighted centre in ``n_directions`` directions
  (Fibonacci sphere); along each, the radius of the Rx isodose surface (first drop below Rx)
  and of the lesion boundary (outermost point with fraction ≥ 0.5; 0 when the ray misses the
  lesion) are found; the spread is the standard deviation over directions of their difference,
  divided by the lesion radius.

Classification (``conventions.yaml`` → ``symmetry``; radnec convention, expert opinion):
**symmetric** when the centroid offset ≤ ``max_centroid_offset``, the radial spread ≤
``max_radial_spread`` and the envelopment ≥ ``min_envelopment`` (the lesion has grown around the
whole high-dose region); **eccentric** otherwise. Pass the whole lesion (enhancing rim plus any
necrotic core) — a rim-only mask still works for offset and spread, but not for envelopment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import SimpleITK as sitk

from radnec.dose.dvh import sample_dose
from radnec.dose.lesion import DEFAULT_SUPERSAMPLE, MappedLesion, map_lesion
from radnec.errors import GeometryError
from radnec.geometry import MM3_PER_CC


@dataclass(frozen=True)
class SymmetryResult:
    """Outcome of :func:`growth_symmetry`."""

    growth_symmetry: str
    centroid_offset: float
    centroid_offset_mm: float
    envelopment: float
    radial_spread: float
    lesion_radius_mm: float
    rx_radius_mm: float
    dose_centre_lps: list[float]
    lesion_centroid_lps: list[float]
    rule: str
    convention: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def fibonacci_directions(n: int) -> np.ndarray:
    """``n`` unit vectors spread evenly over the sphere (golden-angle spiral), shape (n, 3)."""
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    r = np.sqrt(np.maximum(0.0, 1 - z * z))
    phi = np.pi * (1 + 5**0.5) * i
    return np.column_stack([r * np.cos(phi), r * np.sin(phi), z])


def growth_symmetry(
    dose: sitk.Image,
    lesion_mask: sitk.Image,
    *,
    prescription_gy: float,
    transform: sitk.Transform | None = None,
    supersample: int = DEFAULT_SUPERSAMPLE,
    mapped: MappedLesion | None = None,
) -> SymmetryResult:
    """Symmetric or eccentric growth relative to the high-dose region (see module docstring).

    Parameters
    ----------
    dose
        Plan dose (Gy), planning frame.
    lesion_mask
        Whole lesion (uint8) in its follow-up frame.
    prescription_gy
        Prescription (Gy).
    transform
        Planning → follow-up transform (``None``: the mask is in the planning frame).
    """
    from radnec.dose.conventions import load_conventions
    from radnec.dose.isodose import isodose_mask

    conv = load_conventions()["symmetry"]
    level = prescription_gy * float(conv["high_dose_isodose_pct"]) / 100.0
    notes: list[str] = []
    m = mapped if mapped is not None else map_lesion(dose, lesion_mask, transform=transform, supersample=supersample)
    if m.weights_cc.sum() <= 0:
        from radnec.dose.pattern import dose_edge_max_gy

        if dose_edge_max_gy(dose) < level:
            # the lesion is entirely away from a high-dose region that the grid contains: by
            # definition not centred on it
            nan = float("nan")
            return SymmetryResult(
                growth_symmetry="eccentric", centroid_offset=nan, centroid_offset_mm=nan, envelopment=0.0,
                radial_spread=nan, lesion_radius_mm=(3.0 * m.volume_cc * MM3_PER_CC / (4.0 * np.pi)) ** (1.0 / 3.0),
                rx_radius_mm=nan, dose_centre_lps=[], lesion_centroid_lps=[],
                rule="lesion entirely outside the dose grid, which contains the whole Rx isodose: eccentric",
                convention=str(conv["convention"]), notes=["the lesion lies outside the dose grid"],
            )
        raise GeometryError("the lesion lies outside the dose grid: growth symmetry cannot be judged")
    c_les = m.centroid_lps()
    r_les = (3.0 * m.mapped_cc * MM3_PER_CC / (4.0 * np.pi)) ** (1.0 / 3.0)

    # high-dose region: the Rx isodose component(s) overlapping the lesion most (or nearest)
    hd = isodose_mask(dose, level)
    cc = sitk.ConnectedComponent(hd)
    lab = sitk.GetArrayViewFromImage(cc)
    if lab.max() == 0:
        raise GeometryError(f"no voxel reaches the high-dose level {level:.3g} Gy; check the prescription")
    ci = np.rint(((m.points_lps - np.asarray(dose.GetOrigin())) @ np.asarray(dose.GetDirection()).reshape(3, 3)) / np.asarray(dose.GetSpacing())).astype(int)
    size = np.asarray(dose.GetSize())
    ok = np.all((ci >= 0) & (ci < size), axis=1)
    labels_at = lab[ci[ok, 2], ci[ok, 1], ci[ok, 0]]
    overlap = np.bincount(labels_at, weights=m.weights_cc[ok], minlength=int(lab.max()) + 1)
    overlap[0] = 0
    darr = np.asarray(sitk.GetArrayViewFromImage(dose), dtype=float)
    if overlap.max() > 0:
        chosen = int(np.argmax(overlap))
    else:
        best, chosen = np.inf, 1
        for k in range(1, int(lab.max()) + 1):
            idx = np.argwhere(lab == k)
            pts = _idx_to_lps(dose, idx)
            dmin = float(np.min(np.linalg.norm(pts - c_les, axis=1)))
            if dmin < best:
                best, chosen = dmin, k
        notes.append("the lesion does not overlap the prescription isodose volume; the nearest high-dose region is used")
    region = np.argwhere(lab == chosen)
    rpts = _idx_to_lps(dose, region)
    rd = darr[region[:, 0], region[:, 1], region[:, 2]]
    c_dose = (rpts * rd[:, None]).sum(axis=0) / rd.sum()
    vox_cc = float(np.prod(dose.GetSpacing())) / MM3_PER_CC
    rx_cc = len(region) * vox_cc
    r_rx = (3.0 * rx_cc * MM3_PER_CC / (4.0 * np.pi)) ** (1.0 / 3.0)
    envelopment = float(np.mean(m.fraction_at(rpts)))

    # rays
    n = int(conv["n_directions"])
    dirs = fibonacci_directions(n)
    step = float(min(m.fraction.GetSpacing())) / 2.0 if m.fraction is not None else min(dose.GetSpacing()) / 2
    far = max(float(np.max(np.linalg.norm(m.points_lps - c_dose, axis=1))), float(np.max(np.linalg.norm(rpts - c_dose, axis=1)))) + 2 * max(dose.GetSpacing())
    radii = np.arange(0.0, far + step, step)
    pts = c_dose[None, None, :] + dirs[:, None, :] * radii[None, :, None]
    flat = pts.reshape(-1, 3)
    dvals, _ = sample_dose(dose, flat)
    dvals = dvals.reshape(n, -1)
    fvals = m.fraction_at(flat).reshape(n, -1)
    below = dvals < level
    first_below = np.where(below.any(axis=1), below.argmax(axis=1), len(radii) - 1)
    r_iso = radii[first_below]
    inl = fvals >= 0.5
    last_in = np.where(inl.any(axis=1), len(radii) - 1 - np.argmax(inl[:, ::-1], axis=1), -1)
    r_lb = np.where(last_in >= 0, radii[np.clip(last_in, 0, None)], 0.0)
    spread = float(np.std(r_lb - r_iso) / r_les)
    offset_mm = float(np.linalg.norm(c_les - c_dose))
    offset = offset_mm / r_les
    max_off, max_spread = float(conv["max_centroid_offset"]), float(conv["max_radial_spread"])
    min_env = float(conv["min_envelopment"])
    label = "symmetric" if offset <= max_off and spread <= max_spread and envelopment >= min_env else "eccentric"
    return SymmetryResult(
        growth_symmetry=label,
        centroid_offset=offset,
        centroid_offset_mm=offset_mm,
        envelopment=envelopment,
        radial_spread=spread,
        lesion_radius_mm=float(r_les),
        rx_radius_mm=float(r_rx),
        dose_centre_lps=[float(v) for v in c_dose],
        lesion_centroid_lps=[float(v) for v in c_les],
        rule=(
            f"symmetric if centroid offset ≤ {max_off} lesion radii, radial spread ≤ {max_spread} and envelopment of the "
            f"Rx isodose volume ≥ {min_env}; eccentric otherwise"
        ),
        convention=str(conv["convention"]),
        notes=notes,
    )


def _idx_to_lps(image: sitk.Image, idx_zyx: np.ndarray) -> np.ndarray:
    return np.asarray(image.GetOrigin()) + (idx_zyx[:, ::-1] * np.asarray(image.GetSpacing())) @ np.asarray(image.GetDirection()).reshape(3, 3).T


__all__ = ["SymmetryResult", "growth_symmetry", "fibonacci_directions"]
