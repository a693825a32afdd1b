"""What a scan records: the :class:`Inventory` of a folder tree and its parts (pydantic models).

Patients → studies → frames of reference → series (with per-instance facts of non-image objects),
NIfTI/NRRD volumes, spectroscopy files, relations between objects, RT bundles, and every skipped
file with its reason. Header facts only; patients are labelled ``patient-1``, ``patient-2``, ...
(names and IDs are never stored). Filled by :func:`radnec.ingest.scan.scan`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class SkippedFile(BaseModel):
    """A file the scan did not use, and why."""

    path: str
    reason: str


class ObjectInfo(BaseModel):
    """One DICOM instance (header facts only)."""

    path: str
    kind: str
    sop_class_uid: str
    sop_instance_uid: str
    frame_of_reference_uid: str | None = None
    label: str | None = Field(None, description="plan/structure-set label or series description")
    referenced_sop_uids: list[str] = Field(default_factory=list)
    referenced_series_uids: list[str] = Field(default_factory=list)
    referenced_frame_of_reference_uids: list[str] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)


class MRFacts(BaseModel):
    """Header facts of an image series that decide its role (radnec.ingest.protocol), read at scan time.

    Times in ms, lengths in mm, orientation as DICOM ImageOrientationPatient (LPS direction cosines).
    """

    image_type: list[str] = Field(default_factory=list, description="ImageType values, upper case")
    protocol_name: str | None = None
    sequence_name: str | None = None
    scanning_sequence: list[str] = Field(default_factory=list, description="SE, GR, IR, EP, RM")
    sequence_variant: list[str] = Field(default_factory=list)
    acquisition_type: str | None = Field(None, description="MRAcquisitionType: 2D or 3D")
    repetition_time_ms: float | None = None
    echo_time_ms: float | None = None
    inversion_time_ms: float | None = None
    diffusion_b_value: float | None = None
    contrast_agent: str | None = Field(None, description="ContrastBolusAgent (0018,0010)")
    contrast_route: str | None = None
    contrast_volume_ml: float | None = None
    slice_thickness_mm: float | None = None
    pixel_spacing_mm: list[float] | None = Field(None, description="(between rows, between columns)")
    orientation: list[float] | None = Field(None, description="ImageOrientationPatient of the first slice")
    slice_spacing_mm: float | None = Field(None, description="median distance between slice positions")
    extent_mm: float | None = Field(None, description="coverage along the slice normal (positions + one spacing)")
    n_positions: int = 0
    acquisition_time: str | None = Field(None, description="HH:MM:SS of the earliest AcquisitionTime/SeriesTime")
    source_series_uids: list[str] = Field(
        default_factory=list, description="series named in ReferencedImage/SourceImage sequences (reformats)"
    )


class SeriesInfo(BaseModel):
    """A DICOM series (one kind of object) with its files."""

    series_instance_uid: str
    kind: str
    modality: str
    study_instance_uid: str
    frame_of_reference_uid: str | None
    description: str | None = None
    series_number: int | None = None
    acquisition_date: str | None = Field(None, description="YYYY-MM-DD")
    n_instances: int = 0
    n_frames: int = 0
    files: list[str] = Field(default_factory=list)
    objects: list[ObjectInfo] = Field(
        default_factory=list, description="per-instance facts of non-image objects (RT, SEG, REG, MRS)"
    )
    geometry: dict[str, Any] | None = Field(
        None, description="grid of the stacked volume (filled by radnec.ingest.inventory.inspect_tree)"
    )
    dynamic: bool = Field(
        False,
        description="a dynamic (multi-temporal) MR series: the slice positions repeat once per time point "
        "(e.g. DSC perfusion); see radnec.ingest.temporal.temporal_frames",
    )
    n_timepoints: int = Field(1, description="number of time points (1 unless dynamic)")
    temporal_key: str | None = Field(
        None, description="the attribute that orders the time points of a dynamic series"
    )
    mr: MRFacts | None = Field(None, description="header facts of an MR/CT image series (series selection)")
    n_duplicates: int = Field(0, description="identical duplicated instances dropped (same SOP UID, same bytes)")
    conflicting_duplicates: list[str] = Field(
        default_factory=list, description="files holding a SOP Instance UID already seen with different content"
    )


class FrameOfReferenceInfo(BaseModel):
    """Series that share one frame of reference (``uid`` None: the objects declare none)."""

    uid: str | None
    series: list[SeriesInfo] = Field(default_factory=list)


class StudyInfo(BaseModel):
    study_instance_uid: str
    study_date: str | None = Field(None, description="YYYY-MM-DD")
    study_time: str | None = Field(None, description="HH:MM:SS (several studies on one day are told apart by it)")
    description: str | None = None
    frames_of_reference: list[FrameOfReferenceInfo] = Field(default_factory=list)


class PatientInfo(BaseModel):
    """A patient, by an anonymous label only."""

    label: str
    studies: list[StudyInfo] = Field(default_factory=list)


class VolumeFileInfo(BaseModel):
    """A NIfTI/NRRD file (header facts, LPS)."""

    path: str
    format: str
    size: list[int]
    spacing_mm: list[float]
    origin_lps_mm: list[float]
    n_components: int = 1
    pixel_type: str = ""


class SpectroscopyFileInfo(BaseModel):
    """A non-DICOM spectroscopy file (Siemens ``.rda``)."""

    path: str
    format: str
    details: dict[str, Any] = Field(default_factory=dict)


class Relation(BaseModel):
    """``source`` (kind + UID) refers to ``target``; ``found`` tells whether it is in the tree."""

    source_kind: str
    source_uid: str
    relation: str
    target_kind: str
    target_uid: str
    found: bool


class RTBundle(BaseModel):
    """A plan with its doses, structure set and planning image series, and whether they agree."""

    rtplan_uid: str | None
    rtdose_uids: list[str] = Field(default_factory=list)
    rtstruct_uid: str | None = None
    image_series_uid: str | None = None
    frame_of_reference_uid: str | None = None
    consistent: bool = False
    problems: list[str] = Field(default_factory=list)


class Inventory(BaseModel):
    """Everything found under ``root``."""

    root: str
    n_files: int = 0
    patients: list[PatientInfo] = Field(default_factory=list)
    volumes: list[VolumeFileInfo] = Field(default_factory=list)
    spectroscopy_files: list[SpectroscopyFileInfo] = Field(default_factory=list)
    relations: list[Relation] = Field(default_factory=list)
    rt_bundles: list[RTBundle] = Field(default_factory=list)
    skipped: list[SkippedFile] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    notes: list[str] = Field(
        default_factory=list,
        description="how the folder was read: symlink loops, DICOMDIR, zip files extracted, duplicates dropped",
    )

    def all_series(self) -> list[SeriesInfo]:
        """Every series, in inventory order."""
        return [s for p in self.patients for st in p.studies for f in st.frames_of_reference for s in f.series]

    def series_of_kind(self, *kinds: str) -> list[SeriesInfo]:
        """Series whose kind is one of ``kinds`` (e.g. ``"MR", "CT"``)."""
        return [s for s in self.all_series() if s.kind in kinds]

    def objects_of_kind(self, *kinds: str) -> list[ObjectInfo]:
        """Instances (RT, SEG, REG, MRS objects) whose kind is one of ``kinds``."""
        return [o for s in self.all_series() if s.kind in kinds for o in s.objects]

    def series_by_uid(self, uid: str) -> SeriesInfo:
        for s in self.all_series():
            if s.series_instance_uid == uid:
                return s
        raise KeyError(uid)



__all__ = [
    "Inventory",
    "PatientInfo",
    "StudyInfo",
    "FrameOfReferenceInfo",
    "SeriesInfo",
    "MRFacts",
    "ObjectInfo",
    "VolumeFileInfo",
    "SpectroscopyFileInfo",
    "Relation",
    "RTBundle",
    "SkippedFile",
]
