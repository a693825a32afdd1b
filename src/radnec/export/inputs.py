"""The explicit inputs of an export, and the source image series the exported objects reference."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from pydicom.dataset import Dataset

from radnec.case import Analysis
from radnec.errors import GeometryError, InputError
from radnec.lesion.labels import Compartments


@dataclass(frozen=True)
class FollowupExport:
    """One follow-up time point to export.

    Attributes
    ----------
    label
        The time point's label as in ``analysis.json`` (``timepoints[].details.label``, e.g.
        ``"follow-up 1"``); it names the ROIs, segments and SR groups of this time point.
    date
        Study date ``YYYY-MM-DD`` (``None`` when unknown); must match the ``analysis.json``
        time point it belongs to when there is one.
    t1c_files
        The follow-up T1c series' DICOM files (the SEG's source images).
    transform
        Planning → follow-up transform (LPS mm, ITK's fixed = planning convention: a planning
        point ``x`` corresponds to the follow-up point ``transform(x)``).
    lesions
        Per lesion name (as in ``analysis.json`` → ``lesions[].name``), its compartments on the
        follow-up T1c grid.
    fusion
        Optional :class:`radnec.fuse.transforms.FusionResult` of this follow-up; when given its
        Spatial / Deformable Spatial Registration objects are exported too.
    """

    label: str
    date: str | None
    t1c_files: Sequence[Path]
    transform: sitk.Transform
    lesions: Mapping[str, Compartments]
    fusion: object | None = None


@dataclass(frozen=True)
class ExportInputs:
    """Everything :func:`radnec.export.bundle.export_case` needs about one analysed case, as the
    pipeline's workspace provides it (``radnec.pipeline.exports.load_export_inputs``).

    Attributes
    ----------
    analysis
        The case's :class:`radnec.case.Analysis` (``analysis.json``).
    planning_files
        The planning T1c series' DICOM files.
    followups
        The follow-ups in time order.
    planning_lesions
        Optional baseline compartments on the planning T1c grid.
    report_html
        The case's ``report.html`` if there is one (for ``--pdf``).
    """

    analysis: Analysis
    planning_files: Sequence[Path]
    followups: Sequence[FollowupExport]
    planning_lesions: Mapping[str, Compartments] | None = None
    report_html: Path | None = None


@dataclass(frozen=True)
class SourceSeries:
    """A DICOM image series as the exported objects reference it.

    Attributes
    ----------
    image
        The series as read by :func:`radnec.ingest.series.load_series` (LPS mm).
    datasets
        One dataset per slice, ``datasets[k]`` is slice ``k`` of ``image`` (pixel data loaded).
    files
        ``files[k]`` is the file of ``datasets[k]``.
    """

    image: sitk.Image
    datasets: list[Dataset]
    files: list[Path] = field(default_factory=list)

    @property
    def first(self) -> Dataset:
        return self.datasets[0]


def read_source_series(files: Sequence[str | Path]) -> SourceSeries:
    """Read a single-frame image series and order its datasets along the image's slice axis.

    Raises
    ------
    InputError
        No files, unreadable files, an enhanced multi-frame series (not supported as an export
        source), or slices whose positions do not fall on the series grid.
    """
    import pydicom

    from radnec.ingest.series import load_series

    paths = [Path(f) for f in files]
    if not paths:
        raise InputError("no DICOM files given for the source image series")
    image = load_series(paths).image
    n = image.GetSize()[2]
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    normal = direction[:, 2]
    origin = np.asarray(image.GetOrigin())
    dz = image.GetSpacing()[2]
    slots: list[tuple[Dataset, Path] | None] = [None] * n
    for p in paths:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(p)
        except Exception as exc:  # noqa: BLE001 - already read once by load_series
            raise InputError(f"cannot read ({type(exc).__name__})", path=p) from exc
        if int(ds.get("NumberOfFrames", 1) or 1) > 1:
            raise InputError("enhanced multi-frame images are not supported as an export source", path=p)
        pos = np.asarray([float(v) for v in ds.ImagePositionPatient])
        k = (pos - origin) @ normal / dz
        ki = int(round(k))
        if abs(k - ki) > 0.01 or not 0 <= ki < n or slots[ki] is not None:
            raise GeometryError(f"slice position {pos.tolist()} is not on the series grid", path=p)
        slots[ki] = (ds, p)
    if any(s is None for s in slots):
        raise GeometryError(f"the series has {n} slice positions but {len(paths)} files", path=paths[0])
    return SourceSeries(image=image, datasets=[s[0] for s in slots], files=[s[1] for s in slots])


__all__ = ["FollowupExport", "ExportInputs", "SourceSeries", "read_source_series"]
