"""Every numeric (IS/DS) attribute of the real RT fixtures replaced by garbage, one at a time: each
reader either copes or raises a clear RadnecError naming the file — never a bare ValueError."""

from __future__ import annotations

import warnings

import pydicom
import pytest

from radnec.errors import RadnecError
from radnec.ingest.rtdose import read_rtdose
from radnec.ingest.rtplan import read_rtplan
from radnec.ingest.rtstruct import read_rtstruct

READERS = {
    "rtplan": read_rtplan,
    "rtdose": lambda p: read_rtdose(p, prescription_gy=14.0),
    "rtss": read_rtstruct,
}
GARBAGE = ("x1", "nan")


def _numeric_tags(ds, depth: int = 0) -> set:
    tags = set()
    for el in ds:
        if el.VR in ("IS", "DS"):
            tags.add(el.tag)
        elif el.VR == "SQ" and depth < 2:
            for item in list(el.value)[:2]:
                tags |= _numeric_tags(item, depth + 1)
    return tags


def _patch(ds, tag, value: str, depth: int = 0) -> None:
    for el in ds:
        if el.tag == tag:
            el._value = value if el.VM <= 1 else [value] * el.VM  # bypass validation: write it as found in the wild
        elif el.VR == "SQ" and depth < 2:
            for item in el.value:
                _patch(item, tag, value, depth + 1)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", sorted(READERS))
def test_garbage_numbers_never_crash(name, data_dir, tmp_path):
    src = data_dir / "rt-dicompyler" / f"{name}.dcm"
    tags = sorted(_numeric_tags(pydicom.dcmread(src)))
    assert len(tags) >= 5
    crashes = []
    for tag in tags:
        for value in GARBAGE:
            ds = pydicom.dcmread(src)
            _patch(ds, tag, value)
            out = tmp_path / f"{name}.dcm"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds.save_as(out)
            try:
                READERS[name](out)
            except RadnecError as exc:
                assert str(out) in str(exc)
            except Exception as exc:  # noqa: BLE001 - what this test hunts for
                crashes.append(f"{pydicom.datadict.keyword_for_tag(tag)}={value!r}: {type(exc).__name__}: {exc}")
    assert not crashes, crashes
