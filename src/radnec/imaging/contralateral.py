"""Contralateral reference regions: mirror a lesion mask across the mid-sagittal plane.

The mid-sagittal plane is taken as the plane ``x_LPS = c`` (perpendicular to the patient's
left-right axis) through the centroid of the head or brain mask. This assumes the head is not
strongly rolled or yawed in the scanner (true for routine axial acquisitions, a few degrees off
at most); tilted heads should get an explicit reference mask instead (``--wm`` / ``--background``).
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from radnec.errors import GeometryError
from radnec.geometry import mask_centroid_lps, require_same_grid


def head_mask_otsu(image: sitk.Image) -> sitk.Image:
    """Foreground (head/brain) mask of an intensity image by Otsu thresholding, largest component,
    holes filled slice-wise in 3-D (``sitkUInt8`` 0/1 on the image grid)."""
    img = sitk.Cast(image, sitk.sitkFloat32)
    fg = sitk.OtsuThreshold(img, 0, 1)
    cc = sitk.ConnectedComponent(fg)
    cc = sitk.RelabelComponent(cc, sortByObjectSize=True)
    largest = sitk.Cast(cc == 1, sitk.sitkUInt8)
    if not np.any(sitk.GetArrayViewFromImage(largest)):
        raise GeometryError("could not find the head in the image (Otsu threshold gave an empty mask)")
    return sitk.BinaryFillhole(largest)


def mirror_mask(mask: sitk.Image, *, plane_x_mm: float) -> sitk.Image:
    """Mirror ``mask`` across the plane ``x_LPS = plane_x_mm`` (nearest-neighbour, same grid).

    Parameters
    ----------
    mask
        ``sitkUInt8`` 0/1 mask.
    plane_x_mm
        LPS x coordinate (mm) of the mid-sagittal plane.
    """
    reflect = sitk.AffineTransform(3)
    reflect.SetMatrix((-1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))
    reflect.SetTranslation((2.0 * plane_x_mm, 0.0, 0.0))
    return sitk.Resample(mask, mask, reflect, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)


def contralateral_mask(
    lesion: sitk.Image,
    *,
    head: sitk.Image,
    exclude: sitk.Image | None = None,
) -> sitk.Image:
    """The mirror image of ``lesion`` in the other hemisphere, restricted to ``head`` and outside
    ``lesion`` (and ``exclude``, e.g. oedema).

    Raises
    ------
    GeometryError
        When the masks are on different grids, or the mirrored region is empty (a lesion straddling
        the midline or a mirror outside the head): give a reference mask explicitly then.
    """
    require_same_grid(lesion, head, what="lesion mask and head mask")
    plane = float(mask_centroid_lps(head)[0])
    mirrored = sitk.GetArrayFromImage(mirror_mask(lesion, plane_x_mm=plane)) > 0
    keep = mirrored & (sitk.GetArrayViewFromImage(head) > 0) & ~(sitk.GetArrayViewFromImage(lesion) > 0)
    if exclude is not None:
        require_same_grid(lesion, exclude, what="lesion mask and exclusion mask")
        keep &= ~(sitk.GetArrayViewFromImage(exclude) > 0)
    if not keep.any():
        raise GeometryError(
            f"the lesion mirrored across the mid-sagittal plane (x = {plane:.1f} mm LPS) leaves no voxel in the "
            "contralateral head outside the lesion; give a reference mask explicitly"
        )
    out = sitk.GetImageFromArray(keep.astype(np.uint8))
    out.CopyInformation(lesion)
    return out


__all__ = ["head_mask_otsu", "mirror_mask", "contralateral_mask"]
