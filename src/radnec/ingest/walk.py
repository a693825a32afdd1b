"""The files of a case folder as it arrives: symlinks followed, zip files opened, DICOMDIRs checked.

* Symbolic links to folders and files are followed (``os.walk(followlinks=True)``). A folder reached
  twice (a link loop, or two links to one folder) is walked once: each real folder is remembered by
  ``(st_dev, st_ino)``; a loop is a note, never a hang. A file reached through two links is read once.
  A broken link is a skipped file with its reason.
* ``.zip`` files (the case itself, or any zip inside it) are **extracted to disk** under a cache folder
  (``extract_dir``; default ``$RADNEC_CACHE_DIR/zip`` or ``~/.cache/radnec/zip``), one sub-folder per zip
  named by the SHA-256 of its bytes, so that the series readers can open the files later and a second
  scan reuses the extraction. Members with absolute paths, ``..`` parts or symlink attributes are
  refused (zip-slip protection), and extraction stops at :data:`MAX_ZIP_BYTES` uncompressed bytes (counted
  while writing, not trusted from the directory) — both are notes/skips, never a crash. A zip inside a
  zip is not opened (skipped with the reason).
* A ``DICOMDIR`` is read with pydicom's :class:`~pydicom.fileset.FileSet`; the files it lists are
  checked against the disk. The folder is scanned file by file in every case (so files a DICOMDIR
  forgets are still found); a DICOMDIR that lists missing files is a note saying so.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from radnec.ingest.records import SkippedFile

#: Largest total uncompressed size (bytes) radnec extracts from one zip file.
MAX_ZIP_BYTES = 20 * 1024**3
#: Largest number of members radnec extracts from one zip file.
MAX_ZIP_MEMBERS = 500_000
_CHUNK = 1 << 20


@dataclass
class CaseFiles:
    """What :func:`case_files` found: the files to read, the files skipped and notes on how."""

    files: list[Path] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def default_extract_dir() -> Path:
    """Where zip files are extracted unless told otherwise: ``$RADNEC_CACHE_DIR/zip``, else
    ``$XDG_CACHE_HOME/radnec/zip``, else ``~/.cache/radnec/zip``."""
    if os.environ.get("RADNEC_CACHE_DIR"):
        return Path(os.environ["RADNEC_CACHE_DIR"]) / "zip"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "radnec" / "zip"


def is_zip(path: Path) -> bool:
    """A file whose name ends in ``.zip`` and that is a zip archive."""
    return path.suffix.lower() == ".zip" and zipfile.is_zipfile(path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _unsafe(info: zipfile.ZipInfo) -> str | None:
    name = info.filename.replace("\\", "/")
    parts = PurePosixPath(name).parts
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if ".." in parts:
        return "'..' in the path (would land outside the extraction folder)"
    mode = (info.external_attr >> 16) & 0xFFFF
    if mode and stat.S_ISLNK(mode):
        return "symbolic link member"
    return None


def extract_zip(path: Path, *, extract_dir: Path, max_bytes: int = MAX_ZIP_BYTES) -> tuple[Path, list[str]]:
    """Extract zip ``path`` safely into ``extract_dir/<sha256[:16]>`` (reused when already complete).

    Parameters
    ----------
    path
        The zip file.
    extract_dir
        Parent folder of the extraction.
    max_bytes
        Cap on the uncompressed bytes written (bytes).

    Returns
    -------
    (Path, list[str])
        The extraction folder and notes (members refused, cap reached).
    """
    target = extract_dir / _sha256(path)[:16]
    marker = target / ".radnec-complete"
    if marker.exists():
        return target, [f"zip {path.name}: reused the extraction in {target}"]
    tmp = target.with_name(target.name + f".part{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    notes: list[str] = []
    written = 0
    refused = 0
    with zipfile.ZipFile(path) as zf:
        members = zf.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            notes.append(f"zip {path.name}: {len(members)} members; only the first {MAX_ZIP_MEMBERS} extracted")
            members = members[:MAX_ZIP_MEMBERS]
        for info in members:
            if info.is_dir():
                continue
            reason = _unsafe(info)
            if reason:
                refused += 1
                notes.append(f"zip {path.name}: member '{info.filename}' refused ({reason})")
                continue
            dest = tmp.joinpath(*PurePosixPath(info.filename.replace("\\", "/")).parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, dest.open("wb") as out:
                while chunk := src.read(_CHUNK):
                    written += len(chunk)
                    if written > max_bytes:
                        break
                    out.write(chunk)
            if written > max_bytes:
                dest.unlink(missing_ok=True)
                notes.append(
                    f"zip {path.name}: extraction stopped at the {max_bytes / 1024**3:.1f} GiB cap "
                    "(a zip bomb or an export too large); the rest of the archive was not read"
                )
                break
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    marker.write_text(f"{path.name}\n", encoding="utf-8")
    notes.insert(0, f"zip {path.name}: extracted {written / 1024**2:.1f} MB to {target}" + (f" ({refused} members refused)" if refused else ""))
    return target, notes


def _dicomdir_note(path: Path) -> str:
    """Check a DICOMDIR against the disk: its directory records (``DirectoryRecordSequence``) name the
    files; pydicom's :class:`~pydicom.fileset.FileSet` resolves them. A note saying what was found."""
    import warnings

    import pydicom
    from pydicom.fileset import FileSet

    try:
        ds = pydicom.dcmread(path)
        listed = [
            path.parent.joinpath(*([ref] if isinstance(ref, str) else list(ref)))
            for ref in (r.get("ReferencedFileID") for r in ds.get("DirectoryRecordSequence", []))
            if ref
        ]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # FileSet warns once per missing file; counted below
            found = {Path(inst.path) for inst in FileSet(ds)}
    except Exception as exc:  # noqa: BLE001 - a broken DICOMDIR is a note; the folder is walked anyway
        return f"DICOMDIR {path}: unreadable ({type(exc).__name__}: {exc}); the folder was scanned file by file"
    missing = [p for p in listed if p not in found and not p.is_file()]
    if missing:
        first = missing[0].relative_to(path.parent)
        return (
            f"DICOMDIR {path}: lists {len(listed)} instances, {len(missing)} of them missing (e.g. {first}); "
            "the folder was scanned file by file instead"
        )
    return f"DICOMDIR {path}: lists {len(listed)} instances, all present (the folder was also scanned file by file)"


