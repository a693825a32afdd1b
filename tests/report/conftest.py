"""Synthetic inputs for the report tests: small images built in memory and a realistic
:class:`radnec.case.Analysis` (no file from ../shared is read)."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from radnec.case import (
    Analysis,
    CoveragePct,
    Lesion,
    LesionDose,
    PlanSummary,
    Registration,
    Timepoint,
    TimepointRegistration,
)

SPACING = (2.0, 2.0, 3.0)  # anisotropic on purpose (mm)
SIZE = (48, 56, 30)  # x, y, z voxels
ORIGIN = (-48.0, -56.0, -45.0)
LESION_CENTRE = (12.0, -8.0, 6.0)  # LPS mm: patient left, anterior, superior
LESION_RADIUS_MM = 8.0


def _grid(direction: tuple[float, ...] | None = None) -> tuple[sitk.Image, np.ndarray]:
    ref = sitk.Image(SIZE, sitk.sitkFloat32)
    ref.SetSpacing(SPACING)
    origin = np.asarray(ORIGIN)
    if direction is not None:
        ref.SetDirection(direction)
        # keep the grid centred where the axis-aligned one is, whatever the direction
        dirm = np.asarray(direction).reshape(3, 3)
        half = np.asarray(SPACING) * (np.asarray(SIZE) - 1) / 2
        origin = (origin + half) - dirm @ half
    ref.SetOrigin(tuple(float(v) for v in origin))
    idx = np.indices(SIZE[::-1]).reshape(3, -1)[::-1].T  # (x, y, z) index rows
    dirm = np.asarray(ref.GetDirection()).reshape(3, 3)
    pts = origin + (idx * np.asarray(SPACING)) @ dirm.T
    return ref, pts.reshape(*SIZE[::-1], 3)


def _image(values: np.ndarray, ref: sitk.Image, pixel: int = sitk.sitkFloat32) -> sitk.Image:
    img = sitk.GetImageFromArray(values)
    img.CopyInformation(ref)
    return sitk.Cast(img, pixel)


def make_case_images(direction: tuple[float, ...] | None = None) -> dict[str, sitk.Image]:
    """A head-like ellipsoid with texture, an enhancing lesion, a dose cloud (Gy) and the mask."""
    ref, pts = _grid(direction)
    rng = np.random.default_rng(0)
    head = ((pts[..., 0] / 44) ** 2 + (pts[..., 1] / 52) ** 2 + (pts[..., 2] / 40) ** 2) < 1
    d = np.linalg.norm(pts - np.asarray(LESION_CENTRE), axis=-1)
    texture = 250 + 60 * np.sin(pts[..., 0] / 6.0) * np.cos(pts[..., 1] / 9.0)
    planning = np.where(head, texture, 0) + rng.normal(0, 5, head.shape) * head
    planning = planning + 240 * (d < 5.0)
    followup = np.where(head, texture, 0) + rng.normal(0, 5, head.shape) * head + 260 * (d < LESION_RADIUS_MM)
    dose = 24.0 * np.exp(-((d / 10.0) ** 2))
    lesion = (d < LESION_RADIUS_MM).astype(np.uint8)
    return {
        "planning": _image(planning.astype(np.float32), ref),
        "followup": _image(followup.astype(np.float32), ref),
        "dose": _image(dose.astype(np.float32), ref),
        "lesion": _image(lesion, ref, sitk.sitkUInt8),
    }


@pytest.fixture(scope="session")
def case_images() -> dict[str, sitk.Image]:
    return make_case_images()


def full_analysis() -> Analysis:
    """An analysis with every block filled, shaped like the pipeline's output."""
    tps = [
        Timepoint(date="2025-03-01", days_since_srs=120, enhancing_cc=1.1, edema_cc=3.9, necrotic_cc=0.1,
                  longest_diameter_mm=15.0, perpendicular_diameter_mm=12.0, measurable=True,
                  edema_enhancement_ratio=3.5, enhancement_pattern="solid", rano_bm_category="SD",
                  segmentation="seed 12,-8,6"),
        Timepoint(date="2025-06-01", days_since_srs=212, enhancing_cc=2.0, edema_cc=6.5, necrotic_cc=0.4,
                  longest_diameter_mm=18.5, perpendicular_diameter_mm=14.0, measurable=True,
                  edema_enhancement_ratio=3.2, enhancement_pattern="rim", rano_bm_category="PD",
                  steroid_dose_mg=4.0, segmentation="seed 12,-8,6"),
        Timepoint(date="2025-08-15", days_since_srs=287, enhancing_cc=3.4, edema_cc=9.8, necrotic_cc=0.9,
                  longest_diameter_mm=22.0, perpendicular_diameter_mm=17.5, measurable=True,
                  edema_enhancement_ratio=2.9, enhancement_pattern="rim", rano_bm_category="PD",
                  steroid_dose_mg=8.0, segmentation="seed 12,-8,6"),
    ]
    evidence = {
        "prior_tp": 0.42,
        "posterior_tp": 0.57,
        "interval95": [0.31, 0.79],
        "items": [
            {"id": "days_since_srs", "label": "Time since SRS 9.4 months", "family": "kinetics",
             "population": "metastases", "value": 287, "unit": "days", "result": "-", "lr": 0.55,
             "log_lr": -0.6, "used": True,
             "citation": {"author": "Narloch JL et al.", "journal": "Neurosurgery", "year": 2017},
             "warnings": []},
            {"id": "pattern", "label": "In-field growth", "family": "geometry", "population": "metastases",
             "value": "in-field", "result": "+", "lr": 1.4, "log_lr": 0.34, "used": True,
             "expert_opinion": True, "citation": "radnec convention (expert opinion)",
             "warnings": ["expert opinion: weak likelihood ratio"]},
            {"id": "dsc_rcbv_max", "label": "rCBV max 2.4", "family": "perfusion", "population": "mixed",
             "value": 2.4, "result": "+", "lr": 2.3, "log_lr": 0.83, "used": True,
             "citation": {"author": "Barajas RF et al.", "journal": "AJNR", "year": 2009, "pmid": "19213826"},
             "warnings": ["mixed population"]},
            {"id": "dsc_psr_pct", "label": "PSR 78 %", "family": "perfusion", "population": "glioma",
             "value": 78, "result": "+", "lr": 1.9, "log_lr": 0.64, "used": False,
             "why": "same family as rCBV: the stronger item is used", "citation": "glioma series",
             "warnings": ["glioma-derived evidence <extrapolated>"]},
        ],
        "next_best_test": "amino-acid PET (FET TBRmax)",
        "value_of_information": [
            {"test": "pet_tbr_max", "label": "FET PET TBRmax", "p_positive": 0.52,
             "posterior_if_positive": 0.83, "posterior_if_negative": 0.28},
            {"test": "biopsy", "label": "Stereotactic biopsy", "p_positive": 0.45,
             "posterior_if_positive": 0.99, "posterior_if_negative": 0.35,
             "note": "a negative needle biopsy does not exclude tumour (sampling error)"},
        ],
        "warnings": ["one item is glioma-derived"],
        "caveats": ["Mixed histology is common: most resected lesions contain some tumour."],
    }
    options = [
        {"name": "Advanced imaging first (amino-acid PET)", "fit": "recommended to discuss",
         "rationale": ["posterior in the uncertain range", "PET is the most informative next test"],
         "citations": [{"author": "Galldiks N et al.", "journal": "Neuro Oncol", "year": 2020}]},
        {"name": "Bevacizumab", "fit": "reasonable", "rationale": "symptomatic oedema, steroid dependent",
         "citations": ["Levin VA et al., Int J Radiat Oncol Biol Phys 2011"]},
        {"name": "Whole-brain radiotherapy", "fit": "less suitable", "rationale": ["single lesion"],
         "citations": []},
    ]
    lesion = Lesion(
        name="L1 left frontal",
        timepoints=tps,
        growth={"volume_growth_pct_per_month": 24.5, "nadir_date": "2025-03-01",
                "intervals": [{"from_days": 120, "to_days": 212, "volume_doubling_time_days": 108.3},
                              {"from_days": 212, "to_days": 287, "volume_doubling_time_days": 98.04}]},
        dose=LesionDose(dmin_gy=11.2, dmean_gy=19.8, dmax_gy=24.1, d95_gy=13.0,
                        coverage_pct=CoveragePct(rx100=38.0, rx80=71.5, rx50=99.0)),
        pattern="in-field",
        pattern_detail={"fraction_in_rx80_pct": 71.5},
        growth_symmetry="symmetric",
        symmetry_detail={"centroid_shift_mm": 1.2},
        evidence=evidence,
        options=options,
    )
    plan = PlanSummary(prescription_gy=20.0, fractions=1, technique="VMAT", prescription_isodose_pct=80,
                       target_roi="GTV_L1", gtv_cc=1.2, v12_cc=4.8, v10_cc=6.9, conformity_index_rtog=1.12,
                       conformity_index_paddick=0.81, gradient_index=3.1, gtv_dmin_gy=20.4, dose_max_gy=25.0,
                       srs_date="2024-11-01")
    registration = Registration(
        method="rigid (Mattes MI) + local demons",
        timepoints=[
            TimepointRegistration(date="2025-03-01", method="rigid", quality={"mi_before": 0.31, "mi_after": 0.62,
                                                                             "folded_fraction": 0.0}),
            TimepointRegistration(date="2025-08-15", method="rigid + demons", poor_quality=True,
                                  quality={"mi_before": 0.30, "mi_after": 0.35, "jacobian_min": -0.1,
                                           "thresholds": {"min_jacobian": 0.5, "max_jacobian": 2.0}},
                                  warnings=["3.2 % of voxels folded (Jacobian <= 0)"]),
        ],
    )
    return Analysis(
        plan=plan,
        registration=registration,
        lesions=[lesion],
        skipped=["no FLAIR at 2025-03-01: edema not measured", "no perfusion series: rCBV typed in the case file"],
        warnings=["follow-up 2025-08-15: registration flagged poor quality"],
        provenance={"inputs": {"planning/CT.dcm": "sha256:ab12", "fu1/MR.dcm": "sha256:cd34"},
                    "PatientName": "DOE^JANE", "libraries": {"SimpleITK": "2.5"}},
        run={"started": "2026-11-26T17:00:00Z", "seconds": 12.5},
    )


