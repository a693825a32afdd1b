"""Synthetic dose clouds and lesions built by construction (no files): a spherical SRS-like dose
``D(r) = 2 Rx / (1 + (r / r_rx)^4)`` (100 % Rx at ``r_rx``, 80 % at 1.107 r_rx, 50 % at 1.316 r_rx)
and spherical lesions placed at known radii."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

RX_GY = 20.0
R_RX_MM = 8.0


def grid(size: int = 64, spacing: float = 1.0, *, direction=None, origin_shift=(0.0, 0.0, 0.0)) -> sitk.Image:
    img = sitk.Image([size] * 3, sitk.sitkFloat32)
    img.SetSpacing([spacing] * 3)
    d = np.eye(3) if direction is None else np.asarray(direction, float).reshape(3, 3)
    img.SetDirection(tuple(d.ravel()))
    half = (size - 1) / 2.0 * spacing
    origin = -(d @ np.array([half, half, half])) + np.asarray(origin_shift)
    img.SetOrigin(tuple(origin))
    return img


def points(img: sitk.Image) -> np.ndarray:
    """LPS coordinates of all voxels, array shape (z, y, x, 3)."""
    size = img.GetSize()
    zz, yy, xx = np.indices(size[::-1])
    idx = np.stack([xx, yy, zz], axis=-1).reshape(-1, 3).astype(float)
    d = np.asarray(img.GetDirection()).reshape(3, 3)
    p = np.asarray(img.GetOrigin()) + (idx * np.asarray(img.GetSpacing())) @ d.T
    return p.reshape(*size[::-1], 3)


def dose_cloud(img: sitk.Image, *, centre=(0.0, 0.0, 0.0), rx: float = RX_GY, r_rx: float = R_RX_MM) -> sitk.Image:
    r = np.linalg.norm(points(img) - np.asarray(centre), axis=-1)
    arr = (2 * rx / (1 + (r / r_rx) ** 4)).astype(np.float32)
    out = sitk.GetImageFromArray(arr)
    out.CopyInformation(img)
    return out


def sphere_mask(img: sitk.Image, centre, radius: float) -> sitk.Image:
    r = np.linalg.norm(points(img) - np.asarray(centre, float), axis=-1)
    out = sitk.GetImageFromArray((r <= radius).astype(np.uint8))
    out.CopyInformation(img)
    return out


def radius_at_pct(pct: float, r_rx: float = R_RX_MM) -> float:
    """Radius (mm) of the pct % Rx isodose of :func:`dose_cloud`."""
    return r_rx * (200.0 / pct - 1.0) ** 0.25
