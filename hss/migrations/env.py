"""Alembic environment for the HSS store.

:meth:`hss.store.Store.upgrade` builds the Alembic ``Config`` in code and
passes an open SQLAlchemy connection in ``config.attributes["connection"]``;
there is no ``alembic.ini``. Running online only: the store always has a
database to migrate.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from hss.models import Base


def run_migrations(connection: Connection) -> None:
    """Run the pending revisions on ``connection`` in one transaction."""
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    """Entry point Alembic executes for every command."""
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("the HSS migrations run through hss.store.Store.upgrade()")
    run_migrations(connection)


main()
