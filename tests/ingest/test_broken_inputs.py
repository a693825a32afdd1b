"""The broken-input corpus: every case is generated here from the small valid fixtures in
tests/data/ingest-demo (pydicom / nibabel edits) and must give ONE clear line naming the file and
the problem, and exit code 2, through ``radnec inspect``."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from ingest_factory import rotation, write_series

from radnec import cli

def _dcm_edit(src: Path, dst: Path, fn: Callable[[pydicom.Dataset], None]) -> Path:
    ds = pydicom.dcmread(src)
    fn(ds)
    dst.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(dst)
    return dst


def _series_edit(folder: Path, index: int, fn: Callable[[pydicom.Dataset], None]) -> None:
    path = sorted(folder.glob("*.dcm"))[index]
    _dcm_edit(path, path, fn)


def _nifti(path: Path, data: np.ndarray, *, sform_shift: float = 0.0) -> Path:
    affine = np.diag([1.0, 1.0, 2.0, 1.0])
    img = nib.Nifti1Image(data, None)
    img.set_qform(affine, code=1)
    s = affine.copy()
    s[0, 3] += sform_shift
    img.set_sform(s, code=1)
    nib.save(img, str(path))
    return path


# each builder returns (argv after "inspect", expected text in the error line)
def truncated_file(tmp: Path, demo: Path):
    data = (demo / "seg" / "liver_1frame.dcm").read_bytes()
    (tmp / "cut.dcm").write_bytes(data[: len(data) // 2])
    return [str(tmp / "cut.dcm")], "truncated: element (7FE0,0010) declares"


def not_dicom(tmp: Path, demo: Path):
    (tmp / "image.dcm").write_text("this is a text file, not an image\n")
    return [str(tmp / "image.dcm")], "not DICOM"


def empty_file(tmp: Path, demo: Path):
    (tmp / "zero.dcm").write_bytes(b"")
    return [str(tmp / "zero.dcm")], "empty file (0 bytes)"


def header_cut_short(tmp: Path, demo: Path):
    data = (demo / "rt" / "ct.0.dcm").read_bytes()
    (tmp / "ct.dcm").write_bytes(data[:600])
    return [str(tmp / "ct.dcm")], "truncated"


def missing_image_position(tmp: Path, demo: Path):
    write_series(tmp / "s", n=4)
    _series_edit(tmp / "s", 2, lambda ds: delattr(ds, "ImagePositionPatient"))
    return [str(tmp / "s")], "missing ImagePositionPatient"


def duplicate_slice_positions(tmp: Path, demo: Path):
    write_series(tmp / "s", positions=[(0, 0, 0), (0, 0, 2), (0, 0, 2), (0, 0, 4)])
    return [str(tmp / "s")], "duplicate slice position 2.000 mm"


def non_uniform_spacing(tmp: Path, demo: Path):
    write_series(tmp / "s", positions=[(0, 0, z) for z in (0.0, 2.0, 4.0, 5.0, 7.0)])
    return [str(tmp / "s")], "non-uniform slice spacing: gaps from 1.000 to 2.000 mm"


def mixed_frames_of_reference(tmp: Path, demo: Path):
    write_series(tmp / "s", n=4, for_uids=["1.2.826.1", "1.2.826.1", "1.2.826.2", "1.2.826.1"])
    return [str(tmp / "s")], "belong to 2 frames of reference"


def mixed_oblique_orientations(tmp: Path, demo: Path):
    r = rotation((0, 1, 0), 12.0)
    axial = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0))
    oblique = (tuple(r[:, 0]), tuple(r[:, 1]))
    write_series(tmp / "s", n=4, orientations=[axial, axial, oblique, axial])
    return [str(tmp / "s")], "mixed orientations in one series"


def gantry_tilt(tmp: Path, demo: Path):
    t = np.tan(np.radians(20.0))
    write_series(tmp / "s", positions=[(0.0, 2.5 * k * t, 2.5 * k) for k in range(5)])
    return [str(tmp / "s")], "gantry tilt or shear of 20.0°"


def non_orthogonal_orientation(tmp: Path, demo: Path):
    write_series(tmp / "s", n=3)
    for i in range(3):
        _series_edit(tmp / "s", i, lambda ds: setattr(ds, "ImageOrientationPatient", [1, 0, 0, 0.2, 0.98, 0]))
    return [str(tmp / "s")], "row and column directions are not orthogonal"


def zero_rescale_slope(tmp: Path, demo: Path):
    write_series(tmp / "s", n=3, slope=1.0)
    _series_edit(tmp / "s", 1, lambda ds: setattr(ds, "RescaleSlope", "0"))
    return [str(tmp / "s")], "implausible RescaleSlope 0.0"


def enhanced_without_functional_groups(tmp: Path, demo: Path):
    src = next((demo / "mr-philips-enhanced").glob("*.dcm"))
    _dcm_edit(src, tmp / "enh.dcm", lambda ds: delattr(ds, "PerFrameFunctionalGroupsSequence"))
    return [str(tmp / "enh.dcm")], "multi-frame image (8 frames) without PerFrameFunctionalGroupsSequence"


def enhanced_frame_without_position(tmp: Path, demo: Path):
    src = next((demo / "mr-philips-enhanced").glob("*.dcm"))

    def fn(ds: pydicom.Dataset) -> None:
        del ds.PerFrameFunctionalGroupsSequence[3].PlanePositionSequence

    _dcm_edit(src, tmp / "enh.dcm", fn)
    return [str(tmp / "enh.dcm")], "enh.dcm#frame4: missing ImagePositionPatient (PlanePositionSequence)"


def unsupported_sop_class(tmp: Path, demo: Path):
    def fn(ds: pydicom.Dataset) -> None:
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID

    _dcm_edit(demo / "rt" / "ct.0.dcm", tmp / "sc.dcm", fn)
    return [str(tmp / "sc.dcm")], "unsupported SOP class Secondary Capture Image"


def nifti_qform_sform_disagree(tmp: Path, demo: Path):
    return [str(_nifti(tmp / "a.nii.gz", np.zeros((3, 3, 3), np.float32), sform_shift=4.0))], (
        "NIfTI qform and sform disagree"
    )


def nifti_4d(tmp: Path, demo: Path):
    return [str(_nifti(tmp / "b.nii.gz", np.zeros((3, 3, 3, 5), np.float32)))], "4-D image (3x3x3 x 5 volumes)"


def nifti_nan(tmp: Path, demo: Path):
    data = np.ones((3, 3, 3), np.float32)
    data[1, 1, 1] = np.nan
    return [str(_nifti(tmp / "c.nii.gz", data))], "1 voxels are NaN or infinite"


def rtstruct_references_missing_series(tmp: Path, demo: Path):
    shutil.copy(demo / "rt" / "rtss.dcm", tmp / "rtss.dcm")
    return [str(tmp), "--strict"], "RTSTRUCT rtss.dcm references SERIES 2.16.840.1.113662.2.12.0.3057.1241703565.43"


def rtdose_references_missing_plan(tmp: Path, demo: Path):
    shutil.copy(demo / "rt" / "rtdose.dcm", tmp / "rtdose.dcm")
    return [str(tmp), "--strict"], "RTDOSE rtdose.dcm references RTPLAN"


def _rt_copy(tmp: Path, demo: Path) -> Path:
    shutil.copytree(demo / "rt", tmp / "rt")
    return tmp / "rt"


def empty_roi(tmp: Path, demo: Path):
    rt = _rt_copy(tmp, demo)
    return [str(rt), "--strict"], "ROI 2 'Areola' is empty (no contours)"


def contour_outside_image(tmp: Path, demo: Path):
    rt = _rt_copy(tmp, demo)

    def fn(ds: pydicom.Dataset) -> None:  # the CT moves 600 mm to the patient's left
        ds.ImagePositionPatient = [float(ds.ImagePositionPatient[0]) + 600.0, *ds.ImagePositionPatient[1:]]

    _dcm_edit(rt / "ct.0.dcm", rt / "ct.0.dcm", fn)
    (rt / "rtdose.dcm").unlink()  # the dose would no longer overlap the CT either (tested separately)
    return [str(rt), "--strict"], "'BODY' has"  # "... contour points outside the referenced image series"


def dose_grid_outside_image(tmp: Path, demo: Path):
    rt = _rt_copy(tmp, demo)

    def fn(ds: pydicom.Dataset) -> None:  # the dose grid moves 900 mm posterior
        ds.ImagePositionPatient = [ds.ImagePositionPatient[0], float(ds.ImagePositionPatient[1]) + 900.0,
                                   ds.ImagePositionPatient[2]]

    _dcm_edit(rt / "rtdose.dcm", rt / "rtdose.dcm", fn)
    return [str(rt), "--strict"], "the dose grid does not overlap any image series of its frame of reference"


def dose_units_not_understood(tmp: Path, demo: Path):
    _dcm_edit(demo / "rt" / "rtdose.dcm", tmp / "rtdose.dcm", lambda ds: setattr(ds, "DoseUnits", "MU"))
    return [str(tmp / "rtdose.dcm")], "DoseUnits 'MU' not understood"


def relative_dose_without_normalisation(tmp: Path, demo: Path):
    _dcm_edit(demo / "rt" / "rtdose.dcm", tmp / "rtdose.dcm", lambda ds: setattr(ds, "DoseUnits", "RELATIVE"))
    return [str(tmp / "rtdose.dcm")], "DoseUnits is RELATIVE"


def nan_dose_grid_scaling(tmp: Path, demo: Path):
    _dcm_edit(demo / "rt" / "rtdose.dcm", tmp / "rtdose.dcm", lambda ds: setattr(ds, "DoseGridScaling", "NaN"))
    return [str(tmp / "rtdose.dcm")], "DoseGridScaling"


def absurd_dose_grid_scaling(tmp: Path, demo: Path):
    _dcm_edit(demo / "rt" / "rtdose.dcm", tmp / "rtdose.dcm", lambda ds: setattr(ds, "DoseGridScaling", "1.4"))
    return [str(tmp / "rtdose.dcm")], "is implausible"


def missing_path(tmp: Path, demo: Path):
    return [str(tmp / "no-such-folder")], "no such file or folder"


CASES = [
    truncated_file,
    not_dicom,
    empty_file,
    header_cut_short,
    missing_image_position,
    duplicate_slice_positions,
    non_uniform_spacing,
    mixed_frames_of_reference,
    mixed_oblique_orientations,
    gantry_tilt,
    non_orthogonal_orientation,
    zero_rescale_slope,
    enhanced_without_functional_groups,
    enhanced_frame_without_position,
    unsupported_sop_class,
    nifti_qform_sform_disagree,
    nifti_4d,
    nifti_nan,
    rtstruct_references_missing_series,
    rtdose_references_missing_plan,
    empty_roi,
    contour_outside_image,
    dose_grid_outside_image,
    dose_units_not_understood,
    relative_dose_without_normalisation,
    nan_dose_grid_scaling,
    absurd_dose_grid_scaling,
    missing_path,
]


@pytest.mark.filterwarnings("ignore:Invalid value for VR")
@pytest.mark.parametrize("case", CASES, ids=lambda c: getattr(c, "__name__", str(c)))
def test_broken_input_gives_clear_error_and_exit_2(case, tmp_path, data_dir, capsys):
    work = tmp_path / "case"
    work.mkdir()
    argv, expected = case(work, data_dir / "ingest-demo")
    code = cli.main(["inspect", *argv, "--json"])
    captured = capsys.readouterr()
    err_lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert code == 2, captured.err
    assert "Traceback" not in captured.err
    assert len(err_lines) == 1, captured.err
    line = err_lines[0]
    assert line.startswith("radnec: error: "), line
    assert expected in line, line
    assert line.startswith(f"radnec: error: {work}"), "the message must name the file or folder"


def test_corpus_is_large_enough():
    assert len(CASES) >= 15
