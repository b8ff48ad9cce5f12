"""Alembic owns the schema: the migrations build exactly what the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from core import schema


def test_migrations_match_the_models(engine):
    """A developer who changes a model without a migration is told so here."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def test_upgrade_is_idempotent(engine):
    schema.upgrade(engine)
    schema.upgrade(engine)
    assert schema.has_table(engine, "lead")
