"""The case store: a database (models in :mod:`radnec.store.models`) and a data folder.

``DATA/`` holds ``radnec.db`` (SQLite, unless a PostgreSQL URL is given), ``salt`` (the pseudonymisation key),
``blobs/`` (files by SHA-256), ``cases/<id>/`` (the case's input folder of links to blobs, its clinical file and
its analysis output) and ``tmp/`` (imports in progress). Paths are built only from integer database keys and
fixed names, and every one is checked to lie under the data folder.

Crash safety: blobs and case folders appear by atomic renames; database rows are committed after the files
they name exist. :meth:`Store.recover` (run by the server at start, under an exclusive lock that imports hold
shared) removes what a killed process left: temporaries, case folders and blobs without rows, and marks jobs
left running or queued as failed ("interrupted by a server restart").
"""

from __future__ import annotations

import fcntl
import hmac
import hashlib
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from radnec.store.blobs import blob_path, iter_blobs, sweep_temporaries
from radnec.store.db import make_engine, migrate, sqlite_url
from radnec.store.errors import NotFound, StoreError
from radnec.store.models import AuditEvent, Blob, Case, Job, utcnow

#: Error text of a job that a restart found unfinished.
INTERRUPTED = "interrupted by a server restart"


@dataclass(frozen=True)
class CasePaths:
    """The folders and files of one case under the data folder."""

    case_id: int
    case_dir: Path
    dicom_dir: Path
    clinical: Path
    out_dir: Path

    @property
    def analysed(self) -> bool:
        """Whether an analysis has been written (``out_dir/analysis.json`` exists)."""
        return (self.out_dir / "analysis.json").is_file()

    @property
    def analysis_json(self) -> Path:
        return self.out_dir / "analysis.json"

    @property
    def report_html(self) -> Path:
        return self.out_dir / "report.html"


@dataclass
class Recovery:
    """What :meth:`Store.recover` cleaned up."""

    temporaries: int = 0
    case_folders: int = 0
    blobs: int = 0
    jobs_failed: int = 0


class Store:
    """A case store over ``data_dir`` and the database ``db_url`` (default SQLite in ``data_dir``).

    Parameters
    ----------
    data_dir
        The data folder (created).
    db_url
        ``sqlite:///…`` or ``postgresql+psycopg://…``; default ``DATA/radnec.db``.
    upgrade
        Run the Alembic migrations to head (default).
    """

    def __init__(self, data_dir: str | Path, db_url: str | None = None, *, upgrade: bool = True) -> None:
        self.root = Path(data_dir).resolve()
        for sub in ("blobs", "cases", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.db_url = db_url or sqlite_url(self.root)
        self.engine: Engine = make_engine(self.db_url)
        if upgrade:
            migrate(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._lock_file: IO[bytes] | None = None

    # ------------------------------------------------------------------ basics
    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed at the end of the block (rolled back on an exception)."""
        with self._sessions() as s, s.begin():
            yield s

    def close(self) -> None:
        """Release the lock and the engine's connections."""
        self.unlock()
        self.engine.dispose()

    def unlock(self) -> None:
        """Release ``DATA/store.lock``."""
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def inside(self, path: Path) -> Path:
        """``path`` resolved, if it lies under the data folder; else :class:`StoreError`."""
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root):
            raise StoreError("refused: the path lies outside the store", path=path.name)
        return resolved

    @property
    def salt(self) -> bytes:
        """The pseudonymisation key (``DATA/salt``, 32 random bytes, created once, mode 0600)."""
        path = self.root / "salt"
        if not path.exists():
            tmp = self.root / "tmp" / f"salt-{os.getpid()}"
            tmp.write_bytes(secrets.token_bytes(32))
            tmp.chmod(0o600)
            try:
                os.link(tmp, path)  # first writer wins; never replaced
            except FileExistsError:
                pass
            tmp.unlink(missing_ok=True)
        return path.read_bytes()

    def patient_hash(self, patient_id: str) -> str:
        """HMAC-SHA256 of a PatientID under the store's salt (hex): the same patient, the same hash."""
        return hmac.new(self.salt, patient_id.strip().encode("utf-8"), hashlib.sha256).hexdigest()

    # ------------------------------------------------------------------ cases
    def case_paths(self, case_id: int) -> CasePaths:
        """The folders of case ``case_id``; :class:`NotFound` when there is no such case."""
        with self.session() as s:
            if s.get(Case, int(case_id)) is None:
                raise NotFound(f"no case {case_id} in the store")
        return self.paths_for(int(case_id))

    def paths_for(self, case_id: int) -> CasePaths:
        """The folders of ``case_id`` (not checked against the database)."""
        case_dir = self.inside(self.root / "cases" / str(int(case_id)))
        return CasePaths(case_id, case_dir, case_dir / "dicom", case_dir / "clinical.yaml", case_dir / "analysis")

    def blob_file(self, sha256: str) -> Path:
        """The file of a blob (checked to lie under the store)."""
        return self.inside(blob_path(self.root, sha256))

    # ------------------------------------------------------------------ audit
    def audit(self, action: str, *, case_id: int | None = None, actor: str = "token", **detail: Any) -> None:
        """Record an audit event (no patient data in ``detail``)."""
        with self.session() as s:
            s.add(AuditEvent(action=action, case_id=case_id, actor=actor, detail=detail))

    # ------------------------------------------------------------------ crash recovery
    def lock(self, *, exclusive: bool) -> None:
        """Hold ``DATA/store.lock`` (exclusive for recovery, shared while importing or serving)."""
        if self._lock_file is None:
            self._lock_file = (self.root / "store.lock").open("ab")
        fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)

    def recover(self) -> Recovery:
        """Clean up after a killed process; call at start, before any job runs (takes the lock exclusively,
        then holds it shared)."""
        self.lock(exclusive=True)
        try:
            out = Recovery()
            out.temporaries = sweep_temporaries(self.root)
            for p in (self.root / "tmp").iterdir():
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
                out.temporaries += 1
            with self.session() as s:
                case_ids = {str(i) for i in s.scalars(select(Case.id))}
                known = set(s.scalars(select(Blob.sha256)))
                now = utcnow()
                result = s.execute(
                    update(Job)
                    .where(Job.state.in_(("running", "queued")))
                    .values(state="failed", error=INTERRUPTED, finished_utc=now)
                )
                out.jobs_failed = int(getattr(result, "rowcount", 0) or 0)
            for folder in (self.root / "cases").iterdir():
                if folder.name not in case_ids:
                    shutil.rmtree(folder) if folder.is_dir() and not folder.is_symlink() else folder.unlink()
                    out.case_folders += 1
            for blob in iter_blobs(self.root):
                if blob.name not in known:
                    blob.unlink()
                    out.blobs += 1
            if out.jobs_failed:
                self.audit("recover", jobs_failed=out.jobs_failed, case_folders=out.case_folders, blobs=out.blobs)
            return out
        finally:
            self.lock(exclusive=False)


__all__ = ["INTERRUPTED", "CasePaths", "Recovery", "Store"]
