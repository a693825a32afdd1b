"""``radnec dvh`` end to end on the dicompyler fixture, and its clear errors (exit code 2)."""

from __future__ import annotations

import json

import pytest

from radnec.cli import main


def _args(data_dir, *extra):
    d = data_dir / "rt-dicompyler"
    return ["dvh", "--dose", str(d / "rtdose.dcm"), "--struct", str(d / "rtss.dcm"), *extra]


def test_json_output(data_dir, capsys):
    code = main(_args(data_dir, "--plan", str(data_dir / "rt-dicompyler" / "rtplan.dcm"), "--roi", "heart", "--roi", "Scar", "--json"))
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["prescription_gy"] == 14.0
    heart, scar = out["rois"]
    assert heart["name"] == "Heart" and heart["volume_cc"] == pytest.approx(440.23, rel=0.005)
    tps = heart["tps"]
    assert (tps["dose_units"], tps["summary_dose_units"]) == ("GY", "PERCENT_OF_PRESCRIPTION")
    assert tps["first_bin_centre_gy"] == pytest.approx(0.005)
    assert tps["volume_from_mean_cc"] == pytest.approx(tps["volume_cc"], rel=1e-3)
    assert tps["radnec_volume_cc_at_first_bin_centre"] == pytest.approx(heart["volume_cc"])
    assert heart["dmean_gy"] == pytest.approx(heart["tps"]["dmean_gy"], rel=0.01)
    assert scar["d0_03cc_gy"] <= scar["dmax_gy"]
    assert set(scar["coverage_pct"]) == {"rx100", "rx80", "rx50"}
    assert "disclaimer" in out


def test_table_output(data_dir, capsys):
    assert main(_args(data_dir, "--roi", "Tumor Bed", "--no-end-cap")) == 0
    assert "Tumor Bed" in capsys.readouterr().out


def test_unknown_roi_exit_2(data_dir, capsys):
    assert main(_args(data_dir, "--roi", "liver")) == 2
    err = capsys.readouterr().err
    assert "no ROI named 'liver'" in err and "Heart" in err


def test_mismatched_frame_of_reference_exit_2(data_dir, capsys):
    code = main(["dvh", "--dose", str(data_dir / "rt-dicompyler" / "rtdose.dcm"), "--struct", str(data_dir / "rt-brain-srs" / "RS.dcm")])
    assert code == 2
    assert "frame of reference" in capsys.readouterr().err


def test_swapped_files_exit_2(data_dir, capsys):
    d = data_dir / "rt-dicompyler"
    assert main(["dvh", "--dose", str(d / "rtss.dcm"), "--struct", str(d / "rtdose.dcm")]) == 2
    assert "not an RTDOSE" in capsys.readouterr().err


def test_missing_file_exit_2(tmp_path, data_dir, capsys):
    code = main(["dvh", "--dose", str(tmp_path / "nope.dcm"), "--struct", str(data_dir / "rt-dicompyler" / "rtss.dcm")])
    assert code == 2


def test_interpolation_option(data_dir, capsys):
    assert main(_args(data_dir, "--roi", "Tumor Bed", "--no-end-cap", "--interpolation", "shape", "--json")) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["interpolation"] == "shape"
    bed = out["rois"][0]
    # without end-caps (Eclipse's convention) the TPS volume within 1 %
    assert bed["volume_cc"] == pytest.approx(bed["tps"]["volume_cc"], rel=0.01)
    assert "shape-based" in bed["method"]["structure"]


def test_bad_interpolation_exit_2(data_dir, capsys):
    assert main(_args(data_dir, "--roi", "Heart", "--interpolation", "cubic")) == 2
    assert "--interpolation must be" in capsys.readouterr().err


def test_each_target_of_a_multi_target_plan_keeps_its_prescription(data_dir, tmp_path, capsys):
    """The fixture plan given per-ROI targets (Tumor Bed 14 Gy, Scar 12 Gy): coverage of each ROI is
    read against its own prescription; --rx overrides both."""
    import pydicom
    from pydicom.dataset import Dataset

    plan = pydicom.dcmread(data_dir / "rt-dicompyler" / "rtplan.dcm")
    plan.DoseReferenceSequence[0].ReferencedROINumber = 9
    extra = Dataset()
    extra.DoseReferenceNumber, extra.DoseReferenceStructureType, extra.DoseReferenceType = 3, "VOLUME", "TARGET"
    extra.TargetPrescriptionDose, extra.ReferencedROINumber = 12.0, 8
    plan.DoseReferenceSequence.append(extra)
    rp = tmp_path / "rtplan.dcm"
    plan.save_as(rp)
    assert main(_args(data_dir, "--plan", str(rp), "--roi", "Scar", "--roi", "Tumor Bed", "--json")) == 0
    scar, bed = json.loads(capsys.readouterr().out)["rois"]
    assert (scar["prescription_gy"], bed["prescription_gy"]) == (12.0, 14.0)
    assert main(_args(data_dir, "--plan", str(rp), "--roi", "Scar", "--rx", "14", "--json")) == 0
    (scar14,) = json.loads(capsys.readouterr().out)["rois"]
    assert scar14["prescription_gy"] == 14.0 and scar14["coverage_pct"]["rx100"] < scar["coverage_pct"]["rx100"]
