"""The cohort table: one row per lesion (a failed case is one row with its error) → Parquet and CSV.

Columns (units in the names; ``lr:<item>`` and ``result:<item>`` for every evidence item used in any
lesion of the cohort, ``t_<stage>_s`` for the pipeline's stage timings):

- case, status (done/failed), error, lesion, kind, target, lesion_status, seed_lps;
- srs_date, planning_date, latest_date, latest_days_since_srs;
- planning_lesion_cc, latest_lesion_cc, latest_enhancing_cc, latest_edema_cc, change_pct (latest vs the
  study before), change_from_planning_pct, growth_pct_per_month (last interval), rano_bm;
- plan_prescription_gy, target_prescription_gy (the lesion's own target Rx), dmin_gy, dmean_gy, d95_gy,
  dmax_gy, coverage_rx100_pct, coverage_rx80_pct, coverage_rx50_pct;
- pattern, symmetry;
- prior_tp, posterior_tp, interval95_low, interval95_high, band;
- registration_method, registration_poor (any follow-up flagged), registration_failed_checks;
- wall_s, cpu_s, threads_per_case, peak_rss_mb, maxrss_delta_mb, worker, worker_peak_memory_mb.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: Columns in this order first; item and timing columns follow, sorted.
BASE_COLUMNS = (
    "case", "status", "error", "lesion", "kind", "target", "lesion_status", "seed_lps",
    "srs_date", "planning_date", "latest_date", "latest_days_since_srs",
    "planning_lesion_cc", "latest_lesion_cc", "latest_enhancing_cc", "latest_edema_cc",
    "change_pct", "change_from_planning_pct", "growth_pct_per_month", "rano_bm",
    "plan_prescription_gy", "target_prescription_gy", "dmin_gy", "dmean_gy", "d95_gy", "dmax_gy",
    "coverage_rx100_pct", "coverage_rx80_pct", "coverage_rx50_pct",
    "pattern", "symmetry",
    "prior_tp", "posterior_tp", "interval95_low", "interval95_high", "band",
    "registration_method", "registration_poor", "registration_failed_checks",
    "wall_s", "cpu_s", "threads_per_case", "peak_rss_mb", "maxrss_delta_mb", "worker", "worker_peak_memory_mb",
)


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def _registration(analysis: dict[str, Any]) -> dict[str, Any]:
    reg = analysis.get("registration") or {}
    failed = []
    poor = False
    for tp in reg.get("timepoints") or []:
        poor = poor or bool(tp.get("poor_quality"))
        checks = _get(tp, "quality", "failed_checks") or []
        if checks:
            failed.append(f"{tp.get('date')}: {', '.join(map(str, checks))}")
    return {
        "registration_method": reg.get("method"),
        "registration_poor": poor,
        "registration_failed_checks": "; ".join(failed) or None,
    }


def lesion_rows(analysis: dict[str, Any], *, out_dir: Path | None = None) -> list[dict[str, Any]]:
    """One row per lesion of an ``analysis.json`` (as a dict, with ``run`` from ``run.json``)."""
    plan = analysis.get("plan") or {}
    overview = {o.get("lesion"): o for o in analysis.get("overview") or []}
    reg = _registration(analysis)
    timings = {f"t_{k.replace(': ', '_').replace(' ', '_')}_s": v for k, v in (_get(analysis, "run", "timings_s") or {}).items()}
    rows = []
    for lesion in analysis.get("lesions") or []:
        tps = lesion.get("timepoints") or []
        first, last = (tps[0], tps[-1]) if tps else ({}, {})
        ov = overview.get(lesion.get("name"), {})
        dose = lesion.get("dose") or {}
        cov = dose.get("coverage_pct") or {}
        ev = lesion.get("evidence") or {}
        intervals = _get(lesion, "growth", "intervals") or []
        planning_cc = _get(first, "details", "lesion_cc")
        latest_cc = _get(last, "details", "lesion_cc")
        interval = ev.get("interval95") or [None, None]
        row: dict[str, Any] = {
            "lesion": lesion.get("name"),
            "kind": lesion.get("kind"),
            "target": ov.get("target"),
            "lesion_status": lesion.get("status"),
            "seed_lps": ",".join(f"{v:g}" for v in ov["seed_lps"]) if ov.get("seed_lps") else None,
            "srs_date": plan.get("srs_date"),
            "planning_date": first.get("date"),
            "latest_date": last.get("date"),
            "latest_days_since_srs": last.get("days_since_srs"),
            "planning_lesion_cc": planning_cc,
            "latest_lesion_cc": latest_cc,
            "latest_enhancing_cc": last.get("enhancing_cc"),
            "latest_edema_cc": last.get("edema_cc"),
            "change_pct": ov.get("change_pct"),
            "change_from_planning_pct": round(100.0 * (latest_cc / planning_cc - 1.0), 1)
            if planning_cc and latest_cc is not None and len(tps) > 1 else None,
            "growth_pct_per_month": intervals[-1].get("volume_growth_pct_per_month") if intervals else None,
            "rano_bm": last.get("rano_bm_category"),
            "plan_prescription_gy": plan.get("prescription_gy"),
            "target_prescription_gy": _get(dose, "details", "target", "prescription_gy"),
            "dmin_gy": dose.get("dmin_gy"),
            "dmean_gy": dose.get("dmean_gy"),
            "d95_gy": dose.get("d95_gy"),
            "dmax_gy": dose.get("dmax_gy"),
            "coverage_rx100_pct": cov.get("rx100"),
            "coverage_rx80_pct": cov.get("rx80"),
            "coverage_rx50_pct": cov.get("rx50"),
            "pattern": lesion.get("pattern"),
            "symmetry": lesion.get("growth_symmetry"),
            "prior_tp": ev.get("prior_tp"),
            "posterior_tp": ev.get("posterior_tp"),
            "interval95_low": interval[0],
            "interval95_high": interval[1],
            "band": ev.get("band"),
            **reg,
            **timings,
        }
        for item in ev.get("items") or []:
            if item.get("used"):
                row[f"lr:{item['id']}"] = item.get("lr")
                row[f"result:{item['id']}"] = item.get("result")
        rows.append(row)
    return rows


def table_rows(records: Sequence[dict[str, Any]], worker_peaks_mb: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """Rows of the cohort table from the per-case records (a failed case or a case without lesions
    gives one row with ``lesion`` empty)."""
    peaks = worker_peaks_mb or {}
    rows: list[dict[str, Any]] = []
    for rec in sorted(records, key=lambda r: r["case"]):
        common = {
            "case": rec["case"],
            "status": rec.get("status"),
            "error": rec.get("error"),
            "wall_s": rec.get("wall_s"),
            "cpu_s": rec.get("cpu_s"),
            "threads_per_case": rec.get("threads_per_case"),
            "peak_rss_mb": rec.get("peak_rss_mb"),
            "maxrss_delta_mb": rec.get("maxrss_delta_mb"),
            "worker": rec.get("worker"),
            "worker_peak_memory_mb": peaks.get(rec.get("worker") or "", rec.get("worker_peak_memory_mb")),
        }
        lesions = rec.get("lesions") or [{}]
        rows.extend({**lesion, **common} for lesion in lesions)
    return rows


def columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Column order: :data:`BASE_COLUMNS`, then timings, then item LR/result columns (sorted)."""
    extra = sorted({k for r in rows for k in r} - set(BASE_COLUMNS))
    timing = [c for c in extra if c.startswith("t_")]
    rest = [c for c in extra if not c.startswith("t_")]
    return [*BASE_COLUMNS, *timing, *rest]


