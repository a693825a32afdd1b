"""The store on a real PostgreSQL (Debian's binaries), started by the test on a random loopback port.

Skipped with the reason when ``initdb``/``pg_ctl`` are missing (``.ci/run`` installs Debian's ``postgresql``).
As root the server runs as ``nobody`` (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def postgres_url() -> Iterator[str]:
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin; Debian package postgresql)")
    as_user: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as another user")
        as_user = ["runuser", "-u", "nobody", "--"]
    root = Path(tempfile.mkdtemp(prefix="radnec-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if as_user:
        os.chmod(root, 0o755)
        shutil.chown(root, "nobody")
        shutil.chown(sock, "nobody")
    port = _free_port()
    run = lambda *cmd: subprocess.run([*as_user, *cmd], check=True, capture_output=True, text=True, timeout=120)  # noqa: E731
    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "radnec", "--no-sync", "-E", "UTF8")
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-t", "60", "-l", str(root / "log"), "-o",
            f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        yield f"postgresql+psycopg://radnec@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                           capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def test_store_on_postgresql(postgres_url, tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import select

    from radnec.phantom.generate import generate_case
    from radnec.store.importer import import_case
    from radnec.store.models import Base, Case, Job, Note
    from radnec.store.store import INTERRUPTED, Store
    from radnec.store.tasks import create_job

    store = Store(tmp_path / "data", postgres_url)
    try:
        assert store.engine.dialect.name == "postgresql"
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert diff == [], diff
        generate_case("stable", 1, tmp_path / "case", months=[3.0], voxel_mm=4.0)
        case_id = import_case(store, tmp_path / "case" / "dicom")
        again = import_case(store, tmp_path / "case" / "dicom")
        with store.session() as s:
            one, two = s.get(Case, case_id), s.get(Case, again)
            assert one is not None and two is not None and one.patient_id == two.patient_id
            assert len(one.studies) == 2
            s.add(Note(case_id=case_id, text="ünïcode note"))
        job = create_job(store, "analyze", case_id=case_id)
        with store.session() as s:
            s.get(Job, job).state = "running"
        assert store.recover().jobs_failed == 1
        with store.session() as s:
            assert s.get(Job, job).error == INTERRUPTED
            assert s.scalars(select(Note.text)).one() == "ünïcode note"
    finally:
        store.close()
    Store(tmp_path / "data", postgres_url).close()  # a second start: the migrations are already at head
