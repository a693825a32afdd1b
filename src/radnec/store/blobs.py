"""Files stored once by content: ``DATA/blobs/<sha256[:2]>/<sha256>``.

A blob is written to a temporary file in the same folder, flushed and fsynced, then renamed onto its
name (``os.replace`` is atomic on POSIX), and the folder is fsynced: a blob file is either absent or
complete — a kill -9 leaves at most a ``.tmp-*`` file, which :func:`sweep_temporaries` removes at start.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

#: Read size when hashing and copying, bytes.
CHUNK = 1 << 20


def blob_path(root: Path, sha256: str) -> Path:
    """Where the blob ``sha256`` (64 lowercase hex digits) lives under the store root ``root``."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256[:80]!r}")
    return root / "blobs" / sha256[:2] / sha256


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_blob(root: Path, stream: BinaryIO) -> tuple[str, int]:
    """Store the bytes of ``stream``; return (sha256 hex, size in bytes). An existing blob is kept."""
    tmp_dir = root / "blobs" / "incoming"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=tmp_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        sha = digest.hexdigest()
        final = blob_path(root, sha)
        if final.exists():
            tmp.unlink()
        else:
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp.chmod(0o444)  # the case folders hard-link blobs: nobody writes through them
            os.replace(tmp, final)
            _fsync_dir(final.parent)
        return sha, size
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_blob_file(root: Path, path: Path) -> tuple[str, int]:
    """Store the file ``path``; return (sha256 hex, size in bytes)."""
    with path.open("rb") as stream:
        return write_blob(root, stream)


def iter_blobs(root: Path) -> Iterator[Path]:
    """Every stored blob file (not the temporaries)."""
    base = root / "blobs"
    if base.is_dir():
        for sub in sorted(base.iterdir()):
            if sub.is_dir() and len(sub.name) == 2:
                yield from sorted(p for p in sub.iterdir() if p.is_file() and not p.name.startswith(".tmp-"))


def file_sha256(path: Path) -> str:
    """SHA-256 hex of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sweep_temporaries(root: Path) -> int:
    """Remove the temporaries a killed writer left (call only when no writer runs); return how many."""
    incoming = root / "blobs" / "incoming"
    n = 0
    if incoming.is_dir():
        for p in incoming.iterdir():
            p.unlink(missing_ok=True)
            n += 1
    return n


__all__ = ["blob_path", "file_sha256", "iter_blobs", "sweep_temporaries", "write_blob", "write_blob_file"]
