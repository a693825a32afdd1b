"""The viewer's NIfTI boundary (LPS → RAS), contours and the vendored NiiVue bundle — no server needed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from radnec.web import volumes as V

STATIC = Path(V.__file__).parent / "static"
TEMPLATES = Path(V.__file__).parent / "templates"
REPO = Path(__file__).resolve().parents[2]


def _oblique_image(seed: int = 0) -> sitk.Image:
    """A small image with an oblique direction, anisotropic spacing and a non-trivial origin (LPS)."""
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 1000, size=(7, 9, 11)).astype(np.float32)  # k, j, i
    img = sitk.GetImageFromArray(arr)
    rot = sitk.Euler3DTransform((0, 0, 0), 0.2, -0.3, 0.5)
    img.SetDirection(rot.GetMatrix())
    img.SetSpacing((0.9, 1.3, 2.5))
    img.SetOrigin((-31.0, 17.5, 42.25))
    return img


def test_affine_maps_an_index_to_the_same_point_as_simpleitk_in_ras():
    img = _oblique_image()
    affine = V.nifti_affine(img)
    for idx in [(0, 0, 0), (10, 8, 6), (3, 5, 2)]:
        lps = np.asarray(img.TransformIndexToPhysicalPoint(idx))
        ras = affine @ np.array([*idx, 1.0])
        np.testing.assert_allclose(ras[:3], V.lps_to_ras(lps), atol=1e-9)
        assert ras[0] == pytest.approx(-lps[0]) and ras[1] == pytest.approx(-lps[1]) and ras[2] == pytest.approx(lps[2])
    np.testing.assert_allclose(V.ras_to_lps(V.lps_to_ras([1.5, -2.0, 3.0])), [1.5, -2.0, 3.0])


def test_written_nifti_round_trips_through_simpleitk_reader(tmp_path):
    """SimpleITK's own NIfTI reader (RAS → LPS) must see the geometry and voxels we wrote."""
    img = _oblique_image()
    path = tmp_path / "x.nii.gz"
    V.to_nifti(img, dtype=np.float32).to_filename(str(path))
    back = sitk.ReadImage(str(path))
    np.testing.assert_allclose(back.GetOrigin(), img.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(back.GetSpacing(), img.GetSpacing(), atol=1e-5)
    np.testing.assert_allclose(back.GetDirection(), img.GetDirection(), atol=1e-5)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back), sitk.GetArrayFromImage(img))


def test_point_round_trip_finds_the_marked_voxel(tmp_path):
    """A voxel marked at an LPS point is found again from the RAS point through the NIfTI affine (nibabel)."""
    import nibabel as nib

    img = _oblique_image(1) * 0
    point_lps = np.asarray(img.TransformIndexToPhysicalPoint((4, 6, 2)))
    img[(4, 6, 2)] = 777.0
    path = tmp_path / "m.nii.gz"
    V.to_nifti(img, dtype=np.int16).to_filename(str(path))
    nii = nib.load(str(path))
    ijk = np.linalg.inv(nii.affine) @ np.array([*V.lps_to_ras(point_lps), 1.0])
    i, j, k = (int(round(v)) for v in ijk[:3])
    data = np.asarray(nii.dataobj) * 1.0
    assert (i, j, k) == (4, 6, 2)
    assert nii.get_fdata()[i, j, k] == pytest.approx(777.0, abs=0.1)
    assert np.count_nonzero(data) == 1


def test_int16_storage_keeps_dose_within_a_centigray(tmp_path):
    import nibabel as nib

    img = _oblique_image(2) * (30.0 / 1000.0)  # 0…30 Gy
    path = tmp_path / "d.nii.gz"
    V.to_nifti(img, dtype=np.int16).to_filename(str(path))
    nii = nib.load(str(path))
    assert nii.get_data_dtype() == np.int16
    np.testing.assert_allclose(nii.get_fdata().transpose(2, 1, 0), sitk.GetArrayFromImage(img), atol=0.01)


def test_edge_is_the_contour_not_the_filling():
    zz, yy, xx = np.mgrid[:21, :21, :21]
    ball = (zz - 10) ** 2 + (yy - 10) ** 2 + (xx - 10) ** 2 <= 36
    shell = V.edge(ball)
    assert shell.sum() < ball.sum() / 2
    assert not shell[10, 10, 10] and shell[10, 10, 4] and shell[10, 4, 10]
    assert not (shell & ~ball).any()
    assert not V.edge(np.zeros((3, 3, 3), bool)).any()


def test_isodose_levels_follow_the_lesion_prescription():
    levels = V.isodose_levels(24.0)
    assert [lv["gy"] for lv in levels] == [24.0, 19.2, 12.0]  # 12 Gy is the 50 % line here: drawn once
    assert [lv["label"] for lv in levels] == ["100 %", "80 %", "50 %"]
    levels = V.isodose_levels(18.0)
    assert [lv["gy"] for lv in levels] == [18.0, 14.4, 9.0, 12.0]
    assert levels[-1]["label"] == "12 Gy" and levels[-1]["kind"] == "absolute"


def test_bundle_is_the_locked_niivue_version_and_licensed():
    lock = json.loads((REPO / "web" / "package-lock.json").read_text())
    locked = lock["packages"]["node_modules/@niivue/niivue"]["version"]
    stamp = json.loads((STATIC / "vendor" / "niivue-version.json").read_text())
    assert stamp["niivue"] == locked
    bundle = STATIC / "vendor" / "niivue.js"
    assert bundle.stat().st_size > 1_000_000
    head = bundle.read_bytes()
    assert b"export{" in head or b"export {" in head  # an ES module the viewer imports
    licences = (STATIC / "vendor" / "niivue-LICENSES.txt").read_text()
    for name, version in stamp["bundled"].items():
        assert f"==== {name} {version}" in licences


def test_no_template_or_script_loads_anything_from_the_network():
    files = list(TEMPLATES.glob("*.html")) + [p for p in STATIC.glob("*.js")] + list(STATIC.glob("*.css"))
    assert files, "templates and scripts exist"
    external = re.compile(r"""(src|href)\s*=\s*["']?(https?:)?//|import\s[^;]*?["'](https?:)?//|url\(\s*["']?(https?:)?//""")
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not external.search(text), f"{path.name} references an external URL"
