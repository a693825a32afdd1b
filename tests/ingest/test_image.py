"""radnec.ingest.read_image / load_image: one loader for a DICOM series or a volume file."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from ingest_factory import write_series

import radnec.ingest
from radnec.errors import GeometryError, InputError
from radnec.ingest.image import load_image, read_image

#: RAS affine: voxel (i, j, k) at (10 - i, 20 - 1.5 j, -30 + 2 k) mm RAS.
AFFINE = np.array([[-1.0, 0, 0, 10.0], [0, -1.5, 0, 20.0], [0, 0, 2.0, -30.0], [0, 0, 0, 1]])


def _nifti(path, data):
    img = nib.Nifti1Image(data, AFFINE)
    img.set_qform(AFFINE, code=1)
    img.set_sform(AFFINE, code=2)
    nib.save(img, str(path))
    return path


def test_the_package_exports_the_loader():
    assert radnec.ingest.read_image is read_image
    assert radnec.ingest.load_image is load_image


def test_nifti_file_is_read_in_lps(tmp_path):
    data = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    loaded = load_image(_nifti(tmp_path / "t1c.nii.gz", data))
    assert loaded.files == () and loaded.frame_of_reference_uid is None
    img = loaded.image
    assert img.GetDimension() == 3
    # RAS origin (10, 20, -30) -> LPS (-10, -20, -30)
    assert img.GetOrigin() == pytest.approx((-10.0, -20.0, -30.0))
    assert img.GetSpacing() == pytest.approx((1.0, 1.5, 2.0))
    assert sitk.GetArrayViewFromImage(img)[3, 2, 1] == pytest.approx(data[1, 2, 3])


def test_dicom_folder_is_stacked_with_its_frame_of_reference(tmp_path):
    files = write_series(tmp_path / "mr", n=4, spacing=2.5, origin=(-10.0, -20.0, 30.0))
    loaded = load_image(tmp_path / "mr")
    ds = pydicom.dcmread(files[0], stop_before_pixels=True)
    assert loaded.frame_of_reference_uid == str(ds.FrameOfReferenceUID)
    assert sorted(loaded.files) == sorted(str(f) for f in files)
    img = loaded.image
    assert img.GetSize() == (7, 6, 4)
    assert img.GetOrigin() == pytest.approx((-10.0, -20.0, 30.0))
    assert img.GetSpacing()[2] == pytest.approx(2.5)
    # slice k carries 10 k + 1 (write_series), sorted along the normal whatever the file order
    assert sitk.GetArrayViewFromImage(img)[:, 0, 0].tolist() == [1.0, 11.0, 21.0, 31.0]
    assert sitk.GetArrayViewFromImage(read_image(tmp_path / "mr")).tolist() == sitk.GetArrayViewFromImage(img).tolist()


def test_dicom_folder_keeps_the_series_checks(tmp_path):
    write_series(tmp_path / "gap", positions=[(0, 0, 0), (0, 0, 2), (0, 0, 6)])
    with pytest.raises(GeometryError, match="non-uniform slice spacing"):
        read_image(tmp_path / "gap")


def test_missing_path_names_what_was_expected(tmp_path):
    with pytest.raises(InputError, match="the T1c image does not exist") as info:
        read_image(tmp_path / "nope.nii.gz", what="T1c image")
    assert "nope.nii.gz" in str(info.value)


def test_unreadable_volume_file_is_an_input_error(tmp_path):
    bad = tmp_path / "broken.nii.gz"
    bad.write_bytes(b"not a nifti")
    with pytest.raises(InputError, match="broken.nii.gz"):
        read_image(bad)
