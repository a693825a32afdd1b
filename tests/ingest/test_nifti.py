from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from radnec.errors import GeometryError, InputError
from radnec.ingest.nifti import read_label_map, read_volume

AFFINE = np.array([[-1.0, 0, 0, 10.0], [0, -1.5, 0, 20.0], [0, 0, 2.0, -30.0], [0, 0, 0, 1]])


def _save(path, data, affine=AFFINE, *, qform=True, sform=True, sform_affine=None):
    img = nib.Nifti1Image(data, None)
    img.set_qform(affine if qform else None, code=1 if qform else 0)
    img.set_sform(sform_affine if sform_affine is not None else affine, code=2 if sform else 0)
    if not sform:
        img.set_sform(None, code=0)
    nib.save(img, str(path))
    return path


def test_ras_to_lps(tmp_path):
    p = _save(tmp_path / "a.nii.gz", np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    img = read_volume(p)
    # RAS affine origin (10, 20, -30) -> LPS (-10, -20, -30); x and y axes flip sign
    assert img.GetOrigin() == pytest.approx((-10.0, -20.0, -30.0))
    assert img.GetSpacing() == pytest.approx((1.0, 1.5, 2.0))
    assert np.asarray(img.GetDirection()).reshape(3, 3) == pytest.approx(np.eye(3))
    # voxel (i, j, k) keeps its value
    assert sitk.GetArrayViewFromImage(img)[3, 2, 1] == pytest.approx(1 * 12 + 2 * 4 + 3)


def test_qform_sform_disagreement_refused(tmp_path):
    other = AFFINE.copy()
    other[0, 3] += 5.0
    p = _save(tmp_path / "b.nii.gz", np.zeros((2, 2, 2), np.float32), sform_affine=other)
    with pytest.raises(GeometryError, match="qform and sform disagree"):
        read_volume(p)


def test_no_orientation_refused(tmp_path):
    p = _save(tmp_path / "c.nii.gz", np.zeros((2, 2, 2), np.float32), qform=False, sform=False)
    with pytest.raises(GeometryError, match="neither qform nor sform"):
        read_volume(p)


def test_4d_refused_and_singleton_4d_squeezed(tmp_path):
    with pytest.raises(GeometryError, match=r"4-D image .* x 3 volumes"):
        read_volume(_save(tmp_path / "d.nii.gz", np.zeros((2, 2, 2, 3), np.float32)))
    assert read_volume(_save(tmp_path / "e.nii.gz", np.zeros((2, 2, 2, 1), np.float32))).GetDimension() == 3


def test_non_finite_refused(tmp_path):
    data = np.zeros((2, 2, 2), np.float32)
    data[0, 1, 0] = np.nan
    data[1, 1, 1] = np.inf
    p = _save(tmp_path / "f.nii.gz", data)
    with pytest.raises(InputError, match="2 voxels are NaN or infinite"):
        read_volume(p)
    assert read_volume(p, allow_non_finite=True).GetSize() == (2, 2, 2)


def test_sheared_affine_refused(tmp_path):
    sheared = AFFINE.copy()
    sheared[0, 1] = 0.3
    p = _save(tmp_path / "g.nii.gz", np.zeros((2, 2, 2), np.float32), sheared, qform=False)
    with pytest.raises(GeometryError, match="sheared"):
        read_volume(p)


def test_label_map_to_masks_and_resample(tmp_path):
    data = np.zeros((4, 4, 4), np.int16)
    data[1:3, 1:3, 1] = 1
    data[0, 0, 3] = 4
    p = _save(tmp_path / "l.nii.gz", data)
    masks = read_label_map(p)
    assert sorted(masks) == [1, 4]
    assert int(sitk.GetArrayViewFromImage(masks[1]).sum()) == 4
    assert masks[1].GetPixelID() == sitk.sitkUInt8
    ref = sitk.Image(8, 8, 8, sitk.sitkFloat32)
    ref.CopyInformation(sitk.Expand(masks[1], (2, 2, 2)))
    on_ref = read_label_map(p, labels=[4], reference=ref)[4]
    assert on_ref.GetSize() == (8, 8, 8)
    assert int(sitk.GetArrayViewFromImage(on_ref).sum()) >= 1
    with pytest.raises(InputError, match=r"label\(s\) \[7\] not in the label map"):
        read_label_map(p, labels=[7])


def test_probability_map_is_not_a_label_map(tmp_path):
    p = _save(tmp_path / "p.nii.gz", np.full((2, 2, 2), 0.4, np.float32))
    with pytest.raises(InputError, match="non-integer values"):
        read_label_map(p)


def test_nrrd(tmp_path):
    img = sitk.GetImageFromArray(np.ones((3, 4, 5), np.uint8))
    img.SetOrigin((1.0, 2.0, 3.0))
    sitk.WriteImage(img, str(tmp_path / "m.nrrd"))
    assert read_label_map(tmp_path / "m.nrrd")[1].GetOrigin() == (1.0, 2.0, 3.0)


def test_metaimage_is_scanned_and_read(tmp_path):
    from radnec.ingest.scan import scan

    img = sitk.GetImageFromArray(np.zeros((2, 3, 4), np.float32))
    sitk.WriteImage(img, str(tmp_path / "v.mha"))
    (vol,) = scan(tmp_path).volumes
    assert vol.format == "METAIMAGE" and vol.size == [4, 3, 2]
    assert read_volume(tmp_path / "v.mha").GetSize() == (4, 3, 2)
