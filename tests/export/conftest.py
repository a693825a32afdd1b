"""Fixtures of the export tests: three 2 mm phantom cases (one follow-up each) and their export."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

#: Scenarios exported: a necrotic core, eccentric marginal growth, in-field regrowth.
SCENARIOS = ("necrosis", "marginal", "infield")


@pytest.fixture(scope="session")
def phantom_case():
    """Factory: (case folder, truth) of a 2 mm phantom, generated once per scenario and process."""
    from tests.export.phantoms import phantom

    return phantom


@pytest.fixture(scope="session")
def exported(phantom_case, tmp_path_factory):
    """Factory: the export of a scenario → (inputs, written files, output folder)."""
    from radnec.export.bundle import export_case
    from tests.export.phantom_inputs import phantom_export_inputs

    cache: dict[str, tuple] = {}

    def make(scenario: str):
        if scenario not in cache:
            case, truth = phantom_case(scenario)
            analysis, planning_files, followups = phantom_export_inputs(case, truth)
            out = tmp_path_factory.mktemp(f"export-{scenario}")
            files = export_case(analysis=analysis, planning_files=planning_files, followups=followups, to=out,
                                deidentify=False)
            cache[scenario] = ((analysis, planning_files, followups, truth), files, out)
        return cache[scenario]

    return make


def dciodvfy_errors(path: Path) -> list[str]:
    """The ``Error`` lines of David Clunie's dciodvfy for ``path`` (pytest skips without it)."""
    exe = shutil.which("dciodvfy")
    if exe is None:
        pytest.skip("dciodvfy not installed (Debian package dicom3tools; .ci/run installs it)")
    proc = subprocess.run([exe, str(path)], capture_output=True, text=True, timeout=60, check=False)
    return [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("Error")]
