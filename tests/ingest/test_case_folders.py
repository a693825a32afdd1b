"""Case folders as they arrive: symlinks (with a loop), DICOMDIR, zip, duplicated instances, several studies
on one day, a flat PACS export of 3000 random-named files; oblique and sagittal series load with the right
geometry."""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from pathlib import Path

import numpy as np
import pydicom
import pytest
from flat_export import write_flat_export
from ingest_factory import rotation
from protocol_factory import mr_series
from pydicom.fileset import FileSet
from pydicom.uid import generate_uid

from radnec.discover import _study_series
from radnec.errors import GeometryError
from radnec.ingest.protocol import classify
from radnec.ingest.scan import scan
from radnec.ingest.series import load_series
from radnec.ingest.walk import case_files, extract_zip


def _series(folder: Path, **kw) -> list[Path]:
    return mr_series(folder, description=kw.pop("description", "T1 +C"), study_uid=kw.pop("study_uid", generate_uid()),
                     for_uid=kw.pop("for_uid", generate_uid()), **kw)


# ------------------------------------------------------------------ symlinks
def test_symlinked_folders_and_files_are_followed_and_a_loop_is_a_note(tmp_path):
    store = tmp_path / "store"
    a = _series(store / "t1c")
    _series(store / "flair", description="AX FLAIR")
    case = tmp_path / "case"
    case.mkdir()
    (case / "mr").symlink_to(store / "t1c", target_is_directory=True)
    (case / "flair").symlink_to(store / "flair", target_is_directory=True)
    (case / "loop").symlink_to(case, target_is_directory=True)  # case/loop -> case: a loop
    (case / "one_more_link.dcm").symlink_to(a[0])  # the same file through a second link
    (case / "dangling.dcm").symlink_to(tmp_path / "gone.dcm")
    inv = scan(case)
    series = inv.series_of_kind("MR")
    assert sorted(s.description for s in series) == ["AX FLAIR", "T1 +C"]
    assert {s.n_instances for s in series} == {4}
    assert any("symbolic-link loop" in n for n in inv.notes)
    assert any("linked twice" in n for n in inv.notes)
    reasons = {Path(s.path).name: s.reason for s in inv.skipped}
    assert reasons["dangling.dcm"].startswith("broken symbolic link")


def test_case_given_as_a_symlink_to_a_folder(tmp_path):
    _series(tmp_path / "real" / "s1")
    (tmp_path / "case").symlink_to(tmp_path / "real", target_is_directory=True)
    (series,) = scan(tmp_path / "case").series_of_kind("MR")
    assert series.n_instances == 4


# ------------------------------------------------------------------ DICOMDIR
def _dicomdir(tmp_path: Path) -> Path:
    paths = _series(tmp_path / "src", n=5) + _series(tmp_path / "src2", description="AX FLAIR", n=5)
    fs = FileSet()
    for p in paths:
        fs.add(p)
    fs.write(tmp_path / "cd")
    return tmp_path / "cd"


def test_dicomdir_read_with_fileset(tmp_path):
    cd = _dicomdir(tmp_path)
    inv = scan(cd)
    assert sorted(s.n_instances for s in inv.series_of_kind("MR")) == [5, 5]
    assert any("lists 10 instances, all present" in n for n in inv.notes)
    (skipped,) = inv.skipped
    assert skipped.reason.startswith("DICOMDIR index file")


def test_dicomdir_listing_missing_files_falls_back_to_the_walk(tmp_path):
    cd = _dicomdir(tmp_path)
    listed = [Path(i.path) for i in FileSet(pydicom.dcmread(cd / "DICOMDIR"))]
    listed[0].unlink()
    inv = scan(cd)
    assert sorted(s.n_instances for s in inv.series_of_kind("MR")) == [4, 5]
    assert any("1 of them missing" in n and "scanned file by file instead" in n for n in inv.notes)


