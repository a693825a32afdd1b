"""The written DICOM is readable (pydicom, SimpleITK) and its UIDs and references are consistent."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from radnec.phantom import SCENARIOS


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_series_read_by_simpleitk_match_truth_geometry(phantom_cases, scenario):
    folder, truth = phantom_cases[scenario]
    reader = sitk.ImageSeriesReader()
    for tp in truth["timepoints"]:
        mask = sitk.ReadImage(str(folder / tp["masks"]["enhancing"]))
        for seq, info in tp["series"].items():
            files = reader.GetGDCMSeriesFileNames(str(folder / info["folder"]))
            assert len(files) == info["n_slices"]
            reader.SetFileNames(files)
            img = reader.Execute()
            assert img.GetSize() == mask.GetSize()
            assert np.allclose(img.GetOrigin(), mask.GetOrigin(), atol=1e-3)
            assert np.allclose(img.GetSpacing(), mask.GetSpacing(), atol=1e-4)
            assert np.allclose(img.GetDirection(), mask.GetDirection(), atol=1e-6)
            arr = sitk.GetArrayViewFromImage(img)
            # enhancing lesion is brighter than brain on T1c
            if seq == "T1c" and tp["enhancing_cc"] > 0.05:
                m = sitk.GetArrayViewFromImage(mask) > 0
                assert arr[m].mean() > 1.2 * np.median(arr[arr > 300])


def test_uids_unique_and_relations_consistent(phantom_cases):
    sop_uids = []
    for scenario, (folder, truth) in phantom_cases.items():
        studies = defaultdict(set)
        fors = defaultdict(set)
        series_of = defaultdict(set)
        datasets = {}
        for path in sorted(folder.rglob("*.dcm")):
            ds = pydicom.dcmread(path)
            assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
            sop_uids.append(ds.SOPInstanceUID)
            top = path.relative_to(folder / "dicom").parts[0]
            studies[top].add(ds.StudyInstanceUID)
            fors[top].add(ds.FrameOfReferenceUID)
            series_of[(top, ds.SeriesInstanceUID)].add(ds.Modality)
            if ds.Modality != "MR":
                datasets[ds.Modality] = ds
            assert str(ds.PatientName).startswith("PHANTOM^")
        # one study and one frame of reference per folder, all different between folders
        assert all(len(v) == 1 for v in studies.values())
        assert all(len(v) == 1 for v in fors.values())
        assert len({next(iter(v)) for v in studies.values()}) == len(studies) == len(truth["timepoints"])
        assert len({next(iter(v)) for v in fors.values()}) == len(fors)
        # RT references: RTDOSE -> RTPLAN -> RTSTRUCT -> planning T1c series/slices
        rs, rp, rd = datasets["RTSTRUCT"], datasets["RTPLAN"], datasets["RTDOSE"]
        assert rd.ReferencedRTPlanSequence[0].ReferencedSOPInstanceUID == rp.SOPInstanceUID
        assert rp.ReferencedStructureSetSequence[0].ReferencedSOPInstanceUID == rs.SOPInstanceUID
        t1c_uid = truth["timepoints"][0]["series"]["T1c"]["series_instance_uid"]
        ref_series = rs.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0].RTReferencedSeriesSequence[0]
        assert ref_series.SeriesInstanceUID == t1c_uid
        slice_uids = {it.ReferencedSOPInstanceUID for it in ref_series.ContourImageSequence}
        for roi in rs.ROIContourSequence:
            for c in roi.ContourSequence:
                assert c.ContourImageSequence[0].ReferencedSOPInstanceUID in slice_uids
        assert rd.FrameOfReferenceUID == truth["timepoints"][0]["frame_of_reference_uid"]
        assert rd.DoseUnits == "GY" and float(rd.GridFrameOffsetVector[0]) == 0.0
        assert float(rp.DoseReferenceSequence[0].TargetPrescriptionDose) == truth["plan"]["prescription_gy"]
        assert rp.FractionGroupSequence[0].NumberOfFractionsPlanned == truth["plan"]["fractions"]
        if truth["plan"]["technique"] == "gk":
            assert rp.Manufacturer == "Elekta"
        else:
            assert len(rp.BeamSequence) == rp.FractionGroupSequence[0].NumberOfBeams > 0
    assert len(sop_uids) == len(set(sop_uids))
