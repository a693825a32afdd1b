"""Scan a folder tree of mixed files into an :class:`~radnec.ingest.records.Inventory` (headers only).

Every file under the root is either recognised (a DICOM object of a supported kind, a
NIfTI/NRRD volume or a Siemens ``.rda`` spectrum) or listed in ``Inventory.skipped``
with the reason — nothing is dropped silently. Headers are read by :mod:`radnec.ingest.headers`
(pixel data and other large values are never loaded: a folder of thousands of slices scans in
seconds; truncated files are detected).

Grouping is patient → study → frame of reference → series. Patients are labelled
``patient-1``, ``patient-2``, ... in path order; names and IDs are never stored or logged.
The relations between objects and the RT bundles are then checked by :mod:`radnec.ingest.relations`.

The files are gathered by :func:`radnec.ingest.walk.case_files`: symbolic links followed (loops
detected), zip files extracted safely, DICOMDIRs checked — how the folder was read is in
``Inventory.notes``. Several studies on one day stay apart (by StudyInstanceUID; ``StudyInfo.study_time``
tells them apart for people). An instance met twice (same SOPInstanceUID) is read once when the two files
are byte-identical (a note counts them per series); when their contents differ, the second file is skipped,
both are named in a warning and the series records the conflict (``SeriesInfo.conflicting_duplicates``)
so that series selection refuses it — radnec never silently picks one of two different objects.
Image series also carry the header facts that decide their role (:mod:`radnec.ingest.mrfacts`).

A classic MR series whose slice positions repeat once per time point (all time frames of a 4-D
acquisition such as DSC perfusion in one series) is marked ``dynamic`` with its number of time points
(:func:`radnec.ingest.temporal.temporal_frames` decides, from the headers already read).
"""

from __future__ import annotations

import filecmp
import hashlib
import logging
import os
import warnings
from pathlib import Path
from typing import Any

from radnec.errors import InputError
from radnec.ingest.headers import (
    VOLUME_SUFFIXES,
    is_rda,
    object_info,
    read_header,
    read_rda_header,
    read_volume_header,
    volume_suffix,
)
from radnec.ingest.records import (
    FrameOfReferenceInfo,
    Inventory,
    PatientInfo,
    SeriesInfo,
    SkippedFile,
    StudyInfo,
)
from radnec.ingest.mrfacts import instance_facts, series_facts
from radnec.ingest.relations import relate
from radnec.ingest.sopclass import IMAGE_KINDS, SOP_CLASS_NAMES, classify
from radnec.ingest.temporal import temporal_facts, temporal_frames
from radnec.ingest.values import dicom_date, int_or_none, text_or_none
from radnec.ingest.walk import case_files

log = logging.getLogger(__name__)


def _time(value: Any) -> str | None:
    text = str(value or "").strip()
    if len(text) >= 4 and text[:4].isdigit():
        text = text[:6].ljust(6, "0")
        return f"{text[:2]}:{text[2:4]}:{text[4:6]}"
    return None


