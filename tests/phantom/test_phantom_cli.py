"""CLI of the phantom: errors give exit code 2 with one clear line; determinism; inspect."""

from __future__ import annotations

import hashlib
import json

import pytest

from radnec import cli
from radnec.phantom import SCENARIOS


def _digest(folder) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.suffix == ".dcm":
            h.update(str(p.relative_to(folder)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.mark.parametrize(
    "args, words",
    [
        (["--scenario", "nonsense"], "unknown scenario"),
        (["--scenario", "necrosis", "--months", "9,3"], "strictly increasing"),
        (["--scenario", "necrosis", "--months", "a,b"], "--months"),
        (["--scenario", "necrosis", "--technique", "proton"], "technique"),
        (["--scenario", "necrosis", "--fractions", "2"], "fractions"),
        (["--scenario", "necrosis", "--voxel-mm", "0.01"], "voxel size"),
        (["--scenario", "necrosis", "--site", "nowhere"], "unknown site"),
    ],
)
def test_bad_input_exit_2(tmp_path, capsys, args, words):
    code = cli.main(["phantom", "--out", str(tmp_path / "x"), "--voxel-mm", "2", *args])
    assert code == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_non_empty_output_refused(tmp_path, capsys):
    (tmp_path / "junk.txt").write_text("x")
    assert cli.main(["phantom", "--scenario", "stable", "--out", str(tmp_path), "--voxel-mm", "3"]) == 2
    assert "not empty" in capsys.readouterr().err


def test_same_seed_same_bytes_and_truth(tmp_path):
    args = ["phantom", "--scenario", "marginal", "--seed", "3", "--months", "4", "--voxel-mm", "3"]
    assert cli.main([*args, "--out", str(tmp_path / "a")]) == 0
    assert cli.main([*args, "--out", str(tmp_path / "b")]) == 0
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    ta = json.loads((tmp_path / "a" / "truth.json").read_text())
    tb = json.loads((tmp_path / "b" / "truth.json").read_text())
    assert ta == tb
    other = ["phantom", "--scenario", "marginal", "--seed", "4", "--months", "4", "--voxel-mm", "3"]
    assert cli.main([*other, "--out", str(tmp_path / "c")]) == 0
    assert _digest(tmp_path / "c") != _digest(tmp_path / "a")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_inspect_reads_case_without_problems(phantom_cases, capsys, scenario):
    folder, _ = phantom_cases[scenario]
    capsys.readouterr()
    assert cli.main(["inspect", str(folder / "dicom"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["problems"] == []
    assert _warnings(out) == []


def _warnings(obj) -> list:
    """Every non-empty value under a key naming warnings, anywhere in the inspect JSON."""
    found = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if "warning" in str(k).lower() and v:
                found.append((k, v))
            found += _warnings(v)
    elif isinstance(obj, list):
        for v in obj:
            found += _warnings(v)
    return found
