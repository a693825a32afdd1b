"""Growth over time, doubling time, RANO-BM course and evidence observations."""

from __future__ import annotations

import math

import pytest

from radnec.errors import InputError
from radnec.lesion.longitudinal import doubling_time_days, lesion_course, observations, pct_per_month
from radnec.lesion.morphology import TimepointMeasures


def _tp(days, lesion_cc, ld, *, enh=None, edema=None, nec=None, steroid=None):
    return TimepointMeasures(
        days_since_srs=days,
        enhancing_cc=enh if enh is not None else lesion_cc,
        edema_cc=edema,
        necrotic_cc=nec,
        lesion_cc=lesion_cc,
        longest_diameter_mm=ld,
        perpendicular_diameter_mm=ld * 0.8,
        axial_slices=10,
        slice_thickness_mm=1.0,
        rano_bm_measurable=ld >= 10,
        measurability="measurable" if ld >= 10 else "non-measurable",
        edema_enhancement_ratio=None if edema is None else edema / lesion_cc,
        necrotic_fraction=None if nec is None else nec / lesion_cc,
        enhancement_pattern=None if nec is None else ("rim" if nec / lesion_cc >= 0.25 else "solid"),
        steroid_dexamethasone_mg_per_day=steroid,
    )


def test_growth_rate_and_doubling_time():
    # 1.5 cm → 3.5 cm nodule in 1.5 months (the tumour-board case): volume x (3.5/1.5)^3
    v1 = 4 / 3 * math.pi * 0.75**3
    v2 = 4 / 3 * math.pi * 1.75**3
    days = 1.5 * 30.44
    assert pct_per_month(v1, v2, days) == pytest.approx(((3.5 / 1.5) ** 3 - 1) * 100 / 1.5)
    assert doubling_time_days(v1, v2, days) == pytest.approx(days * math.log(2) / (3 * math.log(3.5 / 1.5)))
    assert doubling_time_days(2.0, 2.0, 30) is None
    assert doubling_time_days(2.0, 1.0, 30) is None
    assert pct_per_month(0.0, 1.0, 30) is None


def test_course_sorts_time_points_and_categorises():
    tps = [_tp(180, 1.0, 12.0), _tp(0, 1.2, 14.0, steroid=0), _tp(90, 0.8, 11.0), _tp(270, 3.0, 18.0, edema=30.0, nec=1.2)]
    c = lesion_course(tps)
    assert [t.days_since_srs for t in c.timepoints] == [0, 90, 180, 270]
    assert c.rano_bm_category == ["baseline", "SD", "SD", "PD"]
    assert c.nadir_index == 1
    assert c.intervals[-1].volume_growth_pct_per_month == pytest.approx((3.0 / 1.0 - 1) * 100 / (90 / 30.44))
    obs = {o.name: o for o in observations(c)}
    assert obs["rano_bm_category"].value == "PD"
    assert obs["edema_enhancement_ratio"].value == pytest.approx(10.0)
    assert obs["enhancement_pattern"].value == "rim"
    assert obs["longest_diameter_mm"].unit == "mm"
    assert obs["volume_growth_pct_per_month"].unit == "%/month"
    assert "26065612" in c.rano_bm_citation


def test_course_rejects_missing_or_duplicate_days():
    with pytest.raises(InputError, match="days_since_srs"):
        lesion_course([_tp(None, 1.0, 10.0)])
    with pytest.raises(InputError, match="same day"):
        lesion_course([_tp(10, 1.0, 10.0), _tp(10, 1.0, 10.0)])
    with pytest.raises(InputError):
        lesion_course([])
