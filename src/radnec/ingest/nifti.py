"""NIfTI / NRRD volumes → :class:`SimpleITK.Image` in LPS mm, and label maps → masks.

NIfTI stores world coordinates in RAS; SimpleITK's reader converts to LPS (x and y negated),
which is the only RAS→LPS conversion radnec does. Before trusting it, the NIfTI header is
checked with nibabel:

* neither qform nor sform set (both codes 0) → refused: the orientation is unknown;
* qform and sform both set but different (origin by more than
  :data:`radnec.geometry.GRID_TOLERANCE_MM`, or direction cosines by more than
  :data:`radnec.geometry.DIRECTION_TOLERANCE`) → refused: readers disagree on which one to
  use (ITK and nibabel prefer different ones), so the location would be ambiguous;
* a sheared affine (axes not orthogonal) → refused: an ITK grid cannot carry shear;
* the grid SimpleITK returns is compared with nibabel's affine converted to LPS, so a silent
  mismatch between the two readers cannot pass.

Then for every format: 4-D where 3-D is expected (a trailing dimension of 1 is dropped),
vector pixels, and non-finite voxels (NaN/inf) are refused with the count. For NIfTI the count
comes from nibabel, because SimpleITK's NIfTI reader (2.5) silently returns NaN and inf as 0 —
a silently wrong number radnec must not pass on.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from radnec.errors import GeometryError, InputError
from radnec.geometry import DIRECTION_TOLERANCE, GRID_TOLERANCE_MM

#: RAS → LPS: negate x and y.
_RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0])
#: |cos| between two image axes above which the affine is called sheared (dimensionless).
SHEAR_TOLERANCE = 1e-4


def _is_nifti(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(".nii") or name.endswith(".nii.gz")


def _split_affine(affine: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Origin (RAS), unit direction columns and spacing of a 4x4 affine."""
    m = affine[:3, :3]
    spacing = np.linalg.norm(m, axis=0)
    return affine[:3, 3], m / np.where(spacing == 0, 1, spacing), spacing


def _check_nifti_header(path: Path) -> tuple[np.ndarray, int]:
    """Validate qform/sform; return the RAS affine SimpleITK should have used and the number of
    non-finite voxels (counted with nibabel: ITK's NIfTI reader silently turns NaN into 0)."""
    import nibabel as nib

    try:
        img = nib.load(str(path))
    except Exception as exc:  # noqa: BLE001 - nibabel raises several types on corrupt files
        raise InputError(f"not a readable NIfTI file ({type(exc).__name__}: {exc})", path=path) from exc
    header = img.header
    qform, qcode = header.get_qform(coded=True)
    sform, scode = header.get_sform(coded=True)
    if not qcode and not scode:
        raise GeometryError(
            "NIfTI header has neither qform nor sform (both codes 0): the orientation in patient space is "
            "unknown; re-export with a valid affine",
            path=path,
        )
    if qcode and scode:
        qo, qd, qs = _split_affine(qform)
        so, sd, ss = _split_affine(sform)
        if (
            np.max(np.abs(qo - so)) > GRID_TOLERANCE_MM
            or np.max(np.abs(qd - sd)) > DIRECTION_TOLERANCE
            or np.max(np.abs(qs - ss)) > GRID_TOLERANCE_MM
        ):
            raise GeometryError(
                f"NIfTI qform and sform disagree (origin {np.round(qo, 3).tolist()} vs {np.round(so, 3).tolist()} mm "
                f"RAS, max direction difference {np.max(np.abs(qd - sd)):.4f}); readers differ on which one to use, "
                "so the image position is ambiguous — fix the header (e.g. set one code to 0)",
                path=path,
            )
    affine = sform if scode else qform
    _, direction, spacing = _split_affine(affine)
    if np.any(spacing <= 0) or not np.all(np.isfinite(affine)):
        raise GeometryError(f"NIfTI affine has zero or non-finite voxel size {spacing.tolist()}", path=path)
    gram = direction.T @ direction
    off = np.abs(gram - np.eye(3))
    if np.max(off) > SHEAR_TOLERANCE:
        raise GeometryError(
            f"NIfTI affine is sheared (axes not orthogonal, max |cos| {np.max(off):.4f}); an ITK grid cannot "
            "represent shear — resample it to an orthogonal grid first",
            path=path,
        )
    bad = 0
    if np.issubdtype(header.get_data_dtype(), np.floating):
        bad = int(np.count_nonzero(~np.isfinite(np.asanyarray(img.dataobj))))
    return affine, bad


def _read_sitk(path: Path) -> sitk.Image:
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError as exc:
        lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
        raise InputError(f"cannot read the image ({lines[-1][:200] if lines else 'unknown error'})", path=path) from exc


