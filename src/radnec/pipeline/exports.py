"""What the DICOM exports need of an analysed case, from its workspace (:mod:`radnec.export`).

The lesion masks, registrations and source series are the saved stage results of the last
``analyze`` (or ``reanalyze_lesion``) of the folder; nothing is recomputed when the case folder and
the code are unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from radnec.case import Analysis
from radnec.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from radnec.export.inputs import ExportInputs


def load_export_inputs(analysis_dir: str | Path, *, work_dir: str | Path | None = None) -> ExportInputs:
    """The :class:`radnec.export.inputs.ExportInputs` of an analysis folder.

    Raises
    ------
    InputError
        No ``analysis.json`` or no workspace in the folder.
    """
    from radnec.export.inputs import ExportInputs, FollowupExport
    from radnec.pipeline.run import saved_state

    folder = Path(analysis_dir)
    path = folder / "analysis.json"
    if not path.is_file():
        raise InputError("no analysis.json here: run `radnec analyze` first", path=folder)
    case, fusions, tracks = saved_state(folder, work_dir=work_dir)
    try:
        analysis = Analysis.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        raise InputError(f"analysis.json does not follow the contract ({exc.error_count()} problems)", path=path) from exc
    studies = {s.study_uid: s for s in case.layout.followups}
    followups = []
    for tp in case.followups:
        study = studies[tp.study_uid]
        fusion = fusions[tp.label]
        result = (fusion.final or fusion.rigid).value
        followups.append(
            FollowupExport(
                label=tp.label,
                date=tp.date,
                t1c_files=[Path(f) for f in study.series["T1c"].files],
                transform=result.transform,
                lesions={t.name: t.at[tp.label].compartments.value for t in tracks if tp.label in t.at},
                fusion=result,
            )
        )
    planning = case.planning.label
    report = folder / "report.html"
    return ExportInputs(
        analysis=analysis,
        planning_files=[Path(f) for f in case.layout.planning.series["T1c"].files],
        followups=followups,
        planning_lesions={t.name: t.at[planning].compartments.value for t in tracks if planning in t.at} or None,
        report_html=report if report.is_file() else None,
    )


__all__ = ["load_export_inputs"]
