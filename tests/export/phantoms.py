"""2 mm phantom cases shared by the export and networking tests, generated once per process."""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from pathlib import Path

#: Seed and follow-up month of every exported phantom (one follow-up: ≈ 360 DICOM instances).
SEED, MONTHS = 2, (12,)


@functools.cache
def _root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="radnec-export-phantoms-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


@functools.cache
def phantom(scenario: str) -> tuple[Path, dict]:
    """(case folder, truth) of ``scenario`` at 2 mm, seed :data:`SEED`, follow-up :data:`MONTHS`."""
    from radnec.phantom.generate import generate_case

    folder = _root() / scenario
    generate_case(scenario, SEED, folder, voxel_mm=2.0, months=list(MONTHS))
    return folder, json.loads((folder / "truth.json").read_text())
