"""Recognition of less common objects (PET, REG, Siemens CSA spectroscopy, DICOMDIR) and a
property test of the series geometry."""

from __future__ import annotations

import numpy as np
import pydicom
import SimpleITK as sitk
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_factory import make_slice, rotation, write_series
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from radnec.ingest.scan import scan
from radnec.ingest.series import load_series


def _bare(sop_class: str, modality: str, *, for_uid: str | None = None) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = modality
    if for_uid:
        ds.FrameOfReferenceUID = for_uid
    return ds


def test_pet_series_with_per_slice_rescale(tmp_path):
    series_uid, study_uid, for_uid = generate_uid(), generate_uid(), generate_uid()
    slopes = [0.5, 2.0, 1.25]
    for k, slope in enumerate(slopes):
        ds = make_slice(
            (0.0, 0.0, 3.0 * k), pixels=np.full((6, 7), 100), series_uid=series_uid, study_uid=study_uid,
            for_uid=for_uid, modality="CT", slope=slope, intercept=0.0, instance=k + 1,
        )
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.128"
        ds.Modality = "PT"
        ds.save_as(tmp_path / f"pt{k}.dcm", enforce_file_format=True)
    inv = scan(tmp_path)
    (series,) = inv.all_series()
    assert series.kind == "PT"
    s = load_series(series)
    np.testing.assert_allclose(sitk.GetArrayFromImage(s.image)[:, 0, 0], [50.0, 200.0, 125.0])
    assert s.meta.modality == "PT"


def test_registration_relations(tmp_path):
    write_series(tmp_path / "planning", n=3, for_uids=["1.2.826.0.1.1"] * 3)
    write_series(tmp_path / "followup", n=3, for_uids=["1.2.826.0.1.2"] * 3)
    reg = _bare("1.2.840.10008.5.1.4.1.1.66.1", "REG", for_uid="1.2.826.0.1.1")
    items = []
    for fo_r in ("1.2.826.0.1.1", "1.2.826.0.1.2"):
        item = Dataset()
        item.FrameOfReferenceUID = fo_r
        items.append(item)
    reg.RegistrationSequence = Sequence(items)
    reg.save_as(tmp_path / "reg.dcm", enforce_file_format=True)
    dreg = _bare("1.2.840.10008.5.1.4.1.1.66.3", "REG", for_uid="1.2.826.0.1.1")
    item = Dataset()
    item.SourceFrameOfReferenceUID = "1.2.826.0.1.9"  # not in the folder
    dreg.DeformableRegistrationSequence = Sequence([item])
    dreg.save_as(tmp_path / "dreg.dcm", enforce_file_format=True)
    inv = scan(tmp_path)
    rel = [(r.source_kind, r.target_uid, r.found) for r in inv.relations if r.relation == "registers frame"]
    assert ("REG", "1.2.826.0.1.1", True) in rel and ("REG", "1.2.826.0.1.2", True) in rel
    assert ("DREG", "1.2.826.0.1.9", False) in rel
    assert any("DREG dreg.dcm references FRAME_OF_REFERENCE 1.2.826.0.1.9" in w for w in inv.warnings)


def test_siemens_csa_spectroscopy_recognised_and_other_csa_skipped(tmp_path):
    spec = _bare("1.3.12.2.1107.5.9.1", "MR", for_uid="1.2.3")
    spec.add_new((0x0029, 0x0010), "LO", "SIEMENS CSA HEADER")
    spec.add_new((0x0029, 0x1008), "CS", "SPEC NUM 4")
    spec.save_as(tmp_path / "svs.ima", enforce_file_format=True)
    other = _bare("1.3.12.2.1107.5.9.1", "MR")
    other.add_new((0x0029, 0x0010), "LO", "SIEMENS CSA HEADER")
    other.add_new((0x0029, 0x1008), "CS", "PHOENIX")
    other.save_as(tmp_path / "other.ima", enforce_file_format=True)
    inv = scan(tmp_path)
    (series,) = inv.all_series()
    assert series.kind == "MRS" and series.objects[0].details["siemens_csa"] is True
    (skipped,) = inv.skipped
    assert skipped.path.endswith("other.ima") and "unsupported SOP class" in skipped.reason


def test_dicomdir_is_a_benign_skip(tmp_path):
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.1.3.10"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.FileSetID = "TEST"
    ds.save_as(tmp_path / "DICOMDIR", enforce_file_format=True)
    (skipped,) = scan(tmp_path).skipped
    assert skipped.reason.startswith("DICOMDIR index file")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    axis=st.tuples(*[st.floats(-1, 1) for _ in range(3)]).filter(lambda a: np.linalg.norm(a) > 0.1),
    angle=st.floats(-179, 179),
    spacing=st.floats(0.3, 6.0),
    n=st.integers(2, 6),
)
def test_property_any_orientation_round_trips(tmp_path_factory, axis, angle, spacing, n):
    """For any rotation, spacing and shuffled file order, every voxel centre of the stacked image is
    where the generator put the corresponding pixel, and slice k carries its own value."""
    r = rotation(axis, angle)
    folder = tmp_path_factory.mktemp("prop")
    write_series(folder, n=n, spacing=spacing, row=r[:, 0], col=r[:, 1], origin=(1.0, -2.0, 3.0))
    img = load_series(folder).image
    normal = np.cross(r[:, 0], r[:, 1])
    for k in range(n):
        expected = np.array([1.0, -2.0, 3.0]) + k * spacing * normal + 6 * 0.8 * r[:, 0] + 5 * 0.9 * r[:, 1]
        np.testing.assert_allclose(img.TransformIndexToPhysicalPoint((6, 5, k)), expected, atol=1e-4)
    np.testing.assert_allclose(sitk.GetArrayFromImage(img)[:, 0, 0], [10 * k + 1 for k in range(n)])
    assert pydicom  # the generator wrote real DICOM
