"""``radnec assess CASE``: probability of progression vs radiation necrosis from a clinical case file."""

from __future__ import annotations

from pathlib import Path

import typer

HELP = (
    "Weigh tumour progression against radiation necrosis for one lesion from a clinical case file "
    "(YAML/JSON: timing, dose, systemic therapy, symptoms, tests already done). Prints the prior, the "
    "posterior P(progression) with a 95 % Monte Carlo interval, every evidence item with its cited "
    "likelihood ratio, the value of each test not yet done, and the management options with their "
    "rationale. Decision support, not a diagnosis. --json prints the evidence block, options and disclaimer."
)


def command(
    case: Path = typer.Argument(..., help="Clinical case file (.yaml, .yml or .json); see examples/."),
    json_out: bool = typer.Option(False, "--json", help="Print the evidence block, options and disclaimer as JSON."),
    draws: int = typer.Option(20000, "--draws", min=1000, help="Monte Carlo draws for the 95 % interval."),
    seed: int = typer.Option(0, "--seed", help="Seed of the Monte Carlo generator (deterministic output)."),
) -> None:
    """Assess one case file."""
    from radnec.jsonio import print_json
    from radnec.commands._output import stdout_console
    from radnec.evidence.case import load_case
    from radnec.evidence.options import assessment

    clinical = load_case(case)
    result = assessment(clinical, (), draws=draws, seed=seed)
    if json_out:
        print_json(result)
        return
    from radnec.evidence.render import render_assessment

    render_assessment(result, stdout_console())
