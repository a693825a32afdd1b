"""`analyze` over its saved middle, end to end on a small phantom (2 mm, two follow-ups).

Fresh and reused runs give byte-identical analysis.json; a changed clinical file or a new seed
re-runs only what depends on it; a run killed during fusion and re-run gives the uninterrupted result.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from radnec import cli
from radnec.pipeline import reanalyze_lesion, update_clinical

pytestmark = pytest.mark.slow

CLINICAL = Path(__file__).resolve().parents[2] / "src" / "radnec" / "commands" / "data" / "demo_clinical.yaml"
EXPENSIVE = ("inputs", "plan", "fusion-rigid", "segment", "fusion-deformable")


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    """A fresh analysis (with report) and a copy of its analysis.json."""
    from radnec.phantom.generate import generate_case

    root = tmp_path_factory.mktemp("stages")
    case = root / "case"
    truth = generate_case("marginal", 2, case, months=[3, 9], voxel_mm=2.0)
    out = root / "out"
    assert cli.main(["analyze", str(case), "--out", str(out), "--clinical", str(CLINICAL)]) == 0
    saved = root / "first.json"
    shutil.copy(out / "analysis.json", saved)
    return case, truth, out, saved


def _run_json(out: Path) -> dict:
    return json.loads((out / "run.json").read_text())


def test_fresh_run_computes_every_stage(first):
    _, _, out, _ = first
    stages = _run_json(out)["stages"]
    assert all(stages[s]["ran"] >= 1 and stages[s]["reused"] == 0 for s in EXPENSIVE), stages
    assert "run" not in json.loads((out / "analysis.json").read_text())
    assert (out / "report.html").stat().st_size > 10_000


def test_second_run_reuses_everything_and_is_byte_identical(first):
    case, _, out, saved = first
    assert cli.main(["analyze", str(case), "--out", str(out), "--clinical", str(CLINICAL)]) == 0
    stages = _run_json(out)["stages"]
    assert all(v["ran"] == 0 for v in stages.values()), stages
    assert (out / "analysis.json").read_bytes() == saved.read_bytes()


def test_export_reads_the_saved_middle(first, tmp_path):
    """`radnec export` takes the masks and registrations of the analysis from its workspace."""
    import pydicom

    _, _, out, saved = first
    to = tmp_path / "dicom"
    before = sorted((out / ".radnec" / "stages").glob("*/*"))
    assert cli.main(["export", str(out), "--to", str(to)]) == 0
    assert sorted((out / ".radnec" / "stages").glob("*/*")) == before, "nothing recomputed for the export"
    modalities = sorted(pydicom.dcmread(f, stop_before_pixels=True).Modality for f in to.rglob("*.dcm"))
    assert modalities.count("SEG") == 2 and modalities.count("REG") >= 2 and "SR" in modalities and "RTSTRUCT" in modalities
    sr = next(f for f in to.rglob("*.dcm") if pydicom.dcmread(f, stop_before_pixels=True).Modality == "SR")
    assert len(pydicom.dcmread(sr).ContentSequence) > 0


def test_changed_clinical_file_reuses_images_and_registrations(first, tmp_path):
    _, _, out, saved = first
    text = CLINICAL.read_text().replace("symptoms: mild", "symptoms: severe").replace("response: not_given", "response: improved")
    changed = tmp_path / "changed.yaml"
    changed.write_text(text)
    result = update_clinical(out, changed)
    stages = _run_json(out)["stages"]
    assert all(stages[s]["ran"] == 0 for s in EXPENSIVE if s in stages), stages
    before = json.loads(saved.read_text())["lesions"][0]
    after = result.lesions[0]
    assert [tp.enhancing_cc for tp in after.timepoints] == [tp["enhancing_cc"] for tp in before["timepoints"]]
    assert after.dose.coverage_pct.rx50 == before["dose"]["coverage_pct"]["rx50"]
    assert after.evidence["items"] != before["evidence"]["items"], "the new clinical facts enter the evidence"
    # back to the original file: the original analysis, byte for byte
    update_clinical(out, CLINICAL)
    assert (out / "analysis.json").read_bytes() == saved.read_bytes()


def test_seed_on_the_latest_followup_finds_the_same_lesion_without_registering(first):
    _, truth, out, saved = first
    latest = truth["timepoints"][-1]
    index = next(x for x in latest["lesions"] if x.get("index_lesion"))
    result = reanalyze_lesion(out, index["centre_lps"], frame="latest")
    stages = _run_json(out)["stages"]
    assert stages.get("fusion-deformable", {"ran": 0})["ran"] == 0 and stages["fusion-rigid"]["ran"] == 0
    (lesion,) = result.lesions
    before = json.loads(saved.read_text())["lesions"][0]
    assert lesion.timepoints[-1].enhancing_cc == pytest.approx(before["timepoints"][-1]["enhancing_cc"], rel=0.05)
    assert lesion.pattern == truth["pattern"]
    assert any("given on follow-up 2" in w for w in result.warnings)
    assert any("registration reused" in w for w in result.warnings)
    # a clinical edit after the seed keeps the registrations the seed run reused (no re-registration)
    again = update_clinical(out, CLINICAL)
    stages = _run_json(out)["stages"]
    assert stages.get("fusion-deformable", {"ran": 0})["ran"] == 0 and stages["fusion-rigid"]["ran"] == 0
    assert len(again.lesions) == 1 and any("registration reused" in w for w in again.warnings)


def test_knowledge_override_is_remembered_by_the_reruns(first, tmp_path):
    """A run with --knowledge-override saves it; update_clinical and reanalyze_lesion apply it again."""
    import yaml

    case, truth, _, _ = first
    out = tmp_path / "local"
    shutil.copytree(first[2], out)
    override = tmp_path / "o.yaml"
    override.write_text(yaml.safe_dump({
        "schema_version": 1,
        "provenance": {"cohort": "hand", "n_lesions": 10, "date": "2026-12-05", "method": "2x2", "radnec_version": "0"},
        "items": {}, "prior": {"point": 0.7, "range": [0.5, 0.85]},
    }))
    assert cli.main(["analyze", str(case), "--out", str(out), "--clinical", str(CLINICAL),
                     "--knowledge-override", str(override)]) == 0
    prior = json.loads((out / "analysis.json").read_text())["lesions"][0]["evidence"]["prior_tp"]
    assert prior == 0.7
    assert update_clinical(out, CLINICAL).lesions[0].evidence["prior_tp"] == 0.7
    latest = truth["timepoints"][-1]
    index = next(x for x in latest["lesions"] if x.get("index_lesion"))
    assert reanalyze_lesion(out, index["centre_lps"], frame="latest").lesions[0].evidence["prior_tp"] == 0.7
    # without the option the next analyze is the cited one again
    assert cli.main(["analyze", str(case), "--out", str(out), "--clinical", str(CLINICAL)]) == 0
    assert update_clinical(out, CLINICAL).lesions[0].evidence["prior_tp"] == 0.4


def test_bad_seed_frame_is_a_clear_error(first, capsys):
    _, _, out, _ = first
    from radnec.errors import InputError

    with pytest.raises(InputError, match="not a follow-up"):
        reanalyze_lesion(out, [0.0, 0.0, 0.0], frame="1999-01-01")
    case = first[0]
    code = cli.main(["analyze", str(case), "--out", str(out), "--lesion-seed=1,2,3", "--lesion-seed-followup=1,2,3"])
    assert code == 2 and "one frame" in capsys.readouterr().err


def test_killed_during_fusion_then_rerun_gives_the_uninterrupted_result(first, tmp_path):
    case, _, _, saved = first
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "radnec.cli", "analyze", str(case), "--out", str(out), "--clinical", str(CLINICAL),
           "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rigid = out / ".radnec" / "stages" / "fusion-rigid"
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if rigid.is_dir() and any(rigid.iterdir()):
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be killed during fusion"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not (out / "analysis.json").exists()
    assert not (out / ".radnec" / "stages" / "fusion-deformable").exists() or not any(
        (out / ".radnec" / "stages" / "fusion-deformable").iterdir()
    )
    assert cli.main(["analyze", str(case), "--out", str(out), "--clinical", str(CLINICAL), "--no-report"]) == 0
    assert (out / "analysis.json").read_bytes() == saved.read_bytes()
    stages = _run_json(out)["stages"]
    assert stages["inputs"]["reused"] == 1 and stages["fusion-rigid"]["reused"] >= 1
    assert not [p for p in (out / ".radnec" / "tmp").rglob("*") if p.is_file()], "no half-written result left"


def test_manifest_records_the_registrations_and_seeds(first):
    """The manifest names each follow-up's registration result (for reanalyze_lesion and the exports)."""
    _, _, out, _ = first
    manifest = json.loads((out / ".radnec" / "manifest.json").read_text())
    assert manifest["registrations"] and all(isinstance(k, str) and len(k) == 64 for k in manifest["registrations"].values())
    assert np.isfinite(np.asarray(manifest["lesion_seeds_lps"] or [[0.0, 0.0, 0.0]], float)).all()
