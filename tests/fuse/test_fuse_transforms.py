"""FusionResult save/load and applying transforms to images, masks and dose."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from radnec.errors import InputError
from radnec.fuse import transforms
from radnec.fuse.transforms import FusionResult


def _grid(size=(40, 40, 30), spacing=(2.0, 2.0, 2.0)) -> sitk.Image:
    img = sitk.Image(size, sitk.sitkFloat32)
    img.SetSpacing(spacing)
    img.SetOrigin((-40.0, -40.0, -30.0))
    return img


def _field(reference: sitk.Image, shift=(0.0, 0.0, 0.0)) -> sitk.DisplacementFieldTransform:
    arr = np.zeros(reference.GetSize()[::-1] + (3,))
    arr[...] = shift
    img = sitk.GetImageFromArray(arr, isVector=True)
    img.CopyInformation(reference)
    return sitk.DisplacementFieldTransform(img)


def test_save_load_round_trip(tmp_path) -> None:
    ref = _grid()
    rigid = sitk.Euler3DTransform((0.0, 0.0, 0.0), 0.05, -0.1, 0.02, (3.0, -2.0, 1.0))
    res = FusionResult(
        rigid=rigid,
        deformation=_field(ref, (0.5, -0.25, 1.0)),
        method="registered-rigid+deformable",
        parameters={"a": 1},
        quality={"poor_quality": False, "nmi_after": 1.2},
        fixed_frame_uid="1.2.3",
        moving_frame_uid="1.2.4",
    )
    transforms.save(res, tmp_path)
    meta = json.loads((tmp_path / "fusion.json").read_text())
    assert meta["convention"].startswith("T maps planning")
    back = transforms.load(tmp_path)
    assert back.method == res.method and back.fixed_frame_uid == "1.2.3" and back.quality["nmi_after"] == 1.2
    pts = np.array([[0.0, 0.0, 0.0], [10.0, -20.0, 5.0], [200.0, 0.0, 0.0]])  # last one outside the field
    assert np.allclose(transforms.displacement_at(back, pts), transforms.displacement_at(res, pts), atol=1e-9)
    # T = R o D: inside the field the shift is applied first, outside only the rigid part.
    inside = rigid.TransformPoint((0.5, -0.25, 1.0))
    assert np.allclose(transforms.displacement_at(res, pts[:1])[0], inside, atol=1e-9)


def test_load_reports_missing_and_bad_files(tmp_path) -> None:
    with pytest.raises(InputError, match="no fusion.json"):
        transforms.load(tmp_path)
    (tmp_path / "fusion.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        transforms.load(tmp_path)
    (tmp_path / "fusion.json").write_text(json.dumps({"version": 1, "files": {"rigid": "rigid.tfm"}}))
    with pytest.raises(InputError, match="missing"):
        transforms.load(tmp_path)


def test_apply_to_mask_label_preserving_and_nearest() -> None:
    ref = _grid()
    arr = np.zeros(ref.GetSize()[::-1], dtype=np.uint8)
    arr[10:20, 12:22, 14:24] = 1
    arr[5:8, 5:8, 5:8] = 2
    mask = sitk.GetImageFromArray(arr)
    mask.CopyInformation(ref)
    shift = sitk.TranslationTransform(3, (4.0, 0.0, 0.0))  # 2 voxels along x
    for method in ("label", "nearest"):
        out = transforms.apply_to_mask(shift, mask, ref, method=method)
        o = sitk.GetArrayFromImage(out)
        assert out.GetPixelID() == sitk.sitkUInt8
        assert set(np.unique(o)) == {0, 1, 2}
        # planning voxel x maps to follow-up x + 4 mm: the block appears 2 voxels earlier.
        assert np.array_equal(o[10:20, 12:22, 12:22], np.ones((10, 10, 10)))
        assert (o == 1).sum() == (arr == 1).sum()
    with pytest.raises(ValueError):
        transforms.apply_to_mask(shift, mask, ref, method="cubic")


def test_apply_to_dose_is_linear_and_image_float() -> None:
    ref = _grid()
    x = np.arange(ref.GetSize()[0]) * 2.0
    dose = sitk.GetImageFromArray(np.broadcast_to(x * 0.5, ref.GetSize()[::-1]).astype(np.float64).copy())
    dose.CopyInformation(ref)
    shift = sitk.TranslationTransform(3, (1.0, 0.0, 0.0))  # half a voxel
    out = sitk.GetArrayFromImage(transforms.apply_to_dose(shift, dose, ref))
    # a linear dose gradient (0.5 Gy/mm) sampled 1 mm further: +0.5 Gy exactly (interior voxels)
    assert np.allclose(out[:, :, 1:-2] - sitk.GetArrayFromImage(dose)[:, :, 1:-2], 0.5, atol=1e-9)
    img = transforms.apply_to_image(shift, dose, ref)
    assert img.GetPixelID() == sitk.sitkFloat32
