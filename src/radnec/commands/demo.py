"""``radnec demo``: generate a synthetic SRS case on the MNI152 brain and analyse it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

HELP = (
    "Generate a synthetic but anatomically real SRS case (radnec phantom: planning MR, RTPLAN, RTDOSE, "
    "RTSTRUCT and follow-up MRIs) and run the full analysis on it; prints where the report is. "
    "Works offline. The case is synthetic: nothing in it concerns a real patient."
)

#: The clinical file used with the demo (shipped in the package next to this module's data).
DEMO_CLINICAL = "demo_clinical.yaml"


def command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (case/ and analysis/ are created in it).")] = Path(
        "demo-out"
    ),
    scenario: Annotated[str, typer.Option(help="necrosis | infield | marginal | distant | stable")] = "necrosis",
    seed: Annotated[int, typer.Option(help="Random seed of the phantom.")] = 0,
    months: Annotated[str, typer.Option(help="Follow-up times in months after SRS, comma-separated.")] = "3,9",
    voxel_mm: Annotated[float, typer.Option("--voxel-mm", help="Isotropic voxel size (mm) of the phantom.")] = 1.0,
) -> None:
    import shutil
    from importlib.resources import files

    from radnec.commands._output import stdout_console
    from radnec.errors import InputError
    from radnec.phantom.generate import generate_case
    from radnec.pipeline import analyze
    from radnec.summary import print_summary

    try:
        month_list = [float(m) for m in months.split(",") if m.strip()]
    except ValueError as exc:
        raise InputError(f"--months must be numbers separated by commas, got {months!r}") from exc
    console = stdout_console()
    case_dir, analysis_dir = out / "case", out / "analysis"
    if case_dir.exists():
        shutil.rmtree(case_dir)
    console.print(f"Generating a synthetic '{scenario}' case (seed {seed}) in {case_dir} …")
    generate_case(scenario, seed, case_dir, months=month_list, voxel_mm=voxel_mm)
    clinical = Path(str(files("radnec.commands").joinpath("data", DEMO_CLINICAL)))
    result = analyze(case_dir / "dicom", out_dir=analysis_dir, clinical=clinical)
    print_summary(result, console, out_dir=analysis_dir)
    console.print(f"Truth of the synthetic case (for comparison): {case_dir / 'truth.json'}")
