"""Fixtures for the HSS store: a real SQLite file and a real PostgreSQL.

PostgreSQL comes from ``IMS_TEST_PG_URL`` when set (any SQLAlchemy URL of a
database the tests may create schemas in). Otherwise, when Debian's server
binaries exist (``/usr/lib/postgresql/<version>/bin/initdb``, package
``postgresql``), a throwaway cluster is created for the session: initdb in a
temporary directory (as the ``postgres`` OS user when running as root), then
``pg_ctl start`` listening on a Unix socket in that directory only
(``listen_addresses=''``), stopped and removed at the end. Without either,
PostgreSQL tests are skipped, except under ``CI=true`` where they fail.

Each test gets its own schema (``search_path`` in the URL), dropped afterwards.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
import sqlalchemy as sa

from hss.store import Store

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_PORT = 5432  # a Unix socket in a private directory: the number cannot clash


def _unavailable(reason: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"PostgreSQL tests cannot run: {reason} (CI=true: they are mandatory)")
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


def _initdb() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return found[-1] if found else None


def _as_postgres(argv: list[str]) -> list[str]:
    """Run as the ``postgres`` OS user when we are root (initdb refuses root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


class _Cluster:
    """A throwaway PostgreSQL cluster on a Unix socket."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="ims-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"

    def start(self) -> str:
        if os.geteuid() == 0:
            shutil.chown(self.root, user="postgres", group="postgres")
        self._run([str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                   "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"])
        options = (f"-k {self.root} -p {PG_PORT} -c listen_addresses='' -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                   "-o", options, "-w", "-t", "60", "start"])
        return f"postgresql+psycopg://postgres@/postgres?host={self.root}&port={PG_PORT}"

    def stop(self) -> None:
        try:
            self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast",
                       "-w", "stop"])
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, argv: list[str]) -> None:
        result = subprocess.run(_as_postgres(argv), capture_output=True, text=True,
                                check=False, timeout=120)
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{argv[0]} failed: {result.stderr}{result.stdout}{log}")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a PostgreSQL database for the session (see the module docstring)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("the psycopg driver is not installed (pip install 'psycopg[binary]')")
    if url := os.environ.get("IMS_TEST_PG_URL"):
        yield url
        return
    initdb = _initdb()
    if initdb is None:
        _unavailable("no /usr/lib/postgresql/*/bin/initdb: install the Debian package postgresql")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        _unavailable("running as root without runuser to drop to the postgres user")
    cluster = _Cluster(Path(initdb).parent)
    url = cluster.start()
    try:
        yield url
    finally:
        cluster.stop()


@pytest.fixture
def pg_schema_url(pg_url: str) -> Iterator[str]:
    """A fresh schema for one test: the URL sets ``search_path`` to it."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = sa.make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A new SQLite file."""
    return f"sqlite:///{tmp_path / 'hss.sqlite'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str:
    """Each backend in turn: a SQLite file, then a PostgreSQL schema."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_schema_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated, empty store on each backend."""
    instance = Store(store_url)
    instance.upgrade()
    try:
        yield instance
    finally:
        instance.close()
