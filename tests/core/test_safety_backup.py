"""Safe to run in a real hospital, finding 3: backup and restore never lose or mix data.

An administrator restores a backup after the app crashed (a writer killed with SIGKILL, its
-wal file left beside the database) and gets exactly the backup back, checked; a restore while
the app (or another program) still has the database open is refused and changes nothing; a
backup never writes over the live database or an existing file, and a failed backup (here:
the disk fills up) leaves no partial copy of patients' data behind. Every command runs as the
administrator runs it: `python -m core.cli …` in a subprocess with DATABASE_URL set.
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from core.db import make_engine, write_session
from core.models import InteractionCreate, Lead
from core.services import leads
from core.services.users import actor_of, get_by_username
from tests.conftest import POSTGRES_URL

ROOT = Path(__file__).resolve().parents[2]
DAY = dt.date(2019, 8, 31)
sqlite_only = pytest.mark.skipif(bool(POSTGRES_URL), reason="the SQLite suite runs this")
postgres_only = pytest.mark.skipif(not POSTGRES_URL, reason="the PostgreSQL suite runs this")

WRITER = """
import datetime as dt
import sys

from sqlalchemy import select

from core.db import make_engine, write_session
from core.models import InteractionCreate, Lead
from core.services import leads
from core.services.users import actor_of, get_by_username

engine = make_engine(sys.argv[1])
with write_session(engine) as session:
    actor = actor_of(get_by_username(session, "marketer"))
    lead_ids = session.execute(select(Lead.id).order_by(Lead.id).limit(200)).scalars().all()
written = 0
while True:
    with write_session(engine) as session:
        leads.record_interaction(
            session, actor=actor, lead_id=lead_ids[written % len(lead_ids)],
            data=InteractionCreate(kind="download", occurred_on=dt.date(2019, 8, 31)),
        )
    written += 1
    if written == 30:
        print("written", flush=True)
"""

APP_HOLDER = """
import sys, time
from core.db import make_engine
connection = make_engine(sys.argv[1]).connect()
connection.exec_driver_sql("SELECT count(*) FROM lead").scalar()
print("ready", flush=True)
time.sleep(300)
"""

SQLITE3_HOLDER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1])
connection.execute("SELECT count(*) FROM lead").fetchone()
print("ready", flush=True)
time.sleep(300)
"""


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url, "PYTHONDONTWRITEBYTECODE": "1"}


def cli(url: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core.cli", *args],
        cwd=ROOT, env=_env(url), capture_output=True, text=True, timeout=300, **kwargs,
    )  # fmt: skip


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def start(script: str, *args: str) -> subprocess.Popen:
    """A Python child that prints one line when it is under way."""
    child = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=ROOT, env=_env(args[0]), stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout.readline().strip() in ("written", "ready"), "the child did not start"
    return child


def write_then_kill(url: str) -> subprocess.Popen:
    """A writer recording interactions without pause, killed with SIGKILL mid-writing."""
    writer = start(WRITER, url)
    time.sleep(0.3)
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    return writer


def stop(child: subprocess.Popen) -> None:
    child.kill()
    child.wait(timeout=30)


def write_interactions(url: str, count: int) -> None:
    engine = make_engine(url)
    try:
        with write_session(engine) as session:
            actor = actor_of(get_by_username(session, "marketer"))
            lead_id = session.execute(select(Lead.id).order_by(Lead.id)).scalars().first()
            for _ in range(count):
                leads.record_interaction(
                    session,
                    actor=actor,
                    lead_id=lead_id,
                    data=InteractionCreate(kind="download", occurred_on=DAY),
                )
    finally:
        engine.dispose()


def _counting_statement(tables: list[str]) -> str:
    """Every table's row count in one statement (one snapshot)."""
    return "SELECT " + ", ".join(f'(SELECT count(*) FROM "{name}")' for name in tables)


def sqlite_counts(path: Path) -> dict[str, int]:
    with closing(sqlite3.connect(path)) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        counts = connection.execute(_counting_statement(tables)).fetchone()
    return dict(zip(tables, counts, strict=True))


def sqlite_integrity(path: Path) -> str:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]


def pg_counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            tables = (
                connection.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                        "ORDER BY tablename"
                    )
                )
                .scalars()
                .all()
            )
            counts = connection.execute(text(_counting_statement(tables))).one()
    finally:
        engine.dispose()
    return dict(zip(tables, counts, strict=True))


def counts(url: str) -> dict[str, int]:
    if POSTGRES_URL:
        return pg_counts(url)
    return sqlite_counts(Path(make_url(url).database))


