"""The case store: pseudonymised patients, cases, studies, series, analyses, lesions, notes, jobs and audit
events in a database (SQLAlchemy 2; SQLite with WAL by default, PostgreSQL by URL; Alembic migrations shipped
in the package), files on disk by content hash. See ``docs/serve.md``.

:class:`~radnec.store.store.Store` opens a store; :func:`~radnec.store.importer.import_case` imports a folder or
a zip; :mod:`radnec.store.tasks` runs the pipeline on a stored case and records the result.
"""
