"""Semi-automatic lesion segmentation from a seed point (LPS mm) or a box, with classical methods.

Method (SimpleITK + scipy.ndimage; parameters in ``conventions.yaml`` → ``segmentation``):

1. A cube (``roi_radius_mm``) around the seed, or the user's box, is cut from the T1c and
   median-filtered. Normal-appearing tissue statistics are the robust median and SD (1.4826 × MAD)
   of the non-background voxels of that region.
2. The seed region is grown with ``ConfidenceConnected`` (mean ± k·SD of the growing region).
   A seed brighter than normal starts in the enhancing rim/nodule; a darker one in the necrotic or
   cystic core. A seed on normal-looking tissue is moved to the most abnormal voxel within
   ``seed_search_mm``.
3. Boundaries are re-placed at half the contrast between the grown region's mean and the normal
   tissue (the partial-volume midpoint), keeping the component connected to the seed.
4. Dark-core seed: the enhancing rim is the set of bright voxels in a shell (``rim_search_mm``)
   around the core, kept where connected to it. Bright seed: the non-enhancing core is what the
   enhancement encloses (closing + hole filling in 3-D and slice by slice).
5. FLAIR (same grid as the T1c, or resampled explicitly by the caller) gives the edema: voxels
   brighter than normal FLAIR tissue, connected to the lesion, with the boundary again at half
   contrast; the T1c lesion is excluded.

Limits: one lesion per seed; leaks along bright vessels, dura or choroid plexus touching the
lesion are possible; a faint or incomplete rim can make the core partially open; edema that
merges with other FLAIR hyperintensity (small-vessel disease, another lesion) is merged. Always
review the masks; users can supply their own segmentation instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

from radnec.errors import GeometryError, InputError
from radnec.geometry import MM3_PER_CC, continuous_indices, require_same_grid
from radnec.lesion.conventions import Compartments, mask_image
from radnec.lesion.edema import median_radius, segment_edema
from radnec.lesion.intensity import RobustStats, background_level, half_contrast, robust_stats, segmentation_parameters
from radnec.lesion.regions import ball, component_at, drop_small, fill_holes, largest_component

log = logging.getLogger(__name__)


def _seed_index(image: sitk.Image, seed_lps: Sequence[float]) -> np.ndarray:
    """Voxel index (x, y, z) of a seed point; raises when it lies outside the image."""
    idx = np.rint(continuous_indices(image, np.asarray(seed_lps, float))[0]).astype(int)
    size = np.asarray(image.GetSize())
    if np.any(idx < 0) or np.any(idx >= size):
        raise GeometryError(
            f"the seed point {tuple(round(float(v), 1) for v in seed_lps)} (LPS mm) lies outside the image "
            f"(index {tuple(int(v) for v in idx)}, size {tuple(int(v) for v in size)}); give the point in the "
            "image's patient coordinates (LPS, as DICOM viewers show them)"
        )
    return idx


def _roi(image: sitk.Image, lo: np.ndarray, hi: np.ndarray) -> tuple[sitk.Image, np.ndarray]:
    size = np.asarray(image.GetSize())
    lo = np.clip(lo, 0, size - 1)
    hi = np.clip(hi, lo + 1, size)
    roi = sitk.RegionOfInterest(image, [int(v) for v in hi - lo], [int(v) for v in lo])
    return roi, lo


def _confidence_region(roi_s: sitk.Image, seed_xyz: np.ndarray, params: dict[str, float]) -> np.ndarray:
    seg = sitk.ConfidenceConnected(
        roi_s,
        seedList=[[int(v) for v in seed_xyz]],
        numberOfIterations=int(params["confidence_iterations"]),
        multiplier=float(params["confidence_multiplier"]),
        initialNeighborhoodRadius=1,
        replaceValue=1,
    )
    return sitk.GetArrayFromImage(seg) > 0


def segment_from_seed(
    t1c: sitk.Image,
    seed_lps: Sequence[float],
    *,
    flair: sitk.Image | None = None,
    box_lps: tuple[Sequence[float], Sequence[float]] | None = None,
    smoothed_flair: sitk.Image | None = None,
    **overrides: float,
) -> Compartments:
    """Segment one lesion from a seed point on T1c (+ FLAIR edema when given).

    Parameters
    ----------
    t1c
        Post-contrast T1 image (any orientation; LPS geometry).
    seed_lps
        A point inside the lesion (enhancing rim/nodule or necrotic core), LPS mm.
    flair
        FLAIR on the same grid as ``t1c`` (resample explicitly beforehand otherwise).
    box_lps
        Optional two opposite corners (LPS mm) bounding the lesion; replaces the automatic cube.
    smoothed_flair
        ``radnec.lesion.edema.smoothed(flair, params)`` when the caller keeps it (several lesions or
        seeds on one study filter the FLAIR once).
    **overrides
        Segmentation parameters (see ``conventions.yaml``), e.g. ``roi_radius_mm=50``.

    Returns
    -------
    Compartments
        ``lesion``, ``enhancing``, ``necrotic`` (and ``edema`` when FLAIR is given) on the T1c grid.
    """
    params = segmentation_parameters(**overrides)
    if t1c.GetDimension() != 3:
        raise InputError(f"the T1c image must be 3-D, got {t1c.GetDimension()}-D")
    if flair is not None:
        require_same_grid(t1c, flair, what="the T1c and FLAIR images (resample the FLAIR onto the T1c first)")
    seed_xyz = _seed_index(t1c, seed_lps)
    spacing = np.asarray(t1c.GetSpacing())
    notes: list[str] = []

    if box_lps is not None:
        corners = continuous_indices(t1c, np.asarray(box_lps, float).reshape(2, 3))
        lo = np.floor(corners.min(0)).astype(int)
        hi = np.ceil(corners.max(0)).astype(int) + 1
        if np.any(seed_xyz < lo) or np.any(seed_xyz >= hi):
            raise GeometryError("the seed point lies outside the box; the box must contain the lesion and the seed")
        growths = 0
    else:
        half = np.ceil(params["roi_radius_mm"] / spacing).astype(int)
        lo, hi = seed_xyz - half, seed_xyz + half + 1
        growths = int(params["roi_max_growths"])

    result = None
    for attempt in range(growths + 1):
        try:
            new = _segment_in_roi(t1c, seed_xyz, lo, hi, params)
        except InputError:
            if result is None:
                raise
            break  # keep the previous search region's lesion (it touched its border: noted below)
        result = new
        les_roi, enh_roi, roi_lo, roi_shape, touches = result
        if not touches or attempt == growths:
            break
        centre = (lo + hi) / 2.0
        half = (hi - lo) * 0.8
        lo, hi = np.floor(centre - half).astype(int), np.ceil(centre + half).astype(int)
    if touches and box_lps is None:
        # grown twice (to about 90 mm half-width) and still reaching the border: the region leaked into
        # normal structures (a metastasis is not this large); no lesion rather than a wrong one
        width = (np.asarray(roi_shape[::-1]) * spacing).max()
        raise InputError(
            f"the region grown from the seed leaked: it still reaches the border of a {width:.0f} mm search region "
            "after enlarging it; place the seed inside the lesion, give a --box, or supply a segmentation"
        )
    if touches:
        notes.append("the lesion touches the border of the given box; it may be larger than segmented (give a larger box)")

    full_shape = sitk.GetArrayViewFromImage(t1c).shape
    lesion = np.zeros(full_shape, bool)
    enh = np.zeros(full_shape, bool)
    sl = tuple(slice(int(roi_lo[::-1][i]), int(roi_lo[::-1][i]) + roi_shape[i]) for i in range(3))
    lesion[sl] = les_roi
    enh[sl] = enh_roi
    out = Compartments(
        lesion=mask_image(lesion, t1c),
        enhancing=mask_image(enh, t1c),
        necrotic=mask_image(lesion & ~enh, t1c),
        source="semi-automatic (seed " + ", ".join(f"{float(v):.1f}" for v in seed_lps) + " mm LPS)",
        notes=notes,
    )
    if flair is not None:
        out.edema = mask_image(segment_edema(flair, lesion, params, smoothed_flair=smoothed_flair), t1c)
    return out


def _segment_in_roi(
    t1c: sitk.Image, seed_xyz: np.ndarray, lo: np.ndarray, hi: np.ndarray, params: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, ...], bool]:
    roi, roi_lo = _roi(t1c, lo, hi)
    # thresholds work on an in-plane median when the slices are thick (a thin rim on one 5 mm slice
    # survives); ConfidenceConnected, whose seed statistics span the 26 neighbours, on the 3-D median
    roi_f = sitk.Cast(roi, sitk.sitkFloat32)
    roi_s = sitk.Median(roi_f, median_radius(roi, params))
    roi_grow = sitk.Median(roi_f, [int(params["median_radius_vox"])] * 3)
    arr = sitk.GetArrayFromImage(roi_s).astype(np.float64)
    spacing_zyx = np.asarray(t1c.GetSpacing())[::-1]
    seed = seed_xyz - roi_lo
    tissue = arr > background_level(arr)
    normal = robust_stats(arr[tissue])
    bright_thr = normal.median + params["bright_sd"] * normal.sd

    seeds = _seed_candidates(arr, seed, normal, spacing_zyx, params, tissue)
    min_vox = max(1, int(params["min_component_cc"] * MM3_PER_CC / float(np.prod(spacing_zyx))))
    closing = ball(spacing_zyx, params["closing_mm"])
    search = _SearchRegion(roi_grow, arr, tissue, normal, spacing_zyx, params, raw=sitk.GetArrayFromImage(roi).astype(np.float64))
    lesion = np.zeros(arr.shape, bool)
    enh = np.zeros(arr.shape, bool)
    for z, y, x in seeds:
        if arr[z, y, x] >= normal.median:  # enhancing seed: grown region = enhancing rim/nodule
            rim = _grow(search, (z, y, x), bright=True)
            if rim is None:
                continue
            core = _enclosed_dark_core(search, rim)
        else:  # dark core seed: grown region = necrotic/cystic core
            core = _grow(search, (z, y, x), bright=False)
            if core is None:
                continue
            rim = _rim_around(search, core, bright_thr)
            if _rim_coverage(search, core, rim) < search.params["core_enclosure_min"]:
                rim |= _whole_enhancement(search, rim)
                core |= _enclosed_dark_core(search, rim)
        part = core | rim
        dark = arr <= normal.median - params["seed_min_sd"] * normal.sd
        part = fill_holes(ndi.binary_closing(part, structure=closing, border_value=0) | part, dark=dark)
        part = component_at(part, core | rim)
        lesion |= part
        enh |= rim & part
    lesion = drop_small(lesion, min_vox)
    if lesion.any() and enh.any():
        lesion, enh = _refine_outer_boundary(search, lesion, enh & lesion)
    if not lesion.any():
        raise InputError(
            "no lesion could be delineated from this seed: the region around it has no contrast that separates "
            "it from normal structures on the T1c (every threshold leaked or found nothing); place the seed "
            "inside the necrotic core or on a clearly enhancing part, give a --box, or supply a segmentation"
        )
    enh &= lesion
    touches = bool(
        lesion[0].any() or lesion[-1].any() or lesion[:, 0].any() or lesion[:, -1].any() or lesion[:, :, 0].any() or lesion[:, :, -1].any()
    )
    size = np.asarray(t1c.GetSize())
    # growing the search region only makes sense while it can still grow inside the image
    if touches and np.all(roi_lo == 0) and np.all(roi_lo + np.asarray(arr.shape[::-1]) >= size):
        touches = False
    return lesion, enh, roi_lo, arr.shape, touches


@dataclass
class _SearchRegion:
    """The search cube around the seed: its median-filtered image and array (z, y, x), the tissue
    (non-background) voxels, the normal-tissue statistics, the spacing (mm, z-y-x) and the parameters."""

    image: sitk.Image  # filtered for ConfidenceConnected (3-D median)
    arr: np.ndarray    # filtered for thresholds (in-plane median on thick slices)
    tissue: np.ndarray
    normal: RobustStats
    spacing_zyx: np.ndarray
    params: dict[str, Any]
    raw: np.ndarray | None = None   # the unfiltered ROI (the median filter flattens small or thin enhancement)


def _leaks(region: np.ndarray, max_faces: int) -> bool:
    """A grown region that reaches more than ``max_faces`` faces of the search cube has leaked into
    normal structures (a lesion around the seed does not span the cube)."""
    faces = (
        region[0].any(), region[-1].any(), region[:, 0].any(), region[:, -1].any(), region[:, :, 0].any(), region[:, :, -1].any()
    )
    return sum(bool(f) for f in faces) > max_faces


def _collapses(grown: np.ndarray, higher: np.ndarray, p: dict[str, Any]) -> bool:
    """A bright region that shrinks to less than ``1 / leak_collapse_ratio`` of its volume when the
    threshold rises by one step (``leak_fractions``) was not bounded by the lesion's edge but by a
    slightly darker normal structure it spilled into (a faint small lesion grown into white matter,
    which is bright on T1): a lesion's edge holds its place as the threshold moves."""
    n = int(grown.sum())
    return n >= int(p["leak_collapse_min_vox"]) and int(higher.sum()) * float(p["leak_collapse_ratio"]) < n


