"""Small synthetic MR series with protocol headers (vendor names, contrast tags, ImageType, timing) for the
series-selection and case-folder tests. A few 16×16 slices each, written with pydicom; no patient data."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from ingest_factory import AXIAL, make_slice


def mr_series(
    folder: Path,
    *,
    description: str | None,
    study_uid: str,
    for_uid: str,
    n: int = 4,
    pixel_spacing: tuple[float, float] = (1.0, 1.0),
    slice_spacing: float = 1.0,
    thickness: float | None = None,
    row: Sequence[float] = AXIAL[0],
    col: Sequence[float] = AXIAL[1],
    origin: Sequence[float] = (-8.0, -8.0, 0.0),
    acquisition_type: str | None = "3D",
    image_type: Sequence[str] = ("ORIGINAL", "PRIMARY", "M", "ND"),
    contrast_agent: str | None = None,
    tr: float | None = 7.5,
    te: float | None = 3.1,
    ti: float | None = None,
    b_value: float | None = None,
    acquisition_time: str = "101500",
    study_date: str = "20240102",
    study_time: str = "100000",
    series_number: int = 1,
    source_series_uid: str | None = None,
    series_uid: str | None = None,
    positions: Sequence[Sequence[float]] | None = None,
) -> list[Path]:
    """Write one series of ``n`` slices into ``folder`` (created) and return the file paths.

    Slice ``k`` lies at ``origin + k * slice_spacing * normal`` (LPS mm) unless ``positions`` is given;
    its pixels hold ``10 k + 1``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or generate_uid()
    normal = np.cross(np.asarray(row, float), np.asarray(col, float))
    if positions is None:
        positions = [np.asarray(origin, float) + k * slice_spacing * normal for k in range(n)]
    paths = []
    for k, pos in enumerate(positions):
        ds: Dataset = make_slice(
            pos,
            row=row,
            col=col,
            pixel_spacing=pixel_spacing,
            shape=(16, 16),
            pixels=np.full((16, 16), 10 * k + 1),
            series_uid=series_uid,
            study_uid=study_uid,
            for_uid=for_uid,
            instance=k + 1,
        )
        ds.StudyDate = study_date
        ds.StudyTime = study_time
        ds.StudyID = "1"
        ds.SeriesNumber = series_number
        ds.AcquisitionTime = acquisition_time
        if description is None:
            del ds.SeriesDescription
        else:
            ds.SeriesDescription = description
        ds.SliceThickness = f"{thickness if thickness is not None else slice_spacing:g}"
        ds.ImageType = list(image_type)
        if acquisition_type:
            ds.MRAcquisitionType = acquisition_type
        for keyword, value in (("RepetitionTime", tr), ("EchoTime", te), ("InversionTime", ti)):
            if value is None:
                if keyword in ds:
                    delattr(ds, keyword)
            else:
                setattr(ds, keyword, f"{value:g}")
        if contrast_agent is not None:
            ds.ContrastBolusAgent = contrast_agent
            ds.ContrastBolusRoute = "IV"
        if b_value is not None:
            ds.DiffusionBValue = b_value
        if source_series_uid:
            ref = Dataset()
            ref.SeriesInstanceUID = source_series_uid
            ds.ReferencedSeriesSequence = [ref]
        path = folder / f"{series_number:03d}_{k:03d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


__all__ = ["mr_series"]
