"""Plan metrics on the real brain-SRS structure set with a synthetic dose written in its frame."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from radnec.dose.plan_metrics import plan_metrics
from radnec.errors import MissingReferenceError
from radnec.geometry.contour_masks import roi_fraction
from radnec.geometry.contours import contour_model
from radnec.ingest.rtstruct import read_rtstruct

from .synthetic import dose_cloud


@pytest.fixture(scope="module")
def case(data_dir_module):
    ss = read_rtstruct(data_dir_module / "rt-brain-srs" / "RS.dcm")
    gtv = ss.roi("GTV_4")
    centre = np.vstack([c.points for c in gtv.contours]).mean(axis=0)
    g = sitk.Image([50, 50, 40], sitk.sitkFloat32)
    g.SetSpacing((1.0, 1.0, 1.0))
    g.SetOrigin(tuple(centre - np.array([24.5, 24.5, 19.5])))
    reach = float(np.max(np.linalg.norm(np.vstack([c.points for c in gtv.contours]) - centre, axis=1)))
    dose = dose_cloud(g, centre=centre, rx=20.0, r_rx=reach + 2.0)  # the Rx sphere encloses GTV_4
    return ss, dose


@pytest.fixture(scope="module")
def data_dir_module():
    from pathlib import Path

    return Path(__file__).resolve().parents[1] / "data"


def test_plan_metrics_values(case, caplog):
    ss, dose = case
    with caplog.at_level("WARNING"):
        pm = plan_metrics(dose, ss, None, prescription_gy=20.0, targets=["GTV_4"], brain="BRAIN - PTV")
    # the brain is larger than the dose grid: said once in the notes, not as a log warning
    assert not [r for r in caplog.records if "BRAIN" in r.getMessage()]
    arr = sitk.GetArrayFromImage(dose)
    vox = 1e-3
    piv = float((arr >= 20.0).sum() * vox)
    assert pm["piv_cc"] == pytest.approx(piv)
    assert pm["piv50_cc"] == pytest.approx(float((arr >= 10.0).sum() * vox))
    assert pm["gi_paddick"] == pytest.approx(pm["piv50_cc"] / piv)
    tv = contour_model(ss.roi("GTV_4")).volume_cc()
    assert pm["tv_cc"] == pytest.approx(tv, rel=0.03)
    assert pm["ci_rtog"] == pytest.approx(piv / pm["tv_cc"])
    assert 0 < pm["ci_paddick"] <= 1
    # V12 of BRAIN − PTV (the ROI here already excludes targets) from its fraction map
    fb = sitk.GetArrayFromImage(roi_fraction(ss.roi("BRAIN - PTV"), dose, supersample=2))
    fg = sitk.GetArrayFromImage(roi_fraction(ss.roi("GTV_4"), dose, supersample=2))
    v12 = float(np.clip(fb - fg, 0, 1)[arr >= 12.0].sum() * vox)
    assert pm["v12_cc"] == pytest.approx(v12, rel=1e-6)
    assert pm["v12_cc"] < pm["v10_cc"]
    assert any("excludes targets" in n for n in pm["notes"])
    edge = max(float(f.max()) for f in (arr[0], arr[-1], arr[:, 0], arr[:, -1], arr[:, :, 0], arr[:, :, -1]))
    expected = "may be underestimated" if edge >= 10.0 else "are complete"
    assert any("beyond the dose grid" in n and expected in n for n in pm["notes"]), pm["notes"]
    (t,) = pm["targets"]
    assert t["name"] == "GTV_4" and t["kind"] == "GTV"
    # minimum dose of a GTV inside the Rx sphere: above Rx
    assert pm["min_dose_gtv_gy"] == t["dmin_gy"] and t["dmin_gy"] > 20.0


def test_automatic_choice_of_targets_and_brain(case):
    ss, dose = case
    pm = plan_metrics(dose, ss, None, prescription_gy=20.0)
    assert pm["brain_roi"] == "BRAIN - PTV"
    assert sorted(t["name"] for t in pm["targets"]) == [f"GTV_{i}" for i in range(1, 6)]
    assert any(t["outside_fraction"] > 0.5 for t in pm["targets"])  # the other GTVs are off this small grid


def test_missing_prescription_and_brain(case):
    ss, dose = case
    with pytest.raises(MissingReferenceError, match="prescription"):
        plan_metrics(dose, ss, None)
    with pytest.raises(MissingReferenceError, match="available"):
        plan_metrics(dose, ss, None, prescription_gy=20.0, brain="cerebrum")


def _sphere_roi(number: int, name: str, centre, radius: float, kind: str, step: float = 1.0):
    from radnec.geometry.contours import ROI, Contour

    a = np.linspace(0, 2 * np.pi, 240, endpoint=False)
    cs = []
    for dz in np.arange(-radius + step / 2, radius, step):
        r = np.sqrt(radius**2 - dz**2)
        cs.append(Contour(np.column_stack([centre[0] + r * np.cos(a), centre[1] + r * np.sin(a), np.full(240, centre[2] + dz)]), "CLOSED_PLANAR"))
    return ROI(number=number, name=name, type=kind, color=None, contours=cs)


def test_conformity_against_analytic_spheres():
    """Spherical PTV (r = 9 mm) around a spherical Rx isodose (r = 8 mm): TV, TV_PIV and both CIs
    against their analytic values (the dose-grid PIV is measured, the rest is geometry). With
    supersample-2 partial volumes on the dose grid TV was ~2 % high."""
    from radnec.ingest.rtstruct import StructureSet

    from .synthetic import grid

    g = grid(48, 1.0)
    dose = dose_cloud(g, rx=20.0, r_rx=8.0)
    # contour planes every 1 mm, no plane at the poles: the slab model (half-slice end caps)
    # integrates the sphere to ~0.05 %
    ptv = _sphere_roi(1, "PTV", (0.0, 0.0, 0.0), 9.0, "PTV")
    ss = StructureSet(rois=[ptv], frame_of_reference_uid="1.2", referenced_series_uid=None, sop_instance_uid="1.3")
    pm = plan_metrics(dose, ss, None, prescription_gy=20.0, targets=["PTV"])
    v = lambda r: 4 / 3 * np.pi * r**3 / 1000  # noqa: E731
    assert pm["tv_cc"] == pytest.approx(v(9.0), rel=0.005)
    assert pm["tv_piv_cc"] == pytest.approx(v(8.0), rel=0.01)
    piv = pm["piv_cc"]
    assert piv == pytest.approx(v(8.0), rel=0.02)  # voxel count of the 1 mm grid
    assert pm["ci_rtog"] == pytest.approx(piv / v(9.0), rel=0.005)
    assert pm["ci_paddick"] == pytest.approx(v(8.0) ** 2 / (v(9.0) * piv), rel=0.02)


def test_tv_is_a_union_of_overlapping_targets():
    from radnec.ingest.rtstruct import StructureSet

    from .synthetic import grid

    g = grid(48, 1.0)
    dose = dose_cloud(g, rx=20.0, r_rx=8.0)
    a = _sphere_roi(1, "PTV_a", (-3.0, 0.0, 0.0), 6.0, "PTV")
    b = _sphere_roi(2, "PTV_b", (3.0, 0.0, 0.0), 6.0, "PTV")
    ss = StructureSet(rois=[a, b], frame_of_reference_uid="1.2", referenced_series_uid=None, sop_instance_uid="1.3")
    pm = plan_metrics(dose, ss, None, prescription_gy=20.0)
    single = {
        r.name: plan_metrics(dose, StructureSet(rois=[r], frame_of_reference_uid="1.2", referenced_series_uid=None,
                                                sop_instance_uid="1.3"), None, prescription_gy=20.0)["tv_cc"]
        for r in (a, b)
    }
    # union = the two volumes (each with its slab-model end-caps) − the lens of the overlap,
    # lens of two r = 6 mm spheres 6 mm apart = π(4r + d)(2r − d)²/12
    r, d = 6.0, 6.0
    lens = np.pi * (4 * r + d) * (2 * r - d) ** 2 / 12 / 1000
    assert pm["tv_cc"] == pytest.approx(single["PTV_a"] + single["PTV_b"] - lens, rel=0.005)
    assert any("several targets" in n for n in pm["notes"])


def test_conformity_against_phantom_truth():
    """Phantom plan (necrosis seed 0, 2 mm): TV, RTOG CI and GI against the generator's truth.
    (The phantom dose is built from the voxelised PTV, so its voxel-count Paddick CI favours the
    voxel mask; the contour-based Paddick CI is compared loosely.)"""
    from radnec.geometry.contours import ROI, Contour
    from radnec.ingest.rtstruct import StructureSet
    from radnec.phantom.generate import build_case

    case = build_case("necrosis", 0, months=[3], voxel_mm=2.0)
    kinds = {"PTV": "PTV", "GTV": "GTV"}
    rois = [ROI(number=i + 1, name=n, type=kinds.get(n, "ORGAN"), color=None, contours=[Contour(p, "CLOSED_PLANAR") for p in cs])
            for i, (n, cs) in enumerate(case.contours.items())]
    ss = StructureSet(rois=rois, frame_of_reference_uid="1.2", referenced_series_uid=None, sop_instance_uid="1.3")
    pm = plan_metrics(case.dose, ss, None, prescription_gy=case.prescription_gy)
    truth = case.metrics
    assert pm["tv_rois"] == ["PTV"]
    assert pm["tv_cc"] == pytest.approx(truth.tv_cc, rel=0.01)
    assert pm["ci_rtog"] == pytest.approx(truth.ci_rtog, rel=0.01)
    assert pm["gi_paddick"] == pytest.approx(truth.gi, rel=1e-6)
    assert pm["ci_paddick"] == pytest.approx(truth.ci_paddick, rel=0.06)
