"""The cases of a cohort and their input fingerprints.

``CASES`` is either a folder whose sub-folders are case folders (each as ``radnec analyze`` takes it,
with an optional ``clinical.yaml``/``clinical.yml``/``clinical.json`` inside), or a CSV with the columns
``case``, ``path`` and optionally ``clinical``, ``seed_lps`` (``"x,y,z"``, LPS mm) and ``seed_frame``
(``planning`` or a follow-up frame, see :func:`radnec.pipeline.analyze`). Relative paths in the CSV are
relative to the CSV's folder.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from radnec.errors import InputError

CLINICAL_NAMES = ("clinical.yaml", "clinical.yml", "clinical.json")
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class CaseSpec:
    """One case of the cohort.

    Attributes
    ----------
    case
        Name of the case (a folder name under ``OUT/cases``; letters, digits, ``._-``).
    path
        The case folder.
    clinical
        Clinical case file, or None.
    seed_lps
        Lesion seed (LPS mm, in ``seed_frame``), or None for every treated target.
    seed_frame
        ``"planning"`` or a follow-up frame (``"latest"``, a label or a date).
    """

    case: str
    path: Path
    clinical: Path | None = None
    seed_lps: tuple[float, float, float] | None = None
    seed_frame: str = "planning"


def _check_name(name: str, where: Path) -> str:
    if not _SAFE.match(name):
        raise InputError(f"case name {name!r} must use letters, digits, '.', '_' or '-' (it names a folder)", path=where)
    return name


def _parse_seed(text: str, where: Path, case: str) -> tuple[float, float, float]:
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    try:
        x, y, z = (float(p) for p in parts)
    except ValueError:
        raise InputError(f"case {case}: seed_lps {text!r} must be 'x,y,z' in mm", path=where) from None
    return x, y, z


def read_cases(source: str | Path) -> list[CaseSpec]:
    """The cases listed by ``source`` (a folder of case folders, or a CSV).

    Raises
    ------
    InputError
        The folder or CSV is missing, empty, has duplicate case names or a row is invalid.
    """
    src = Path(source)
    if src.is_dir():
        cases = [_folder_case(p) for p in sorted(src.iterdir()) if p.is_dir() and not p.name.startswith(".")]
        if not cases:
            raise InputError("no case folders inside (expected one sub-folder per case)", path=src)
        return cases
    if src.is_file() and src.suffix.lower() == ".csv":
        return _csv_cases(src)
    raise InputError("CASES must be a folder of case folders or a .csv listing them", path=src)


def _folder_case(folder: Path) -> CaseSpec:
    clinical = next((folder / n for n in CLINICAL_NAMES if (folder / n).is_file()), None)
    return CaseSpec(case=_check_name(folder.name, folder), path=folder.resolve(), clinical=clinical)


def _csv_cases(path: Path) -> list[CaseSpec]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"case", "path"} - set(reader.fieldnames or [])
        if missing:
            raise InputError(f"CSV lacks the column(s) {', '.join(sorted(missing))} (need case, path)", path=path)
        rows = list(reader)
    base = path.parent
    cases: list[CaseSpec] = []
    for i, row in enumerate(rows, start=2):
        name = _check_name((row.get("case") or "").strip(), path)
        folder = base / (row.get("path") or "").strip()
        if not (row.get("path") or "").strip():
            raise InputError(f"line {i}: case {name} has no path", path=path)
        clinical_text = (row.get("clinical") or "").strip()
        seed_text = (row.get("seed_lps") or "").strip()
        cases.append(
            CaseSpec(
                case=name,
                path=folder.resolve(),
                clinical=(base / clinical_text).resolve() if clinical_text else None,
                seed_lps=_parse_seed(seed_text, path, name) if seed_text else None,
                seed_frame=(row.get("seed_frame") or "").strip() or "planning",
            )
        )
    if not cases:
        raise InputError("CSV lists no cases", path=path)
    names = [c.case for c in cases]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"duplicate case names: {', '.join(dupes)}", path=path)
    return cases


def fingerprint(spec: CaseSpec, code: str) -> str:
    """SHA-256 of a case's inputs: every file of its folder (relative path + contents), the clinical
    file, the seed and its frame, and ``code`` (radnec's version and code fingerprint).

    A folder that does not exist hashes as such (its run fails and is retried when it appears).
    """
    h = hashlib.sha256()
    h.update(f"code:{code};frame:{spec.seed_frame};seed:{spec.seed_lps!r};".encode())
    if spec.path.is_dir():
        for f in sorted(p for p in spec.path.rglob("*") if p.is_file()):
            h.update(f"file:{f.relative_to(spec.path).as_posix()};".encode())
            with f.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
    else:
        h.update(b"missing-folder;")
    if spec.clinical is not None:
        h.update(b"clinical:")
        h.update(spec.clinical.read_bytes() if spec.clinical.is_file() else b"missing")
    return h.hexdigest()


__all__ = ["CaseSpec", "CLINICAL_NAMES", "read_cases", "fingerprint"]
