"""RTSTRUCT reader and contour → mask / fraction / volume."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import SimpleITK as sitk
from rt_factory import circle, square, write_rtstruct

from radnec.errors import GeometryError, InputError, MissingReferenceError
from radnec.geometry import mask_volume_cc
from radnec.geometry.contour_masks import roi_fraction, roi_mask
from radnec.geometry.contours import ROI, Contour, contour_model, roi_volume_cc
from radnec.ingest.rtstruct import read_rtstruct


def _grid(size=(60, 60, 60), spacing=(1.0, 1.0, 1.0), origin=(-30.0, -36.0, -24.0), direction=None) -> sitk.Image:
    img = sitk.Image([int(s) for s in size], sitk.sitkUInt8)
    img.SetSpacing(spacing)
    img.SetOrigin(origin)
    if direction is not None:
        img.SetDirection(tuple(np.asarray(direction, float).ravel()))
    return img


def _analytical(data_dir) -> dict[str, float]:
    rows = csv.DictReader(open(data_dir / "rt-nelms" / "analytical_points.csv"))
    return {r["structure"]: float(r["volume_cc"]) for r in rows}


@pytest.mark.parametrize("name", ["Sphere_10_0", "Cylinder_10_0", "Cone_10_0"])
def test_nelms_mask_volume_within_1pct_on_1mm_grid(data_dir, name):
    ss = read_rtstruct(data_dir / "rt-nelms" / f"{name}.dcm")
    roi = ss.roi(name.lower())  # case-insensitive lookup
    truth = _analytical(data_dir)[name]
    ref = _grid()  # 1 mm, voxel centres on integer mm
    assert roi_volume_cc(roi) == pytest.approx(truth, rel=0.01)
    assert mask_volume_cc(roi_fraction(roi, ref, supersample=4)) == pytest.approx(truth, rel=0.01)
    mask = roi_mask(roi, ref, supersample=4)
    assert mask.GetPixelID() == sitk.sitkUInt8
    assert mask_volume_cc(mask) == pytest.approx(truth, rel=0.01)


def test_xor_hole_and_island(tmp_path):
    planes = []
    for z in np.arange(-5.0, 5.5, 1.0):
        planes += [square(0, 0, z, 10.0), square(0, 0, z, 5.0), square(0, 0, z, 2.0)]
    ss = read_rtstruct(write_rtstruct(tmp_path / "rs.dcm", {"ring": planes}))
    roi = ss.roi("ring")
    expected_area = 20**2 - 10**2 + 4**2  # outer − hole + island (mm²)
    assert roi_volume_cc(roi) == pytest.approx(expected_area * 11.0 / 1000, rel=1e-6)  # 11 planes × 1 mm slabs
    frac = roi_fraction(roi, _grid(origin=(-15.5, -15.5, -10.0), size=(32, 32, 20)), supersample=2)
    assert mask_volume_cc(frac) == pytest.approx(expected_area * 11.0 / 1000, rel=0.01)
    arr = sitk.GetArrayViewFromImage(frac)
    # the hole is empty, the island filled (indices: z=10 ↔ z=0 mm; x,y 15.5 + v)
    assert arr[10, 15 + 4, 15 + 4] == 0.0  # (3.5, 3.5) mm inside the hole
    assert arr[10, 15, 15] == 1.0  # (−0.5, −0.5) mm inside the island
    assert arr[10, 15 + 8, 15 + 8] == 1.0  # (7.5, 7.5) mm in the ring


def test_end_cap_convention(tmp_path):
    planes = [square(0, 0, z, 5.0) for z in (0.0, 2.0, 4.0)]
    roi = read_rtstruct(write_rtstruct(tmp_path / "rs.dcm", {"box": planes})).roi("box")
    assert roi_volume_cc(roi) == pytest.approx(100 * 6.0 / 1000)  # half a slice (1 mm) beyond each end
    assert roi_volume_cc(roi, end_cap=False) == pytest.approx(100 * 4.0 / 1000)


def test_gap_between_runs_gets_its_own_end_caps(tmp_path):
    planes = [square(0, 0, z, 5.0) for z in (0.0, 1.0, 2.0, 10.0, 11.0)]
    roi = read_rtstruct(write_rtstruct(tmp_path / "rs.dcm", {"two": planes})).roi("two")
    m = contour_model(roi)
    assert [round(s.thickness, 6) for s in m.slabs] == [1.0] * 5
    assert roi_volume_cc(roi) == pytest.approx(0.5)


def test_point_and_line_contours_ignored_and_reported(tmp_path):
    pts = [square(0, 0, z, 5.0) for z in (0.0, 1.0, 2.0)] + [np.array([[3.0, 3.0, 1.0]]), np.array([[0.0, 0.0, 1.0], [4.0, 0.0, 1.0]])]
    roi = read_rtstruct(write_rtstruct(tmp_path / "rs.dcm", {"t": pts})).roi("t")
    m = contour_model(roi)
    assert len(m.ignored) == 2 and any("POINT" in s for s in m.ignored)
    assert m.volume_cc() == pytest.approx(0.3)


def test_sub_voxel_contour_gets_partial_volume(tmp_path):
    planes = [circle(0.3, -0.2, z, 0.4, n=32) for z in (0.0, 0.5, 1.0)]  # 0.8 mm wide, 1.5 mm tall
    roi = read_rtstruct(write_rtstruct(tmp_path / "rs.dcm", {"tiny": planes})).roi("tiny")
    exact = roi_volume_cc(roi)
    ref = _grid(size=(10, 10, 10), spacing=(2.0, 2.0, 2.0), origin=(-9.0, -9.0, -9.0))
    frac = roi_fraction(roi, ref, supersample=8)
    assert 0 < mask_volume_cc(frac) == pytest.approx(exact, rel=0.15)
    assert float(sitk.GetArrayViewFromImage(frac).max()) < 1.0


def test_contour_partly_outside_grid_is_reported(tmp_path):
    planes = [square(0, 0, z, 5.0) for z in np.arange(0.0, 10.0, 1.0)]
    roi = read_rtstruct(write_rtstruct(tmp_path / "rs.dcm", {"b": planes})).roi("b")
    ref = _grid(size=(20, 20, 5), origin=(-9.5, -9.5, 0.0))  # covers z −0.5..4.5 only: half the slabs
    report = []
    roi_fraction(roi, ref, supersample=2, report=report)
    assert report[0].outside_fraction == pytest.approx(0.5, abs=0.02)


def test_oblique_reference_grid_gives_same_volume(tmp_path):
    planes = [circle(2.0, -3.0, z, 8.0) for z in np.arange(-6.0, 6.5, 1.0)]
    roi = read_rtstruct(write_rtstruct(tmp_path / "rs.dcm", {"c": planes})).roi("c")
    a = np.deg2rad(25.0)
    rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]]) @ np.array(
        [[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]]
    )
    ref = _grid(size=(40, 40, 40), spacing=(0.9, 0.9, 0.9), direction=rot, origin=tuple(-(rot @ np.full(3, 18.0))))
    v = mask_volume_cc(roi_fraction(roi, ref, supersample=4))
    assert v == pytest.approx(roi_volume_cc(roi), rel=0.01)


def test_single_plane_roi_needs_a_thickness(tmp_path):
    roi = read_rtstruct(write_rtstruct(tmp_path / "rs.dcm", {"flat": [square(0, 0, 0.0, 5.0)]})).roi("flat")
    with pytest.raises(GeometryError, match="single plane"):
        roi_volume_cc(roi)
    assert roi_volume_cc(roi, slice_thickness_mm=2.0) == pytest.approx(0.2)
    # on a grid the grid's spacing along the normal is used
    frac = roi_fraction(roi, _grid(size=(20, 20, 5), origin=(-9.5, -9.5, -2.0)), supersample=2)
    assert mask_volume_cc(frac) == pytest.approx(0.1, rel=0.05)


def test_non_parallel_contours_refused():
    tilted = np.array([[0, 0, 0], [10, 0, 0], [10, 0, 10], [0, 0, 10]], float)  # in an x-z plane
    roi = ROI(1, "bad", "", None, [Contour(square(0, 0, 0.0, 5.0), "CLOSED_PLANAR"), Contour(tilted, "CLOSED_PLANAR")])
    with pytest.raises(GeometryError, match="parallel"):
        contour_model(roi)


def test_empty_roi_refused():
    with pytest.raises(GeometryError, match="empty ROI"):
        contour_model(ROI(1, "e", "", None, []))


def test_roi_lookup_lists_names(data_dir):
    ss = read_rtstruct(data_dir / "rt-dicompyler" / "rtss.dcm")
    assert ss.roi("  HEART ").number == 5
    with pytest.raises(MissingReferenceError, match="available: .*Heart"):
        ss.roi("liver")


def test_malformed_contour_data(tmp_path):
    p = write_rtstruct(tmp_path / "rs.dcm", {"x": [square(0, 0, 0.0, 5.0)]})
    import pydicom

    ds = pydicom.dcmread(p)
    ds.ROIContourSequence[0].ContourSequence[0].ContourData = ["1", "2", "3", "4"]
    ds.save_as(p)
    with pytest.raises(InputError, match="triplets"):
        read_rtstruct(p)


def test_dicompyler_structure_set(data_dir):
    ss = read_rtstruct(data_dir / "rt-dicompyler" / "rtss.dcm")
    assert {r.name for r in ss.rois} == {"Heart", "Scar", "Tumor Bed"}
    heart = ss.roi("Heart")
    assert heart.type == "ORGAN" and heart.color is not None
    assert roi_volume_cc(heart) == pytest.approx(440.23, rel=0.005)  # dicompyler-core reference (end-capped slabs)


def test_brain_srs_gtvs_positive_and_inside_brain(data_dir):
    """The five GTVs have positive volumes and lie inside the brain: within the convex outline of
    the brain contour on their planes (BRAIN − PTV has the targets cut out, by holes or by
    notches in its outline), and not overlapping BRAIN − PTV itself."""
    from scipy.spatial import Delaunay

    ss = read_rtstruct(data_dir / "rt-brain-srs" / "RS.dcm")
    brain = contour_model(ss.roi("BRAIN - PTV"))
    los = [s.lo for s in brain.slabs]
    hulls: dict[int, Delaunay] = {}
    for i in range(1, 6):
        gtv = ss.roi(f"GTV_{i}")
        assert roi_volume_cc(gtv) > 0
        for c in gtv.contours:
            uvw = brain.to_plane(c.points)
            k = int(np.searchsorted(los, uvw[0, 2], side="right") - 1)
            assert k >= 0 and uvw[0, 2] < brain.slabs[k].hi
            if k not in hulls:
                from scipy.spatial import ConvexHull

                allp = np.vstack(brain.slabs[k].polygons)
                hulls[k] = Delaunay(allp[ConvexHull(allp).vertices])
            hull = hulls[k]
            assert np.all(hull.find_simplex(uvw[:, :2]) >= 0), f"GTV_{i} outside the brain outline"
        centre = np.vstack([c.points for c in gtv.contours]).mean(axis=0, keepdims=True)
        assert not brain.inside(centre)[0], f"GTV_{i} centre is inside BRAIN − PTV (targets should be cut out)"


def test_area_interpolation_between_planes(tmp_path):
    """A 12 mm sphere contoured every 3 mm: the stair-step slab volume is ~1.6 % low; the cubic
    interpolation of cross-section areas recovers 4/3 π R³ (areas are quadratic along the axis)."""
    R = 12.0
    planes = [circle(0, 0, z, max(np.sqrt(R * R - z * z), 0.13), n=256) for z in np.arange(-12.0, 12.1, 3.0)]
    roi = read_rtstruct(write_rtstruct(tmp_path / "rs.dcm", {"sphere": planes})).roi("sphere")
    truth = 4 / 3 * np.pi * R**3 / 1000
    assert contour_model(roi, area_interpolation=False).volume_cc() == pytest.approx(truth * (1 - 0.0156), rel=0.002)
    assert roi_volume_cc(roi) == pytest.approx(truth, rel=0.002)
