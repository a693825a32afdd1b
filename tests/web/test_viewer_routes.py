"""The viewer's routes on a real analysed 2 mm phantom case: NIfTI volumes that match the saved analysis,
point mapping through the saved registrations, the report's pictures, the form schema, the pages."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

TOKEN = "test-token-for-the-viewer"


def viewer_data_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store data folder holding one analysed 2 mm phantom case (2 follow-ups).

    The web tests' shared ``analysed_data`` fixture when it exists (tests/web/conftest.py), else one built here
    once per run (file-locked across xdist workers).
    """
    try:
        return Path(request.getfixturevalue("analysed_data"))
    except pytest.FixtureLookupError:
        pass
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp().parent / "viewer-analysed"
    with FileLock(str(root) + ".lock"):
        if not (root / "done").is_file():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            exe = [sys.executable, "-m", "radnec.cli"] if not shutil.which("radnec") else [shutil.which("radnec") or "radnec"]
            subprocess.run([*exe, "phantom", "-s", "necrosis", "--voxel-mm", "2", "--months", "3,9", "--out", str(root / "case")],
                           check=True, capture_output=True, timeout=300)
            subprocess.run([*exe, "store", "import", str(root / "case"), "--data", str(root / "data"), "--analyze"],
                           check=True, capture_output=True, timeout=600)
            (root / "done").write_text("ok")
    return root / "data"


@pytest.fixture(scope="session")
def viewer_data(request, tmp_path_factory) -> Path:
    return viewer_data_dir(request, tmp_path_factory)


@pytest.fixture()
def app_client(viewer_data, tmp_path):
    from fastapi.testclient import TestClient

    from radnec.web.app import create_app
    from radnec.web.settings import Settings

    data = tmp_path / "data"
    shutil.copytree(viewer_data, data)
    app = create_app(Settings(data_dir=data, token=TOKEN, workers=1))
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        cases = client.get("/api/cases").json()
        assert cases and cases[0]["analysed"]
        yield client, cases[0]["id"], data


def _nifti(content: bytes, tmp_path: Path, name: str):
    import nibabel as nib

    path = tmp_path / name
    path.write_bytes(content)
    return nib.load(str(path))


@pytest.mark.slow  # builds the analysed case (~30 s) when no other test did
def test_volumes_are_gzipped_nifti_matching_the_saved_analysis(app_client, tmp_path):
    client, case_id, data = app_client
    t0 = time.perf_counter()
    ix = client.get(f"/cases/{case_id}/volumes/index.json")
    first_s = time.perf_counter() - t0
    assert ix.status_code == 200
    index = ix.json()
    assert [tp["label"] for tp in index["timepoints"]] == ["planning", "follow-up 1", "follow-up 2"]
    t0 = time.perf_counter()
    assert client.get(f"/cases/{case_id}/volumes/index.json").json()["key"] == index["key"]
    again_s = time.perf_counter() - t0
    assert again_s < max(0.5, first_s / 3), (first_s, again_s)  # the second load reads the cached set

    t1c = client.get(f"/cases/{case_id}/volumes/t1c-0.nii.gz")
    assert t1c.status_code == 200 and t1c.content[:2] == b"\x1f\x8b"  # gzip: compressed NIfTI, not PNG slices
    assert gzip.decompress(t1c.content)[344:348] == b"n+1\x00"
    nii = _nifti(t1c.content, tmp_path, "t1c.nii.gz")
    # the planning T1c of the saved state, read back in LPS by SimpleITK, equals the served volume
    from radnec.pipeline.run import saved_state

    case, _, tracks = saved_state(data / "cases" / str(case_id) / "analysis")
    planning = case.planning.t1c_image
    back = sitk.ReadImage(str(tmp_path / "t1c.nii.gz"))
    np.testing.assert_allclose(back.GetOrigin(), planning.GetOrigin(), atol=1e-3)
    np.testing.assert_allclose(back.GetDirection(), planning.GetDirection(), atol=1e-6)
    scale = float(np.abs(sitk.GetArrayViewFromImage(planning)).max()) or 1.0
    assert np.abs(sitk.GetArrayFromImage(back) - sitk.GetArrayViewFromImage(planning)).max() <= scale / 3000
    assert nii.shape == planning.GetSize()

    # the dose: Gy on the planning grid; its maximum is the plan's
    dose = _nifti(client.get(f"/cases/{case_id}/volumes/dose.nii.gz").content, tmp_path, "dose.nii.gz").get_fdata()
    analysis = client.get(f"/api/cases/{case_id}/analysis").json()
    assert dose.max() == pytest.approx(index["dose_max_gy"], abs=0.01)
    assert 0.8 * analysis["plan"]["dose_max_gy"] <= dose.max() <= 1.001 * analysis["plan"]["dose_max_gy"]

    # isodose lines: the 100 % line surrounds the seed (the lesion's GTV centre) within a few cm
    les = index["lesions"][0]
    assert les["isodose_levels"][0]["gy"] == pytest.approx(analysis["overview"][0]["prescription_gy"])
    iso = _nifti(client.get(f"/cases/{case_id}/volumes/{les['isodose_file']}").content, tmp_path, "iso.nii.gz")
    lab = np.asarray(iso.dataobj)
    assert set(np.unique(lab)) <= set(range(len(les["isodose_levels"]) + 1)) and (lab == 1).any()
    ras_100 = nib_points(iso.affine, np.argwhere(lab == 1))
    seed_ras = np.array([-les["seed_lps"][0], -les["seed_lps"][1], les["seed_lps"][2]])
    assert np.linalg.norm(ras_100.mean(axis=0) - seed_ras) < 15.0
    # every 100 % edge voxel really has dose ≥ Rx, its outside neighbour less
    assert (dose[lab == 1] >= les["isodose_levels"][0]["gy"] - 0.01).all()

    # lesion contour at the latest follow-up: near the seed; GTV/PTV contours drawn
    lesion = _nifti(client.get(f"/cases/{case_id}/volumes/lesion-2.nii.gz").content, tmp_path, "les.nii.gz")
    pts = nib_points(lesion.affine, np.argwhere(np.asarray(lesion.dataobj) == 1))
    assert len(pts) > 10 and np.linalg.norm(pts.mean(axis=0) - seed_ras) < 20.0
    assert index["structures"]["gtv"] and index["structures"]["ptv"]
    assert client.get(f"/cases/{case_id}/volumes/checker-1.nii.gz").status_code == 200
    assert len(tracks) == len(index["lesions"])


