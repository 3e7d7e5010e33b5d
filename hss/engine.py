"""Engine setup of the HSS subscriber store (SQLAlchemy, Alembic migrations).

An SQLite file by default (WAL journal, foreign keys on, writers serialised
by ``BEGIN IMMEDIATE``) or any other SQLAlchemy URL (PostgreSQL for a
multi-host core, with a connection pool). The schema comes only from the
Alembic migrations in ``hss/migrations`` (:func:`alembic_config`), run by
:meth:`hss.store.Store.upgrade`. These names are also importable from
:mod:`hss.store`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError

from hss.models import StoreUnavailable, ValidationError

__all__ = [
    "MIGRATIONS", "POOL_OVERFLOW", "POOL_RECYCLE", "POOL_SIZE", "SQLITE_BUSY_TIMEOUT",
    "alembic_config", "store_engine",
]

#: The Alembic script directory shipped inside the package.
MIGRATIONS = Path(__file__).with_name("migrations")

#: Seconds an SQLite connection waits for the write lock before failing.
SQLITE_BUSY_TIMEOUT = 30.0
#: Server-database pool: connections kept, extra ones, seconds before one is renewed.
POOL_SIZE, POOL_OVERFLOW, POOL_RECYCLE = 16, 16, 1800


def alembic_config() -> Config:
    """The Alembic configuration, built in code (no ``alembic.ini``)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    """Per-connection SQLite setup: own BEGIN, foreign keys, WAL."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # pysqlite defers BEGIN to the first write; we emit BEGIN ourselves (_sqlite_begin).
    dbapi_connection.isolation_level = None
    dbapi_connection.execute("PRAGMA foreign_keys = ON")
    dbapi_connection.execute("PRAGMA journal_mode = WAL")


def _sqlite_begin(connection: Connection) -> None:
    """``BEGIN IMMEDIATE`` for write sessions: take the write lock before any read."""
    immediate = connection.get_execution_options().get("hss_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")



def store_engine(url: str) -> Engine:
    """The engine for ``url``: pooled for a server database, set up per connection for SQLite.

    Raises:
        ValidationError: ``url`` is not an SQLAlchemy URL.
        StoreUnavailable: the directory of the SQLite file cannot be created.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValidationError("store_url", str(exc)) from None
    if parsed.get_backend_name() != "sqlite":
        # A pool at least as large as the handler concurrency, no round trip per checkout.
        return create_engine(parsed, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW,
                             pool_recycle=POOL_RECYCLE)
    if parsed.database and parsed.database != ":memory:":
        try:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(f"cannot create the directory of {parsed.database}: {exc}") from exc
    engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT})
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine
