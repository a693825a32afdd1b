from __future__ import annotations

import json

import pytest

from radnec import cli


def _objects(doc, kind):
    return [
        o
        for p in doc["inventory"]["patients"]
        for st in p["studies"]
        for f in st["frames_of_reference"]
        for s in f["series"]
        for o in s["objects"]
        if o["kind"] == kind
    ]


@pytest.fixture(scope="module")
def demo_json(data_dir):
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli.main(["inspect", str(data_dir / "ingest-demo"), "--json"])
    assert code == 0
    return json.loads(buf.getvalue())


def test_inspect_json_header(demo_json):
    assert demo_json["schema"] == "radnec-inspect" and demo_json["schema_version"] == 1
    assert set(demo_json["readers_available"]) == {"rtdose", "rtstruct", "roi_volume_cc", "rtplan", "reg"}
    assert all(demo_json["readers_available"].values())


def test_inspect_json_rt_bundle(demo_json):
    """The issue's dicompyler acceptance, on the cropped copy (see tests/data/ingest-demo/PROVENANCE.md):
    10 ROIs, 14 Gy in 7 fractions, dose maximum 14.68 Gy, and dose/plan/structures belong together."""
    (ss,) = _objects(demo_json, "RTSTRUCT")
    assert ss["details"]["n_rois"] == 10
    (plan,) = _objects(demo_json, "RTPLAN")
    rx = plan["details"].get("prescription_gy", plan["details"]["target_prescription_dose_gy"])
    assert rx == pytest.approx(14.0) and plan["details"]["fractions"] == 7
    (dose,) = _objects(demo_json, "RTDOSE")
    assert dose["details"]["max_dose_gy"] == pytest.approx(14.68, abs=0.01)
    (bundle,) = demo_json["inventory"]["rt_bundles"]
    assert bundle["consistent"] is True
    assert bundle["rtplan_uid"] == plan["sop_instance_uid"]
    assert bundle["rtdose_uids"] == [dose["sop_instance_uid"]]
    assert bundle["rtstruct_uid"] == ss["sop_instance_uid"]


def test_inspect_json_geometry_and_problems(demo_json):
    assert demo_json["problems"] == []
    series = [
        s
        for p in demo_json["inventory"]["patients"]
        for st in p["studies"]
        for f in st["frames_of_reference"]
        for s in f["series"]
        if s["kind"] == "MR"
    ]
    assert sorted(s["geometry"]["size"][2] for s in series) == [4, 8]
    assert {s["geometry"]["orientation"] for s in series} == {"sagittal"}
    (seg,) = _objects(demo_json, "SEG")
    assert seg["details"]["segments"][0]["label"] == "Liver"
    assert seg["details"]["segments"][0]["volume_cc"] > 0


def test_inspect_tables(data_dir, capsys):
    assert cli.main(["inspect", str(data_dir / "ingest-demo")]) == 0
    out = capsys.readouterr().out
    assert "belong together" in out
    assert "RTSTRUCT" in out and "10 ROIs" in out and "Skipped files" in out


def test_inspect_strict_fails_on_broken_reference(data_dir, capsys):
    assert cli.main(["inspect", str(data_dir / "ingest-demo" / "seg"), "--strict"]) == 2
    err = capsys.readouterr().err
    assert "liver_1frame.dcm references SERIES" in err and "Traceback" not in err


def test_inspect_headers_only_is_fast_and_quiet(data_dir, capsys):
    assert cli.main(["inspect", str(data_dir / "ingest-demo"), "--headers-only", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert all(s.get("geometry") is None for p in doc["inventory"]["patients"] for st in p["studies"]
               for f in st["frames_of_reference"] for s in f["series"])


def test_inspect_missing_path(tmp_path, capsys):
    assert cli.main(["inspect", str(tmp_path / "missing")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_inspect_empty_folder(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    assert cli.main(["inspect", str(tmp_path)]) == 2
    assert "nothing radnec can use was found" in capsys.readouterr().err


def test_inspect_lists_the_targets_of_a_multi_target_plan(tmp_path, capsys):
    from rt_factory import add_target_prescription, write_rtplan

    p = write_rtplan(tmp_path / "rp.dcm", rx=24.0)
    add_target_prescription(p, roi=2, rx=18.0)
    assert cli.main(["inspect", str(tmp_path), "--json"]) == 0
    (plan,) = _objects(json.loads(capsys.readouterr().out), "RTPLAN")
    assert plan["details"]["target_prescriptions_gy"] == {"1": 24.0, "2": 18.0}
    assert cli.main(["inspect", str(tmp_path)]) == 0
    assert "targets ROI 1 24 Gy, ROI 2 18 Gy" in capsys.readouterr().out
