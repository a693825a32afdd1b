"""Bring a lesion (or reference) mask onto the grid of an imaging series (DSC, PET).

The follow-up lesion mask usually lives on the anatomical (T1c) grid; the DSC or PET series has its own,
coarser grid. Within one frame of reference the mapping is the identity; across frames pass the fusion
transform (ITK convention: it maps points of the *target* grid's space to the mask's space, as for
:func:`radnec.geometry.resample`). The mask is resampled as a partial-volume fraction (linear
interpolation of 0/1) and thresholded at ``PARTIAL_VOLUME_THRESHOLD`` — nearest neighbour would shift
small lesions by up to half a coarse voxel.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from radnec.errors import GeometryError

#: A target voxel belongs to the mask when at least this fraction of it is covered.
PARTIAL_VOLUME_THRESHOLD = 0.5


def mask_on_grid(
    mask: sitk.Image,
    reference: sitk.Image,
    *,
    transform: sitk.Transform | None = None,
    what: str = "lesion mask",
) -> sitk.Image:
    """Resample a 0/1 mask onto ``reference``'s grid (``sitkUInt8`` 0/1).

    Raises
    ------
    GeometryError
        When the mask is empty after resampling (outside the series' field of view, or smaller than
        half a target voxel).
    """
    tx = transform if transform is not None else sitk.Transform(3, sitk.sitkIdentity)
    frac = sitk.Resample(sitk.Cast(mask > 0, sitk.sitkFloat32), reference, tx, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    out = sitk.Cast(frac >= PARTIAL_VOLUME_THRESHOLD, sitk.sitkUInt8)
    if not np.any(sitk.GetArrayViewFromImage(out)):
        raise GeometryError(
            f"the {what} is empty on the series grid (outside its field of view, or smaller than half a voxel "
            f"of {tuple(round(s, 2) for s in reference.GetSpacing())} mm)"
        )
    return out


__all__ = ["mask_on_grid", "PARTIAL_VOLUME_THRESHOLD"]
