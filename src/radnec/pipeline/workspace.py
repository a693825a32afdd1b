"""The case workspace: every stage's result saved under the SHA-256 of its inputs.

Layout (``OUT/.radnec/`` unless ``work_dir`` says otherwise)::

    manifest.json                 the last analyze's parameters (case folder, clinical file, seeds)
    stages/<stage>/<key>/         one finished result; written in tmp/ and renamed into place
    tmp/                          results being written (a killed run leaves only these; cleared at start)

A key is the SHA-256 of the stage's name, the *code fingerprint* (the radnec sources and data files
and the versions of the numerical libraries) and the stage's inputs (file contents, image pixels and
geometry, parameters, upstream keys). A result directory appears atomically (``os.replace`` of a
complete temporary directory), so a run killed at any instant never leaves a result that a later run
would trust. Each stage saves, then *reloads* what it saved and continues with the reloaded value: a
fresh run and a run from the saved middle see bit-identical inputs, so ``analysis.json`` is
byte-identical either way.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import SimpleITK as sitk

from radnec import __version__
from radnec.errors import InputError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Name of the workspace folder inside an analysis output folder.
WORKSPACE_DIRNAME = ".radnec"
#: radnec sub-packages that compute no analysis number (the web workspace, the case store, the cohort
#: runner): editing them keeps the saved stage results valid.
UNKEYED_PACKAGES = ("web", "store", "cohort")

#: Libraries whose versions enter every key (a new version may change a number).
KEYED_PACKAGES = ("numpy", "scipy", "SimpleITK", "itk-elastix", "pydicom", "scikit-image")


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 of radnec's own sources and data files plus the numerical libraries' versions.

    Any change to the code or its knowledge files invalidates every saved result.
    """
    import radnec

    root = Path(radnec.__file__).parent
    h = hashlib.sha256(__version__.encode())
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts and rel.parts[0] in UNKEYED_PACKAGES:
            continue
        if path.is_file() and path.suffix in (".py", ".yaml", ".yml", ".json", ".csv", ".j2", ".html"):
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    for pkg in KEYED_PACKAGES:
        try:
            h.update(f"{pkg}={version(pkg)}".encode())
        except PackageNotFoundError:
            h.update(f"{pkg}=none".encode())
    return h.hexdigest()


def _feed(h: Any, obj: Any) -> None:
    """Canonical, type-tagged encoding of ``obj`` into hash ``h``."""
    if obj is None or isinstance(obj, (bool, int, str)):
        h.update(f"{type(obj).__name__}:{obj!r};".encode())
    elif isinstance(obj, float):
        h.update(f"float:{obj!r};".encode())
    elif isinstance(obj, bytes):
        h.update(b"bytes:%d;" % len(obj))
        h.update(obj)
    elif isinstance(obj, Keyed):
        h.update(f"key:{obj.key};".encode())
    elif isinstance(obj, sitk.Image):
        h.update(
            f"image:{obj.GetPixelIDValue()}:{obj.GetSize()}:{obj.GetOrigin()!r}:{obj.GetSpacing()!r}:"
            f"{obj.GetDirection()!r}:{obj.GetNumberOfComponentsPerPixel()};".encode()
        )
        h.update(np.ascontiguousarray(sitk.GetArrayViewFromImage(obj)).tobytes())
    elif isinstance(obj, np.ndarray):
        h.update(f"array:{obj.dtype.str}:{obj.shape};".encode())
        h.update(np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, np.generic):
        _feed(h, obj.item())
    elif isinstance(obj, dict):
        h.update(b"dict{")
        for k in sorted(obj, key=str):
            _feed(h, str(k))
            _feed(h, obj[k])
        h.update(b"}")
    elif isinstance(obj, (list, tuple)):
        h.update(b"list[")
        for v in obj:
            _feed(h, v)
        h.update(b"]")
    elif isinstance(obj, Path):
        _feed(h, str(obj))
    elif hasattr(obj, "model_dump"):
        _feed(h, obj.model_dump(mode="json"))
    elif is_dataclass(obj) and not isinstance(obj, type):
        _feed(h, {f.name: getattr(obj, f.name) for f in fields(obj)})
    else:
        raise TypeError(f"cannot key an object of type {type(obj).__name__}")


def digest(*parts: Any) -> str:
    """SHA-256 (hex) of ``parts`` in a canonical, type-tagged encoding.

    Images are keyed by pixels *and* geometry; :class:`Keyed` results by their own key.

    Examples
    --------
    >>> digest("a", 1.0) == digest("a", 1.0) != digest("a", 1)
    True
    """
    h = hashlib.sha256()
    _feed(h, list(parts))
    return h.hexdigest()


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's content."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class Keyed:
    """A value with the key of the stage result it came from (so downstream keys need not re-hash it)."""

    key: str
    value: Any = field(compare=False, repr=False)


