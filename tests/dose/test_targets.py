"""Which target a lesion belongs to in a multi-target plan, and the prescription it is judged by."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import SimpleITK as sitk

from radnec.dose.targets import lesion_target, treated_targets
from radnec.geometry.contours import ROI, Contour
from radnec.ingest.rtstruct import StructureSet


def _box(number: int, name: str, kind: str, centre, half: float) -> ROI:
    cx, cy, cz = centre
    square = np.array([[-half, -half], [half, -half], [half, half], [-half, half]])
    contours = [
        Contour(np.column_stack([square[:, 0] + cx, square[:, 1] + cy, np.full(4, z)]), "CLOSED_PLANAR")
        for z in np.arange(cz - half, cz + half + 1e-6, 2.0)
    ]
    return ROI(number=number, name=name, type=kind, color=None, contours=contours)


@pytest.fixture(scope="module")
def case():
    """Two metastases 60 mm apart: GTV_A (24 Gy on itself) and GTV_B inside PTV_B (18 Gy on the PTV)."""
    rois = [
        _box(1, "GTV_A", "GTV", (-30.0, 0.0, 0.0), 5.0),
        _box(2, "GTV_B", "GTV", (30.0, 0.0, 0.0), 8.0),
        _box(3, "PTV_B", "PTV", (30.0, 0.0, 0.0), 10.0),
        _box(4, "Brain", "ORGAN", (0.0, 0.0, 0.0), 60.0),
    ]
    ss = StructureSet(rois=rois, frame_of_reference_uid="1.2.3", referenced_series_uid=None, sop_instance_uid="1.2.4")
    dose = sitk.Image(70, 30, 30, sitk.sitkFloat32)
    dose.SetOrigin((-70.0, -30.0, -30.0))
    dose.SetSpacing((2.0, 2.0, 2.0))
    return ss, dose


PLAN = SimpleNamespace(target_prescriptions_gy={1: 24.0, 3: 18.0})


def test_each_lesion_gets_its_own_targets_prescription(case):
    ss, dose = case
    a = lesion_target(ss, PLAN, (-30.0, 0.0, 0.0), plan_prescription_gy=24.0, dose=dose)
    assert (a.gtv.name, a.prescription_gy, a.source, a.distance_mm) == ("GTV_A", 24.0, "target GTV_A", 0.0)
    # GTV_B has no prescription of its own: the PTV around it has
    b = lesion_target(ss, PLAN, (32.0, 1.0, -1.0), plan_prescription_gy=24.0, dose=dose)
    assert (b.gtv.name, b.prescription_gy, b.source) == ("GTV_B", 18.0, "target PTV_B")
    assert b.to_dict()["prescription_source"] == "target PTV_B"


def test_seed_outside_every_gtv_takes_the_nearest(case):
    ss, dose = case
    t = lesion_target(ss, PLAN, (45.0, 0.0, 0.0), plan_prescription_gy=24.0, dose=dose)  # 7 mm beyond GTV_B's face
    assert t.gtv.name == "GTV_B" and t.prescription_gy == 18.0
    assert t.distance_mm == pytest.approx(7.0, abs=0.01)


def test_plan_level_prescription_when_no_target_around_is_prescribed(case):
    ss, dose = case
    for plan in (None, SimpleNamespace(target_prescriptions_gy={})):
        t = lesion_target(ss, plan, (30.0, 0.0, 0.0), plan_prescription_gy=20.0, dose=dose)
        assert (t.gtv.name, t.prescription_gy, t.source) == ("GTV_B", 20.0, "plan")
    # only the Brain prescribed: it is the smallest prescribed ROI around GTV_B's centroid
    t = lesion_target(ss, SimpleNamespace(target_prescriptions_gy={4: 30.0}), (30.0, 0.0, 0.0), plan_prescription_gy=20.0, dose=dose)
    assert (t.prescription_gy, t.source) == (30.0, "target Brain")


def test_no_target_at_all():
    ss = StructureSet(rois=[_box(1, "Brain", "ORGAN", (0.0, 0.0, 0.0), 5.0)], frame_of_reference_uid="1", referenced_series_uid=None, sop_instance_uid="2")
    t = lesion_target(ss, None, (0.0, 0.0, 0.0), plan_prescription_gy=20.0, dose=sitk.Image(4, 4, 4, sitk.sitkFloat32))
    assert t.gtv is None and (t.prescription_gy, t.source) == (20.0, "plan")


def test_a_ptv_only_plan_treats_its_ptv():
    """No GTV: the PTV is the treated target (and its own prescription applies)."""
    ss = StructureSet(rois=[_box(1, "PTV", "PTV", (0.0, 0.0, 0.0), 5.0)], frame_of_reference_uid="1", referenced_series_uid=None, sop_instance_uid="2")
    dose = sitk.Image(20, 20, 20, sitk.sitkFloat32)
    dose.SetOrigin((-20.0, -20.0, -20.0))
    dose.SetSpacing((2.0, 2.0, 2.0))
    t = lesion_target(ss, SimpleNamespace(target_prescriptions_gy={1: 21.0}), (0.0, 0.0, 0.0), plan_prescription_gy=20.0, dose=dose)
    assert (t.gtv.name, t.prescription_gy, t.source) == ("PTV", 21.0, "target PTV")


def test_treated_targets_of_a_multi_target_plan():
    """GTVs count once (not their PTVs); a PTV without a GTV, and a ROI only the plan names as a target
    (GammaPlan's 'Matrix 4', no interpreted type), are targets too; organs are not."""
    rois = [
        _box(1, "GTV1", "GTV", (-40.0, 0.0, 0.0), 4.0),
        _box(2, "PTV1", "PTV", (-40.0, 0.0, 0.0), 6.0),
        _box(3, "PTV_L_parietal", "PTV", (0.0, 0.0, 0.0), 6.0),
        _box(4, "Matrix 4", "", (40.0, 0.0, 0.0), 5.0),
        _box(5, "Target 5", "GTV", (0.0, 20.0, 0.0), 3.0),
        _box(6, "Brain", "ORGAN", (0.0, 0.0, 0.0), 60.0),
    ]
    ss = StructureSet(rois=rois, frame_of_reference_uid="1", referenced_series_uid=None, sop_instance_uid="2")
    dose = sitk.Image(60, 40, 20, sitk.sitkFloat32)
    dose.SetOrigin((-60.0, -40.0, -20.0))
    dose.SetSpacing((2.0, 2.0, 2.0))
    plan = SimpleNamespace(target_roi_numbers=[2, 3, 4], target_prescriptions_gy={2: 24.0, 3: 18.0, 4: 20.0})
    assert [r.name for r in treated_targets(ss, plan, dose=dose)] == ["GTV1", "PTV_L_parietal", "Matrix 4", "Target 5"]
    # without the plan, 'Matrix 4' (no type, no PTV name) is not recognisable as a target
    assert [r.name for r in treated_targets(ss, None, dose=dose)] == ["GTV1", "PTV_L_parietal", "Target 5"]
    t = lesion_target(ss, plan, (40.0, 0.0, 0.0), plan_prescription_gy=24.0, dose=dose)
    assert (t.gtv.name, t.prescription_gy) == ("Matrix 4", 20.0)


def test_single_plane_gtv_takes_its_thickness_from_the_dose_grid(case):
    """A GTV drawn on one slice (tiny metastasis) must not stop the analysis."""
    ss, dose = case
    flat = _box(5, "GTV_C", "GTV", (0.0, 20.0, 0.0), 3.0)
    flat = ROI(number=5, name="GTV_C", type="GTV", color=None, contours=flat.contours[1:2])  # one plane
    plane_z = float(flat.contours[0].points[0, 2])
    ss2 = StructureSet(rois=[*ss.rois, flat], frame_of_reference_uid="1.2.3", referenced_series_uid=None, sop_instance_uid="1.2.5")
    t = lesion_target(ss2, SimpleNamespace(target_prescriptions_gy={5: 20.0}), (0.0, 20.0, plane_z + 0.5), plan_prescription_gy=24.0, dose=dose)
    assert (t.gtv.name, t.prescription_gy, t.distance_mm) == ("GTV_C", 20.0, 0.0)