# --------------------------------------------------------------------------- scan
def scan(
    root: str | os.PathLike[str], *, recursive: bool = True, extract_dir: str | os.PathLike[str] | None = None
) -> Inventory:
    """Scan ``root`` (a folder, one file, or a zip file) and return what it holds.

    Parameters
    ----------
    root
        Folder (walked recursively unless ``recursive=False``, symbolic links followed), a single file or
        a ``.zip``.
    recursive
        Descend into sub-folders.
    extract_dir
        Where zip files are extracted (default :func:`radnec.ingest.walk.default_extract_dir`).

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
        return _scan(root_path, recursive=recursive, extract_dir=Path(extract_dir) if extract_dir else None)


def _scan(root_path: Path, *, recursive: bool, extract_dir: Path | None) -> Inventory:
    inv = Inventory(root=str(root_path))
    found = case_files(root_path, recursive=recursive, extract_dir=extract_dir)
    files = found.files
    inv.skipped.extend(found.skipped)
    inv.notes.extend(found.notes)
    inv.n_files = len(files) + len(found.skipped)

    # series key (series uid, kind) -> accumulated facts
    series: dict[tuple[str, str], dict[str, Any]] = {}
    seen_sops: dict[str, tuple[str, tuple[str, str]]] = {}  # SOP UID -> (first file, its series key)
    patient_keys: dict[str, str] = {}

    for path in files:
        suffix = volume_suffix(path)
        if suffix is not None:
            try:
                inv.volumes.append(read_volume_header(path, VOLUME_SUFFIXES[suffix]))
            except InputError as exc:
                inv.skipped.append(SkippedFile(path=str(path), reason=exc.message))
            continue
        if path.suffix.lower() == ".rda" or is_rda(path):
            try:
                inv.spectroscopy_files.append(read_rda_header(path))
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
    relate(inv)
    log.info("scanned %d files: %d series, %d skipped", inv.n_files, len(inv.all_series()), len(inv.skipped))
    return inv


def _add_dataset(
    inv: Inventory,
    ds: Any,
    path: Path,
    series: dict[tuple[str, str], dict[str, Any]],
    seen_sops: dict[str, tuple[str, tuple[str, str]]],
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
    obj = None if kind in IMAGE_KINDS else object_info(ds, kind, path)  # may raise on a corrupt value
    sop_uid = str(ds.SOPInstanceUID)
    key = (str(ds.SeriesInstanceUID), kind)
    if sop_uid in seen_sops:
        first, first_key = seen_sops[sop_uid]
        if filecmp.cmp(first, path, shallow=False):
            inv.skipped.append(SkippedFile(path=str(path), reason=f"duplicate SOP Instance UID: byte-identical to {first} (read once)"))
            if key in series:
                series[key]["duplicates"] += 1
            return
        inv.warnings.append(
            f"two different files carry SOP Instance UID ...{sop_uid[-12:]}: {first} and {path}; "
            "radnec does not pick one (remove the wrong file)"
        )
        inv.skipped.append(
            SkippedFile(path=str(path), reason=f"conflicting duplicate: same SOP Instance UID as {first} but different content (not used)")
        )
        for k in {key, first_key}:
            if k in series:
                series[k]["conflicts"].extend([first, str(path)])
        return
    seen_sops[sop_uid] = (str(path), key)

    pkey = hashlib.sha256(
        f"{ds.get('PatientID', '')}|{ds.get('PatientName', '')}".encode("utf-8", "replace")
    ).hexdigest()
    if pkey not in patient_keys:
        patient_keys[pkey] = f"patient-{len(patient_keys) + 1}"

    n_frames = int_or_none(ds.get("NumberOfFrames")) or 1
    fo_r = text_or_none(ds.get("FrameOfReferenceUID")) if obj is None else obj.frame_of_reference_uid
    entry = series.setdefault(
        key,
        {
            "patient": patient_keys[pkey],
            "study": str(ds.StudyInstanceUID),
            "study_date": dicom_date(ds.get("StudyDate")),
            "study_description": text_or_none(ds.get("StudyDescription")),
            "study_time": _time(ds.get("StudyTime")),
            "modality": str(ds.get("Modality", "")),
            "description": text_or_none(ds.get("SeriesDescription")),
            "series_number": int_or_none(ds.get("SeriesNumber")),
            "acquisition_date": dicom_date(
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
            "facts": [],
            "duplicates": 0,
            "conflicts": [],
        },
    )
    entry["files"].append(str(path))
    entry["frames"] += n_frames
    if kind == "MR" and n_frames == 1 and "PerFrameFunctionalGroupsSequence" not in ds:
        entry["temporal"].append(temporal_facts(ds))
    if obj is None and kind in IMAGE_KINDS:
        entry["facts"].append(instance_facts(ds))
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
            mr=series_facts(e["facts"]),
            n_duplicates=e["duplicates"],
            conflicting_duplicates=e["conflicts"],
        )
        if e["duplicates"]:
            inv.notes.append(
                f"{kind} series '{e['description'] or uid[-12:]}': {e['duplicates']} duplicated instance(s) "
                "(byte-identical files) read once"
            )
        if kind == "MR" and len(e["temporal"]) == len(e["files"]):
            frames, key = temporal_frames(e["temporal"])
            if frames:
                info.dynamic, info.n_timepoints, info.temporal_key = True, len(frames), key
        patient = patients.setdefault(e["patient"], PatientInfo(label=e["patient"]))
        study = studies.get(e["study"])
        if study is None:
            study = StudyInfo(
                study_instance_uid=e["study"],
                study_date=e["study_date"],
                study_time=e["study_time"],
                description=e["study_description"],
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



__all__ = ["scan"]