def nib_points(affine: np.ndarray, ijk: np.ndarray) -> np.ndarray:
    return (affine @ np.c_[ijk, np.ones(len(ijk))].T).T[:, :3]


def test_point_mapping_uses_the_saved_registration(app_client):
    client, case_id, data = app_client
    from radnec.pipeline.run import saved_state

    _, fusions, _ = saved_state(data / "cases" / str(case_id) / "analysis")
    lps = np.array([12.5, 60.0, 20.0])
    r = client.get(f"/cases/{case_id}/viewer/map", params={"ras": f"{-lps[0]},{-lps[1]},{lps[2]}"})
    assert r.status_code == 200
    m = r.json()
    np.testing.assert_allclose(m["planning"]["lps"], lps, atol=0.01)
    for fu in m["followups"]:
        expected = fusions[fu["label"]].transform.TransformPoint(tuple(lps))
        np.testing.assert_allclose(fu["lps"], expected, atol=0.01)
        np.testing.assert_allclose(fu["lps_rigid"], fusions[fu["label"]].rigid.value.rigid.TransformPoint(tuple(lps)), atol=0.01)
        assert np.linalg.norm(np.asarray(fu["lps"]) - lps) > 0.5  # a follow-up's own frame differs from the plan's
    assert client.get(f"/cases/{case_id}/viewer/map", params={"ras": "1,2"}).status_code == 422
    assert client.get(f"/cases/{case_id}/viewer/map", params={"ras": "a,b,c"}).status_code == 422
    assert client.get(f"/cases/{case_id}/viewer/map", params={"ras": "nan,0,0"}).status_code == 422


def test_names_outside_the_catalogue_are_refused_and_the_token_is_required(app_client):
    client, case_id, _ = app_client
    for name in ["../analysis.json", "..%2F..%2Fradnec.db", "t1c-9.nii.gz", "x.nii.gz", "index.json.bak", "manifest.json"]:
        r = client.get(f"/cases/{case_id}/volumes/{name}")
        assert r.status_code == 404, name
    assert client.get("/cases/999999/volumes/index.json").status_code == 404
    assert client.get(f"/cases/{case_id}/viewer/figure/..%2F..%2Fetc.png").status_code == 404
    bare = {"Authorization": ""}
    for path in [f"/cases/{case_id}", f"/cases/{case_id}/volumes/dose.nii.gz", "/static/vendor/niivue.js",
                 f"/cases/{case_id}/viewer/map?ras=0,0,0", f"/cases/{case_id}/viewer/clinical-schema"]:
        assert client.get(path, headers=bare).status_code == 401, path


def test_pages_figures_schema_and_static(app_client):
    client, case_id, _ = app_client
    t0 = time.perf_counter()
    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200 and time.perf_counter() - t0 < 2.0
    html = page.text
    assert 'data-case-id="%d"' % case_id in html and "/static/case.js" in html
    assert "Decision support, not a diagnosis" in html
    assert client.get("/").status_code == 200
    assert client.get("/cases/424242").status_code == 404
    keys = client.get(f"/cases/{case_id}/viewer/figures").json()
    assert "views_latest:GTV" in keys and "dvh:GTV" in keys
    png = client.get(f"/cases/{case_id}/viewer/figure/views_latest:GTV.png")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get(f"/cases/{case_id}/viewer/figure/nothing:here.png").status_code == 404
    schema = client.get(f"/cases/{case_id}/viewer/clinical-schema").json()
    assert "primary_histology" in schema["properties"] and "$defs" in schema
    js = client.get("/static/vendor/niivue.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000
    assert client.get("/static/../pages.py").status_code == 404
    assert json.loads(json.dumps(schema)) == schema
    assert os.sep not in client.get(f"/cases/{case_id}/volumes/index.json").json()["key"]
