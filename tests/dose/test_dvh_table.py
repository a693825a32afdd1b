"""The DVH table behind ``radnec dvh``: frame check, per-target prescription, TPS comparison, and the
inter-plane interpolation choice as an enum whose values are the CLI/JSON strings."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from radnec.dose.dvh import dvh
from radnec.dose.interpolation import PlaneInterpolation
from radnec.dose.table import dvh_rows, require_same_frame, roi_prescription_gy, select_rois
from radnec.errors import FrameOfReferenceError, MissingReferenceError
from radnec.ingest.rtdose import read_rtdose
from radnec.ingest.rtplan import read_rtplan
from radnec.ingest.rtstruct import read_rtstruct


def test_interpolation_enum_values_are_the_cli_and_json_strings():
    assert [m.value for m in PlaneInterpolation] == ["morph", "shape", "spline"]
    assert PlaneInterpolation("shape") is PlaneInterpolation.SHAPE
    assert PlaneInterpolation.SPLINE == "spline"
    assert json.dumps({"interpolation": PlaneInterpolation.MORPH}) == '{"interpolation": "morph"}'
    assert PlaneInterpolation.choices_text() == "morph, shape or spline"
    with pytest.raises(ValueError):
        PlaneInterpolation("cubic")


def test_dvh_takes_the_enum_or_its_string_and_refuses_others(data_dir):
    d = data_dir / "rt-dicompyler"
    dose = read_rtdose(d / "rtdose.dcm").image
    roi = read_rtstruct(d / "rtss.dcm").roi("Scar")
    by_enum = dvh(dose, roi, supersample=2, interpolation=PlaneInterpolation.SHAPE)
    by_text = dvh(dose, roi, supersample=2, interpolation="shape")
    assert by_enum.volume_cc == by_text.volume_cc and by_enum.dmean_gy == by_text.dmean_gy
    assert "signed distance" in by_enum.method["structure"]
    spline = dvh(dose, roi, supersample=2, interpolation="spline")
    assert "A (cubic spline)" in spline.method["structure"] and "A (cubic spline)" not in by_enum.method["structure"]
    with pytest.raises(ValueError, match="'morph', 'shape' or 'spline'"):
        dvh(dose, roi, interpolation="cubic")


def test_prescription_per_target_with_override_and_without_plan():
    plan = SimpleNamespace(prescription_gy=14.0, target_prescriptions_gy={8: 12.0, 9: 14.0})
    assert roi_prescription_gy(8, plan=plan, override_gy=None) == 12.0  # its own target dose
    assert roi_prescription_gy(3, plan=plan, override_gy=None) == 14.0  # not a target: the plan's
    assert roi_prescription_gy(8, plan=plan, override_gy=20.0) == 20.0  # --rx for every ROI
    assert roi_prescription_gy(8, plan=None, override_gy=None) is None
    assert roi_prescription_gy(8, plan=None, override_gy=18.0) == 18.0


def test_frame_check_names_the_structure_file():
    path = Path("/x/rtss.dcm")
    with pytest.raises(FrameOfReferenceError, match="rtss.dcm.*differs from the RTSTRUCT"):
        require_same_frame("1.2.3", "1.2.4", allow_other_frame=False, path=path)
    require_same_frame("1.2.3", "1.2.4", allow_other_frame=True, path=path)
    require_same_frame("1.2.3", None, allow_other_frame=False, path=path)  # nothing stated: nothing to compare
    require_same_frame("1.2.3", "1.2.3", allow_other_frame=False, path=path)


def test_rows_judge_each_roi_against_its_prescription_and_carry_the_tps_dvh(data_dir):
    d = data_dir / "rt-dicompyler"
    plan = read_rtplan(d / "rtplan.dcm")
    rd = read_rtdose(d / "rtdose.dcm", prescription_gy=plan.prescription_gy)
    ss = read_rtstruct(d / "rtss.dcm")
    with pytest.raises(MissingReferenceError):
        select_rois(ss, ["no such roi"], path=d / "rtss.dcm")
    rois = select_rois(ss, ["Heart", "Scar"], path=d / "rtss.dcm")
    rows = dvh_rows(
        rd, rois, plan=plan, override_gy=None, supersample=2, end_cap=True,
        interpolation=PlaneInterpolation.MORPH, cumulative=True, fail_on_geometry_error=True, path=d / "rtss.dcm",
    )
    heart, scar = rows
    assert (heart["name"], scar["name"]) == ("Heart", "Scar")
    rx = plan.target_prescriptions_gy.get(scar["number"], plan.prescription_gy)
    assert scar["prescription_gy"] == rx
    h = dvh(rd.image, rois[1], supersample=2)
    assert scar["coverage_pct"]["rx100"] == pytest.approx(h.v_gy(rx, relative=True))
    assert scar["cumulative"]["dose_gy"][1] - scar["cumulative"]["dose_gy"][0] == pytest.approx(0.1)
    # the fixture's TPS DVH of the heart: radnec's volume at the TPS's first bin equals the TPS's V[0]
    assert heart["tps"]["radnec_volume_cc_at_first_bin_centre"] == pytest.approx(heart["volume_cc"])
    assert heart["tps"]["volume_from_mean_cc"] == pytest.approx(heart["tps"]["volume_cc"], rel=1e-3)
