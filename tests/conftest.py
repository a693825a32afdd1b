"""Shared pytest fixtures. Tests never read ../shared: fixtures live in tests/data."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder of small, licensed test fixtures (see tests/data/*/PROVENANCE.md)."""
    return DATA
