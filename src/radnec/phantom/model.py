"""The in-memory phantom case: scenarios, techniques, seeded random streams, :class:`Study`, :class:`PhantomCase`.

Shared by the generator (:mod:`radnec.phantom.generate`), the truth measures
(:mod:`radnec.phantom.truth`), the writer and the montage; it imports none of them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk

from radnec.phantom.anatomy import Anatomy
from radnec.phantom.deform import MassEffect
from radnec.phantom.dose_model import PlanMetrics
from radnec.phantom.targets import Target

#: The phantom scenarios (``scenarios.yaml`` → ``scenarios``); the index seeds the random streams.
SCENARIOS: tuple[str, ...] = ("necrosis", "infield", "marginal", "distant", "stable")
#: Delivery techniques (``scenarios.yaml`` → ``technique``).
TECHNIQUES = ("gk", "linac")
#: Purpose → stream number of :func:`rng_for` (changing a number changes every phantom).
STREAMS = {"anatomy": 1, "lesion": 2, "dose": 3, "rigid": 4, "noise": 5, "dates": 6, "uid": 7, "targets": 8,
           "protocol": 9}


def rng_for(seed: int, scenario: str, stream: str, *extra: int) -> np.random.Generator:
    """Independent deterministic random stream per (seed, scenario, purpose)."""
    return np.random.default_rng([int(seed), SCENARIOS.index(scenario), STREAMS[stream], *extra])


@dataclass
class OtherLesions:
    """Lesions besides the scenario's (planning frame).

    Attributes
    ----------
    targets
        Every planned target, the index included (number order).
    index_target
        Plan number of the index lesion's target.
    levels
        Planning level field (mm, > 0 inside) of each responding target, keyed by lesion name.
    scales
        Radius scale per follow-up of each responding target (≤ 1, never growing).
    new
        ``(centre LPS mm, {follow-up index (1-based): radius mm})`` of the new metastasis, or ``None``.
    """

    targets: list[Target]
    index_target: int
    levels: dict[str, np.ndarray] = field(default_factory=dict)
    scales: dict[str, list[float]] = field(default_factory=dict)
    radii: dict[str, float] = field(default_factory=dict)
    new: tuple[np.ndarray, dict[int, float]] | None = None


@dataclass
class Study:
    """One MR study (planning or follow-up) with its images and truth masks in its own frame."""

    label: str                      # "planning", "fu1", ...
    months: float
    days_since_srs: int
    date: dt.date
    grid: sitk.Image
    images: dict[str, sitk.Image]   # "T1c", "FLAIR": uint16
    masks: dict[str, sitk.Image]    # "enhancing", "necrotic", "edema", "lesion_labels": uint8
    transform: sitk.Transform | None = None          # planning -> this frame (None: planning)
    rigid: sitk.Euler3DTransform | None = None
    mass: MassEffect | None = None
    planning_masks: dict[str, np.ndarray] = field(default_factory=dict)  # planning-frame truth
    seeds_lps: dict[str, list[float]] = field(default_factory=dict)
    centres_lps: dict[str, list[float]] = field(default_factory=dict)
    series: list = field(default_factory=list)   # clinical-2d protocol series (radnec.phantom.protocol.Series)
    protocol_facts: dict = field(default_factory=dict)  # clinical-2d: vendor, tilt, slice geometry


@dataclass
class PhantomCase:
    """Everything the generator knows about one case (in memory)."""

    scenario: str
    seed: int
    technique: str
    fractions: int
    voxel_mm: float
    months: list[float]
    anatomy: Anatomy
    site: str
    gtv_diameter_mm: float
    structures: dict[str, sitk.Image]          # planning-grid masks rasterised from the contours
    contours: dict[str, list[np.ndarray]]      # LPS mm polygons per structure
    dose: sitk.Image                            # Gy, float32, RTDOSE grid (sub-box of planning grid)
    dose_on_planning: np.ndarray                # Gy on the full planning grid (z, y, x)
    metrics: PlanMetrics
    prescription_gy: float
    isodose_fraction: float
    srs_date: dt.date
    studies: list[Study]
    index_lesion: str
    lesion_names: dict[str, str]
    pattern_measures: list[dict] = field(default_factory=list)
    others: OtherLesions | None = None          # --lesions / --new-lesion (radnec.phantom.multi)
    roi_types: dict[str, str] | None = None     # RT ROI Interpreted Type per ROI name (multi-target plans)
    plan_extra: dict = field(default_factory=dict)  # plan-level truth of multi-target plans
    protocol: str = "research-3d"


__all__ = ["SCENARIOS", "TECHNIQUES", "STREAMS", "rng_for", "OtherLesions", "Study", "PhantomCase"]
