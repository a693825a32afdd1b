"""``radnec phantom``: write a synthetic SRS case (DICOM + truth.json)."""

from __future__ import annotations

from pathlib import Path

import typer

HELP = (
    "Write a synthetic but anatomically real SRS case (MNI152 brain) as DICOM: planning MR (T1c, "
    "FLAIR), RTSTRUCT, RTPLAN, RTDOSE and follow-up MR studies in their own frames, plus truth.json "
    "with the true lesion masks, transforms, pattern and plan metrics. Scenarios: necrosis, infield, "
    "marginal, distant, stable. Same seed, same case."
)


def command(
    scenario: str = typer.Option(..., "--scenario", "-s", help="necrosis | infield | marginal | distant | stable"),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same case)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (created; must be empty)."),
    months: str = typer.Option("3,9,16", "--months", help="Follow-up times in months after SRS, comma-separated."),
    technique: str = typer.Option("gk", "--technique", help="gk (Rx at 50 % isodose) or linac (~80 %)."),
    fractions: int = typer.Option(1, "--fractions", help="1, 3 or 5 (doses per ASTRO 2022)."),
    voxel_mm: float = typer.Option(1.0, "--voxel-mm", help="Isotropic voxel size in mm (2.0 is fast)."),
    site: str = typer.Option(None, "--site", help="Metastasis site name from scenarios.yaml (default: by seed)."),
    montage: bool = typer.Option(False, "--montage", help="Also save montage.png (T1c, FLAIR, isodoses)."),
    lesions: int = typer.Option(1, "--lesions", help="Planned targets 1..15, each with its own Rx; the scenario's "
                                "lesion is one of them (by seed), the others respond. 1 = one-target case."),
    new_lesion: bool = typer.Option(False, "--new-lesion", help="Add a new metastasis in the low-dose region at the "
                                    "second-last or last follow-up."),
    protocol: str = typer.Option("research-3d", "--protocol", help="research-3d (3-D T1c + FLAIR) or clinical-2d "
                                 "(follow-ups as a routine protocol: 2-D thick slices, localiser, DWI/ADC, vendor names)."),
    sag3d: str = typer.Option("some", "--sag3d", help="clinical-2d: sagittal 3-D post-contrast T1 at never | some | "
                              "always follow-ups."),
    oblique: str = typer.Option("some", "--oblique", help="clinical-2d: axials tilted 5-15 deg about left-right "
                                "(AC-PC) at never | some (one follow-up, by seed) | always follow-ups."),
    dsc: bool = typer.Option(False, "--dsc", help="Also write a DSC perfusion series in the last follow-up study."),
    json_out: bool = typer.Option(False, "--json", help="Print truth.json to stdout."),
) -> None:
    """Generate one phantom case."""
    from radnec.errors import InputError
    from radnec.phantom.generate import generate_case

    try:
        month_list = [float(m) for m in months.split(",") if m.strip()]
    except ValueError as exc:
        raise InputError(f"--months must be numbers separated by commas (e.g. 3,9,16), got {months!r}") from exc
    truth = generate_case(scenario, seed, out, months=month_list, technique=technique, fractions=fractions,
                          voxel_mm=voxel_mm, site=site, montage=montage, lesions=lesions, new_lesion=new_lesion,
                          protocol=protocol, sag3d=sag3d, oblique=oblique)
    if dsc:
        from radnec.phantom.dsc import add_dsc_to_phantom

        truth["timepoints"][-1]["dsc"] = add_dsc_to_phantom(out, seed=seed)
    if json_out:
        from radnec.jsonio import print_json

        print_json(truth)
    else:
        plan = truth["plan"]
        typer.echo(
            f"phantom {scenario} seed {seed}: {len(truth['timepoints'])} studies written to {out} "
            f"(Rx {plan['prescription_gy']:g} Gy/{plan['fractions']}, CI {plan['ci_rtog']:.2f}, "
            f"GI {plan['gi']:.2f}, V12 {plan['v12_cc']:.1f} cm3); truth in {Path(out) / 'truth.json'}"
        )
        for row in truth.get("lesions", []):
            where = row["target_gtv_name"] or "outside every target"
            typer.echo(f"  {row['name']}: {where}, Rx {row['prescription_gy']:g} Gy, {row['scenario']}"
                       f"{', ENLARGING' if row['enlarging'] else ''}")
