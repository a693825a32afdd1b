"""`radnec measure` end to end through radnec.cli.main, including malformed input (exit 2)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from radnec.cli import main

from .synth import rim_lesion


@pytest.fixture(scope="module")
def synth_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("measure")
    s = rim_lesion(size=56)
    sitk.WriteImage(s.t1c, str(d / "t1c.nii.gz"))
    sitk.WriteImage(s.flair, str(d / "flair.nii.gz"))
    sitk.WriteImage(s.t2, str(d / "t2.nii.gz"))
    lab = sitk.GetArrayFromImage(s.enhancing) * 3 + sitk.GetArrayFromImage(s.necrotic) * 1 + sitk.GetArrayFromImage(s.edema) * 2
    li = sitk.GetImageFromArray(lab.astype(np.uint8))
    li.CopyInformation(s.t1c)
    sitk.WriteImage(li, str(d / "seg.nii.gz"))
    return d, s


def test_measure_seed_json(synth_files, capsys, tmp_path):
    d, s = synth_files
    seed = ",".join(f"{v:.2f}" for v in s.centre_lps)
    code = main(
        ["measure", "--image", str(d / "t1c.nii.gz"), "--flair", str(d / "flair.nii.gz"), "--t2", str(d / "t2.nii.gz"),
         "--seed", seed, "--days-since-srs", "120", "--save-masks", str(tmp_path / "masks"), "--json"]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    tp = out["timepoint"]
    truth_lesion_cc = float(sitk.GetArrayFromImage(s.lesion).sum()) / 1000.0
    assert tp["lesion_cc"] == pytest.approx(truth_lesion_cc, rel=0.05)
    assert tp["edema_enhancement_ratio"] > 10
    assert tp["lesion_quotient"] is not None
    names = {o["name"] for o in out["observations"]}
    assert {"edema_enhancement_ratio", "enhancement_pattern", "necrotic_fraction", "longest_diameter_mm"} <= names
    assert (tmp_path / "masks" / "lesion.nii.gz").is_file()
    assert out["disclaimer"]


def test_measure_with_label_map(synth_files, capsys):
    d, s = synth_files
    code = main(["measure", "--image", str(d / "t1c.nii.gz"), "--seg", str(d / "seg.nii.gz"), "--labels", "brats-mets", "--json"])
    tp = json.loads(capsys.readouterr().out)["timepoint"]
    assert code == 0
    assert tp["enhancing_cc"] == pytest.approx(float(sitk.GetArrayFromImage(s.enhancing).sum()) / 1000.0)
    assert tp["necrotic_cc"] == pytest.approx(float(sitk.GetArrayFromImage(s.necrotic).sum()) / 1000.0)
    # human-readable table
    assert main(["measure", "--image", str(d / "t1c.nii.gz"), "--seg", str(d / "seg.nii.gz"), "--labels", "brats-mets"]) == 0
    assert "longest axial diameter" in capsys.readouterr().out


def test_measure_bad_input_exit_2(synth_files, tmp_path, capsys):
    d, s = synth_files
    t1c = str(d / "t1c.nii.gz")
    seed = ",".join(f"{v:.2f}" for v in s.centre_lps)
    # neither or both of --seg/--seed
    assert main(["measure", "--image", t1c]) == 2
    assert main(["measure", "--image", t1c, "--seed", seed, "--seg", str(d / "seg.nii.gz")]) == 2
    # malformed seed, seed outside the image
    assert main(["measure", "--image", t1c, "--seed", "1,2"]) == 2
    assert main(["measure", "--image", t1c, "--seed", "900,900,900"]) == 2
    # wrong convention (brats-2021 has no label 3)
    assert main(["measure", "--image", t1c, "--seg", str(d / "seg.nii.gz"), "--labels", "brats-2021"]) == 2
    # truncated / not an image
    bad = tmp_path / "broken.nii.gz"
    bad.write_bytes(b"not a nifti")
    assert main(["measure", "--image", str(bad), "--seed", seed]) == 2
    # FLAIR on another grid without --resample; accepted with it
    small = sitk.Resample(s.flair, [28, 28, 28], sitk.Transform(), sitk.sitkLinear, s.flair.GetOrigin(), [2.0, 2.0, 2.0])
    p = tmp_path / "flair2.nii.gz"
    sitk.WriteImage(small, str(p))
    assert main(["measure", "--image", t1c, "--flair", str(p), "--seed", seed]) == 2
    err = capsys.readouterr().err
    assert "--resample" in err
    assert main(["measure", "--image", t1c, "--flair", str(p), "--seed", seed, "--resample", "--json"]) == 0
