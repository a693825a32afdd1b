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
from radnec.lesion.labels import Compartments, load_conventions_file

log = logging.getLogger(__name__)


def segmentation_parameters(**overrides: float) -> dict[str, float]:
    """The default segmentation parameters of ``conventions.yaml``, with ``overrides`` applied."""
    params = {k: v for k, v in load_conventions_file()["segmentation"].items() if k != "citation"}
    unknown = set(overrides) - set(params)
    if unknown:
        raise InputError(f"unknown segmentation parameter(s) {sorted(unknown)}; known: {sorted(params)}")
    params.update(overrides)
    return params


@dataclass(frozen=True)
class _Stats:
    median: float
    sd: float


def _robust_stats(values: np.ndarray) -> _Stats:
    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med)))
    sd = 1.4826 * mad
    if sd <= 0:
        sd = float(np.std(values)) or 1.0
    return _Stats(med, sd)


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


def _ball(spacing_zyx: np.ndarray, radius_mm: float) -> np.ndarray:
    r = np.maximum(np.floor(radius_mm / spacing_zyx), 0).astype(int)
    zz, yy, xx = np.ogrid[-r[0] : r[0] + 1, -r[1] : r[1] + 1, -r[2] : r[2] + 1]
    return ((zz * spacing_zyx[0]) ** 2 + (yy * spacing_zyx[1]) ** 2 + (xx * spacing_zyx[2]) ** 2) <= radius_mm**2 + 1e-9


def _component_at(mask: np.ndarray, seed_zyx: tuple[int, int, int] | np.ndarray) -> np.ndarray:
    """The 26-connected component of ``mask`` containing the seed voxel (or touching a seed mask)."""
    lab, _ = ndi.label(mask, structure=np.ones((3, 3, 3), bool))
    if isinstance(seed_zyx, np.ndarray) and seed_zyx.dtype == bool:
        ids = np.unique(lab[seed_zyx & mask])
        ids = ids[ids > 0]
        return np.isin(lab, ids) if ids.size else np.zeros_like(mask)
    z, y, x = (int(v) for v in seed_zyx)
    return lab == lab[z, y, x] if lab[z, y, x] > 0 else np.zeros_like(mask)


def _fill_holes(mask: np.ndarray, *, dark: np.ndarray | None = None) -> np.ndarray:
    """3-D hole filling, then slice-wise 2-D filling in each of the three voxel planes (a rim open
    at its top or bottom still encloses its core in-plane).

    A 2-D fill is kept where at least two planes agree (so concave notches are not filled), or, when
    ``dark`` is given, where one plane encloses voxels that are dark (non-enhancing core).
    """
    out = ndi.binary_fill_holes(mask)
    votes = np.zeros(out.shape, np.uint8)
    for axis in range(3):
        filled = np.zeros_like(out)
        for i in range(out.shape[axis]):
            sl = [slice(None)] * 3
            sl[axis] = i
            filled[tuple(sl)] = ndi.binary_fill_holes(out[tuple(sl)])
        votes += filled & ~out
    keep = votes >= 2
    if dark is not None:
        keep |= (votes >= 1) & dark
    return out | keep


def _half_contrast(arr: np.ndarray, region: np.ndarray, normal: _Stats) -> float:
    mean = float(arr[region].mean())
    return 0.5 * (mean + normal.median)


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


