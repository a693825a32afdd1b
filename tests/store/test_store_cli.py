"""``radnec store import`` and ``radnec store list`` on the command line."""

from __future__ import annotations

from radnec import cli


def test_store_import_and_list(tmp_path, capsys):
    from radnec.phantom.generate import generate_case

    generate_case("stable", 1, tmp_path / "case", months=[3.0], voxel_mm=4.0)
    data = str(tmp_path / "data")
    assert cli.main(["store", "import", str(tmp_path / "case" / "dicom"), "--data", data, "--label", "cli case"]) == 0
    assert "imported case 1" in capsys.readouterr().out
    assert cli.main(["store", "list", "--data", data]) == 0
    out = capsys.readouterr().out
    assert "cli case" in out and "P-" in out and "2 studies" in out
    assert cli.main(["store", "import", str(tmp_path / "nowhere"), "--data", data]) == 2
    (tmp_path / "evil.zip").write_bytes(b"not a zip")
    assert cli.main(["store", "import", str(tmp_path / "evil.zip"), "--data", data]) == 2
    assert "not a readable zip" in capsys.readouterr().err
