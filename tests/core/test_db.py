"""The engine factory: WAL, foreign keys, and writers that queue instead of losing updates."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlmodel import select

from core.db import make_engine, read_session, write_session
from core.models import Department, Reward
from tests.concurrency import LockWaiters, run_together
from tests.conftest import on_postgres


@pytest.mark.skipif(on_postgres(), reason="SQLite pragmas")
def test_sqlite_runs_in_wal_mode_with_foreign_keys(database_url):
    engine = make_engine(database_url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_eight_threads_read_then_write_without_losing_an_update(engine):
    """Each write session holds the write lock from its start, so no increment is lost.
    The eight threads start together, and the first session keeps its transaction open until
    the seven others are seen waiting for its lock, so they really do queue."""
    with write_session(engine) as session:
        session.add(Reward(name="Thermos", points_cost=100, stock=0))
    threads, per_thread = 8, 25

    def work():
        for _ in range(per_thread):
            with write_session(engine) as session:
                reward = session.exec(select(Reward)).one()
                if on_postgres():
                    session.refresh(reward, with_for_update=True)
                reward.stock += 1
                session.add(reward)
                assert waiting.wait_for(threads - 1), "the other threads never waited"

    with LockWaiters(engine) as waiting:
        run_together(*[work] * threads)
    assert waiting.most == threads - 1
    with read_session(engine) as session:
        assert session.exec(select(Reward)).one().stock == threads * per_thread


def test_a_failed_write_session_leaves_nothing_behind(engine):
    with pytest.raises(RuntimeError), write_session(engine) as session:
        session.add(Department(code="X1", name="Half-written"))
        session.flush()
        raise RuntimeError("boom")
    with read_session(engine) as session:
        assert session.exec(select(Department).where(Department.code == "X1")).first() is None


def test_reads_do_not_block_a_writer(engine):
    with read_session(engine) as reader:
        reader.exec(text("SELECT 1")).all()
        with write_session(engine) as writer:
            writer.add(Department(code="X2", name="Written while reading"))
    with read_session(engine) as session:
        assert session.exec(select(Department).where(Department.code == "X2")).first()
