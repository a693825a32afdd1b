"""Export inputs built from a phantom's truth (what the pipeline's workspace will hand over).

The compartments are the phantom's true masks on each follow-up T1c grid, the transforms its
true planning → follow-up transforms, and the analysis holds the volumes of those masks — so an
export that loses or moves voxels shows up against these numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from radnec.case import Analysis, CoveragePct, Lesion, LesionDose, PlanSummary, Timepoint
from radnec.export.inputs import FollowupExport
from radnec.geometry import mask_volume_cc, same_grid
from radnec.ingest.series import read_series
from radnec.lesion.labels import Compartments


def _mask(path: Path, grid: sitk.Image, where: np.ndarray | None = None) -> sitk.Image:
    arr = sitk.GetArrayFromImage(sitk.ReadImage(str(path))) > 0
    if where is not None:
        arr &= where
    img = sitk.GetImageFromArray(arr.astype(np.uint8))
    src = sitk.ReadImage(str(path))
    assert same_grid(src, grid, tol_mm=1e-2), path  # NIfTI keeps the T1c grid up to float32 rounding
    img.CopyInformation(grid)
    return img


def phantom_export_inputs(case: Path, truth: dict) -> tuple[Analysis, list[Path], list[FollowupExport]]:
    """(analysis, planning T1c files, follow-ups) of a phantom case written by ``generate_case``."""
    planning = truth["timepoints"][0]
    planning_files = sorted((case / planning["series"]["T1c"]["folder"]).glob("*.dcm"))
    followups: list[FollowupExport] = []
    per_lesion: dict[str, list[Timepoint]] = {}
    for n, tp in enumerate(truth["timepoints"][1:], start=1):
        files = sorted((case / tp["series"]["T1c"]["folder"]).glob("*.dcm"))
        grid = read_series(files)
        labels = sitk.GetArrayFromImage(sitk.ReadImage(str(case / tp["masks"]["lesion_labels"])))
        label = f"follow-up {n}"
        lesions = {}
        for les in tp["lesions"]:
            inside = labels == les["label"]
            if not inside.any():
                continue
            enh = _mask(case / tp["masks"]["enhancing"], grid, inside)
            nec = _mask(case / tp["masks"]["necrotic"], grid, inside)
            lesion = _mask(case / tp["masks"]["lesion_labels"], grid, inside)
            edema = _mask(case / tp["masks"]["edema"], grid) if les.get("index_lesion") else None
            lesions[les["name"]] = Compartments(lesion=lesion, enhancing=enh, necrotic=nec, edema=edema,
                                                source="phantom truth")
            per_lesion.setdefault(les["name"], []).append(Timepoint(
                date=tp["date"], days_since_srs=tp["days_since_srs"], enhancing_cc=mask_volume_cc(enh),
                necrotic_cc=mask_volume_cc(nec), edema_cc=None if edema is None else mask_volume_cc(edema),
                longest_diameter_mm=les["longest_diameter_mm"],
                perpendicular_diameter_mm=les["perpendicular_diameter_mm"],
                details={"label": label, "lesion_cc": mask_volume_cc(lesion)},
            ))
        transform = sitk.ReadTransform(str(case / "truth" / tp["label"] / "planning_to_followup.h5"))
        followups.append(FollowupExport(label=label, date=tp["date"], t1c_files=files, transform=transform,
                                        lesions=lesions))
    lesions = []
    for name, tps in per_lesion.items():
        index = name == truth["index_lesion"]
        lesions.append(Lesion(
            name=name, timepoints=tps,
            dose=LesionDose(dmin_gy=3.25, dmean_gy=17.5, dmax_gy=41.0, d95_gy=5.5,
                            coverage_pct=CoveragePct(rx100=12.5, rx80=33.0, rx50=71.25)) if index else None,
            pattern=truth["pattern"] if index else None,
            growth_symmetry=truth["growth_symmetry"] if index else None,
            evidence={"posterior_tp": 0.625, "interval95": [0.375, 0.8125], "band": "equivocal"} if index else None,
        ))
    plan = truth["plan"]
    analysis = Analysis(plan=PlanSummary(prescription_gy=plan["prescription_gy"], fractions=plan["fractions"]),
                        registration=None, lesions=lesions)
    return analysis, planning_files, followups
