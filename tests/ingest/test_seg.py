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
    assert np.isfinite(0)
