"""`radnec export` (through the workspace hook the pipeline provides), pseudonymisation, PDF."""

from __future__ import annotations

import sys

import pydicom
import pytest

from radnec.cli import main
from radnec.export.inputs import ExportInputs
from tests.export.conftest import dciodvfy_errors
from tests.export.phantom_inputs import phantom_export_inputs

IDENTIFYING = ("PatientBirthDate", "PatientSex", "AccessionNumber", "ReferringPhysicianName", "StudyDate", "StudyTime")


@pytest.fixture()
def workspace(phantom_case, monkeypatch, tmp_path):
    """Stand-in for ``radnec.pipeline.exports.load_export_inputs`` built from a phantom's truth (the real
    one, over an analyze workspace, is tested in tests/pipeline/test_stages.py)."""
    case, truth = phantom_case("marginal")
    analysis, planning_files, followups = phantom_export_inputs(case, truth)
    report = tmp_path / "analysis" / "report.html"
    report.parent.mkdir()
    report.write_text("<html><body><h1>radnec report</h1><p>P(progression) 0.63</p></body></html>")

    def load_export_inputs(analysis_dir):
        assert analysis_dir == report.parent
        return ExportInputs(analysis=analysis, planning_files=planning_files, followups=followups, report_html=report)

    monkeypatch.setattr("radnec.pipeline.exports.load_export_inputs", load_export_inputs)
    return report.parent, planning_files


def test_export_command_deidentifies_every_object_with_one_pseudonym(workspace, tmp_path, capsys):
    analysis_dir, planning_files = workspace
    out = tmp_path / "dicom"
    assert main(["export", str(analysis_dir), "--to", str(out), "--deidentify", "--pseudonym", "RADNEC-TEST01"]) == 0
    assert "4 DICOM files written" in capsys.readouterr().out
    plan = pydicom.dcmread(planning_files[0], stop_before_pixels=True)
    files = sorted(out.glob("*.dcm"))
    assert len(files) == 4
    for f in files:
        ds = pydicom.dcmread(f)
        assert str(ds.PatientName) == "RADNEC-TEST01" and ds.PatientID == "RADNEC-TEST01", f.name
        assert ds.PatientIdentityRemoved == "YES"
        for key in IDENTIFYING:
            assert not ds.get(key), (f.name, key)
        assert "PHANTOM" not in str(ds), f.name  # nowhere, nested sequences included
        assert ds.StudyInstanceUID == plan.StudyInstanceUID or f.name.startswith(("SEG", "RTSTRUCT_FU", "SR"))
        assert dciodvfy_errors(f) == [], f.name


def test_export_command_without_a_workspace_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delitem(sys.modules, "radnec.pipeline.workspace", raising=False)
    code = main(["export", str(tmp_path), "--to", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("radnec: error: ")


def test_export_pdf(workspace, tmp_path):
    from radnec.export.pdf import find_chromium

    if find_chromium() is None:
        pytest.skip("Chromium not installed (Debian package chromium; .ci/run installs it)")
    analysis_dir, _ = workspace
    out = tmp_path / "dicom"
    assert main(["export", str(analysis_dir), "--to", str(out), "--pdf"]) == 0
    ds = pydicom.dcmread(out / "REPORT.dcm")
    assert ds.MIMETypeOfEncapsulatedDocument == "application/pdf"
    assert bytes(ds.EncapsulatedDocument)[:4] == b"%PDF"
    assert dciodvfy_errors(out / "REPORT.dcm") == []


def test_encapsulated_pdf_dataset_is_valid_without_a_browser(workspace, tmp_path):
    """The DICOM wrapper alone, on a minimal hand-made PDF (runs where Chromium is missing)."""
    from radnec.export.pdf import encapsulated_pdf_dataset

    _, planning_files = workspace
    pdf = (b"%PDF-1.1\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj "
           b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 100 100]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
    ds = encapsulated_pdf_dataset(pdf=pdf, reference=pydicom.dcmread(planning_files[0], stop_before_pixels=True))
    ds.save_as(tmp_path / "r.dcm", enforce_file_format=True)
    back = pydicom.dcmread(tmp_path / "r.dcm")
    assert bytes(back.EncapsulatedDocument)[: back.EncapsulatedDocumentLength] == pdf
    assert dciodvfy_errors(tmp_path / "r.dcm") == []
