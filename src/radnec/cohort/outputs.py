"""What a cohort run leaves in ``OUT``: the table (Parquet + CSV), ``cohort.json``, ``cohort.html`` and,
with outcomes, the calibration (``calibration.json``, ``knowledge-override.yaml``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from radnec.cohort.runner import CohortRun, write_json_atomic
from radnec.cohort.table import table_rows, write_table


def write_outputs(
    run: CohortRun,
    *,
    outcomes: str | Path | None = None,
    name: str | None = None,
    refit_prior: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """Write the cohort table, summary page and (with ``outcomes``) calibration; return ``cohort.json``'s content."""
    out = run.out
    rows = table_rows(run.records, run.worker_peak_memory_mb)
    parquet, csv_path = write_table(rows, out)
    cohort_name = name or out.resolve().name
    summary: dict[str, Any] = {"cohort": cohort_name, **run.summary(), "n_rows": len(rows),
                               "table": {"parquet": parquet.name, "csv": csv_path.name}}
    calibration = None
    if outcomes is not None:
        from radnec.cohort.calibration import calibrate, write_override

        calibration = calibrate(rows, outcomes, seed=seed)
        write_json_atomic(out / "calibration.json", calibration)
        override = write_override(calibration, out / "knowledge-override.yaml", cohort=cohort_name, refit_prior=refit_prior)
        summary["calibration"] = {"file": "calibration.json", "override": override.name,
                                  "auc": calibration["auc"], "brier": calibration["brier"], "n": calibration["n"]}
    from radnec.cohort.summary import write_summary

    summary["html"] = write_summary(rows, out / "cohort.html", summary=summary, calibration=calibration).name
    write_json_atomic(out / "cohort.json", summary)
    return summary


__all__ = ["write_outputs"]
