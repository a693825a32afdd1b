"""DICOM SOP classes radnec recognises, and the kind of object each one is.

The UIDs are those of DICOM PS3.4 Annex B (Storage SOP classes) and the Siemens CSA
non-image storage class that carries raw MR spectroscopy in ``.IMA`` files.
"""

from __future__ import annotations

from typing import Any, Literal

#: The kinds of object the inventory distinguishes.
Kind = Literal[
    "CT", "MR", "PT", "RTPLAN", "RTDOSE", "RTSTRUCT", "SEG", "REG", "DREG", "MRS", "NIFTI", "NRRD", "RDA"
]

#: Storage SOP Class UID -> kind (DICOM PS3.4 B.5).
SOP_CLASS_KIND: dict[str, str] = {
    "1.2.840.10008.5.1.4.1.1.2": "CT",  # CT Image Storage
    "1.2.840.10008.5.1.4.1.1.2.1": "CT",  # Enhanced CT Image Storage
    "1.2.840.10008.5.1.4.1.1.4": "MR",  # MR Image Storage
    "1.2.840.10008.5.1.4.1.1.4.1": "MR",  # Enhanced MR Image Storage
    "1.2.840.10008.5.1.4.1.1.4.2": "MRS",  # MR Spectroscopy Storage
    "1.2.840.10008.5.1.4.1.1.128": "PT",  # Positron Emission Tomography Image Storage
    "1.2.840.10008.5.1.4.1.1.130": "PT",  # Enhanced PET Image Storage
    "1.2.840.10008.5.1.4.1.1.481.2": "RTDOSE",  # RT Dose Storage
    "1.2.840.10008.5.1.4.1.1.481.3": "RTSTRUCT",  # RT Structure Set Storage
    "1.2.840.10008.5.1.4.1.1.481.5": "RTPLAN",  # RT Plan Storage
    "1.2.840.10008.5.1.4.1.1.481.8": "RTPLAN",  # RT Ion Plan Storage
    "1.2.840.10008.5.1.4.1.1.66.4": "SEG",  # Segmentation Storage
    "1.2.840.10008.5.1.4.1.1.66.1": "REG",  # Spatial Registration Storage
    "1.2.840.10008.5.1.4.1.1.66.3": "DREG",  # Deformable Spatial Registration Storage
}

#: Siemens CSA Non-Image Storage (private SOP class); radnec accepts it only when the CSA data
#: type says it is spectroscopy ("SPEC NUM 4").
SIEMENS_CSA_NON_IMAGE = "1.3.12.2.1107.5.9.1"

#: Human-readable names of a few SOP classes radnec deliberately does not read (for skip reasons).
SOP_CLASS_NAMES: dict[str, str] = {
    "1.2.840.10008.5.1.4.1.1.7": "Secondary Capture Image",
    "1.2.840.10008.5.1.4.1.1.88.11": "Basic Text SR",
    "1.2.840.10008.5.1.4.1.1.88.22": "Enhanced SR",
    "1.2.840.10008.5.1.4.1.1.88.33": "Comprehensive SR",
    "1.2.840.10008.5.1.4.1.1.481.1": "RT Image",
    "1.2.840.10008.5.1.4.1.1.481.4": "RT Beams Treatment Record",
    "1.2.840.10008.5.1.4.1.1.11.1": "Grayscale Softcopy Presentation State",
    "1.2.840.10008.1.3.10": "Media Storage Directory (DICOMDIR)",
    "1.2.840.10008.5.1.4.1.1.104.1": "Encapsulated PDF",
}

#: Kinds that are image stacks readable by :func:`radnec.ingest.series.load_series`.
IMAGE_KINDS = frozenset({"CT", "MR", "PT"})
#: Kinds of radiotherapy objects.
RT_KINDS = frozenset({"RTPLAN", "RTDOSE", "RTSTRUCT"})


def classify(ds: Any) -> str | None:
    """The radnec kind of a dataset (``"MR"``, ``"RTDOSE"``, ...) or None when unsupported."""
    sop = str(ds.get("SOPClassUID", ""))
    kind = SOP_CLASS_KIND.get(sop)
    if kind is None and sop == SIEMENS_CSA_NON_IMAGE:
        csa_type = ds.get((0x0029, 0x1008))
        if csa_type is not None and "SPEC" in str(csa_type.value).upper():
            return "MRS"
    return kind