def wait_until_alone(url: str) -> None:
    """Until no other session is connected to the database (a killed client's server process
    ends when it notices the closed socket)."""
    engine = make_engine(url)
    try:
        deadline = time.monotonic() + 30
        while True:
            with engine.connect() as connection:
                others = connection.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).scalar()
            if not others or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        engine.dispose()


def kept_files(database: Path) -> list[Path]:
    return sorted(
        path
        for path in database.parent.glob(f"{database.name}.replaced-*")
        if not path.name.endswith(("-wal", "-shm", "-journal"))
    )


# --- restore after a crash ---------------------------------------------------------------


@sqlite_only
def test_finding_3_restore_after_crash_gives_back_exactly_the_backup_on_sqlite(
    demo_database_url, tmp_path
):
    """Backup, then the app keeps writing and is killed (-9) mid-write, leaving its -wal
    file; `restore` gives a database passing its integrity check with exactly the backup's
    rows in every table, and keeps the crashed database (with its last writes) aside."""
    url = demo_database_url
    database = Path(make_url(url).database)
    backup_file = tmp_path / "backups" / "before.db"
    made = cli(url, "backup", str(backup_file))
    assert made.returncode == 0, made.stderr
    assert str(backup_file) in made.stdout and "MB" in made.stdout
    expected = sqlite_counts(backup_file)

    writer = write_then_kill(url)
    wal = Path(f"{database}-wal")
    assert writer.returncode == -signal.SIGKILL
    assert wal.exists() and wal.stat().st_size > 0, "the killed writer leaves its -wal file"

    restored = cli(url, "restore", str(backup_file))
    assert restored.returncode == 0, restored.stderr
    assert sqlite_integrity(database) == "ok"
    assert sqlite_counts(database) == expected

    [kept] = kept_files(database)
    assert str(kept) in restored.stdout
    crashed = sqlite_counts(kept)  # opened with its own -wal: the state at the crash
    assert crashed["interaction"] >= expected["interaction"] + 30
    assert sqlite_integrity(kept) == "ok"


@postgres_only
def test_finding_3_restore_after_crash_gives_back_exactly_the_backup_on_postgresql(
    demo_database_url, tmp_path
):
    """pg_dump backup, then a writer killed (-9) mid-write; `restore` (pg_restore) gives
    back exactly the backup's rows in every table."""
    url = demo_database_url
    backup_file = tmp_path / "backups" / "before.dump"
    expected = pg_counts(url)
    made = cli(url, "backup", str(backup_file))
    assert made.returncode == 0, made.stderr
    assert str(backup_file) in made.stdout and "MB" in made.stdout
    assert pg_counts(url) == expected, "nothing wrote during the backup: it holds these rows"

    writer = write_then_kill(url)
    assert writer.returncode == -signal.SIGKILL
    assert pg_counts(url)["interaction"] >= expected["interaction"] + 30
    wait_until_alone(url)

    restored = cli(url, "restore", str(backup_file))
    assert restored.returncode == 0, restored.stderr
    assert pg_counts(url) == expected


# --- restore refuses while the database is in use --------------------------------------------


@sqlite_only
@pytest.mark.parametrize("holder", [APP_HOLDER, SQLITE3_HOLDER], ids=["the_app", "a_sqlite3_shell"])
def test_finding_3_restore_refuses_while_another_process_holds_the_database(
    demo_database_url, tmp_path, holder
):
    """While the app (or a sqlite3 shell) has the database open, `restore` refuses with one
    line saying to stop the app first, and the database keeps its later writes."""
    url = demo_database_url
    database = Path(make_url(url).database)
    backup_file = tmp_path / "before.db"
    assert cli(url, "backup", str(backup_file)).returncode == 0
    write_interactions(url, 5)
    before = sqlite_counts(database)
    assert before != sqlite_counts(backup_file)

    child = start(holder, str(database) if holder is SQLITE3_HOLDER else url)
    try:
        refused = cli(url, "restore", str(backup_file))
    finally:
        stop(child)
    assert "stop the app first" in one_line_error(refused)
    assert sqlite_counts(database) == before
    assert kept_files(database) == []


@postgres_only
def test_finding_3_restore_refuses_while_other_sessions_are_connected_on_postgresql(
    demo_database_url, tmp_path
):
    """While another session is connected, `restore` refuses and changes nothing; with
    `--force` it restores the backup."""
    url = demo_database_url
    backup_file = tmp_path / "before.dump"
    expected = pg_counts(url)
    assert cli(url, "backup", str(backup_file)).returncode == 0
    write_interactions(url, 5)
    before = pg_counts(url)
    assert before != expected

    app = make_engine(url)
    try:
        with app.connect() as connection:
            connection.execute(text("SELECT 1"))
            refused = cli(url, "restore", str(backup_file))
            assert "stop the app first" in one_line_error(refused)
            assert pg_counts(url) == before
            forced = cli(url, "restore", "--force", str(backup_file))
            assert forced.returncode == 0, forced.stderr
    finally:
        app.dispose()
    assert pg_counts(url) == expected


