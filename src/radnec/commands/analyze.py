"""``radnec analyze``: the whole case in one command (see :func:`radnec.pipeline.analyze`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

HELP = (
    "Analyse one case folder (planning MR + RTPLAN/RTDOSE/RTSTRUCT + follow-up MR studies): fuse, "
    "segment and measure the lesion over time, put it in the dose cloud, weigh the evidence and list "
    "the options. Writes OUT/analysis.json, a self-contained OUT/report.html and OUT/run.json. Lesion seeds "
    "are LPS mm in the planning frame (--lesion-seed) or on the latest follow-up as your viewer shows it "
    "(--lesion-seed-followup); default: the GTV centroid. Every stage's result is kept in OUT/.radnec and "
    "reused when its inputs are unchanged (--fresh recomputes). Decision support, not a diagnosis."
)


def command(
    case_dir: Annotated[Path, typer.Argument(help="Folder exported from the TPS and PACS (searched recursively).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder for analysis.json and report.html.")],
    clinical: Annotated[
        Optional[Path], typer.Option("--clinical", help="Clinical case file (YAML/JSON; see examples/).")
    ] = None,
    lesion_seed: Annotated[
        Optional[list[str]],
        typer.Option("--lesion-seed", help="x,y,z (LPS mm, planning frame) inside a lesion; repeat for several."),
    ] = None,
    lesion_seed_followup: Annotated[
        Optional[list[str]],
        typer.Option(
            "--lesion-seed-followup",
            help="x,y,z (LPS mm) inside a lesion on the LATEST follow-up T1c, in that study's own patient coordinates "
            "(as a DICOM viewer shows them); mapped to the plan through the registration. Repeat for several.",
        ),
    ] = None,
    work: Annotated[
        Optional[Path], typer.Option("--work", help="Workspace of saved stage results (default OUT/.radnec).")
    ] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="Recompute every stage (ignore saved results).")] = False,
    dicom_out: Annotated[
        Optional[Path],
        typer.Option("--dicom-out", help="Also write the DICOM exports (RTSTRUCT, SEG, SR, REG) here (see `radnec export`)."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print analysis.json to stdout; no progress display.")] = False,
    no_report: Annotated[bool, typer.Option("--no-report", help="Skip the HTML report and its pictures.")] = False,
    knowledge_override: Annotated[
        Optional[Path],
        typer.Option("--knowledge-override", help="Use the likelihood ratios (and prior) of a local calibration "
                     "(knowledge-override.yaml from `radnec cohort --outcomes`); the results say so for each item."),
    ] = None,
) -> None:
    import contextlib

    from radnec.jsonio import print_json
    from radnec.commands._output import stdout_console
    from radnec.geometry import parse_point
    from radnec.pipeline import analyze

    from radnec.errors import InputError

    if lesion_seed and lesion_seed_followup:
        raise InputError("give seeds in one frame: --lesion-seed (planning) or --lesion-seed-followup (latest follow-up)")
    points = lesion_seed or lesion_seed_followup
    seeds = [parse_point(s) for s in points] if points else None
    local: contextlib.AbstractContextManager = contextlib.nullcontext()
    if knowledge_override is not None:
        from radnec.evidence.override import knowledge_override as use_override

        local = use_override(knowledge_override)
    with local:
        result = analyze(
            case_dir,
            out_dir=out,
            clinical=clinical,
            lesion_seeds_lps=seeds,
            seed_frame="latest" if lesion_seed_followup else "planning",
            quiet=json_out,
            write_report=not no_report,
            work_dir=work,
            fresh=fresh,
        )
    if dicom_out is not None:
        from radnec.export.bundle import export_case
        from radnec.pipeline.exports import load_export_inputs

        inputs = load_export_inputs(out, work_dir=work)
        export_case(analysis=inputs.analysis, planning_files=inputs.planning_files, followups=inputs.followups,
                    to=dicom_out, deidentify=False, planning_lesions=inputs.planning_lesions)
    if json_out:
        print_json(result)
        return
    from radnec.summary import print_summary

    print_summary(result, stdout_console(), out_dir=out)
