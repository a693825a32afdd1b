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


@pytest.mark.parametrize(
    "kwargs",
    [
        {"spacing": (0.9, 0.9, 6.0), "outer_mm": 12.0, "core_mm": 9.0, "size": 80},  # 2-D T1c, 5 mm + 1 mm gap
        {"spacing": (0.9, 0.9, 5.0), "outer_mm": 10.0, "core_mm": 7.5, "size": 80},
    ],
)
def test_ring_lesion_on_thick_two_d_slices(kwargs):
    # the thresholds use an in-plane median on thick slices: a 3-D median mixed slices 5–6 mm apart
    # and lost the rim on the end slices (Dice 0.74 / 0.77 and -41 % / -38 % volume before)
    s = rim_lesion(**kwargs)
    c = segment_from_seed(s.t1c, s.centre_lps)
    assert dice(c.lesion, s.lesion) >= 0.88
    assert mask_volume_cc(c.lesion) == pytest.approx(mask_volume_cc(s.lesion), rel=0.2)


def _faint_nodule_beside_white_matter(seed: int = 0) -> tuple[sitk.Image, tuple[float, ...], float]:
    """2 mm grid: grey matter 300, a white-matter tongue at 390 (above the tissue median, as white matter
    is on T1) and a faint 3.5 mm nodule (+190 at its centre) 3 mm from it; (image, nodule centre, truth cm³)."""
    rng = np.random.default_rng(seed)
    n, sp = 48, 2.0
    zz, yy, xx = np.meshgrid(*(np.arange(n) * sp,) * 3, indexing="ij")
    c = n / 2 * sp
    head = (zz - c) ** 2 + (yy - c) ** 2 + (xx - c) ** 2 <= 44**2
    arr = np.where(head, 300.0, 0.0)
    arr[head & (np.abs(yy - c) <= 8) & (np.abs(zz - c) <= 14) & (xx > c - 30)] = 390.0
    nodule = np.clip((3.5 - np.sqrt((zz - c) ** 2 + (yy - c - 11) ** 2 + (xx - c) ** 2)) / 2.0 + 0.5, 0, 1)
    arr = arr + 190.0 * nodule + rng.normal(0, 8, arr.shape) * head
    im = sitk.GetImageFromArray(arr.astype(np.float32))
    im.SetSpacing((sp,) * 3)
    centre = im.TransformContinuousIndexToPhysicalPoint((n / 2, n / 2 + 11 / sp, n / 2))
    return im, centre, float((nodule >= 0.5).sum()) * sp**3 / 1000.0


def test_faint_small_nodule_does_not_spill_into_white_matter():
    # a responding metastasis of 0.1–0.2 cm³: half its contrast lies below white matter; without the
    # threshold-stability rule the region grew into the white matter (38.8 cm³ here, 33.7 on a phantom)
    im, centre, truth_cc = _faint_nodule_beside_white_matter()
    c = segment_from_seed(im, centre)
    assert mask_volume_cc(c.lesion) <= 3 * truth_cc
    spilled = segment_from_seed(im, centre, leak_collapse_ratio=1e9)  # the rule off: the test can fail
    assert mask_volume_cc(spilled.lesion) > 20 * truth_cc
