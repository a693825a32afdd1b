"""Intensity statistics of the lesion region: normal tissue, background and the enhancement threshold.

Normal-appearing tissue is summarised by the robust median and SD (1.4826 × MAD); boundaries are
placed at half the contrast between a region and normal tissue (the partial-volume midpoint).
Parameters are in ``conventions.yaml`` → ``segmentation`` (:func:`segmentation_parameters`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

from radnec.errors import InputError
from radnec.geometry import require_same_grid
from radnec.lesion.conventions import load_conventions_file


def segmentation_parameters(**overrides: float) -> dict[str, float]:
    """The default segmentation parameters of ``conventions.yaml``, with ``overrides`` applied."""
    params = {k: v for k, v in load_conventions_file()["segmentation"].items() if k != "citation"}
    unknown = set(overrides) - set(params)
    if unknown:
        raise InputError(f"unknown segmentation parameter(s) {sorted(unknown)}; known: {sorted(params)}")
    params.update(overrides)
    return params


@dataclass(frozen=True)
class RobustStats:
    """Robust median and SD (1.4826 × MAD) of image intensities (image units)."""

    median: float
    sd: float


def robust_stats(values: np.ndarray) -> RobustStats:
    """Median and 1.4826 × MAD of ``values`` (the plain SD when the MAD is 0, 1.0 when both are)."""
    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med)))
    sd = 1.4826 * mad
    if sd <= 0:
        sd = float(np.std(values)) or 1.0
    return RobustStats(med, sd)


def background_level(arr: np.ndarray) -> float:
    """Intensity below which voxels are air/background (skull-stripped zeros or air)."""
    pos = arr[arr > 0]
    if pos.size == 0:
        raise InputError("the image around the seed is empty (all zero)")
    # background: a tenth of the 99th percentile of the positive voxels; robust for skull-stripped
    # images (zeros) and for air in non-stripped ones (radnec convention)
    return 0.1 * float(np.percentile(pos, 99))


def half_contrast(arr: np.ndarray, region: np.ndarray, normal: RobustStats) -> float:
    """Half-way between the mean of ``arr`` over ``region`` and the normal-tissue median (image units)."""
    mean = float(arr[region].mean())
    return 0.5 * (mean + normal.median)


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
    normal = robust_stats(arr[shell])
    cand = les & (arr > normal.median + params["bright_sd"] * normal.sd)
    if not cand.any():
        return normal.median + params["bright_sd"] * normal.sd
    return 0.5 * (float(arr[cand].mean()) + normal.median)


__all__ = ["RobustStats", "robust_stats", "background_level", "half_contrast", "segmentation_parameters", "enhancement_threshold"]