def enhancement_threshold(t1c: sitk.Image, lesion: sitk.Image, *, margin_mm: float = 15.0) -> float:
    """T1c intensity separating enhancing from non-enhancing voxels of a known lesion.

    Half-contrast between the mean of the lesion's bright voxels (above normal + ``bright_sd``
    robust SD) and the normal tissue median in a shell of ``margin_mm`` around the lesion.
    """
    params = segmentation_parameters()
    require_same_grid(t1c, lesion, what="the T1c image and the lesion mask")
    arr = sitk.GetArrayViewFromImage(t1c).astype(np.float64)
    les = sitk.GetArrayViewFromImage(lesion) > 0
    spacing = np.asarray(t1c.GetSpacing())[::-1]
    dist = ndi.distance_transform_edt(~les, sampling=spacing)
    shell = (dist > 0) & (dist <= margin_mm) & (arr > 0)
    if shell.sum() < 50:
        raise InputError("too little tissue around the lesion to estimate the enhancement threshold")
    normal = _robust_stats(arr[shell])
    cand = les & (arr > normal.median + params["bright_sd"] * normal.sd)
    if not cand.any():
        return normal.median + params["bright_sd"] * normal.sd
    return 0.5 * (float(arr[cand].mean()) + normal.median)


def segment_from_seed(
    t1c: sitk.Image,
    seed_lps: Sequence[float],
    *,
    flair: sitk.Image | None = None,
    box_lps: tuple[Sequence[float], Sequence[float]] | None = None,
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
    if touches:
        notes.append("the lesion touches the border of the search region; it may be larger than segmented (give a box)")

    full_shape = sitk.GetArrayViewFromImage(t1c).shape
    lesion = np.zeros(full_shape, bool)
    enh = np.zeros(full_shape, bool)
    sl = tuple(slice(int(roi_lo[::-1][i]), int(roi_lo[::-1][i]) + roi_shape[i]) for i in range(3))
    lesion[sl] = les_roi
    enh[sl] = enh_roi
    out = Compartments(
        lesion=_to_image(lesion, t1c),
        enhancing=_to_image(enh, t1c),
        necrotic=_to_image(lesion & ~enh, t1c),
        source="semi-automatic (seed " + ", ".join(f"{float(v):.1f}" for v in seed_lps) + " mm LPS)",
        notes=notes,
    )
    if flair is not None:
        out.edema = _to_image(_segment_edema(flair, lesion, params), t1c)
    return out


def _segment_in_roi(
    t1c: sitk.Image, seed_xyz: np.ndarray, lo: np.ndarray, hi: np.ndarray, params: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, ...], bool]:
    roi, roi_lo = _roi(t1c, lo, hi)
    roi_s = sitk.Median(sitk.Cast(roi, sitk.sitkFloat32), [int(params["median_radius_vox"])] * 3)
    arr = sitk.GetArrayFromImage(roi_s).astype(np.float64)
    spacing_zyx = np.asarray(t1c.GetSpacing())[::-1]
    seed = seed_xyz - roi_lo
    tissue = arr > _background_level(arr)
    normal = _robust_stats(arr[tissue])
    bright_thr = normal.median + params["bright_sd"] * normal.sd

    seeds = _seed_candidates(arr, seed, normal, spacing_zyx, params, tissue)
    min_vox = max(1, int(params["min_component_cc"] * MM3_PER_CC / float(np.prod(spacing_zyx))))
    closing = _ball(spacing_zyx, params["closing_mm"])
    ctx = _Ctx(roi_s, arr, tissue, normal, spacing_zyx, params, raw=sitk.GetArrayFromImage(roi).astype(np.float64))
    lesion = np.zeros(arr.shape, bool)
    enh = np.zeros(arr.shape, bool)
    for z, y, x in seeds:
        if arr[z, y, x] >= normal.median:  # enhancing seed: grown region = enhancing rim/nodule
            rim = _grow(ctx, (z, y, x), bright=True)
            if rim is None:
                continue
            core = _enclosed_dark_core(ctx, rim)
        else:  # dark core seed: grown region = necrotic/cystic core
            core = _grow(ctx, (z, y, x), bright=False)
            if core is None:
                continue
            rim = _rim_around(ctx, core, bright_thr)
            if _rim_coverage(ctx, core, rim) < ctx.params["core_enclosure_min"]:
                rim |= _whole_enhancement(ctx, rim)
                core |= _enclosed_dark_core(ctx, rim)
        part = core | rim
        dark = arr <= normal.median - params["seed_min_sd"] * normal.sd
        part = _fill_holes(ndi.binary_closing(part, structure=closing, border_value=0) | part, dark=dark)
        part = _component_at(part, core | rim)
        lesion |= part
        enh |= rim & part
    lesion = _drop_small(lesion, min_vox)
    if lesion.any() and enh.any():
        lesion, enh = _refine_outer_boundary(ctx, lesion, enh & lesion)
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
class _Ctx:
    image: sitk.Image
    arr: np.ndarray
    tissue: np.ndarray
    normal: _Stats
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


