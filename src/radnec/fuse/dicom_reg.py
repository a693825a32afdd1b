"""Export a fusion as DICOM Spatial Registration (rigid) and Deformable Spatial Registration objects,
so MIM / Slicer / Velocity users can check radnec's fusion in their own tools.

highdicom (0.28) has no REG support, so the objects are written with pydicom.

Semantics (DICOM PS3.3 C.20.2 / C.20.3; read back by :mod:`radnec.ingest.reg`):

* The REG object's own FrameOfReferenceUID is the *registered* frame = the PLANNING frame.
* Spatial Registration: one ``RegistrationSequence`` item per frame; its 4×4 RIGID matrix maps that
  frame's coordinates into the registered (planning) frame. The planning item is the identity; the
  follow-up item is ``R⁻¹`` (follow-up → planning), the inverse of radnec's rigid part ``R``.
* Deformable Spatial Registration: one ``DeformableRegistrationSequence`` item with
  ``SourceFrameOfReferenceUID`` = follow-up frame, a pre-deformation matrix ``R⁻¹`` (source →
  registered, rigid), a displacement grid on planning-frame positions and an identity
  post-deformation matrix. A vector ``v(x)`` at planning grid point ``x`` means: planning point ``x``
  corresponds to the pre-deformed source point ``x + v(x)``, i.e. follow-up point ``R(x + v(x))``.
  This is the "pull-back" grid convention of ITK, Slicer and plastimatch; vendors have differed in
  the direction of the vectors, so check a known landmark in your tool once.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from radnec import __version__
from radnec.errors import RegistrationError
from radnec.fuse.rigid import matrix_of
from radnec.ingest.reg import DEFORMABLE_REGISTRATION_SOP_CLASS, SPATIAL_REGISTRATION_SOP_CLASS

#: Attributes copied from a reference image (patient and study) when given.
_COPY = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
)


#: Direct identifiers replaced (or emptied) by ``deidentify=True``, following the spirit of the DICOM
#: PS3.15 Annex E Basic Application Level Confidentiality Profile; the UIDs (study, frames of
#: reference) are kept so the REG still attaches to the planning and follow-up series.
_IDENTIFIERS_EMPTIED = ("PatientBirthDate", "PatientSex", "AccessionNumber", "ReferringPhysicianName", "StudyID")


def new_pseudonym() -> str:
    """A random patient pseudonym (``RADNEC-`` + 12 hex digits); not derived from the real ID, so it
    cannot be reversed by hashing candidate IDs."""
    import secrets

    return f"RADNEC-{secrets.token_hex(6).upper()}"


#: Dates and times removed by ``deidentify=True`` (PS3.15 Table E.1-1 actions Z/D): the Type 2 study
#: date/time emptied, the Type 1 content date/time replaced by a dummy. A study date plus a known
#: treatment is enough to re-identify a patient; the REG does not need it to attach (UIDs do that).
_DATES_EMPTIED = ("StudyDate", "StudyTime")
_DUMMY_DATE, _DUMMY_TIME = "19010101", "000000"


def _deidentify(ds: Dataset, pseudonym: str) -> None:
    ds.PatientName = pseudonym
    ds.PatientID = pseudonym
    for key in _IDENTIFIERS_EMPTIED + _DATES_EMPTIED:
        setattr(ds, key, "")
    ds.ContentDate, ds.ContentTime = _DUMMY_DATE, _DUMMY_TIME
    ds.PatientIdentityRemoved = "YES"
    ds.LongitudinalTemporalInformationModified = "REMOVED"
    # LO, at most 64 characters.
    ds.DeidentificationMethod = "radnec: name/ID pseudonym; birth date, dates emptied; UIDs kept"


def _ds_matrix(m: np.ndarray) -> list[str]:
    return [f"{v:.10g}" if abs(v) > 1e-12 else "0" for v in np.asarray(m, dtype=float).ravel()]


def _matrix_item(m: np.ndarray, kind: str = "RIGID") -> Dataset:
    item = Dataset()
    item.FrameOfReferenceTransformationMatrixType = kind
    item.FrameOfReferenceTransformationMatrix = _ds_matrix(m)
    return item


def _registration_type(code: str, meaning: str) -> Sequence:
    c = Dataset()
    c.CodeValue = code
    c.CodingSchemeDesignator = "DCM"
    c.CodeMeaning = meaning
    return Sequence([c])


def _base(
    sop_class: str, *, frame_uid: str, reference: Dataset | None, description: str, pseudonym: str | None = None
) -> Dataset:
    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    sop_uid = generate_uid()
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    now = _dt.datetime.now(_dt.timezone.utc)
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    for key in _COPY:
        if reference is not None and key in reference:
            setattr(ds, key, reference.data_element(key).value)
    ds.PatientName = ds.get("PatientName", "ANONYMOUS")
    ds.PatientID = ds.get("PatientID", "RADNEC")
    ds.PatientBirthDate = ds.get("PatientBirthDate", "")
    ds.PatientSex = ds.get("PatientSex", "")
    ds.StudyInstanceUID = ds.get("StudyInstanceUID", generate_uid())
    ds.StudyDate = ds.get("StudyDate", now.strftime("%Y%m%d"))
    ds.StudyTime = ds.get("StudyTime", now.strftime("%H%M%S"))
    ds.StudyID = ds.get("StudyID", "")
    ds.AccessionNumber = ds.get("AccessionNumber", "")
    ds.ReferringPhysicianName = ds.get("ReferringPhysicianName", "")
    ds.Modality = "REG"
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = 9901
    ds.SeriesDescription = "radnec fusion (research use)"
    ds.FrameOfReferenceUID = frame_uid
    ds.PositionReferenceIndicator = ""
    ds.Manufacturer = "radnec"
    ds.ManufacturerModelName = "radnec.fuse"
    ds.DeviceSerialNumber = "0"
    ds.SoftwareVersions = __version__
    ds.InstanceNumber = 1
    ds.ContentDate = now.strftime("%Y%m%d")
    ds.ContentTime = now.strftime("%H%M%S")
    ds.ContentLabel = "RADNEC_FUSION"
    ds.ContentDescription = description[:64]
    ds.ContentCreatorName = "radnec"
    if pseudonym is not None:
        _deidentify(ds, pseudonym)
    return ds


def _pseudonym(deidentify: bool, pseudonym: str | None) -> str | None:
    if not deidentify:
        if pseudonym is not None:
            raise ValueError("pseudonym is only used with deidentify=True")
        return None
    if pseudonym is not None and not pseudonym.strip():
        raise ValueError("pseudonym must not be empty")
    return pseudonym.strip() if pseudonym else new_pseudonym()


def _uids(fixed_frame_uid: str | None, moving_frame_uid: str | None) -> tuple[str, str]:
    if not fixed_frame_uid or not moving_frame_uid:
        raise RegistrationError(
            "DICOM REG export needs both FrameOfReferenceUIDs (planning and follow-up); the images came "
            "without DICOM headers — pass fixed_frame_uid/moving_frame_uid explicitly"
        )
    return fixed_frame_uid, moving_frame_uid


def spatial_registration(
    rigid: sitk.Transform,
    *,
    fixed_frame_uid: str | None,
    moving_frame_uid: str | None,
    reference: Dataset | None = None,
    deidentify: bool = False,
    pseudonym: str | None = None,
) -> Dataset:
    """A DICOM Spatial Registration dataset for the planning → follow-up rigid transform ``rigid``.

    Parameters
    ----------
    rigid
        radnec's rigid part ``R`` (planning → follow-up, LPS mm).
    fixed_frame_uid, moving_frame_uid
        Planning and follow-up FrameOfReferenceUIDs.
    reference
        A planning image dataset whose patient/study attributes are copied (else anonymous).
    deidentify
        Replace the patient name and ID by ``pseudonym`` (default: :func:`new_pseudonym`) and empty
        the other direct identifiers (birth date, sex, accession number, referring physician,
        study ID); StudyInstanceUID and the frames of reference are kept, so the REG still resolves.
    pseudonym
        The pseudonym to use with ``deidentify`` (e.g. the one your de-identified images carry).
    """
    fixed_uid, moving_uid = _uids(fixed_frame_uid, moving_frame_uid)
    ds = _base(
        SPATIAL_REGISTRATION_SOP_CLASS,
        frame_uid=fixed_uid,
        reference=reference,
        description="rigid follow-up to planning",
        pseudonym=_pseudonym(deidentify, pseudonym),
    )
    items = []
    for uid, m in ((fixed_uid, np.eye(4)), (moving_uid, np.linalg.inv(matrix_of(rigid)))):
        item = Dataset()
        item.FrameOfReferenceUID = uid
        mreg = Dataset()
        mreg.RegistrationTypeCodeSequence = _registration_type("125024", "Image Content-based Alignment")
        mreg.MatrixSequence = Sequence([_matrix_item(m)])
        item.MatrixRegistrationSequence = Sequence([mreg])
        items.append(item)
    ds.RegistrationSequence = Sequence(items)
    return ds


def deformable_registration(
    rigid: sitk.Transform,
    deformation: sitk.DisplacementFieldTransform,
    *,
    fixed_frame_uid: str | None,
    moving_frame_uid: str | None,
    reference: Dataset | None = None,
    deidentify: bool = False,
    pseudonym: str | None = None,
) -> Dataset:
    """A DICOM Deformable Spatial Registration dataset for ``T = R ∘ D`` (see module docstring;
    ``deidentify`` / ``pseudonym`` as in :func:`spatial_registration`)."""
    fixed_uid, moving_uid = _uids(fixed_frame_uid, moving_frame_uid)
    ds = _base(
        DEFORMABLE_REGISTRATION_SOP_CLASS,
        frame_uid=fixed_uid,
        reference=reference,
        description="deformable follow-up to planning",
        pseudonym=_pseudonym(deidentify, pseudonym),
    )
    field = deformation.GetDisplacementField()
    arr = sitk.GetArrayFromImage(field).astype("<f4")  # (z, y, x, 3) -> x fastest, vector interleaved
    direction = np.asarray(field.GetDirection()).reshape(3, 3)
    if not np.allclose(np.cross(direction[:, 0], direction[:, 1]), direction[:, 2], atol=1e-4):
        raise RegistrationError("the deformation grid is left-handed; DICOM grids need row x column = slice direction")
    grid = Dataset()
    grid.ImageOrientationPatient = _ds_matrix(np.concatenate([direction[:, 0], direction[:, 1]]))
    grid.ImagePositionPatient = [f"{v:.10g}" for v in field.GetOrigin()]
    grid.GridDimensions = [int(v) for v in field.GetSize()]
    grid.GridResolution = [float(v) for v in field.GetSpacing()]
    grid.VectorGridData = arr.tobytes()
    item = Dataset()
    item.SourceFrameOfReferenceUID = moving_uid
    item.RegistrationTypeCodeSequence = _registration_type("125024", "Image Content-based Alignment")
    item.PreDeformationMatrixRegistrationSequence = Sequence([_matrix_item(np.linalg.inv(matrix_of(rigid)))])
    item.PostDeformationMatrixRegistrationSequence = Sequence([_matrix_item(np.eye(4))])
    item.DeformableRegistrationGridSequence = Sequence([grid])
    ds.DeformableRegistrationSequence = Sequence([item])
    return ds


def write_registrations(
    result,  # noqa: ANN001 - FusionResult (avoid an import cycle in the signature)
    folder: str | Path,
    *,
    reference: Dataset | None = None,
    deidentify: bool = False,
    pseudonym: str | None = None,
) -> dict[str, Path]:
    """Write ``reg_rigid.dcm`` (always) and ``reg_deformable.dcm`` (when deformable) for a
    :class:`~radnec.fuse.transforms.FusionResult`; returns ``{"rigid": path, "deformable": path}``.

    With ``deidentify=True`` both files carry the same pseudonym (``pseudonym`` or a new random
    one) instead of the patient name and ID; see :func:`spatial_registration`.
    """
    pseudonym = _pseudonym(deidentify, pseudonym)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    ds = spatial_registration(
        result.rigid, fixed_frame_uid=result.fixed_frame_uid, moving_frame_uid=result.moving_frame_uid, reference=reference,
        deidentify=deidentify, pseudonym=pseudonym,
    )
    paths["rigid"] = out / "reg_rigid.dcm"
    ds.save_as(paths["rigid"], enforce_file_format=True)
    if result.deformation is not None:
        dd = deformable_registration(
            result.rigid,
            result.deformation,
            fixed_frame_uid=result.fixed_frame_uid,
            moving_frame_uid=result.moving_frame_uid,
            reference=reference,
            deidentify=deidentify,
            pseudonym=pseudonym,
        )
        paths["deformable"] = out / "reg_deformable.dcm"
        dd.save_as(paths["deformable"], enforce_file_format=True)
    return paths


__all__ = [
    "SPATIAL_REGISTRATION_SOP_CLASS",
    "DEFORMABLE_REGISTRATION_SOP_CLASS",
    "spatial_registration",
    "deformable_registration",
    "write_registrations",
    "new_pseudonym",
]
