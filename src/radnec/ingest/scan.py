"""Scan a folder tree of mixed files into an :class:`Inventory` (headers only).

Every file under the root is either recognised (a DICOM object of a supported kind, a
NIfTI/NRRD volume or a Siemens ``.rda`` spectrum) or listed in :attr:`Inventory.skipped`
with the reason — nothing is dropped silently. DICOM files are read with pydicom's
``defer_size`` so that pixel data and other large values are never loaded: a folder of
thousands of slices scans in seconds. Truncation is detected by comparing the declared
length of every deferred value with the file size.

Grouping is patient → study → frame of reference → series. Patients are labelled
``patient-1``, ``patient-2``, ... in path order; names and IDs are never stored or logged.

Relations checked (and reported as :class:`Relation` rows, with a warning when the target is
not in the scanned tree): RTDOSE → RTPLAN, RTDOSE → RTSTRUCT, RTPLAN → RTSTRUCT,
RTSTRUCT → image series, SEG → image series, REG/DREG → frames of reference, and which
series share a frame of reference.

A classic MR series whose slice positions repeat once per time point (all time frames of a 4-D
acquisition such as DSC perfusion in one series) is marked ``dynamic`` with its number of time points
(:func:`radnec.ingest.series.temporal_frames` decides, from the headers already read).
"""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from radnec.errors import InputError
from radnec.ingest.sopclass import (
    IMAGE_KINDS,
    SIEMENS_CSA_NON_IMAGE,
    SOP_CLASS_KIND,
    SOP_CLASS_NAMES,
)

log = logging.getLogger(__name__)

#: Values longer than this (bytes) are not read during the scan (pixel data, contour data).
DEFER_SIZE_BYTES = 4096
#: Volume file suffixes recognised by name (read with SimpleITK's header reader).
VOLUME_SUFFIXES = {
    ".nii": "NIFTI",
    ".nii.gz": "NIFTI",
    ".nrrd": "NRRD",
    ".nhdr": "NRRD",
    ".mha": "METAIMAGE",
    ".mhd": "METAIMAGE",
}
RDA_MAGIC = b">>> Begin of header <<<"
#: Media Storage Directory (DICOMDIR) SOP class.
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"


# --------------------------------------------------------------------------- models
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
        "(e.g. DSC perfusion); see radnec.ingest.series.temporal_frames",
    )
    n_timepoints: int = Field(1, description="number of time points (1 unless dynamic)")
    temporal_key: str | None = Field(
        None, description="the attribute that orders the time points of a dynamic series"
    )


class FrameOfReferenceInfo(BaseModel):
    """Series that share one frame of reference (``uid`` None: the objects declare none)."""

    uid: str | None
    series: list[SeriesInfo] = Field(default_factory=list)


class StudyInfo(BaseModel):
    study_instance_uid: str
    study_date: str | None = Field(None, description="YYYY-MM-DD")
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


# --------------------------------------------------------------------------- helpers
def _volume_suffix(path: Path) -> str | None:
    name = path.name.lower()
    for suffix in sorted(VOLUME_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return None


def _date(value: Any) -> str | None:
    text = str(value or "").strip()
    if len(text) >= 8 and text[:8].isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:8]}"
    return None