def read_volume(path: str | os.PathLike[str], *, allow_non_finite: bool = False) -> sitk.Image:
    """Read a 3-D NIfTI or NRRD (or any SimpleITK-readable) volume in LPS mm.

    Parameters
    ----------
    path
        ``.nii``, ``.nii.gz``, ``.nrrd``, ``.nhdr`` (or ``.mha``/``.mhd``).
    allow_non_finite
        Accept NaN/inf voxels (otherwise refused with their count).

    Returns
    -------
    SimpleITK.Image
        Scalar 3-D image; pixel type as stored.

    Raises
    ------
    InputError
        Missing or unreadable file, vector pixels, non-finite voxels.
    GeometryError
        Unknown orientation, qform/sform disagreement, shear, 4-D data, or a SimpleITK grid that
        disagrees with the NIfTI affine.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("no such file", path=p)
    affine, bad = _check_nifti_header(p) if _is_nifti(p) else (None, 0)
    if bad and not allow_non_finite:
        raise InputError(f"{bad} voxels are NaN or infinite; clean the image or mask them first", path=p)
    image = _read_sitk(p)
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(
            f"vector image with {image.GetNumberOfComponentsPerPixel()} components per voxel; expected a scalar "
            "volume",
            path=p,
        )
    if image.GetDimension() == 4:
        size = image.GetSize()
        if size[3] != 1:
            raise GeometryError(
                f"4-D image ({size[0]}x{size[1]}x{size[2]} x {size[3]} volumes) where a 3-D volume is expected; "
                "extract one volume first (e.g. fslroi) or use the perfusion tools for time series",
                path=p,
            )
        image = image[:, :, :, 0]
    elif image.GetDimension() == 2:
        raise GeometryError(f"2-D image {image.GetSize()}; a 3-D volume is expected", path=p)
    if affine is not None:
        origin_ras, direction_ras, spacing = _split_affine(affine)
        origin_lps = _RAS_TO_LPS @ origin_ras
        direction_lps = _RAS_TO_LPS @ direction_ras
        if (
            np.max(np.abs(np.asarray(image.GetOrigin()) - origin_lps)) > GRID_TOLERANCE_MM
            or np.max(np.abs(np.asarray(image.GetDirection()).reshape(3, 3) - direction_lps)) > DIRECTION_TOLERANCE
            or np.max(np.abs(np.asarray(image.GetSpacing()) - spacing)) > GRID_TOLERANCE_MM
        ):
            raise GeometryError(
                "SimpleITK and nibabel read different grids from this NIfTI header (origin "
                f"{np.round(image.GetOrigin(), 3).tolist()} vs {np.round(origin_lps, 3).tolist()} mm LPS); "
                "the header is ambiguous — re-export it",
                path=p,
            )
    if not allow_non_finite and image.GetPixelID() in (sitk.sitkFloat32, sitk.sitkFloat64):
        arr = sitk.GetArrayViewFromImage(image)
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        if bad:
            raise InputError(f"{bad} voxels are NaN or infinite; clean the image or mask them first", path=p)
    return image


def label_map_to_masks(
    label_map: sitk.Image,
    *,
    labels: list[int] | None = None,
    reference: sitk.Image | None = None,
    source: str | None = None,
) -> dict[int, sitk.Image]:
    """Split an integer label map into one ``sitkUInt8`` 0/1 mask per label.

    Parameters
    ----------
    label_map
        Image whose voxels are non-negative integer labels (0 = background).
    labels
        Labels to return (each must be present); default: every non-zero label present.
    reference
        Optional grid to resample the masks onto (nearest neighbour, identity transform).
    source
        File name used in error messages.

    Returns
    -------
    dict[int, SimpleITK.Image]
        label → mask, in increasing label order.
    """
    arr = sitk.GetArrayFromImage(label_map)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise InputError("label map has NaN/inf voxels", path=source)
        if not np.array_equal(arr, np.round(arr)):
            raise InputError(
                "label map has non-integer values; it looks like an intensity or probability image, not labels",
                path=source,
            )
    if arr.size and arr.min() < 0:
        raise InputError(f"label map has negative labels (min {arr.min()})", path=source)
    present = [int(v) for v in np.unique(arr) if v != 0]
    wanted = present if labels is None else [int(v) for v in labels]
    missing = [v for v in wanted if v not in present]
    if missing:
        raise InputError(f"label(s) {missing} not in the label map (present: {present})", path=source)
    masks: dict[int, sitk.Image] = {}
    for value in wanted:
        mask = sitk.GetImageFromArray((arr == value).astype(np.uint8))
        mask.CopyInformation(label_map)
        if reference is not None:
            mask = sitk.Resample(mask, reference, sitk.Transform(3, sitk.sitkIdentity), sitk.sitkNearestNeighbor, 0)
        masks[value] = mask
    return masks


def read_label_map(
    path: str | os.PathLike[str],
    *,
    labels: list[int] | None = None,
    reference: sitk.Image | None = None,
) -> dict[int, sitk.Image]:
    """Read a NIfTI/NRRD label map and return one 0/1 ``sitkUInt8`` mask per label (LPS).

    See :func:`label_map_to_masks` for ``labels`` and ``reference``.
    """
    image = read_volume(path)
    return label_map_to_masks(image, labels=labels, reference=reference, source=str(path))


__all__ = ["read_volume", "read_label_map", "label_map_to_masks"]
