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


def lesion_truth(case: PhantomCase, studies_json: list[dict[str, Any]], *, isodose_pct: float,
                 scenario_cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """Truth of every lesion of a multi-target (or new-lesion) case (``truth.json`` → ``lesions``).

    Coverage is the fraction (%) of the lesion's planning-frame T1 lesion (enhancing + necrotic) at
    the latest follow-up receiving at least 100/80/50 % of ITS prescription in the planned (summed)
    dose; lesions outside every target are judged against the nearest target's prescription."""
    others = case.others
    grid = case.anatomy.grid
    order = sorted(case.lesion_names)
    voxel_cc = float(np.prod(grid.GetSpacing())) / MM3_PER_CC
    if others is not None:
        targets = list(others.targets)
    else:  # one-target plan (clinical-2d protocol only): the RTSTRUCT's GTV/PTV
        from radnec.phantom.targets import Target

        c = _centroid_idx(_arr(case.structures["GTV"]) > 0)[::-1]
        targets = [Target(number=1, lesion="L1", centre_lps=tuple(grid.TransformContinuousIndexToPhysicalPoint(
            [float(v) for v in c])), diameter_mm=case.gtv_diameter_mm, prescription_gy=case.prescription_gy,
            gtv_name="GTV", ptv_name="PTV", convention="plain")]
    by_lesion = {t.lesion: t for t in targets}
    growing = {"necrosis": "L1", "infield": "L1", "marginal": "L1", "distant": "L2"}.get(case.scenario)
    last = case.studies[-1].planning_masks
    rows = []
    for name in order:
        j = order.index(name) + 1
        t = by_lesion.get(name)
        lesion_last = last["lesion_labels"] == j
        if t is not None:
            centre = np.asarray(t.centre_lps)
        elif lesion_last.any():
            centre = np.array(grid.TransformContinuousIndexToPhysicalPoint([float(v) for v in _centroid_idx(lesion_last)[::-1]]))
        else:
            centre = None
        if t is None and centre is not None:
            near = min(targets, key=lambda q: float(np.linalg.norm(np.asarray(q.centre_lps) - centre)))
            rx, source = near.prescription_gy, f"nearest target {near.gtv_name}"
        elif t is None:
            rx, source = case.prescription_gy, "plan"
        else:
            rx, source = t.prescription_gy, f"target {t.ptv_name or t.gtv_name}"
        if name == growing or name == "N1":
            pattern = "out-of-field" if name in ("L2", "N1") else scenario_cfg["pattern"]
            symmetry = "eccentric" if name in ("L2", "N1") else scenario_cfg["growth_symmetry"]
            kind = "new" if name == "N1" else case.scenario
        else:
            pattern, symmetry = "in-field", None
            kind = case.scenario if name == "L1" else "responding"
        cover = {}
        for pct in (100, 80, 50):
            f = _frac(lesion_last, case.dose_on_planning >= rx * pct / 100.0)
            cover[str(pct)] = None if f is None else 100.0 * f
        vols = []
        for st, sj in zip(case.studies, studies_json):
            row = next((r for r in sj["lesions"] if r["name"] == name), None)
            vols.append({
                "label": st.label, "days_since_srs": st.days_since_srs,
                "planning_frame_t1_lesion_cc": float((st.planning_masks["lesion_labels"] == j).sum() * voxel_cc),
                "t1_lesion_cc": None if row is None else row["t1_lesion_cc"],
                "enhancing_cc": None if row is None else row["enhancing_cc"],
            })
        rows.append({
            "name": name, "label": j, "description": case.lesion_names[name],
            "index": None if t is None else t.number,
            "is_index_lesion": name == case.index_lesion,
            "target_gtv_name": None if t is None else t.gtv_name,
            "target_ptv_name": None if t is None else t.ptv_name,
            "naming_convention": None if t is None else t.convention,
            "prescription_gy": rx, "prescription_source": source, "isodose_pct": isodose_pct,
            "centre_lps": None if centre is None else [float(v) for v in centre],
            "diameter_mm": None if t is None else t.diameter_mm,
            "scenario": kind, "enlarging": name == growing or name == "N1",
            "pattern": pattern, "symmetry": symmetry,
            "coverage_pct": cover, "coverage_frame": "planning (latest follow-up's planning-frame truth mask, summed plan dose)",
            "volumes": vols,
        })
    return rows
