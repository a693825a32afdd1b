"""MRS readers (Siemens RDA/CSA, DICOM MRS from two vendors), processing on a synthetic FID, rejections."""

from __future__ import annotations

import json

import numpy as np
import pytest

from radnec.cli import main
from radnec.errors import InputError
from radnec.imaging.mrs import Fid, analyze_fid, analyze_mrs_file, read_fid, typed_mrs

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _synthetic_fid(amplitudes: dict[float, float], *, n=1024, sw=1200.0, f0=123.2, phase=0.7, flip=False, seed=0):
    t = np.arange(n) / sw
    fid = np.zeros(n, complex)
    for ppm, amp in amplitudes.items():
        hz = (ppm - 4.7) * f0 * (-1 if flip else 1)
        fid += amp * np.exp(2j * np.pi * hz * t - t / 0.08)  # T2* 80 ms
    fid *= np.exp(1j * phase)
    fid += np.random.default_rng(seed).normal(0, 0.02, n) + 1j * np.random.default_rng(seed + 1).normal(0, 0.02, n)
    return Fid(fid, sw, f0, 4.7, 30.0, "synthetic")


@pytest.mark.parametrize("flip", [False, True])
def test_synthetic_ratios_recovered(flip):
    # Equal linewidths: area ratio = amplitude ratio.
    res = analyze_fid(_synthetic_fid({3.22: 1.5, 3.03: 1.0, 2.01: 2.0, 1.33: 0.8}, flip=flip))
    # Simple integration (no lineshape fit): ~10 % bias from overlapping Cho/Cr wings, see docs.
    assert res["cho_cr"] == pytest.approx(1.5, rel=0.15)
    assert res["cho_naa"] == pytest.approx(0.75, rel=0.15)
    assert res["lipid_lactate_present"] is True
    assert res["frequency_axis_reversed"] is flip


def test_no_naa_gives_no_cho_naa():
    res = analyze_fid(_synthetic_fid({3.22: 2.0, 3.03: 1.0}))
    assert res["cho_naa"] is None  # metastases: no NAA, no ratio rather than a huge one
    assert res["cho_cr"] == pytest.approx(2.0, rel=0.15)
    assert res["lipid_lactate_present"] is False


def test_siemens_rda_and_ima_agree(data_dir):
    d = data_dir / "imaging-mrs"
    rda = analyze_mrs_file(d / "SVS_30.rda")
    ima = analyze_mrs_file(d / "SVS_30.IMA")
    assert np.allclose(read_fid(d / "SVS_30.rda").data, read_fid(d / "SVS_30.IMA").data)
    for key in ("cho_cr", "cho_naa"):
        assert rda[key] == pytest.approx(ima[key], rel=0.05)
    # Normal-appearing brain at TE 30 ms: NAA > Cr > Cho.
    assert 0.4 < rda["cho_cr"] < 1.0
    assert rda["cho_naa"] < rda["cho_cr"]
    assert rda["te_ms"] == 30.0


def test_philips_dicom_mrs_picks_the_suppressed_frame(data_dir):
    res = analyze_mrs_file(data_dir / "imaging-mrs" / "IM-0001-0002.dcm")
    assert "Philips" in res["format"] and "frame 1/2" in res["format"]
    assert res["peaks_present"]["naa"] and res["peaks_present"]["cr"]
    assert res["lipid_lactate_present"] is True  # the QA phantom has a lactate doublet


def test_phantom_without_creatine_is_rejected(data_dir):
    with pytest.raises(InputError, match="no creatine peak"):
        analyze_mrs_file(data_dir / "imaging-mrs" / "SVS_XA60.dcm")


def test_rejections(tmp_path):
    for name, reason in (("a.SPAR", "Philips SPAR/SDAT"), ("P12345.7", "GE P-file")):
        (tmp_path / name).write_text("x")
        with pytest.raises(InputError, match=reason):
            read_fid(tmp_path / name)
    (tmp_path / "b.rda").write_bytes(b">>> Begin of header <<<\r\nVectorSize: 1024\r\n>>> End of header <<<\r\n")
    with pytest.raises(InputError, match="DwellTime"):
        read_fid(tmp_path / "b.rda")
    with pytest.raises(InputError, match="typed"):
        typed_mrs(cho_cr=float("nan"))


def test_cli_mrs(data_dir, capsys, tmp_path):
    assert main(["mrs", str(data_dir / "imaging-mrs" / "SVS_30.rda"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    names = {o["name"] for o in out["observations"]}
    assert {"mrs_cho_cr", "mrs_cho_naa", "mrs_lipid_lactate"} <= names
    cho_cr = next(o for o in out["observations"] if o["name"] == "mrs_cho_cr")
    assert "GLIOMA" in cho_cr["note"]
    assert main(["mrs", "--cho-cr", "2.1", "--lipid-lactate-cr", "0.4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [o["value"] for o in out["observations"]] == [2.1, 0.4]
    assert main(["mrs", str(data_dir / "imaging-mrs" / "SVS_XA60.dcm")]) == 2
    assert "no creatine" in capsys.readouterr().err
    assert main(["mrs"]) == 2
    assert main(["mrs", str(tmp_path / "nothing.rda")]) == 2
