"""Exported objects: valid (dciodvfy), re-read by radnec's own readers, equal to the analysis."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from radnec.geometry.contours import roi_volume_cc
from radnec.ingest.rtstruct import read_rtstruct
from radnec.ingest.seg import read_seg
from tests.export.conftest import SCENARIOS, dciodvfy_errors

#: The acceptance tolerance of issue 16: RTSTRUCT volumes within 2 % of analysis.json.
VOLUME_TOLERANCE = 0.02
#: Below 2 cm³ (250 voxels of 2 mm, few contour planes, thin oedema rings) radnec's reader, whose
#: cross-section area follows a cubic spline through the plane areas, differs from a voxel count
#: by up to +7 % by design (measured: 0.128 cm³ +4.6 %, 0.288 cm³ +6.6 %, a 1.0 cm³ ring +2.8 %);
#: the exporter itself is checked to 1 % by the stair-step volume (:func:`stair_step_cc`).
SMALL_CC, SMALL_TOLERANCE = 2.0, 0.08


def _tolerance(volume_cc: float) -> float:
    return VOLUME_TOLERANCE if volume_cc >= SMALL_CC else SMALL_TOLERANCE


def stair_step_cc(roi) -> float:
    """Σ plane area × slab thickness: for contours on the planes of the mask's own grid, the
    voxel volume (less half a 0.5 mm sub-pixel per polygon)."""
    import dataclasses

    from radnec.geometry.contours import contour_model

    return dataclasses.replace(contour_model(roi), area_interpolation=False).volume_cc()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_exported_object_passes_dciodvfy(exported, scenario):
    _, files, _ = exported(scenario)
    names = sorted(f.name for f in files)
    assert names == ["RTSTRUCT_FU1.dcm", "RTSTRUCT_planning.dcm", "SEG_FU1.dcm", "SR.dcm"]
    for f in files:
        assert dciodvfy_errors(f) == [], f.name


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_rtstruct_on_the_followup_series_reimports_the_analysis_volumes(exported, scenario):
    (analysis, _, followups, _), _, out = exported(scenario)
    ss = read_rtstruct(out / "RTSTRUCT_FU1.dcm")
    fu = followups[0]
    checked = 0
    for lesion in analysis.lesions:
        tp = lesion.timepoints[0]
        for abbr, want in (("LES", tp.details["lesion_cc"]), ("ENH", tp.enhancing_cc), ("NEC", tp.necrotic_cc),
                           ("EDE", tp.edema_cc)):
            if not want:
                assert f"{lesion.name}_{abbr}_FU1" not in ss.names
                continue
            roi = ss.roi(f"{lesion.name}_{abbr}_FU1")
            assert stair_step_cc(roi) == pytest.approx(want, rel=0.01), (lesion.name, abbr)
            assert roi_volume_cc(roi) == pytest.approx(want, rel=_tolerance(want)), (lesion.name, abbr)
            checked += 1
    assert checked >= 3
    assert ss.referenced_series_uid == pydicom.dcmread(fu.t1c_files[0], stop_before_pixels=True).SeriesInstanceUID
    roi = ss.roi(f"{analysis.lesions[0].name}_LES_FU1")
    assert roi.type == "GTV" and roi.color == (255, 0, 0)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_rtstruct_on_the_planning_series_holds_the_lesion_where_the_transform_puts_it(exported, scenario):
    """Planning RTSTRUCT through the true (deformable) transform: the frame and the referenced
    series are the plan's, and each ROI lies where the follow-up mask resampled onto the planning
    grid lies (centroid within one 2 mm voxel, a wrong direction of the transform moves it by cm)."""
    from radnec.geometry import mask_centroid_lps
    from radnec.geometry.contour_masks import roi_mask
    from radnec.ingest.series import read_series

    (analysis, planning_files, followups, _), _, out = exported(scenario)
    ss = read_rtstruct(out / "RTSTRUCT_planning.dcm")
    plan_ds = pydicom.dcmread(planning_files[0], stop_before_pixels=True)
    assert ss.frame_of_reference_uid == plan_ds.FrameOfReferenceUID
    assert ss.referenced_series_uid == plan_ds.SeriesInstanceUID
    grid = read_series(planning_files)
    fu = followups[0]
    for name, comps in fu.lesions.items():
        for compartment, abbr in (("lesion", "LES"), ("edema", "EDE")):
            mask = getattr(comps, compartment)
            if mask is None:
                continue
            want = sitk.Resample(mask, grid, fu.transform, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
            got = roi_mask(ss.roi(f"{name}_{abbr}_FU1"), grid)
            shift = np.linalg.norm(mask_centroid_lps(got) - mask_centroid_lps(want))
            assert shift < 2.0, (name, compartment, shift)


def test_rtstruct_on_the_planning_series_through_a_rigid_transform_keeps_the_volumes(phantom_case, tmp_path):
    """With the rigid part of the true transform (volume-preserving) the planning RTSTRUCT gives
    back the follow-up volumes of analysis.json."""
    import dataclasses

    from radnec.export.bundle import export_case
    from tests.export.phantom_inputs import phantom_export_inputs

    analysis, planning_files, followups = phantom_export_inputs(*phantom_case("necrosis"))
    rigid = sitk.CompositeTransform(followups[0].transform).GetNthTransform(0)
    assert rigid.GetName() == "Euler3DTransform"
    # the compartments inside the lesion (the large oedema ring would only slow the test down)
    lesions = {n: dataclasses.replace(c, edema=None) for n, c in followups[0].lesions.items()}
    fu = dataclasses.replace(followups[0], transform=rigid, lesions=lesions)
    export_case(analysis=analysis, planning_files=planning_files, followups=[fu], to=tmp_path)
    ss = read_rtstruct(tmp_path / "RTSTRUCT_planning.dcm")
    tp = analysis.lesions[0].timepoints[0]
    for abbr, want in (("LES", tp.details["lesion_cc"]), ("ENH", tp.enhancing_cc), ("NEC", tp.necrotic_cc)):
        assert want and want >= SMALL_CC
        assert roi_volume_cc(ss.roi(f"L1_{abbr}_FU1")) == pytest.approx(want, rel=VOLUME_TOLERANCE), abbr


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_seg_round_trip_is_exact(exported, scenario):
    (_, _, followups, _), _, out = exported(scenario)
    fu = followups[0]
    segments = read_seg(out / "SEG_FU1.dcm")
    by_label = {s.label: s for s in segments}
    words = {"lesion": "T1c lesion", "enhancing": "enhancing", "necrotic": "necrotic core", "edema": "oedema"}
    n = 0
    for name, comps in fu.lesions.items():
        for compartment, mask in comps.masks().items():
            want = sitk.GetArrayViewFromImage(mask) > 0
            label = f"{name} {words[compartment]} (follow-up 1)"
            if not want.any():
                assert label not in by_label
                continue
            seg = by_label[label]
            back = sitk.Resample(seg.mask, mask, sitk.Transform(3, sitk.sitkIdentity), sitk.sitkNearestNeighbor)
            assert np.array_equal(sitk.GetArrayViewFromImage(back) > 0, want), label
            assert np.allclose(seg.mask.GetOrigin(), mask.GetOrigin(), atol=1e-3) or seg.mask.GetSize() != mask.GetSize()
            n += 1
    assert n >= 3
    ds = pydicom.dcmread(out / "SEG_FU1.dcm")
    item = ds.SegmentSequence[0]
    assert item.SegmentAlgorithmName == "radnec"
    assert ds.FrameOfReferenceUID == pydicom.dcmread(fu.t1c_files[0], stop_before_pixels=True).FrameOfReferenceUID


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_sr_numbers_equal_the_analysis(exported, scenario):
    import highdicom as hd

    (analysis, _, _, _), _, out = exported(scenario)
    sr = hd.sr.srread(out / "SR.dcm")
    seg = pydicom.dcmread(out / "SEG_FU1.dcm")
    segment_labels = {int(s.SegmentNumber): s.SegmentLabel for s in seg.SegmentSequence}
    groups = sr.content.get_volumetric_roi_measurement_groups()
    assert len(groups) == len(segment_labels)
    values: dict[tuple[str, str], float] = {}
    evaluations: dict[str, str] = {}
    for g in groups:
        ref = g.referenced_segment
        assert ref.referenced_sop_instance_uid == seg.SOPInstanceUID
        label = segment_labels[int(ref.referenced_segment_numbers[0])]
        assert ref.source_series_for_segmentation is not None
        for m in g.get_measurements():
            values[(label, m.name.meaning)] = m.value
        for e in g.get_qualitative_evaluations():
            evaluations[e.name.meaning] = e.value.meaning
    lesion = next(les for les in analysis.lesions if les.dose is not None)
    tp = lesion.timepoints[0]
    whole = f"{lesion.name} T1c lesion (follow-up 1)"
    assert values[(whole, "Volume")] == pytest.approx(tp.details["lesion_cc"], abs=1e-9)
    assert values[(f"{lesion.name} enhancing (follow-up 1)", "Volume")] == pytest.approx(tp.enhancing_cc, abs=1e-9)
    assert values[(f"{lesion.name} oedema (follow-up 1)", "Volume")] == pytest.approx(tp.edema_cc, abs=1e-9)
    assert values[(whole, "Long axis")] == pytest.approx(tp.longest_diameter_mm, abs=1e-9)
    assert values[(whole, "Mean dose in lesion from prior SRS")] == lesion.dose.dmean_gy
    assert values[(whole, "Lesion volume receiving >= 80 % Rx")] == lesion.dose.coverage_pct.rx80
    assert values[(whole, "Probability of tumour progression")] == lesion.evidence["posterior_tp"]
    assert values[(whole, "Probability of progression, 95 % interval upper")] == lesion.evidence["interval95"][1]
    assert evaluations["Failure pattern relative to prior SRS dose"] == lesion.pattern
    assert evaluations["Growth symmetry relative to high-dose region"] == lesion.growth_symmetry
