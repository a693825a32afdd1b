"""The client side of ``radnec cohort``: one Dask task per case, records written as tasks finish.

Dask is the engine: a :class:`distributed.LocalCluster` (worker *processes*, one thread each, a memory
limit per worker) by default, or an existing scheduler (``tcp://host:8786``) — the same code path on a
laptop and on a cluster. Tasks are submitted with ``client.submit`` and collected with
``distributed.as_completed``. A worker process that dies mid-task (killed, out of memory) makes the
scheduler re-run the task elsewhere, up to ``distributed.scheduler.allowed-failures`` times (set to
:data:`ALLOWED_FAILURES` for the LocalCluster; an external scheduler keeps its own setting); past that
the case is recorded as failed.

Each case's record (``OUT/records/<case>.json``) is written by this process, atomically (temporary
file + ``os.replace``), as soon as its task finishes, so an interrupted run leaves only complete
records. ``resume`` skips a case whose record says ``done`` under the same input fingerprint
(:func:`radnec.cohort.cases.fingerprint`: the case folder's files, clinical file, seed, radnec version
and code fingerprint).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radnec.cohort.cases import CaseSpec, fingerprint, read_cases
from radnec.errors import InputError
from radnec.threads import check_threads

#: Times the scheduler re-runs a task whose worker died before the case is recorded as failed.
ALLOWED_FAILURES = 2
#: How long to wait for a first worker of an external scheduler (seconds).
WAIT_FOR_WORKERS_S = 60.0
MB = 1024.0 * 1024.0
#: Environment of LocalCluster worker processes: one thread per case also inside ITK/SimpleITK/elastix
#: (Dask's nanny already sets OMP/MKL/OpenBLAS to 1), so that N workers use N cores and do not
#: oversubscribe them. Workers of an external cluster get this from whoever starts them (docs/cohort.md).
WORKER_ENV = {"ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS": "1"}


@dataclass
class CohortRun:
    """What a cohort run did (also written to ``OUT/cohort.json``)."""

    out: Path
    n_cases: int
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    scheduler: str = ""
    n_workers: int = 0
    worker_peak_memory_mb: dict[str, float] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "n_cases": self.n_cases, "ran": self.ran, "skipped": self.skipped, "failed": self.failed,
            "wall_s": round(self.wall_s, 2), "scheduler": self.scheduler, "n_workers": self.n_workers,
            "worker_peak_memory_mb": self.worker_peak_memory_mb,
        }


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, path)


def _record_path(out: Path, case: str) -> Path:
    return out / "records" / f"{case}.json"


def read_record(out: Path, case: str) -> dict[str, Any] | None:
    """The saved record of ``case``, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads(_record_path(out, case).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def code_key() -> str:
    """radnec's version and code fingerprint, part of every case fingerprint."""
    from radnec import __version__
    from radnec.pipeline.workspace import code_fingerprint

    return f"{__version__}:{code_fingerprint()}"


class _MemoryWatch:
    """Poll the scheduler's worker metrics every ``interval_s`` and keep each worker's peak memory (MB)."""

    def __init__(self, client: Any, interval_s: float = 1.0) -> None:
        self.client = client
        self.peaks_mb: dict[str, float] = {}
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="radnec-worker-memory", daemon=True)

    def poll(self) -> None:
        try:
            workers = self.client.scheduler_info(n_workers=-1).get("workers", {})
        except Exception:  # noqa: BLE001 - a scheduler hiccup must not stop the run; next poll retries
            return
        for addr, info in workers.items():
            mem = (info.get("metrics") or {}).get("memory")
            if mem is not None:
                self.peaks_mb[addr] = max(self.peaks_mb.get(addr, 0.0), round(float(mem) / MB, 1))

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.poll()

    def __enter__(self) -> _MemoryWatch:
        self.poll()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _open_client(scheduler: str | None, workers: int, memory_limit: str | None) -> tuple[Any, Any]:
    """A Dask client and the LocalCluster it owns (None when connected to an external scheduler)."""
    import logging

    import dask
    from distributed import Client, LocalCluster

    if not logging.getLogger().isEnabledFor(logging.INFO):  # `radnec -v` shows Dask's own log lines
        logging.getLogger("distributed").setLevel(logging.ERROR)
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise InputError(f"cannot reach the Dask scheduler {scheduler}: {exc} (is `dask scheduler` running?)") from exc
        try:
            client.wait_for_workers(1, timeout=WAIT_FOR_WORKERS_S)
        except TimeoutError:
            client.close()
            raise InputError(f"the Dask scheduler {scheduler} has no worker after {WAIT_FOR_WORKERS_S:g} s "
                             "(start one: dask worker <scheduler address> --nthreads 1)") from None
        return client, None
    if workers < 1:
        raise InputError(f"--workers must be >= 1, got {workers}")
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, memory_limit=memory_limit,
            dashboard_address=None, silence_logs=logging.ERROR, env=WORKER_ENV,
        )
    return Client(cluster), cluster


