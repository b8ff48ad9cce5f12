"""Data versions (issue 21): several app processes behind one load balancer each keep their own
caches, so every write bumps the version of the subjects it changed, in its own transaction,
and every process reads the versions to know its cached answers are stale.

A "second process" here is a second engine on the same database (its own connections), and
once a real separate interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import Session

from core import data_version
from core.cli import main
from core.db import make_engine, read_session, write_session
from core.importer import KINDS
from core.models import DataVersion
from tests.factories import make_member, make_points

ROOT = Path(__file__).resolve().parents[2]


def _versions(engine) -> dict[str, int]:
    with read_session(engine) as session:
        return dict(data_version.read(session))


def test_a_write_bumps_only_its_subjects_and_another_engine_sees_it(database_url):
    """A redemption saved in one process bumps "members" (and nothing else); a second process
    — its own engine and connections — reads the new version at once."""
    first, second = make_engine(database_url), make_engine(database_url)
    try:
        before = _versions(second)
        with write_session(first) as session:
            data_version.bump(session, ("members",))
        after = _versions(second)
        assert after["members"] > before.get("members", -1)
        assert {k: v for k, v in after.items() if k != "members"} == {
            k: v for k, v in before.items() if k != "members"
        }
    finally:
        first.dispose()
        second.dispose()


def test_a_write_that_fails_bumps_nothing(engine):
    """A refused write is rolled back with its bump: no process throws its caches away."""
    before = _versions(engine)
    with pytest.raises(RuntimeError), write_session(engine) as session:
        data_version.bump(session, ("leads", "members"))
        raise RuntimeError("refused")
    assert _versions(engine) == before


def test_versions_only_grow_even_past_a_restored_backup(engine):
    """A restored backup carries older versions; the next bump is still newer than any
    version a running process may have cached (never below the clock, in milliseconds)."""
    with write_session(engine) as session:
        data_version.bump(session, ("leads",))
    cached_by_some_process = _versions(engine).get("leads", 0)
    with write_session(engine) as session:  # what a restore of an old backup leaves
        session.get(DataVersion, "leads").version = 3
    with write_session(engine) as session:
        data_version.bump(session, ("leads",))
    assert _versions(engine).get("leads", 0) > cached_by_some_process
    with write_session(engine) as session:
        data_version.bump(session, ("leads",))
        data_version.bump(session, ("leads",))
    assert _versions(engine).get("leads", 0) >= cached_by_some_process + 2


def test_an_unknown_subject_is_refused(engine):
    with pytest.raises(ValueError, match="unknown data subjects"), write_session(engine) as s:
        data_version.bump(s, ("lead",))


def test_every_import_kind_names_its_subjects():
    """An import of any kind bumps what it changed (none falls back to a guess)."""
    assert set(data_version.IMPORT_SUBJECTS) == set(KINDS)
    for subjects in data_version.IMPORT_SUBJECTS.values():
        assert set(subjects) <= data_version.SUBJECTS


def test_a_cli_import_and_a_cli_write_bump_for_the_app_processes(
    app_database, tmp_path, monkeypatch
):
    """An import from the command line changes what the app's processes have cached: it
    bumps "members"; `user add` bumps "users". Both seen from another engine."""
    engine = make_engine(app_database)
    with Session(engine, expire_on_commit=False) as session:
        member = make_member(session, member_no="VIP-7")
        make_points(session, member=member, kind="spend", points=300)
        session.commit()
    try:
        assert main(["init"]) == 0
        before = _versions(engine).get("members", 0)
        members = tmp_path / "members.csv"
        members.write_text(
            "member_no,name,joined_on,phone,birthday,lead_ref,referred_by_member_no\n"
            "M-1,Zhao Lei,2019-06-12,13900000001,1980-04-01,,\n",
            encoding="utf-8",
        )
        assert main(["import", "members", str(members)]) == 0
        imported = _versions(engine).get("members", 0)
        assert imported > before
        users = _versions(engine).get("users", 0)
        monkeypatch.setenv("TRUSTPOOL_PASSWORD", "a-long-secret-1")
        assert main(["user", "add", "zhang", "--role", "executive"]) == 0
        after = _versions(engine)
        assert after.get("users", 0) > users and after["members"] == imported
    finally:
        engine.dispose()


def test_another_interpreter_sees_a_write(database_url):
    """A real second process (a separate Python) reads the version this one wrote."""
    engine = make_engine(database_url)
    try:
        with write_session(engine) as session:
            data_version.bump(session, ("campaigns",))
        written = _versions(engine).get("campaigns", 0)
        probe = (
            "import json; from core import data_version; from core.db import make_engine, "
            "read_session\nwith read_session(make_engine(__import__('sys').argv[1])) as s:\n"
            "    print(json.dumps(dict(data_version.read(s))))"
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        started = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-c", probe, database_url],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
        assert json.loads(out)["campaigns"] == written
        assert time.monotonic() - started < 120
    finally:
        engine.dispose()
