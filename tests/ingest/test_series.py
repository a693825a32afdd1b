from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from ingest_factory import rotation, write_series

from radnec.errors import FrameOfReferenceError, GeometryError
from radnec.ingest.series import load_series, read_series, spacing_tolerance_mm, split_series


@pytest.mark.parametrize("name", ["mr-siemens", "mr-philips-enhanced"])
def test_dicom2nifti_geometry_equals_reference_nifti(data_dir, name):
    """Acceptance: origin and direction within 1e-3 mm of dicom2nifti's ground truth (RAS→LPS done by
    SimpleITK's NIfTI reader). dicom2nifti may order the slice axis differently (the Siemens reference is
    left-handed), so both grids are first brought to the same axis order with DICOMOrient; the pixel
    values (noise) must then be identical, which proves the voxel order too."""
    series = load_series(data_dir / "ingest-demo" / name)
    ref = sitk.ReadImage(str(data_dir / "ingest-demo" / f"{name}-reference.nii.gz"))
    a = sitk.DICOMOrient(series.image, "LPS")
    b = sitk.DICOMOrient(ref, "LPS")
    assert a.GetSize() == b.GetSize()
    assert np.max(np.abs(np.subtract(a.GetOrigin(), b.GetOrigin()))) < 1e-3
    assert np.max(np.abs(np.subtract(a.GetDirection(), b.GetDirection()))) < 1e-6
    assert np.max(np.abs(np.subtract(a.GetSpacing(), b.GetSpacing()))) < 1e-3
    np.testing.assert_array_equal(sitk.GetArrayFromImage(a), sitk.GetArrayFromImage(b).astype(np.float32))
    # radnec's own convention: right-handed, third axis = row x column
    d = np.asarray(series.image.GetDirection()).reshape(3, 3)
    assert np.linalg.det(d) == pytest.approx(1.0)


def test_enhanced_metadata(data_dir):
    s = load_series(data_dir / "ingest-demo" / "mr-philips-enhanced")
    assert s.meta.enhanced and s.meta.n_slices == 8
    assert s.meta.slice_spacing_mm == pytest.approx(1.2, abs=1e-4)
    assert s.meta.echo_time_ms == pytest.approx(3.133, abs=1e-3)
    assert s.meta.modality == "MR"


def test_sorting_rescale_and_metadata(tmp_path):
    write_series(tmp_path / "s", n=6, spacing=2.5, slope=0.5, intercept=-3)
    s = load_series(tmp_path / "s")
    arr = sitk.GetArrayFromImage(s.image)
    # slice k holds 10 k + 1 (before rescale); files were shuffled
    np.testing.assert_allclose(arr[:, 0, 0], [(10 * k + 1) * 0.5 - 3 for k in range(6)])
    assert s.image.GetOrigin() == pytest.approx((-10.0, -20.0, 30.0))
    assert s.image.GetSpacing() == pytest.approx((0.8, 0.9, 2.5))
    assert s.image.GetSize() == (7, 6, 6)
    assert s.meta.echo_time_ms == 3.1 and s.meta.repetition_time_ms == 7.5
    assert s.meta.acquisition_date is None or s.meta.acquisition_date.startswith("20")
    assert not hasattr(s.meta, "patient_name")


def test_oblique_stack_direction_carries_rotation(tmp_path):
    r = rotation((1.0, 1.0, 0.2), 23.0)
    row, col = r[:, 0], r[:, 1]
    write_series(tmp_path / "o", n=4, spacing=3.0, row=row, col=col, origin=(5.0, 6.0, 7.0))
    img = read_series(tmp_path / "o")
    d = np.asarray(img.GetDirection()).reshape(3, 3)
    np.testing.assert_allclose(d[:, 0], row, atol=1e-7)
    np.testing.assert_allclose(d[:, 1], col, atol=1e-7)
    np.testing.assert_allclose(d[:, 2], np.cross(row, col), atol=1e-7)
    # the centre of the last voxel is where the generator put it
    last = img.TransformIndexToPhysicalPoint((6, 5, 3))
    expected = np.array([5.0, 6.0, 7.0]) + 3 * 3.0 * np.cross(row, col) + 6 * 0.8 * row + 5 * 0.9 * col
    np.testing.assert_allclose(last, expected, atol=1e-5)


