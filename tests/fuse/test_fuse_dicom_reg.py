"""DICOM REG export with ``deidentify=True``: patient identifiers replaced by one pseudonym in both
files, UIDs kept, and the REG still reads back to the same transform (1e-6 mm)."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.dataset import Dataset

from radnec.fuse import dicom_reg
from radnec.fuse.transforms import FusionResult
from radnec.ingest import reg as ingest_reg

FIXED = "1.2.826.0.1.3680043.8.498.31"
MOVING = "1.2.826.0.1.3680043.8.498.32"
STUDY = "1.2.826.0.1.3680043.8.498.33"
POINTS = np.array([[0.0, 0.0, 0.0], [12.5, -30.0, 14.0], [-16.0, 15.0, -10.0]])


def _result() -> FusionResult:
    rigid = sitk.Euler3DTransform((10.0, -5.0, 2.0), 0.05, -0.1, 0.15, (3.5, -6.0, 9.0))
    ref = sitk.Image((12, 11, 10), sitk.sitkUInt8)
    ref.SetOrigin((-20.0, -18.0, -16.0))
    ref.SetSpacing((4.0, 4.0, 4.0))
    field = np.random.default_rng(1).normal(0.0, 1.0, ref.GetSize()[::-1] + (3,))
    img = sitk.GetImageFromArray(field.astype(np.float32).astype(np.float64), isVector=True)
    img.CopyInformation(ref)
    return FusionResult(rigid=rigid, deformation=sitk.DisplacementFieldTransform(img), fixed_frame_uid=FIXED, moving_frame_uid=MOVING)


def _reference() -> Dataset:
    ds = Dataset()
    ds.PatientName = "DOE^JANE"
    ds.PatientID = "MRN123456"
    ds.PatientBirthDate = "19600101"
    ds.PatientSex = "F"
    ds.AccessionNumber = "ACC99"
    ds.ReferringPhysicianName = "WHO^DR"
    ds.StudyID = "S1"
    ds.StudyInstanceUID = STUDY
    ds.StudyDate = "20240101"
    ds.StudyTime = "101500"
    return ds


def _mapped(tx: sitk.Transform) -> np.ndarray:
    return np.array([tx.TransformPoint(tuple(p)) for p in POINTS])


def test_default_export_copies_patient_identity(tmp_path) -> None:
    paths = dicom_reg.write_registrations(_result(), tmp_path, reference=_reference())
    ds = pydicom.dcmread(paths["rigid"])
    assert str(ds.PatientName) == "DOE^JANE" and ds.PatientID == "MRN123456"
    assert "PatientIdentityRemoved" not in ds


def test_deidentified_export_uses_one_pseudonym_and_still_resolves(tmp_path) -> None:
    res = _result()
    paths = dicom_reg.write_registrations(res, tmp_path, reference=_reference(), deidentify=True)
    files = [pydicom.dcmread(paths["rigid"]), pydicom.dcmread(paths["deformable"])]
    for ds in files:
        raw = paths["rigid"].read_bytes() + paths["deformable"].read_bytes()
        for secret in (b"DOE^JANE", b"MRN123456", b"19600101", b"ACC99", b"WHO^DR", b"20240101", b"101500"):
            assert secret not in raw, secret
        assert ds.PatientIdentityRemoved == "YES"
        assert ds.PatientID.startswith("RADNEC-") and str(ds.PatientName) == ds.PatientID
        assert ds.PatientBirthDate == "" and ds.PatientSex == "" and ds.AccessionNumber == ""
        # dates: study date/time emptied, the Type 1 content date/time a dummy, said so
        assert ds.StudyDate == "" and ds.StudyTime == "" and (ds.ContentDate, ds.ContentTime) == ("19010101", "000000")
        assert ds.LongitudinalTemporalInformationModified == "REMOVED"
        # what a viewer needs to attach the REG is kept
        assert ds.StudyInstanceUID == STUDY
        assert ds.FrameOfReferenceUID == FIXED
    assert files[0].PatientID == files[1].PatientID  # the same pseudonym in both files
    rigid = ingest_reg.read_transform(paths["rigid"], fixed_frame_uid=FIXED, moving_frame_uid=MOVING)
    assert np.allclose(_mapped(rigid), _mapped(res.rigid), atol=1e-6)
    full = ingest_reg.read_transform(paths["deformable"], fixed_frame_uid=FIXED, moving_frame_uid=MOVING)
    assert np.allclose(_mapped(full), _mapped(res.transform), atol=1e-6)
    # a new export gets a new random pseudonym (not derived from the real ID)
    again = dicom_reg.write_registrations(res, tmp_path / "again", reference=_reference(), deidentify=True)
    assert pydicom.dcmread(again["rigid"]).PatientID != files[0].PatientID


def test_given_pseudonym_and_misuse(tmp_path) -> None:
    ds = dicom_reg.spatial_registration(
        _result().rigid, fixed_frame_uid=FIXED, moving_frame_uid=MOVING, reference=_reference(), deidentify=True, pseudonym="TRIAL-007"
    )
    assert ds.PatientID == "TRIAL-007" and str(ds.PatientName) == "TRIAL-007"
    with pytest.raises(ValueError, match="deidentify"):
        dicom_reg.spatial_registration(_result().rigid, fixed_frame_uid=FIXED, moving_frame_uid=MOVING, pseudonym="X")
    with pytest.raises(ValueError, match="empty"):
        dicom_reg.write_registrations(_result(), tmp_path, deidentify=True, pseudonym="  ")
