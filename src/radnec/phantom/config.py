"""Loading of :file:`scenarios.yaml` (every number that shapes a phantom, with its source)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from radnec.datafiles import load_yaml


@lru_cache(maxsize=1)
def load_config() -> dict[str, Any]:
    """Return the parsed ``scenarios.yaml`` shipped with the package (cached)."""
    return load_yaml("radnec.phantom", "scenarios.yaml")
