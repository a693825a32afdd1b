"""Input checks shared by the registration steps: refuse what cannot be registered, loudly.

Thresholds (spacing range, minimum overlap) come from ``data/quality_thresholds.yaml``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import SimpleITK as sitk

from radnec.datafiles import load_yaml
from radnec.errors import RegistrationError


@lru_cache(maxsize=1)
def thresholds() -> dict[str, Any]:
    """The quality thresholds (``radnec/fuse/data/quality_thresholds.yaml``) as a nested dict.

    Use ``thresholds()["jacobian"]["min_determinant"]["value"]``; every entry carries ``unit``
    and ``source`` (citation or "radnec expert opinion").
    """
    return load_yaml("radnec.fuse", "data/quality_thresholds.yaml")


def threshold(group: str, name: str) -> float:
    """One threshold value, e.g. ``threshold("jacobian", "max_folded_fraction")``."""
    return float(thresholds()[group][name]["value"])


def check_image(image: sitk.Image, *, name: str) -> None:
    """Raise :class:`RegistrationError` unless ``image`` is a plausible 3-D scalar volume.

    Parameters
    ----------
    image
        The image to check.
    name
        Words naming it in the message (e.g. ``"fixed (planning) image"``).
    """
    if image.GetDimension() != 3:
        raise RegistrationError(
            f"the {name} is {image.GetDimension()}-D; fusion needs a 3-D volume (load the whole series, "
            "not a single slice)"
        )
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise RegistrationError(f"the {name} has {image.GetNumberOfComponentsPerPixel()} components; need a scalar image")
    size = image.GetSize()
    if min(size) < 2:
        raise RegistrationError(
            f"the {name} has size {size}: a single slice or line is not a volume; fusion needs a 3-D volume"
        )
    lo, hi = threshold("spacing", "min_mm"), threshold("spacing", "max_mm")
    spacing = image.GetSpacing()
    if not all(lo <= s <= hi for s in spacing):
        raise RegistrationError(
            f"the {name} has an absurd voxel spacing {tuple(round(s, 4) for s in spacing)} mm (expected "
            f"{lo}..{hi} mm); check the header (units, slice thickness) before registering"
        )
    arr = sitk.GetArrayViewFromImage(image)
    if not np.all(np.isfinite(arr)):
        raise RegistrationError(f"the {name} contains NaN or infinite values")
    if float(np.ptp(arr)) == 0.0:
        raise RegistrationError(f"the {name} is constant (all voxels {float(arr.flat[0])}); nothing to register")


def foreground(image: sitk.Image) -> sitk.Image:
    """Otsu foreground (head) mask of ``image`` as a sitkUInt8 0/1 image, holes filled slice-wise
    is not needed for overlap tests, so the raw Otsu mask is returned."""
    img = sitk.Cast(image, sitk.sitkFloat32)
    return sitk.OtsuThreshold(img, 0, 1, 128)


def overlap_fraction(fixed: sitk.Image, moving: sitk.Image, transform: sitk.Transform) -> float:
    """Fraction of the fixed foreground voxels whose mapped point lies inside the moving foreground.

    ``transform`` maps fixed (planning) points to moving (follow-up) points (project convention).
    """
    fmask = foreground(fixed)
    mmask = foreground(moving)
    warped = sitk.Resample(mmask, fixed, transform, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    f = sitk.GetArrayViewFromImage(fmask) > 0
    n = int(f.sum())
    if n == 0:
        return 0.0
    w = sitk.GetArrayViewFromImage(warped) > 0
    return float(np.count_nonzero(f & w)) / n


def require_overlap(fixed: sitk.Image, moving: sitk.Image, transform: sitk.Transform, *, what: str) -> float:
    """Return :func:`overlap_fraction`; raise :class:`RegistrationError` when it is below the
    ``overlap.min_fraction_to_register`` threshold (the images do not overlap)."""
    frac = overlap_fraction(fixed, moving, transform)
    limit = threshold("overlap", "min_fraction_to_register")
    if frac < limit:
        raise RegistrationError(
            f"{what}: the images do not overlap ({100 * frac:.1f} % of the fixed foreground is covered by "
            f"the moving image at the start, need >= {100 * limit:.0f} %); check that both series show the "
            "same anatomy and that their positions (DICOM ImagePositionPatient) are right"
        )
    return frac


__all__ = ["thresholds", "threshold", "check_image", "foreground", "overlap_fraction", "require_overlap"]
