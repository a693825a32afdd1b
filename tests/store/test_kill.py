"""kill -9 during an import and during an analysis: after the restart nothing is half-written.

A worker process (tests/store/killable.py) imports a 2 mm phantom case, or analyses it, and is killed with
SIGKILL mid-way. Then the store is opened as ``radnec serve`` opens it (migrations, recovery) and checked:
every blob file's SHA-256 equals its name, no row names a missing file or a missing row, no case folder lacks
its row, and the interrupted job is ``failed`` with "interrupted by a server restart".
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("killable.py")


def _start(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.Popen([sys.executable, str(WORKER), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def check_consistent(store) -> None:
    """No half-written blob, no orphan row, no orphan folder."""
    from sqlalchemy import select

    from radnec.store.blobs import file_sha256, iter_blobs
    from radnec.store.models import Blob, Case, CaseFile

    files = {p.name: p for p in iter_blobs(store.root)}
    for name, path in files.items():
        assert file_sha256(path) == name, f"blob {name} is half-written"
    assert not list((store.root / "blobs" / "incoming").iterdir())
    with store.session() as s:
        blobs = set(s.scalars(select(Blob.sha256)))
        cases = {c.id: c for c in s.scalars(select(Case))}
        for cf in s.scalars(select(CaseFile)):
            assert cf.sha256 in blobs and cf.case_id in cases
            assert (store.paths_for(cf.case_id).dicom_dir / f"{cf.sha256}{cf.suffix}").is_file()
    assert blobs == set(files), "blob rows and blob files differ"
    assert {p.name for p in (store.root / "cases").iterdir()} == {str(i) for i in cases}
    assert not list((store.root / "tmp").iterdir())


@pytest.mark.slow
def test_kill_during_import_and_during_analysis(tmp_path):
    from sqlalchemy import select

    from radnec.phantom.generate import generate_case
    from radnec.store.importer import import_case
    from radnec.store.models import Job
    from radnec.store.store import INTERRUPTED, Store

    generate_case("necrosis", 0, tmp_path / "case", months=[3.0, 9.0], voxel_mm=2.0)
    source = tmp_path / "case" / "dicom"
    data = tmp_path / "data"
    Store(data).close()

    # --- an import killed after 150 of its ~570 blobs
    proc = _start("import", str(data), str(source))
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "blob 150":
            break
    _kill(proc)
    store = Store(data)
    try:
        report = store.recover()
        assert report.blobs >= 150, report  # the stored blobs no committed row names were removed
        check_consistent(store)
        case_id = import_case(store, source)  # the import works again after the restart
        check_consistent(store)
    finally:
        store.close()

    # --- an analysis killed once it is past the rigid registration
    proc = _start("analyze", str(data), str(case_id))
    store = Store(data)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with store.session() as s:
                job = s.scalars(select(Job).where(Job.kind == "analyze")).first()
                if job is not None and "lesion morphology" in (job.progress or []):
                    break
            time.sleep(0.1)
        else:
            pytest.fail(f"the analysis did not reach the lesion stage: {proc.stderr.read() if proc.poll() is not None else ''}")
        _kill(proc)
        report = store.recover()
        assert report.jobs_failed == 1
        with store.session() as s:
            job = s.scalars(select(Job).where(Job.kind == "analyze")).one()
            assert (job.state, job.error) == ("failed", INTERRUPTED)
        check_consistent(store)
        out = store.paths_for(case_id).out_dir
        if (out / "analysis.json").exists():
            json.loads((out / "analysis.json").read_text())  # never half-written (written atomically)
    finally:
        store.close()
