"""Small synthetic DICOM image series for the ingest tests (written with pydicom)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
AXIAL = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0))


def rotation(axis: Sequence[float], degrees: float) -> np.ndarray:
    """Rotation matrix about ``axis`` by ``degrees`` (Rodrigues)."""
    a = np.asarray(axis, float) / np.linalg.norm(axis)
    t = np.radians(degrees)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(t) * k + (1 - np.cos(t)) * (k @ k)


def make_slice(
    position: Sequence[float],
    *,
    row: Sequence[float] = AXIAL[0],
    col: Sequence[float] = AXIAL[1],
    pixel_spacing: tuple[float, float] = (0.9, 0.8),
    shape: tuple[int, int] = (6, 7),
    pixels: np.ndarray | None = None,
    series_uid: str,
    study_uid: str,
    for_uid: str | None,
    modality: str = "MR",
    slope: float | None = None,
    intercept: float | None = None,
    instance: int = 1,
) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    sop_class = MR_IMAGE_STORAGE if modality == "MR" else CT_IMAGE_STORAGE
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientName = "Secret^Person"
    ds.PatientID = "ID-THAT-MUST-NOT-LEAK"
    ds.Modality = modality
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyDate = "20240102"
    ds.SeriesDescription = "T1 post-contrast"
    if for_uid is not None:
        ds.FrameOfReferenceUID = for_uid
    ds.InstanceNumber = instance
    ds.ImagePositionPatient = [f"{v:.6f}" for v in position]
    ds.ImageOrientationPatient = [f"{v:.8f}" for v in (*row, *col)]
    ds.PixelSpacing = [f"{v:g}" for v in pixel_spacing]
    ds.SliceThickness = "1"
    ds.EchoTime = "3.1"
    ds.RepetitionTime = "7.5"
    ds.Rows, ds.Columns = shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    if slope is not None:
        ds.RescaleSlope = f"{slope:g}"
    if intercept is not None:
        ds.RescaleIntercept = f"{intercept:g}"
    arr = np.zeros(shape, np.uint16) if pixels is None else pixels.astype(np.uint16)
    ds.PixelData = arr.tobytes()
    return ds


def write_series(
    folder: Path,
    *,
    n: int = 5,
    spacing: float = 2.0,
    origin: Sequence[float] = (-10.0, -20.0, 30.0),
    row: Sequence[float] = AXIAL[0],
    col: Sequence[float] = AXIAL[1],
    positions: Sequence[Sequence[float]] | None = None,
    for_uids: Sequence[str | None] | None = None,
    orientations: Sequence[tuple[Sequence[float], Sequence[float]]] | None = None,
    modality: str = "MR",
    slope: float | None = None,
    intercept: float | None = None,
    shuffle: bool = True,
) -> list[Path]:
    """Write an ``n``-slice series; slice ``k`` carries the value ``10 k + 1`` in every pixel.

    Files are written in a shuffled order (fixed seed) so that sorting is exercised.
    """
    folder.mkdir(parents=True, exist_ok=True)
    row_v, col_v = np.asarray(row, float), np.asarray(col, float)
    normal = np.cross(row_v, col_v)
    if positions is None:
        positions = [np.asarray(origin, float) + k * spacing * normal for k in range(n)]
    series_uid, study_uid = generate_uid(), generate_uid()
    default_for = generate_uid()
    order = np.random.default_rng(7).permutation(len(positions)) if shuffle else np.arange(len(positions))
    paths = []
    for rank, k in enumerate(order):
        r, c = (row, col) if orientations is None else orientations[k]
        ds = make_slice(
            positions[k],
            row=r,
            col=c,
            pixels=np.full((6, 7), 10 * k + 1),
            series_uid=series_uid,
            study_uid=study_uid,
            for_uid=default_for if for_uids is None else for_uids[k],
            modality=modality,
            slope=slope,
            intercept=intercept,
            instance=int(k) + 1,
        )
        path = folder / f"slice{rank:03d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def edit(path: Path, out: Path, **changes: object) -> Path:
    """Copy a DICOM file with attributes changed (value None deletes the attribute)."""
    ds = pydicom.dcmread(path)
    for key, value in changes.items():
        if value is None:
            if key in ds:
                delattr(ds, key)
        else:
            setattr(ds, key, value)
    out.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(out)
    return out
