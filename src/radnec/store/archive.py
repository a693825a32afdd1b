"""What an import reads: the members of an uploaded zip (checked before anything is written) or a folder's files.

A zip is refused as a whole (:class:`~radnec.store.errors.UnsafeArchive`) when any member has an absolute
name, a drive letter, a ``..`` part, a backslash path, a symbolic-link or device attribute, or is itself
encrypted; and when it declares more than ``max_members`` members or more than ``max_bytes`` uncompressed
bytes, or a member whose compression ratio exceeds ``max_ratio`` (a zip bomb). The sizes are counted
again while reading (a lying central directory is caught: :class:`~radnec.store.errors.TooLarge`).
Member names never become paths: the store names files by their content hash.
"""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

from radnec.store.errors import TooLarge, UnsafeArchive

#: Defaults: total uncompressed bytes, members, compression ratio of one member.
MAX_BYTES = 8 * 1024**3
MAX_MEMBERS = 200_000
MAX_RATIO = 200.0

#: File name endings kept on the case folder's links (the readers choose by them); anything else: none.
SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd", ".rda", ".dcm", ".ima", ".json", ".yaml", ".yml")


@dataclass(frozen=True)
class Limits:
    """Size limits of one import (bytes, members, ratio)."""

    max_bytes: int = MAX_BYTES
    max_members: int = MAX_MEMBERS
    max_ratio: float = MAX_RATIO


def suffix_of(name: str) -> str:
    """The kept ending of a member or file name (lower case), or ``""``."""
    lower = name.lower()
    return next((s for s in SUFFIXES if lower.endswith(s)), "")


def unsafe_reason(info: zipfile.ZipInfo, limits: Limits) -> str | None:
    """Why a zip member is refused, or None."""
    name = info.filename
    mode = info.external_attr >> 16
    if "\\" in name:
        return "a backslash in the name (a Windows path)"
    if name.startswith("/") or PurePosixPath(name).is_absolute():
        return "an absolute name"
    if len(name) > 1 and name[1] == ":":
        return "a drive letter"
    if any(part == ".." for part in PurePosixPath(name).parts):
        return "a '..' part (path traversal)"
    if "\x00" in name:
        return "a NUL character in the name"
    if mode and (stat.S_ISLNK(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        return "a symbolic link or device entry"
    if info.flag_bits & 0x1:
        return "an encrypted member"
    if info.file_size > 1024 * 1024 and info.compress_size > 0 and info.file_size / info.compress_size > limits.max_ratio:
        return f"a compression ratio of {info.file_size / info.compress_size:.0f} (a zip bomb?)"
    return None


def check_zip(zf: zipfile.ZipFile, limits: Limits, *, name: str) -> list[zipfile.ZipInfo]:
    """The file members of ``zf`` after checking every member; raise on the first refused one."""
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise TooLarge(f"{len(infos)} members, more than the limit of {limits.max_members}", path=name)
    total = 0
    for info in infos:
        reason = unsafe_reason(info, limits)
        if reason:
            raise UnsafeArchive(f"member {info.filename[:200]!r} refused: {reason}; nothing was imported", path=name)
        total += info.file_size
    if total > limits.max_bytes:
        raise TooLarge(f"{total / 1e9:.1f} GB uncompressed, more than the limit of {limits.max_bytes / 1e9:.1f} GB", path=name)
    return [i for i in infos if not i.is_dir()]


class _Counted:
    """A member stream that refuses to yield more bytes than declared (or than the archive's budget)."""

    def __init__(self, raw: IO[bytes], declared: int, budget: list[int], *, name: str) -> None:
        self.raw, self.left, self.budget, self.name = raw, declared, budget, name

    def read(self, n: int = -1) -> bytes:
        chunk = self.raw.read(n if n and n > 0 else 1 << 20)
        self.left -= len(chunk)
        self.budget[0] -= len(chunk)
        if self.left < 0 or self.budget[0] < 0:
            raise TooLarge("a member holds more bytes than its header declares (a zip bomb?); nothing was imported",
                           path=self.name)
        return chunk


def zip_members(path: Path, limits: Limits) -> Iterator[tuple[str, BinaryIO]]:
    """(member name, byte stream) of every file member of the zip ``path``, after :func:`check_zip`."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnsafeArchive(f"not a readable zip file ({exc})", path=path.name) from None
    with zf:
        members = check_zip(zf, limits, name=path.name)
        budget = [limits.max_bytes]
        for info in members:
            try:
                with zf.open(info) as raw:
                    yield info.filename, _Counted(raw, info.file_size, budget, name=path.name)  # type: ignore[misc]
            except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
                raise UnsafeArchive(f"member {info.filename[:200]!r} cannot be read ({exc})", path=path.name) from None


def folder_files(root: Path, limits: Limits) -> Iterator[tuple[str, BinaryIO]]:
    """(relative name, byte stream) of every regular file under ``root`` (links to files followed; zip files inside
    are refused — import them on their own)."""
    count = total = 0
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            if not path.is_file():
                continue
            if name.lower().endswith(".zip"):
                raise UnsafeArchive("a zip file inside the folder; import it on its own", path=path)
            count += 1
            total += path.stat().st_size
            if count > limits.max_members or total > limits.max_bytes:
                raise TooLarge(f"more than {limits.max_members} files or {limits.max_bytes / 1e9:.1f} GB", path=root)
            with path.open("rb") as stream:
                yield str(path.relative_to(root)), stream


__all__ = ["Limits", "SUFFIXES", "check_zip", "folder_files", "suffix_of", "unsafe_reason", "zip_members"]