def _progress(quiet: bool, total: int) -> Any:
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    return Progress(
        SpinnerColumn(), TextColumn("[bold]cohort[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[last]}"),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        console=Console(stderr=True), disable=quiet, transient=False,
    )


def _failed_record(case: str, exc: BaseException) -> dict[str, Any]:
    from distributed import KilledWorker

    if isinstance(exc, KilledWorker):
        msg = (f"the worker running this case died {ALLOWED_FAILURES + 1} times (killed or out of memory; "
               f"raise --memory-limit): {exc}")
    else:
        msg = f"{type(exc).__name__}: {exc}"
    return {"case": case, "status": "failed", "error": msg.replace("\n", " ")[:2000], "lesions": []}


def run_cohort(
    cases: str | Path | list[CaseSpec],
    out: str | Path,
    *,
    scheduler: str | None = None,
    workers: int = 2,
    memory_limit: str | None = "4GB",
    resume: bool = False,
    work_root: str | Path | None = None,
    knowledge_override: str | Path | None = None,
    write_report: bool = True,
    draws: int = 20000,
    quiet: bool = False,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    threads_per_case: int = 1,
) -> CohortRun:
    """Run ``analyze`` for every case of the cohort as Dask tasks and write the per-case records.

    Parameters
    ----------
    cases
        A folder of case folders, a CSV (see :mod:`radnec.cohort.cases`) or a list of :class:`CaseSpec`.
    out
        Output folder: ``records/<case>.json``, ``cases/<case>/`` (each case's analysis), ``cohort.json``.
    scheduler
        Address of an existing Dask scheduler (``tcp://host:8786``); default a LocalCluster.
    workers, memory_limit
        LocalCluster size (processes, one thread each) and memory limit per worker (``"4GB"``; None: no limit).
    resume
        Skip cases whose record says done under the same input fingerprint.
    work_root
        Root of the per-case workspaces (``work_root/<case>``); default inside each case's output folder.
    knowledge_override
        A knowledge-override file (written by the calibration) that the evidence engine uses.
    on_record
        Called with each new record right after it is written (tests, progress hooks).
    threads_per_case
        Threads one case's analysis may use (:mod:`radnec.threads`): 1 (default) so that N workers use
        N cores; 2 gives the same ``analysis.json`` as ``radnec analyze`` (the deformable registration
        depends on elastix's thread count). Part of the ``--resume`` fingerprint.

    Returns
    -------
    CohortRun
        Which cases ran, were skipped or failed, the wall time and each worker's peak memory.
    """
    import time

    from distributed import as_completed

    from radnec.cohort.task import run_case

    specs = cases if isinstance(cases, list) else read_cases(cases)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    override = None if knowledge_override is None else str(Path(knowledge_override).resolve())
    if override is not None and not Path(override).is_file():
        raise InputError("knowledge-override file not found", path=override)
    code = code_key() + (f":override:{_file_sha(Path(override))}" if override else "") + f":threads:{check_threads(threads_per_case)}"
    started = time.perf_counter()
    prints = {s.case: fingerprint(s, code) for s in specs}
    run = CohortRun(out=out_dir, n_cases=len(specs))
    todo = []
    for spec in specs:
        old = read_record(out_dir, spec.case) if resume else None
        if old is not None and old.get("status") == "done" and old.get("fingerprint") == prints[spec.case]:
            run.skipped.append(spec.case)
            run.records.append(old)
        else:
            todo.append(spec)
    if todo:
        _compute(todo, prints, out_dir, run, scheduler=scheduler, workers=workers, memory_limit=memory_limit,
                 task=run_case, as_completed=as_completed, quiet=quiet, on_record=on_record,
                 task_kwargs={"out_root": str(out_dir.resolve()),
                              "work_root": None if work_root is None else str(Path(work_root).resolve()),
                              "knowledge_override": override, "write_report": write_report, "draws": draws,
                              "threads_per_case": threads_per_case})
    run.wall_s = time.perf_counter() - started
    run.failed = sorted(r["case"] for r in run.records if r.get("status") != "done")
    run.records.sort(key=lambda r: r["case"])
    return run


