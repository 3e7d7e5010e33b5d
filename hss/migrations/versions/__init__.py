"""Alembic revision scripts of the HSS store, oldest first."""
