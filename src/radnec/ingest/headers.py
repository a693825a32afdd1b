"""Read the header of one file for the scan: a DICOM header (large values deferred, truncation
detected), a NIfTI/NRRD header, or a Siemens ``.rda`` spectroscopy header — and the facts of a
non-image DICOM object (references, labels, dose units, ...).

DICOM files are read with pydicom's ``defer_size`` so that pixel data and other large values are
never loaded. Truncation is detected by comparing the declared length of every deferred value
with the file size. Unreadable files raise :class:`~radnec.errors.InputError` with the reason.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from radnec.errors import InputError
from radnec.ingest.records import ObjectInfo, SpectroscopyFileInfo, VolumeFileInfo
from radnec.ingest.sopclass import SIEMENS_CSA_NON_IMAGE
from radnec.ingest.values import float_or_none, int_or_none, seq_uids, text_or_none

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


def volume_suffix(path: Path) -> str | None:
    """The :data:`VOLUME_SUFFIXES` key the file name ends with (longest first), or None."""
    name = path.name.lower()
    for suffix in sorted(VOLUME_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return None



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


#: Value representations whose raw bytes hold nested data sets (parsed at scan time to find cut files).
_NESTED_VRS = frozenset({"SQ", "UN", None})


def _parse_structure(ds: Any) -> None:
    """Parse the sequences (and values of unknown VR) of a freshly read header, where a cut or corrupt
    file shows; plain values stay raw until read (converting all of them took most of the scan time)."""
    from pydicom.dataelem import RawDataElement

    for tag in list(ds.keys()):
        elem = ds.get_item(tag, keep_deferred=True)
        if isinstance(elem, RawDataElement) and elem.value is not None and elem.VR in _NESTED_VRS:
            ds[tag]  # noqa: B018 - converts (parses) the raw value


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
        _parse_structure(ds)
    except Exception as exc:  # noqa: BLE001 - pydicom raises OSError/ValueError/... on cut sequences
        raise InputError(f"truncated or corrupt DICOM header ({type(exc).__name__}: {exc})", path=p) from exc
    if "SOPClassUID" not in ds:
        media = str(getattr(getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", ""))
        if media == DICOMDIR_SOP_CLASS:
            raise InputError("DICOMDIR index file; radnec scans the files themselves", path=p)
        raise InputError("no SOP Class UID: truncated or incomplete DICOM header", path=p)
    return ds



def object_info(ds: Any, kind: str, path: Path) -> ObjectInfo:
    """The header facts of a non-image object of radnec kind ``kind`` (references, labels, dose
    units, fractions, ...); may raise on a corrupt deferred value."""
    info = ObjectInfo(
        path=str(path),
        kind=kind,
        sop_class_uid=str(ds.SOPClassUID),
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        frame_of_reference_uid=text_or_none(ds.get("FrameOfReferenceUID")),
        label=text_or_none(ds.get("SeriesDescription")),
    )
    d = info.details
    if kind == "RTDOSE":
        info.referenced_sop_uids = seq_uids(ds.get("ReferencedRTPlanSequence"), "ReferencedSOPInstanceUID")
        d["referenced_structure_sets"] = seq_uids(
            ds.get("ReferencedStructureSetSequence"), "ReferencedSOPInstanceUID"
        )
        d["dose_units"] = text_or_none(ds.get("DoseUnits"))
        d["dose_type"] = text_or_none(ds.get("DoseType"))
        d["dose_summation_type"] = text_or_none(ds.get("DoseSummationType"))
        d["dose_grid_scaling"] = float_or_none(ds.get("DoseGridScaling"))
        d["grid_size"] = [int_or_none(ds.get("Columns")), int_or_none(ds.get("Rows")), int_or_none(ds.get("NumberOfFrames", 1))]
    elif kind == "RTPLAN":
        info.label = text_or_none(ds.get("RTPlanLabel")) or info.label
        info.referenced_sop_uids = seq_uids(
            ds.get("ReferencedStructureSetSequence"), "ReferencedSOPInstanceUID"
        )
        fgs = ds.get("FractionGroupSequence") or []
        d["fractions"] = int_or_none(fgs[0].get("NumberOfFractionsPlanned")) if fgs else None
        d["n_beams"] = len(ds.get("BeamSequence") or ds.get("IonBeamSequence") or [])
        doses = [
            float_or_none(r.get("TargetPrescriptionDose"))
            for r in ds.get("DoseReferenceSequence") or []
            if r.get("TargetPrescriptionDose") is not None
        ]
        d["target_prescription_dose_gy"] = max(doses) if doses else None
        d["manufacturer_model"] = text_or_none(ds.get("ManufacturerModelName"))
    elif kind == "RTSTRUCT":
        info.label = text_or_none(ds.get("StructureSetLabel")) or info.label
        refs = ds.get("ReferencedFrameOfReferenceSequence") or []
        info.referenced_frame_of_reference_uids = seq_uids(refs, "FrameOfReferenceUID")
        series: list[str] = []
        for fr in refs:
            for study in fr.get("RTReferencedStudySequence") or []:
                for s in seq_uids(study.get("RTReferencedSeriesSequence"), "SeriesInstanceUID"):
                    if s not in series:
                        series.append(s)
        info.referenced_series_uids = series
        if info.frame_of_reference_uid is None and info.referenced_frame_of_reference_uids:
            info.frame_of_reference_uid = info.referenced_frame_of_reference_uids[0]
        rois = ds.get("StructureSetROISequence") or []
        d["n_rois"] = len(rois)
        d["roi_names"] = [str(r.get("ROIName", "")) for r in rois]
    elif kind == "SEG":
        info.referenced_series_uids = seq_uids(ds.get("ReferencedSeriesSequence"), "SeriesInstanceUID")
        segs = ds.get("SegmentSequence") or []
        d["segment_labels"] = [str(s.get("SegmentLabel", "")) for s in segs]
        d["segmentation_type"] = text_or_none(ds.get("SegmentationType"))
    elif kind in ("REG", "DREG"):
        seq_name = "RegistrationSequence" if kind == "REG" else "DeformableRegistrationSequence"
        key = "FrameOfReferenceUID" if kind == "REG" else "SourceFrameOfReferenceUID"
        info.referenced_frame_of_reference_uids = seq_uids(ds.get(seq_name), key)
        series = seq_uids(ds.get("ReferencedSeriesSequence"), "SeriesInstanceUID")
        for study in ds.get("StudiesContainingOtherReferencedInstancesSequence") or []:
            for s in seq_uids(study.get("ReferencedSeriesSequence"), "SeriesInstanceUID"):
                if s not in series:
                    series.append(s)
        info.referenced_series_uids = series
    elif kind == "MRS":
        d["data_points"] = int_or_none(ds.get("SpectroscopyAcquisitionDataColumns") or ds.get("DataPointColumns"))
        d["siemens_csa"] = str(ds.SOPClassUID) == SIEMENS_CSA_NON_IMAGE
    return info


def read_volume_header(path: Path, fmt: str) -> VolumeFileInfo:
    """Size, spacing (mm) and origin (LPS mm) of a NIfTI/NRRD/MetaImage file, from its header only."""
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


def read_rda_header(path: Path) -> SpectroscopyFileInfo:
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


def is_rda(path: Path) -> bool:
    """Whether the file starts like a Siemens ``.rda`` spectroscopy file."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(RDA_MAGIC)) == RDA_MAGIC
    except OSError:
        return False




__all__ = [
    "DEFER_SIZE_BYTES",
    "VOLUME_SUFFIXES",
    "read_header",
    "object_info",
    "read_volume_header",
    "read_rda_header",
    "is_rda",
    "volume_suffix",
]