def _grow(search: _SearchRegion, seed_zyx: tuple[int, int, int], *, bright: bool) -> np.ndarray | None:
    """Region grown from the seed, kept on clearly abnormal voxels of the seed's kind, then refined
    to the half-contrast boundary within ``refine_mm``.

    Dark seeds: ConfidenceConnected. Bright seeds (thin rims defeat ConfidenceConnected, whose first
    statistics mix rim and brain): voxels above a fraction of the contrast between the most extreme
    seed neighbour and normal tissue (0.5 = half contrast). When the region leaks (reaches more than
    ``leak_max_faces`` faces of the search cube) the fraction is raised step by step
    (``leak_fractions``); None when every fraction leaks or nothing is left (no usable contrast).
    """
    z, y, x = seed_zyx
    p = search.params
    near_seed = np.zeros(search.arr.shape, bool)  # the seed and its 26 neighbours (a seed on a partial-volume edge)
    near_seed[max(z - 1, 0) : z + 2, max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2] = True
    local = search.arr[near_seed]
    extreme = float(local.max() if bright else local.min())
    grown = None
    if not bright:
        grown = _confidence_region(search.image, np.array([x, y, z]), p) & search.tissue
        grown = component_at(grown, seed_zyx)
        if _leaks(grown, int(p["leak_max_faces"])):
            grown = None
    if grown is None:
        def at(frac: float) -> np.ndarray:
            t = search.normal.median + float(frac) * (extreme - search.normal.median)
            side = (search.arr >= t) if bright else (search.arr <= t)
            return component_at(side & search.tissue, near_seed)

        fractions = [float(f) for f in p["leak_fractions"]]
        for i, frac in enumerate(fractions):
            grown = at(frac)
            if _leaks(grown, int(p["leak_max_faces"])):
                continue
            if bright and i + 1 < len(fractions) and _collapses(grown, at(fractions[i + 1]), p):
                continue  # spilled into white matter: a slightly higher threshold leaves a fraction of it
            break
        else:
            return None  # no contrast separates this region from normal structures
        if not grown.any():
            return None
    limit = search.normal.median + (1 if bright else -1) * p["seed_min_sd"] * search.normal.sd
    grown = component_at(grown & ((search.arr >= limit) if bright else (search.arr <= limit)), near_seed)
    if not grown.any():
        return None
    band = ndi.binary_dilation(grown, structure=ball(search.spacing_zyx, p["refine_mm"])) & search.tissue
    thr = half_contrast(search.arr, grown, search.normal)
    side = (search.arr >= thr) if bright else (search.arr <= thr)
    return component_at(grown | (band & side), grown)


