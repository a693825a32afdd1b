"""RTPLAN reader: prescription sources, fractions, technique, Gamma Knife minimal plans."""

from __future__ import annotations

import pytest
from rt_factory import add_target_prescription, write_rtplan

from radnec.errors import InputError, UnitsError
from radnec.ingest.rtplan import read_rtplan


def test_dicompyler_plan(data_dir):
    p = read_rtplan(data_dir / "rt-dicompyler" / "rtplan.dcm")
    assert p.prescription_gy == pytest.approx(14.0)
    assert p.fractions == 7
    assert p.dose_per_fraction_gy == pytest.approx(2.0)
    assert p.prescription_source == "DoseReferenceSequence"
    assert p.technique == "linac"
    assert p.label == "B1"
    assert p.referenced_structure_set_uid
    # the 11.3 Gy calculation point is not taken as the prescription, and it is said
    assert any("11.3" in n for n in p.notes)


def test_gamma_knife_minimal_plan_without_beams(tmp_path):
    p = read_rtplan(write_rtplan(tmp_path / "gk.dcm", rx=None, fractions=None, beams=0))
    assert p.technique == "gamma-knife"
    assert p.prescription_gy is None and p.prescription_source == "none"
    assert p.fractions is None and p.dose_per_fraction_gy is None


def test_gamma_knife_with_prescription(tmp_path):
    p = read_rtplan(write_rtplan(tmp_path / "gk.dcm", rx=24.0, fractions=1))
    assert (p.technique, p.prescription_gy, p.fractions, p.target_roi_numbers) == ("gamma-knife", 24.0, 1, [1])


def test_prescription_from_fraction_group(tmp_path):
    path = write_rtplan(tmp_path / "l.dcm", rx=None, fractions=5, beams=3, beam_dose=2.0, manufacturer="Varian", model="TrueBeam")
    p = read_rtplan(path)
    assert p.prescription_gy == pytest.approx(30.0)
    assert p.prescription_source == "FractionGroupSequence"
    assert p.technique == "linac"


def test_implausible_prescription_refused(tmp_path):
    with pytest.raises(UnitsError, match="not plausible"):
        read_rtplan(write_rtplan(tmp_path / "x.dcm", rx=2400.0))


def test_not_a_plan(data_dir, tmp_path):
    with pytest.raises(InputError, match="not an RTPLAN"):
        read_rtplan(data_dir / "rt-dicompyler" / "rtss.dcm")
    bad = tmp_path / "t.dcm"
    bad.write_bytes(b"\x00" * 10)
    with pytest.raises(InputError):
        read_rtplan(bad)


def test_multi_target_plan_keeps_each_targets_prescription(tmp_path):
    """One single-isocentre plan, three metastases at 24, 20 and 18 Gy (by size, as in RTOG 90-05),
    plus a point reference: each ROI keeps its own dose; the plan-level value is the largest."""
    p = write_rtplan(tmp_path / "rp.dcm", rx=24.0)  # ROI 1
    add_target_prescription(p, roi=2, rx=20.0)
    add_target_prescription(p, roi=3, rx=18.0)
    add_target_prescription(p, roi=9, rx=30.0, kind="POINT")  # a calculation point is not a target prescription
    plan = read_rtplan(p)
    assert plan.target_prescriptions_gy == {1: 24.0, 2: 20.0, 3: 18.0}
    assert plan.prescription_gy == 24.0 and any("other target doses" in n for n in plan.notes)


def _corrupt_roi_number(path, text: bytes = b"x1") -> None:
    """Overwrite the value of the first ReferencedROINumber (3006,0084) in the file's bytes."""
    data = bytearray(path.read_bytes())
    i = data.find(bytes([0x06, 0x30, 0x84, 0x00]))  # explicit VR little endian: tag, VR, length, value
    assert i > 0 and data[i + 4 : i + 6] == b"IS"
    n = int.from_bytes(data[i + 6 : i + 8], "little")
    data[i + 8 : i + 8 + n] = text[:n].ljust(n, b" ")
    path.write_bytes(bytes(data))


@pytest.mark.filterwarnings("ignore:Invalid value for VR IS")
def test_malformed_roi_number_is_refused_naming_the_file(tmp_path, capsys):
    from radnec.cli import main

    p = write_rtplan(tmp_path / "rp.dcm", rx=20.0)
    _corrupt_roi_number(p)
    with pytest.raises(InputError, match="ReferencedROINumber 'x1' is not an integer") as err:
        read_rtplan(p)
    assert str(err.value.path) == str(p)
    # inspect reports it as a problem of that file, no traceback
    code = main(["inspect", str(tmp_path)])
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out and "ReferencedROINumber" in out.err + out.out
    assert code in (0, 2)
