"""``radnec export``: DICOM exports of an analysed case (RTSTRUCT, SEG, SR, REG, optional PDF)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

HELP = (
    "Write the DICOM objects of an analysed case into --to: RTSTRUCT of every lesion compartment on the "
    "planning series (RTSTRUCT_planning.dcm, for the TPS) and on each follow-up T1c, DICOM SEG per follow-up, "
    "a TID 1500 measurement SR, the registrations (REG) and, with --pdf, the report as Encapsulated PDF. "
    "--deidentify gives every object the same pseudonym (UIDs kept). Contours are a proposal: review them "
    "before clinical use."
)


def command(
    analysis_dir: Path = typer.Argument(..., help="Folder written by `radnec analyze` (analysis.json and its workspace)."),
    to: Path = typer.Option(..., "--to", "-o", help="Output folder for the DICOM files (created)."),
    deidentify: bool = typer.Option(False, "--deidentify", help="Replace patient name/ID by a pseudonym, empty dates."),
    pseudonym: Optional[str] = typer.Option(None, "--pseudonym", help="The pseudonym to use with --deidentify."),
    pdf: bool = typer.Option(False, "--pdf", help="Also export report.html as Encapsulated PDF (needs Chromium)."),
) -> None:
    """Export an analysed case as DICOM."""
    from radnec.errors import InputError
    from radnec.export.bundle import export_case
    from radnec.pipeline import exports

    inputs = exports.load_export_inputs(analysis_dir)
    if pdf and inputs.report_html is None:
        raise InputError("--pdf: the analysis folder has no report.html", path=analysis_dir)
    files = export_case(
        analysis=inputs.analysis, planning_files=inputs.planning_files, followups=inputs.followups, to=to,
        deidentify=deidentify, pseudonym=pseudonym, planning_lesions=inputs.planning_lesions,
        report_html=inputs.report_html if pdf else None,
    )
    typer.echo(f"{len(files)} DICOM files written to {to}")
