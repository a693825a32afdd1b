"""Deformable refinement around the lesion (default engine itk-elastix, and SimpleITK demons): follows
the mass effect the rigid step cannot, without folding, in the project's transform convention;
refuses a lesion outside the image and an unknown engine."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from radnec.errors import RegistrationError
from radnec.fuse.deformable import register_deformable
from radnec.fuse.fusion import fuse
from radnec.fuse.synthetic import target_registration_error


@pytest.fixture(scope="module")
def deformable_result(mass_effect_pair):  # noqa: ANN001, ANN201
    p = mass_effect_pair
    return fuse(p.planning, p.followup, moving_lesion_mask=p.followup_lesion_mask, fixed_lesion_mask=p.planning_lesion_mask)


@pytest.fixture(scope="module")
def demons_result(mass_effect_pair):  # noqa: ANN001, ANN201
    p = mass_effect_pair
    return fuse(
        p.planning, p.followup, moving_lesion_mask=p.followup_lesion_mask, fixed_lesion_mask=p.planning_lesion_mask, engine="demons"
    )


@pytest.mark.parametrize("which", ["deformable_result", "demons_result"])
def test_deformable_follows_mass_effect(mass_effect_pair, which, request) -> None:
    res = request.getfixturevalue(which)
    assert res.parameters["deformable_engine"] == ("elastix" if which == "deformable_result" else "demons")
    assert isinstance(res.deformation, sitk.DisplacementFieldTransform)
    assert res.method == "registered-rigid+deformable"
    assert res.deformation is not None
    rigid = target_registration_error(mass_effect_pair, res.rigid)
    full = target_registration_error(mass_effect_pair, res.transform)
    # the rigid step cannot follow a 4 mm mass effect near the lesion; the deformable step does better
    assert rigid["near"]["mean"] > 1.0
    assert full["near"]["mean"] < 0.9 * rigid["near"]["mean"], (rigid["near"], full["near"])
    assert full["near"]["p95"] < rigid["near"]["p95"]
    # far from the lesion the field is the identity: no harm to the whole-brain alignment
    assert full["brain"]["mean"] < 1.5
    q = res.quality
    assert q["folded_fraction"] == 0.0
    assert q["jacobian_min"] > 0.0
    assert q["max_displacement_mm"] < 10.0
    # a correct result is not flagged (the det(J) range is judged away from the lesion edge)
    assert not res.poor_quality, q["failed_checks"]


def test_elastix_beats_demons_near_the_lesion(mass_effect_pair, deformable_result, demons_result) -> None:
    elx = target_registration_error(mass_effect_pair, deformable_result.transform)
    dem = target_registration_error(mass_effect_pair, demons_result.transform)
    assert elx["near"]["p95"] < dem["near"]["p95"], (elx["near"], dem["near"])


def test_unknown_engine_is_refused(mass_effect_pair) -> None:
    p = mass_effect_pair
    with pytest.raises(RegistrationError, match="unknown deformable engine"):
        fuse(p.planning, p.followup, lesion_center_lps=p.lesion_center_lps, engine="syn")


def test_wrong_initialisation_is_flagged_after_deformable(mass_effect_pair, deformable_result) -> None:
    p = mass_effect_pair
    wrong = sitk.Euler3DTransform(deformable_result.rigid)
    wrong.SetRotation(0.5, -0.3, 0.4)  # ~30 degrees off
    wrong.SetTranslation(tuple(np.asarray(wrong.GetTranslation()) + (20.0, -15.0, 10.0)))
    res = fuse(
        p.planning, p.followup, registration=wrong, moving_lesion_mask=p.followup_lesion_mask, fixed_lesion_mask=p.planning_lesion_mask
    )
    assert res.poor_quality and res.quality["failed_checks"]


def test_field_is_identity_far_from_the_lesion(mass_effect_pair, deformable_result) -> None:
    far = np.array([-75.0, -85.0, -70.0])  # beyond the deformable box around the lesion at (15, 10, 5)
    d = deformable_result.deformation.TransformPoint(tuple(far))
    assert np.allclose(d, far, atol=1e-9)


def test_lesion_outside_image_is_refused(mass_effect_pair) -> None:
    p = mass_effect_pair
    with pytest.raises(RegistrationError, match="outside the planning image"):
        register_deformable(p.planning, p.followup, rigid=sitk.Euler3DTransform(), center_lps=np.array([500.0, 0.0, 0.0]))


def test_rigid_only_when_no_lesion_is_given(mass_effect_pair) -> None:
    p = mass_effect_pair
    res = fuse(p.planning, p.followup, rigid_options={"level_spacings_mm": (5.0,)})
    assert res.deformation is None and res.method == "registered-rigid"
    assert any("deformable refinement skipped" in w for w in res.warnings)


def test_large_masked_region_is_filled_without_folding() -> None:
    """A hemisphere-scale oedema hole: the fill must continue the surrounding displacement (a
    linear field is harmonic, so it is reproduced exactly) instead of decaying towards zero and
    folding the field at the hole's edge."""
    from radnec.fuse.field import inpaint_field

    shape = (40, 40, 40)
    zz, yy, xx = np.meshgrid(*[np.arange(n) * 2.0 for n in shape], indexing="ij")
    field = np.stack([0.05 * xx + 1.0, 0.03 * yy, -0.02 * zz + 4.0], axis=-1)  # mm, smooth, no folding
    hole = (zz - 40) ** 2 + (yy - 40) ** 2 + (xx - 40) ** 2 < 30.0**2  # radius 30 mm
    holed = field.copy()
    holed[hole] = 0.0
    filled = inpaint_field(holed, hole, (2.0, 2.0, 2.0), sigma_mm=3.0)
    assert np.max(np.abs(filled - field)) < 1e-4
    img = sitk.GetImageFromArray(filled, isVector=True)
    img.SetSpacing((2.0, 2.0, 2.0))
    assert sitk.GetArrayFromImage(sitk.DisplacementFieldJacobianDeterminant(img)).min() > 0


