from __future__ import annotations

import json
import shutil

import pytest
from ingest_factory import write_series

from radnec.errors import InputError
from radnec.ingest.scan import scan


@pytest.fixture(scope="module")
def demo_inventory(data_dir):
    return scan(data_dir / "ingest-demo")


def test_kinds_found(demo_inventory):
    kinds = sorted(s.kind for s in demo_inventory.all_series())
    assert kinds == ["CT", "MR", "MR", "MRS", "RTDOSE", "RTPLAN", "RTSTRUCT", "SEG"]
    assert [v.format for v in demo_inventory.volumes] == ["NIFTI", "NIFTI"]
    assert [f.format for f in demo_inventory.spectroscopy_files] == ["RDA"]
    assert demo_inventory.spectroscopy_files[0].details["VectorSize"] == "1024"


def test_every_file_is_accounted_for(demo_inventory):
    used = sum(s.n_instances for s in demo_inventory.all_series())
    used += len(demo_inventory.volumes) + len(demo_inventory.spectroscopy_files)
    assert used + len(demo_inventory.skipped) == demo_inventory.n_files
    reasons = {s.path.rsplit("/", 1)[-1]: s.reason for s in demo_inventory.skipped}
    assert reasons["LICENSE"].startswith("not DICOM")
    assert "build.py" in reasons


def test_rt_relations_and_bundle(demo_inventory):
    rel = {(r.source_kind, r.relation, r.target_kind): r.found for r in demo_inventory.relations}
    assert rel[("RTDOSE", "dose of plan", "RTPLAN")] is True
    assert rel[("RTPLAN", "plan on structure set", "RTSTRUCT")] is True
    assert rel[("RTSTRUCT", "contours drawn on", "SERIES")] is True
    assert rel[("SEG", "segments of", "SERIES")] is False  # the liver CT is not in the fixture
    (bundle,) = demo_inventory.rt_bundles
    assert bundle.consistent and not bundle.problems
    ct = demo_inventory.series_of_kind("CT")[0]
    assert bundle.image_series_uid == ct.series_instance_uid
    assert any("liver_1frame.dcm references SERIES" in w for w in demo_inventory.warnings)


def test_header_facts(demo_inventory):
    (plan,) = demo_inventory.objects_of_kind("RTPLAN")
    assert plan.details["fractions"] == 7 and plan.details["target_prescription_dose_gy"] == 14.0
    (ss,) = demo_inventory.objects_of_kind("RTSTRUCT")
    assert ss.details["n_rois"] == 10
    (dose,) = demo_inventory.objects_of_kind("RTDOSE")
    assert dose.details["dose_units"] == "GY" and dose.details["grid_size"] == [20, 20, 10]
    (mrs,) = demo_inventory.objects_of_kind("MRS")
    assert mrs.details["data_points"] == 1024


def test_grouping_and_no_patient_identifiers(tmp_path):
    write_series(tmp_path / "a", n=3)
    write_series(tmp_path / "b", n=2)
    inv = scan(tmp_path)
    assert [p.label for p in inv.patients] == ["patient-1"]  # same name/ID -> one patient
    assert len(inv.all_series()) == 2
    text = inv.model_dump_json()
    assert "Secret" not in text and "ID-THAT-MUST-NOT-LEAK" not in text
    json.loads(text)


def test_shared_frame_of_reference_relation(tmp_path):
    write_series(tmp_path / "a", n=3, for_uids=["1.2.9"] * 3)
    write_series(tmp_path / "b", n=2, for_uids=["1.2.9"] * 2)
    inv = scan(tmp_path)
    shared = [r for r in inv.relations if r.relation == "shares frame of reference with"]
    assert len(shared) == 1
    assert {shared[0].source_uid, shared[0].target_uid} == {s.series_instance_uid for s in inv.all_series()}
    assert all(s.frame_of_reference_uid == "1.2.9" for s in inv.all_series())


def test_truncated_and_duplicate_files_are_listed(tmp_path, data_dir):
    src = data_dir / "ingest-demo" / "seg" / "liver_1frame.dcm"
    data = src.read_bytes()
    (tmp_path / "cut.dcm").write_bytes(data[: len(data) // 2])
    shutil.copy(src, tmp_path / "one.dcm")
    shutil.copy(src, tmp_path / "two.dcm")
    (tmp_path / "empty.dcm").write_bytes(b"")
    inv = scan(tmp_path)
    reasons = {s.path.rsplit("/", 1)[-1]: s.reason for s in inv.skipped}
    assert reasons["cut.dcm"].startswith("truncated")
    assert reasons["empty.dcm"].startswith("empty file")
    assert reasons["two.dcm"].startswith("duplicate SOP Instance UID")
    assert len(inv.all_series()) == 1


def test_non_recursive_and_missing_root(tmp_path):
    write_series(tmp_path / "sub", n=2)
    assert scan(tmp_path, recursive=False).all_series() == []
    assert len(scan(tmp_path).all_series()) == 1
    with pytest.raises(InputError, match="no such file or folder"):
        scan(tmp_path / "nope")