def _file_sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _compute(
    todo: list[CaseSpec], prints: dict[str, str], out_dir: Path, run: CohortRun, *, scheduler: str | None, workers: int,
    memory_limit: str | None, task: Callable[..., dict[str, Any]], as_completed: Any, quiet: bool,
    on_record: Callable[[dict[str, Any]], None] | None, task_kwargs: dict[str, Any],
) -> None:
    from radnec import __version__

    client, cluster = _open_client(scheduler, workers, memory_limit)
    futures: dict[Any, CaseSpec] = {}
    try:
        run.scheduler = str(client.scheduler.address)
        run.n_workers = len(client.scheduler_info(n_workers=-1).get("workers", {}))
        submitted = {}
        for spec in todo:
            payload = {"case": spec.case, "path": str(spec.path), "clinical": None if spec.clinical is None else str(spec.clinical),
                       "seed_lps": None if spec.seed_lps is None else list(spec.seed_lps), "seed_frame": spec.seed_frame}
            fut = client.submit(task, payload, key=f"radnec-case-{spec.case}-{prints[spec.case][:12]}", pure=False,
                                **task_kwargs)
            futures[fut] = spec
            submitted[spec.case] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        with _MemoryWatch(client) as watch, _progress(quiet, len(todo)) as bar:
            bar_task = bar.add_task("cases", total=len(todo), last="")
            for fut in as_completed(list(futures)):
                spec = futures[fut]
                try:
                    record = fut.result()
                except Exception as exc:  # noqa: BLE001 - KilledWorker, a lost scheduler: the case failed
                    record = _failed_record(spec.case, exc)
                record.update(
                    fingerprint=prints[spec.case], path=str(spec.path),
                    clinical=None if spec.clinical is None else str(spec.clinical),
                    seed_lps=None if spec.seed_lps is None else list(spec.seed_lps), seed_frame=spec.seed_frame,
                    radnec_version=__version__, submitted_utc=submitted[spec.case],
                    finished_utc=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                )
                watch.poll()
                if record.get("worker"):
                    record["worker_peak_memory_mb"] = watch.peaks_mb.get(record["worker"])
                write_json_atomic(_record_path(out_dir, spec.case), record)
                run.records.append(record)
                run.ran.append(spec.case)
                if on_record is not None:
                    on_record(record)
                bar.update(bar_task, advance=1, last=f"{spec.case}: {record['status']}")
            run.worker_peak_memory_mb = dict(watch.peaks_mb)
    except KeyboardInterrupt:
        client.cancel(list(futures), force=True)
        raise
    finally:
        client.close(timeout=10)
        if cluster is not None:
            cluster.close(timeout=20)


__all__ = ["ALLOWED_FAILURES", "CohortRun", "run_cohort", "read_record", "write_json_atomic", "code_key"]
