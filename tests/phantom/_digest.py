"""Digest of a written phantom case that ignores what legitimately changes between runs or
releases: the radnec version (``generator``, ``SoftwareVersions``) and HDF5 transform files (their
bytes hold write timestamps; their parameters are covered through truth.json's transform block)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pydicom


def case_digest(folder: Path) -> dict[str, str]:
    """{relative path: sha256} of truth.json (without ``generator``), every DICOM file's pixel data,
    contours and dose references, and every NIfTI truth mask."""
    folder = Path(folder)
    out = {}
    truth = json.loads((folder / "truth.json").read_text())
    truth.pop("generator", None)
    out["truth.json"] = hashlib.sha256(json.dumps(truth, sort_keys=True).encode()).hexdigest()
    for p in sorted(folder.rglob("*.dcm")):
        ds = pydicom.dcmread(p)
        ds.pop("SoftwareVersions", None)
        h = hashlib.sha256()
        for elem in ds.iterall():
            h.update(f"{elem.tag}:{elem.value!r}".encode() if elem.VR != "SQ" else str(elem.tag).encode())
        out[str(p.relative_to(folder))] = h.hexdigest()
    for p in sorted(folder.rglob("*.nii.gz")):
        out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def combined(digest: dict[str, str]) -> str:
    """One sha256 over a :func:`case_digest`."""
    return hashlib.sha256(json.dumps(digest, sort_keys=True).encode()).hexdigest()
