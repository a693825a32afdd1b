"""The HTML report as an Encapsulated PDF (optional).

The PDF is printed by headless Chromium (``--print-to-pdf``), the browser the report tests
already use (Debian's ``chromium``, installed by ``.ci/run``); without it the export stops with
one line saying so. The PDF goes into an Encapsulated PDF Storage object (PS3.3 A.45.1) in the
planning study, written with pydicom. The report carries no patient name or ID (radnec's reports
never do); the DICOM header gets the pseudonym when the export is de-identified.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from radnec import __version__
from radnec.errors import InputError

ENCAPSULATED_PDF_STORAGE = "1.2.840.10008.5.1.4.1.1.104.1"
#: Flags for a quiet, offline headless print (no network, no GPU, no first-run UI).
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--no-pdf-header-footer",
)
#: Seconds allowed for printing one report.
PRINT_TIMEOUT_S = 120.0
STUDY_KEYWORDS = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyDate",
    "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName", "StudyDescription",
)


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def html_to_pdf(html: Path) -> bytes:
    """Print ``html`` to PDF with headless Chromium and return the PDF bytes.

    Raises
    ------
    InputError
        No such file, no Chromium, or Chromium failed.
    """
    html = Path(html)
    if not html.is_file():
        raise InputError("no such report file", path=html)
    exe = find_chromium()
    if exe is None:
        raise InputError("the PDF export needs Chromium (Debian: apt-get install chromium); none found", path=html)
    with tempfile.TemporaryDirectory(prefix="radnec-pdf-") as tmp:
        out = Path(tmp) / "report.pdf"
        cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile", f"--print-to-pdf={out}", html.resolve().as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PRINT_TIMEOUT_S, check=False,
                              env=dict(os.environ, HOME=tmp))
        if proc.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]
            raise InputError(f"Chromium could not print the report to PDF (exit {proc.returncode}: {last})", path=html)
        return out.read_bytes()


def encapsulated_pdf_dataset(*, pdf: bytes, reference: Dataset, title: str = "radnec report (research use)",
                             series_number: int = 9905) -> Dataset:
    """An Encapsulated PDF Storage dataset holding ``pdf`` in the study of ``reference``."""
    if not pdf.startswith(b"%PDF"):
        raise InputError("the report bytes are not a PDF")
    now = _dt.datetime.now(_dt.timezone.utc)
    sop_uid = generate_uid()
    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ENCAPSULATED_PDF_STORAGE
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = ENCAPSULATED_PDF_STORAGE
    ds.SOPInstanceUID = sop_uid
    for key in STUDY_KEYWORDS:
        setattr(ds, key, reference[key].value if key in reference else "")
    ds.Modality = "DOC"
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = series_number
    ds.SeriesDescription = title[:64]
    ds.Manufacturer = "radnec"
    ds.SoftwareVersions = __version__
    ds.ConversionType = "WSD"
    ds.InstanceNumber = 1
    ds.ContentDate = now.strftime("%Y%m%d")
    ds.ContentTime = now.strftime("%H%M%S")
    ds.AcquisitionDateTime = now.strftime("%Y%m%d%H%M%S")
    ds.BurnedInAnnotation = "NO"
    ds.DocumentTitle = title[:64]
    ds.ConceptNameCodeSequence = []
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocument = pdf if len(pdf) % 2 == 0 else pdf + b"\x00"
    ds.EncapsulatedDocumentLength = len(pdf)
    return ds


__all__ = ["html_to_pdf", "encapsulated_pdf_dataset", "find_chromium", "ENCAPSULATED_PDF_STORAGE"]
