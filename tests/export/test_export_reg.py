"""The registrations exported with the case (radnec.fuse.dicom_reg) read back as the same transform."""

from __future__ import annotations

import dataclasses

import numpy as np
import pydicom
import SimpleITK as sitk

from radnec.export.bundle import export_case
from radnec.fuse.transforms import FusionResult
from radnec.ingest.reg import read_transform
from tests.export.conftest import dciodvfy_errors
from tests.export.phantom_inputs import phantom_export_inputs


def test_reg_objects_round_trip_and_share_the_pseudonym(phantom_case, tmp_path):
    case, truth = phantom_case("marginal")
    analysis, planning_files, followups = phantom_export_inputs(case, truth)
    fu = followups[0]
    composite = sitk.CompositeTransform(fu.transform)
    rigid, field = composite.GetNthTransform(0), sitk.DisplacementFieldTransform(composite.GetNthTransform(1))
    plan_for = pydicom.dcmread(planning_files[0], stop_before_pixels=True).FrameOfReferenceUID
    fu_for = pydicom.dcmread(fu.t1c_files[0], stop_before_pixels=True).FrameOfReferenceUID
    fusion = FusionResult(rigid=rigid, deformation=field, fixed_frame_uid=plan_for, moving_frame_uid=fu_for)
    files = export_case(analysis=analysis, planning_files=planning_files,
                        followups=[dataclasses.replace(fu, fusion=fusion)], to=tmp_path, deidentify=True)
    regs = sorted(p for p in files if p.parent.name == "REG_FU1")
    assert [p.name for p in regs] == ["reg_deformable.dcm", "reg_rigid.dcm"]
    pseudonyms = {str(pydicom.dcmread(p, stop_before_pixels=True).PatientID) for p in files}
    assert len(pseudonyms) == 1 and pseudonyms.pop().startswith("RADNEC-")
    centre = np.asarray(truth["timepoints"][1]["lesions"][0]["centre_lps"])
    rng = np.random.default_rng(0)
    points = centre + rng.uniform(-20, 20, size=(20, 3))
    back_rigid = read_transform(tmp_path / "REG_FU1" / "reg_rigid.dcm", fixed_frame_uid=plan_for, moving_frame_uid=fu_for)
    back_full = read_transform(tmp_path / "REG_FU1" / "reg_deformable.dcm", fixed_frame_uid=plan_for,
                               moving_frame_uid=fu_for)
    for p in points:
        p = tuple(float(v) for v in p)
        assert np.allclose(back_rigid.TransformPoint(p), rigid.TransformPoint(p), atol=1e-3)
        assert np.allclose(back_full.TransformPoint(p), composite.TransformPoint(p), atol=0.05)
    for p in regs:
        assert dciodvfy_errors(p) == [], p.name