def test_descending_positions_are_sorted_along_normal(tmp_path):
    # sagittal: row = +y, col = -z -> normal = -x; positions step along +x (i.e. decreasing along n)
    positions = [(10.0 + k, 0.0, 0.0) for k in range(4)]
    write_series(tmp_path / "sag", row=(0, 1, 0), col=(0, 0, -1), positions=positions)
    s = load_series(tmp_path / "sag")
    assert s.image.GetOrigin()[0] == pytest.approx(13.0)
    np.testing.assert_allclose(sitk.GetArrayFromImage(s.image)[:, 0, 0], [31, 21, 11, 1])


def test_spacing_tolerance_is_documented_value():
    assert spacing_tolerance_mm(0.5) == pytest.approx(0.01)
    assert spacing_tolerance_mm(5.0) == pytest.approx(0.05)


def test_small_position_noise_is_accepted_but_a_missing_slice_is_not(tmp_path):
    noisy = [(0.0, 0.0, 2.0 * k + (0.004 if k == 2 else 0.0)) for k in range(5)]
    write_series(tmp_path / "ok", positions=noisy)
    assert read_series(tmp_path / "ok").GetSpacing()[2] == pytest.approx(2.0, abs=1e-3)
    gap = [(0.0, 0.0, z) for z in (0.0, 2.0, 4.0, 8.0, 10.0)]
    write_series(tmp_path / "gap", positions=gap)
    with pytest.raises(GeometryError, match="non-uniform slice spacing"):
        read_series(tmp_path / "gap")


def test_gantry_tilt_refused_with_angle(tmp_path):
    tilt = np.radians(15.0)
    positions = [(0.0, k * 2.0 * np.tan(tilt), k * 2.0) for k in range(5)]
    write_series(tmp_path / "tilt", positions=positions)
    with pytest.raises(GeometryError, match=r"gantry tilt or shear of 15\.0°"):
        read_series(tmp_path / "tilt")


def test_mixed_frames_of_reference_refused(tmp_path):
    write_series(tmp_path / "f", n=3, for_uids=["1.2.3", "1.2.3", "1.2.4"])
    with pytest.raises(FrameOfReferenceError, match="2 frames of reference"):
        read_series(tmp_path / "f")


def test_series_uid_selection(tmp_path):
    write_series(tmp_path / "two", n=3)
    write_series(tmp_path / "b", n=4)
    for p in (tmp_path / "b").iterdir():
        p.rename(tmp_path / "two" / f"b-{p.name}")
    with pytest.raises(Exception, match="2 different series"):
        read_series(tmp_path / "two")
    import pydicom

    uid = pydicom.dcmread(next((tmp_path / "two").glob("b-*"))).SeriesInstanceUID
    assert read_series(tmp_path / "two", series_instance_uid=uid).GetSize()[2] == 4


def test_dynamic_series_duplicate_positions_are_explained_and_split(tmp_path):
    import pydicom

    a = write_series(tmp_path / "dyn", n=3, shuffle=False)
    ref = pydicom.dcmread(a[0])
    b = write_series(tmp_path / "other", n=3, shuffle=False)
    for t, paths in ((1, a), (2, b)):
        for p in paths:
            ds = pydicom.dcmread(p)
            ds.SeriesInstanceUID, ds.StudyInstanceUID = ref.SeriesInstanceUID, ref.StudyInstanceUID
            ds.FrameOfReferenceUID = ref.FrameOfReferenceUID
            ds.TemporalPositionIdentifier = t
            ds.save_as(tmp_path / "dyn" / f"t{t}-{p.name}")
            if p.parent.name == "dyn":
                p.unlink()
    with pytest.raises(GeometryError, match=r"differ in TemporalPositionIdentifier .*split_series"):
        read_series(tmp_path / "dyn")
    groups = split_series(tmp_path / "dyn")
    assert list(groups) == ["1", "2"] and all(len(v) == 3 for v in groups.values())
    assert read_series(groups["2"]).GetSize() == (7, 6, 3)
    with pytest.raises(GeometryError, match="no attribute among"):
        split_series(groups["1"] + groups["1"][:1])
