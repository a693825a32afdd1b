"""Every numeric attribute of the real fixtures (RT objects, MR series, SEG, PET, MRS) replaced by garbage,
one at a time: each reader either copes or raises a clear RadnecError (naming the file, for the
readers that take files) — never a bare ValueError/TypeError traceback."""

from __future__ import annotations

import shutil
import warnings

import pydicom
import pytest

from radnec.errors import RadnecError

#: Garbage by VR: strings for the decimal/integer strings, out-of-range values for binary numbers.
GARBAGE = {"IS": ("x1", "nan"), "DS": ("x1", "nan"), "US": (0, 65535), "SS": (0, -1), "FL": (float("nan"), 0.0), "FD": (float("nan"), 0.0)}


def _readers():
    from radnec.imaging.mrs import read_fid
    from radnec.imaging.suv import suv_factors
    from radnec.ingest.rtdose import read_rtdose
    from radnec.ingest.rtplan import read_rtplan
    from radnec.ingest.rtstruct import read_rtstruct
    from radnec.ingest.seg import read_seg
    from radnec.ingest.series import read_series

    return {
        "rt-dicompyler/rtplan.dcm": lambda files: read_rtplan(files[0]),
        "rt-dicompyler/rtdose.dcm": lambda files: read_rtdose(files[0], prescription_gy=14.0),
        "rt-dicompyler/rtss.dcm": lambda files: read_rtstruct(files[0]),
        "ingest-demo/mr-siemens": read_series,
        "ingest-demo/mr-philips-enhanced": read_series,
        "ingest-demo/seg/liver_1frame.dcm": lambda files: read_seg(files[0]),
        "imaging-pet-acrin": lambda files: suv_factors([pydicom.dcmread(f) for f in files]),
        "imaging-mrs/IM-0001-0002.dcm": lambda files: read_fid(files[0]),
        "imaging-mrs/SVS_XA60.dcm": lambda files: read_fid(files[0]),
    }


def _numeric_tags(ds, depth: int = 0) -> set:
    tags = set()
    for el in ds:
        if el.VR in GARBAGE and el.tag.group != 0x7FE0:
            tags.add((el.tag, el.VR))
        elif el.VR == "SQ" and depth < 3:
            for item in list(el.value)[:2]:
                tags |= _numeric_tags(item, depth + 1)
    return tags


def _patch(ds, tag, value, depth: int = 0) -> None:
    for el in ds:
        if el.tag == tag:
            el._value = value if el.VM <= 1 else [value] * el.VM  # bypass validation: write it as found in the wild
        elif el.VR == "SQ" and depth < 3:
            for item in el.value:
                _patch(item, tag, value, depth + 1)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("source", sorted(_readers()))
def test_garbage_numbers_never_crash(source, data_dir, tmp_path):
    reader = _readers()[source]
    src = data_dir / source
    files = sorted(src.glob("*.dcm")) if src.is_dir() else [src]
    tags = sorted(_numeric_tags(pydicom.dcmread(files[0])))
    assert len(tags) >= 5
    crashes = []
    for tag, vr in tags:
        for value in GARBAGE[vr][: 1 if len(tags) > 60 else None]:  # large headers: one garbage value each
            work = tmp_path / "work"
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir()
            copies = []
            for i, f in enumerate(files):  # the first file patched, the others as they are
                ds = pydicom.dcmread(f)
                if i == 0:
                    _patch(ds, tag, value)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        ds.save_as(work / f.name)
                    except Exception:  # noqa: BLE001 - pydicom refuses to write it: nothing to test
                        shutil.copy(f, work / f.name)
                copies.append(work / f.name)
            try:
                reader(copies)
            except RadnecError as exc:
                # file readers name the file; suv_factors works on datasets its caller names
                assert exc.path is not None or source == "imaging-pet-acrin", exc
            except Exception as exc:  # noqa: BLE001 - what this test hunts for
                crashes.append(f"{pydicom.datadict.keyword_for_tag(tag)}={value!r}: {type(exc).__name__}: {exc}")
    assert not crashes, crashes


@pytest.mark.parametrize("key", ["VectorSize", "DwellTime", "MRFrequency", "TE"])
@pytest.mark.parametrize("value", ["x1", "nan", "0", "-5"])
def test_garbage_in_an_rda_header_never_crashes(key, value, data_dir, tmp_path):
    from radnec.imaging.mrs import read_fid

    raw = (data_dir / "imaging-mrs" / "SVS_30.rda").read_bytes()
    end = raw.index(b">>> End of header <<<")
    lines = [f"{key}: {value}" if line.split(":", 1)[0] == key else line for line in raw[:end].decode("latin-1").split("\n")]
    path = tmp_path / "t.rda"
    path.write_bytes("\n".join(lines).encode("latin-1") + raw[end:])
    try:
        fid = read_fid(path)
    except RadnecError as exc:
        assert exc.path is not None
    else:  # accepted: then every number that places the spectrum is usable
        assert key == "TE" and fid.spectral_width_hz > 0 and fid.frequency_mhz > 0 and fid.data.size >= 64