def minimal_analysis() -> Analysis:
    """Only a lesion with measurements: no plan, dose, registration or evidence."""
    tp = Timepoint(date=None, days_since_srs=None, enhancing_cc=2.0, longest_diameter_mm=17.0)
    return Analysis(
        plan=None,
        registration=None,
        lesions=[Lesion(name="lesion 1", timepoints=[tp])],
        skipped=["no RTDOSE found: dose metrics and isodose lines not computed",
                 "no clinical case file: evidence not assessed", "no FLAIR: edema not measured"],
    )


@pytest.fixture(scope="session")
def figures(case_images) -> dict[str, bytes]:
    """One picture of each kind (not all: some sections must show their missing-figure note)."""
    from radnec.report import figures as F
    from radnec.report.html import figure_key

    a = full_analysis()
    les = a.lesions[0]
    ev = les.evidence
    d = np.linspace(0, 26, 40)
    return {
        "views_latest": F.orthogonal_views(case_images["followup"], dose=case_images["dose"], prescription_gy=20.0,
                                           lesion=case_images["lesion"], title="2025-08-15"),
        "dvh": F.dvh_plot({"lesion": (d, 100 / (1 + np.exp(d - 14)))}, prescription_gy=20.0),
        "growth": F.growth_curve(les.timepoints),
        "evidence": F.evidence_contributions(ev["items"], prior_tp=ev["prior_tp"], posterior_tp=ev["posterior_tp"],
                                             interval95=ev["interval95"]),
        "voi": F.value_of_information(ev["value_of_information"], current_tp=ev["posterior_tp"]),
        figure_key("registration", date="2025-08-15"): F.registration_overlay(case_images["planning"],
                                                                             case_images["followup"]),
    }
