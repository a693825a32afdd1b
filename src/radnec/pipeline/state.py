"""The typed values the stages hand each other (one case, one run).

Frames: the planning frame (the RTDOSE's frame of reference, LPS mm) is the common frame. A study's
``transform`` maps planning points to that study's points (ITK's fixed = planning convention), so
``Resample(study image, planning grid, transform)`` aligns the study to the plan.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from radnec.pipeline.workspace import Keyed


@dataclass
class Study:
    """One MR study's images (the planning study is ``studies[0]``).

    ``t1c``/``flair``/``t2`` are :class:`Keyed` images: their key is the inputs stage's key plus the
    series, so downstream stage keys need not re-hash the pixels.
    """

    label: str
    study_uid: str
    date: str | None
    days_since_srs: int | None
    frame_uid: str | None
    t1c: Keyed
    flair: Keyed | None = None
    t2: Keyed | None = None

    @property
    def t1c_image(self) -> sitk.Image:
        return self.t1c.value


@dataclass
class CaseInputs:
    """What the inputs stage and the timeline give the rest of the run."""

    case_dir: Path
    key: str
    layout: Any  # radnec.discover.CaseLayout
    advanced: Any  # radnec.imaging.collect.AdvancedSeries
    plan: Any  # radnec.ingest.rtplan.RTPlan
    dose: Any  # radnec.ingest.rtdose.RTDose
    dose_key: str
    structures: Any  # radnec.ingest.rtstruct.RTStruct
    clinical: Any | None  # radnec.evidence.case.ClinicalCase
    srs_date: dt.date | None
    studies: list[Study]
    input_files: list[str]
    file_sha256: dict[str, str]

    def sha_of(self, path: str | Path) -> str:
        """SHA-256 of an input file (from the inputs stage's listing)."""
        p = Path(path)
        rel = str(p.relative_to(self.case_dir)) if p.is_relative_to(self.case_dir) else p.name
        sha = self.file_sha256.get(rel)
        if sha is None:
            from radnec.pipeline.workspace import file_sha256

            sha = file_sha256(p)
        return sha

    @property
    def planning(self) -> Study:
        return self.studies[0]

    @property
    def followups(self) -> list[Study]:
        return self.studies[1:]


@dataclass
class PlanResult:
    """The plan summary stage: the contract block plus what the lesion stages need."""

    summary: Any  # radnec.case.PlanSummary
    gtv_name: str
    gtv_centre_lps: np.ndarray
    plan_prescription_gy: float
    warnings: list[str] = field(default_factory=list)


@dataclass
class Fusion:
    """One follow-up's registration to the planning frame."""

    rigid: Keyed  # FusionResult (rigid only)
    final: Keyed | None = None  # FusionResult (rigid + deformable), None until the deformable stage ran
    record: Any | None = None  # radnec.case.TimepointRegistration

    @property
    def transform(self) -> sitk.Transform:
        """Planning → follow-up (the deformable result when there is one)."""
        return (self.final or self.rigid).value.transform


@dataclass
class LesionAt:
    """One lesion at one study: its compartments (on the study's own grid) and measures."""

    compartments: Keyed  # radnec.lesion.labels.Compartments
    measures: Any  # radnec.lesion.morphology.TimepointMeasures


@dataclass
class LesionTrack:
    """One lesion followed over the studies."""

    name: str
    seed_lps: np.ndarray  # planning frame
    target: Any  # radnec.dose.targets.LesionTarget
    at: dict[str, LesionAt] = field(default_factory=dict)  # study label -> lesion there
    course: Any | None = None  # radnec.lesion.longitudinal.LesionCourse
    kind: str = "treated target"  # or "seed", "new, out of field" (radnec.case.Lesion.kind)


__all__ = ["CaseInputs", "Fusion", "LesionAt", "LesionTrack", "PlanResult", "Study"]
