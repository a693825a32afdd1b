"""Isodose regions and distances to isodose surfaces (dose in Gy, distances in mm)."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk


def isodose_mask(dose: sitk.Image, level_gy: float) -> sitk.Image:
    """``sitkUInt8`` mask of the voxels receiving at least ``level_gy`` Gy (on the dose grid)."""
    if not np.isfinite(level_gy):
        raise ValueError(f"isodose level must be finite, got {level_gy}")
    return sitk.Cast(sitk.BinaryThreshold(dose, float(level_gy), 1e30, 1, 0), sitk.sitkUInt8)


def isodose_levels_gy(prescription_gy: float) -> dict[str, float]:
    """Relative (``rx100``…) and absolute (``12gy``…) isodose levels in Gy, as listed in
    ``conventions.yaml``."""
    from radnec.dose.conventions import load_conventions

    if not (prescription_gy and prescription_gy > 0):
        raise ValueError(f"prescription must be a positive dose in Gy, got {prescription_gy}")
    c = load_conventions()["isodose_levels"]
    out = {f"rx{int(p)}": prescription_gy * float(p) / 100.0 for p in c["relative_pct"]}
    out.update({f"{g:g}gy": float(g) for g in c["absolute_gy"]})
    return out


def signed_distance_to_isodose(dose: sitk.Image, level_gy: float) -> sitk.Image:
    """Signed Euclidean distance (mm, float32) of every dose voxel to the ``level_gy`` isodose
    surface: negative inside (dose ≥ level), positive outside (Maurer distance map, physical
    spacing)."""
    m = isodose_mask(dose, level_gy)
    if not np.any(sitk.GetArrayViewFromImage(m)):
        arr = np.full(sitk.GetArrayViewFromImage(dose).shape, np.inf, dtype=np.float32)
        out = sitk.GetImageFromArray(arr)
        out.CopyInformation(dose)
        return out
    d = sitk.SignedMaurerDistanceMap(m, insideIsPositive=False, squaredDistance=False, useImageSpacing=True)
    return sitk.Cast(d, sitk.sitkFloat32)


__all__ = ["isodose_mask", "isodose_levels_gy", "signed_distance_to_isodose"]