def _grow(ctx: _Ctx, seed_zyx: tuple[int, int, int], *, bright: bool) -> np.ndarray | None:
    """Region grown from the seed, kept on clearly abnormal voxels of the seed's kind, then refined
    to the half-contrast boundary within ``refine_mm``.

    Dark seeds: ConfidenceConnected. Bright seeds (thin rims defeat ConfidenceConnected, whose first
    statistics mix rim and brain): voxels above a fraction of the contrast between the most extreme
    seed neighbour and normal tissue (0.5 = half contrast). When the region leaks (reaches more than
    ``leak_max_faces`` faces of the search cube) the fraction is raised step by step
    (``leak_fractions``); None when every fraction leaks or nothing is left (no usable contrast).
    """
    z, y, x = seed_zyx
    p = ctx.params
    near_seed = np.zeros(ctx.arr.shape, bool)  # the seed and its 26 neighbours (a seed on a partial-volume edge)
    near_seed[max(z - 1, 0) : z + 2, max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2] = True
    local = ctx.arr[near_seed]
    extreme = float(local.max() if bright else local.min())
    grown = None
    if not bright:
        grown = _confidence_region(ctx.image, np.array([x, y, z]), p) & ctx.tissue
        grown = _component_at(grown, seed_zyx)
        if _leaks(grown, int(p["leak_max_faces"])):
            grown = None
    if grown is None:
        for frac in p["leak_fractions"]:
            t = ctx.normal.median + float(frac) * (extreme - ctx.normal.median)
            side = (ctx.arr >= t) if bright else (ctx.arr <= t)
            grown = _component_at(side & ctx.tissue, near_seed)
            if not _leaks(grown, int(p["leak_max_faces"])):
                break
        else:
            return None  # no contrast separates this region from normal structures
        if not grown.any():
            return None
    limit = ctx.normal.median + (1 if bright else -1) * p["seed_min_sd"] * ctx.normal.sd
    grown = _component_at(grown & ((ctx.arr >= limit) if bright else (ctx.arr <= limit)), near_seed)
    if not grown.any():
        return None
    band = ndi.binary_dilation(grown, structure=_ball(ctx.spacing_zyx, p["refine_mm"])) & ctx.tissue
    thr = _half_contrast(ctx.arr, grown, ctx.normal)
    side = (ctx.arr >= thr) if bright else (ctx.arr <= thr)
    return _component_at(grown | (band & side), grown)


