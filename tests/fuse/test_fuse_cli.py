"""`radnec fuse` end to end on small generated NIfTI and DICOM series; malformed input → exit 2."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from radnec.cli import main
from radnec.fuse.synthetic import target_registration_error
from radnec.ingest import reg as ingest_reg


@pytest.fixture(scope="module")
def nifti_pair(tmp_path_factory, rigid_pair):  # noqa: ANN001, ANN201
    d = tmp_path_factory.mktemp("nifti")
    sitk.WriteImage(rigid_pair.planning, str(d / "planning.nii.gz"))
    sitk.WriteImage(rigid_pair.followup, str(d / "followup.nii.gz"))
    sitk.WriteImage(rigid_pair.followup_lesion_mask, str(d / "lesion.nii.gz"))
    return d


def _write_dicom(folder, image: sitk.Image, *, for_uid: str, series: str) -> None:  # noqa: ANN001
    from radnec.phantom.dicom_write import Patient, write_mr_series

    arr = sitk.GetArrayFromImage(image)
    u16 = sitk.GetImageFromArray(np.clip(arr * 10.0, 0, 65535).astype(np.uint16))
    u16.CopyInformation(image)
    write_mr_series(
        folder,
        u16,
        sequence="T1c",
        patient=Patient(name="TEST^FUSION", patient_id="FUSE01"),
        study_uid=pydicom.uid.generate_uid(entropy_srcs=["study", series]),
        study_id="1",
        study_description="test",
        series_uid=pydicom.uid.generate_uid(entropy_srcs=["series", series]),
        series_number=1,
        for_uid=for_uid,
        date=dt.date(2024, 1, 1),
        time="120000",
        uid_parts=[series],
    )


def test_cli_rigid_nifti_json(tmp_path, nifti_pair, rigid_pair, capsys) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "fuse",
            "--fixed", str(nifti_pair / "planning.nii.gz"),
            "--moving", str(nifti_pair / "followup.nii.gz"),
            "--out", str(out),
            "--rigid-only",
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["method"] == "registered-rigid"
    assert summary["quality"]["poor_quality"] is False
    for name in ("fusion.json", "rigid.tfm", "overlay.png", "followup_on_planning.nii.gz"):
        assert (out / name).exists(), name
    from radnec.fuse.transforms import load

    tre = target_registration_error(rigid_pair, load(out).transform, step_mm=6.0)
    assert tre["brain"]["mean"] < 0.8


def test_cli_dicom_writes_reg_that_reads_back(tmp_path, rigid_pair) -> None:
    _write_dicom(tmp_path / "plan", rigid_pair.planning, for_uid="1.2.826.0.1.3680043.8.498.11", series="plan")
    _write_dicom(tmp_path / "fu", rigid_pair.followup, for_uid="1.2.826.0.1.3680043.8.498.12", series="fu")
    out = tmp_path / "out"
    code = main(["fuse", "--fixed", str(tmp_path / "plan"), "--moving", str(tmp_path / "fu"), "--out", str(out), "--rigid-only"])
    assert code == 0
    from radnec.fuse.transforms import load

    res = load(out)
    tx = ingest_reg.read_transform(
        out / "reg_rigid.dcm", fixed_frame_uid="1.2.826.0.1.3680043.8.498.11", moving_frame_uid="1.2.826.0.1.3680043.8.498.12"
    )
    pts = [(0.0, 0.0, 0.0), (30.0, -20.0, 10.0)]
    for p in pts:
        assert np.allclose(tx.TransformPoint(p), res.rigid.TransformPoint(p), atol=1e-6)
    # and the REG is then accepted as the rigid part (no re-registration)
    out2 = tmp_path / "out2"
    code = main(
        ["fuse", "--fixed", str(tmp_path / "plan"), "--moving", str(tmp_path / "fu"), "--out", str(out2), "--rigid-only",
         "--reg", str(out / "reg_rigid.dcm")]
    )
    assert code == 0
    again = load(out2)
    assert again.method == "dicom-reg"
    for p in pts:
        assert np.allclose(again.rigid.TransformPoint(p), res.rigid.TransformPoint(p), atol=1e-5)


def test_cli_deidentify_replaces_identity_in_reg(tmp_path, rigid_pair) -> None:
    _write_dicom(tmp_path / "plan", rigid_pair.planning, for_uid="1.2.826.0.1.3680043.8.498.41", series="plan")
    _write_dicom(tmp_path / "fu", rigid_pair.followup, for_uid="1.2.826.0.1.3680043.8.498.42", series="fu")
    out = tmp_path / "out"
    args = ["fuse", "--fixed", str(tmp_path / "plan"), "--moving", str(tmp_path / "fu"), "--out", str(out), "--rigid-only"]
    assert main([*args, "--deidentify", "--pseudonym", "STUDY-042"]) == 0
    raw = (out / "reg_rigid.dcm").read_bytes()
    assert b"TEST^FUSION" not in raw and b"FUSE01" not in raw
    ds = pydicom.dcmread(out / "reg_rigid.dcm")
    assert ds.PatientID == "STUDY-042" and ds.PatientIdentityRemoved == "YES"
    plan = pydicom.dcmread(next((tmp_path / "plan").iterdir()), stop_before_pixels=True)
    assert ds.StudyInstanceUID == plan.StudyInstanceUID
    tx = ingest_reg.read_transform(
        out / "reg_rigid.dcm", fixed_frame_uid="1.2.826.0.1.3680043.8.498.41", moving_frame_uid="1.2.826.0.1.3680043.8.498.42"
    )
    from radnec.fuse.transforms import load

    assert np.allclose(tx.TransformPoint((10.0, 5.0, -3.0)), load(out).rigid.TransformPoint((10.0, 5.0, -3.0)), atol=1e-6)


def test_cli_same_frame_is_verified_not_registered(tmp_path, rigid_pair) -> None:
    uid = "1.2.826.0.1.3680043.8.498.21"
    _write_dicom(tmp_path / "a", rigid_pair.planning, for_uid=uid, series="a")
    _write_dicom(tmp_path / "b", rigid_pair.planning, for_uid=uid, series="b")
    out = tmp_path / "out"
    assert main(["fuse", "--fixed", str(tmp_path / "a"), "--moving", str(tmp_path / "b"), "--out", str(out), "--rigid-only"]) == 0
    meta = json.loads((out / "fusion.json").read_text())
    assert meta["method"] == "same-frame-verified"
    assert meta["quality"]["same_frame_residual_mm"] < 0.5
    assert not (out / "reg_rigid.dcm").exists()


def test_cli_errors_exit_2(tmp_path, nifti_pair, head, capsys) -> None:
    image, _ = head
    flat = tmp_path / "slice.nii.gz"
    sitk.WriteImage(image[:, :, 30], str(flat))
    cases = [
        ["--fixed", str(tmp_path / "missing.nii.gz"), "--moving", str(nifti_pair / "followup.nii.gz")],
        ["--fixed", str(flat), "--moving", str(nifti_pair / "followup.nii.gz")],
        # lesion mask on the wrong grid (planning-sized mask given for a cropped follow-up)
        ["--fixed", str(nifti_pair / "planning.nii.gz"), "--moving", str(nifti_pair / "followup.nii.gz"),
         "--mask", str(flat)],
        # a DICOM REG cannot be used with NIfTI input (no frame of reference)
        ["--fixed", str(nifti_pair / "planning.nii.gz"), "--moving", str(nifti_pair / "followup.nii.gz"),
         "--reg", str(nifti_pair / "lesion.nii.gz")],
        # unknown deformable engine; a pseudonym without --deidentify
        ["--fixed", str(nifti_pair / "planning.nii.gz"), "--moving", str(nifti_pair / "followup.nii.gz"), "--engine", "ants"],
        ["--fixed", str(nifti_pair / "planning.nii.gz"), "--moving", str(nifti_pair / "followup.nii.gz"), "--pseudonym", "X"],
    ]
    for args in cases:
        code = main(["fuse", *args, "--out", str(tmp_path / "o")])
        err = capsys.readouterr().err
        assert code == 2, (args, err)
        assert err.startswith("radnec: error:") and "Traceback" not in err
