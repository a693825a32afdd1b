"""Leeman's edema/lesion ratio and the normal-tissue statistics behind the FLAIR edema threshold."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from radnec.lesion.conventions import Compartments
from radnec.lesion.edema import edema_normal_stats
from radnec.lesion.intensity import robust_stats
from radnec.lesion.longitudinal import observations
from radnec.lesion.morphology import measure_timepoint


def _mask(arr: np.ndarray, spacing=(1.0, 1.0, 2.0)) -> sitk.Image:
    img = sitk.GetImageFromArray(arr.astype(np.uint8))
    img.SetSpacing(spacing)
    return img


def test_edema_ratio_is_leemans_edema_over_whole_t1c_lesion():
    # rim lesion: 4 x 10 x 10 enhancing shell around a 2 x 4 x 4... built explicitly voxel by voxel
    shape = (20, 40, 40)
    lesion = np.zeros(shape, bool)
    lesion[5:15, 10:30, 10:30] = True                      # 4000 voxels x 2 mm3 = 8 cm3
    necrotic = np.zeros(shape, bool)
    necrotic[7:13, 14:26, 14:26] = True                    # 864 voxels = 1.728 cm3
    edema = np.zeros(shape, bool)
    edema[1:19, 2:38, 2:38] = True
    edema &= ~lesion                                        # 23328 - 4000 = 19328 voxels = 38.656 cm3
    c = Compartments(lesion=_mask(lesion), enhancing=_mask(lesion & ~necrotic), necrotic=_mask(necrotic),
                     edema=_mask(edema))
    m = measure_timepoint(c, days_since_srs=200)
    assert m.lesion_cc == pytest.approx(8.0)
    assert m.edema_cc == pytest.approx(38.656)
    assert m.edema_enhancement_ratio == pytest.approx(38.656 / 8.0)          # Leeman: whole T1c lesion
    assert m.edema_to_enhancing_ratio == pytest.approx(38.656 / (8.0 - 1.728))
    obs = {o.name: o for o in observations(m)}
    assert obs["edema_enhancement_ratio"].value == pytest.approx(38.656 / 8.0)
    assert "whole T1c lesion" in obs["edema_enhancement_ratio"].note
    # without a necrotic/enhancing split both ratios are the same number
    m2 = measure_timepoint(Compartments(lesion=_mask(lesion), edema=_mask(edema)))
    assert m2.edema_enhancement_ratio == pytest.approx(38.656 / 8.0)


def test_normal_tissue_statistics_ignore_a_large_connected_edema():
    """Extensive edema filling a third of the statistics box must not lift the 'normal' FLAIR level
    (the plain robust median/MAD would, and the edema threshold would lose faint edema), and grey
    matter (a second normal mode, brighter than white matter) must stay normal."""
    rng = np.random.default_rng(0)
    shape = (40, 60, 60)
    zz, yy, xx = np.indices(shape)
    grey = (xx % 12) < 4                                            # grey-matter stripes: 1/3 of the tissue
    arr = np.where(grey, 560.0, 420.0) + rng.normal(0, 20, shape)
    lesion = (zz - 20) ** 2 + (yy - 30) ** 2 + (xx - 20) ** 2 <= 5**2
    edema = (np.abs(zz - 20) <= 18) & (np.abs(yy - 30) <= 22) & (np.abs(xx - 20) <= 12) & ~lesion
    arr[edema] = 930.0 + rng.normal(0, 20, int(edema.sum()))
    tissue = ~lesion
    near = np.zeros(shape, bool)
    near[14:27, 24:37, 14:27] = True
    normal, cand = edema_normal_stats(arr, tissue, tissue, near, 2.0)
    ref = robust_stats(arr[tissue & ~edema])
    plain = robust_stats(arr[tissue])
    assert edema.sum() > 0.25 * tissue.sum()
    assert abs(normal.median - ref.median) < 10 < abs(plain.median - ref.median)
    assert normal.sd < 0.6 * plain.sd
    assert (cand & edema).sum() / edema.sum() > 0.99
    # the edema boundary (half contrast between the candidates and normal tissue) stays above grey matter
    threshold = 0.5 * (float(arr[cand].mean()) + normal.median)
    assert 560 + 3 * 20 < threshold < 930 - 3 * 20