# ------------------------------------------------------------------ zip
def _zip_of(folder: Path, out: Path, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(out, "w") as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(folder).as_posix())
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return out


def test_zip_given_as_case_and_found_inside_a_case(tmp_path):
    _series(tmp_path / "src" / "t1c")
    z = _zip_of(tmp_path / "src", tmp_path / "export.zip")
    cache = tmp_path / "cache"
    (series,) = scan(z, extract_dir=cache).series_of_kind("MR")
    assert series.n_instances == 4 and all(Path(f).is_relative_to(cache) for f in series.files)
    assert load_series(series).image.GetSize() == (16, 16, 4)  # the extracted files stay readable
    case = tmp_path / "case"
    case.mkdir()
    shutil.copy(z, case / "followup.zip")
    _series(case / "planning", description="AX FLAIR")
    inv = scan(case, extract_dir=cache)
    assert sorted(s.description for s in inv.series_of_kind("MR")) == ["AX FLAIR", "T1 +C"]
    assert any("reused the extraction" in n for n in inv.notes)  # same zip bytes: extracted once


def test_zip_slip_absolute_and_symlink_members_are_refused(tmp_path):
    _series(tmp_path / "src")
    z = _zip_of(tmp_path / "src", tmp_path / "evil.zip", {"../escape.dcm": b"x", "/abs.dcm": b"y"})
    with zipfile.ZipFile(z, "a") as zf:
        info = zipfile.ZipInfo("link.dcm")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    folder, notes = extract_zip(z, extract_dir=tmp_path / "cache")
    text = " ".join(notes)
    assert "'..' in the path" in text and "absolute path" in text and "symbolic link member" in text
    assert not (tmp_path / "escape.dcm").exists() and not (tmp_path / "cache" / "escape.dcm").exists()
    assert not (folder / "link.dcm").exists()
    assert len(list(folder.glob("*.dcm"))) == 4


def test_zip_size_cap_stops_extraction(tmp_path):
    _series(tmp_path / "src")
    z = _zip_of(tmp_path / "src", tmp_path / "big.zip", {"zeros.bin": bytes(2_000_000)})
    _, notes = extract_zip(z, extract_dir=tmp_path / "cache", max_bytes=1_000_000)
    assert any("cap" in n for n in notes)


def test_zip_inside_a_zip_is_not_opened(tmp_path):
    _series(tmp_path / "src")
    inner = _zip_of(tmp_path / "src", tmp_path / "inner.zip")
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(outer, "w") as zf:
        zf.write(inner, "inner.zip")
    found = case_files(outer, extract_dir=tmp_path / "cache")
    assert not found.files and found.skipped[0].reason.startswith("zip inside a zip")


# ------------------------------------------------------------------ duplicates
def test_identical_duplicates_are_read_once_with_a_note(tmp_path):
    paths = _series(tmp_path / "a")
    (tmp_path / "copy").mkdir()
    for p in paths[:2]:
        shutil.copy(p, tmp_path / "copy" / p.name)
    inv = scan(tmp_path)
    (series,) = inv.series_of_kind("MR")
    assert series.n_instances == 4 and series.n_duplicates == 2
    assert any("2 duplicated instance(s)" in n for n in inv.notes)
    assert classify(series).role == "T1c"


def test_conflicting_duplicates_are_named_and_the_series_is_not_used(tmp_path):
    paths = _series(tmp_path / "a")
    ds = pydicom.dcmread(paths[1])
    ds.ImagePositionPatient = [0, 0, 99]
    (tmp_path / "other").mkdir()
    ds.save_as(tmp_path / "other" / "x.dcm")
    inv = scan(tmp_path)
    (series,) = inv.series_of_kind("MR")
    (warning,) = [w for w in inv.warnings if "two different files" in w]
    assert str(paths[1]) in warning and str(tmp_path / "other" / "x.dcm") in warning
    assert series.conflicting_duplicates
    cls = classify(series)
    assert cls.role == "unusable" and "conflict" in cls.evidence


