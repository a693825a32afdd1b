"""One-call hooks for the pipeline: find advanced-imaging series and turn them into observations.

* :func:`find_advanced_series` looks at an ingest :class:`~radnec.ingest.records.Inventory` and returns the
  DSC candidates (dynamic MR series, as decided by :func:`radnec.ingest.temporal.is_dynamic`, with at least
  ``MIN_FRAMES`` time points), PET series and spectroscopy objects/files.
* :func:`imaging_observations` measures one lesion on whatever is available and never aborts the
  pipeline: a series that cannot be used is listed in ``skipped`` with the reason.

The lesion mask is given on its own grid (e.g. the follow-up T1c) and brought onto each series' grid
with :func:`radnec.imaging.masks.mask_on_grid`. Within one frame of reference no transform is needed;
a series in another frame of reference is skipped unless ``transforms`` maps its frame-of-reference UID
to a transform (ITK convention: points of the series' space → points of the mask's space).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import SimpleITK as sitk

from radnec.errors import RadnecError
from radnec.ingest.temporal import is_dynamic

log = logging.getLogger(__name__)


@dataclass
class AdvancedSeries:
    """Advanced-imaging inputs found in an inventory (paths as lists of files or single files)."""

    dsc: list[dict[str, Any]] = field(default_factory=list)
    pet: list[dict[str, Any]] = field(default_factory=list)
    mrs: list[dict[str, Any]] = field(default_factory=list)


def _is_dynamic(files: list[str]) -> bool:
    """A DSC candidate: a dynamic MR series (radnec.ingest.temporal.is_dynamic) with at least MIN_FRAMES time points."""
    from radnec.ingest.dsc import MIN_FRAMES

    return is_dynamic(files, min_timepoints=MIN_FRAMES)


def find_advanced_series(inventory: Any) -> AdvancedSeries:
    """DSC, PET and MRS inputs of an ingest inventory (see the module docstring)."""
    found = AdvancedSeries()
    for s in inventory.all_series():
        entry = {
            "series_instance_uid": s.series_instance_uid,
            "study_instance_uid": s.study_instance_uid,
            "frame_of_reference_uid": s.frame_of_reference_uid,
            "description": s.description,
            "date": s.acquisition_date,
            "files": list(s.files),
        }
        if s.kind == "MR" and _is_dynamic(s.files):
            found.dsc.append(entry)
        elif s.kind == "PT":
            found.pet.append(entry)
        elif s.kind == "MRS":
            found.mrs.extend({**entry, "files": [f]} for f in s.files)
    for f in getattr(inventory, "spectroscopy_files", []) or []:
        found.mrs.append({"files": [f.path], "frame_of_reference_uid": None, "description": f.format, "date": None})
    return found


def _folder_or_files(files: list[str]) -> Path:
    parents = {str(Path(f).parent) for f in files}
    if len(parents) != 1:
        raise RadnecError("the series is spread over several folders; give its folder explicitly")
    return Path(parents.pop())


def imaging_observations(
    *,
    lesion: sitk.Image,
    lesion_frame_of_reference_uid: str | None = None,
    series: AdvancedSeries,
    transforms: dict[str, sitk.Transform] | None = None,
    tracer: str | None = None,
) -> dict[str, Any]:
    """Measure ``lesion`` on every usable DSC, PET and MRS input.

    Returns
    -------
    dict
        ``observations`` (``radnec.evidence.observations.Observation`` objects), ``details`` (per modality
        summaries) and ``skipped`` (human-readable reasons).
    """
    from radnec.imaging.knowledge import to_evidence
    from radnec.imaging.masks import mask_on_grid

    transforms = transforms or {}
    obs: list[dict[str, Any]] = []
    details: dict[str, Any] = {}
    skipped: list[str] = []

    def transform_for(entry: dict[str, Any], what: str) -> sitk.Transform | None | bool:
        uid = entry.get("frame_of_reference_uid")
        if uid is None or lesion_frame_of_reference_uid is None or uid == lesion_frame_of_reference_uid:
            return None
        if uid in transforms:
            return transforms[uid]
        skipped.append(f"{what} {entry.get('description') or ''}: other frame of reference and no transform; not used")
        return False

    if series.dsc:
        from radnec.ingest.dsc import read_dsc
        from radnec.imaging.perfusion import analyze_dsc

        entry = series.dsc[-1]
        tx = transform_for(entry, "DSC")
        if tx is not False:
            try:
                dsc = read_dsc(_folder_or_files(entry["files"]))
                les = mask_on_grid(lesion, dsc.reference, transform=tx)
                res = analyze_dsc(dsc, lesion=les)
                obs.extend(res.observations)
                details["dsc"] = res.summary()
            except RadnecError as exc:
                skipped.append(f"DSC perfusion not used: {exc}")
    if series.pet:
        from radnec.imaging.pet import load_pet_suv, pet_lesion_stats

        entry = series.pet[-1]
        tx = transform_for(entry, "PET")
        if tx is not False:
            try:
                pet = load_pet_suv(_folder_or_files(entry["files"]), tracer=tracer)
                les = mask_on_grid(lesion, pet.suv, transform=tx)
                stats = pet_lesion_stats(pet.suv, les, tracer=pet.tracer)
                obs.extend(stats["observations"])
                details["pet"] = {k: v for k, v in stats.items() if k != "observations"}
            except RadnecError as exc:
                skipped.append(f"PET not used: {exc}")
    if series.mrs:
        from radnec.imaging.mrs import analyze_mrs_file

        entry = series.mrs[-1]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = analyze_mrs_file(entry["files"][0])
            obs.extend(res.pop("observations"))
            details["mrs"] = res
            skipped.append("MRS voxel position not checked against the lesion: confirm the voxel was in the lesion")
        except RadnecError as exc:
            skipped.append(f"MR spectroscopy not used: {exc}")
    return {"observations": to_evidence(obs), "details": details, "skipped": skipped}


__all__ = ["AdvancedSeries", "find_advanced_series", "imaging_observations"]
