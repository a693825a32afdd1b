"""Loading of :file:`scenarios.yaml` (every number that shapes a phantom, with its source)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml


@lru_cache(maxsize=1)
def load_config() -> dict[str, Any]:
    """Return the parsed ``scenarios.yaml`` shipped with the package (cached)."""
    text = resources.files("radnec.phantom").joinpath("scenarios.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)
