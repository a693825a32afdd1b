"""Fixtures of the phantom tests: every scenario generated once per session at 2 mm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from radnec.phantom import SCENARIOS

VOXEL_MM = 2.0


@pytest.fixture(scope="session")
def phantom_cases(tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    """{scenario: (case folder, truth dict)} for seed 1, 2 mm voxels, follow-ups at 3 and 12 months."""
    from radnec.phantom.generate import generate_case

    root = tmp_path_factory.mktemp("phantoms")
    out = {}
    for sc in SCENARIOS:
        folder = root / sc
        generate_case(sc, 1, folder, voxel_mm=VOXEL_MM, months=[3, 12],
                      technique="linac" if sc == "infield" else "gk")
        out[sc] = (folder, json.loads((folder / "truth.json").read_text()))
    return out
