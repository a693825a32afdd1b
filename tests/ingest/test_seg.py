from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from radnec.errors import InputError
from radnec.geometry import mask_volume_cc
from radnec.ingest.seg import read_seg


def test_seg_segment_mask_geometry(data_dir):
    path = data_dir / "ingest-demo" / "seg" / "liver_1frame.dcm"
    (seg,) = read_seg(path)
    assert seg.number == 1 and seg.label == "Liver"
    m = seg.mask
    assert m.GetPixelID() == sitk.sitkUInt8
    assert m.GetSize() == (512, 512, 1)
    assert m.GetOrigin() == pytest.approx((-235.2, -226.8, -128.69))
    assert m.GetSpacing()[:2] == pytest.approx((0.810547, 0.810547))
    n = int(sitk.GetArrayViewFromImage(m).sum())
    assert n == 36233  # voxel count of the frame (pydicom pixel_array gives the same)
    assert mask_volume_cc(m) == pytest.approx(n * 0.810547**2 * 1.0 / 1000, rel=1e-6)


def test_seg_resampled_onto_reference(data_dir):
    path = data_dir / "ingest-demo" / "seg" / "liver_1frame.dcm"
    (seg,) = read_seg(path)
    ref = sitk.Image(128, 128, 1, sitk.sitkFloat32)
    ref.SetOrigin(seg.mask.GetOrigin())
    ref.SetSpacing((0.810547 * 4, 0.810547 * 4, 1.0))
    (on_ref,) = read_seg(path, reference=ref)
    assert on_ref.mask.GetSize() == (128, 128, 1)
    n = int(sitk.GetArrayViewFromImage(on_ref.mask).sum())
    assert n == pytest.approx(36233 / 16, rel=0.05)


def test_seg_errors(data_dir, tmp_path):
    with pytest.raises(InputError, match="not a DICOM SEG"):
        read_seg(data_dir / "ingest-demo" / "rt" / "ct.0.dcm")
    with pytest.raises(InputError, match=r"segment number\(s\) \[3\] not in the SEG"):
        read_seg(data_dir / "ingest-demo" / "seg" / "liver_1frame.dcm", segment_numbers=[3])
    with pytest.raises(InputError, match="no such file"):
        read_seg(tmp_path / "missing.dcm")


def test_sparse_oblique_seg_round_trip_onto_its_series(tmp_path):
    """A highdicom-written SEG on an oblique 6-slice series with frames only where the segment exists
    (slices 0, 1, 4: empty frames omitted, as dcmqi and highdicom do) comes back voxel-exact on the
    series grid."""
    import highdicom as hd
    import pydicom
    from ingest_factory import rotation, write_series
    from pydicom.sr.codedict import codes

    from radnec.ingest.series import load_series

    r = rotation((1.0, 0.3, 0.2), 17.0)
    paths = write_series(tmp_path / "ct", n=6, spacing=2.0, row=r[:, 0], col=r[:, 1], modality="CT")
    normal = np.cross(r[:, 0], r[:, 1])
    sources = [pydicom.dcmread(p) for p in paths]
    for d in sources:  # type-2 attributes highdicom copies from the source images
        d.PatientBirthDate, d.PatientSex, d.StudyID, d.StudyTime = "", "", "1", "120000"
        d.ReferringPhysicianName, d.AccessionNumber, d.SeriesNumber, d.Manufacturer = "", "", 1, "test"
    sources.sort(key=lambda d: float(np.dot(np.asarray(d.ImagePositionPatient, float), normal)))
    mask = np.zeros((6, 6, 7), bool)
    mask[0, 1:3, 2:5] = True
    mask[1, 2, 2] = True
    mask[4, 3:5, 1:6] = True
    description = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label="lesion",
        segmented_property_category=codes.SCT.Tissue,
        segmented_property_type=codes.SCT.Neoplasm,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
    )
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=mask.astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[description],
        series_instance_uid=hd.UID(),
        series_number=2,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="radnec",
        manufacturer_model_name="test",
        software_versions="0",
        device_serial_number="1",
    )
    assert seg.NumberOfFrames == 3
    seg.save_as(tmp_path / "seg.dcm")
    image = load_series(tmp_path / "ct").image
    (on_series,) = read_seg(tmp_path / "seg.dcm", reference=image)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(on_series.mask).astype(bool), mask)
    (native,) = read_seg(tmp_path / "seg.dcm")
    assert native.mask.GetSize() == (7, 6, 5)  # slices 0..4 of the series, gaps filled with 0
    np.testing.assert_allclose(native.mask.GetDirection(), image.GetDirection(), atol=1e-6)