def _str(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _seq_uids(items: Iterable[Any], keyword: str) -> list[str]:
    out: list[str] = []
    for item in items or []:
        uid = _str(item.get(keyword))
        if uid and uid not in out:
            out.append(uid)
    return out


def _check_truncated(ds: Any, path: Path, file_size: int) -> str | None:
    """Return a reason when a deferred value runs past the end of the file."""
    from pydicom.dataelem import RawDataElement

    for tag in list(ds.keys()):
        try:
            elem = ds.get_item(tag, keep_deferred=True)
        except Exception:  # noqa: BLE001 - a broken element is reported as such
            continue
        if isinstance(elem, RawDataElement) and elem.value is None and elem.length not in (None, 0xFFFFFFFF):
            end = elem.value_tell + elem.length
            if end > file_size:
                return (
                    f"truncated: element {elem.tag} declares {elem.length} bytes but the file ends "
                    f"{end - file_size} bytes early"
                )
    return None


def read_header(path: str | os.PathLike[str]) -> Any:
    """Read a DICOM header (large values deferred) or raise :class:`InputError` with the reason.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    pydicom.Dataset
        The dataset; pixel data and other values longer than :data:`DEFER_SIZE_BYTES` are
        read only when accessed.
    """
    p = Path(path)
    with warnings.catch_warnings():
        # pydicom warns about non-conformant values (long UIDs, VR mismatches); the scan
        # reports real problems itself and must not flood the console.
        warnings.simplefilter("ignore")
        return _read_header(p)


def _read_header(p: Path) -> Any:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        size = p.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror})", path=p) from exc
    if size == 0:
        raise InputError("empty file (0 bytes); not DICOM", path=p)
    try:
        ds = pydicom.dcmread(p, defer_size=DEFER_SIZE_BYTES)
    except InvalidDicomError:
        try:
            ds = pydicom.dcmread(p, defer_size=DEFER_SIZE_BYTES, force=True)
        except Exception as exc:  # noqa: BLE001
            raise InputError("not DICOM (no 'DICM' preamble and no parseable data set)", path=p) from exc
        if "SOPClassUID" not in ds:
            raise InputError("not DICOM (no 'DICM' preamble and no SOP Class UID)", path=p)
    except (EOFError, OSError, ValueError, KeyError, TypeError, AttributeError, NotImplementedError) as exc:
        raise InputError(f"unreadable or truncated DICOM ({type(exc).__name__}: {exc})", path=p) from exc
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types on corrupt input
        raise InputError(f"unreadable DICOM ({type(exc).__name__}: {exc})", path=p) from exc
    if len(ds) == 0:
        raise InputError("truncated or empty DICOM: no data elements after the file meta header", path=p)
    reason = _check_truncated(ds, p, size)
    if reason:
        raise InputError(reason, path=p)
    try:
        for _ in ds:  # parse every value that was not deferred (sequences are parsed lazily)
            pass
    except Exception as exc:  # noqa: BLE001 - pydicom raises OSError/ValueError/... on cut sequences
        raise InputError(f"truncated or corrupt DICOM header ({type(exc).__name__}: {exc})", path=p) from exc
    if "SOPClassUID" not in ds:
        media = str(getattr(getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", ""))
        if media == DICOMDIR_SOP_CLASS:
            raise InputError("DICOMDIR index file; radnec scans the files themselves", path=p)
        raise InputError("no SOP Class UID: truncated or incomplete DICOM header", path=p)
    return ds


def classify(ds: Any) -> str | None:
    """The radnec kind of a dataset (``"MR"``, ``"RTDOSE"``, ...) or None when unsupported."""
    sop = str(ds.get("SOPClassUID", ""))
    kind = SOP_CLASS_KIND.get(sop)
    if kind is None and sop == SIEMENS_CSA_NON_IMAGE:
        csa_type = ds.get((0x0029, 0x1008))
        if csa_type is not None and "SPEC" in str(csa_type.value).upper():
            return "MRS"
    return kind


def _object_info(ds: Any, kind: str, path: Path) -> ObjectInfo:
    info = ObjectInfo(
        path=str(path),
        kind=kind,
        sop_class_uid=str(ds.SOPClassUID),
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        frame_of_reference_uid=_str(ds.get("FrameOfReferenceUID")),
        label=_str(ds.get("SeriesDescription")),
    )
    d = info.details
    if kind == "RTDOSE":
        info.referenced_sop_uids = _seq_uids(ds.get("ReferencedRTPlanSequence"), "ReferencedSOPInstanceUID")
        d["referenced_structure_sets"] = _seq_uids(
            ds.get("ReferencedStructureSetSequence"), "ReferencedSOPInstanceUID"
        )
        d["dose_units"] = _str(ds.get("DoseUnits"))
        d["dose_type"] = _str(ds.get("DoseType"))
        d["dose_summation_type"] = _str(ds.get("DoseSummationType"))
        d["dose_grid_scaling"] = _float(ds.get("DoseGridScaling"))
        d["grid_size"] = [_int(ds.get("Columns")), _int(ds.get("Rows")), _int(ds.get("NumberOfFrames", 1))]
    elif kind == "RTPLAN":
        info.label = _str(ds.get("RTPlanLabel")) or info.label
        info.referenced_sop_uids = _seq_uids(
            ds.get("ReferencedStructureSetSequence"), "ReferencedSOPInstanceUID"
        )
        fgs = ds.get("FractionGroupSequence") or []
        d["fractions"] = _int(fgs[0].get("NumberOfFractionsPlanned")) if fgs else None
        d["n_beams"] = len(ds.get("BeamSequence") or ds.get("IonBeamSequence") or [])
        doses = [
            _float(r.get("TargetPrescriptionDose"))
            for r in ds.get("DoseReferenceSequence") or []
            if r.get("TargetPrescriptionDose") is not None
        ]
        d["target_prescription_dose_gy"] = max(doses) if doses else None
        d["manufacturer_model"] = _str(ds.get("ManufacturerModelName"))
    elif kind == "RTSTRUCT":
        info.label = _str(ds.get("StructureSetLabel")) or info.label
        refs = ds.get("ReferencedFrameOfReferenceSequence") or []
        info.referenced_frame_of_reference_uids = _seq_uids(refs, "FrameOfReferenceUID")
        series: list[str] = []
        for fr in refs:
            for study in fr.get("RTReferencedStudySequence") or []:
                for s in _seq_uids(study.get("RTReferencedSeriesSequence"), "SeriesInstanceUID"):
                    if s not in series:
                        series.append(s)
        info.referenced_series_uids = series
        if info.frame_of_reference_uid is None and info.referenced_frame_of_reference_uids:
            info.frame_of_reference_uid = info.referenced_frame_of_reference_uids[0]
        rois = ds.get("StructureSetROISequence") or []
        d["n_rois"] = len(rois)
        d["roi_names"] = [str(r.get("ROIName", "")) for r in rois]
    elif kind == "SEG":
        info.referenced_series_uids = _seq_uids(ds.get("ReferencedSeriesSequence"), "SeriesInstanceUID")
        segs = ds.get("SegmentSequence") or []
        d["segment_labels"] = [str(s.get("SegmentLabel", "")) for s in segs]
        d["segmentation_type"] = _str(ds.get("SegmentationType"))
    elif kind in ("REG", "DREG"):
        seq_name = "RegistrationSequence" if kind == "REG" else "DeformableRegistrationSequence"
        key = "FrameOfReferenceUID" if kind == "REG" else "SourceFrameOfReferenceUID"
        info.referenced_frame_of_reference_uids = _seq_uids(ds.get(seq_name), key)
        series = _seq_uids(ds.get("ReferencedSeriesSequence"), "SeriesInstanceUID")
        for study in ds.get("StudiesContainingOtherReferencedInstancesSequence") or []:
            for s in _seq_uids(study.get("ReferencedSeriesSequence"), "SeriesInstanceUID"):
                if s not in series:
                    series.append(s)
        info.referenced_series_uids = series
    elif kind == "MRS":
        d["data_points"] = _int(ds.get("SpectroscopyAcquisitionDataColumns") or ds.get("DataPointColumns"))
        d["siemens_csa"] = str(ds.SOPClassUID) == SIEMENS_CSA_NON_IMAGE
    return info


def _read_volume_header(path: Path, fmt: str) -> VolumeFileInfo:
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unknown error"
        raise InputError(f"not a readable {fmt} file ({first[:160]})", path=path) from exc
    return VolumeFileInfo(
        path=str(path),
        format=fmt,
        size=list(reader.GetSize()),
        spacing_mm=[round(float(v), 6) for v in reader.GetSpacing()],
        origin_lps_mm=[round(float(v), 4) for v in reader.GetOrigin()],
        n_components=int(reader.GetNumberOfComponents()),
        pixel_type=sitk.GetPixelIDValueAsString(reader.GetPixelID()),
    )


def _read_rda_header(path: Path) -> SpectroscopyFileInfo:
    """Parse the text header of a Siemens ``.rda`` file (identifying fields are not kept)."""
    keep = {"SeriesDescription", "MRFrequency", "VectorSize", "TE", "TR", "DwellTime", "Nucleus"}
    details: dict[str, Any] = {}
    with open(path, "rb") as fh:
        for raw in fh:
            line = raw.decode("latin-1").strip()
            if line.startswith(">>> End of header"):
                break
            key, _, value = line.partition(":")
            if key in keep:
                details[key] = value.strip()
        else:
            raise InputError("Siemens .rda header has no '>>> End of header <<<' line (truncated?)", path=path)
    return SpectroscopyFileInfo(path=str(path), format="RDA", details=details)


def _is_rda(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(len(RDA_MAGIC)) == RDA_MAGIC
    except OSError:
        return False


def _walk(root: Path, recursive: bool) -> list[Path]:
    if root.is_file():
        return [root]
    if not recursive:
        return sorted(p for p in root.iterdir() if p.is_file())
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        out.extend(Path(dirpath) / f for f in sorted(filenames))
    return out


# --------------------------------------------------------------------------- scan
def scan(root: str | os.PathLike[str], *, recursive: bool = True) -> Inventory:
    """Scan ``root`` (a folder, or one file) and return what it holds.

    Parameters
    ----------
    root
        Folder (walked recursively unless ``recursive=False``) or a single file.
    recursive
        Descend into sub-folders.

    Returns
    -------
    Inventory
        Patients → studies → frames of reference → series, NIfTI/NRRD volumes, spectroscopy
        files, relations between objects, RT bundles, skipped files with reasons and warnings.

    Raises
    ------
    InputError
        When ``root`` does not exist.
    """
    root_path = Path(root)
    if not root_path.exists():
        raise InputError("no such file or folder", path=root_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom's conformance warnings; see read_header
        return _scan(root_path, recursive=recursive)


def _scan(root_path: Path, *, recursive: bool) -> Inventory:
    inv = Inventory(root=str(root_path))
    files = _walk(root_path, recursive)
    inv.n_files = len(files)

    # series key (series uid, kind) -> accumulated facts
    series: dict[tuple[str, str], dict[str, Any]] = {}
    seen_sops: dict[str, str] = {}
    patient_keys: dict[str, str] = {}

    for path in files:
        suffix = _volume_suffix(path)
        if suffix is not None:
            try:
                inv.volumes.append(_read_volume_header(path, VOLUME_SUFFIXES[suffix]))
            except InputError as exc:
                inv.skipped.append(SkippedFile(path=str(path), reason=exc.message))
            continue
        if path.suffix.lower() == ".rda" or _is_rda(path):
            try:
                inv.spectroscopy_files.append(_read_rda_header(path))
            except InputError as exc:
                inv.skipped.append(SkippedFile(path=str(path), reason=exc.message))
            continue
        try:
            ds = read_header(path)
        except InputError as exc:
            inv.skipped.append(SkippedFile(path=str(path), reason=exc.message))
            continue
        try:
            _add_dataset(inv, ds, path, series, seen_sops, patient_keys)
        except InputError as exc:
            inv.skipped.append(SkippedFile(path=str(path), reason=exc.message))
        except Exception as exc:  # noqa: BLE001 - a deferred value that cannot be read
            inv.skipped.append(
                SkippedFile(path=str(path), reason=f"truncated or corrupt DICOM ({type(exc).__name__}: {exc})")
            )

    _assemble(inv, series)
    _relate(inv)
    log.info("scanned %d files: %d series, %d skipped", inv.n_files, len(inv.all_series()), len(inv.skipped))
    return inv


def _add_dataset(
    inv: Inventory,
    ds: Any,
    path: Path,
    series: dict[tuple[str, str], dict[str, Any]],
    seen_sops: dict[str, str],
    patient_keys: dict[str, str],
) -> None:
    """Record one DICOM dataset in ``series`` (or in ``inv.skipped`` with the reason)."""
    sop_class = str(ds.SOPClassUID)
    kind = classify(ds)
    if kind is None:
        name = SOP_CLASS_NAMES.get(sop_class)
        if name is None:
            try:
                from pydicom.uid import UID

                name = UID(sop_class).name
            except Exception:  # noqa: BLE001
                name = sop_class
        inv.skipped.append(
            SkippedFile(path=str(path), reason=f"unsupported SOP class {name} ({sop_class})")
        )
        return
    missing = [k for k in ("SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID") if k not in ds]
    if missing:
        inv.skipped.append(
            SkippedFile(
                path=str(path),
                reason=f"{kind} object without {', '.join(missing)} (truncated or incomplete header)",
            )
        )
        return
    obj = None if kind in IMAGE_KINDS else _object_info(ds, kind, path)  # may raise on a corrupt value
    sop_uid = str(ds.SOPInstanceUID)
    if sop_uid in seen_sops:
        inv.skipped.append(
            SkippedFile(path=str(path), reason=f"duplicate SOP Instance UID (same object as {seen_sops[sop_uid]})")
        )
        return
    seen_sops[sop_uid] = str(path)

    pkey = hashlib.sha256(
        f"{ds.get('PatientID', '')}|{ds.get('PatientName', '')}".encode("utf-8", "replace")
    ).hexdigest()
    if pkey not in patient_keys:
        patient_keys[pkey] = f"patient-{len(patient_keys) + 1}"

    n_frames = _int(ds.get("NumberOfFrames")) or 1
    fo_r = _str(ds.get("FrameOfReferenceUID")) if obj is None else obj.frame_of_reference_uid
    key = (str(ds.SeriesInstanceUID), kind)
    entry = series.setdefault(
        key,
        {
            "patient": patient_keys[pkey],
            "study": str(ds.StudyInstanceUID),
            "study_date": _date(ds.get("StudyDate")),
            "study_description": _str(ds.get("StudyDescription")),
            "modality": str(ds.get("Modality", "")),
            "description": _str(ds.get("SeriesDescription")),
            "series_number": _int(ds.get("SeriesNumber")),
            "acquisition_date": _date(
                ds.get("AcquisitionDate")
                or ds.get("AcquisitionDateTime")
                or ds.get("SeriesDate")
                or ds.get("ContentDate")
            ),
            "fors": [],
            "files": [],
            "frames": 0,
            "objects": [],
            "temporal": [],
        },
    )
    entry["files"].append(str(path))
    entry["frames"] += n_frames
    if kind == "MR" and n_frames == 1 and "PerFrameFunctionalGroupsSequence" not in ds:
        from radnec.ingest.series import temporal_facts

        entry["temporal"].append(temporal_facts(ds))
    if obj is not None:
        entry["objects"].append(obj)
    if fo_r not in entry["fors"]:
        entry["fors"].append(fo_r)


def _assemble(inv: Inventory, series: dict[tuple[str, str], dict[str, Any]]) -> None:
    patients: dict[str, PatientInfo] = {}
    studies: dict[str, StudyInfo] = {}
    fors: dict[tuple[str, str | None], FrameOfReferenceInfo] = {}
    for (uid, kind), e in series.items():
        known = [f for f in e["fors"] if f is not None]
        if len(known) > 1:
            inv.warnings.append(
                f"{kind} series {uid} mixes {len(known)} frames of reference ({', '.join(known)}); "
                "its images cannot be stacked into one volume"
            )
        fo_r = known[0] if known else None
        if fo_r is None and kind in IMAGE_KINDS:
            inv.warnings.append(f"{kind} series {uid} has no Frame of Reference UID")
        info = SeriesInfo(
            series_instance_uid=uid,
            kind=kind,
            modality=e["modality"],
            study_instance_uid=e["study"],
            frame_of_reference_uid=fo_r,
            description=e["description"],
            series_number=e["series_number"],
            acquisition_date=e["acquisition_date"],
            n_instances=len(e["files"]),
            n_frames=e["frames"],
            files=e["files"],
            objects=e["objects"],
        )
        if kind == "MR" and len(e["temporal"]) == len(e["files"]):
            from radnec.ingest.series import temporal_frames

            frames, key = temporal_frames(e["temporal"])
            if frames:
                info.dynamic, info.n_timepoints, info.temporal_key = True, len(frames), key
        patient = patients.setdefault(e["patient"], PatientInfo(label=e["patient"]))
        study = studies.get(e["study"])
        if study is None:
            study = StudyInfo(
                study_instance_uid=e["study"], study_date=e["study_date"], description=e["study_description"]
            )
            studies[e["study"]] = study
            patient.studies.append(study)
        fkey = (e["study"], fo_r)
        group = fors.get(fkey)
        if group is None:
            group = FrameOfReferenceInfo(uid=fo_r)
            fors[fkey] = group
            study.frames_of_reference.append(group)
        group.series.append(info)
    inv.patients = sorted(patients.values(), key=lambda p: int(p.label.split("-")[1]))


def _relate(inv: Inventory) -> None:
    objects = {o.sop_instance_uid: o for s in inv.all_series() for o in s.objects}
    series_uids = {s.series_instance_uid: s for s in inv.all_series()}
    image_series = {s.series_instance_uid: s for s in inv.all_series() if s.kind in IMAGE_KINDS}
    known_fors = {s.frame_of_reference_uid for s in inv.all_series() if s.frame_of_reference_uid}

    def add(src: ObjectInfo, relation: str, target_kind: str, target_uid: str, found: bool) -> None:
        inv.relations.append(
            Relation(
                source_kind=src.kind,
                source_uid=src.sop_instance_uid,
                relation=relation,
                target_kind=target_kind,
                target_uid=target_uid,
                found=found,
            )
        )
        if not found:
            inv.warnings.append(
                f"{src.kind} {Path(src.path).name} references {target_kind} {target_uid}, which is not in "
                f"{inv.root}"
            )

    for obj in objects.values():
        if obj.kind == "RTDOSE":
            for uid in obj.referenced_sop_uids:
                tgt = objects.get(uid)
                add(obj, "dose of plan", "RTPLAN", uid, tgt is not None and tgt.kind == "RTPLAN")
            for uid in obj.details.get("referenced_structure_sets") or []:
                tgt = objects.get(uid)
                add(obj, "dose on structure set", "RTSTRUCT", uid, tgt is not None and tgt.kind == "RTSTRUCT")
            if not obj.referenced_sop_uids:
                inv.warnings.append(f"RTDOSE {Path(obj.path).name} references no RTPLAN")
        elif obj.kind == "RTPLAN":
            for uid in obj.referenced_sop_uids:
                tgt = objects.get(uid)
                add(obj, "plan on structure set", "RTSTRUCT", uid, tgt is not None and tgt.kind == "RTSTRUCT")
        elif obj.kind == "RTSTRUCT":
            for uid in obj.referenced_series_uids:
                add(obj, "contours drawn on", "SERIES", uid, uid in image_series)
            if not obj.referenced_series_uids:
                inv.warnings.append(f"RTSTRUCT {Path(obj.path).name} references no image series")
        elif obj.kind == "SEG":
            for uid in obj.referenced_series_uids:
                add(obj, "segments of", "SERIES", uid, uid in series_uids)
        elif obj.kind in ("REG", "DREG"):
            for uid in obj.referenced_frame_of_reference_uids:
                add(obj, "registers frame", "FRAME_OF_REFERENCE", uid, uid in known_fors)

    # frame-of-reference agreement along references
    for rel in inv.relations:
        if not rel.found or rel.target_kind not in ("RTPLAN", "RTSTRUCT", "SERIES"):
            continue
        src = objects[rel.source_uid]
        tgt_for = (
            objects[rel.target_uid].frame_of_reference_uid
            if rel.target_kind != "SERIES"
            else series_uids[rel.target_uid].frame_of_reference_uid
        )
        if src.frame_of_reference_uid and tgt_for and src.frame_of_reference_uid != tgt_for:
            inv.warnings.append(
                f"{src.kind} {Path(src.path).name} and the {rel.target_kind} it references are in different "
                f"frames of reference ({src.frame_of_reference_uid} vs {tgt_for})"
            )

    # series that share a frame of reference
    by_for: dict[str, list[SeriesInfo]] = defaultdict(list)
    for s in inv.all_series():
        if s.frame_of_reference_uid:
            by_for[s.frame_of_reference_uid].append(s)
    for fo_r, members in by_for.items():
        if len(members) > 1:
            first = members[0]
            for other in members[1:]:
                inv.relations.append(
                    Relation(
                        source_kind=other.kind,
                        source_uid=other.series_instance_uid,
                        relation="shares frame of reference with",
                        target_kind=first.kind,
                        target_uid=first.series_instance_uid,
                        found=True,
                    )
                )
    inv.rt_bundles = _bundles(objects, image_series)


def _bundles(objects: dict[str, ObjectInfo], image_series: dict[str, SeriesInfo]) -> list[RTBundle]:
    plans = [o for o in objects.values() if o.kind == "RTPLAN"]
    doses = [o for o in objects.values() if o.kind == "RTDOSE"]
    bundles: list[RTBundle] = []
    for plan in plans:
        b = RTBundle(rtplan_uid=plan.sop_instance_uid, frame_of_reference_uid=plan.frame_of_reference_uid)
        b.rtdose_uids = [d.sop_instance_uid for d in doses if plan.sop_instance_uid in d.referenced_sop_uids]
        if not b.rtdose_uids:
            b.problems.append("no RTDOSE references this plan")
        struct = next(
            (objects[u] for u in plan.referenced_sop_uids if u in objects and objects[u].kind == "RTSTRUCT"), None
        )
        if struct is None:
            b.problems.append(
                "the referenced RTSTRUCT is missing" if plan.referenced_sop_uids else "the plan references no RTSTRUCT"
            )
        else:
            b.rtstruct_uid = struct.sop_instance_uid
            present = [u for u in struct.referenced_series_uids if u in image_series]
            b.image_series_uid = present[0] if present else None
        fors = {plan.frame_of_reference_uid}
        fors |= {objects[u].frame_of_reference_uid for u in b.rtdose_uids}
        if struct is not None:
            fors.add(struct.frame_of_reference_uid)
        if b.image_series_uid:
            fors.add(image_series[b.image_series_uid].frame_of_reference_uid)
        fors.discard(None)
        if len(fors) > 1:
            b.problems.append(f"the objects are in {len(fors)} different frames of reference")
        elif fors:
            b.frame_of_reference_uid = next(iter(fors))
        b.consistent = bool(b.rtdose_uids) and struct is not None and len(fors) <= 1
        bundles.append(b)
    for dose in doses:
        if not any(dose.sop_instance_uid in b.rtdose_uids for b in bundles):
            bundles.append(
                RTBundle(
                    rtplan_uid=None,
                    rtdose_uids=[dose.sop_instance_uid],
                    frame_of_reference_uid=dose.frame_of_reference_uid,
                    problems=["the RTDOSE's plan is not in the folder"],
                )
            )
    return bundles


__all__ = [
    "Inventory",
    "PatientInfo",
    "StudyInfo",
    "FrameOfReferenceInfo",
    "SeriesInfo",
    "ObjectInfo",
    "VolumeFileInfo",
    "SpectroscopyFileInfo",
    "Relation",
    "RTBundle",
    "SkippedFile",
    "scan",
    "read_header",
    "classify",
]