def _refine_outer_boundary(search: _SearchRegion, lesion: np.ndarray, enh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Re-place the outer enhancing boundary of the lesion at the LOCAL half contrast: halfway between
    the enhancement plateau (``boundary_plateau_percentile`` of the enhancing voxels) and the median
    of the tissue in a shell ``boundary_shell_mm`` outside the lesion.

    The region-growing thresholds use the statistics of the whole search cube; around a lesion in
    extensive edema (darker on T1c than normal white matter, plus grey matter and CSF in the cube)
    that median is lower than the tissue the lesion actually borders, which put the boundary in the
    partial-volume voxels outside the true edge (lesion ~5-10 % too large, longest diameter up to
    ~1 mm too long on 1 mm phantoms). Only the outermost layer of enhancing voxels and the tissue
    within ``refine_mm`` outside the lesion are re-decided; the core is untouched."""
    p = search.params
    sp = search.spacing_zyx
    dist_out = ndi.distance_transform_edt(~lesion, sampling=sp)
    lo, hi = (float(v) for v in p["boundary_shell_mm"])
    lo = max(lo, 1.5 * float(sp.max()))           # beyond the partial-volume voxels of coarse grids
    hi = max(hi, lo + 2.0 * float(sp.max()))
    shell = (dist_out >= lo) & (dist_out <= hi) & search.tissue
    if shell.sum() < 20:
        return lesion, enh
    img = search.arr if search.raw is None else search.raw
    background = float(np.median(img[shell]))
    plateau = float(np.percentile(img[enh], p["boundary_plateau_percentile"]))
    if plateau <= background:
        return lesion, enh
    log.debug("outer boundary: plateau %.0f background %.0f", plateau, background)
    # the background varies around the lesion (edematous white matter, grey matter, CSF): per voxel, the
    # mean of the non-dark shell tissue within boundary_local_mm (the shell median where there is none)
    dark = img <= search.normal.median - p["seed_min_sd"] * search.normal.sd
    w = (shell & ~dark).astype(np.float64)
    size = [max(3, 2 * int(np.ceil(p["boundary_local_mm"] / v)) + 1) for v in sp]
    num = ndi.uniform_filter(img * w, size=size, mode="constant")
    den = ndi.uniform_filter(w, size=size, mode="constant")
    local_bg = np.where(den > 1e-3, num / np.maximum(den, 1e-12), background)
    thr = 0.5 * (plateau + np.minimum(local_bg, plateau))
    outer_layer = lesion & ~ndi.binary_erosion(lesion, structure=np.ones((3, 3, 3), bool))
    remove = outer_layer & enh & (img < thr)
    add = (dist_out > 0) & (dist_out <= p["refine_mm"]) & search.tissue & (img >= thr)
    kept = lesion & ~remove
    if not kept.any():
        return lesion, enh
    new = component_at(kept | add, kept)
    return new, ((enh & ~remove) | add) & new


def _within_hull(core: np.ndarray, rim: np.ndarray, spacing_zyx: np.ndarray) -> np.ndarray:
    """The part of a dark mask inside the convex hull of an enhancement (dilated by one voxel for the
    partial-volume edge): where the seeds of a lesion's cores are looked for. A necrotic core lies within
    its rim, even an open one; dark CSF in a sulcus or ventricle next to the lesion does not. (Cutting the
    grown cores themselves at the hull cost BraTS-MET-00110 Dice 0.89 -> 0.83: its rim is only partly
    found, so its core extends beyond the hull of the enhancement found.)"""
    if not core.any() or rim.sum() < 4:
        return core
    from scipy.spatial import ConvexHull, Delaunay, QhullError

    pts = np.argwhere(ndi.binary_dilation(rim, structure=np.ones((3, 3, 3), bool))) * spacing_zyx
    try:
        hull = Delaunay(pts[ConvexHull(pts).vertices])
    except (QhullError, ValueError):  # flat or degenerate enhancement: keep the core as grown
        return core
    idx = np.argwhere(core)
    inside = hull.find_simplex(idx * spacing_zyx) >= 0
    out = np.zeros_like(core)
    out[tuple(idx[inside].T)] = True
    return out


def _rim_around(search: _SearchRegion, core: np.ndarray, bright_thr: float) -> np.ndarray:
    """Enhancing voxels in a shell of ``rim_search_mm`` around a dark core, connected to it."""
    dist = ndi.distance_transform_edt(~core, sampling=search.spacing_zyx)
    shell = (dist > 0) & (dist <= search.params["rim_search_mm"]) & search.tissue
    cand = shell & (search.arr >= bright_thr)
    if not cand.any():
        return np.zeros_like(core)
    rim_thr = 0.5 * (float(search.arr[cand].mean()) + search.normal.median)
    near = ndi.binary_dilation(core, structure=np.ones((3, 3, 3), bool))
    bright = shell & (search.arr >= rim_thr)
    # the enhancement touching the core, and the largest enhancing piece of the shell (a rim separated
    # from the darkest core by a transition zone does not touch it)
    return component_at(bright, near) | largest_component(bright)


def _rim_coverage(search: _SearchRegion, core: np.ndarray, rim: np.ndarray) -> float:
    """Fraction of the outer surface of core ∪ rim (closed, holes filled) that is enhancing rim: ~1 when
    the rim found around a dark core encloses it, low when only pieces of it were found."""
    part = core | rim
    part = ndi.binary_fill_holes(ndi.binary_closing(part, structure=ball(search.spacing_zyx, search.params["closing_mm"])) | part)
    surface = part & ~ndi.binary_erosion(part, structure=np.ones((3, 3, 3), bool))
    return float(np.mean(rim[surface])) if surface.any() else 0.0


def _whole_enhancement(search: _SearchRegion, rim: np.ndarray) -> np.ndarray:
    """The whole enhancing region of which ``rim`` (found in the shell around a dark core) is a part,
    grown by the same rule as a seed placed on the enhancement (from its brightest voxel). Used when
    the shell rim does not enclose the core (``_rim_coverage`` < ``core_enclosure_min``).

    Seed-placement invariance: a dark core seed must give the same lesion as a rim seed. The shell
    search alone misses the rim wherever a partial-volume/transition zone between the darkest core
    and the rim is wider than ``rim_search_mm`` (large necrotic cores grow only over their darkest
    part); the rim then stays open and the core is not enclosed.
    """
    if not rim.any():
        return rim
    piece = largest_component(rim)  # not a small bright fleck (vessel) touching the core
    seed = np.unravel_index(int(np.argmax(np.where(piece, search.arr, -np.inf))), rim.shape)
    whole = _grow(search, (int(seed[0]), int(seed[1]), int(seed[2])), bright=True)
    return rim if whole is None else whole


def _enclosed_dark_core(search: _SearchRegion, enh: np.ndarray) -> np.ndarray:
    """Dark (necrotic/cystic) regions next to an enhancing region, each kept only when the enhancement
    covers at least ``core_enclosure_min`` of its surface (an open rim); CSF next to a nodule is not.

    A multiloculated ("soap bubble") lesion has several cores separated by enhancing septa: the
    darkest remaining voxel inside the enhancement's convex hull is grown in turn, up to
    ``max_cores`` times (one seed used to leave the other bubbles' cores out)."""
    dist = ndi.distance_transform_edt(~enh, sampling=search.spacing_zyx)
    limit = search.normal.median - search.params["seed_min_sd"] * search.normal.sd
    near = (dist > 0) & (dist <= search.params["rim_search_mm"]) & search.tissue & (search.arr <= limit)
    total = np.zeros_like(enh)
    if not near.any():
        return total
    near = _within_hull(near, enh, search.spacing_zyx)
    tried = np.zeros_like(enh)
    touch = float(np.sqrt(3.0) * search.spacing_zyx.max()) + 1e-6
    for _ in range(int(search.params["max_cores"])):
        cand = near & ~total & ~tried
        if not cand.any():
            break
        seed = np.unravel_index(int(np.argmin(np.where(cand, search.arr, np.inf))), cand.shape)
        tried[seed] = True
        core = _grow(search, seed, bright=False)
        if core is None:
            continue
        core &= ~enh & ~total
        tried |= core
        # a core lies against its enhancement; a dark pocket (CSF in a sulcus or ventricle) a few mm
        # away from the rim is not the lesion's core even when the rim search shell reaches it
        if not core.any() or float(dist[core].min()) > touch:
            continue
        surface = core & ~ndi.binary_erosion(core, structure=np.ones((3, 3, 3), bool))
        if total.any():
            # a further bubble is walled in by enhancement (rim and septa) almost all round; dark tissue
            # in a concavity of the lesion (sulcal CSF, grey matter in edema) is open on one side
            ok = float(np.mean(dist[surface] <= touch)) >= search.params["extra_core_wall_min"]
        else:
            ok = float(np.mean(dist[surface] <= search.params["rim_search_mm"])) >= search.params["core_enclosure_min"]
        if ok:
            total |= core
    return total


def _seed_candidates(
    arr: np.ndarray, seed: np.ndarray, normal: RobustStats, spacing_zyx: np.ndarray, params: dict[str, Any], tissue: np.ndarray
) -> list[tuple[int, int, int]]:
    """Seed voxels (z, y, x) to grow from.

    A clearly abnormal seed (beyond ``seed_min_sd`` robust SD from normal) is used as is. A seed on
    normal-looking tissue (typically the edge between rim and core) is replaced by the brightest
    and the darkest clearly abnormal voxels within ``seed_search_mm``; both are grown and united.
    """
    z, y, x = int(seed[2]), int(seed[1]), int(seed[0])
    # background and the 2-voxel rim of tissue next to it (skull-stripping edge) are never candidates
    inner = ndi.binary_erosion(tissue, structure=np.ones((3, 3, 3), bool), iterations=2)
    dev = np.where(inner, (arr - normal.median) / normal.sd, 0.0)
    k_min = params["seed_min_sd"]
    if abs(dev[z, y, x]) >= k_min:
        return [(z, y, x)]
    r = np.ceil(params["seed_search_mm"] / spacing_zyx).astype(int)
    zs, ys, xs = (slice(max(c - rr, 0), c + rr + 1) for c, rr in zip((z, y, x), r))
    win = dev[zs, ys, xs]
    out = []
    for k in (np.unravel_index(int(np.argmax(win)), win.shape), np.unravel_index(int(np.argmin(win)), win.shape)):
        if abs(win[k]) >= k_min:
            out.append((zs.start + int(k[0]), ys.start + int(k[1]), xs.start + int(k[2])))
    if not out:
        raise InputError(
            "the seed point and its surroundings look like normal tissue on the T1c (no enhancement and no "
            f"dark core within {params['seed_search_mm']} mm); place the seed inside the enhancing lesion "
            "or its necrotic core, or supply a segmentation"
        )
    log.info("seed on normal-looking tissue: growing from %d nearby abnormal voxel(s)", len(out))
    return out


def dice(a: sitk.Image, b: sitk.Image) -> float:
    """Dice overlap of two masks on the same grid (1.0 when both are empty)."""
    require_same_grid(a, b, what="the two masks")
    x = sitk.GetArrayViewFromImage(a) > 0
    y = sitk.GetArrayViewFromImage(b) > 0
    s = int(x.sum()) + int(y.sum())
    return 1.0 if s == 0 else 2.0 * int((x & y).sum()) / s


__all__ = ["segment_from_seed", "dice"]
