"""Registration quality you can check: similarity before/after, Jacobian, folding, inverse
consistency, foreground overlap, and a checkerboard / edge overlay picture.

AAPM TG-132 (Brock KK et al., Med Phys 2017;44(7):e43-e76, doi:10.1002/mp.12256) asks that
registration quality be verified, not assumed. The thresholds that raise ``poor_quality`` live in
``radnec/fuse/data/quality_thresholds.yaml`` with their sources (TG-132 or radnec expert opinion).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from radnec.fuse.checks import foreground, threshold, thresholds

log = logging.getLogger(__name__)

#: Histogram bins used for normalised mutual information (a descriptive statistic, not a threshold).
NMI_BINS = 64


def _valid_region(moving: sitk.Image, reference: sitk.Image, transform: sitk.Transform) -> np.ndarray:
    ones = sitk.Image(moving.GetSize(), sitk.sitkUInt8) + 1
    ones.CopyInformation(moving)
    return sitk.GetArrayFromImage(sitk.Resample(ones, reference, transform, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)) > 0


def _outside_exclusions(
    fixed: sitk.Image,
    transform: sitk.Transform,
    fixed_exclude: sitk.Image | None,
    moving_exclude: sitk.Image | None,
) -> sitk.Image | None:
    """UInt8 mask on the fixed grid: 1 outside the planning lesion and the follow-up lesion + oedema
    (mapped through ``transform``); None when neither is given."""
    if fixed_exclude is None and moving_exclude is None:
        return None
    out = np.zeros(fixed.GetSize()[::-1], dtype=bool)
    for mask, tfm in ((fixed_exclude, sitk.Transform()), (moving_exclude, transform)):
        if mask is None:
            continue
        m = sitk.Cast(mask > 0, sitk.sitkUInt8)
        out |= sitk.GetArrayFromImage(sitk.Resample(m, fixed, tfm, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)) > 0
    keep = sitk.GetImageFromArray((~out).astype(np.uint8))
    keep.CopyInformation(fixed)
    return keep


def similarity(
    fixed: sitk.Image,
    moving: sitk.Image,
    transform: sitk.Transform,
    *,
    mask: sitk.Image | None = None,
) -> dict[str, float]:
    """Similarity of ``fixed`` and ``moving`` resampled through ``transform`` (planning → follow-up).

    Computed over the common field of view (and ``mask`` on the fixed grid if given).

    Returns
    -------
    dict
        ``nmi`` (Studholme normalised mutual information, 1 = independent .. 2 = identical, 64
        bins), ``ncc`` (normalised cross-correlation, −1..1; meaningful for same-contrast pairs),
        ``overlap_fraction`` (fraction of the fixed foreground covered by the moving field of view).
    """
    warped = sitk.Resample(sitk.Cast(moving, sitk.sitkFloat32), fixed, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    valid = _valid_region(moving, fixed, transform)
    fg = sitk.GetArrayFromImage(foreground(fixed)) > 0
    sel = valid & fg
    if mask is not None:
        sel &= sitk.GetArrayFromImage(sitk.Resample(mask, fixed, sitk.Transform(), sitk.sitkNearestNeighbor, 0)) > 0
    n_fg = int(fg.sum())
    if sel.sum() < 100:
        return {"nmi": float("nan"), "ncc": float("nan"), "overlap_fraction": float(sel.sum()) / max(1, n_fg)}
    a = sitk.GetArrayFromImage(sitk.Cast(fixed, sitk.sitkFloat32))[sel].astype(float)
    b = sitk.GetArrayViewFromImage(warped)[sel].astype(float)
    hist, _, _ = np.histogram2d(a, b, bins=NMI_BINS)
    p = hist / hist.sum()
    px, py = p.sum(axis=1), p.sum(axis=0)

    def _h(q: np.ndarray) -> float:
        q = q[q > 0]
        return float(-(q * np.log(q)).sum())

    nmi = (_h(px) + _h(py)) / _h(p.ravel())
    ncc = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan")
    return {"nmi": float(nmi), "ncc": ncc, "overlap_fraction": float(sel.sum()) / max(1, n_fg)}


def foreground_dice(fixed: sitk.Image, moving: sitk.Image, transform: sitk.Transform) -> float:
    """Dice of the Otsu foregrounds of ``fixed`` and of ``moving`` mapped onto it, within the moving
    field of view (so a smaller follow-up field of view is not penalised)."""
    fm = sitk.GetArrayFromImage(foreground(fixed)) > 0
    mm = sitk.GetArrayFromImage(
        sitk.Resample(foreground(moving), fixed, transform, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    ) > 0
    valid = _valid_region(moving, fixed, transform)
    fm &= valid
    denom = int(fm.sum() + mm.sum())
    return float(2 * np.count_nonzero(fm & mm) / denom) if denom else 0.0


def jacobian_stats(
    deformation: sitk.DisplacementFieldTransform | None,
    *,
    fixed: sitk.Image | None = None,
    transform: sitk.Transform | None = None,
    fixed_exclude: sitk.Image | None = None,
    moving_exclude: sitk.Image | None = None,
    exclude_margin_mm: float | None = None,
    percentile: float | None = None,
) -> dict[str, float | None]:
    """Jacobian determinant of ``x ↦ x + d(x)`` over the deformation field's grid.

    Returns ``jacobian_min``, ``jacobian_max``, ``folded_fraction`` (fraction of voxels with
    det ≤ 0) and ``max_displacement_mm`` over the whole field, and ``jacobian_low`` /
    ``jacobian_high`` (the ``percentile`` and ``100 − percentile`` percentiles of det(J)) over the
    *assessed region*: the planning head foreground (``fixed``) minus the lesion and oedema
    (``fixed_exclude`` on the planning grid, ``moving_exclude`` on the follow-up grid, mapped with
    ``transform``) dilated by ``exclude_margin_mm``. Inside that excluded region the displacement is
    an interpolation, not a measurement, and its edge is where a true mass effect compresses tissue
    most, so the plausibility range is judged away from it; folding is judged everywhere.
    All None for a rigid result (det = 1 everywhere).
    """
    keys = ("jacobian_min", "jacobian_max", "folded_fraction", "max_displacement_mm", "jacobian_low", "jacobian_high")
    if deformation is None:
        return dict.fromkeys(keys)
    if exclude_margin_mm is None:
        exclude_margin_mm = threshold("jacobian", "exclude_margin_mm")
    if percentile is None:
        percentile = threshold("jacobian", "range_percentile")
    field = deformation.GetDisplacementField()
    jac_img = sitk.DisplacementFieldJacobianDeterminant(field)
    jac = sitk.GetArrayFromImage(jac_img)
    disp = np.linalg.norm(sitk.GetArrayFromImage(field), axis=-1)
    region = np.ones(jac.shape, dtype=bool)
    if fixed is not None:
        region &= sitk.GetArrayFromImage(
            sitk.Resample(foreground(fixed), jac_img, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
        ) > 0
    excl = np.zeros(jac.shape, dtype=bool)
    for mask, tfm in ((fixed_exclude, sitk.Transform()), (moving_exclude, transform)):
        if mask is None or tfm is None:
            continue
        m = sitk.Cast(mask > 0, sitk.sitkUInt8)
        excl |= sitk.GetArrayFromImage(sitk.Resample(m, jac_img, tfm, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)) > 0
    if excl.any() and exclude_margin_mm > 0:
        from scipy.ndimage import distance_transform_edt

        excl = distance_transform_edt(~excl, sampling=jac_img.GetSpacing()[::-1]) <= exclude_margin_mm
    region &= ~excl
    vals = jac[region] if region.any() else jac.ravel()
    return {
        "jacobian_min": float(jac.min()),
        "jacobian_max": float(jac.max()),
        "folded_fraction": float(np.count_nonzero(jac <= 0) / jac.size),
        "max_displacement_mm": float(disp.max()),
        "jacobian_low": float(np.percentile(vals, percentile)),
        "jacobian_high": float(np.percentile(vals, 100.0 - percentile)),
    }


def inverse_consistency_mm(
    forward: sitk.Transform, backward: sitk.Transform, points_lps: np.ndarray
) -> dict[str, float]:
    """Inverse-consistency error: ``|backward(forward(p)) - p|`` (mm) over ``points_lps``.

    ``forward`` maps planning → follow-up, ``backward`` is an independent registration follow-up →
    planning. Returns mean and max (mm).
    """
    pts = np.asarray(points_lps, dtype=float).reshape(-1, 3)
    back = np.array([backward.TransformPoint(forward.TransformPoint(tuple(p))) for p in pts])
    err = np.linalg.norm(back - pts, axis=1)
    return {"mean": float(err.mean()), "max": float(err.max())}


def sample_points(mask: sitk.Image, *, n: int = 2000, seed: int = 0) -> np.ndarray:
    """Up to ``n`` random LPS points (mm) of the non-zero voxels of ``mask`` (fixed seed)."""
    from radnec.geometry import physical_points

    idx = np.argwhere(sitk.GetArrayViewFromImage(mask) > 0)
    if len(idx) == 0:
        return np.zeros((0, 3))
    rng = np.random.default_rng(seed)
    pick = idx[rng.choice(len(idx), size=min(n, len(idx)), replace=False)]
    return physical_points(mask, pick)


def assess_registration(
    fixed: sitk.Image,
    moving: sitk.Image,
    *,
    transform: sitk.Transform,
    initial_transform: sitk.Transform,
    deformation: sitk.DisplacementFieldTransform | None = None,
    fixed_exclude: sitk.Image | None = None,
    moving_exclude: sitk.Image | None = None,
    inverse_consistency: dict[str, float] | None = None,
    same_frame_residual_mm: float | None = None,
) -> dict[str, Any]:
    """Compute the quality metrics and flag a poor registration.

    Parameters
    ----------
    fixed, moving
        Planning and follow-up images.
    transform
        The final planning → follow-up transform.
    initial_transform
        Where the registration started (similarity "before").
    deformation
        The deformable part, if any (Jacobian checks).
    fixed_exclude, moving_exclude
        Planning lesion (planning grid) and follow-up lesion + oedema (follow-up grid): the
        Jacobian plausibility range is judged away from them (see :func:`jacobian_stats`).
    inverse_consistency
        Result of :func:`inverse_consistency_mm`, if a backward registration was run.
    same_frame_residual_mm
        For a shared frame of reference: mean distance (mm) the verification moved brain points.

    Returns
    -------
    dict
        Metrics, ``poor_quality`` (bool), ``failed_checks`` (list of sentences) and
        ``thresholds`` (the values used, with their sources in the YAML file).
    """
    # Similarity is judged where the registration could match: outside the lesion + oedema of
    # either time point (their content changed between the scans), the same region before and after.
    keep = _outside_exclusions(fixed, transform, fixed_exclude, moving_exclude)
    before = similarity(fixed, moving, initial_transform, mask=keep)
    after = similarity(fixed, moving, transform, mask=keep)
    if keep is not None:
        after["overlap_fraction"] = similarity(fixed, moving, transform)["overlap_fraction"]
    dice = foreground_dice(fixed, moving, transform)
    jac = jacobian_stats(
        deformation, fixed=fixed, transform=transform, fixed_exclude=fixed_exclude, moving_exclude=moving_exclude
    )
    failed: list[str] = []
    t = {
        "min_nmi_after": threshold("similarity", "min_nmi_after"),
        "min_nmi_gain": threshold("similarity", "min_nmi_gain"),
        "min_foreground_dice": threshold("foreground_overlap", "min_dice"),
        "min_overlap_fraction": threshold("overlap", "min_fraction_ok"),
        "max_folded_fraction": threshold("jacobian", "max_folded_fraction"),
        "min_jacobian": threshold("jacobian", "min_determinant"),
        "max_jacobian": threshold("jacobian", "max_determinant"),
        "jacobian_range_percentile": threshold("jacobian", "range_percentile"),
        "jacobian_exclude_margin_mm": threshold("jacobian", "exclude_margin_mm"),
        "max_inverse_consistency_mm": threshold("inverse_consistency", "max_mean_mm"),
        "max_same_frame_residual_mm": threshold("same_frame_residual", "max_mean_mm"),
    }
    if not np.isfinite(after["nmi"]) or after["nmi"] < t["min_nmi_after"]:
        failed.append(f"normalised mutual information after registration {after['nmi']:.3f} < {t['min_nmi_after']}")
    if np.isfinite(after["nmi"]) and np.isfinite(before["nmi"]) and after["nmi"] - before["nmi"] < t["min_nmi_gain"]:
        failed.append(f"similarity got worse ({before['nmi']:.3f} -> {after['nmi']:.3f})")
    if dice < t["min_foreground_dice"]:
        failed.append(f"head foreground Dice {dice:.3f} < {t['min_foreground_dice']}")
    if after["overlap_fraction"] < t["min_overlap_fraction"]:
        failed.append(
            f"only {100 * after['overlap_fraction']:.0f} % of the planning foreground is covered by the follow-up"
        )
    if jac["folded_fraction"] is not None:
        if jac["folded_fraction"] > t["max_folded_fraction"]:
            failed.append(f"deformation folds: {100 * jac['folded_fraction']:.3f} % of voxels have det(J) <= 0")
        if jac["jacobian_low"] < t["min_jacobian"] or jac["jacobian_high"] > t["max_jacobian"]:
            pc = t["jacobian_range_percentile"]
            failed.append(
                f"implausible local volume change away from the lesion: det(J) {pc:g}th-{100 - pc:g}th percentile "
                f"[{jac['jacobian_low']:.2f}, {jac['jacobian_high']:.2f}] outside [{t['min_jacobian']}, {t['max_jacobian']}]"
            )
    if inverse_consistency is not None and inverse_consistency["mean"] > t["max_inverse_consistency_mm"]:
        failed.append(
            f"forward and backward registrations disagree by {inverse_consistency['mean']:.2f} mm on average"
        )
    if same_frame_residual_mm is not None and same_frame_residual_mm > t["max_same_frame_residual_mm"]:
        failed.append(
            f"the series share a frame of reference but are misaligned by {same_frame_residual_mm:.2f} mm "
            "(patient moved?); the registered transform is used instead"
        )
    return {
        "nmi_before": before["nmi"],
        "nmi_after": after["nmi"],
        "ncc_before": before["ncc"],
        "ncc_after": after["ncc"],
        "overlap_fraction": after["overlap_fraction"],
        "foreground_dice": dice,
        **jac,
        "inverse_consistency_mean_mm": None if inverse_consistency is None else inverse_consistency["mean"],
        "inverse_consistency_max_mm": None if inverse_consistency is None else inverse_consistency["max"],
        "same_frame_residual_mm": same_frame_residual_mm,
        "poor_quality": bool(failed),
        "failed_checks": failed,
        "thresholds": t,
        "thresholds_source": "radnec/fuse/data/quality_thresholds.yaml (AAPM TG-132, doi:10.1002/mp.12256; radnec expert opinion where marked)",
        "thresholds_version": thresholds().get("version"),
    }


def overlay_png(
    fixed: sitk.Image,
    moving: sitk.Image,
    transform: sitk.Transform,
    path: str | Path,
    *,
    center_lps: np.ndarray | None = None,
    title: str = "fusion check",
    checker_mm: float = 20.0,
) -> Path:
    """Write a picture to check the fusion by eye: for the axial, coronal and sagittal planes through
    ``center_lps`` (default: image centre), a checkerboard of planning and registered follow-up
    (top) and the planning image with the follow-up's edges in colour (bottom).

    Returns the PNG path. Uses matplotlib's Agg backend (no display needed).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    warped = sitk.Resample(sitk.Cast(moving, sitk.sitkFloat32), fixed, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    # Show on an isotropic display grid so thick-slice planes are not squashed.
    f = sitk.Cast(fixed, sitk.sitkFloat32)
    a = sitk.GetArrayFromImage(f)
    b = sitk.GetArrayFromImage(warped)

    def _norm(x: np.ndarray) -> np.ndarray:
        lo, hi = np.percentile(x, [1, 99.5])
        return np.clip((x - lo) / (hi - lo + 1e-9), 0, 1)

    a, b = _norm(a), _norm(b)
    edges = sitk.GetArrayFromImage(sitk.CannyEdgeDetection(sitk.RescaleIntensity(warped, 0, 1), 0.05, 0.15, [1.5] * 3)) > 0
    if center_lps is None:
        size = np.asarray(fixed.GetSize(), dtype=float)
        center_lps = np.asarray(fixed.TransformContinuousIndexToPhysicalPoint(tuple((size - 1) / 2)))
    ci = np.round(fixed.TransformPhysicalPointToContinuousIndex(tuple(float(v) for v in center_lps))).astype(int)
    ci = np.clip(ci, 0, np.asarray(fixed.GetSize()) - 1)
    sp = fixed.GetSpacing()
    zz, yy, xx = np.indices(a.shape)
    cb = (
        (np.floor(xx * sp[0] / checker_mm) + np.floor(yy * sp[1] / checker_mm) + np.floor(zz * sp[2] / checker_mm)) % 2
    ).astype(bool)
    check = np.where(cb, a, b)
    planes = [
        ("axial", lambda v: v[ci[2], :, :], sp[1] / sp[0]),
        ("coronal", lambda v: v[::-1, ci[1], :], sp[2] / sp[0]),
        ("sagittal", lambda v: v[::-1, :, ci[0]], sp[2] / sp[1]),
    ]
    fig, axes = plt.subplots(2, 3, figsize=(12, 8), dpi=80)
    for col, (name, cut, aspect) in enumerate(planes):
        axes[0, col].imshow(cut(check), cmap="gray", aspect=aspect, interpolation="nearest")
        axes[0, col].set_title(f"{name}: checkerboard planning / follow-up")
        axes[1, col].imshow(cut(a), cmap="gray", aspect=aspect, interpolation="nearest")
        e = cut(edges)
        overlay = np.zeros(e.shape + (4,))
        overlay[e] = (1.0, 0.3, 0.0, 0.9)
        axes[1, col].imshow(overlay, aspect=aspect, interpolation="nearest")
        axes[1, col].set_title(f"{name}: planning + follow-up edges")
        for r in (0, 1):
            axes[r, col].axis("off")
    fig.suptitle(f"{title} — research use, check by eye")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


__all__ = [
    "NMI_BINS",
    "similarity",
    "foreground_dice",
    "jacobian_stats",
    "inverse_consistency_mm",
    "sample_points",
    "assess_registration",
    "overlay_png",
]
