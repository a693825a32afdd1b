"""One 3-D image from a path a user gives: a DICOM series or a NIfTI/NRRD/MetaImage volume.

The commands that take an image (``radnec measure --image``, ``radnec fuse --fixed/--moving``)
accept either form; this is the one place that tells them apart:

* a file whose name ends in one of :data:`radnec.ingest.headers.VOLUME_SUFFIXES` (``.nii``,
  ``.nii.gz``, ``.nrrd``, ``.nhdr``, ``.mha``, ``.mhd``) is read by
  :func:`radnec.ingest.nifti.read_volume` (RAS → LPS at the boundary, qform/sform checked, 3-D
  scalar only);
* anything else (a folder of slices, a single enhanced multi-frame or single-slice DICOM file) is
  read by :func:`radnec.ingest.series.load_series` (geometry checks, rescale, float32).

Either way the result is a :class:`SimpleITK.Image` in DICOM patient coordinates (LPS, mm); every
refusal is a :class:`~radnec.errors.RadnecError` naming the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import SimpleITK as sitk

from radnec.errors import InputError
from radnec.ingest.headers import volume_suffix


@dataclass(frozen=True)
class LoadedImage:
    """An image and where it came from.

    Attributes
    ----------
    image
        3-D image, LPS mm.
    frame_of_reference_uid
        The DICOM frame of reference of a DICOM series (``None`` for a volume file, which has none).
    files
        The DICOM files read (empty for a volume file).
    """

    image: sitk.Image
    frame_of_reference_uid: str | None
    files: tuple[str, ...]


def load_image(path: str | os.PathLike[str], *, what: str = "image") -> LoadedImage:
    """Read a DICOM series (folder or file) or a NIfTI/NRRD/MetaImage volume.

    Parameters
    ----------
    path
        A folder holding one DICOM image series, a DICOM file, or a volume file.
    what
        Words naming the image in the error for a missing path (e.g. ``"fixed (planning) image"``).

    Returns
    -------
    LoadedImage
        The image (LPS mm) with its frame of reference and DICOM files.

    Raises
    ------
    InputError
        The path does not exist, or the file cannot be read.
    GeometryError
        The image cannot be represented faithfully on a grid (see the readers).
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"the {what} does not exist", path=p)
    if p.is_file() and volume_suffix(p) is not None:
        from radnec.ingest.nifti import read_volume

        return LoadedImage(image=read_volume(p), frame_of_reference_uid=None, files=())
    from radnec.ingest.series import load_series

    series = load_series(p)
    return LoadedImage(image=series.image, frame_of_reference_uid=series.meta.frame_of_reference_uid, files=series.meta.files)


def read_image(path: str | os.PathLike[str], *, what: str = "image") -> sitk.Image:
    """Like :func:`load_image` but return only the image (3-D, LPS mm)."""
    return load_image(path, what=what).image


__all__ = ["LoadedImage", "load_image", "read_image"]
