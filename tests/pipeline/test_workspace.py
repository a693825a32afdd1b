"""The saved middle: keys, atomic results, exact save/load of what stages hand on."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import SimpleITK as sitk

from radnec.fuse.transforms import FusionResult
from radnec.lesion.labels import Compartments
from radnec.pipeline.persist import load_compartments, load_fusion, load_image, save_compartments, save_fusion, save_image
from radnec.pipeline.registration import to_planning_point
from radnec.pipeline.workspace import Keyed, Workspace, digest


def _image(seed: int = 0, pixel=np.float32, shape=(6, 7, 8)) -> sitk.Image:
    rng = np.random.default_rng(seed)
    img = sitk.GetImageFromArray((rng.random(shape) * 100).astype(pixel))
    img.SetOrigin((-12.25, 3.1, 0.7))
    img.SetSpacing((0.9375, 0.9375, 5.0))
    c, s = np.cos(0.3), np.sin(0.3)
    img.SetDirection((c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0))
    return img


def _same(a: sitk.Image, b: sitk.Image) -> bool:
    return (
        a.GetPixelID() == b.GetPixelID()
        and a.GetOrigin() == b.GetOrigin()
        and a.GetSpacing() == b.GetSpacing()
        and a.GetDirection() == b.GetDirection()
        and np.array_equal(sitk.GetArrayViewFromImage(a), sitk.GetArrayViewFromImage(b))
    )


def test_digest_sees_pixels_geometry_and_types():
    a = _image()
    b = _image()
    assert digest(a) == digest(b)
    b.SetOrigin((-12.25, 3.1, 0.7000001))
    assert digest(a) != digest(b), "geometry is part of the key"
    c = _image(seed=1)
    assert digest(a) != digest(c), "pixels are part of the key"
    assert digest(1) != digest(1.0) != digest("1")
    assert digest({"a": 1, "b": 2}) == digest({"b": 2, "a": 1})
    assert digest(Keyed("k", object())) == digest(Keyed("k", None)) != digest(Keyed("j", None))


@pytest.mark.parametrize("pixel", [np.uint8, np.int16, np.float32, np.float64])
def test_images_round_trip_exactly(tmp_path, pixel):
    img = _image(pixel=pixel)
    save_image(img, tmp_path / "i.npz")
    assert _same(img, load_image(tmp_path / "i.npz"))


def test_fusion_with_displacement_field_round_trips_exactly(tmp_path):
    rigid = sitk.Euler3DTransform((1.0, 2.0, 3.0), 0.01, -0.02, 0.03, (4.5, -1.25, 0.125))
    field = sitk.GetImageFromArray(np.random.default_rng(0).normal(0, 0.7, (5, 6, 7, 3)), isVector=True)
    field.SetOrigin((-10.0, -12.0, -8.0))
    field.SetSpacing((4.0, 4.0, 4.0))
    result = FusionResult(
        rigid=rigid, deformation=sitk.DisplacementFieldTransform(sitk.Image(field)), method="registered-rigid+deformable",
        quality={"nmi": 1.2345678901234567, "poor_quality": False}, fixed_frame_uid="1.2", moving_frame_uid="1.3",
    )
    save_fusion(result, tmp_path)
    back = load_fusion(tmp_path)
    assert back.rigid.GetParameters() == rigid.GetParameters()
    assert back.rigid.GetFixedParameters() == rigid.GetFixedParameters()
    for p in [(0.0, 0.0, 0.0), (3.3, -2.1, 1.7), (100.0, 50.0, -20.0)]:
        assert back.transform.TransformPoint(p) == result.transform.TransformPoint(p)
    assert back.quality == result.quality and back.method == result.method


def test_compartments_round_trip(tmp_path):
    m = sitk.Cast(_image() > 50, sitk.sitkUInt8)
    comps = Compartments(lesion=m, enhancing=m, necrotic=None, edema=sitk.Cast(_image(2) > 80, sitk.sitkUInt8),
                         source="seed", notes=["n1"])
    save_compartments(comps, tmp_path)
    back = load_compartments(tmp_path)
    assert back.necrotic is None and back.source == "seed" and back.notes == ["n1"]
    assert _same(back.lesion, m) and _same(back.edema, comps.edema)


def test_cached_computes_once_then_reuses(tmp_path):
    ws = Workspace(tmp_path / "ws")
    calls = []

    def compute():
        calls.append(1)
        return 41.5

    def save(v, folder):
        (folder / "v.txt").write_text(repr(v))

    def load(folder):
        return float((folder / "v.txt").read_text())

    key = ws.key("s", 1)
    assert ws.cached("s", key, compute, save, load).value == 41.5
    again = Workspace(tmp_path / "ws")
    assert again.cached("s", key, compute, save, load).value == 41.5
    assert len(calls) == 1
    assert again.record.summary() == {"s": {"ran": 0, "reused": 1}}
    fresh = Workspace(tmp_path / "ws", fresh=True)
    fresh.cached("s", key, compute, save, load)
    assert len(calls) == 2 and fresh.record.summary() == {"s": {"ran": 1, "reused": 0}}


def test_a_failed_compute_or_save_leaves_no_result(tmp_path):
    ws = Workspace(tmp_path / "ws")
    key = ws.key("s", 2)

    def bad_save(v, folder):
        (folder / "half.txt").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        ws.cached("s", key, lambda: 1, bad_save, lambda f: 1)
    assert not ws.has("s", key)
    with pytest.raises(ZeroDivisionError):
        ws.cached("s", key, lambda: 1 / 0, bad_save, lambda f: 1)
    assert not ws.has("s", key)


def test_a_killed_writer_leaves_only_tmp_which_the_next_run_clears(tmp_path):
    """A process killed (SIGKILL) in the middle of saving leaves its half-written result under tmp/;
    no result is trusted and the next workspace clears the dead process's leftovers."""
    root = tmp_path / "ws"
    script = textwrap.dedent(
        f"""
        import os, signal
        from radnec.pipeline.workspace import Workspace
        ws = Workspace({str(root)!r})
        def save(v, folder):
            (folder / "half.txt").write_text("half")
            os.kill(os.getpid(), signal.SIGKILL)
        ws.cached("s", ws.key("s", 3), lambda: 1, save, lambda f: 1)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, check=False)
    assert proc.returncode == -9
    leftovers = list((root / "tmp").iterdir())
    assert leftovers, "the killed writer's temporary folder is there"
    ws = Workspace(root)
    assert not ws.has("s", ws.key("s", 3))
    assert not any(p.exists() for p in leftovers)
    assert not list((root / "stages").rglob("half.txt"))


def test_followup_point_maps_back_through_the_inverse():
    rigid = sitk.Euler3DTransform((0.0, 0.0, 0.0), 0.02, -0.01, 0.05, (3.0, -2.0, 1.0))
    arr = np.zeros((20, 20, 20, 3))
    zz, yy, xx = np.mgrid[0:20, 0:20, 0:20]
    bump = np.exp(-((xx - 10) ** 2 + (yy - 10) ** 2 + (zz - 10) ** 2) / 30.0)
    arr[..., 0] = 2.0 * bump
    arr[..., 1] = -1.0 * bump
    field = sitk.GetImageFromArray(arr, isVector=True)
    field.SetOrigin((-20.0, -20.0, -20.0))
    field.SetSpacing((2.0, 2.0, 2.0))
    composite = sitk.CompositeTransform([rigid, sitk.DisplacementFieldTransform(field)])
    for planning_point in [(0.0, 0.0, 0.0), (1.5, -2.5, 3.0), (-6.0, 4.0, -1.0)]:
        followup_point = composite.TransformPoint(planning_point)
        back = to_planning_point(np.asarray(followup_point), composite)
        assert np.allclose(back, planning_point, atol=1e-3)
    assert np.allclose(to_planning_point(np.asarray(rigid.TransformPoint((5.0, 6.0, 7.0))), rigid), (5.0, 6.0, 7.0))


def test_dead_tmp_of_other_processes_is_cleared_but_not_live_ones(tmp_path):
    root = tmp_path / "ws"
    Workspace(root)
    dead = root / "tmp" / "999999999-dead"
    dead.mkdir()
    live = root / "tmp" / f"{os.getppid()}-live"
    live.mkdir()
    Workspace(root)
    assert not dead.exists() and live.exists()


@pytest.mark.parametrize("call", ["reanalyze", "update", "export"])
def test_reruns_on_a_folder_without_an_analysis_are_clear_errors(tmp_path, call):
    from radnec.errors import InputError
    from radnec.pipeline import reanalyze_lesion, update_clinical
    from radnec.pipeline.exports import load_export_inputs

    folder = tmp_path / "not-analysed"
    folder.mkdir()
    with pytest.raises(InputError, match="run `radnec analyze`"):
        if call == "reanalyze":
            reanalyze_lesion(folder, [0.0, 0.0, 0.0])
        elif call == "update":
            update_clinical(folder, None)
        else:
            (folder / "analysis.json").write_text("{}")
            load_export_inputs(folder)
    assert not (folder / ".radnec").exists(), "nothing is created in a folder that holds no analysis"


def test_export_command_on_a_folder_without_an_analysis_exits_2(tmp_path, capsys):
    from radnec import cli

    assert cli.main(["export", str(tmp_path), "--to", str(tmp_path / "dicom")]) == 2
    err = capsys.readouterr().err
    assert "radnec analyze" in err and "Traceback" not in err
