"""Multi-target SRS plans of the phantom (``radnec phantom --lesions N``): where the other targets
sit, what the planning system calls them, and their prescriptions.

A typical SRS patient has several metastases treated in one Gamma Knife or linac plan, each
target with its own prescription (RTOG 90-05 by maximum diameter: 24 Gy ≤ 20 mm, 18 Gy 21–30 mm;
Shaw E et al., Int J Radiat Oncol Biol Phys 2000;47(2):291–298, doi:10.1016/S0360-3016(99)00507-6,
population mixed — the numbers live in ``scenarios.yaml`` → ``multi_target``). The scenario's
lesion (the index) is one of the targets; the others respond (stable or shrinking).

Placement (phantom design): every target lies inside the brain mask (at least
``brain_edge_margin_mm`` from its edge and outside the brainstem), its GTV edge at least
``min_edge_gap_mm`` from every other GTV edge; the index lesion is given room for its growth
(its 50 % isodose radius plus ``index_growth_allowance_mm``).

ROI names mix the conventions of treatment planning systems, chosen per target by the seed:
``GTV1``/``PTV1`` (numbered), ``GTV_L_parietal``/``PTV_L_parietal`` (site), ``Target 3`` with
``PTV Target 3`` (Brainlab-like) and, for Gamma Knife plans, GammaPlan's single ``Matrix 4``
(no PTV; the margin is 0 mm). Names alone cannot tell GTV from PTV, so the RTSTRUCT also carries
the RT ROI Interpreted Type (GTV / PTV).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from radnec.errors import InputError

#: Naming conventions of treatment planning systems (see the module docstring).
CONVENTIONS = ("numbered", "site", "target", "matrix")


@dataclass(frozen=True)
class Target:
    """One planned target.

    Attributes
    ----------
    number
        Target number in the plan (1..N).
    lesion
        The phantom's lesion name (``"L1"`` is the scenario's index lesion, ``"T02"``… the others).
    centre_lps
        Planning-lesion centre (LPS mm).
    diameter_mm
        Planning GTV diameter (mm).
    prescription_gy
        The target's prescription (Gy, total).
    gtv_name, ptv_name
        ROI names in the RTSTRUCT (``ptv_name`` is ``None`` for GammaPlan ``Matrix`` targets).
    convention
        One of :data:`CONVENTIONS`.
    """

    number: int
    lesion: str
    centre_lps: tuple[float, float, float]
    diameter_mm: float
    prescription_gy: float
    gtv_name: str
    ptv_name: str | None
    convention: str


def rtog_prescription_gy(*, diameter_mm: float, fractions: int, cfg: dict) -> float:
    """Prescription (Gy) of a non-index target: RTOG 90-05 (Shaw 2000) for one fraction, the
    hypofractionated table of ``scenarios.yaml`` otherwise.

    Parameters
    ----------
    diameter_mm
        Maximum GTV diameter (mm).
    fractions
        Number of fractions (1, 3 or 5).
    cfg
        The whole ``scenarios.yaml`` mapping.
    """
    if fractions != 1:
        table = cfg["prescription"]["hypofractionated"]
        if fractions not in table:
            raise InputError(f"--fractions {fractions} is not supported; use 1, 3 or 5")
        return float(table[fractions])
    for row in cfg["multi_target"]["rtog_90_05_single_fraction"]:
        if diameter_mm <= row["max_diameter_mm"]:
            return float(row["dose_gy"])
    raise InputError(f"a {diameter_mm:.0f} mm target is beyond RTOG 90-05's single-fraction table; use --fractions 3 or 5")


def site_label(centre_lps: np.ndarray) -> str:
    """A TPS-style site name (``L_parietal``) from an MNI152 LPS point (approximate lobes, phantom design)."""
    x, y, z = (float(v) for v in centre_lps)
    side = "L" if x > 0 else "R"        # LPS: +x is the patient's left
    if z < -15 and y > 40:
        lobe = "cerebellum"
    elif y < -5:
        lobe = "frontal"
    elif y > 55:
        lobe = "occipital"
    elif z < 5:
        lobe = "temporal"
    else:
        lobe = "parietal"
    return f"{side}_{lobe}"


def roi_names(*, convention: str, number: int, centre_lps: np.ndarray, technique: str,
              taken: set[str]) -> tuple[str, str | None]:
    """GTV and PTV ROI names of target ``number`` under ``convention`` (unique within ``taken``)."""
    if convention == "matrix" and technique == "gk":
        return f"Matrix {number}", None
    if convention == "site":
        site = site_label(centre_lps)
        gtv, ptv = f"GTV_{site}", f"PTV_{site}"
        if gtv in taken:
            gtv, ptv = f"GTV_{site}_{number}", f"PTV_{site}_{number}"
        return gtv, ptv
    if convention == "target":
        return f"Target {number}", f"PTV Target {number}"
    return f"GTV{number}", f"PTV{number}"


def brain_depth_mm(brain: np.ndarray, spacing_zyx: tuple[float, float, float]) -> np.ndarray:
    """Distance (mm) from each brain voxel to the outside of the brain mask (0 outside)."""
    return ndimage.distance_transform_edt(brain, sampling=spacing_zyx).astype(np.float32)


def place_targets(
    rng: np.random.Generator,
    *,
    n: int,
    depth_mm: np.ndarray,
    forbidden: np.ndarray,
    grid_points: tuple[np.ndarray, np.ndarray],
    occupied: list[tuple[np.ndarray, float]],
    cfg: dict,
    min_radius_mm: float,
) -> list[tuple[np.ndarray, float]]:
    """Centres (LPS mm) and diameters (mm) of ``n`` more targets.

    Parameters
    ----------
    rng
        Random stream.
    n
        Number of targets to place.
    depth_mm
        :func:`brain_depth_mm` of the planning brain mask.
    forbidden
        Boolean planning-grid mask where no target may lie (brainstem).
    grid_points
        (origin LPS mm, spacing xyz mm) of the planning grid (identity direction).
    occupied
        (centre LPS mm, radius mm) of what is already there; extended in place.
    cfg
        ``scenarios.yaml`` → ``multi_target``.
    min_radius_mm
        Smallest GTV radius the grid can show (mm).
    """
    origin, spacing = grid_points
    lo, hi = cfg["diameter_mm"]
    if n + 1 > 8:
        hi = min(hi, cfg["large_plan_max_diameter_mm"])
    gap = cfg["min_edge_gap_mm"]
    margin = cfg["brain_edge_margin_mm"]
    out = []
    for _ in range(n):
        diameter = float(rng.uniform(lo, hi))
        placed = None
        while placed is None:
            r = max(diameter / 2.0, min_radius_mm)
            cand = np.argwhere((depth_mm >= r + margin) & ~forbidden)
            if cand.size:
                pts = origin + cand[:, ::-1] * spacing
                ok = np.ones(len(pts), dtype=bool)
                for c, rc in occupied:
                    ok &= np.sqrt(((pts - c) ** 2).sum(1)) >= rc + r + gap
                good = np.flatnonzero(ok)
                if good.size:
                    placed = pts[good[int(rng.integers(good.size))]]
                    break
            diameter *= 0.8
            if diameter < lo:
                raise InputError(f"cannot fit {n + 1} separate targets in the brain; use fewer --lesions")
        occupied.append((placed, diameter / 2.0))
        out.append((placed, diameter))
    return out


def new_lesion_centre(
    rng: np.random.Generator,
    *,
    depth_mm: np.ndarray,
    forbidden: np.ndarray,
    ptv_distance_mm: np.ndarray,
    dose_gy: np.ndarray,
    max_dose_gy: float,
    grid_points: tuple[np.ndarray, np.ndarray],
    occupied: list[tuple[np.ndarray, float]],
    radius_mm: float,
    cfg: dict,
) -> np.ndarray:
    """Centre (LPS mm) of a new metastasis in the low-dose region: at least
    ``new_lesion_min_distance_mm`` beyond every PTV edge, the planned dose below ``max_dose_gy``,
    inside the brain and clear of the other lesions."""
    origin, spacing = grid_points
    ok = ((depth_mm >= radius_mm + cfg["brain_edge_margin_mm"]) & ~forbidden
          & (ptv_distance_mm >= cfg["new_lesion_min_distance_mm"] + radius_mm) & (dose_gy < max_dose_gy))
    cand = np.argwhere(ok)
    if cand.size:
        pts = origin + cand[:, ::-1] * spacing
        keep = np.ones(len(pts), dtype=bool)
        for c, rc in occupied:
            keep &= np.sqrt(((pts - c) ** 2).sum(1)) >= rc + radius_mm + cfg["min_edge_gap_mm"]
        good = np.flatnonzero(keep)
        if good.size:
            return pts[good[int(rng.integers(good.size))]]
    raise InputError("no room for a new distant lesion in the low-dose region; use fewer --lesions or another seed")


__all__ = ["CONVENTIONS", "Target", "rtog_prescription_gy", "site_label", "roi_names", "brain_depth_mm",
           "place_targets", "new_lesion_centre"]
