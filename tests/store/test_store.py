"""The case store: migrations equal the models, blobs by hash, pseudonyms, recovery, archive checks."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest


def test_the_shipped_migration_equals_the_models(tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from radnec.store.models import Base
    from radnec.store.store import Store

    store = Store(tmp_path / "data")
    try:
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert diff == [], f"the models differ from the migrations: {diff}; add an Alembic revision"
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        store.close()


def test_the_comparison_can_fail(tmp_path):
    """A model column the migrations lack is seen."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import Column, Integer, MetaData, Table

    from radnec.store.models import Base
    from radnec.store.store import Store

    store = Store(tmp_path / "data")
    meta = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(meta)
    Table("notes", meta, Column("extra", Integer), extend_existing=True)
    try:
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), meta)
        assert any(d[0] == "add_column" and d[3].name == "extra" for d in diff)
    finally:
        store.close()


def test_blobs_are_named_by_their_hash_and_stored_once(tmp_path):
    from radnec.store.blobs import blob_path, file_sha256, iter_blobs, write_blob

    a = write_blob(tmp_path, io.BytesIO(b"hello"))
    b = write_blob(tmp_path, io.BytesIO(b"hello"))
    assert a == b and a[1] == 5
    assert file_sha256(blob_path(tmp_path, a[0])) == a[0]
    assert [p.name for p in iter_blobs(tmp_path)] == [a[0]]
    assert not list((tmp_path / "blobs" / "incoming").iterdir())
    with pytest.raises(ValueError):
        blob_path(tmp_path, "../../etc/passwd")


def test_pseudonyms_are_salted_hashes(tmp_path):
    from radnec.store.store import Store

    one, two = Store(tmp_path / "a"), Store(tmp_path / "b")
    try:
        assert one.patient_hash("12345") == one.patient_hash(" 12345 ")
        assert one.patient_hash("12345") != two.patient_hash("12345"), "the salt must differ per store"
        assert "12345" not in one.patient_hash("12345")
        assert (one.root / "salt").stat().st_mode & 0o077 == 0
    finally:
        one.close()
        two.close()


def test_recovery_removes_leftovers_and_fails_interrupted_jobs(tmp_path):
    from radnec.store.blobs import write_blob
    from radnec.store.models import Job
    from radnec.store.store import INTERRUPTED, Store
    from radnec.store.tasks import create_job

    store = Store(tmp_path / "data")
    try:
        job = create_job(store, "analyze")
        with store.session() as s:
            s.get(Job, job).state = "running"
        orphan, _ = write_blob(store.root, io.BytesIO(b"no row names me"))
        (store.root / "cases" / "7").mkdir()
        (store.root / "tmp" / "import-x").mkdir()
        (store.root / "blobs" / "incoming" / ".tmp-half").write_bytes(b"half")
        report = store.recover()
        assert (report.jobs_failed, report.case_folders, report.blobs) == (1, 1, 1)
        assert report.temporaries == 2
        with store.session() as s:
            j = s.get(Job, job)
            assert (j.state, j.error) == ("failed", INTERRUPTED)
        assert not (store.root / "blobs" / orphan[:2] / orphan).exists()
    finally:
        store.close()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize("name", ["../x", "a/../../x", "/abs", "C:/x", "a\\b", "ok/../../../x"])
def test_archive_refuses_traversal_names(tmp_path, name):
    from radnec.store.archive import Limits, zip_members
    from radnec.store.errors import UnsafeArchive

    path = tmp_path / "a.zip"
    path.write_bytes(_zip({"fine.dcm": b"1", name: b"2"}))
    with pytest.raises(UnsafeArchive, match="refused"):
        list(zip_members(path, Limits()))


def test_archive_refuses_bombs_and_too_many_bytes(tmp_path):
    from radnec.store.archive import Limits, zip_members
    from radnec.store.errors import TooLarge, UnsafeArchive

    path = tmp_path / "a.zip"
    path.write_bytes(_zip({"zeros.dcm": b"\0" * (8 * 2**20)}))
    with pytest.raises(UnsafeArchive, match="ratio"):
        list(zip_members(path, Limits()))
    path.write_bytes(_zip({"a.dcm": b"abc" * 1000, "b.dcm": b"def" * 1000}))
    with pytest.raises(TooLarge):
        list(zip_members(path, Limits(max_bytes=4000)))
    with pytest.raises(TooLarge):
        list(zip_members(path, Limits(max_members=1)))
    names = [n for n, _ in zip_members(path, Limits())]
    assert names == ["a.dcm", "b.dcm"]


def test_a_lying_size_header_is_caught(tmp_path):
    """A member whose central directory understates its size is stopped while reading."""
    from radnec.store.archive import Limits, zip_members
    from radnec.store.errors import TooLarge, UnsafeArchive

    data = bytearray(_zip({"a.dcm": b"x" * 5000}))
    # patch the uncompressed size (central directory and local header) down to 10 bytes
    for sig in (b"PK\x01\x02", b"PK\x03\x04"):
        pos = data.find(sig)
        off = 24 if sig == b"PK\x01\x02" else 22
        data[pos + off:pos + off + 4] = (10).to_bytes(4, "little")
    path = tmp_path / "a.zip"
    path.write_bytes(bytes(data))
    with pytest.raises((TooLarge, UnsafeArchive, zipfile.BadZipFile)):
        for _, stream in zip_members(path, Limits()):
            while stream.read(1 << 20):
                pass


def test_import_of_a_folder_keeps_no_names_from_it(tmp_path):
    """Files are linked into the case folder under their hashes; two patients in one import are refused."""
    from radnec.phantom.generate import generate_case
    from radnec.store.errors import UnsafeArchive
    from radnec.store.importer import import_case
    from radnec.store.models import Case, Patient
    from radnec.store.store import Store

    generate_case("stable", 1, tmp_path / "case", months=[3.0], voxel_mm=4.0)
    store = Store(tmp_path / "data")
    try:
        case_id = import_case(store, tmp_path / "case" / "dicom")
        names = [p.name for p in store.paths_for(case_id).dicom_dir.iterdir()]
        assert names and all(len(n.split(".")[0]) == 64 for n in names)
        with store.session() as s:
            case = s.get(Case, case_id)
            assert case is not None and case.patient is not None and len(case.studies) == 2
            assert all(len(p.id_hash) == 64 for p in s.query(Patient))
        assert Path(store.paths_for(case_id).dicom_dir).is_relative_to(store.root)
        (tmp_path / "empty").mkdir()
        with pytest.raises(UnsafeArchive, match="no files"):
            import_case(store, tmp_path / "empty")
    finally:
        store.close()
