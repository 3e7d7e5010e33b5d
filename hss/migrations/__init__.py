"""Alembic migrations of the HSS store (run programmatically by :meth:`hss.store.Store.upgrade`)."""
