"""Seed-based semi-automatic segmentation: synthetic truth, a real metastasis, bad seeds."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from radnec.errors import GeometryError, InputError
from radnec.geometry import mask_volume_cc, physical_points
from radnec.lesion.labels import compartments_from_label_map, read_label_map
from radnec.lesion.segment import dice, segment_from_seed

from .synth import rim_lesion


@pytest.mark.parametrize(
    ("kwargs", "min_dice"),
    [
        ({}, 0.95),  # rim + necrotic core, isotropic 1 mm
        ({"core_mm": 0.0}, 0.95),  # solid nodule
        ({"noise": 40.0, "seed": 3}, 0.95),
        ({"spacing": (0.8, 0.8, 3.0)}, 0.85),  # thick slices: partial volume on the end slices
    ],
)
def test_seed_segmentation_matches_synthetic_truth(kwargs, min_dice):
    s = rim_lesion(**kwargs)
    c = segment_from_seed(s.t1c, s.centre_lps, flair=s.flair)
    assert dice(c.lesion, s.lesion) >= min_dice
    assert dice(c.edema, s.edema) >= 0.95
    if kwargs.get("core_mm", 1) > 0:
        assert dice(c.necrotic, s.necrotic) >= 0.8
        assert dice(c.enhancing, s.enhancing) >= 0.8


def test_seed_on_the_rim_gives_the_same_lesion():
    s = rim_lesion()
    x, y, z = s.centre_lps
    on_rim = (x + 7.5, y, z)  # inside the enhancing shell (5.5–9 mm)
    a = segment_from_seed(s.t1c, s.centre_lps)
    b = segment_from_seed(s.t1c, on_rim)
    assert dice(a.lesion, b.lesion) >= 0.97


def test_brats_met_seed_dice_against_model_segmentation(data_dir):
    d = data_dir / "lesion-brats-met-00110"
    t1c = sitk.ReadImage(str(d / "t1c.nii.gz"))
    flair = sitk.ReadImage(str(d / "flair.nii.gz"))
    ref = compartments_from_label_map(read_label_map(d / "seg.nii.gz"), "aurora", reference=t1c)
    arr = sitk.GetArrayFromImage(ref.lesion)
    seed = physical_points(t1c, np.argwhere(arr > 0).mean(0, keepdims=True))[0]
    c = segment_from_seed(t1c, seed, flair=flair)
    assert dice(c.lesion, ref.lesion) >= 0.80
    assert mask_volume_cc(c.edema) == pytest.approx(mask_volume_cc(ref.edema), rel=0.25)


def test_bad_seeds_raise_clear_errors():
    s = rim_lesion(size=48, noise=0.0)
    with pytest.raises(GeometryError, match="outside the image"):
        segment_from_seed(s.t1c, (1000.0, 0.0, 0.0))
    corner = s.t1c.TransformIndexToPhysicalPoint((3, 3, 3))
    with pytest.raises(InputError, match="normal tissue"):
        segment_from_seed(s.t1c, corner)
    other = sitk.Image(s.t1c.GetSize(), sitk.sitkFloat32)
    with pytest.raises(GeometryError, match="FLAIR"):
        segment_from_seed(s.t1c, s.centre_lps, flair=other)
    with pytest.raises(InputError, match="unknown segmentation parameter"):
        segment_from_seed(s.t1c, s.centre_lps, not_a_parameter=1.0)


def test_dark_core_seed_finds_the_whole_rim_across_a_wide_transition_zone():
    # large necrotic core whose T1c rises from dark to normal over 8 mm before the rim (wider than the
    # 6 mm rim search shell): a seed in the dark centre (e.g. the mapped GTV centroid) must give the
    # same lesion as a seed on the rim (regression: phantom necrosis seed 3 gave 8.4 of 19.8 cm3)
    s = rim_lesion(outer_mm=16.0, core_mm=13.0, edema_mm=26.0, size=72, core_ramp_mm=8.0, noise=10.0)
    x, y, z = s.centre_lps
    centre = segment_from_seed(s.t1c, s.centre_lps)
    rim = segment_from_seed(s.t1c, (x + 14.5, y, z))
    assert dice(centre.lesion, s.lesion) >= 0.9
    assert dice(rim.lesion, s.lesion) >= 0.9
    assert dice(centre.enhancing, s.enhancing) >= 0.8
    assert mask_volume_cc(centre.enhancing) == pytest.approx(mask_volume_cc(rim.enhancing), rel=0.05)
