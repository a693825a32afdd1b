"""`radnec cohort` end to end on 2 mm phantom cases: 2 local workers, a failing case, --resume, a worker
killed mid-run, an external `dask scheduler` + `dask worker`, and Ctrl-C (SIGINT)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from radnec import cli
from radnec.cohort.table import read_table

pytestmark = pytest.mark.slow

CLINICAL = Path(__file__).resolve().parents[2] / "src" / "radnec" / "commands" / "data" / "demo_clinical.yaml"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """Workspaces shared by the runs of this module (a case analysed once is reused by later runs)."""
    return tmp_path_factory.mktemp("cohort-work")


@pytest.fixture(scope="module")
def first_run(phantom_cases, work, tmp_path_factory):
    """A folder of cases a, b and a broken one, on a LocalCluster of 2 workers."""
    root = tmp_path_factory.mktemp("cohort-root")
    for name in ("a", "b", "broken"):
        (root / name).symlink_to(phantom_cases[name], target_is_directory=True)
    out = tmp_path_factory.mktemp("cohort-out")
    started = time.perf_counter()
    code = cli.main(["cohort", str(root), "--out", str(out), "--workers", "2", "--work", str(work), "--no-report", "-q"])
    assert code == 0
    return out, time.perf_counter() - started


def _records(out: Path) -> dict[str, bytes]:
    return {p.stem: p.read_bytes() for p in sorted((out / "records").glob("*.json"))}


def test_two_workers_table_and_failure(first_run):
    out, _ = first_run
    rows = read_table(out / "cohort.parquet")
    assert rows == read_table(out / "cohort.parquet")  # deterministic read
    by_case = {}
    for r in rows:
        by_case.setdefault(r["case"], []).append(r)
    assert set(by_case) == {"a", "b", "broken"}
    (bad,) = by_case["broken"]
    assert bad["status"] == "failed" and "no complete SRS plan" in bad["error"] and bad["lesion"] is None
    for name in ("a", "b"):
        assert by_case[name] and all(r["status"] == "done" for r in by_case[name])
        gtv = next(r for r in by_case[name] if r["kind"] == "treated target")
        assert gtv["target_prescription_gy"] == 24.0 and gtv["plan_prescription_gy"] == 24.0
        assert 0.0 < gtv["posterior_tp"] < 1.0 and gtv["interval95_low"] <= gtv["posterior_tp"] <= gtv["interval95_high"]
        assert gtv["pattern"] in ("in-field", "marginal", "out-of-field")
        assert gtv["latest_lesion_cc"] > 0 and gtv["coverage_rx100_pct"] is not None
        assert gtv["lr:timing_narloch"] > 0 and gtv["result:timing_narloch"] in ("+", "−")
        assert gtv["peak_rss_mb"] > 100 and gtv["worker"].startswith("tcp://") and gtv["worker_peak_memory_mb"] > 100
        assert gtv["threads_per_case"] == 1  # one core per worker by default
    csv_text = (out / "cohort.csv").read_text()
    assert csv_text.count("\n") == len(rows) + 1
    summary = json.loads((out / "cohort.json").read_text())
    assert summary["n_workers"] == 2 and summary["failed"] == ["broken"] and sorted(summary["ran"]) == ["a", "b", "broken"]
    assert len(summary["worker_peak_memory_mb"]) == 2
    html = (out / "cohort.html").read_text()
    assert "data:image/png;base64," in html and "no complete SRS plan" in html
    assert (out / "cases" / "a" / "analysis.json").is_file()
    assert not list((out / "records").glob(".*tmp"))


def test_resume_reruns_nothing_then_only_the_changed_case(first_run, phantom_cases, tmp_path, write_csv):
    out, _ = first_run
    cases_csv = write_csv(tmp_path / "cases.csv", phantom_cases, ["a", "b"])
    before = _records(out)
    assert cli.main(["cohort", str(cases_csv), "--out", str(out), "--resume", "--workers", "1", "-q", "--no-report"]) == 0
    summary = json.loads((out / "cohort.json").read_text())
    assert summary["ran"] == [] and sorted(summary["skipped"]) == ["a", "b"]
    assert _records(out) == before
    # a file of case b changes (a clinical file appears in its folder): only b runs again
    shutil.copy(CLINICAL, phantom_cases["b"] / "clinical.yaml")
    try:
        assert cli.main(["cohort", str(cases_csv), "--out", str(out), "--resume", "--workers", "1", "-q", "--no-report"]) == 0
    finally:
        (phantom_cases["b"] / "clinical.yaml").unlink()
    summary = json.loads((out / "cohort.json").read_text())
    assert summary["ran"] == ["b"] and summary["skipped"] == ["a"]
    after = _records(out)
    assert after["a"] == before["a"] and after["b"] != before["b"]


def test_killed_worker_loses_no_finished_case(phantom_cases, work, first_run, tmp_path, write_csv):
    """Case a (saved stages reused: quick) finishes; the worker running case c (fresh) is SIGKILLed
    mid-task; the scheduler re-runs c and the run completes; a's record is not touched again."""
    from distributed import Client, LocalCluster

    from radnec.cohort.cases import read_cases
    from radnec.cohort.runner import run_cohort

    specs = read_cases(write_csv(tmp_path / "cases.csv", phantom_cases, ["a", "c"]))
    out = tmp_path / "out"
    written: dict[str, float] = {}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        result: dict = {}

        def go() -> None:
            result["run"] = run_cohort(specs, out, scheduler=cluster.scheduler_address, work_root=work, write_report=False,
                                       quiet=True, on_record=lambda r: written.setdefault(r["case"], time.time()))

        thread = threading.Thread(target=go)
        thread.start()
        deadline = time.time() + 300
        while "a" not in written and time.time() < deadline and thread.is_alive():
            time.sleep(0.2)
        assert "a" in written, "case a did not finish"
        a_bytes = (out / "records" / "a.json").read_bytes()
        busy = [w for w, keys in client.processing().items() if any("radnec-case-c-" in str(k) for k in keys)]
        assert busy, "case c is not running on any worker"
        pids = client.run(os.getpid, workers=busy)
        os.kill(pids[busy[0]], signal.SIGKILL)
        thread.join(timeout=600)
        assert not thread.is_alive()
    run = result["run"]
    assert sorted(run.ran) == ["a", "c"] and run.failed == []
    rec_c = json.loads((out / "records" / "c.json").read_text())
    assert rec_c["status"] == "done" and rec_c["worker"] != busy[0]
    assert (out / "records" / "a.json").read_bytes() == a_bytes


