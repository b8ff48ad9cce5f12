"""Shared fixtures: a fresh database per test, on SQLite by default or on the PostgreSQL
server named by TEST_DATABASE_URL (CI runs the whole suite both ways)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

import core.models  # noqa: F401
from core import schema
from core.db import make_engine, normalise_url
from core.services import settings as settings_service
from core.services import users as users_service

# Cheaper bcrypt for test logins (production keeps 12 rounds; verification reads the cost
# from each hash, so both work side by side).
users_service.BCRYPT_ROUNDS = 4

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


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    """An empty database migrated once; each test gets a copy of the file."""
    path = tmp_path_factory.mktemp("template") / "empty.db"
    engine = make_engine(f"sqlite:///{path}")
    schema.upgrade(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def database_url(tmp_path, _postgres_engine, request) -> str:
    """The URL of an empty, migrated database for this test."""
    if _postgres_engine is not None:
        _truncate_all(_postgres_engine)
        return normalise_url(POSTGRES_URL)
    template = request.getfixturevalue("_sqlite_template")
    path = tmp_path / f"test-{uuid.uuid4().hex[:8]}.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


def _postgres_url_for(database: str) -> str:
    base = make_engine(POSTGRES_URL).url
    return base.set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory) -> str:
    """The demo hospital, loaded once per test run (a SQLite file or a PostgreSQL database)."""
    from core import demo

    if POSTGRES_URL:
        admin = make_engine(POSTGRES_URL).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("DROP DATABASE IF EXISTS trustpool_demo_template"))
            connection.execute(text("CREATE DATABASE trustpool_demo_template"))
        admin.dispose()
        url = _postgres_url_for("trustpool_demo_template")
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    engine = make_engine(url)
    schema.upgrade(engine)
    demo.load_demo(engine)
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return url


@contextmanager
def _demo_copy(template: str, directory: Path) -> Iterator[str]:
    """A private copy of the demo hospital (a file in `directory`, or a PostgreSQL database
    made from the template), removed afterwards."""
    if POSTGRES_URL:
        name = f"trustpool_demo_{uuid.uuid4().hex[:10]}"
        admin = make_engine(POSTGRES_URL).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name} TEMPLATE trustpool_demo_template"))
        admin.dispose()
        yield normalise_url(_postgres_url_for(name))
        from core.db import dispose_engines

        dispose_engines()
        admin = make_engine(POSTGRES_URL).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
        return
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "demo.db"
    shutil.copyfile(make_engine(template).url.database, path)
    yield f"sqlite:///{path}"


@pytest.fixture
def demo_database_url(_demo_template, tmp_path) -> Iterator[str]:
    """A private copy of the demo hospital for this test."""
    with _demo_copy(_demo_template, tmp_path) as url:
        yield url


@pytest.fixture
def other_demo_database_url(_demo_template, tmp_path) -> Iterator[str]:
    """A second private copy of the demo hospital (the same data versions as the first)."""
    with _demo_copy(_demo_template, tmp_path / "other") as url:
        yield url


@pytest.fixture
def demo_app(demo_database_url, monkeypatch) -> str:
    """Point the app (settings and engine factory) at a private copy of the demo hospital."""
    from core.config import get_settings
    from core.db import dispose_engines

    monkeypatch.setenv("DATABASE_URL", demo_database_url)
    get_settings.cache_clear()
    dispose_engines()
    yield demo_database_url
    get_settings.cache_clear()
    dispose_engines()


@pytest.fixture
def demo_engine(demo_database_url) -> Iterator[Engine]:
    engine = make_engine(demo_database_url)
    yield engine
    engine.dispose()


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
