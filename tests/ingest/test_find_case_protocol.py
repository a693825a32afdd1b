"""find_case on a phantom case whose follow-up holds a routine protocol around the 3-D T1c, given as a zip
through a symlinked folder: the right series is used and every other one is in ``CaseLayout.skipped``."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pydicom
import pytest
from protocol_factory import mr_series

from radnec.discover import find_case
from radnec.ingest.scan import scan

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def messy_case(tmp_path_factory) -> Path:
    from radnec.phantom.generate import generate_case

    root = tmp_path_factory.mktemp("messy")
    case = root / "phantom"
    generate_case("necrosis", 3, case, voxel_mm=2.0, months=[12])
    # the follow-up study: the one whose T1c is not referenced by the RTSTRUCT (latest date)
    studies: dict[str, tuple[str, str, str]] = {}
    for f in case.rglob("*"):
        if f.is_file() and f.suffix == ".dcm":
            ds = pydicom.dcmread(f, stop_before_pixels=True)
            if ds.Modality == "MR":
                studies[ds.StudyInstanceUID] = (ds.StudyDate, ds.FrameOfReferenceUID, ds.StudyTime)
    study_uid, (date, for_uid, time) = max(studies.items(), key=lambda kv: kv[1][0])
    extra = root / "extra"
    kw = {"study_uid": study_uid, "for_uid": for_uid, "study_date": date, "study_time": time}
    mr_series(extra / "loc", description="AAHead_Scout_64ch-head-coil", image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
              n=3, slice_spacing=10, series_number=101, **kw)
    mr_series(extra / "dwi", description="ep2d_diff_3scan_trace_p2", image_type=("ORIGINAL", "PRIMARY", "DIFFUSION", "TRACEW"),
              b_value=1000, acquisition_type="2D", slice_spacing=5, series_number=102, **kw)
    mr_series(extra / "pre", description="t1_se_tra", acquisition_type="2D", tr=550, te=9, pixel_spacing=(0.9, 0.9),
              slice_spacing=6, thickness=5, series_number=103, **kw)
    mr_series(extra / "ax", description="t1_se_tra_KM", acquisition_type="2D", tr=550, te=9, pixel_spacing=(0.9, 0.9),
              slice_spacing=6, thickness=5, contrast_agent="Gadovist", series_number=104, **kw)
    with zipfile.ZipFile(root / "pacs.zip", "w") as zf:
        for f in sorted(extra.rglob("*.dcm")):
            zf.write(f, f"DICOM/{f.parent.name}/{f.name}")
    arrived = root / "arrived"
    arrived.mkdir()
    (arrived / "plan_and_mr").symlink_to(case, target_is_directory=True)
    (arrived / "pacs.zip").symlink_to(root / "pacs.zip")
    return arrived


def test_followup_protocol_choice_and_reasons(messy_case, tmp_path):
    inv = scan(messy_case, extract_dir=tmp_path / "cache")
    layout = find_case(inv)
    (fu,) = layout.followups
    assert fu.series["T1c"].description != "t1_se_tra_KM"
    t1c = fu.series["T1c"].series_instance_uid
    used = {c.series_uid: c for c in layout.series_choices if c.used}
    assert t1c in used and "preferred over 't1_se_tra_KM' (2-D, 0.9×0.9×6.0 mm" in used[t1c].reason
    text = "\n".join(layout.skipped)
    assert "follow-up 1" in text
    assert "'t1_se_tra_KM' not used: T1c candidate not used" in text and "thinner slices" in text
    assert "'t1_se_tra' not used: pre-contrast T1" in text
    assert "'ep2d_diff_3scan_trace_p2' not used: ignored: diffusion" in text
    assert "'AAHead_Scout_64ch-head-coil' not used: ignored: localiser" in text
    assert any(n.startswith("zip pacs.zip: extracted") for n in layout.notes)
    planning_used = [c for c in layout.series_choices if c.used and c.role == "T1c"][0]
    assert planning_used.reason == "used as T1c: the series the RTSTRUCT was drawn on"
