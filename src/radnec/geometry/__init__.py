"""Grid helpers shared by every module: one convention, checked rather than assumed.

Conventions (see README, "Geometry"): DICOM patient coordinates (LPS) in millimetres;
images are :class:`SimpleITK.Image` carrying origin, spacing and direction; masks are
``sitkUInt8`` images with values 0/1 on a named reference grid; volumes in cm³.

Submodules: :mod:`~radnec.geometry.contours` (the slab model of planar contours: areas, volumes,
interpolation between planes), :mod:`~radnec.geometry.contour_masks` (contours on a voxel grid:
partial-volume fractions and masks) and :mod:`~radnec.geometry.quadrature` (points filling a
contour model, for DVHs).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import SimpleITK as sitk

from radnec.errors import GeometryError, RegistrationError

#: Tolerance (mm) when comparing origins and spacings of two grids. 1e-3 mm is far below any
#: clinical voxel size and above the float32 rounding seen in DICOM position strings.
GRID_TOLERANCE_MM = 1e-3
#: Tolerance when comparing direction cosines of two grids (dimensionless).
DIRECTION_TOLERANCE = 1e-4

#: Cubic millimetres in one cubic centimetre (volumes are reported in cm³).
MM3_PER_CC = 1000.0


def same_grid(a: sitk.Image, b: sitk.Image, *, tol_mm: float = GRID_TOLERANCE_MM) -> bool:
    """Return True when ``a`` and ``b`` share size, origin, spacing and direction."""
    return (
        a.GetSize() == b.GetSize()
        and np.allclose(a.GetOrigin(), b.GetOrigin(), atol=tol_mm)
        and np.allclose(a.GetSpacing(), b.GetSpacing(), atol=tol_mm)
        and np.allclose(a.GetDirection(), b.GetDirection(), atol=DIRECTION_TOLERANCE)
    )


def require_same_grid(a: sitk.Image, b: sitk.Image, *, what: str = "images") -> None:
    """Raise :class:`GeometryError` unless ``a`` and ``b`` are on the same grid.

    Parameters
    ----------
    a, b
        The two images.
    what
        Words naming the pair, used in the message (e.g. ``"dose and lesion mask"``).
    """
    if not same_grid(a, b):
        raise GeometryError(
            f"{what} are on different grids (size {a.GetSize()} vs {b.GetSize()}, origin "
            f"{_fmt(a.GetOrigin())} vs {_fmt(b.GetOrigin())} mm, spacing {_fmt(a.GetSpacing())} vs "
            f"{_fmt(b.GetSpacing())} mm); resample one explicitly with radnec.geometry.resample"
        )


def resample(
    image: sitk.Image,
    reference: sitk.Image,
    *,
    transform: sitk.Transform | None = None,
    interpolator: int = sitk.sitkLinear,
    default_value: float = 0.0,
) -> sitk.Image:
    """Resample ``image`` onto the grid of ``reference``.

    ``transform`` maps points of the reference (output) space to points of ``image``'s
    space, as in ITK. Use ``sitk.sitkNearestNeighbor`` or ``sitk.sitkLabelGaussian`` for
    masks and labels, linear for dose and intensity.
    """
    tx = transform if transform is not None else sitk.Transform(3, sitk.sitkIdentity)
    return sitk.Resample(image, reference, tx, interpolator, default_value, image.GetPixelID())


def voxel_volume_cc(image: sitk.Image) -> float:
    """Volume of one voxel of ``image`` in cm³."""
    return float(np.prod(image.GetSpacing())) / MM3_PER_CC


def mask_volume_cc(mask: sitk.Image) -> float:
    """Volume (cm³) of the non-zero voxels of a mask; partial-volume masks (float in 0..1)
    contribute their fraction."""
    arr = sitk.GetArrayViewFromImage(mask)
    if np.issubdtype(arr.dtype, np.floating):
        total = float(np.clip(arr, 0.0, 1.0).sum())
    else:
        total = float(np.count_nonzero(arr))
    return total * voxel_volume_cc(mask)


def physical_points(image: sitk.Image, indices_zyx: np.ndarray) -> np.ndarray:
    """LPS coordinates (mm, shape ``(n, 3)``) of voxel indices given as numpy ``(z, y, x)``
    rows (the order of ``sitk.GetArrayFromImage``)."""
    idx = np.asarray(indices_zyx, dtype=float)[:, ::-1]
    origin = np.asarray(image.GetOrigin())
    spacing = np.asarray(image.GetSpacing())
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    return origin + (idx * spacing) @ direction.T


def continuous_indices(image: sitk.Image, points_lps: np.ndarray) -> np.ndarray:
    """Continuous voxel indices ``(x, y, z)`` (shape ``(n, 3)``) of LPS points (mm)."""
    pts = np.asarray(points_lps, dtype=float).reshape(-1, 3)
    origin = np.asarray(image.GetOrigin())
    spacing = np.asarray(image.GetSpacing())
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    return ((pts - origin) @ direction) / spacing


def mask_centroid_lps(mask: sitk.Image) -> np.ndarray:
    """Centroid (LPS mm) of the non-zero voxels of ``mask``; raises on an empty mask."""
    arr = sitk.GetArrayViewFromImage(mask)
    idx = np.argwhere(arr > 0)
    if idx.size == 0:
        raise GeometryError("the mask is empty; it has no centroid")
    return physical_points(mask, idx).mean(axis=0)


def parse_point(text: str) -> tuple[float, float, float]:
    """Parse ``"x,y,z"`` (LPS mm, as DICOM viewers show them) into a tuple of floats."""
    parts = [p for p in text.replace(" ", "").split(",") if p]
    if len(parts) != 3:
        raise GeometryError(f"expected a point as x,y,z in LPS mm, got {text!r}")
    try:
        x, y, z = (float(p) for p in parts)
    except ValueError as exc:
        raise GeometryError(f"expected numbers in the point x,y,z, got {text!r}") from exc
    if not all(np.isfinite((x, y, z))):
        raise GeometryError(f"the point {text!r} is not finite")
    return x, y, z


def rigid_from_matrix(matrix4: np.ndarray) -> sitk.Euler3DTransform:
    """An Euler3DTransform from a 4x4 homogeneous matrix (``T(x) = M x + t``); rejects non-rigid
    matrices (|det - 1| or orthogonality error above 1e-4)."""
    m4 = np.asarray(matrix4, dtype=float).reshape(4, 4)
    m, t = m4[:3, :3], m4[:3, 3]
    if not np.allclose(m @ m.T, np.eye(3), atol=1e-4) or abs(np.linalg.det(m) - 1.0) > 1e-4:
        raise RegistrationError("the matrix is not a rigid rotation (scaling, shear or reflection present)")
    tx = sitk.Euler3DTransform()
    tx.SetMatrix(tuple(m.ravel()), 1e-4)
    tx.SetTranslation(tuple(t))
    return tx


def _fmt(v: Sequence[float]) -> str:
    return "(" + ", ".join(f"{x:.3f}" for x in v) + ")"


__all__ = [
    "GRID_TOLERANCE_MM",
    "DIRECTION_TOLERANCE",
    "MM3_PER_CC",
    "same_grid",
    "require_same_grid",
    "resample",
    "voxel_volume_cc",
    "mask_volume_cc",
    "physical_points",
    "continuous_indices",
    "mask_centroid_lps",
    "parse_point",
    "rigid_from_matrix",
]
