"""The command line's foundation commands: init, user add, backup — and one-line errors."""

from __future__ import annotations

import sqlite3

import pytest
from sqlmodel import Session, select

from core.cli import main
from core.db import make_engine
from core.models import AppUser, Department
from core.services import users
from tests.conftest import on_postgres


def test_init_is_idempotent(app_database, capsys):
    assert main(["init"]) == 0
    assert main(["init"]) == 0
    assert "schema is up to date" in capsys.readouterr().out


def test_user_add_creates_a_hashed_login_from_the_environment(app_database, monkeypatch):
    monkeypatch.setenv("TRUSTPOOL_PASSWORD", "a-long-secret-1")
    engine = make_engine(app_database)
    with Session(engine) as session:
        session.add(Department(code="NSK", name="内三科"))
        session.commit()
    assert main(["user", "add", "zhang", "--role", "dept_head", "--department", "NSK"]) == 0
    with Session(engine) as session:
        user = session.exec(select(AppUser).where(AppUser.username == "zhang")).one()
        assert user.role == "dept_head" and user.department_id is not None
        assert users.verify_password("a-long-secret-1", user.password_hash)
    engine.dispose()


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["user", "add", "li", "--role", "staff", "--staff", "NOPE"], "no staff member"),
        (["user", "add", "li", "--role", "dept_head", "--department", "NOPE"], "no department"),
        (["user", "add", "li", "--role", "marketer"], "at least 10 characters"),
    ],
)
def test_user_add_errors_are_one_line(app_database, monkeypatch, capsys, argv, reason):
    monkeypatch.setenv("TRUSTPOOL_PASSWORD", "short")
    if "marketer" not in argv:
        monkeypatch.setenv("TRUSTPOOL_PASSWORD", "a-long-secret-1")
    assert main(argv) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and reason in err


def test_user_add_without_a_password_and_no_terminal_refuses(app_database, monkeypatch, capsys):
    monkeypatch.delenv("TRUSTPOOL_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["user", "add", "li", "--role", "marketer"]) == 1
    assert "TRUSTPOOL_PASSWORD" in capsys.readouterr().err


@pytest.mark.skipif(on_postgres(), reason="the SQLite file backup; PostgreSQL uses pg_dump")
def test_backup_writes_a_consistent_copy(app_database, tmp_path):
    engine = make_engine(app_database)
    with Session(engine) as session:
        session.add(Department(code="FCK", name="妇产科"))
        session.commit()
    engine.dispose()
    target = tmp_path / "copy.db"
    assert main(["backup", str(target)]) == 0
    copy = sqlite3.connect(target)
    assert copy.execute("select name from department").fetchall() == [("妇产科",)]
    copy.close()