def test_both_engines_share_the_region_and_tail_defaults():
    """demons and elastix take the same region/tail parameters with the same defaults (radnec.fuse.region)."""
    import inspect

    from radnec.fuse import region
    from radnec.fuse.elastix import register_deformable_elastix

    shared = {
        "margin_mm": region.DEFAULT_MARGIN_MM,
        "taper_mm": region.DEFAULT_TAPER_MM,
        "mask_margin_mm": region.DEFAULT_MASK_MARGIN_MM,
        "bias_sigma_mm": region.DEFAULT_BIAS_SIGMA_MM,
        "field_spacing_mm": region.DEFAULT_FIELD_SPACING_MM,
    }
    for engine in (register_deformable, register_deformable_elastix):
        params = inspect.signature(engine).parameters
        assert {k: params[k].default for k in shared} == shared, engine.__name__


def test_field_grid_and_taper_keep_the_box_and_vanish_at_its_border():
    from radnec.fuse.field import field_grid, tapered_transform

    box = sitk.Image((41, 31, 21), sitk.sitkFloat32)
    box.SetSpacing((1.0, 1.0, 1.5))
    box.SetOrigin((-20.0, -15.0, -15.0))
    ref = field_grid(box, 2.0)
    assert ref.GetSize() == (21, 16, 16) and ref.GetOrigin() == box.GetOrigin() and ref.GetSpacing() == (2.0, 2.0, 2.0)
    field = sitk.GetImageFromArray(np.ones(ref.GetSize()[::-1] + (3,)), isVector=True)
    field.CopyInformation(ref)
    t = tapered_transform(field, 10.0)
    out = sitk.GetArrayFromImage(t.GetDisplacementField())
    assert np.all(out[0] == 0) and np.all(out[:, :, -1] == 0)  # zero displacement on the box border
    assert np.allclose(out[8, 8, 10], 1.0)  # untouched beyond taper_mm from every face
    assert np.all((out >= 0) & (out <= 1))
