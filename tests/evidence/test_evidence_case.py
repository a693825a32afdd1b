"""Clinical case files: valid examples load; invalid ones give one clear line naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from radnec.cli import main
from radnec.errors import CaseFileError
from radnec.evidence.case import load_case, parse_case

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SEED = EXAMPLES / "seed_case.yaml"


def _write(tmp_path: Path, text: str, name: str = "case.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")) + sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_examples_load(path):
    case = load_case(path)
    assert case.srs.days_since is not None


def test_dates_give_days_since_srs():
    case = parse_case({"srs": {"date": "2025-01-01", "assessment_date": "2025-04-11"}})
    assert case.srs.days_since == 100
    obs = {o.name: o.value for o in case.observations()}
    assert obs["days_since_srs"] == 100


BAD = [
    ("srs:\n  fractions: 0\n", "srs.fractions"),
    ("srs:\n  fracions: 1\n", "srs.fracions"),
    ("srs:\n  date: 2025-01-01\n", "srs"),
    ("srs:\n  date: 2025-05-01\n  assessment_date: 2025-01-01\n", "before the SRS date"),
    ("kps: 150\n", "kps"),
    ("primary_histology: lung\n", "primary_histology"),
    ("immunotherapy:\n  agents: dual\n", "immunotherapy"),
    ("tests_done:\n  - {name: rcbv, value: 2.0}\n", "tests_done[0].name"),
    ("tests_done:\n  - {name: dsc_rcbv_max, value: high}\n", "tests_done[0].value"),
    ("tests_done:\n  - {name: pet_tracer, value: PSMA}\n", "tests_done[0].value"),
    ("lesion:\n  diameter_now_mm: -3\n", "lesion.diameter_now_mm"),
    ("- just\n- a list\n", "mapping"),
    ("srs: {fractions: 1\n", "not valid YAML"),
]


@pytest.mark.parametrize("text,field", BAD)
def test_invalid_case_files_name_the_field(tmp_path, text, field):
    path = _write(tmp_path, text)
    with pytest.raises(CaseFileError) as err:
        load_case(path)
    message = str(err.value)
    assert field in message and str(path) in message and "\n" not in message


@pytest.mark.parametrize("text,field", BAD[:4] + BAD[7:9])
def test_cli_exit_2_with_one_line(tmp_path, capsys, text, field):
    path = _write(tmp_path, text)
    assert main(["assess", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and field in err and err.startswith("radnec: error:")


def test_cli_missing_file_and_bad_json(tmp_path, capsys):
    assert main(["assess", str(tmp_path / "nope.yaml")]) == 2
    assert "not found" in capsys.readouterr().err
    bad = _write(tmp_path, "{\"srs\": ", "case.json")
    assert main(["assess", str(bad)]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_json_case_file(tmp_path, capsys):
    path = _write(tmp_path, json.dumps({"srs": {"days_since": 120, "fractions": 3}}), "case.json")
    assert main(["assess", str(path), "--json", "--draws", "2000"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["evidence"]["posterior_tp"] > out["evidence"]["prior_tp"]  # early + fractionated lean progression


def test_v12_is_single_fraction_only():
    sf = {o.name for o in parse_case({"srs": {"days_since": 90, "fractions": 1, "v12_cc": 12}}).observations()}
    mf = {o.name for o in parse_case({"srs": {"days_since": 90, "fractions": 3, "v12_cc": 12}}).observations()}
    assert "v12_cc" in sf and "v12_cc" not in mf
