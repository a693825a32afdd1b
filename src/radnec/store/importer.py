"""Import a case (a folder or a zip) into the store.

1. Every file is written as a blob by content hash (atomic; see :mod:`radnec.store.blobs`).
2. A case folder is assembled in ``DATA/tmp/`` of hard links ``<sha256><suffix>`` to the blobs (no name from
   the archive ever becomes a path) and read by :func:`radnec.ingest.scan.scan` — the same reader as
   ``radnec analyze`` — for its patient, studies and series.
3. In one transaction the rows are added (patient pseudonymised: salted hash of the PatientID and a generated
   pseudonym), the folder is renamed to ``DATA/cases/<id>`` and the transaction commits. Killed before the
   commit, the next start removes the folder and the blobs no row names (:meth:`radnec.store.store.Store.recover`).
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select

from radnec.progress import Stages
from radnec.store.archive import Limits, folder_files, suffix_of, zip_members
from radnec.store.blobs import write_blob
from radnec.store.errors import UnsafeArchive
from radnec.store.models import Blob, Case, CaseFile, Patient, Series, Study
from radnec.store.store import Store

log = logging.getLogger(__name__)

#: Called with each stored file's running count (progress display, tests).
Progress = Callable[[int], None]


def _pseudonym() -> str:
    return "P-" + secrets.token_hex(4).upper()


def _patient_id(files: list[str]) -> str | None:
    """The PatientID of the first readable DICOM file (never logged)."""
    import pydicom

    for f in files[:20]:
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True, specific_tags=["PatientID"])
        except Exception:  # noqa: BLE001 - any unreadable file: try the next
            continue
        value = str(getattr(ds, "PatientID", "") or "").strip()
        if value:
            return value
    return None


def store_files(store: Store, items: Iterable[tuple[str, BinaryIO]], *, progress: Progress | None = None) -> dict[str, str]:
    """Write every (name, stream) as a blob; return {sha256: suffix} (duplicates once)."""
    stored: dict[str, str] = {}
    for n, (name, stream) in enumerate(items, start=1):
        sha, _size = write_blob(store.root, stream)
        stored.setdefault(sha, suffix_of(name))
        if progress is not None:
            progress(n)
    return stored


def import_case(
    store: Store,
    source: Path,
    *,
    label: str | None = None,
    limits: Limits | None = None,
    progress: Progress | None = None,
) -> int:
    """Import the folder or ``.zip`` ``source`` as one case; return the new case id.

    Raises
    ------
    UnsafeArchive, TooLarge
        A refused archive (traversal names, links, size bombs); nothing is kept.
    InputError
        No DICOM series, or more than one patient in the import.
    """
    from radnec.ingest.scan import scan

    limits = limits or Limits()
    source = Path(source)
    is_zip = source.is_file() and source.suffix.lower() == ".zip"
    items = zip_members(source, limits) if is_zip else folder_files(source, limits)
    stages = Stages(quiet=True)  # stage names reach a job's progress through radnec.progress.listening
    with stages("import: storing files"):
        stored = store_files(store, items, progress=progress)
    if not stored:
        raise UnsafeArchive("no files to import", path=source.name)

    work = store.root / "tmp" / f"import-{uuid.uuid4().hex}"
    dicom = work / "dicom"
    dicom.mkdir(parents=True)
    try:
        for sha, suffix in stored.items():
            os.link(store.blob_file(sha), dicom / f"{sha}{suffix}")
        with stages("import: reading headers"):
            inventory = scan(dicom, extract_dir=work / "zip")
        if not inventory.patients:
            raise UnsafeArchive("no DICOM series found (is this an SRS case export?)", path=source.name)
        if len(inventory.patients) > 1:
            raise UnsafeArchive(
                f"{len(inventory.patients)} patients in one import; import each patient's case on its own", path=source.name
            )
        patient_info = inventory.patients[0]
        files = [f for st in patient_info.studies for fr in st.frames_of_reference for se in fr.series for f in se.files]
        pid = _patient_id(files)
        case_label = label or (source.stem if not is_zip else Path(source.name).stem)
        final: Path | None = None
        try:
            with store.session() as s:
                patient = None
                if pid is not None:
                    id_hash = store.patient_hash(pid)
                    patient = s.scalars(select(Patient).where(Patient.id_hash == id_hash)).first()
                    if patient is None:
                        patient = Patient(id_hash=id_hash, pseudonym=_pseudonym())
                        s.add(patient)
                case = Case(label=case_label[:200], patient=patient, n_files=len(stored))
                s.add(case)
                for st in patient_info.studies:
                    study = Study(study_uid=st.study_instance_uid, study_date=st.study_date,
                                  description=(st.description or None) and st.description[:200])
                    case.studies.append(study)
                    for fr in st.frames_of_reference:
                        for se in fr.series:
                            study.series.append(Series(series_uid=se.series_instance_uid, kind=se.kind, modality=se.modality,
                                                       description=(se.description or None) and se.description[:200],
                                                       n_instances=se.n_instances))
                shas = list(stored)
                have = {h for i in range(0, len(shas), 500)  # bounded IN lists (SQLite's variable limit)
                        for h in s.scalars(select(Blob.sha256).where(Blob.sha256.in_(shas[i:i + 500])))}
                for sha, suffix in stored.items():
                    if sha not in have:
                        s.add(Blob(sha256=sha, size_bytes=store.blob_file(sha).stat().st_size))
                    case.files.append(CaseFile(sha256=sha, suffix=suffix))
                s.flush()
                case_id = case.id
                final = store.paths_for(case_id).case_dir
                if final.exists():  # a folder a killed import left under this id (recovery not run): not ours
                    shutil.rmtree(final)
                shutil.rmtree(work / "zip", ignore_errors=True)
                os.replace(work, final)
        except BaseException:
            if final is not None:
                shutil.rmtree(final, ignore_errors=True)
            raise
        log.info("imported case %d: %d files, %d studies", case_id, len(stored), len(patient_info.studies))
        return case_id
    finally:
        shutil.rmtree(work, ignore_errors=True)


__all__ = ["import_case", "store_files"]
