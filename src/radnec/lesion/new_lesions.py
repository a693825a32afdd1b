"""New enhancing lesions outside every treated target: candidates for the tumour board to confirm.

A metastasis that appears after SRS away from every target (a distant failure) enhances on the
latest T1c and did not at planning. With the latest T1c brought onto the planning grid through
the registration, a voxel is a candidate when

1. it brightened: the latest T1c minus the planning T1c, each median-filtered and expressed in
   robust SD of its own brain tissue (scanners differ in scale), is above the median of that
   difference + ``diff_sd`` of its robust SD (the difference of two registered scans of the same
   brain is nearly flat; a new enhancing spot stands out of it even when small and partial-volumed),
2. it is bright on the latest T1c itself (``bright_sd`` robust SD above the tissue median),
3. nothing within ``planning_search_mm`` was bright at planning (``planning_max_sd``): vessels,
   choroid plexus, dura and fat enhance at both times; the search radius absorbs registration error,
4. it lies inside the head, ``surface_margin_mm`` from its surface, in a connected spot that comes
   no nearer than ``target_margin_mm`` to any target ROI (a treated lesion growing out of its
   target is that target's lesion, not a new one).

Connected candidates of at least ``min_volume_cc`` that are not vessel-like (elongation at most
``max_elongation``) are returned, largest first. Parameters: ``conventions.yaml`` → ``new_lesions``
(radnec's convention, not evidence).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

from radnec.errors import GeometryError
from radnec.geometry import MM3_PER_CC, require_same_grid
from radnec.lesion.conventions import load_conventions_file
from radnec.lesion.intensity import background_level, robust_stats
from radnec.lesion.regions import ball, fill_holes, largest_component


#: Fewest voxels whose spread is read as a shape (elongation); smaller spots are not judged by shape.
MIN_SHAPE_VOXELS = 8


@dataclass(frozen=True)
class NewLesionCandidate:
    """One candidate: its centroid (LPS mm, planning frame), volume (cm³), peak brightness on the
    latest T1c (robust SD above the brain median) and elongation (longest / shortest principal axis)."""

    centroid_lps: tuple[float, float, float]
    volume_cc: float
    peak_sd: float
    elongation: float

    def to_dict(self) -> dict[str, object]:
        return {"centroid_lps": [round(v, 2) for v in self.centroid_lps], "volume_cc": round(self.volume_cc, 4),
                "peak_sd": round(self.peak_sd, 2), "elongation": round(self.elongation, 2)}


def new_lesion_parameters() -> dict[str, float]:
    """The ``new_lesions`` block of ``conventions.yaml``."""
    return dict(load_conventions_file()["new_lesions"])


def find_new_lesions(
    planning_t1c: sitk.Image, latest_t1c: sitk.Image, *, targets: sitk.Image | None = None, **overrides: float
) -> list[NewLesionCandidate]:
    """Enhancing spots on ``latest_t1c`` absent from ``planning_t1c``, away from every target.

    Parameters
    ----------
    planning_t1c
        The planning T1c.
    latest_t1c
        The latest follow-up T1c resampled onto the planning T1c grid (through its registration).
    targets
        A mask (planning grid) of every target ROI; candidates within ``target_margin_mm`` are
        dropped (they belong to a treated lesion).
    **overrides
        Parameters of ``conventions.yaml`` → ``new_lesions``.

    Returns
    -------
    list of NewLesionCandidate
        Largest first, at most ``max_candidates``.
    """
    p = new_lesion_parameters() | overrides
    require_same_grid(planning_t1c, latest_t1c, what="the planning T1c and the latest T1c (resample it onto the planning grid)")
    if targets is not None:
        require_same_grid(planning_t1c, targets, what="the planning T1c and the target mask")
    spacing_zyx = np.asarray(planning_t1c.GetSpacing(), float)[::-1]
    plan = sitk.GetArrayFromImage(sitk.Median(sitk.Cast(planning_t1c, sitk.sitkFloat32), [1, 1, 1])).astype(np.float64)
    late = sitk.GetArrayFromImage(sitk.Median(sitk.Cast(latest_t1c, sitk.sitkFloat32), [1, 1, 1])).astype(np.float64)

    head = fill_holes(largest_component(plan > background_level(plan)))
    if not head.any():
        raise GeometryError("the planning T1c has no head region above background")
    depth = ndi.distance_transform_edt(head, sampling=spacing_zyx)
    inner = depth > p["surface_margin_mm"]
    valid = inner & (late > 0)  # the resampled follow-up covers this voxel
    if valid.sum() < 100:
        return []
    sp, sl = robust_stats(plan[inner]), robust_stats(late[valid])
    z_late, z_plan = (late - sl.median) / sl.sd, (plan - sp.median) / sp.sd
    diff = z_late - z_plan
    sd = robust_stats(diff[valid])
    brightened = valid & (diff >= sd.median + p["diff_sd"] * sd.sd) & (z_late >= p["bright_sd"])
    was_bright = ndi.binary_dilation(z_plan >= p["planning_max_sd"], structure=ball(spacing_zyx, p["planning_search_mm"]))
    cand = brightened & ~was_bright
    lab, n = ndi.label(cand, structure=np.ones((3, 3, 3), bool))
    if n == 0:
        return []
    if targets is not None:  # a component reaching near a target is that target's lesion (growing), not new
        near = ndi.distance_transform_edt(~sitk.GetArrayViewFromImage(targets).astype(bool), sampling=spacing_zyx)
        touching = np.unique(lab[(near <= p["target_margin_mm"]) & cand])
        cand &= ~np.isin(lab, touching[touching > 0])
    voxel_cc = float(np.prod(spacing_zyx)) / MM3_PER_CC
    sizes = ndi.sum(cand, lab, index=np.arange(1, n + 1)) * voxel_cc
    out: list[NewLesionCandidate] = []
    for i in np.argsort(-sizes):
        if sizes[i] < p["min_volume_cc"]:
            break
        idx = np.argwhere(lab == i + 1)
        mm = idx * spacing_zyx
        # the shape of a handful of voxels says nothing: elongation only from MIN_SHAPE_VOXELS on
        if len(mm) >= MIN_SHAPE_VOXELS:
            cov = np.cov((mm - mm.mean(0)).T) + np.diag(spacing_zyx**2 / 12.0)  # + the voxel's own extent
            ev = np.sort(np.linalg.eigvalsh(cov))
            elongation = float(np.sqrt(ev[-1] / ev[0]))
        else:
            elongation = 1.0
        if elongation > p["max_elongation"]:
            continue
        centre_zyx = idx.mean(0)
        centroid = planning_t1c.TransformContinuousIndexToPhysicalPoint(tuple(float(v) for v in centre_zyx[::-1]))
        peak = float(z_late[tuple(idx.T)].max())
        out.append(NewLesionCandidate(tuple(float(v) for v in centroid), float(sizes[i]), peak, elongation))  # type: ignore[arg-type]
        if len(out) >= int(p["max_candidates"]):
            break
    return out


__all__ = ["NewLesionCandidate", "find_new_lesions", "new_lesion_parameters"]
