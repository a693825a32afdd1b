"""The case list (folder or CSV) and the input fingerprint that --resume compares."""

from __future__ import annotations

import pytest

from radnec.cohort.cases import fingerprint, read_cases
from radnec.errors import InputError


def _folder(tmp_path):
    root = tmp_path / "cases"
    for name in ("p1", "p2"):
        (root / name / "dicom").mkdir(parents=True)
        (root / name / "dicom" / "x.dcm").write_bytes(name.encode())
    (root / "p2" / "clinical.yaml").write_text("schema_version: 1\n")
    (root / ".hidden").mkdir()
    return root


def test_folder_of_cases_finds_clinical_files(tmp_path):
    p1, p2 = read_cases(_folder(tmp_path))
    assert (p1.case, p1.clinical) == ("p1", None)
    assert p2.case == "p2" and p2.clinical is not None and p2.clinical.name == "clinical.yaml"


def test_csv_with_clinical_seed_and_frame(tmp_path):
    root = _folder(tmp_path)
    csv = tmp_path / "cohort.csv"
    csv.write_text("case,path,clinical,seed_lps,seed_frame\n"
                   "one,cases/p1,cases/p2/clinical.yaml,\"-12.5, 30, 4\",latest\n"
                   "two,cases/p2,,,\n")
    one, two = read_cases(csv)
    assert one.path == (root / "p1").resolve() and one.clinical == (root / "p2" / "clinical.yaml").resolve()
    assert one.seed_lps == (-12.5, 30.0, 4.0) and one.seed_frame == "latest"
    assert two.seed_lps is None and two.seed_frame == "planning" and two.clinical is None


@pytest.mark.parametrize("text, match", [
    ("case,path\na,x\na,y\n", "duplicate case names: a"),
    ("case\na\n", "lacks the column"),
    ("case,path,seed_lps\na,x,1;2\n", "seed_lps"),
    ("case,path\n../evil,x\n", "case name"),
])
def test_bad_csv_rows_are_named(tmp_path, text, match):
    csv = tmp_path / "c.csv"
    csv.write_text(text)
    with pytest.raises(InputError, match=match):
        read_cases(csv)


def test_fingerprint_follows_files_seed_and_code(tmp_path):
    root = _folder(tmp_path)
    p1 = read_cases(root)[0]
    base = fingerprint(p1, "v1")
    assert fingerprint(p1, "v1") == base
    assert fingerprint(p1, "v2") != base
    (root / "p1" / "dicom" / "x.dcm").write_bytes(b"changed")
    changed = fingerprint(p1, "v1")
    assert changed != base
    (root / "p1" / "dicom" / "x.dcm").rename(root / "p1" / "dicom" / "y.dcm")  # same contents, other name
    assert fingerprint(p1, "v1") != changed
    from dataclasses import replace

    assert fingerprint(replace(p1, seed_lps=(1.0, 2.0, 3.0)), "v1") != fingerprint(p1, "v1")