def to_arrow(rows: Sequence[dict[str, Any]]) -> Any:
    """A ``pyarrow.Table``: a column of only booleans is bool, of only numbers float64, else string."""
    import pyarrow as pa

    arrays, names = [], []
    for col in columns(rows):
        values = [r.get(col) for r in rows]
        present = [v for v in values if v is not None]
        if present and all(isinstance(v, bool) for v in present):
            arrays.append(pa.array(values, type=pa.bool_()))
        elif present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
            arrays.append(pa.array([None if v is None else float(v) for v in values], type=pa.float64()))
        else:
            arrays.append(pa.array([None if v is None else str(v) for v in values], type=pa.string()))
        names.append(col)
    return pa.Table.from_arrays(arrays, names=names)


def write_table(rows: Sequence[dict[str, Any]], out: Path) -> tuple[Path, Path]:
    """Write ``out/cohort.parquet`` and ``out/cohort.csv`` (each via a temporary file and a rename)."""
    import os

    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = to_arrow(rows)
    parquet, csv_path = out / "cohort.parquet", out / "cohort.csv"
    for path, write in ((parquet, lambda p: pq.write_table(table, p)), (csv_path, lambda p: pacsv.write_csv(table, p))):
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        write(tmp)
        os.replace(tmp, path)
    return parquet, csv_path


def read_table(path: Path) -> list[dict[str, Any]]:
    """Rows of a cohort table (Parquet or CSV written by :func:`write_table`)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_table(path).to_pylist())
    import pyarrow.csv as pacsv

    return list(pacsv.read_csv(path).to_pylist())


__all__ = ["BASE_COLUMNS", "lesion_rows", "table_rows", "columns", "to_arrow", "write_table", "read_table"]
