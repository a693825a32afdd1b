"""Write a :class:`~radnec.phantom.model.PhantomCase` to disk: DICOM + ``truth.json``.

Layout of ``OUT``::

    OUT/truth.json
    OUT/dicom/00_planning/{T1c,FLAIR}/IM0001.dcm ..., RTSTRUCT.dcm, RTPLAN.dcm, RTDOSE.dcm
    OUT/dicom/01_fu1/{T1c,FLAIR}/...          (one study per follow-up)
    OUT/truth/<study>/{enhancing,necrotic,edema,lesion_labels}.nii.gz   (own frame, LPS kept)
    OUT/truth/<study>/planning_to_followup.h5                            (ITK composite R∘M)
    OUT/truth/<study>/mass_effect_displacement.h5                        (M alone, ITK transform)
    OUT/truth/<study>/planning_frame/*.nii.gz                            (same masks, planning grid)
    OUT/truth/planning/dose_gy.nii.gz                                    (dose on the RTDOSE grid)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from radnec import DISCLAIMER, __version__
from radnec.errors import InputError
from radnec.geometry import MM3_PER_CC, mask_volume_cc
from radnec.phantom.config import load_config
from radnec.phantom.deform import rotation_angle_deg
from radnec.phantom.dicom_write import (
    Patient,
    make_uid,
    write_mr_series,
    write_rtdose,
    write_rtplan,
    write_rtstruct,
)
from radnec.phantom.model import PhantomCase, Study
from radnec.phantom.truth import TRUTH_SCHEMA_VERSION, lesion_truth, rano_diameters_mm

MASK_FORMAT = "NIfTI-1 (.nii.gz) written by SimpleITK; read with SimpleITK to get LPS geometry"


def _write_image(img: sitk.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(img, str(path), useCompression=True)


def write_case(case: PhantomCase, out: Path) -> dict[str, Any]:
    """Write DICOM and truth for ``case`` into ``out`` (created; must be empty or absent)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise InputError(f"output folder {out} is not empty; choose a new --out folder")
    out.mkdir(parents=True, exist_ok=True)
    cfg = load_config()
    key = (case.seed, case.scenario, case.technique, case.fractions, case.voxel_mm, tuple(case.months))
    patient = Patient(name=f"PHANTOM^{case.scenario.upper()}", patient_id=f"PHANTOM-{case.scenario}-{case.seed}")
    dicom = out / "dicom"
    truth_dir = out / "truth"
    studies_json = []
    plan_info: dict[str, Any] = {}
    for s_idx, st in enumerate(case.studies):
        study_uid = make_uid(*key, st.label, "study")
        for_uid = make_uid(*key, st.label, "for")
        folder = dicom / f"{s_idx:02d}_{st.label}"
        time = f"{9 + s_idx % 8:02d}0000"
        desc = "MR BRAIN SRS PLANNING" if st.label == "planning" else "MR BRAIN FOLLOW-UP"
        series = {}
        slices_t1c = None
        if st.series:  # clinical-2d follow-up: the routine protocol's series instead of 3-D T1c/FLAIR
            series = _write_routine(st, folder, out, patient=patient, key=key, time=time, desc=desc,
                                    study_uid=study_uid, for_uid=for_uid, s_idx=s_idx)
        for n, seq in enumerate(() if st.series else ("T1c", "FLAIR"), start=1):
            series_uid = make_uid(*key, st.label, seq, "series")
            sl = write_mr_series(
                folder / seq, st.images[seq], sequence=seq, patient=patient, study_uid=study_uid,
                study_id=f"{s_idx + 1}", study_description=desc, series_uid=series_uid, series_number=n,
                for_uid=for_uid, date=st.date, time=time, uid_parts=(*key, st.label, seq),
            )
            series[seq] = {"series_instance_uid": series_uid, "folder": str((folder / seq).relative_to(out)),
                           "n_slices": len(sl)}
            if seq == "T1c":
                slices_t1c = sl
        study_common = dict(study_uid=study_uid, study_id=f"{s_idx + 1}", time=time, description=desc,
                            for_uid=for_uid)
        if st.label == "planning":
            rs_uid = make_uid(*key, "rtstruct")
            plan_uid = make_uid(*key, "rtplan")
            dose_uid = make_uid(*key, "rtdose")
            roi_numbers = write_rtstruct(
                folder / "RTSTRUCT.dcm", contours=case.contours, slices=slices_t1c, patient=patient,
                study=study_common, series_uid=make_uid(*key, "rtstruct-series"), sop_uid=rs_uid,
                referenced_series_uid=series["T1c"]["series_instance_uid"], date=case.srs_date,
                roi_types=case.roi_types,
            )
            tech = cfg["technique"][case.technique]
            plan_targets = _plan_targets(case, roi_numbers)
            write_rtplan(
                folder / "RTPLAN.dcm", patient=patient, study=study_common, series_uid=make_uid(*key, "rtplan-series"),
                sop_uid=plan_uid, rtstruct_uid=rs_uid, ptv_roi_number=_index_roi(case, roi_numbers),
                prescription_gy=case.prescription_gy, fractions=case.fractions,
                isodose_fraction=tech["isodose_fraction"], technique=case.technique, technique_cfg=tech,
                isocentre_lps=_isocentre(case), date=case.srs_date, uid_parts=key,
                targets=plan_targets,
            )
            scaling = write_rtdose(
                folder / "RTDOSE.dcm", case.dose, patient=patient, study=study_common,
                series_uid=make_uid(*key, "rtdose-series"), sop_uid=dose_uid, rtplan_uid=plan_uid, date=case.srs_date,
            )
            _write_image(case.dose, truth_dir / "planning" / "dose_gy.nii.gz")
            plan_info = {
                "rtstruct": str((folder / "RTSTRUCT.dcm").relative_to(out)), "rtstruct_sop_instance_uid": rs_uid,
                "rtplan": str((folder / "RTPLAN.dcm").relative_to(out)), "rtplan_sop_instance_uid": plan_uid,
                "rtdose": str((folder / "RTDOSE.dcm").relative_to(out)), "rtdose_sop_instance_uid": dose_uid,
                "dose_grid_scaling": scaling, "roi_numbers": roi_numbers,
            }
        masks = {}
        for name, img in st.masks.items():
            p = truth_dir / st.label / f"{name}.nii.gz"
            _write_image(img, p)
            masks[name] = str(p.relative_to(out))
        if st.transform is not None:
            for name, arr in st.planning_masks.items():
                p = truth_dir / st.label / "planning_frame" / f"{name}.nii.gz"
                img = sitk.GetImageFromArray(arr.astype(np.uint8))
                img.CopyInformation(case.anatomy.grid)
                _write_image(img, p)
                masks[f"planning_frame_{name}"] = str(p.relative_to(out))
        entry: dict[str, Any] = {
            "label": st.label,
            "study_instance_uid": study_uid,
            "frame_of_reference_uid": for_uid,
            "folder": str(folder.relative_to(out)),
            "series": series,
            "date": st.date.isoformat(),
            "days_since_srs": st.days_since_srs,
            "months_since_srs": st.months,
            "masks": masks,
            "lesions": _lesion_table(case, st),
        }
        if st.series:
            entry["protocol"] = st.protocol_facts
            entry["expected_series"] = _expected_series(series)
        if st.transform is not None:
            tp = truth_dir / st.label / "planning_to_followup.h5"
            sitk.WriteTransform(st.transform, str(tp))
            fp = truth_dir / st.label / "mass_effect_displacement.h5"
            field = st.mass.field(inverse=False, spacing_mm=cfg["followup"]["field_spacing_mm"])
            sitk.WriteTransform(sitk.DisplacementFieldTransform(field), str(fp))
            entry["transform"] = {
                "path": str(tp.relative_to(out)),
                "convention": "maps a PLANNING-frame point (LPS mm) to the FOLLOW-UP-frame point of the same "
                              "anatomy; sitk.Resample(followup_image, planning_grid, T) aligns the follow-up to planning",
                "composition": "T(x) = R(M(x)): M radial mass effect (displacement field), then rigid R",
                "rigid": {
                    "matrix": list(st.rigid.GetMatrix()), "centre_lps": list(st.rigid.GetCenter()),
                    "translation_mm": list(st.rigid.GetTranslation()),
                    "rotation_deg": rotation_angle_deg(st.rigid),
                    "translation_norm_mm": float(np.linalg.norm(st.rigid.GetTranslation())),
                },
                "mass_effect": {
                    "centre_lps": list(st.mass.centre), "amplitude_mm": st.mass.amplitude_mm,
                    "support_radius_mm": st.mass.support_mm,
                    "displacement_field": str(fp.relative_to(out)),
                    "field_note": "ITK DisplacementFieldTransform of M alone (displacement M(x) - x sampled in "
                                  "the planning frame, zero outside its lattice)",
                },
            }
        studies_json.append(entry)
    truth = _truth_document(case, studies_json, plan_info)
    (out / "truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return truth


def _write_routine(st: Study, folder: Path, out: Path, *, patient: Patient, key: tuple, time: str, desc: str,
                   study_uid: str, for_uid: str, s_idx: int) -> dict[str, Any]:
    """Write the clinical-2d series of one follow-up (folders named by series number only, as a
    PACS export would); return the truth entry per series key."""
    from radnec.phantom.dicom_series import write_series

    study = {"study_uid": study_uid, "study_id": f"{s_idx + 1}", "description": desc, "for_uid": for_uid}
    series = {}
    for n, se in enumerate(st.series, start=1):
        uid = make_uid(*key, st.label, se.key, "series")
        sub = folder / f"S{n:03d}"
        count = write_series(sub, se, patient=patient, study=study, series_uid=uid, series_number=n, date=st.date,
                             time=time, uid_parts=(*key, st.label, se.key))
        series[se.key] = {"series_instance_uid": uid, "folder": str(sub.relative_to(out)), "n_instances": count,
                          "series_number": n, "description": se.tags["SeriesDescription"],
                          "image_type": "\\".join(se.tags["ImageType"]),
                          "post_contrast": "ContrastBolusAgent" in se.tags}
    return series


def _expected_series(series: dict[str, Any]) -> dict[str, Any]:
    """The series a correct selector picks: the 3-D isotropic post-contrast T1 when present, else the
    2-D axial post-contrast T1 (never the MPR reformat, localiser, DWI/ADC or pre-contrast T1)."""
    if "t1c_sag3d" in series:
        t1c, why = series["t1c_sag3d"], "3-D post-contrast present"
    else:
        t1c, why = series["t1c_2d"], "2-D axial T1 post-contrast only"
    return {"t1c": t1c["series_instance_uid"], "t1c_description": t1c["description"],
            "flair": series["flair_2d"]["series_instance_uid"], "flair_description": series["flair_2d"]["description"],
            "why": why}


def _plan_targets(case: PhantomCase, roi_numbers: dict[str, int]) -> list[tuple[int, str, float]] | None:
    """(ROI number of the PTV — the GTV for GammaPlan matrices —, its name, Rx Gy) per target of a
    multi-target plan; ``None`` for a one-target plan."""
    others = case.others
    if others is None or len(others.targets) < 2:
        return None
    out = []
    for t in others.targets:
        name = t.ptv_name or t.gtv_name
        out.append((roi_numbers[name], name, t.prescription_gy))
    return out


def _index_roi(case: PhantomCase, roi_numbers: dict[str, int]) -> int:
    if "PTV" in roi_numbers:
        return roi_numbers["PTV"]
    t = next(t for t in case.others.targets if t.lesion == "L1")  # type: ignore[union-attr]
    return roi_numbers[t.ptv_name or t.gtv_name]


def _isocentre(case: PhantomCase) -> list[float]:
    """Single isocentre: the centroid of the PTV (of all PTVs of a multi-target plan)."""
    if case.others is None or len(case.others.targets) < 2:
        return _centroid(case.structures["PTV"])
    allp = np.zeros(sitk.GetArrayViewFromImage(case.structures["PTV"]).shape, dtype=np.uint8)
    for k, m in case.structures.items():
        if k.startswith("PTV:"):
            allp |= sitk.GetArrayViewFromImage(m) > 0
    img = sitk.GetImageFromArray(allp)
    img.CopyInformation(case.structures["PTV"])
    return _centroid(img)


def _centroid(mask: sitk.Image) -> list[float]:
    arr = sitk.GetArrayViewFromImage(mask)
    c = np.argwhere(arr > 0).mean(0)[::-1]
    return list(mask.TransformContinuousIndexToPhysicalPoint([float(v) for v in c]))


def _lesion_table(case: PhantomCase, st: Study) -> list[dict[str, Any]]:
    labels = sitk.GetArrayViewFromImage(st.masks["lesion_labels"])
    enh = sitk.GetArrayViewFromImage(st.masks["enhancing"]) > 0
    nec = sitk.GetArrayViewFromImage(st.masks["necrotic"]) > 0
    edema_total = mask_volume_cc(st.masks["edema"])
    vox = float(np.prod(st.grid.GetSpacing())) / MM3_PER_CC
    rows = []
    for j, name in enumerate(sorted(case.lesion_names), start=1):
        comp = labels == j
        e_cc = float((comp & enh).sum() * vox)
        n_cc = float((comp & nec).sum() * vox)
        ld, perp = rano_diameters_mm(comp, st.grid.GetSpacing()[:2])
        rows.append({
            "name": name, "label": j, "description": case.lesion_names[name],
            "index_lesion": name == case.index_lesion,
            "enhancing_cc": e_cc, "necrotic_cc": n_cc, "t1_lesion_cc": e_cc + n_cc,
            "longest_diameter_mm": ld, "perpendicular_diameter_mm": perp,
            "seed_lps": st.seeds_lps.get(name), "centre_lps": st.centres_lps.get(name),
        })
    total_enh = float(enh.sum() * vox)
    for r in rows:
        r["edema_cc_all_lesions"] = edema_total
    if rows:
        rows[0]["edema_to_enhancing_ratio_all_lesions"] = edema_total / total_enh if total_enh > 0 else None
    return rows


def _truth_document(case: PhantomCase, studies_json: list[dict[str, Any]], plan_info: dict[str, Any]) -> dict[str, Any]:
    cfg = load_config()
    sc = cfg["scenarios"][case.scenario]
    m = case.metrics
    tech = cfg["technique"][case.technique]
    for st_json, pm in zip(studies_json[1:], case.pattern_measures):
        st_json["pattern_measures"] = pm
    edema_ratio = []
    for st in studies_json:
        enh = sum(r["enhancing_cc"] for r in st["lesions"])
        ed = st["lesions"][0]["edema_cc_all_lesions"]
        edema_ratio.append(ed / enh if enh > 0 else None)
        st["edema_cc"] = ed
        st["enhancing_cc"] = enh
        st["necrotic_cc"] = sum(r["necrotic_cc"] for r in st["lesions"])
        st["edema_to_enhancing_ratio"] = ed / enh if enh > 0 else None
        st["edema_to_t1_lesion_ratio"] = ed / (enh + st["necrotic_cc"]) if enh > 0 else None
    doc = {
        "truth_schema_version": TRUTH_SCHEMA_VERSION,
        "generator": f"radnec {__version__} phantom",
        "disclaimer": DISCLAIMER,
        "scenario": case.scenario,
        "description": sc["description"],
        "seed": case.seed,
        "diagnosis": sc["diagnosis"],
        "progression": sc["diagnosis"] == "progression",
        "pattern": sc["pattern"],
        "growth_symmetry": sc["growth_symmetry"],
        "index_lesion": case.index_lesion,
        "site": case.site,
        "voxel_mm": case.voxel_mm,
        "coordinates": "DICOM patient coordinates LPS, mm; volumes cm3; dose Gy; time days since SRS",
        "mask_format": MASK_FORMAT,
        "srs_date": case.srs_date.isoformat(),
        "patient": {"name": f"PHANTOM^{case.scenario.upper()}", "id": f"PHANTOM-{case.scenario}-{case.seed}"},
        "plan": {
            "prescription_gy": case.prescription_gy,
            "fractions": case.fractions,
            "technique": case.technique,
            "isodose_line_pct": 100.0 * tech["isodose_fraction"],
            "measured_isodose_line_pct": 100.0 * m.isodose_fraction,
            "max_dose_gy": m.max_dose_gy,
            "gtv_diameter_mm": case.gtv_diameter_mm,
            "ptv_margin_mm": tech["ptv_margin_mm"],
            "gtv_cc": mask_volume_cc(case.structures["GTV"]),
            "ptv_cc": m.tv_cc,
            "piv_cc": m.piv_cc,
            "piv50_cc": m.piv50_cc,
            "ci_rtog": m.ci_rtog,
            "ci_paddick": m.ci_paddick,
            "gi": m.gi,
            "gtv_coverage_pct": m.gtv_coverage_pct,
            "ptv_coverage_pct": m.ptv_coverage_pct,
            "v12_cc": m.v12_cc,
            "metrics_note": "computed on the RTDOSE grid with GTV/PTV rasterised from the written RTSTRUCT "
                            "contours (voxel-centre rule); V12 = Brain minus GTV receiving >= 12 Gy",
            "dose_centre_lps": _centroid_of(case.dose_on_planning >= case.prescription_gy, case.anatomy.grid),
            **plan_info,
        },
        "timepoints": studies_json,
    }
    if case.others is not None or case.protocol != "research-3d":
        _multi_truth(case, doc, sc=sc, isodose_pct=100.0 * tech["isodose_fraction"])
    return doc


def _multi_truth(case: PhantomCase, doc: dict[str, Any], *, sc: dict[str, Any], isodose_pct: float) -> None:
    """Keys of multi-target, new-lesion and clinical-2d cases (absent from one-target research-3d
    cases, whose truth.json stays as it was)."""
    doc["protocol"] = case.protocol
    doc["lesions"] = lesion_truth(case, doc["timepoints"], isodose_pct=isodose_pct, scenario_cfg=sc)
    doc["enlarging_lesions"] = [r["name"] for r in doc["lesions"] if r["enlarging"]]
    new = next((r for r in doc["lesions"] if r["name"] == "N1"), None)
    if new is not None and case.others is not None and case.others.new is not None:
        first = min(case.others.new[1])
        new = {**new, "first_seen": case.studies[first].label, "first_seen_days": case.studies[first].days_since_srs,
               "radius_mm": {case.studies[i].label: r for i, r in case.others.new[1].items()},
               "absent_at_planning": True}
    doc["new_lesion"] = new
    if case.others is not None:
        doc["plan"].update(case.plan_extra)
        doc["plan"]["targets"] = [
            {"number": t.number, "lesion": t.lesion, "gtv_name": t.gtv_name, "ptv_name": t.ptv_name,
             "prescription_gy": t.prescription_gy, "diameter_mm": t.diameter_mm, "centre_lps": list(t.centre_lps),
             "naming_convention": t.convention,
             "roi_number": doc["plan"]["roi_numbers"].get(t.ptv_name or t.gtv_name)}
            for t in case.others.targets]
        doc["plan"]["metrics_note"] += ("; multi-target plan: CI, GI and coverage are the index target's own dose "
                                        "model, v12_cc_all_targets is the summed plan dose")


def _centroid_of(mask: np.ndarray, grid: sitk.Image) -> list[float]:
    c = np.argwhere(mask).mean(0)[::-1]
    return list(grid.TransformContinuousIndexToPhysicalPoint([float(v) for v in c]))
