"""DICOM writing of the routine follow-up series of ``--protocol clinical-2d`` (any orientation).

Unlike :func:`radnec.phantom.dicom_write.write_mr_series` (axial 3-D volumes), these series may be
sagittal, coronal or oblique, hold several stacks (DWI b-values, localiser planes) and carry
vendor names and tags (:mod:`radnec.phantom.protocol`). Geometry per instance:
ImageOrientationPatient = the first two direction columns, ImagePositionPatient = the centre of
the first voxel of the slice (LPS mm), SliceLocation = its position along the slice normal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from pydicom import dcmread
from pydicom.uid import UID

from radnec.phantom.dicom_write import MR_STORAGE, PIXEL_DATA, Patient, _base, _da, _study, make_uid
from radnec.phantom.protocol import Series


def write_series(folder: Path, series: Series, *, patient: Patient, study: dict, series_uid: str, series_number: int,
                 date: dt.date, time: str, uid_parts: Sequence[object]) -> int:
    """Write every stack of ``series`` as one file per slice into ``folder``; return the number of
    instances. ``study`` holds ``study_uid``, ``study_id``, ``description`` and ``for_uid``."""
    folder.mkdir(parents=True, exist_ok=True)
    n_written = 0
    for s_idx, stack in enumerate(series.stacks):
        if stack.GetPixelID() != sitk.sitkUInt16:
            raise TypeError("MR series must be uint16")
        d = np.array(stack.GetDirection()).reshape(3, 3)
        sx, sy, _sz = stack.GetSpacing()
        arr = sitk.GetArrayViewFromImage(stack)
        nz, ny, nx = arr.shape
        ds = _base(MR_STORAGE, "1.2.3", patient, "MR")
        _study(ds, study_uid=study["study_uid"], study_id=study["study_id"], date=date, time=time,
               description=study["description"], series_uid=series_uid, series_number=series_number,
               series_description=series.tags["SeriesDescription"], for_uid=study["for_uid"])
        for key, value in series.tags.items():
            setattr(ds, key, value)
        if s_idx < len(series.stack_tags):
            for key, value in series.stack_tags[s_idx].items():
                setattr(ds, key, value)
        ds.ContentDate = _da(date); ds.ContentTime = time
        ds.AcquisitionDate = _da(date); ds.AcquisitionTime = time
        ds.AcquisitionNumber = s_idx + 1
        ds.BodyPartExamined = "HEAD"
        ds.PatientPosition = "HFS"
        ds.MagneticFieldStrength = 3
        ds.ImagedNucleus = "1H"
        if "SliceThickness" not in series.tags:
            ds.SliceThickness = f"{_sz:.4g}"
        ds.ImageOrientationPatient = [f"{v:.6f}" for v in (*d[:, 0], *d[:, 1])]
        ds.PixelSpacing = [f"{sy:.6g}", f"{sx:.6g}"]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = ny
        ds.Columns = nx
        ds.BitsAllocated = 16
        ds.BitsStored = 12
        ds.HighBit = 11
        ds.PixelRepresentation = 0
        ds.InstanceNumber = 1
        buf = BytesIO()
        ds.save_as(buf, enforce_file_format=True)
        ds = dcmread(BytesIO(buf.getvalue()))
        for k in range(nz):
            n_written += 1
            uid = UID(make_uid(*uid_parts, "stack", s_idx, "slice", k))
            pos = np.array(stack.TransformIndexToPhysicalPoint([0, 0, k]))
            ds.SOPInstanceUID = uid
            ds.file_meta.MediaStorageSOPInstanceUID = uid
            ds.InstanceNumber = n_written
            ds.ImagePositionPatient = [f"{v:.6f}" for v in pos]
            ds.SliceLocation = f"{float(pos @ d[:, 2]):.6f}"
            ds.add_new(PIXEL_DATA, "OW", np.ascontiguousarray(arr[k]).tobytes())
            ds.save_as(folder / f"IM{n_written:04d}.dcm", enforce_file_format=True)
    return n_written


__all__ = ["write_series"]
