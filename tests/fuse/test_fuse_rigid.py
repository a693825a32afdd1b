"""Rigid registration: accuracy against a known transform, refusal of impossible input."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from radnec.errors import RegistrationError
from radnec.fuse.rigid import matrix_of, register_rigid
from radnec.geometry import rigid_from_matrix
from radnec.fuse.synthetic import target_registration_error


def test_rigid_recovers_known_misalignment(rigid_pair, rigid_result) -> None:
    start = target_registration_error(rigid_pair, sitk.Euler3DTransform())
    tre = target_registration_error(rigid_pair, rigid_result.rigid)
    assert start["brain"]["mean"] > 5.0  # the pair really is misaligned
    # 2.5 mm voxels, different contrast + bias: well below half a voxel on average.
    assert tre["brain"]["mean"] < 0.8, tre
    assert tre["brain"]["max"] < 2.0, tre
    assert rigid_result.method == "registered-rigid"
    assert not rigid_result.poor_quality, rigid_result.quality["failed_checks"]
    assert rigid_result.quality["nmi_after"] > rigid_result.quality["nmi_before"]


def test_rigid_is_deterministic(rigid_pair, rigid_result) -> None:
    again = register_rigid(rigid_pair.planning, rigid_pair.followup)
    assert np.allclose(again.GetParameters(), rigid_result.rigid.GetParameters(), atol=1e-9)


def test_two_dimensional_input_is_refused(head) -> None:
    image, _ = head
    slice2d = image[:, :, 30]
    with pytest.raises(RegistrationError, match="2-D"):
        register_rigid(slice2d, slice2d)


def test_single_slice_volume_is_refused(head) -> None:
    image, _ = head
    one = image[:, :, 30:31]
    with pytest.raises(RegistrationError, match="single slice"):
        register_rigid(image, one)


def test_absurd_spacing_is_refused(head) -> None:
    image, _ = head
    bad = sitk.Image(image)
    bad.SetSpacing((2.5, 2.5, 250.0))
    with pytest.raises(RegistrationError, match="absurd voxel spacing"):
        register_rigid(image, bad)


def test_no_overlap_is_refused(head) -> None:
    image, _ = head
    far = sitk.Image(image)
    far.SetOrigin(tuple(np.asarray(image.GetOrigin()) + 1000.0))
    # Geometry-centred start would hide the problem; the moments start keeps physical positions
    # only if we give it: start from the identity.
    with pytest.raises(RegistrationError, match="do not overlap"):
        register_rigid(image, far, initial_transform=sitk.Euler3DTransform())


def test_constant_image_is_refused(head) -> None:
    image, _ = head
    flat = sitk.Image(image.GetSize(), sitk.sitkFloat32)
    flat.CopyInformation(image)
    with pytest.raises(RegistrationError, match="constant"):
        register_rigid(image, flat)


def test_matrix_round_trip_and_non_rigid_refusal() -> None:
    tx = sitk.Euler3DTransform((1.0, -2.0, 3.0), 0.1, -0.2, 0.3, (4.0, 5.0, -6.0))
    back = rigid_from_matrix(matrix_of(tx))
    pts = [(10.0, 20.0, 30.0), (-50.0, 0.0, 80.0)]
    for p in pts:
        assert np.allclose(back.TransformPoint(p), tx.TransformPoint(p), atol=1e-9)
    scaled = matrix_of(tx)
    scaled[:3, :3] *= 1.1
    with pytest.raises(RegistrationError, match="not a rigid"):
        rigid_from_matrix(scaled)


def test_downsample_keeps_thick_slices() -> None:
    from radnec.fuse.rigid import downsample

    img = sitk.Image((64, 64, 12), sitk.sitkFloat32)
    img.SetSpacing((0.9, 0.9, 5.5))
    out = downsample(img, spacing_mm=4.0)  # in-plane shrunk x4, 5.5 mm slices left alone
    assert out.GetSize() == (16, 16, 12)
    assert np.allclose(out.GetSpacing(), (3.6, 3.6, 5.5))