# ------------------------------------------------------------------ studies
def test_several_studies_on_one_day_stay_apart(tmp_path):
    s1, s2 = generate_uid(), generate_uid()
    _series(tmp_path / "a", study_uid=s1, study_time="081500")
    _series(tmp_path / "b", study_uid=s2, study_time="163000")
    inv = scan(tmp_path)
    studies = [st for p in inv.patients for st in p.studies]
    assert len(studies) == 2 and {st.study_date for st in studies} == {"2024-01-02"}
    labels = sorted(_study_series(st).label for st in studies)
    assert labels == ["2024-01-02 08:15", "2024-01-02 16:30"]


# ------------------------------------------------------------------ flat PACS export
def test_flat_export_of_3000_random_named_files(tmp_path):
    paths = write_flat_export(tmp_path / "flat", n_series=30, n_slices=100)
    assert len(paths) == 3000 and all("." not in p.name for p in paths)
    inv = scan(tmp_path / "flat")
    series = inv.series_of_kind("MR")
    assert len(series) == 30 and {s.n_instances for s in series} == {100}
    assert {s.mr.slice_spacing_mm for s in series} == {1.0} and not inv.skipped


# ------------------------------------------------------------------ geometry
def test_oblique_2d_series_with_gaps_loads_with_the_right_geometry(tmp_path):
    """15°-tilted axial 2-D T1c, 5 mm slices with a 1 mm gap: spacing 6 mm, and a known LPS point lands on its voxel."""
    r = rotation((1, 0, 0), 15)
    row, col = r[:, 0], r[:, 1]
    origin = np.array([-7.0, -9.0, 12.0])
    _series(tmp_path / "obl", row=row, col=col, origin=origin, pixel_spacing=(0.9, 0.9), slice_spacing=6.0,
            thickness=5.0, acquisition_type="2D", n=5)
    img = load_series(tmp_path / "obl").image
    assert np.allclose(img.GetSpacing(), (0.9, 0.9, 6.0))
    normal = np.cross(row, col)
    # pixel (column 3, row 5) of slice 2
    point = origin + 3 * 0.9 * row + 5 * 0.9 * col + 2 * 6.0 * normal
    idx = img.TransformPhysicalPointToIndex(point.tolist())
    assert idx == (3, 5, 2)
    assert img.GetPixel(idx) == 21  # slice k holds 10 k + 1


def test_truly_non_uniform_2d_series_is_refused(tmp_path):
    positions = [(0, 0, z) for z in (0.0, 6.0, 12.0, 20.0, 26.0)]
    _series(tmp_path / "bad", positions=positions, slice_spacing=6.0, thickness=5.0, acquisition_type="2D")
    with pytest.raises(GeometryError, match="non-uniform slice spacing"):
        load_series(tmp_path / "bad")


def test_sagittal_3d_series_loads_with_the_right_geometry(tmp_path):
    row, col = np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.0, -1.0])
    origin = np.array([-20.0, -50.0, 60.0])
    _series(tmp_path / "sag", row=row, col=col, origin=origin, n=6)
    img = load_series(tmp_path / "sag").image
    normal = np.cross(row, col)  # (-1, 0, 0): slices march towards patient right
    point = origin + 4 * row + 7 * col + 3 * normal
    assert img.TransformPhysicalPointToIndex(point.tolist()) == (4, 7, 3)
    assert img.GetPixel(4, 7, 3) == 31
    assert np.allclose(np.array(img.GetDirection()).reshape(3, 3)[:, 2], normal)


def test_walk_is_not_fooled_by_a_second_link_to_the_root(tmp_path):
    _series(tmp_path / "case" / "s")
    os.symlink(tmp_path / "case", tmp_path / "case" / "s" / "up")
    found = case_files(tmp_path / "case")
    assert len(found.files) == 4