def case_files(root: Path, *, recursive: bool = True, extract_dir: Path | None = None) -> CaseFiles:
    """Every file to read under ``root`` (a folder, a file or a zip), see the module docstring.

    Parameters
    ----------
    root
        The case folder, one file, or one zip file.
    recursive
        Descend into sub-folders (and extracted zips).
    extract_dir
        Where zip files are extracted (default :func:`default_extract_dir`).

    Returns
    -------
    CaseFiles
        Files in walk order (sorted per folder), skipped files with reasons, notes.
    """
    out = CaseFiles()
    extract_root = extract_dir or default_extract_dir()
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: dict[tuple[int, int], Path] = {}

    def add_file(path: Path, *, inside_zip: bool) -> None:
        try:
            st = path.stat()
        except OSError:
            out.skipped.append(SkippedFile(path=str(path), reason="broken symbolic link (its target does not exist)"))
            return
        if not stat.S_ISREG(st.st_mode):
            out.skipped.append(SkippedFile(path=str(path), reason="not a regular file"))
            return
        key = (st.st_dev, st.st_ino)
        if key in seen_files:
            out.notes.append(f"{path} is the same file as {seen_files[key]} (linked twice); read once")
            return
        seen_files[key] = path
        if path.name.upper() == "DICOMDIR":
            note = _dicomdir_note(path)
            out.notes.append(note)
            out.skipped.append(SkippedFile(path=str(path), reason=f"DICOMDIR index file; radnec scans the files themselves ({note})"))
            return
        if path.suffix.lower() == ".zip" and zipfile.is_zipfile(path):
            if inside_zip:
                out.skipped.append(SkippedFile(path=str(path), reason="zip inside a zip: not opened (extract it first)"))
                return
            try:
                folder, notes = extract_zip(path, extract_dir=extract_root)
            except (OSError, zipfile.BadZipFile, RuntimeError, ValueError) as exc:
                out.skipped.append(SkippedFile(path=str(path), reason=f"zip file cannot be read ({type(exc).__name__}: {exc})"))
                return
            out.notes.extend(notes)
            walk(folder, inside_zip=True)
            return
        out.files.append(path)

    def walk(folder: Path, *, inside_zip: bool) -> None:
        if not recursive:
            for p in sorted(folder.iterdir()):
                if not p.is_dir():
                    add_file(p, inside_zip=inside_zip)
            return
        for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
            st = os.stat(dirpath)
            if (st.st_dev, st.st_ino) in seen_dirs:
                out.notes.append(f"{dirpath}: a folder already walked (symbolic-link loop or second link); not walked again")
                dirnames[:] = []
                continue
            seen_dirs.add((st.st_dev, st.st_ino))
            dirnames.sort()
            for name in sorted(filenames):
                if name == ".radnec-complete" and inside_zip:
                    continue
                add_file(Path(dirpath) / name, inside_zip=inside_zip)

    if root.is_file():
        add_file(root, inside_zip=False)
    else:
        walk(root, inside_zip=False)
    return out


__all__ = ["CaseFiles", "case_files", "default_extract_dir", "extract_zip", "is_zip", "MAX_ZIP_BYTES"]
