"""Shared fixtures: a fresh database per test, on SQLite by default or on the PostgreSQL
server named by TEST_DATABASE_URL (CI runs the whole suite both ways)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

import core.models  # noqa: F401
from core import schema
from core.db import make_engine, normalise_url
from core.services import settings as settings_service

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def on_postgres() -> bool:
    return bool(POSTGRES_URL)


@pytest.fixture(scope="session")
def _postgres_engine() -> Iterator[Engine | None]:
    if not POSTGRES_URL:
        yield None
        return
    engine = make_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    schema.upgrade(engine)
    yield engine
    engine.dispose()


def _truncate_all(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def database_url(tmp_path, _postgres_engine) -> str:
    """The URL of an empty, migrated database for this test."""
    if _postgres_engine is not None:
        _truncate_all(_postgres_engine)
        return normalise_url(POSTGRES_URL)
    url = f"sqlite:///{tmp_path / f'test-{uuid.uuid4().hex[:8]}.db'}"
    engine = make_engine(url)
    SQLModel.metadata.create_all(engine)
    engine.dispose()
    return url


@pytest.fixture
def engine(database_url, _postgres_engine) -> Iterator[Engine]:
    if _postgres_engine is not None:
        yield _postgres_engine
        return
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine) -> Iterator[Session]:
    """A session on a fresh database with the default rules and tiers in place."""
    with Session(engine, expire_on_commit=False) as session:
        settings_service.ensure_defaults(session)
        session.commit()
        yield session


@pytest.fixture
def app_database(database_url, monkeypatch) -> str:
    """Point the app (settings and engine factory) at this test's database."""
    from core.config import get_settings
    from core.db import dispose_engines

    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    dispose_engines()
    yield database_url
    get_settings.cache_clear()
    dispose_engines()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