def _start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)


def test_external_scheduler_and_worker(phantom_cases, work, first_run, tmp_path, write_csv):
    """`dask scheduler` and `dask worker` started as separate processes on localhost (random ports)."""
    from distributed import Client

    sched_file = tmp_path / "scheduler.json"
    procs = [_start([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(sched_file)], tmp_path / "scheduler.log")]
    try:
        deadline = time.time() + 60
        while not sched_file.is_file() and time.time() < deadline:
            time.sleep(0.2)
        address = json.loads(sched_file.read_text())["address"]
        procs.append(_start([str(BIN / "dask"), "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
                            tmp_path / "worker.log"))
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(1, timeout=60)
        out = tmp_path / "out"
        cases_csv = write_csv(tmp_path / "cases.csv", phantom_cases, ["a", "b"])
        assert cli.main(["cohort", str(cases_csv), "--out", str(out), "--scheduler", address, "--work", str(work),
                         "--no-report", "-q"]) == 0
        summary = json.loads((out / "cohort.json").read_text())
        assert summary["scheduler"] == address and summary["n_workers"] == 1 and summary["failed"] == []
        rows = read_table(out / "cohort.parquet")
        assert {r["case"] for r in rows} == {"a", "b"} and all(r["status"] == "done" for r in rows)
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            p.wait(timeout=30)


def test_ctrl_c_leaves_only_complete_records(phantom_cases, work, first_run, tmp_path, write_csv):
    """SIGINT while case d (fresh) runs: exit 130, a's complete record stays, no record or temporary file
    of d, and no worker process left behind."""
    import psutil

    out = tmp_path / "out"
    cases_csv = write_csv(tmp_path / "cases.csv", phantom_cases, ["a", "d"])
    proc = subprocess.Popen([str(BIN / "radnec"), "cohort", str(cases_csv), "--out", str(out), "--workers", "1",
                             "--work", str(work), "--no-report", "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while not ((out / "records" / "a.json").is_file() and (work / "d").is_dir()) and time.time() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        time.sleep(0.2)
    time.sleep(1.0)
    children = psutil.Process(proc.pid).children(recursive=True)
    assert children, "no worker processes"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err.decode()
    assert b"interrupted" in err and b"Traceback" not in err
    assert json.loads((out / "records" / "a.json").read_text())["status"] == "done"
    assert not (out / "records" / "d.json").exists()
    assert [p.name for p in (out / "records").iterdir()] == ["a.json"]
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, [p.pid for p in alive]


def test_outcomes_calibration_and_knowledge_override(phantom_cases, work, first_run, tmp_path, write_csv):
    """--outcomes from the phantoms' truth → calibration.json + knowledge-override.yaml; the override used by
    `cohort --knowledge-override` and `analyze --knowledge-override` shows in analysis.json; without it nothing changes."""
    import yaml

    cases_csv = write_csv(tmp_path / "cases.csv", phantom_cases, ["a", "b"])
    outcomes = tmp_path / "outcomes.csv"
    lines = []
    for name in ("a", "b"):
        truth = json.loads((phantom_cases[name] / "truth.json").read_text())
        lines.append(f"{name},GTV,{'progression' if truth['progression'] else 'necrosis'},follow-up")
    outcomes.write_text("case,lesion,outcome,reference\n" + "\n".join(lines) + "\n")
    out = tmp_path / "calibrated"
    assert cli.main(["cohort", str(cases_csv), "--out", str(out), "--work", str(work), "--workers", "1", "--outcomes",
                     str(outcomes), "--no-report", "-q", "--name", "phantoms"]) == 0
    cal = json.loads((out / "calibration.json").read_text())
    assert cal["n"] == 2 and cal["n_progression"] == 1 and cal["auc"]["point"] in (0.0, 0.5, 1.0)
    doc = yaml.safe_load((out / "knowledge-override.yaml").read_text())
    assert doc["provenance"]["cohort"] == "phantoms" and doc["provenance"]["n_lesions"] == 2
    assert "timing_narloch" in doc["items"]
    assert "Calibration against the outcomes" in (out / "cohort.html").read_text()

    local = tmp_path / "local"
    assert cli.main(["cohort", str(cases_csv), "--out", str(local), "--work", str(work), "--workers", "1", "--no-report",
                     "-q", "--knowledge-override", str(out / "knowledge-override.yaml")]) == 0
    items = json.loads((local / "cases" / "a" / "analysis.json").read_text())["lesions"][0]["evidence"]["items"]
    timing = next(i for i in items if i["id"] == "timing_narloch")
    assert timing["citation"][0].startswith("local calibration, n=2 lesions (cohort 'phantoms'")
    plain = json.loads((out / "cases" / "a" / "analysis.json").read_text())["lesions"][0]["evidence"]["items"]
    assert not any("local calibration" in c for i in plain for c in i["citation"])

    single = tmp_path / "single"
    assert cli.main(["analyze", str(phantom_cases["a"]), "--out", str(single), "--work", str(work / "a"),
                     "--json", "--knowledge-override", str(out / "knowledge-override.yaml")]) == 0
    lesion = json.loads((single / "analysis.json").read_text())["lesions"][0]
    assert any(w.startswith("timing_narloch: LOCAL CALIBRATION") for w in lesion["evidence"]["warnings"])
    report = (single / "report.html").read_text()
    assert "LOCAL CALIBRATION" in report and "local calibration, n=2 lesions" in report
