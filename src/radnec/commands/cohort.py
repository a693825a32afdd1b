"""``radnec cohort``: ``analyze`` over a cohort of cases as Dask tasks, the cohort table and calibration."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

HELP = (
    "Analyse a cohort: CASES is a folder of case folders (each as `radnec analyze` takes it, optional clinical.yaml "
    "inside) or a CSV (case, path, optional clinical, seed_lps 'x,y,z', seed_frame). Each case is one Dask task on a "
    "LocalCluster of --workers processes (one thread each) or on an existing scheduler (--scheduler tcp://host:8786). "
    "Writes OUT/records/<case>.json as each case finishes, OUT/cases/<case>/ (its analysis), the table "
    "OUT/cohort.parquet + OUT/cohort.csv (one row per lesion), OUT/cohort.html, and with --outcomes the calibration "
    "(OUT/calibration.json) and OUT/knowledge-override.yaml. A failed case is a row with its error; --resume skips "
    "cases whose inputs and radnec are unchanged. Decision support, not a diagnosis."
)


def command(
    cases: Annotated[Path, typer.Argument(help="Folder of case folders, or a CSV listing them.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder of the cohort.")],
    scheduler: Annotated[
        Optional[str], typer.Option("--scheduler", help="Address of a running Dask scheduler (tcp://host:8786).")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", "-w", help="LocalCluster worker processes (one thread each).")] = 2,
    memory_limit: Annotated[
        str, typer.Option("--memory-limit", help="Memory limit per LocalCluster worker ('4GB'; 'none' for no limit).")
    ] = "4GB",
    threads_per_case: Annotated[
        int, typer.Option("--threads-per-case", min=1, help="Threads one case may use (elastix, segmentation). 1 (default): "
                          "N workers use N cores; 2: analysis.json identical to `radnec analyze`'s.")
    ] = 1,
    resume: Annotated[bool, typer.Option("--resume", help="Skip cases already done with unchanged inputs and radnec.")] = False,
    outcomes: Annotated[
        Optional[Path],
        typer.Option("--outcomes", help="CSV: case, lesion, outcome (progression|necrosis|mixed), reference (histology|follow-up)."),
    ] = None,
    knowledge_override: Annotated[
        Optional[Path], typer.Option("--knowledge-override", help="Use a local calibration file (knowledge-override.yaml).")
    ] = None,
    refit_prior: Annotated[
        bool, typer.Option("--refit-prior", help="With --outcomes: also write the cohort's prevalence as a local prior.")
    ] = False,
    name: Annotated[Optional[str], typer.Option("--name", help="Cohort name for the provenance (default: OUT's name).")] = None,
    work: Annotated[
        Optional[Path], typer.Option("--work", help="Root of the per-case workspaces (WORK/<case>; default in OUT/cases/<case>).")
    ] = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="No per-case report.html (faster).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    from radnec.cohort.outputs import write_outputs
    from radnec.cohort.runner import run_cohort
    from radnec.commands._output import stderr_console

    console = stderr_console()
    try:
        run = run_cohort(
            cases, out, scheduler=scheduler, workers=workers,
            memory_limit=None if memory_limit.lower() == "none" else memory_limit, resume=resume,
            work_root=work, knowledge_override=knowledge_override, write_report=not no_report, quiet=quiet,
            threads_per_case=threads_per_case,
        )
    except KeyboardInterrupt:
        console.print(f"interrupted: the finished cases are recorded in {out / 'records'}; run again with --resume")
        raise typer.Exit(130) from None
    summary = write_outputs(run, outcomes=outcomes, name=name, refit_prior=refit_prior)
    console.print(
        f"cohort: {len(run.ran)} ran, {len(run.skipped)} unchanged (resume), {len(run.failed)} failed of {run.n_cases} "
        f"in {run.wall_s:.1f} s on {run.n_workers} worker(s); table {out / 'cohort.parquet'}, summary {out / summary['html']}"
    )
    if "calibration" in summary:
        c = summary["calibration"]
        console.print(f"calibration on {c['n']} lesions: AUC {c['auc']['point']}, Brier {c['brier']}; override {out / c['override']}")
    for case in run.failed:
        err = next((r.get("error") for r in run.records if r["case"] == case), None)
        console.print(f"  failed: {case}: {err}")
