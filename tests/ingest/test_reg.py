"""DICOM Spatial / Deformable Spatial Registration: radnec's export is read back by pydicom and by
radnec.ingest.reg to the same transform (1e-6 mm)."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from radnec.errors import FrameOfReferenceError, InputError, RegistrationError
from radnec.fuse import dicom_reg
from radnec.fuse.transforms import FusionResult
from radnec.ingest import reg as ingest_reg

FIXED = "1.2.826.0.1.3680043.8.498.1"
MOVING = "1.2.826.0.1.3680043.8.498.2"
POINTS = np.array([[0.0, 0.0, 0.0], [12.5, -30.0, 44.0], [-60.0, 25.0, -10.0], [3.0, 4.0, 5.0]])


def _result() -> FusionResult:
    rigid = sitk.Euler3DTransform((10.0, -5.0, 2.0), 0.08, -0.12, 0.2, (4.5, -7.25, 12.0))
    ref = sitk.Image((20, 18, 16), sitk.sitkUInt8)
    ref.SetOrigin((-20.0, -18.0, -16.0))
    ref.SetSpacing((2.0, 2.0, 2.0))
    rng = np.random.default_rng(0)
    field = rng.normal(0.0, 1.5, ref.GetSize()[::-1] + (3,))
    img = sitk.GetImageFromArray(field.astype(np.float32).astype(np.float64), isVector=True)
    img.CopyInformation(ref)
    return FusionResult(
        rigid=rigid, deformation=sitk.DisplacementFieldTransform(img), fixed_frame_uid=FIXED, moving_frame_uid=MOVING
    )


def _mapped(tx: sitk.Transform) -> np.ndarray:
    return np.array([tx.TransformPoint(tuple(p)) for p in POINTS])


def test_spatial_registration_round_trip(tmp_path) -> None:
    res = _result()
    paths = dicom_reg.write_registrations(res, tmp_path)
    ds = pydicom.dcmread(paths["rigid"])
    assert ds.SOPClassUID == dicom_reg.SPATIAL_REGISTRATION_SOP_CLASS and ds.Modality == "REG"
    assert ds.FrameOfReferenceUID == FIXED
    by_uid = {it.FrameOfReferenceUID: it for it in ds.RegistrationSequence}
    m = np.array([float(v) for v in by_uid[MOVING].MatrixRegistrationSequence[0].MatrixSequence[0].FrameOfReferenceTransformationMatrix]).reshape(4, 4)
    # pydicom view: the follow-up item maps follow-up points into the planning frame (R^-1).
    y = np.array(res.rigid.TransformPoint(tuple(POINTS[1])))
    assert np.allclose(m[:3, :3] @ y + m[:3, 3], POINTS[1], atol=1e-6)
    tx = ingest_reg.read_transform(paths["rigid"], fixed_frame_uid=FIXED, moving_frame_uid=MOVING)
    assert np.allclose(_mapped(tx), _mapped(res.rigid), atol=1e-6)
    # the reverse question gives the inverse transform
    inv = ingest_reg.read_transform(paths["rigid"], fixed_frame_uid=MOVING, moving_frame_uid=FIXED)
    assert np.allclose(_mapped(sitk.CompositeTransform([inv, tx])), POINTS, atol=1e-6)


def test_deformable_registration_round_trip(tmp_path) -> None:
    res = _result()
    paths = dicom_reg.write_registrations(res, tmp_path)
    ds = pydicom.dcmread(paths["deformable"])
    assert ds.SOPClassUID == dicom_reg.DEFORMABLE_REGISTRATION_SOP_CLASS
    item = ds.DeformableRegistrationSequence[0]
    assert item.SourceFrameOfReferenceUID == MOVING
    grid = item.DeformableRegistrationGridSequence[0]
    assert [int(v) for v in grid.GridDimensions] == [20, 18, 16]
    assert len(grid.VectorGridData) == 20 * 18 * 16 * 3 * 4
    tx = ingest_reg.read_transform(paths["deformable"], fixed_frame_uid=FIXED, moving_frame_uid=MOVING)
    assert np.allclose(_mapped(tx), _mapped(res.transform), atol=1e-6)


def test_not_a_registration(tmp_path) -> None:
    bad = tmp_path / "x.dcm"
    bad.write_bytes(b"not dicom at all")
    with pytest.raises(InputError, match="x.dcm"):
        ingest_reg.read_registration(bad)
    res = _result()
    ds = dicom_reg.spatial_registration(res.rigid, fixed_frame_uid=FIXED, moving_frame_uid=MOVING)
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
    with pytest.raises(InputError, match="not a registration object"):
        ingest_reg.read_registration(ds)


def test_unknown_frame_and_affine_matrix_are_refused() -> None:
    res = _result()
    ds = dicom_reg.spatial_registration(res.rigid, fixed_frame_uid=FIXED, moving_frame_uid=MOVING)
    reg = ingest_reg.read_registration(ds)
    with pytest.raises(FrameOfReferenceError, match="does not link"):
        ingest_reg.rigid_transform(reg, fixed_frame_uid=FIXED, moving_frame_uid="9.9.9")
    m = [float(v) for v in ds.RegistrationSequence[1].MatrixRegistrationSequence[0].MatrixSequence[0].FrameOfReferenceTransformationMatrix]
    m[0] *= 1.2
    ds.RegistrationSequence[1].MatrixRegistrationSequence[0].MatrixSequence[0].FrameOfReferenceTransformationMatrix = [f"{v:.10g}" for v in m]
    with pytest.raises(RegistrationError, match="rigid"):
        ingest_reg.rigid_transform(ingest_reg.read_registration(ds), fixed_frame_uid=FIXED, moving_frame_uid=MOVING)


def test_export_without_frame_uids_is_refused() -> None:
    res = _result()
    with pytest.raises(RegistrationError, match="FrameOfReferenceUID"):
        dicom_reg.spatial_registration(res.rigid, fixed_frame_uid=None, moving_frame_uid=MOVING)


def test_deformable_with_wrong_registered_frame_is_refused() -> None:
    res = _result()
    ds = dicom_reg.deformable_registration(res.rigid, res.deformation, fixed_frame_uid=FIXED, moving_frame_uid=MOVING)
    reg = ingest_reg.read_registration(ds)
    with pytest.raises(FrameOfReferenceError, match="registered frame"):
        ingest_reg.deformable_transform(reg, fixed_frame_uid=MOVING, moving_frame_uid=FIXED)


def test_inspect_reads_every_registration_with_its_reader(tmp_path) -> None:
    from pydicom.uid import generate_uid

    from radnec.ingest.inventory import inspect_tree

    paths = dicom_reg.write_registrations(_result(), tmp_path)
    broken = pydicom.dcmread(paths["rigid"])
    broken.RegistrationSequence = []
    broken.SOPInstanceUID = broken.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    broken.SeriesInstanceUID = generate_uid()
    broken.save_as(tmp_path / "broken_reg.dcm")

    result = inspect_tree(tmp_path)
    assert result.readers["reg"] is True
    objects = {o.path: o for o in result.inventory.objects_of_kind("REG", "DREG")}
    rigid, deformable = objects[str(paths["rigid"])], objects[str(paths["deformable"])]
    assert rigid.details["registration"] == "spatial"
    assert deformable.details["registration"] == "deformable"
    for obj in (rigid, deformable):
        assert obj.details["registered_frame_of_reference_uid"] == FIXED
        assert obj.details["source_frame_of_reference_uids"] == [MOVING]
    (problem,) = result.problems
    assert problem.path.endswith("broken_reg.dcm") and "empty RegistrationSequence" in problem.message
