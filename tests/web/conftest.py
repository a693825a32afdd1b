"""Fixtures of the web tests: a store holding one analysed 2 mm phantom case, and clients of an app over a copy.

The analysed store is built once per test run (~35 s: a 2 mm necrosis phantom with follow-ups at 3 and 9 months,
imported and analysed inline) under pytest's base temporary folder, file-locked so that the xdist workers share
it; each test gets a copy (database copied, every other file hard-linked: the store and the pipeline replace
files by renames, never in place).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

#: The token of the test apps.
TOKEN = "test-token-0123456789"


def build_analysed_store(root: Path) -> Path:
    """Generate, import and analyse the 2 mm phantom into ``root/data``; return the data folder."""
    from radnec.phantom.generate import generate_case
    from radnec.store.importer import import_case
    from radnec.store.store import Store
    from radnec.store.tasks import create_job, run_job

    generate_case("necrosis", 0, root / "case", months=[3.0, 9.0], voxel_mm=2.0)
    data = root / "data"
    store = Store(data)
    try:
        case_id = import_case(store, root / "case" / "dicom", label="phantom 2 mm")
        shutil.copyfile(Path(__file__).parents[2] / "src" / "radnec" / "commands" / "data" / "demo_clinical.yaml",
                        store.paths_for(case_id).clinical)
        state = run_job(store, create_job(store, "analyze", case_id=case_id))
        assert state == "done", "the fixture case could not be analysed"
    finally:
        store.close()
    shutil.rmtree(root / "case")
    return data


@pytest.fixture(scope="session")
def analysed_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with one analysed case (id 1); shared by the xdist workers. Do not modify: copy it."""
    from filelock import FileLock

    run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or str(os.getpid())  # one store per test run, shared by its workers
    shared = tmp_path_factory.getbasetemp().parent / f"radnec-web-store-{run}"
    shared.mkdir(exist_ok=True)
    with FileLock(str(shared / ".lock")):
        data = shared / "data"
        if not (shared / "ready").exists():
            shutil.rmtree(data, ignore_errors=True)
            build_analysed_store(shared)
            (shared / "ready").write_text("ok\n")
    return data


def copy_store(source: Path, target: Path) -> Path:
    """A working copy of a data folder: the database copied, everything else hard-linked."""

    def link_or_copy(src: str, dst: str) -> None:
        if Path(src).name.startswith("radnec.db") or Path(src).name in ("salt", "store.lock"):
            shutil.copy2(src, dst)
        else:
            os.link(src, dst)

    shutil.copytree(source, target, copy_function=link_or_copy, symlinks=True)
    return target


@pytest.fixture()
def web_settings(analysed_data: Path, tmp_path: Path):
    """Settings of an app over a fresh copy of the analysed store (no demo, one job thread)."""
    from radnec.web.settings import Settings

    return Settings(data_dir=copy_store(analysed_data, tmp_path / "data"), token=TOKEN, demo=False, workers=1)


@pytest.fixture()
def case_id() -> int:
    """The id of the analysed case in the fixture store."""
    return 1


@pytest.fixture()
def web_app(web_settings):
    from radnec.web.app import create_app

    return create_app(web_settings)


@pytest.fixture()
def client(web_app) -> Iterator:
    """A TestClient that sends the token."""
    from fastapi.testclient import TestClient

    with TestClient(web_app, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        yield c


@pytest.fixture()
def anon_client(web_app) -> Iterator:
    """A TestClient of the same app without the token."""
    from fastapi.testclient import TestClient

    with TestClient(web_app) as c:
        yield c