@dataclass
class StageRecord:
    """What a run did: each stage execution, ran or reused, and its time (s)."""

    events: list[dict[str, Any]] = field(default_factory=list)

    def add(self, stage: str, key: str, status: str, seconds: float) -> None:
        self.events.append({"stage": stage, "key": key[:12], "status": status, "seconds": round(seconds, 3)})

    def summary(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for e in self.events:
            out.setdefault(e["stage"], {"ran": 0, "reused": 0})[e["status"]] += 1
        return out


class Workspace:
    """A folder of saved stage results (see the module docstring).

    Parameters
    ----------
    root
        The workspace folder (created).
    fresh
        Recompute every stage (results are still saved, replacing the old ones).
    """

    def __init__(self, root: str | Path, *, fresh: bool = False) -> None:
        self.root = Path(root)
        self.fresh = fresh
        self.record = StageRecord()
        try:
            (self.root / "stages").mkdir(parents=True, exist_ok=True)
            (self.root / "tmp").mkdir(exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the workspace folder ({exc.strerror})", path=self.root) from exc
        self._clear_dead_tmp()
        self._tmp = self.root / "tmp" / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def _clear_dead_tmp(self) -> None:
        """Remove half-written results of runs that are no longer alive (a killed run leaves them)."""
        for entry in (self.root / "tmp").iterdir():
            pid = entry.name.split("-", 1)[0]
            alive = False
            if pid.isdigit():
                try:
                    os.kill(int(pid), 0)
                    alive = int(pid) != os.getpid()
                except ProcessLookupError:
                    alive = False
                except PermissionError:
                    alive = True
            if not alive:
                shutil.rmtree(entry, ignore_errors=True)

    def key(self, stage: str, *inputs: Any) -> str:
        """The key of ``stage`` run on ``inputs`` with this code."""
        return digest(stage, code_fingerprint(), *inputs)

    def path(self, stage: str, key: str) -> Path:
        return self.root / "stages" / stage / key

    def has(self, stage: str, key: str) -> bool:
        return self.path(stage, key).is_dir()

    def cached(
        self,
        stage: str,
        key: str,
        compute: Callable[[], T],
        save: Callable[[T, Path], None],
        load: Callable[[Path], T],
    ) -> Keyed:
        """The result of ``stage`` for ``key``: reloaded when saved, else computed, saved and reloaded.

        Returns a :class:`Keyed` whose ``value`` is what :func:`load` returns.
        """
        import time

        final = self.path(stage, key)
        start = time.perf_counter()
        if final.is_dir() and not self.fresh:
            value = load(final)
            self.record.add(stage, key, "reused", time.perf_counter() - start)
            return Keyed(key, value)
        result = compute()
        tmp = self._tmp / f"{stage}-{uuid.uuid4().hex}"
        tmp.mkdir(parents=True)
        save(result, tmp)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():  # --fresh: replace the old result (moved aside first, so the swap is atomic)
            trash = self._tmp / f"old-{uuid.uuid4().hex}"
            os.replace(final, trash)
            shutil.rmtree(trash, ignore_errors=True)
        try:
            os.replace(tmp, final)
        except OSError:  # another process wrote the same result meanwhile: keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
        value = load(final)
        self.record.add(stage, key, "ran", time.perf_counter() - start)
        return Keyed(key, value)

    # ------------------------------------------------------------------ manifest

    def write_manifest(self, data: dict[str, Any]) -> None:
        """Atomically write ``manifest.json`` (the last analyze's parameters)."""
        write_text_atomic(self.root / "manifest.json", json.dumps(data, indent=2) + "\n")

    def read_manifest(self) -> dict[str, Any]:
        path = self.root / "manifest.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise InputError("no radnec workspace here: run `radnec analyze` first", path=self.root) from exc
        except json.JSONDecodeError as exc:
            raise InputError(f"the workspace manifest is not valid JSON ({exc.msg})", path=path) from exc


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file in the same folder and a rename."""
    data = text.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def open_workspace(
    out_dir: str | Path, *, work_dir: str | Path | None = None, fresh: bool = False, existing: bool = False
) -> Workspace:
    """The workspace of an analysis folder (``OUT/.radnec`` or ``work_dir``).

    With ``existing``, the workspace of an earlier ``analyze`` must be there (its manifest): an
    :class:`InputError` names the folder otherwise, and nothing is created.
    """
    root = Path(work_dir) if work_dir is not None else Path(out_dir) / WORKSPACE_DIRNAME
    if existing and not (root / "manifest.json").is_file():
        raise InputError("no radnec workspace here: run `radnec analyze` on the case first", path=Path(out_dir))
    return Workspace(root, fresh=fresh)


__all__ = [
    "Keyed",
    "StageRecord",
    "Workspace",
    "code_fingerprint",
    "digest",
    "file_sha256",
    "open_workspace",
    "write_text_atomic",
]
