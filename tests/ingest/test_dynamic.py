"""Dynamic (multi-temporal) MR series: recognised by the scan, read as 4-D by ``radnec inspect``.

A DSC perfusion series holds every time frame of a 4-D acquisition in one series, so its slice
positions repeat once per time point. That is valid input, not a "duplicate slice position" — but a
3-D series with a duplicated slice (or a whole stack exported twice) must still be refused.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.uid import generate_uid

from radnec import cli
from radnec.ingest.dsc import MIN_FRAMES
from radnec.ingest.scan import scan
from radnec.ingest.temporal import is_dynamic, split_timepoints, temporal_frames
from radnec.phantom.dsc import DscSeries, write_dsc_dicom

from ingest_factory import write_series

TE_S = 0.03
DT_S = 1.5
SIZE_XYZ = (6, 5, 3)
SPACING_MM = (2.0, 2.5, 4.0)


def _write_dsc(folder: Path, *, n_t: int, uid_seed: str = "radnec-test-dsc", **kwargs) -> list[Path]:
    """A small classic-DICOM DSC series (TemporalPositionIdentifier and AcquisitionTime set)."""
    grid = sitk.Image(list(SIZE_XYZ), sitk.sitkFloat32)
    grid.SetSpacing(SPACING_MM)
    grid.SetOrigin((-5.0, -4.0, 10.0))
    rng = np.random.default_rng(0)
    signal = (500.0 + 50.0 * rng.random((n_t, *SIZE_XYZ[::-1]))).astype(np.float32)
    series = DscSeries(signal, grid, np.arange(n_t) * DT_S, TE_S, "test")
    write_dsc_dicom(series, folder, uid_seed=uid_seed, **kwargs)
    return sorted(folder.glob("dsc_*.dcm"))


def _edit(files: list[Path], fn) -> None:
    for f in files:
        ds = pydicom.dcmread(f)
        fn(ds, f)
        ds.save_as(f)


def _inspect(root: Path, capsys) -> tuple[int, dict | None, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli.main(["inspect", str(root), "--json"])
    err = capsys.readouterr().err
    text = buf.getvalue()
    return code, (json.loads(text) if text.strip() else None), err


def _series(doc: dict) -> list[dict]:
    return [
        s
        for p in doc["inventory"]["patients"]
        for st in p["studies"]
        for f in st["frames_of_reference"]
        for s in f["series"]
    ]


def _by_description(doc: dict, text: str) -> dict:
    (s,) = [s for s in _series(doc) if text in (s["description"] or "")]
    return s


# --------------------------------------------------------------------------- detection (pure)
def test_temporal_frames_groups_by_the_temporal_attribute():
    # 2 positions x 3 time points, files in scrambled order; TriggerTime orders the time points
    facts = [((0.0, 0.0, z), {"TriggerTime": str(t)}) for t in (200, 0, 100) for z in (0.0, 4.0)]
    frames, key = temporal_frames(facts)
    assert key == "TriggerTime" and len(frames) == 3
    assert [sorted(facts[i][1]["TriggerTime"] for i in fr) for fr in frames] == [["0", "0"], ["100", "100"], ["200", "200"]]
    # a single slice over time is dynamic too
    single = [((0.0, 0.0, 0.0), {"AcquisitionTime": f"1000{t:02d}.5"}) for t in range(5)]
    assert len(temporal_frames(single)[0]) == 5


@pytest.mark.parametrize(
    "facts",
    [
        # a duplicated slice in a 3-D stack: one position twice, the others once
        [((0.0, 0.0, z), {"AcquisitionNumber": "1"}) for z in (0.0, 2.0, 2.0, 4.0)],
        # a whole stack exported twice: positions repeat but nothing tells the copies apart
        [((0.0, 0.0, z), {"AcquisitionNumber": "1"}) for z in (0.0, 2.0, 0.0, 2.0)],
        # two echoes at every position: several contrasts, not a time series
        [((0.0, 0.0, z), {"EchoNumbers": e, "AcquisitionTime": f"10000{e}.{z:.0f}"}) for e in "12" for z in (0.0, 2.0)],
        # a missing position
        [(None, {"TemporalPositionIdentifier": "1"}), ((0.0, 0.0, 0.0), {"TemporalPositionIdentifier": "2"})],
        [],
    ],
    ids=["duplicated-slice", "duplicated-stack", "two-echoes", "missing-position", "empty"],
)
def test_temporal_frames_refuses_what_is_not_a_time_series(facts):
    assert temporal_frames(facts) == ([], None)


# --------------------------------------------------------------------------- scan + inspect
def test_inspect_reads_a_dsc_series_as_4d(tmp_path, capsys):
    n_t = MIN_FRAMES + 2
    files = _write_dsc(tmp_path / "DSC", n_t=n_t)
    write_series(tmp_path / "T1", n=4)
    code, doc, err = _inspect(tmp_path, capsys)
    assert code == 0, err
    assert doc["problems"] == []
    dsc = _by_description(doc, "DSC")
    assert dsc["kind"] == "MR" and dsc["dynamic"] is True
    assert dsc["n_timepoints"] == n_t and dsc["temporal_key"] == "TemporalPositionIdentifier"
    g = dsc["geometry"]
    assert g["reader"] == "radnec.ingest.dsc.read_dsc"
    assert g["n_timepoints"] == n_t and g["size"] == list(SIZE_XYZ) and g["spacing_mm"] == list(SPACING_MM)
    assert g["frame_interval_s"] == pytest.approx(DT_S) and g["echo_time_ms"] == pytest.approx(TE_S * 1000)
    t1 = _by_description(doc, "T1 post-contrast")
    assert t1["dynamic"] is False and t1["n_timepoints"] == 1 and "n_timepoints" not in t1["geometry"]
    assert len(files) == n_t * SIZE_XYZ[2] and len(split_timepoints(files)) == n_t

    # the table says so too
    from radnec.commands.inspect import _dynamic_summary
    from radnec.ingest.inventory import inspect_tree

    result = inspect_tree(tmp_path)
    (s,) = [s for s in result.inventory.all_series() if s.dynamic]
    assert _dynamic_summary(s) == f"dynamic: {n_t} time points (TemporalPositionIdentifier), Δt 1.5 s, TE 30 ms"
    assert cli.main(["inspect", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "dynamic:" in out and "duplicate" not in out


def test_dynamic_series_ordered_by_acquisition_time_only(tmp_path, capsys):
    """Without TemporalPositionIdentifier/AcquisitionNumber/TriggerTime, AcquisitionTime orders the frames."""
    files = _write_dsc(tmp_path / "DSC", n_t=MIN_FRAMES)
    _edit(files, lambda ds, f: (delattr(ds, "TemporalPositionIdentifier"), delattr(ds, "NumberOfTemporalPositions")))
    inv = scan(tmp_path)
    (s,) = inv.series_of_kind("MR")
    assert (s.dynamic, s.n_timepoints, s.temporal_key) == (True, MIN_FRAMES, "AcquisitionTime")
    code, doc, err = _inspect(tmp_path, capsys)
    assert code == 0, err
    assert _series(doc)[0]["geometry"]["n_timepoints"] == MIN_FRAMES


def test_short_dynamic_series_is_read_per_time_point(tmp_path, capsys):
    _write_dsc(tmp_path / "DSC", n_t=4)
    code, doc, err = _inspect(tmp_path, capsys)
    assert code == 0, err
    g = _series(doc)[0]["geometry"]
    assert g["n_timepoints"] == 4 and g["size"] == list(SIZE_XYZ)
    assert g["reader"].startswith("radnec.ingest.series.load_series")
    assert f"fewer than the {MIN_FRAMES}" in g["note"]


def test_dynamic_series_sharing_its_folder(tmp_path, capsys):
    """read_dsc reads whole folders; beside another MR series each time point is read with load_series."""
    _write_dsc(tmp_path / "mixed", n_t=MIN_FRAMES)
    write_series(tmp_path / "mixed", n=4)
    code, doc, err = _inspect(tmp_path, capsys)
    assert code == 0, err
    g = _by_description(doc, "DSC")["geometry"]
    assert g["n_timepoints"] == MIN_FRAMES and "shares its folder" in g["note"]


def test_incomplete_dynamic_series_is_refused_clearly(tmp_path, capsys):
    files = _write_dsc(tmp_path / "DSC", n_t=MIN_FRAMES + 1)
    files[-1].unlink()  # last time point misses a slice
    (s,) = scan(tmp_path).series_of_kind("MR")
    assert s.dynamic and s.n_timepoints == MIN_FRAMES + 1
    code, _, err = _inspect(tmp_path, capsys)
    assert code == 2
    assert err.startswith(f"radnec: error: {tmp_path / 'DSC'}") and "different numbers of slices" in err


def test_incomplete_short_dynamic_series_is_refused_clearly(tmp_path, capsys):
    files = _write_dsc(tmp_path / "DSC", n_t=4)
    files[-1].unlink()
    code, _, err = _inspect(tmp_path, capsys)
    assert code == 2
    assert err.startswith("radnec: error: ") and "time point 4 has 2 slices, time point 1 has 3" in err


def test_duplicated_slice_is_still_refused(tmp_path, capsys):
    write_series(tmp_path / "s", positions=[(0, 0, 0), (0, 0, 2), (0, 0, 2), (0, 0, 4)])
    (s,) = scan(tmp_path).series_of_kind("MR")
    assert not s.dynamic and s.n_timepoints == 1
    code, _, err = _inspect(tmp_path, capsys)
    assert code == 2 and "duplicate slice position 2.000 mm" in err


def test_stack_exported_twice_is_still_refused(tmp_path, capsys):
    files = write_series(tmp_path / "s", n=4)
    for f in files:  # same slices again, new SOP instance UIDs
        ds = pydicom.dcmread(f)
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.save_as(f.with_name("copy_" + f.name))
    (s,) = scan(tmp_path).series_of_kind("MR")
    assert not s.dynamic and s.n_instances == 8
    code, _, err = _inspect(tmp_path, capsys)
    assert code == 2 and "duplicate slice position" in err


def test_two_echoes_are_not_a_time_series(tmp_path, capsys):
    files = _write_dsc(tmp_path / "DSC", n_t=2)
    _edit(files, lambda ds, f: setattr(ds, "EchoNumbers", 1 + int(ds.TemporalPositionIdentifier) - 1))
    (s,) = scan(tmp_path).series_of_kind("MR")
    assert not s.dynamic
    code, _, err = _inspect(tmp_path, capsys)
    assert code == 2 and "duplicate slice position" in err and "EchoNumbers" in err


def test_collect_uses_the_ingest_detection(tmp_path):
    import radnec.imaging.collect as collect
    import radnec.ingest.temporal as temporal

    assert collect.is_dynamic is temporal.is_dynamic  # one implementation, imported from radnec.ingest
    long_files = _write_dsc(tmp_path / "long", n_t=MIN_FRAMES, uid_seed="long")
    short_files = _write_dsc(tmp_path / "short", n_t=3, uid_seed="short")
    assert is_dynamic(long_files) and is_dynamic(short_files)
    assert not is_dynamic(short_files, min_timepoints=MIN_FRAMES)
    found = collect.find_advanced_series(scan(tmp_path))
    assert [Path(d["files"][0]).parent.name for d in found.dsc] == ["long"]  # too short for a DSC analysis


# --------------------------------------------------------------------------- phantom
def _mini_phantom_case(root: Path) -> Path:
    """The smallest folder add_dsc_to_phantom accepts: a T1c study, an enhancing mask, truth.json."""
    shape = (10, 48, 48)  # z, y, x at 2 mm
    z, y, x = np.mgrid[: shape[0], : shape[1], : shape[2]]
    head = ((x - 23.5) / 20) ** 2 + ((y - 23.5) / 22) ** 2 + ((z - 4.5) / 7) ** 2 < 1
    t1 = np.where(head, 800.0, 0.0).astype(np.float32)
    grid = sitk.GetImageFromArray(t1)
    grid.SetSpacing((2.0, 2.0, 2.0))
    grid.SetOrigin((-48.0, -48.0, -10.0))
    study_uid, for_uid = "1.2.826.0.1.3680043.10.1.1", "1.2.826.0.1.3680043.10.1.2"
    write_dsc_dicom(
        DscSeries(t1[None], grid, np.zeros(1), 0.01, "t1"),
        root / "dicom" / "01_fu1" / "T1c",
        study_uid=study_uid,
        frame_of_reference_uid=for_uid,
        series_description="T1c",
    )
    mask = sitk.GetImageFromArray(((x - 12) ** 2 + (y - 24) ** 2 + (z - 5) ** 2 < 16).astype(np.uint8))
    mask.CopyInformation(grid)
    (root / "truth" / "fu1").mkdir(parents=True)
    sitk.WriteImage(mask, str(root / "truth" / "fu1" / "enhancing.nii.gz"))
    truth = {
        "scenario": "marginal", "seed": 0, "diagnosis": "progression",
        "patient": {"name": "PHANTOM^X", "id": "PHANTOM-x-0"},
        "timepoints": [
            {"label": "planning"},
            {"label": "fu1", "folder": "dicom/01_fu1", "date": "2026-06-01", "study_instance_uid": study_uid,
             "frame_of_reference_uid": for_uid, "series": {"T1c": {"folder": "dicom/01_fu1/T1c"}},
             "masks": {"enhancing": "truth/fu1/enhancing.nii.gz"}},
        ],
    }
    (root / "truth.json").write_text(json.dumps(truth))
    return root


def _check_phantom_inspection(doc: dict, entry: dict) -> None:
    dsc = _by_description(doc, "DSC")
    assert dsc["dynamic"] is True and dsc["n_timepoints"] == entry["frames"]
    g = dsc["geometry"]
    assert g["reader"] == "radnec.ingest.dsc.read_dsc" and g["n_timepoints"] == entry["frames"]
    assert g["spacing_mm"] == pytest.approx(entry["spacing_mm"])
    assert g["frame_interval_s"] == pytest.approx(entry["tr_s"]) and g["echo_time_ms"] == pytest.approx(entry["te_ms"])
    assert all(not s["dynamic"] for s in _series(doc) if s is not dsc)


def test_inspect_phantom_dsc_series(tmp_path, capsys):
    """radnec.phantom.dsc.add_dsc_to_phantom on a minimal case: inspect exits 0 and lists the DSC as dynamic."""
    from radnec.phantom.dsc import add_dsc_to_phantom

    case = _mini_phantom_case(tmp_path / "case")
    entry = add_dsc_to_phantom(case, seed=0)
    code, doc, err = _inspect(case / "dicom", capsys)
    assert code == 0, err
    assert doc["problems"] == []
    _check_phantom_inspection(doc, entry)
