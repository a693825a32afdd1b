"""Truth checks recomputed independently from the written files."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from matplotlib.path import Path as MplPath

from radnec.phantom import SCENARIOS


def _read_dose(path):
    ds = pydicom.dcmread(path)
    dose = ds.pixel_array.astype(np.float64) * float(ds.DoseGridScaling)
    origin = np.array([float(v) for v in ds.ImagePositionPatient])
    dy, dx = (float(v) for v in ds.PixelSpacing)
    offsets = np.array([float(v) for v in ds.GridFrameOffsetVector])
    return dose, origin, dx, dy, offsets


def _rasterise(rs, name, origin, dx, dy, offsets, shape):
    number = {r.ROIName: r.ROINumber for r in rs.StructureSetROISequence}[name]
    roi = next(r for r in rs.ROIContourSequence if r.ReferencedROINumber == number)
    out = np.zeros(shape, dtype=bool)
    jj, ii = np.mgrid[0 : shape[1], 0 : shape[2]]
    pts = np.column_stack([origin[0] + ii.ravel() * dx, origin[1] + jj.ravel() * dy])
    for c in roi.ContourSequence:
        xyz = np.array([float(v) for v in c.ContourData]).reshape(-1, 3)
        k = np.flatnonzero(np.isclose(origin[2] + offsets, xyz[0, 2], atol=1e-3))
        if k.size == 0:
            continue
        inside = MplPath(xyz[:, :2]).contains_points(pts).reshape(shape[1:])
        out[k[0]] ^= inside
    return out


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_plan_metrics_recomputed_from_rtdose_rtstruct(phantom_cases, scenario):
    folder, truth = phantom_cases[scenario]
    plan = truth["plan"]
    dose, origin, dx, dy, offsets = _read_dose(folder / plan["rtdose"])
    rs = pydicom.dcmread(folder / plan["rtstruct"])
    ptv = _rasterise(rs, "PTV", origin, dx, dy, offsets, dose.shape)
    gtv = _rasterise(rs, "GTV", origin, dx, dy, offsets, dose.shape)
    brain = _rasterise(rs, "Brain", origin, dx, dy, offsets, dose.shape)
    rx = plan["prescription_gy"]
    piv = dose >= rx
    ci = piv.sum() / ptv.sum()
    gi = (dose >= 0.5 * rx).sum() / piv.sum()
    cov = 100.0 * (piv & gtv).sum() / gtv.sum()
    v12 = ((dose >= 12.0) & brain & ~gtv).sum() * dx * dy * (offsets[1] - offsets[0]) / 1000.0
    assert ci == pytest.approx(plan["ci_rtog"], rel=0.01)
    assert gi == pytest.approx(plan["gi"], rel=0.01)
    assert cov == pytest.approx(plan["gtv_coverage_pct"], rel=0.01)
    assert v12 == pytest.approx(plan["v12_cc"], rel=0.01)
    assert dose.max() == pytest.approx(rx / (plan["isodose_line_pct"] / 100.0), rel=0.01)
    # targets of the generator (single fraction)
    assert 1.0 <= plan["ci_rtog"] <= 1.3
    assert 2.5 <= plan["gi"] <= 3.5
    assert plan["gtv_coverage_pct"] >= 95.0


def _planning_frame_fraction(folder, tp, truth, mask_name, level_pct):
    """Map a follow-up truth mask to the dose grid with the truth transform; fraction of it
    receiving >= level_pct % of Rx (independent of the generator's own planning-frame masks)."""
    dose = sitk.ReadImage(str(folder / "truth" / "planning" / "dose_gy.nii.gz"))
    tx = sitk.ReadTransform(str(folder / tp["transform"]["path"]))
    m = sitk.ReadImage(str(folder / tp["masks"][mask_name]))
    on_plan = sitk.GetArrayFromImage(sitk.Resample(m, dose, tx, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)) > 0
    d = sitk.GetArrayFromImage(dose)
    rx = truth["plan"]["prescription_gy"]
    return on_plan, d, rx


def test_transform_maps_followup_masks_back_onto_planning_masks(phantom_cases):
    folder, truth = phantom_cases["marginal"]
    grid = sitk.ReadImage(str(folder / truth["timepoints"][0]["masks"]["enhancing"]))
    for tp in truth["timepoints"][1:]:
        tx = sitk.ReadTransform(str(folder / tp["transform"]["path"]))
        fu = sitk.ReadImage(str(folder / tp["masks"]["lesion_labels"]))
        back = sitk.GetArrayFromImage(sitk.Resample(fu, grid, tx, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)) > 0
        ref = sitk.GetArrayFromImage(sitk.ReadImage(str(folder / tp["masks"]["planning_frame_lesion_labels"]))) > 0
        dice = 2 * (back & ref).sum() / (back.sum() + ref.sum())
        assert dice > 0.75, (tp["label"], dice)  # small lesion, 2 mm voxels, two NN resamplings
        # without the transform the masks do not line up
        ident = sitk.GetArrayFromImage(sitk.Resample(fu, grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0)) > 0
        assert 2 * (ident & ref).sum() / (ident.sum() + ref.sum()) < dice - 0.2
        # the lesion centre in the planning frame maps onto the follow-up seed region
        idx = np.argwhere(ref).mean(0)[::-1]
        c_plan = grid.TransformContinuousIndexToPhysicalPoint([float(v) for v in idx])
        c_fu = np.array(tx.TransformPoint(c_plan))
        les = tp["lesions"][0]
        assert np.linalg.norm(c_fu - np.array(les["centre_lps"])) < 3.0 * truth["voxel_mm"]
        rig = tp["transform"]["rigid"]
        assert rig["rotation_deg"] <= 10.0 + 1e-6 and rig["translation_norm_mm"] <= 15.0 + 1e-6
        assert tp["transform"]["mass_effect"]["amplitude_mm"] <= 5.0


def test_marginal_pattern_geometry(phantom_cases):
    folder, truth = phantom_cases["marginal"]
    assert truth["pattern"] == "marginal"
    tp = truth["timepoints"][-1]
    on_plan, d, rx = _planning_frame_fraction(folder, tp, truth, "enhancing", 80)
    gtv = sitk.GetArrayFromImage(sitk.ReadImage(str(folder / truth["timepoints"][0]["masks"]["lesion_labels"]))) > 0
    # the planning-grid GTV mask and the dose grid differ: compare on the planning grid
    pm = tp["pattern_measures"]
    assert 50.0 < pm["dose_at_new_centroid_pct_rx"] < 100.0
    assert pm["new_enhancing_inside_rx80"] <= 0.5
    # independent: mapped follow-up enhancing mask, centroid dose between 50 and 100 % Rx
    idx = np.argwhere(on_plan).mean(0)
    from scipy.ndimage import map_coordinates

    dc = map_coordinates(d, idx.reshape(3, 1), order=1)[0]
    assert 0.5 * rx < dc < rx
    assert (d[on_plan] < 0.8 * rx).mean() >= 0.5
    del gtv


def test_necrosis_envelops_prescription_volume_and_large_edema(phantom_cases):
    folder, truth = phantom_cases["necrosis"]
    for tp in truth["timepoints"][1:]:
        lesion, d, rx = _planning_frame_fraction(folder, tp, truth, "lesion_labels", 100)
        piv = d >= rx
        assert (lesion & piv).sum() / piv.sum() >= 0.9
        assert tp["edema_to_enhancing_ratio"] >= 10.0
        # Leeman's ratio (edema / whole T1c lesion incl. the core) is hit in each follow-up's own frame
        assert 12.0 <= tp["edema_to_t1_lesion_ratio"] <= 22.0   # target 14-17; 2 mm voxels discretise the thin rim
        assert tp["necrotic_cc"] > 0
        assert tp["pattern_measures"]["centroid_offset_fraction_of_radius"] < 0.25


def test_infield_and_distant_patterns(phantom_cases):
    folder, truth = phantom_cases["infield"]
    for tp in truth["timepoints"][1:]:
        enh, d, rx = _planning_frame_fraction(folder, tp, truth, "enhancing", 95)
        assert (d[enh] >= 0.95 * rx).mean() >= 0.8
        assert tp["edema_to_enhancing_ratio"] < 10.0
        assert tp["edema_to_t1_lesion_ratio"] < 6.0
    folder, truth = phantom_cases["distant"]
    tp = truth["timepoints"][-1]
    lab, d, rx = _planning_frame_fraction(folder, tp, truth, "lesion_labels", 50)
    new_label = next(les["label"] for les in tp["lesions"] if les["index_lesion"])
    fu = sitk.ReadImage(str(folder / tp["masks"]["lesion_labels"]))
    tx = sitk.ReadTransform(str(folder / tp["transform"]["path"]))
    dose = sitk.ReadImage(str(folder / "truth" / "planning" / "dose_gy.nii.gz"))
    # the new lesion lies outside the dose grid or below 50 % Rx everywhere
    back = sitk.GetArrayFromImage(sitk.Resample(fu, dose, tx, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8))
    assert not (d[back == new_label] >= 0.5 * rx).any()


def test_stable_shrinks(phantom_cases):
    _, truth = phantom_cases["stable"]
    vols = [tp["enhancing_cc"] + tp["necrotic_cc"] for tp in truth["timepoints"]]
    assert vols[-1] < vols[0]


def test_radnec_ingest_reads_the_plan_bundle_as_written(phantom_cases):
    """The project's own RT readers see the same prescription, fractions, dose grid and ROIs."""
    from radnec.ingest.rtdose import read_rtdose
    from radnec.ingest.rtplan import read_rtplan
    from radnec.ingest.rtstruct import read_rtstruct

    for scenario in ("necrosis", "infield"):   # GK and linac
        folder, truth = phantom_cases[scenario]
        plan = truth["plan"]
        rp = read_rtplan(folder / plan["rtplan"])
        assert rp.prescription_gy == pytest.approx(plan["prescription_gy"])
        assert rp.fractions == plan["fractions"]
        assert rp.frame_of_reference_uid == truth["timepoints"][0]["frame_of_reference_uid"]
        if rp.prescription_isodose_pct is not None:
            assert rp.prescription_isodose_pct == pytest.approx(plan["isodose_line_pct"], abs=1.0)
        rd = read_rtdose(folder / plan["rtdose"])
        ref = sitk.ReadImage(str(folder / "truth" / "planning" / "dose_gy.nii.gz"))
        assert rd.image.GetSize() == ref.GetSize()
        assert np.allclose(rd.image.GetOrigin(), ref.GetOrigin(), atol=1e-3)
        assert np.allclose(rd.image.GetSpacing(), ref.GetSpacing(), atol=1e-4)
        diff = np.abs(sitk.GetArrayFromImage(rd.image) - sitk.GetArrayFromImage(ref)).max()
        assert diff < 1e-3 * plan["max_dose_gy"]
        rs = read_rtstruct(folder / plan["rtstruct"])
        assert {"GTV", "PTV", "Brain", "Brainstem"} <= set(rs.names)
