"""Fixtures for the fusion tests: a small generated head (no files from ../shared)."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from radnec.fuse.synthetic import make_pair, synthetic_head


@pytest.fixture(autouse=True, scope="session")
def _two_threads() -> None:
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(2)


@pytest.fixture(scope="session")
def head() -> tuple[sitk.Image, sitk.Image]:
    return synthetic_head(seed=0)


@pytest.fixture(scope="session")
def rigid_pair(head):  # noqa: ANN001, ANN201
    """Rigid-only pair: 8°/10 mm misalignment, contrast change, bias field, noise."""
    image, brain = head
    return make_pair(
        image,
        brain,
        seed=11,
        mass_effect_mm=0.0,
        edema_radius_mm=0.0,
        lesion_radius_mm=(3.0, 3.0),
        lesion_center_lps=np.array([15.0, 10.0, 5.0]),
        max_rotation_deg=8.0,
        max_translation_mm=10.0,
    )


@pytest.fixture(scope="session")
def mass_effect_pair(head):  # noqa: ANN001, ANN201
    """Pair with a 4 mm mass effect around a grown lesion with oedema."""
    image, brain = head
    return make_pair(
        image,
        brain,
        seed=3,
        mass_effect_mm=4.0,
        lesion_center_lps=np.array([15.0, 10.0, 5.0]),
        edema_radius_mm=12.0,
        lesion_radius_mm=(3.0, 7.0),
        max_rotation_deg=8.0,
        max_translation_mm=10.0,
    )


@pytest.fixture(scope="session")
def rigid_result(rigid_pair):  # noqa: ANN001, ANN201
    from radnec.fuse.fusion import fuse

    return fuse(rigid_pair.planning, rigid_pair.followup, deformable=False)


def pytest_configure(config) -> None:  # noqa: ANN001
    # itk's SWIG wrappers emit one DeprecationWarning per wrapped type on import (Python 3.12 style).
    config.addinivalue_line("filterwarnings", "ignore:builtin type .* has no __module__ attribute:DeprecationWarning")
