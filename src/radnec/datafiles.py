"""One loader for radnec's packaged data files (YAML with citations, thresholds, scenarios).

Every knowledge, threshold and convention file is read through :func:`load_yaml`: one place that
finds the file inside the installed package, parses it, optionally validates it with a pydantic
model, and turns every failure into an :class:`~radnec.errors.EvidenceError` naming the file.

Examples
--------
>>> data = load_yaml("radnec.dose", "conventions.yaml")
>>> "isodose_levels" in data
True
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar, overload

from pydantic import BaseModel, ValidationError

from radnec.errors import EvidenceError

M = TypeVar("M", bound=BaseModel)


def data_path(package: str, name: str) -> Path:
    """The path of packaged data file ``name`` (``/``-separated, relative to ``package``)."""
    return Path(str(resources.files(package).joinpath(*name.split("/"))))


@lru_cache(maxsize=64)
def _parse(path: Path) -> Any:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EvidenceError(f"cannot read data file: {exc.strerror or exc}", path=path) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise EvidenceError(f"not valid YAML: {exc}".replace("\n", " "), path=path) from exc


@overload
def load_yaml(package: str, name: str, model: None = None) -> Any: ...


@overload
def load_yaml(package: str, name: str, model: type[M]) -> M: ...


def load_yaml(package: str, name: str, model: type[M] | None = None) -> Any:
    """Parse a packaged YAML file, validated by ``model`` when given.

    Parameters
    ----------
    package
        The package holding the file, e.g. ``"radnec.dose"``.
    name
        Its path inside the package, e.g. ``"conventions.yaml"`` or ``"data/quality_thresholds.yaml"``.
    model
        Optional pydantic model the parsed content must satisfy.

    Returns
    -------
    The parsed YAML (``model`` instance when a model is given). Parsed content is cached per file;
    callers must not mutate it.

    Raises
    ------
    EvidenceError
        The file is missing, unreadable, not YAML, or does not satisfy ``model``.
    """
    path = data_path(package, name)
    data = _parse(path)
    if model is None:
        if not isinstance(data, dict):
            raise EvidenceError("data file must hold a mapping at top level", path=path)
        return data
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise EvidenceError(f"invalid content at {where or 'top level'}: {first.get('msg')}", path=path) from exc


__all__ = ["data_path", "load_yaml"]
