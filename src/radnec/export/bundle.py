"""Everything for one case: :func:`export_case`.

Objects written into ``to`` (one file each, all in the patient's existing studies):

* ``RTSTRUCT_planning.dcm`` — every lesion compartment of every follow-up (and of the planning
  study when given) on the planning T1c series, for the treatment-planning system. Follow-up
  masks reach the planning planes through each follow-up's planning → follow-up transform by
  nearest-neighbour sampling (:mod:`radnec.export.rtstruct`); with a deformable transform the
  contour is where the lesion's tissue lies in the planning anatomy, so its volume follows the
  Jacobian and may differ from the follow-up volume in ``analysis.json`` (a rigid transform keeps it);
* ``RTSTRUCT_<tp>.dcm`` — the same compartments on each follow-up's own T1c series (no
  resampling): what to import when that MRI is the base of a re-treatment plan;
* ``SEG_<tp>.dcm`` — DICOM SEG of the compartments on each follow-up T1c;
* ``SR.dcm`` — TID 1500 measurement report referencing the SEG segments;
* ``REG_<tp>/reg_rigid.dcm`` (+ ``reg_deformable.dcm``) — the fusion, when the follow-up carries
  its :class:`~radnec.fuse.transforms.FusionResult`;
* ``REPORT.dcm`` — the HTML report as Encapsulated PDF, when ``report_html`` is given.

With ``deidentify=True`` every object gets the same pseudonym (:mod:`radnec.export.deidentify`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydicom.dataset import Dataset

from radnec import __version__
from radnec.case import Analysis
from radnec.errors import InputError
from radnec.export.deidentify import deidentify_dataset, new_pseudonym
from radnec.export.inputs import FollowupExport, SourceSeries, read_source_series
from radnec.export.rtstruct import MAX_ROI_NAME, RoiSpec, rtstruct_dataset
from radnec.export.seg import seg_dataset
from radnec.export.sr import ExportedSeg, measurement_report
from radnec.lesion.labels import Compartments

log = logging.getLogger(__name__)

#: RTROIInterpretedType per compartment: the T1c lesion is the target-like volume; the parts are
#: helper ("CONTROL") structures, as planning systems call non-target reference contours.
ROI_TYPES = {"lesion": "GTV", "enhancing": "CONTROL", "necrotic": "CONTROL", "edema": "CONTROL"}
ROI_ABBREVIATIONS = {"lesion": "LES", "enhancing": "ENH", "necrotic": "NEC", "edema": "EDE"}
#: ROIDisplayColor per compartment (r, g, b).
ROI_COLOURS = {"lesion": (255, 0, 0), "enhancing": (255, 140, 0), "necrotic": (255, 255, 0), "edema": (0, 190, 255)}
COMPARTMENT_ORDER = ("lesion", "enhancing", "necrotic", "edema")


def timepoint_code(label: str) -> str:
    """A short upper-case tag of a time-point label for ROI names and file names:
    ``"follow-up 2"`` → ``"FU2"``, ``"planning"`` → ``"PL"``."""
    m = re.fullmatch(r"\s*follow[- ]?up\s*(\d+)\s*", label, flags=re.IGNORECASE)
    if m:
        return f"FU{m.group(1)}"
    if label.strip().casefold() == "planning":
        return "PL"
    return re.sub(r"[^A-Z0-9]", "", label.upper())[:6] or "TP"


def _roi_specs(
    lesions: Mapping[str, Compartments], *, tag: str, label: str, transform, where: str
) -> list[RoiSpec]:
    specs = []
    for lesion in sorted(lesions):
        comps = lesions[lesion]
        for compartment in COMPARTMENT_ORDER:
            mask = getattr(comps, compartment)
            if mask is None:
                continue
            suffix = f"_{ROI_ABBREVIATIONS[compartment]}_{tag}"
            specs.append(
                RoiSpec(
                    name=f"{lesion[: MAX_ROI_NAME - len(suffix)]}{suffix}",
                    mask=mask,
                    transform=transform,
                    interpreted_type=ROI_TYPES[compartment],
                    color=ROI_COLOURS[compartment],
                    description=f"{lesion} {compartment} {label}",
                    generation=f"radnec {__version__} {comps.source or 'segmentation'}; {where}",
                )
            )
    return specs


def _registrations(fusion, *, reference: Dataset) -> dict[str, Dataset]:  # noqa: ANN001 - FusionResult
    """The fusion's REG datasets by file name, built by :mod:`radnec.fuse.dicom_reg` (the same
    objects as ``radnec fuse`` writes) and pseudonymised here with the rest of the export.
    Laterality (General Series, Type 2C) is added empty: dciodvfy asks for it in the Deformable
    Spatial Registration IOD and the brain is not a paired organ."""
    from radnec.fuse.dicom_reg import deformable_registration, spatial_registration

    uids = {"fixed_frame_uid": fusion.fixed_frame_uid, "moving_frame_uid": fusion.moving_frame_uid}
    out = {"reg_rigid.dcm": spatial_registration(fusion.rigid, reference=reference, **uids)}
    if fusion.deformation is not None:
        out["reg_deformable.dcm"] = deformable_registration(fusion.rigid, fusion.deformation, reference=reference, **uids)
    for ds in out.values():
        if "Laterality" not in ds:
            ds.Laterality = ""
    return out


def export_case(
    *,
    analysis: Analysis,
    planning_files: Sequence[Path],
    followups: Sequence[FollowupExport],
    to: Path,
    deidentify: bool = False,
    pseudonym: str | None = None,
    planning_lesions: Mapping[str, Compartments] | None = None,
    report_html: Path | None = None,
) -> list[Path]:
    """Write the DICOM exports of one analysed case (see the module docstring).

    Parameters
    ----------
    analysis
        The analysis (``analysis.json``) whose numbers the SR reports.
    planning_files
        The planning T1c series (the RTSTRUCT's reference images).
    followups
        The follow-up time points in time order, each with its T1c files, planning → follow-up
        transform and lesion compartments on its T1c grid.
    to
        Output folder (created).
    deidentify, pseudonym
        Pseudonymise every object (``pseudonym`` or a new random one).
    planning_lesions
        Optional lesion compartments on the planning T1c grid (the baseline), added to the
        planning RTSTRUCT.
    report_html
        The HTML report to add as Encapsulated PDF (needs Chromium).

    Returns
    -------
    list[pathlib.Path]
        The files written.
    """
    if not followups and not planning_lesions:
        raise InputError("nothing to export: no follow-up and no planning lesion masks")
    if not deidentify and pseudonym is not None:
        raise InputError("--pseudonym is only used with --deidentify")
    pseudo = (pseudonym or new_pseudonym()) if deidentify else None
    to = Path(to)
    to.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def save(ds: Dataset, name: str) -> None:
        if pseudo is not None:
            deidentify_dataset(ds, pseudonym=pseudo)
        path = to / name
        ds.save_as(path, enforce_file_format=True)
        written.append(path)

    planning = read_source_series(planning_files)
    planning_specs: list[RoiSpec] = []
    if planning_lesions:
        planning_specs += _roi_specs(planning_lesions, tag="PL", label="planning", transform=None,
                                     where="planning T1c")
    segs: list[ExportedSeg] = []
    dates: dict[str, str | None] = {}
    for fu in followups:
        tag = timepoint_code(fu.label)
        source: SourceSeries = read_source_series(fu.t1c_files)
        dates[fu.label] = fu.date
        planning_specs += _roi_specs(fu.lesions, tag=tag, label=fu.label, transform=fu.transform,
                                     where=f"{tag} T1c to planning, nearest neighbour")
        own = _roi_specs(fu.lesions, tag=tag, label=fu.label, transform=None, where=f"{tag} T1c")
        save(rtstruct_dataset(source=source, rois=own, label=f"RADNEC {tag}"), f"RTSTRUCT_{tag}.dcm")
        seg, infos = seg_dataset(source=source, lesions=fu.lesions, timepoint=fu.label)
        segs.append(ExportedSeg(dataset=seg, timepoint=fu.label, segments=infos))
        if fu.fusion is not None:
            for name, reg in _registrations(fu.fusion, reference=planning.first).items():
                (to / f"REG_{tag}").mkdir(exist_ok=True)
                save(reg, f"REG_{tag}/{name}")
    save(rtstruct_dataset(source=planning, rois=planning_specs, label="RADNEC"), "RTSTRUCT_planning.dcm")
    if segs:
        report = measurement_report(analysis=analysis, segs=segs, dates=dates)
        # the SR's evidence references the SEGs by UID, which pseudonymisation keeps
        for seg in segs:
            save(seg.dataset, f"SEG_{timepoint_code(seg.timepoint)}.dcm")
        save(report, "SR.dcm")
    if report_html is not None:
        from radnec.export.pdf import encapsulated_pdf_dataset, html_to_pdf

        save(encapsulated_pdf_dataset(pdf=html_to_pdf(report_html), reference=planning.first), "REPORT.dcm")
    log.info("exported %d DICOM objects to %s", len(written), to)
    return written


__all__ = ["export_case", "timepoint_code", "ROI_TYPES", "ROI_COLOURS"]