# --- backup never writes over the database or another file ----------------------------------


@sqlite_only
@pytest.mark.parametrize("how", ["the_path", "a_symlink", "its_wal_file"])
def test_finding_3_backup_refuses_the_live_database(demo_database_url, tmp_path, how):
    """`backup` onto the live database (by its path, a symlink, or its -wal file) is refused
    with one line; the database keeps every row and passes its integrity check."""
    url = demo_database_url
    database = Path(make_url(url).database)
    target = {
        "the_path": database,
        "a_symlink": tmp_path / "link.db",
        "its_wal_file": Path(f"{database}-wal"),
    }[how]
    if how == "a_symlink":
        target.symlink_to(database)
    write_interactions(url, 5)
    before = sqlite_counts(database)
    refused = cli(url, "backup", str(target))
    assert "live database" in one_line_error(refused)
    write_interactions(url, 1)
    assert sqlite_integrity(database) == "ok"
    after = sqlite_counts(database)
    assert after["interaction"] == before["interaction"] + 1


def test_finding_3_backup_refuses_an_existing_file_without_force(demo_database_url, tmp_path):
    """`backup` onto an existing file is refused (the file is left as it was); with
    `--force` the file is replaced by the backup."""
    url = demo_database_url
    folder = tmp_path / "backups"
    folder.mkdir()
    target = folder / "backup.db"
    target.write_bytes(b"last week's backup")
    refused = cli(url, "backup", str(target))
    assert "--force" in one_line_error(refused)
    assert target.read_bytes() == b"last week's backup"
    assert [path.name for path in folder.iterdir()] == ["backup.db"]

    replaced = cli(url, "backup", "--force", str(target))
    assert replaced.returncode == 0, replaced.stderr
    magic = b"PGDMP" if POSTGRES_URL else b"SQLite format 3\x00"
    assert target.read_bytes()[: len(magic)] == magic


def _disk_fills_up() -> None:
    """In the child: files may not grow past 256 KB (writes fail with EFBIG, as on a full
    disk, instead of the process being killed)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))


def test_finding_3_a_failed_backup_leaves_no_partial_file(demo_database_url, tmp_path):
    """When the disk fills up during a backup (SQLite copy or pg_dump), `backup` fails with
    one line and leaves nothing in the backup folder; the next backup works."""
    url = demo_database_url
    folder = tmp_path / "backups"
    folder.mkdir()
    target = folder / "today.db"
    failed = cli(url, "backup", str(target), preexec_fn=_disk_fills_up)
    one_line_error(failed)
    assert list(folder.iterdir()) == []
    assert counts(url)["interaction"] > 0

    made = cli(url, "backup", str(target))
    assert made.returncode == 0, made.stderr
    assert [path.name for path in folder.iterdir()] == ["today.db"]
    assert target.stat().st_size > 256 * 1024


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_finding_3_the_admin_backup_tab_reports_a_failed_backup_and_keeps_no_file(
    demo_app, monkeypatch, lang
):
    """The admin clicks "Make a backup now" and the disk fills up: the tab says in the
    admin's language that no backup was made and nothing partial was left, and offers no
    download."""
    from core import backup
    from core.ui import admin as admin_ui
    from tests.pages.apptest import open_page, texts

    def disk_full(_source, temporary):
        Path(temporary).write_bytes(b"half a copy")
        raise (sqlite3.OperationalError if not POSTGRES_URL else OSError)(
            "database or disk is full"
        )

    monkeypatch.setattr(backup, "_pg_dump" if POSTGRES_URL else "_copy_sqlite", disk_full)
    at = open_page("pages/8_Admin.py", username="admin", lang=lang)
    at.session_state["admin_tab"] = [tab.label for tab in at.tabs][admin_ui.TABS.index("backup")]
    at.run()
    at.button(key="backup_prepare").click().run()
    assert not at.exception
    shown = texts(at)
    expected = (
        "The backup was not made: the copy failed and no partial file was left"
        if lang == "en"
        else "未生成备份:复制失败,未留下不完整的文件"
    )
    assert expected in shown and "database or disk is full" in shown
    assert not at.get("download_button")
