"""Mass effect size and the edema level that hits Leeman's edema/lesion ratio in a follow-up frame
(helpers of :func:`radnec.phantom.generate.build_case`)."""

from __future__ import annotations

import numpy as np

from radnec.geometry import MM3_PER_CC
from radnec.phantom.deform import MassEffect
from radnec.phantom.lesion_fields import distance_to


def mass_effect_size(*, lesion_cc: float, l1_cc: float, edema_cc: float, fu_cfg: dict) -> tuple[float, float]:
    """Mass-effect amplitude and support (mm) from the planning-frame volumes (cm³) of a follow-up."""
    vol = lesion_cc + 0.25 * edema_cc
    amp = fu_cfg["mass_effect_max_mm"] * float(np.clip(vol / fu_cfg["mass_effect_reference_cc"], 0.1, 1.0))
    r_les = (3.0 * l1_cc * MM3_PER_CC / (4.0 * np.pi)) ** (1.0 / 3.0)
    support = max(fu_cfg["mass_effect_support_mm"], 3.0 * (r_les + fu_cfg["mass_effect_peak_offset_mm"]))
    return amp, support


def radial_jacobian(mass: MassEffect, r: np.ndarray) -> np.ndarray:
    """Volume change ``det dM/dx`` of the radial mass effect at distance ``r`` (mm) from its centre:
    ``rho'(r) (rho(r)/r)^2`` (1 beyond the support)."""
    q = np.clip(r / mass.support_mm, 0.0, 1.0)
    k = mass.u(np.asarray(mass.support_mm / 3.0)) / max((1.0 / 3.0) ** 2 * (2.0 / 3.0) ** 4, 1e-12) if mass.amplitude_mm > 0 else 0.0
    du = k / mass.support_mm * (2.0 * q * (1.0 - q) ** 4 - 4.0 * q**2 * (1.0 - q) ** 3)
    u = mass.u(r)
    return ((1.0 + du) * (1.0 + u / np.maximum(r, 1e-6)) ** 2).astype(np.float32)


def edema_for_followup_lesion_ratio(*, dist_eff: np.ndarray, allowed: np.ndarray, lesion: np.ndarray, ratio: float,
                                     centre: np.ndarray, axes, voxel_cc: float, fu_cfg: dict) -> np.ndarray:
    """Edema level field whose volume, once the follow-up's mass effect has been applied, is ``ratio``
    times the (equally deformed) T1c lesion volume: Leeman's edema/lesion ratio hit in the follow-up
    frame, with the edema in one piece with the lesion.

    Volumes in the follow-up frame are planning volumes weighted by the Jacobian of ``M`` (the rigid
    part keeps volumes); the amplitude of ``M`` depends on the edema volume, so the solution is
    iterated (it converges at once when the amplitude saturates). ``dist_eff`` is not geodesic:
    edema islands across sulci/CSF (not connected to the lesion through allowed tissue) are removed
    and the volume is re-solved without them (vasogenic edema spreads through the white matter)."""
    from scipy import ndimage as ndi

    r = distance_to(axes, centre)
    lesion_cc = float(lesion.sum()) * voxel_cc
    near = ndi.binary_dilation(lesion, structure=np.ones((3, 3, 3), bool))
    excluded = np.zeros(lesion.shape, dtype=bool)
    edema_cc = ratio * lesion_cc
    level = np.full(lesion.shape, -1.0, dtype=np.float32)
    for _ in range(4):
        ok = allowed & ~excluded
        order = np.argsort(dist_eff[ok], kind="stable")
        vals = dist_eff[ok][order]
        r_ok = r[ok][order]
        for _ in range(6):
            amp, support = mass_effect_size(lesion_cc=lesion_cc, l1_cc=lesion_cc, edema_cc=edema_cc, fu_cfg=fu_cfg)
            mass = MassEffect((float(centre[0]), float(centre[1]), float(centre[2])), amp, support)
            target = ratio * float(radial_jacobian(mass, r[lesion]).sum()) * voxel_cc
            cum = np.cumsum(radial_jacobian(mass, r_ok), dtype=np.float64) * voxel_cc
            n = min(max(int(np.searchsorted(cum, target)) + 1, 1), vals.size - 1)
            r_e = 0.5 * (vals[n - 1] + vals[n])
            new_cc = n * voxel_cc
            converged = abs(new_cc - edema_cc) <= voxel_cc
            edema_cc = new_cc
            if converged:
                break
        level = np.where(excluded, np.minimum(r_e - dist_eff, -1.0), r_e - dist_eff).astype(np.float32)
        mask = ok & (level > 0)
        lab, _n = ndi.label(mask | lesion, structure=np.ones((3, 3, 3), bool))
        ids = np.unique(lab[near & (mask | lesion)])
        islands = mask & ~np.isin(lab, ids[ids > 0])
        if islands.sum() * voxel_cc <= 0.005 * edema_cc:
            break
        excluded |= islands
    return level


__all__ = ["mass_effect_size", "radial_jacobian", "edema_for_followup_lesion_ratio"]
