"""The store's database: engine (SQLite with WAL by default, PostgreSQL by URL) and Alembic migrations.

The migrations ship inside the package (``radnec/store/migrations``); :func:`migrate` runs
``alembic upgrade head`` through Alembic's API, so a new or older database is brought to the models'
schema at every start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

from radnec.errors import InputError

#: The folder of the Alembic environment shipped in the package.
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def sqlite_url(data_dir: Path) -> str:
    """The default database: ``DATA/radnec.db`` (SQLite)."""
    return f"sqlite:///{(data_dir / 'radnec.db').resolve()}"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL journalling, foreign keys and a busy timeout.

    Raises
    ------
    InputError
        When the URL names a database kind other than SQLite or PostgreSQL (psycopg 3).
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    if url.startswith("postgresql"):
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        return create_engine(url, pool_pre_ping=True)
    raise InputError(
        "--db must be a sqlite:///… or postgresql+psycopg://… URL (other databases are not supported)", path=url.split(":")[0]
    )


def alembic_config(engine: Engine) -> Any:
    """An Alembic configuration for the shipped migrations, bound to ``engine``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """``alembic upgrade head`` on ``engine`` (creates the tables of a new database)."""
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


__all__ = ["MIGRATIONS", "alembic_config", "make_engine", "migrate", "sqlite_url"]