def _refine_outer_boundary(ctx: _Ctx, lesion: np.ndarray, enh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Re-place the outer enhancing boundary of the lesion at the LOCAL half contrast: halfway between
    the enhancement plateau (``boundary_plateau_percentile`` of the enhancing voxels) and the median
    of the tissue in a shell ``boundary_shell_mm`` outside the lesion.

    The region-growing thresholds use the statistics of the whole search cube; around a lesion in
    extensive edema (darker on T1c than normal white matter, plus grey matter and CSF in the cube)
    that median is lower than the tissue the lesion actually borders, which put the boundary in the
    partial-volume voxels outside the true edge (lesion ~5-10 % too large, longest diameter up to
    ~1 mm too long on 1 mm phantoms). Only the outermost layer of enhancing voxels and the tissue
    within ``refine_mm`` outside the lesion are re-decided; the core is untouched."""
    p = ctx.params
    sp = ctx.spacing_zyx
    dist_out = ndi.distance_transform_edt(~lesion, sampling=sp)
    lo, hi = (float(v) for v in p["boundary_shell_mm"])
    lo = max(lo, 1.5 * float(sp.max()))           # beyond the partial-volume voxels of coarse grids
    hi = max(hi, lo + 2.0 * float(sp.max()))
    shell = (dist_out >= lo) & (dist_out <= hi) & ctx.tissue
    if shell.sum() < 20:
        return lesion, enh
    img = ctx.arr if ctx.raw is None else ctx.raw
    background = float(np.median(img[shell]))
    plateau = float(np.percentile(img[enh], p["boundary_plateau_percentile"]))
    if plateau <= background:
        return lesion, enh
    log.debug("outer boundary: plateau %.0f background %.0f", plateau, background)
    # the background varies around the lesion (edematous white matter, grey matter, CSF): per voxel, the
    # mean of the non-dark shell tissue within boundary_local_mm (the shell median where there is none)
    dark = img <= ctx.normal.median - p["seed_min_sd"] * ctx.normal.sd
    w = (shell & ~dark).astype(np.float64)
    size = [max(3, 2 * int(np.ceil(p["boundary_local_mm"] / v)) + 1) for v in sp]
    num = ndi.uniform_filter(img * w, size=size, mode="constant")
    den = ndi.uniform_filter(w, size=size, mode="constant")
    local_bg = np.where(den > 1e-3, num / np.maximum(den, 1e-12), background)
    thr = 0.5 * (plateau + np.minimum(local_bg, plateau))
    outer_layer = lesion & ~ndi.binary_erosion(lesion, structure=np.ones((3, 3, 3), bool))
    remove = outer_layer & enh & (img < thr)
    add = (dist_out > 0) & (dist_out <= p["refine_mm"]) & ctx.tissue & (img >= thr)
    kept = lesion & ~remove
    if not kept.any():
        return lesion, enh
    new = _component_at(kept | add, kept)
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


def _rim_around(ctx: _Ctx, core: np.ndarray, bright_thr: float) -> np.ndarray:
    """Enhancing voxels in a shell of ``rim_search_mm`` around a dark core, connected to it."""
    dist = ndi.distance_transform_edt(~core, sampling=ctx.spacing_zyx)
    shell = (dist > 0) & (dist <= ctx.params["rim_search_mm"]) & ctx.tissue
    cand = shell & (ctx.arr >= bright_thr)
    if not cand.any():
        return np.zeros_like(core)
    rim_thr = 0.5 * (float(ctx.arr[cand].mean()) + ctx.normal.median)
    near = ndi.binary_dilation(core, structure=np.ones((3, 3, 3), bool))
    bright = shell & (ctx.arr >= rim_thr)
    # the enhancement touching the core, and the largest enhancing piece of the shell (a rim separated
    # from the darkest core by a transition zone does not touch it)
    return _component_at(bright, near) | _largest_component(bright)


def _largest_component(mask: np.ndarray) -> np.ndarray:
    lab, n = ndi.label(mask, structure=np.ones((3, 3, 3), bool))
    if n == 0:
        return mask
    sizes = ndi.sum(mask, lab, index=np.arange(1, n + 1))
    return lab == int(np.argmax(sizes)) + 1


def _rim_coverage(ctx: _Ctx, core: np.ndarray, rim: np.ndarray) -> float:
    """Fraction of the outer surface of core ∪ rim (closed, holes filled) that is enhancing rim: ~1 when
    the rim found around a dark core encloses it, low when only pieces of it were found."""
    part = core | rim
    part = ndi.binary_fill_holes(ndi.binary_closing(part, structure=_ball(ctx.spacing_zyx, ctx.params["closing_mm"])) | part)
    surface = part & ~ndi.binary_erosion(part, structure=np.ones((3, 3, 3), bool))
    return float(np.mean(rim[surface])) if surface.any() else 0.0


def _whole_enhancement(ctx: _Ctx, rim: np.ndarray) -> np.ndarray:
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
    piece = _largest_component(rim)  # not a small bright fleck (vessel) touching the core
    seed = np.unravel_index(int(np.argmax(np.where(piece, ctx.arr, -np.inf))), rim.shape)
    whole = _grow(ctx, (int(seed[0]), int(seed[1]), int(seed[2])), bright=True)
    return rim if whole is None else whole


def _enclosed_dark_core(ctx: _Ctx, enh: np.ndarray) -> np.ndarray:
    """Dark (necrotic/cystic) regions next to an enhancing region, each kept only when the enhancement
    covers at least ``core_enclosure_min`` of its surface (an open rim); CSF next to a nodule is not.

    A multiloculated ("soap bubble") lesion has several cores separated by enhancing septa: the
    darkest remaining voxel inside the enhancement's convex hull is grown in turn, up to
    ``max_cores`` times (one seed used to leave the other bubbles' cores out)."""
    dist = ndi.distance_transform_edt(~enh, sampling=ctx.spacing_zyx)
    limit = ctx.normal.median - ctx.params["seed_min_sd"] * ctx.normal.sd
    near = (dist > 0) & (dist <= ctx.params["rim_search_mm"]) & ctx.tissue & (ctx.arr <= limit)
    total = np.zeros_like(enh)
    if not near.any():
        return total
    near = _within_hull(near, enh, ctx.spacing_zyx)
    tried = np.zeros_like(enh)
    touch = float(np.sqrt(3.0) * ctx.spacing_zyx.max()) + 1e-6
    for _ in range(int(ctx.params["max_cores"])):
        cand = near & ~total & ~tried
        if not cand.any():
            break
        seed = np.unravel_index(int(np.argmin(np.where(cand, ctx.arr, np.inf))), cand.shape)
        tried[seed] = True
        core = _grow(ctx, seed, bright=False)
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
            ok = float(np.mean(dist[surface] <= touch)) >= ctx.params["extra_core_wall_min"]
        else:
            ok = float(np.mean(dist[surface] <= ctx.params["rim_search_mm"])) >= ctx.params["core_enclosure_min"]
        if ok:
            total |= core
    return total


def _background_level(arr: np.ndarray) -> float:
    """Intensity below which voxels are air/background (skull-stripped zeros or air)."""
    pos = arr[arr > 0]
    if pos.size == 0:
        raise InputError("the image around the seed is empty (all zero)")
    # background: a tenth of the 99th percentile of the positive voxels; robust for skull-stripped
    # images (zeros) and for air in non-stripped ones (radnec convention)
    return 0.1 * float(np.percentile(pos, 99))


def _seed_candidates(
    arr: np.ndarray, seed: np.ndarray, normal: _Stats, spacing_zyx: np.ndarray, params: dict[str, Any], tissue: np.ndarray
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


def _drop_small(mask: np.ndarray, min_vox: int) -> np.ndarray:
    lab, n = ndi.label(mask, structure=np.ones((3, 3, 3), bool))
    if n == 0:
        return mask
    sizes = ndi.sum(mask, lab, index=np.arange(1, n + 1))
    keep = np.flatnonzero(sizes >= min_vox) + 1
    return np.isin(lab, keep)


def _segment_edema(flair: sitk.Image, lesion: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """FLAIR hyperintensity connected to the lesion, outside it (full-grid boolean array).

    Normal-tissue statistics come from the lesion box + ``edema_margin_mm``; the edema itself may
    extend up to ``edema_extent_mm`` from the lesion box (vasogenic edema follows white matter far).
    """
    if not lesion.any():
        return np.zeros_like(lesion)
    spacing_zyx = np.asarray(flair.GetSpacing())[::-1]
    idx = np.argwhere(lesion)

    def box(margin_mm: float) -> tuple[np.ndarray, np.ndarray]:
        margin = np.ceil(margin_mm / spacing_zyx).astype(int)
        return np.maximum(idx.min(0) - margin, 0), np.minimum(idx.max(0) + margin + 1, lesion.shape)

    lo, hi = box(max(params["edema_extent_mm"], params["edema_margin_mm"]))
    sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
    roi = sitk.RegionOfInterest(flair, [int(v) for v in (hi - lo)[::-1]], [int(v) for v in lo[::-1]])
    arr = sitk.GetArrayFromImage(sitk.Median(sitk.Cast(roi, sitk.sitkFloat32), [int(params["median_radius_vox"])] * 3)).astype(np.float64)
    les = lesion[sl]
    tissue = (arr > _background_level(arr)) & ~les
    slo, shi = box(params["edema_margin_mm"])
    stats_box = np.zeros_like(les)
    stats_box[tuple(slice(int(a - o), int(b - o)) for a, b, o in zip(slo, shi, lo))] = True
    near = ndi.binary_dilation(les, structure=np.ones((3, 3, 3), bool), iterations=2)
    normal, cand = _edema_normal_stats(arr, tissue & stats_box, tissue, near, params["edema_sd"])
    out = np.zeros_like(lesion)
    if not cand.any():
        return out
    thr = 0.5 * (float(arr[cand].mean()) + normal.median)
    ed = _component_at(tissue & (arr >= thr), near)
    closing = _ball(spacing_zyx, params["closing_mm"])
    ed = _fill_holes(ndi.binary_closing(ed | les, structure=closing, border_value=0) | ed | les) & ~les
    out[sl] = ed
    return out


def _edema_normal_stats(
    arr: np.ndarray, sample: np.ndarray, tissue: np.ndarray, near: np.ndarray, k_sd: float, *, iterations: int = 3
) -> tuple[_Stats, np.ndarray]:
    """Normal-tissue FLAIR statistics and the edema candidates (hyperintense voxels connected to the
    lesion, above median + ``k_sd`` robust SD).

    The statistics are re-estimated without the edema candidates found with the previous estimate:
    extensive edema filling a large part of the statistics box would otherwise pull the median
    towards the edema and inflate the SD (threshold too high: faint edema and partial-volume borders
    lost). Only the hyperintense region connected to the lesion is excluded, not every bright voxel,
    so the grey-matter mode stays part of 'normal' (excluding everything above a cut collapses the
    statistics onto white matter and turns grey matter into edema)."""
    normal = _robust_stats(arr[sample])
    cand = np.zeros_like(sample)
    for _ in range(iterations):
        cand = _component_at(tissue & (arr >= normal.median + k_sd * normal.sd), near)
        rest = sample & ~cand
        if rest.sum() < 50:
            break
        new = _robust_stats(arr[rest])
        converged = abs(new.median - normal.median) <= 1e-3 * max(abs(normal.median), 1.0) and abs(new.sd - normal.sd) <= 1e-3 * normal.sd
        normal = new
        if converged:
            break
    cand = _component_at(tissue & (arr >= normal.median + k_sd * normal.sd), near)
    return normal, cand


def _to_image(arr: np.ndarray, reference: sitk.Image) -> sitk.Image:
    img = sitk.GetImageFromArray(arr.astype(np.uint8))
    img.CopyInformation(reference)
    return img


def dice(a: sitk.Image, b: sitk.Image) -> float:
    """Dice overlap of two masks on the same grid (1.0 when both are empty)."""
    require_same_grid(a, b, what="the two masks")
    x = sitk.GetArrayViewFromImage(a) > 0
    y = sitk.GetArrayViewFromImage(b) > 0
    s = int(x.sum()) + int(y.sum())
    return 1.0 if s == 0 else 2.0 * int((x & y).sum()) / s


__all__ = ["segment_from_seed", "segmentation_parameters", "enhancement_threshold", "dice"]
