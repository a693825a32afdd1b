"""One pseudonymisation for every object of an export.

The same rule as :mod:`radnec.fuse.dicom_reg` (whose REG objects receive the same pseudonym), in
the spirit of DICOM PS3.15 Annex E (Basic Application Level Confidentiality Profile, with the
"Retain UIDs" option): the patient's name and ID become a random pseudonym, the other direct
identifiers and every date and time are emptied (Type 2) or replaced by a dummy (Type 1), in
nested sequences too. UIDs are kept, so the exported objects still attach to the planning and
follow-up series they reference (which you de-identify with the same UIDs kept).
"""

from __future__ import annotations

from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset

from radnec.fuse.dicom_reg import new_pseudonym

#: Identifiers emptied wherever they occur (PS3.15 Table E.1-1, actions Z/X).
IDENTIFIERS_EMPTIED = (
    "PatientBirthDate", "PatientBirthTime", "PatientSex", "PatientAge", "PatientSize", "PatientWeight",
    "PatientAddress", "OtherPatientIDs", "OtherPatientNames", "PatientTelephoneNumbers", "EthnicGroup",
    "AccessionNumber", "ReferringPhysicianName", "PerformingPhysicianName", "OperatorsName",
    "PhysiciansOfRecord", "InstitutionName", "InstitutionAddress", "StationName", "StudyID",
    "ReviewerName", "ContentCreatorName", "InstitutionalDepartmentName",
)
#: Type 1 dates/times get a dummy (PS3.15 action D); every other DA/TM/DT is emptied.
_TYPE1_DUMMIES = {"ContentDate": "19010101", "ContentTime": "000000", "StructureSetDate": "19010101",
                  "StructureSetTime": "000000", "InstanceCreationDate": "19010101", "InstanceCreationTime": "000000"}
#: LO (64 characters at most).
METHOD = "radnec: name/ID pseudonym; identifiers, dates emptied; UIDs kept"


def deidentify_dataset(ds: Dataset, *, pseudonym: str) -> Dataset:
    """Pseudonymise ``ds`` in place (and return it).

    Parameters
    ----------
    ds
        Any exported dataset.
    pseudonym
        Replaces PatientName and PatientID (e.g. from :func:`new_pseudonym`; use the one the
        de-identified images carry so the objects stay with their patient).
    """
    if not pseudonym.strip():
        raise ValueError("pseudonym must not be empty")

    def visit(d: Dataset) -> None:
        for tag in list(d.keys()):
            raw = d.get_item(tag)  # not converted: a large ContourData stays raw bytes
            vr = raw.VR
            if vr == "SQ":
                for item in d[tag].value:
                    visit(item)
                continue
            key = keyword_for_tag(tag)
            if key in IDENTIFIERS_EMPTIED:
                d[tag].value = ""
            elif vr in ("DA", "TM", "DT"):
                d[tag].value = _TYPE1_DUMMIES.get(key, "")
            elif key in ("PatientName", "PatientID"):
                d[tag].value = pseudonym

    visit(ds)
    ds.PatientName = pseudonym
    ds.PatientID = pseudonym
    ds.PatientIdentityRemoved = "YES"
    ds.LongitudinalTemporalInformationModified = "REMOVED"
    ds.DeidentificationMethod = METHOD
    return ds


__all__ = ["deidentify_dataset", "new_pseudonym", "IDENTIFIERS_EMPTIED"]
