"""Settings of one ``radnec serve`` instance (what the command line sets)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

#: Default upload limit, MB (a zipped case of 1 mm MR series and RT objects is ~100–500 MB).
MAX_UPLOAD_MB = 2048


@dataclass(frozen=True)
class Settings:
    """How the server runs.

    Parameters
    ----------
    data_dir
        The store's data folder (database, blobs, case folders).
    db_url
        Database URL; default SQLite ``data_dir/radnec.db``.
    token
        The access token (``secrets.token_urlsafe(32)`` unless given).
    max_upload_mb
        Largest request body, MB (413 beyond); also the largest uncompressed import.
    demo
        On an empty store, generate, import and analyse the bundled demo case as a background job.
    demo_voxel_mm
        Voxel size of that demo case, mm.
    workers
        Job threads (1: jobs run one after the other; 0: jobs are queued but never run — an inspection copy).
    """

    data_dir: Path
    db_url: str | None = None
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    max_upload_mb: float = MAX_UPLOAD_MB
    demo: bool = False
    demo_voxel_mm: float = 1.0
    workers: int = 1

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


__all__ = ["MAX_UPLOAD_MB", "Settings"]
