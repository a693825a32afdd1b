"""The task a Dask worker runs for one case: :func:`radnec.pipeline.analyze` with peak-memory sampling.

The task never raises for a broken case: any exception becomes ``status="failed"`` with its one-line
message, so one case never stops the cohort. A worker process that dies (killed, out of memory) is
not an exception here: the Dask scheduler re-runs the task on another worker.
"""

from __future__ import annotations

import os
import platform
import resource
import threading
import time
import traceback
from pathlib import Path
from typing import Any

MB = 1024.0 * 1024.0


class _PeakRSS:
    """Sample this process's resident set size every ``interval_s`` (psutil) and keep the maximum (bytes)."""

    def __init__(self, interval_s: float = 0.2) -> None:
        import psutil

        self._proc = psutil.Process()
        self.start_bytes = int(self._proc.memory_info().rss)
        self.peak_bytes = self.start_bytes
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="radnec-peak-rss", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak_bytes = max(self.peak_bytes, int(self._proc.memory_info().rss))

    def __enter__(self) -> _PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, int(self._proc.memory_info().rss))


def _maxrss_bytes() -> int:
    """The process's lifetime maximum RSS (getrusage; kilobytes on Linux, bytes on macOS)."""
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(value) if platform.system() == "Darwin" else int(value) * 1024


def run_case(
    case: dict[str, Any],
    *,
    out_root: str,
    work_root: str | None = None,
    knowledge_override: str | None = None,
    write_report: bool = True,
    draws: int = 20000,
    threads_per_case: int = 1,
) -> dict[str, Any]:
    """Analyse one case in this (worker) process and return its result record (JSON-able).

    Parameters
    ----------
    case
        ``case``, ``path``, ``clinical``, ``seed_lps``, ``seed_frame`` (see :class:`radnec.cohort.cases.CaseSpec`).
    out_root
        The cohort's output folder; the case's outputs go to ``out_root/cases/<case>/``.
    work_root
        Optional root of the workspaces (``work_root/<case>``); default ``out_root/cases/<case>/.radnec``.
    knowledge_override
        Knowledge-override YAML (:mod:`radnec.evidence.override`) the evidence engine uses, or None.
    threads_per_case
        Threads the analysis may use (:func:`radnec.threads.limit_case_threads`).

    Returns
    -------
    dict
        ``status`` (``done``/``failed``), ``error``, ``lesions`` (one row dict per lesion), ``timings_s``,
        ``wall_s``, ``cpu_s`` (the worker process's CPU time during the task), ``peak_rss_mb`` (the worker process's maximum RSS while the task ran, sampled every
        0.2 s), ``rss_before_mb``, ``maxrss_delta_mb`` (growth of getrusage's lifetime maximum),
        ``worker_pid`` and ``host``.
    """
    from radnec.cohort.table import lesion_rows

    name = case["case"]
    out_dir = Path(out_root) / "cases" / name
    work_dir = None if work_root is None else Path(work_root) / name
    started = time.time()
    cpu0 = time.process_time()
    maxrss0 = _maxrss_bytes()
    record: dict[str, Any] = {"case": name, "status": "failed", "error": None, "lesions": []}
    with _PeakRSS() as peak:
        try:
            from radnec.threads import limit_case_threads

            with limit_case_threads(threads_per_case):
                analysis = _analyze(case, out_dir, work_dir, knowledge_override, write_report, draws)
            record["lesions"] = lesion_rows(analysis, out_dir=out_dir)
            record["timings_s"] = dict((analysis.get("run") or {}).get("timings_s") or {})
            record["status"] = "done"
        except Exception as exc:  # noqa: BLE001 - one broken case must not stop the cohort
            from radnec.errors import RadnecError

            kind = "" if isinstance(exc, RadnecError) else f"{type(exc).__name__}: "
            record["error"] = (kind + str(exc)).strip().replace("\n", " ")[:2000]
            if not isinstance(exc, RadnecError):
                record["traceback"] = traceback.format_exc(limit=8)
    record.update(
        wall_s=round(time.time() - started, 2),
        cpu_s=round(time.process_time() - cpu0, 2),
        peak_rss_mb=round(peak.peak_bytes / MB, 1),
        rss_before_mb=round(peak.start_bytes / MB, 1),
        maxrss_delta_mb=round(max(0, _maxrss_bytes() - maxrss0) / MB, 1),
        threads_per_case=threads_per_case,
        worker_pid=os.getpid(),
        host=platform.node(),
        worker=_worker_address(),
    )
    return record


def _worker_address() -> str | None:
    """The Dask worker's address when running in one (None when called directly)."""
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return None


def _analyze(
    case: dict[str, Any], out_dir: Path, work_dir: Path | None, override: str | None, write_report: bool, draws: int
) -> dict[str, Any]:
    import contextlib
    import json

    from radnec.pipeline import analyze

    ctx: Any = contextlib.nullcontext()
    if override is not None:
        from radnec.evidence.override import knowledge_override

        ctx = knowledge_override(override)
    seeds = None if case.get("seed_lps") is None else [case["seed_lps"]]
    with ctx:
        result = analyze(
            case["path"],
            out_dir=out_dir,
            clinical=case.get("clinical"),
            lesion_seeds_lps=seeds,
            seed_frame=case.get("seed_frame") or "planning",
            quiet=True,
            write_report=write_report,
            draws=draws,
            work_dir=work_dir,
        )
    data: dict[str, Any] = json.loads((out_dir / "analysis.json").read_text(encoding="utf-8"))
    data["run"] = result.run
    return data


__all__ = ["run_case"]
