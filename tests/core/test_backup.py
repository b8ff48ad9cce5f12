"""Backups taken while the app keeps writing are consistent and restore.

A writer thread keeps recording interactions on the demo hospital's leads through the lead
board's service (each transaction: one interaction, the lead's score summary, one audit row)
while `core.backup.backup_database` copies the database. The copy must pass its integrity
check, restore into a new database, and hold the database as it was at one moment: as many
audit rows as interactions written, every lead's score summary equal to its interactions,
and counts between those before and after the copy. SQLite runs in the SQLite suite;
PostgreSQL (pg_dump / pg_restore) in the PostgreSQL suite.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from core import backup
from core.db import make_engine, write_session
from core.models import AuditLog, Interaction, InteractionCreate, Lead
from core.services import leads
from core.services.users import actor_of, get_by_username
from tests.conftest import POSTGRES_URL, _postgres_url_for

DAY = dt.date(2019, 8, 31)
MAX_WRITES = 20_000  # the writer stops by itself even if a test forgets to stop it


class Writer(threading.Thread):
    """Records interactions one transaction at a time until told to stop."""

    def __init__(self, engine: Engine, *, pause: float = 0.005):
        super().__init__(daemon=True)
        self.engine = engine
        self.pause = pause
        self.stop_event = threading.Event()
        self.written = 0
        self.error: BaseException | None = None
        with Session(engine) as session:
            self.actor = actor_of(get_by_username(session, "marketer"))
            self.lead_ids = (
                session.execute(select(Lead.id).order_by(Lead.id).limit(500)).scalars().all()
            )

    def run(self) -> None:
        try:
            while not self.stop_event.is_set() and self.written < MAX_WRITES:
                lead_id = self.lead_ids[self.written % len(self.lead_ids)]
                with write_session(self.engine) as session:
                    leads.record_interaction(
                        session,
                        actor=self.actor,
                        lead_id=lead_id,
                        data=InteractionCreate(kind="download", occurred_on=DAY),
                    )
                self.written += 1
                time.sleep(self.pause)
        except BaseException as error:  # reported by the test
            self.error = error

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=60)
        assert not self.is_alive(), "the writer did not stop"
        assert self.error is None, self.error


def figures(engine: Engine) -> dict[str, int]:
    """The counts that must agree in any consistent copy, read in one statement (one snapshot:
    counts read one statement after another drift apart while the writer runs)."""
    points = (
        select(Interaction.lead_id, func.sum(Interaction.points).label("points"))
        .group_by(Interaction.lead_id)
        .subquery()
    )
    statement = select(
        select(func.count(Interaction.id)).scalar_subquery().label("interactions"),
        select(func.count(AuditLog.id))
        .where(AuditLog.action == "lead.interaction")
        .scalar_subquery()
        .label("audited"),
        select(func.count(Lead.id))
        .outerjoin(points, points.c.lead_id == Lead.id)
        .where(Lead.points_total != func.coalesce(points.c.points, 0))
        .scalar_subquery()
        .label("summaries_off"),
    )
    with Session(engine) as session:
        return dict(session.execute(statement).one()._mapping)


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar()
            for table in SQLModel.metadata.sorted_tables
        }


def assert_consistent_copy(copy: dict, before: dict, after: dict) -> None:
    assert copy["summaries_off"] == 0, "a lead's score summary disagrees with its interactions"
    written = copy["interactions"] - before["interactions"]
    assert copy["audited"] - before["audited"] == written, "audit rows and interactions disagree"
    assert before["interactions"] <= copy["interactions"] <= after["interactions"]


# --- SQLite --------------------------------------------------------------------------------


@pytest.mark.skipif(bool(POSTGRES_URL), reason="the SQLite suite runs this")
def test_a_sqlite_backup_taken_while_writing_is_consistent_and_restores(demo_engine, tmp_path):
    """Three backups of the demo hospital (two backup steps each) while the lead board keeps
    writing; each restores into a new file and holds one moment of the database."""
    assert Path(demo_engine.url.database).stat().st_size > 4096 * 4096  # more than one step
    base = figures(demo_engine)
    writer = Writer(demo_engine)
    writer.start()
    try:
        time.sleep(0.5)
        for n in range(3):
            before = figures(demo_engine)
            started = time.monotonic()
            target = backup.backup_database(demo_engine, tmp_path / f"backup-{n}.db")
            took = time.monotonic() - started
            after = figures(demo_engine)
            assert writer.is_alive() and after["interactions"] > before["interactions"], (
                "the writer must keep writing during the backup"
            )
            assert took < 60
            with sqlite3.connect(target) as check:
                assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            restored = tmp_path / f"restored-{n}.db"
            backup.restore_sqlite(target, restored)
            copy_engine = make_engine(f"sqlite:///{restored}")
            try:
                copy = figures(copy_engine)
                assert_consistent_copy(copy, before, after)
                assert copy["interactions"] > base["interactions"]
                copy_counts = table_counts(copy_engine)
            finally:
                copy_engine.dispose()
            # Tables the writer does not touch are copied whole.
            source_counts = table_counts(demo_engine)
            for name in ("department", "staff", "lead", "member", "points_entry", "consent"):
                assert copy_counts[name] == source_counts[name], name
    finally:
        writer.stop()
    assert writer.written > 0


@pytest.mark.skipif(bool(POSTGRES_URL), reason="the SQLite suite runs this")
def test_a_large_sqlite_database_backs_up_under_steady_writes(demo_engine, tmp_path):
    """A database of a few years' data (here padded to ~120 MB, 30 backup steps) is backed
    up within a minute while the board keeps writing."""
    with demo_engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE padding (x BLOB)")
        connection.exec_driver_sql(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30000) "
            "INSERT INTO padding SELECT randomblob(4000) FROM n"
        )
    writer = Writer(demo_engine, pause=0)
    writer.start()
    done = threading.Event()

    def copy() -> None:
        backup.backup_database(demo_engine, tmp_path / "large.db")
        done.set()

    copier = threading.Thread(target=copy, daemon=True)
    try:
        time.sleep(0.5)
        copier.start()
        finished = done.wait(timeout=30)
    finally:
        writer.stop()
        copier.join(timeout=120)
    assert finished, "the backup did not finish within 30 s of steady writes"


# --- PostgreSQL ----------------------------------------------------------------------------


@pytest.fixture
def fresh_database() -> Iterator:
    """Make empty PostgreSQL databases to restore into (all dropped afterwards)."""
    admin = make_engine(POSTGRES_URL).execution_options(isolation_level="AUTOCOMMIT")
    names: list[str] = []

    def new() -> str:
        name = f"trustpool_restore_{uuid.uuid4().hex[:8]}"
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        names.append(name)
        return _postgres_url_for(name)

    yield new
    with admin.connect() as connection:
        for name in names:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def _pg_restore(backup_file: Path, url: str) -> None:
    plain = make_engine(url).url.set(drivername="postgresql").render_as_string(hide_password=False)
    subprocess.run(
        [shutil.which("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
         f"--dbname={plain}", str(backup_file)],
        check=True, capture_output=True,
    )  # fmt: skip


def _checksums(engine: Engine) -> dict[str, tuple[int, str]]:
    """Per table: row count and an md5 of its rows in primary-key order."""
    out = {}
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            keys = ", ".join(f'"{column.name}"' for column in table.primary_key.columns)
            count, digest = connection.execute(
                text(
                    f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY {keys}), '')) "
                    f'FROM "{table.name}" t'
                )
            ).one()
            out[table.name] = (count, digest)
    return out


@pytest.mark.skipif(not POSTGRES_URL, reason="the PostgreSQL suite runs this")
def test_a_pg_dump_taken_while_writing_restores_consistent_and_equal(
    demo_engine, tmp_path, fresh_database
):
    """pg_dump of the demo hospital while the lead board writes restores (pg_restore) into a
    fresh database holding one moment of it; a dump taken at rest restores equal to the
    source, table by table and row by row."""
    writer = Writer(demo_engine)
    writer.start()
    try:
        time.sleep(0.5)
        before = figures(demo_engine)
        dump = backup.backup_database(demo_engine, tmp_path / "busy.dump")
        after = figures(demo_engine)
        assert after["interactions"] > before["interactions"]
    finally:
        writer.stop()
    url = fresh_database()
    _pg_restore(dump, url)
    restored = make_engine(url)
    try:
        assert_consistent_copy(figures(restored), before, after)
    finally:
        restored.dispose()

    quiet = backup.backup_database(demo_engine, tmp_path / "quiet.dump")
    url = fresh_database()
    _pg_restore(quiet, url)
    restored = make_engine(url)
    try:
        assert _checksums(restored) == _checksums(demo_engine)
        with restored.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        with demo_engine.connect() as connection:
            assert (
                version
                == connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
            )
    finally:
        restored.dispose()
