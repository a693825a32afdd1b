"""Quality metrics: a wrong alignment is flagged, a good one is not; Jacobian and picture."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from radnec.fuse import quality
from radnec.fuse.checks import thresholds


def test_wrong_initialisation_is_flagged(rigid_pair, rigid_result) -> None:
    wrong = sitk.Euler3DTransform(rigid_result.rigid)
    wrong.SetRotation(0.5, -0.3, 0.4)  # ~30 degrees off
    wrong.SetTranslation(tuple(np.asarray(wrong.GetTranslation()) + (25.0, -20.0, 15.0)))
    q = quality.assess_registration(rigid_pair.planning, rigid_pair.followup, transform=wrong, initial_transform=rigid_result.rigid)
    assert q["poor_quality"]
    assert q["failed_checks"]
    good = quality.assess_registration(
        rigid_pair.planning, rigid_pair.followup, transform=rigid_result.rigid, initial_transform=wrong
    )
    assert not good["poor_quality"], good["failed_checks"]
    assert good["nmi_after"] > q["nmi_after"]
    assert good["foreground_dice"] > q["foreground_dice"]


def test_similarity_tolerance_separates_noise_from_a_worse_alignment(rigid_pair, rigid_result) -> None:
    tol = thresholds()["similarity"]["min_nmi_gain"]["value"]
    assert tol < 0
    shifted = sitk.Euler3DTransform(rigid_result.rigid)
    shifted.SetTranslation(tuple(np.asarray(shifted.GetTranslation()) + (0.3, 0.0, 0.0)))  # sub-voxel
    # the correct result scores marginally below a start 0.3 mm away (interpolation noise of NMI)
    small = quality.assess_registration(rigid_pair.planning, rigid_pair.followup, transform=rigid_result.rigid, initial_transform=shifted)
    assert tol < small["nmi_after"] - small["nmi_before"] < 0.0
    assert not any("similarity got worse" in c for c in small["failed_checks"])
    far = sitk.Euler3DTransform(rigid_result.rigid)
    far.SetTranslation(tuple(np.asarray(far.GetTranslation()) + (8.0, 0.0, 0.0)))
    big = quality.assess_registration(rigid_pair.planning, rigid_pair.followup, transform=far, initial_transform=rigid_result.rigid)
    assert any("similarity got worse" in c for c in big["failed_checks"])


def test_folding_deformation_is_flagged(rigid_pair) -> None:
    ref = rigid_pair.planning
    field = np.zeros(ref.GetSize()[::-1] + (3,))
    zz = np.arange(ref.GetSize()[2])[:, None, None] * ref.GetSpacing()[2]
    field[..., 2] = np.broadcast_to(-1.5 * zz, field.shape[:3])  # det(J) = 1 - 1.5 < 0
    img = sitk.GetImageFromArray(field, isVector=True)
    img.CopyInformation(ref)
    d = sitk.DisplacementFieldTransform(img)
    stats = quality.jacobian_stats(d)
    assert stats["jacobian_min"] < 0 and stats["folded_fraction"] > 0.5
    q = quality.assess_registration(ref, rigid_pair.followup, transform=d, initial_transform=sitk.Euler3DTransform(), deformation=d)
    assert q["poor_quality"]
    assert any("folds" in c for c in q["failed_checks"])


def test_identity_field_has_unit_jacobian(rigid_pair) -> None:
    ref = rigid_pair.planning
    img = sitk.Image(ref.GetSize(), sitk.sitkVectorFloat64, 3)
    img.CopyInformation(ref)
    stats = quality.jacobian_stats(sitk.DisplacementFieldTransform(img))
    assert abs(stats["jacobian_min"] - 1) < 1e-9 and abs(stats["jacobian_max"] - 1) < 1e-9
    assert stats["folded_fraction"] == 0.0


def test_inverse_consistency_of_exact_inverse_is_zero() -> None:
    tx = sitk.Euler3DTransform((0.0, 0.0, 0.0), 0.1, 0.2, -0.1, (3.0, -4.0, 5.0))
    pts = np.array([[0.0, 0.0, 0.0], [50.0, -30.0, 20.0]])
    assert quality.inverse_consistency_mm(tx, tx.GetInverse(), pts)["max"] < 1e-9
    off = sitk.TranslationTransform(3, (1.0, 0.0, 0.0))
    shifted = sitk.CompositeTransform([off, tx.GetInverse()])
    assert abs(quality.inverse_consistency_mm(tx, shifted, pts)["mean"] - 1.0) < 1e-9


def test_thresholds_are_cited() -> None:
    t = thresholds()
    for group, entries in t.items():
        if group == "version":
            continue
        for name, entry in entries.items():
            assert "value" in entry and "unit" in entry and entry.get("source"), (group, name)
    assert "10.1002/mp.12256" in t["jacobian"]["max_folded_fraction"]["source"]


def test_overlay_png_is_written(tmp_path, rigid_pair, rigid_result) -> None:
    path = quality.overlay_png(
        rigid_pair.planning, rigid_pair.followup, rigid_result.rigid, tmp_path / "o.png", center_lps=rigid_pair.lesion_center_lps
    )
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def _compression_field(ref: sitk.Image, centre: np.ndarray, *, radius_mm: float, strength: float) -> sitk.DisplacementFieldTransform:
    """A smooth displacement pulling points towards ``centre`` inside ``radius_mm``: the local volume
    ratio drops to about ``1 - strength`` at the centre (no folding for strength < 1)."""
    from radnec.geometry import physical_points

    idx = np.argwhere(np.ones(ref.GetSize()[::-1], dtype=bool))
    pts = physical_points(ref, idx)
    d = pts - centre
    r = np.linalg.norm(d, axis=1)
    w = np.exp(-(r / radius_mm) ** 2)
    u = -(strength / 3.0) * d * w[:, None]
    img = sitk.GetImageFromArray(u.reshape(ref.GetSize()[::-1] + (3,)), isVector=True)
    img.CopyInformation(ref)
    return sitk.DisplacementFieldTransform(img)


def test_jacobian_range_is_judged_away_from_the_lesion(rigid_pair) -> None:
    ref = rigid_pair.planning
    centre = np.asarray(rigid_pair.lesion_center_lps)
    d = _compression_field(ref, centre, radius_mm=35.0, strength=0.95)
    raw = quality.jacobian_stats(d, fixed=ref)
    assert raw["folded_fraction"] == 0.0
    assert raw["jacobian_min"] < 0.5 and raw["jacobian_low"] < 0.5  # compression over > 1 % of the head
    # the same compression confined to (the 5 mm margin around) a lesion mask is not judged
    from radnec.geometry import physical_points

    idx = np.argwhere(np.ones(ref.GetSize()[::-1], dtype=bool))
    inside = np.linalg.norm(physical_points(ref, idx) - centre, axis=1) <= 30.0
    mask = sitk.GetImageFromArray(inside.reshape(ref.GetSize()[::-1]).astype(np.uint8))
    mask.CopyInformation(ref)
    masked = quality.jacobian_stats(d, fixed=ref, fixed_exclude=mask)
    assert masked["jacobian_low"] >= 0.5, masked
    assert masked["jacobian_min"] == raw["jacobian_min"]  # the raw minimum is still reported
    q = quality.assess_registration(ref, ref, transform=d, initial_transform=sitk.Euler3DTransform(), deformation=d)
    assert any("volume change" in c for c in q["failed_checks"]), q["failed_checks"]
    q = quality.assess_registration(ref, ref, transform=d, initial_transform=sitk.Euler3DTransform(), deformation=d, fixed_exclude=mask)
    assert not any("volume change" in c for c in q["failed_checks"]), q["failed_checks"]


def test_similarity_is_judged_outside_the_lesion_and_oedema(rigid_pair, rigid_result) -> None:
    """New enhancement/oedema changes the image content: NMI is compared outside those masks."""
    follow = rigid_pair.followup
    arr = sitk.GetArrayFromImage(follow).astype(np.float32)
    zz, yy, xx = np.indices(arr.shape)
    c = np.array(arr.shape) // 2
    blob = (zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 < 12**2
    arr[blob] = arr.max()  # a large, bright new "lesion"
    changed = sitk.GetImageFromArray(arr)
    changed.CopyInformation(follow)
    lesion = sitk.GetImageFromArray(blob.astype(np.uint8))
    lesion.CopyInformation(follow)
    t = rigid_result.rigid
    plain = quality.assess_registration(rigid_pair.planning, follow, transform=t, initial_transform=t)
    unmasked = quality.assess_registration(rigid_pair.planning, changed, transform=t, initial_transform=t)
    masked = quality.assess_registration(rigid_pair.planning, changed, transform=t, initial_transform=t, moving_exclude=lesion)
    assert unmasked["nmi_after"] < plain["nmi_after"] - 0.005  # the change is visible to a whole-image NMI
    assert masked["nmi_after"] > unmasked["nmi_after"]
    assert masked["overlap_fraction"] == pytest.approx(unmasked["overlap_fraction"])
