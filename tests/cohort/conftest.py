"""Small phantom cases (2 mm voxels, two follow-ups), generated once per session for the cohort tests."""

from __future__ import annotations

from pathlib import Path

import pytest

SCENARIOS = {"a": ("necrosis", 0), "b": ("infield", 1), "c": ("marginal", 2), "d": ("stable", 3)}


@pytest.fixture(scope="session")
def phantom_cases(tmp_path_factory) -> dict[str, Path]:
    """Case folders a–d (necrosis, infield, marginal, stable) and a broken one (no DICOM plan)."""
    from radnec.phantom.generate import generate_case

    root = tmp_path_factory.mktemp("cohort-cases")
    out = {}
    for name, (scenario, seed) in SCENARIOS.items():
        generate_case(scenario, seed, root / name, months=[3, 9], voxel_mm=2.0)
        out[name] = root / name
    broken = root / "broken"
    broken.mkdir()
    (broken / "IM0001.dcm").write_bytes(b"not a DICOM file")
    out["broken"] = broken
    return out


@pytest.fixture(scope="session")
def write_csv():
    """``write_csv(path, cases, names)``: a cohort CSV listing ``names`` (absolute paths)."""

    def write(path: Path, cases: dict[str, Path], names: list[str]) -> Path:
        path.write_text("case,path\n" + "".join(f"{n},{cases[n]}\n" for n in names), encoding="utf-8")
        return path

    return write
