"""Safe to run in a real hospital, finding 5: a large import on SQLite holds the database's
one write lock only in short slices, so a sign-in during the import's write waits well under
a second, and the file still lands completely or leaves nothing behind — after a failure in
any chunk, and after the process is killed mid-write (the next start-up cleans up).

PostgreSQL writes a file in one transaction (its row locks keep sign-ins from waiting), so
these tests run on SQLite only. Chunks are made small here (500 rows) so a few thousand rows
make several of them; `importer._chunk_hook` tells the test where the import is."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, SQLModel, func, select

from core import importer
from core.cli import main
from core.db import make_engine, write_session
from core.domain import Role
from core.models import (
    AppUser,
    AuditLog,
    ImportBatch,
    Interaction,
    InteractionCreate,
    Lead,
    LoginSession,
)
from core.permissions import Actor
from core.services import leads as leads_service
from core.services import ownership, users
from core.services import settings as settings_service
from tests.conftest import on_postgres
from tests.factories import make_department, make_staff, make_user

pytestmark = pytest.mark.skipif(
    on_postgres(), reason="PostgreSQL writes an import in one transaction (row locks)"
)
ROOT = Path(__file__).resolve().parents[2]
CHUNK_ROWS = 500


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(importer, "FIRST_CHUNK_ROWS", CHUNK_ROWS)
    monkeypatch.setattr(importer, "MAX_CHUNK_ROWS", CHUNK_ROWS)


def _hospital(database_url: str, leads: int = 0) -> tuple[str, str]:
    """Default settings, a department, a staff member, an admin account and `leads` leads
    L0..L{leads-1} created 2019-01-01; (staff_no, username)."""
    engine = make_engine(database_url)
    with Session(engine) as session:
        settings_service.ensure_defaults(session)
        staff = make_staff(session, department=make_department(session))
        user = make_user(session, role=Role.admin)
        session.commit()
        names = staff.staff_no, user.username
    engine.dispose()
    if leads:
        rows = "".join(f"L{i},Lead {i},{names[0]},2019-01-01\n" for i in range(leads))
        content = ("lead_ref,name,owner_staff_no,created_on\n" + rows).encode()
        importer.run_import(actor=Actor.system(), kind="leads", content=content)
    return names


def _leads_csv(staff_no: str, count: int, prefix: str = "LK") -> bytes:
    rows = "".join(f"{prefix}{i},Name {i},{staff_no},2019-06-02\n" for i in range(count))
    return ("lead_ref,name,owner_staff_no,created_on\n" + rows).encode()


def _interactions_csv(count: int, leads: int) -> bytes:
    kinds = ("browse_news", "download", "event_signup")
    rows = "".join(
        f"L{(i * 7) % leads},{kinds[i % 3]},{dt.date(2019, 2, 1) + dt.timedelta(i % 90)},\n"
        for i in range(count)
    )
    return ("lead_ref,kind,occurred_on,points\n" + rows).encode()


def _snapshot(database_url: str) -> dict[str, list[tuple]]:
    """Every row of every table, in id order."""
    engine = make_engine(database_url)
    with engine.connect() as connection:
        tables = {
            table.name: [
                tuple(row)
                for row in connection.execute(text(f'SELECT * FROM "{table.name}" ORDER BY 1'))
            ]
            for table in SQLModel.metadata.sorted_tables
        }
    engine.dispose()
    return tables


def _lock_files(database_url: str) -> list[Path]:
    database = Path(make_engine(database_url).url.database)
    return sorted(database.parent.glob(f"{database.name}.import-*.lock"))


def _sign_in(username: str) -> list[float]:
    """A sign-in's database writes (a failed attempt, then a successful one), each in its own
    write transaction as the login form does; the seconds each took."""
    waits = []
    started = time.perf_counter()
    with write_session() as session:
        users.record_login_failure(session, username=username)
    waits.append(time.perf_counter() - started)
    started = time.perf_counter()
    with write_session() as session:
        users.start_session(session, user=users.get_by_username(session, username))
    waits.append(time.perf_counter() - started)
    return waits


def _batch(database_url: str) -> ImportBatch | None:
    engine = make_engine(database_url)
    with Session(engine) as session:
        batch = session.exec(select(ImportBatch).order_by(ImportBatch.id.desc())).first()
    engine.dispose()
    return batch


def test_finding_5_sign_in_waits_little_during_an_import_write(
    app_database, small_chunks, monkeypatch
):
    """An admin imports 6,000 leads. A user signs in while the import is writing: the
    sign-in starts while the import's second chunk holds the write lock, and both of its
    writes go through before the import has written its sixth chunk (the test holds the
    import there until the sign-in is done), each waiting well under a second. The import
    then lands completely: 6,000 leads, one audit row, and a second import of the same file
    is refused."""
    staff_no, username = _hospital(app_database)
    content = _leads_csv(staff_no, 6_000)
    in_chunk, sign_in_started, signed_in = threading.Event(), threading.Event(), threading.Event()
    held_mid_write: list[ImportBatch | None] = []

    def hook(event: str, number: int) -> None:
        if event == "in_chunk" and number == 2:  # inside the chunk's transaction
            in_chunk.set()
            assert sign_in_started.wait(30)
        if event == "between" and number == 6:
            assert signed_in.wait(30)
            held_mid_write.append(_batch(app_database))

    monkeypatch.setattr(importer, "_chunk_hook", hook)
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["report"] = importer.run_import(
                actor=Actor.system(), kind="leads", content=content, filename="leads.csv"
            )
        except BaseException as error:  # shown by the assertions below
            outcome["error"] = error
            in_chunk.set()

    importing = threading.Thread(target=run)
    importing.start()
    waits: list[float] = []
    try:
        assert in_chunk.wait(60), "the import never reached its second chunk"
        sign_in_started.set()
        waits.extend(_sign_in(username))
        signed_in.set()
    finally:
        sign_in_started.set()
        signed_in.set()
        importing.join(120)
    print(f"\n[sign-in during an import's write] waits: {', '.join(f'{w:.3f} s' for w in waits)}")
    assert "error" not in outcome, outcome.get("error")
    # Overlap: when the sign-in was done, the import was still writing (chunk 6 of 12).
    assert held_mid_write and held_mid_write[0].status == "writing"
    recorded = [name for name, _first, _last in json.loads(held_mid_write[0].chunks)]
    assert recorded == ["lead", "ownership_period"] * 6  # each chunk: leads, their periods
    assert max(waits) < 1
    assert outcome["report"].rows == 6_000
    engine = make_engine(app_database)
    with Session(engine) as session:
        leads = session.exec(select(func.count()).where(Lead.lead_ref.like("LK%"))).one()
        user = session.exec(select(AppUser).where(AppUser.username == username)).one()
        logins = session.exec(select(LoginSession).where(LoginSession.user_id == user.id)).all()
        audited = session.exec(select(AuditLog).where(AuditLog.action == "import")).all()
        batch = session.get(ImportBatch, outcome["report"].batch_id)
    engine.dispose()
    assert leads == 6_000 and len(logins) == 1
    assert [json.loads(row.detail)["rows"] for row in audited] == [6_000]
    assert batch.status == "done" and batch.chunks is None
    assert _lock_files(app_database) == []
    with pytest.raises(importer.ImportFailed, match="already imported"):
        importer.run_import(actor=Actor.system(), kind="leads", content=content)


def test_finding_5_a_killed_import_leaves_nothing(app_database, tmp_path):
    """`python -m core.cli import interactions FILE` is killed (SIGKILL) after it has
    committed two chunks of its 3,000 rows (they are in the database). The next start-up
    (`python -m core.cli init`, or the app's first page) removes them: every table is
    row-for-row as before the import, and the same file then imports in full."""
    _hospital(app_database, leads=300)
    path = tmp_path / "interactions.csv"
    path.write_bytes(_interactions_csv(3_000, 300))
    before = _snapshot(app_database)
    script = (
        "import sys, threading\n"
        "from core import importer\n"
        "from core.cli import main\n"
        f"importer.FIRST_CHUNK_ROWS = importer.MAX_CHUNK_ROWS = {CHUNK_ROWS}\n"
        "def hook(event, number):\n"
        "    if event == 'between' and number == 2:\n"
        "        print('two chunks committed', flush=True)\n"
        "        threading.Event().wait()\n"
        "importer._chunk_hook = hook\n"
        "sys.exit(main(['import', 'interactions', sys.argv[1]]))\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(path)],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": app_database, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.strip() == "two chunks committed", process.stderr.read()
        batch = _batch(app_database)
        assert batch.status == "writing" and len(json.loads(batch.chunks)) == 2
        written = _snapshot(app_database)
        assert len(written["interaction"]) == len(before["interaction"]) + 2 * CHUNK_ROWS
        os.kill(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)
    assert process.returncode == -signal.SIGKILL
    assert _snapshot(app_database)["interaction"] == written["interaction"]  # still there

    assert main(["init"]) == 0  # the start-up clean-up
    assert _snapshot(app_database) == before
    assert _lock_files(app_database) == []
    report = importer.run_import(
        actor=Actor.system(), kind="interactions", path=path, engine=make_engine(app_database)
    )
    assert report.rows == 3_000 and _batch(app_database).status == "done"


def test_finding_5_a_failure_in_a_later_chunk_removes_the_earlier_chunks(
    app_database, small_chunks, monkeypatch
):
    """An import of 3,000 leads fails in its fourth chunk (after three were committed): the
    three chunks' leads are removed again and every table is row-for-row as before; the
    file is not marked as imported, so it can be imported again, in full."""
    staff_no, _ = _hospital(app_database)
    content = _leads_csv(staff_no, 3_000)
    before = _snapshot(app_database)
    committed: list[int] = []

    def hook(event: str, number: int) -> None:
        if event == "between":
            committed.append(number)
        if event == "in_chunk" and number == 4:
            raise RuntimeError("disk full")

    monkeypatch.setattr(importer, "_chunk_hook", hook)
    with pytest.raises(RuntimeError, match="disk full"):
        importer.run_import(actor=Actor.system(), kind="leads", content=content)
    assert committed == [1, 2, 3]
    assert _snapshot(app_database) == before
    assert _lock_files(app_database) == []
    monkeypatch.setattr(importer, "_chunk_hook", None)
    report = importer.run_import(actor=Actor.system(), kind="leads", content=content)
    assert report.rows == 3_000
    assert len(_snapshot(app_database)["lead"]) == 3_000


def test_finding_5_an_interaction_recorded_between_chunks_is_scored_with_the_import(
    app_database, small_chunks, monkeypatch
):
    """While 3,000 interactions are being imported, a marketer records one more on lead L0
    between two chunks. Both land: L0's score summary counts the imported interactions and
    the one recorded by hand."""
    _hospital(app_database, leads=300)
    content = _interactions_csv(3_000, 300)
    recorded: list[int] = []

    def hook(event: str, number: int) -> None:
        if event == "between" and number == 2:
            with write_session() as session:
                lead = session.exec(select(Lead).where(Lead.lead_ref == "L0")).one()
                leads_service.record_interaction(
                    session, actor=Actor.system(), lead_id=lead.id,
                    data=InteractionCreate(kind="event_attend", occurred_on=dt.date(2019, 12, 1)),
                )  # fmt: skip
                recorded.append(lead.id)

    monkeypatch.setattr(importer, "_chunk_hook", hook)
    report = importer.run_import(actor=Actor.system(), kind="interactions", content=content)
    assert report.rows == 3_000 and recorded
    engine = make_engine(app_database)
    with Session(engine) as session:
        lead = session.get(Lead, recorded[0])
        points = session.exec(
            select(func.sum(Interaction.points)).where(Interaction.lead_id == lead.id)
        ).one()
        count = session.exec(
            select(func.count()).where(Interaction.lead_id == lead.id)
        ).one()  # fmt: skip
    engine.dispose()
    assert count == 10 + 1  # L0 is every 300th row of the file (i * 7 % 300 == 0)
    assert lead.last_interaction_on == dt.date(2019, 12, 1)
    assert lead.points_total == points


def test_finding_5_a_lead_used_meanwhile_survives_a_failed_import(
    app_database, small_chunks, monkeypatch
):
    """An import of 3,000 leads writes its first chunk; a marketer records an interaction
    on one of those leads; the import then fails. Its other leads are removed, but the lead
    the marketer worked on stays, with the interaction (no one's work is deleted), and the
    audit log says which rows the undo kept."""
    staff_no, _ = _hospital(app_database)
    content = _leads_csv(staff_no, 3_000)

    def hook(event: str, number: int) -> None:
        if event == "between" and number == 1:
            with write_session() as session:
                lead = session.exec(select(Lead).where(Lead.lead_ref == "LK7")).one()
                leads_service.record_interaction(
                    session, actor=Actor.system(), lead_id=lead.id,
                    data=InteractionCreate(kind="event_attend", occurred_on=dt.date(2019, 12, 1)),
                )  # fmt: skip
        if event == "in_chunk" and number == 3:
            raise RuntimeError("disk full")

    monkeypatch.setattr(importer, "_chunk_hook", hook)
    with pytest.raises(RuntimeError, match="disk full"):
        importer.run_import(actor=Actor.system(), kind="leads", content=content)
    after = _snapshot(app_database)
    engine = make_engine(app_database)
    with Session(engine) as session:
        refs = session.exec(select(Lead.lead_ref)).all()
        kept = session.exec(select(AuditLog).where(AuditLog.action == "import_undo_kept")).all()
    engine.dispose()
    assert refs == ["LK7"]
    assert len(after["interaction"]) == 1 and after["import_batch"] == []
    assert [json.loads(row.detail)["rows"] for row in kept] == [1]


def test_finding_5_a_start_up_leaves_a_running_import_alone(
    app_database, small_chunks, monkeypatch
):
    """While an import of 3,000 leads is between two chunks (its batch still `writing`),
    another process starts up and runs the clean-up: it sees the import's writer is alive
    (its lock file is held), leaves the batch alone, and the import lands in full."""
    staff_no, _ = _hospital(app_database)
    content = _leads_csv(staff_no, 3_000)
    cleaned: list[int] = []

    def hook(event: str, number: int) -> None:
        if event == "between" and number == 2:
            cleaned.append(importer.clean_up_imports(make_engine(app_database)))
            cleaned.append(_batch(app_database).status)

    monkeypatch.setattr(importer, "_chunk_hook", hook)
    report = importer.run_import(actor=Actor.system(), kind="leads", content=content)
    assert cleaned == [0, "writing"]
    assert report.rows == 3_000 and len(_snapshot(app_database)["lead"]) == 3_000
    assert _batch(app_database).status == "done"


def test_finding_5_an_import_killed_while_rescoring_is_rescored_at_start_up(app_database, tmp_path):
    """`python -m core.cli import interactions FILE` has written all 3,000 rows and is
    rescoring the leads (in short transactions) when it is killed. The rows stay (the file
    was imported); the next start-up finishes the rescoring: every lead's points total is
    the sum of its interactions' points, and the batch is done."""
    _hospital(app_database, leads=300)
    path = tmp_path / "interactions.csv"
    path.write_bytes(_interactions_csv(3_000, 300))
    script = (
        "import sys, threading\n"
        "from core import importer\n"
        "from core.cli import main\n"
        "importer.FIRST_RESCORE_LEADS = importer.MAX_CHUNK_ROWS = 50\n"
        "original, calls = importer.rescore_leads, []\n"
        "def rescore(*args, **kwargs):\n"
        "    calls.append(1)\n"
        "    if len(calls) == 2:  # the first chunk of leads is committed\n"
        "        print('rescoring', flush=True)\n"
        "        threading.Event().wait()\n"
        "    return original(*args, **kwargs)\n"
        "importer.rescore_leads = rescore\n"
        "sys.exit(main(['import', 'interactions', sys.argv[1]]))\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(path)],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": app_database, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.strip() == "rescoring", process.stderr.read()
        os.kill(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)
    assert process.returncode == -signal.SIGKILL

    def unscored() -> int:
        engine = make_engine(app_database)
        with Session(engine) as session:
            sums = (
                select(Interaction.lead_id, func.sum(Interaction.points).label("points"))
                .group_by(Interaction.lead_id)
                .subquery()
            )
            count = session.exec(
                select(func.count())
                .select_from(Lead)
                .join(sums, sums.c.lead_id == Lead.id)
                .where(Lead.points_total != sums.c.points)
            ).one()
        engine.dispose()
        return count

    assert _batch(app_database).status == "scoring" and unscored() > 0
    assert len(_snapshot(app_database)["interaction"]) == 3_000
    assert main(["init"]) == 0  # the start-up
    assert unscored() == 0
    assert _batch(app_database).status == "done"
    assert _lock_files(app_database) == []


def test_finding_5_a_change_made_between_chunks_is_caught_under_the_write_lock(
    app_database, small_chunks, monkeypatch
):
    """3,000 interactions are being imported; after the first chunk is written, an admin
    corrects lead L0's creation date to 2019-12-31 (after every interaction of the file).
    The next chunk holding an L0 row re-reads L0 under the write lock, sees the change, the
    rows written so far are removed and the file is checked again: it is refused (an
    interaction before its lead was created) and nothing of it is in the database."""
    _hospital(app_database, leads=300)
    content = _interactions_csv(3_000, 300)
    before = _snapshot(app_database)

    def hook(event: str, number: int) -> None:
        if event == "between" and number == 1:
            with write_session() as session:
                lead = session.exec(select(Lead).where(Lead.lead_ref == "L0")).one()
                lead.created_on = dt.date(2019, 12, 31)

    monkeypatch.setattr(importer, "_chunk_hook", hook)
    with pytest.raises(importer.ImportRejected) as refused:
        importer.run_import(actor=Actor.system(), kind="interactions", content=content)
    assert refused.value.errors[0].key == "importer.before_created"
    after = _snapshot(app_database)
    assert after["interaction"] == before["interaction"] == []
    assert after["import_batch"] == before["import_batch"]
    assert after["audit_log"] == before["audit_log"]


# --- credit (SPEC §8) in a chunked leads import ---------------------------------------------

EXISTING = 20  # leads E0..E19, with phones, held by staff A since 2019-01-01


def _credit_hospital(database_url: str) -> None:
    """Staff A, B and C, and EXISTING leads of A (phones 1370000000i, created 2019-01-01),
    imported in one transaction."""
    engine = make_engine(database_url)
    with Session(engine) as session:
        settings_service.ensure_defaults(session)
        ward = make_department(session)
        for staff_no in ("A", "B", "C"):
            make_staff(session, department=ward, staff_no=staff_no, name=f"Nurse {staff_no}")
        session.commit()
    rows = "".join(f"E{i},Old {i},{13700000000 + i},A,2019-01-01\n" for i in range(EXISTING))
    content = ("lead_ref,name,phone,owner_staff_no,created_on\n" + rows).encode()
    importer.run_import(actor=Actor.system(), kind="leads", content=content, engine=engine)
    engine.dispose()


def _colliding_leads_csv(count: int) -> bytes:
    """`count` leads of B, created 2019-06-02, with phones of their own, except: E0..E9's
    phones on rows spread over the file, dated 2019-01-20 (inside A's 30-day protection:
    touches); E10..E19's phones, dated 2019-06-02 (protection lapsed: claims); and two
    same-file pairs whose second row, near the end, is C's: N50's phone on 2019-06-10 (a
    touch of the lead the file creates on row 50) and N60's (created 2019-01-05) on
    2019-06-10 (a claim of it)."""
    rows = []
    for i in range(count):
        phone, owner, created = 13900000000 + i, "B", "2019-06-02"
        if i % 140 == 7 and i // 140 < EXISTING:  # rows 7, 147, ..., 2667
            phone = 13700000000 + i // 140
            created = "2019-01-20" if i // 140 < 10 else "2019-06-02"
        elif i == 60:
            created = "2019-01-05"
        elif i in (count - 50, count - 60):
            phone, owner, created = 13900000000 + count - i, "C", "2019-06-10"
        rows.append(f"N{i},Name {i},{phone},{owner},{created}\n")
    return ("lead_ref,name,phone,owner_staff_no,created_on\n" + "".join(rows)).encode()


def _credit_state(database_url: str) -> dict[str, list[tuple]]:
    """What the collisions and the new leads left, by ref and staff number (not by id)."""
    engine = make_engine(database_url)
    queries = {
        "leads": "SELECT l.lead_ref, s.staff_no, l.person_key, l.version, l.active FROM lead l "
        "JOIN staff s ON s.id = l.owner_staff_id",
        "periods": "SELECT l.lead_ref, s.staff_no, p.from_on, p.to_on, p.how FROM "
        "ownership_period p JOIN lead l ON l.id = p.lead_id JOIN staff s ON s.id = p.staff_id",
        "touches": "SELECT l.lead_ref, s.staff_no, t.touched_on, t.source, t.lead_ref FROM "
        "lead_touch t JOIN lead l ON l.id = t.lead_id JOIN staff s ON s.id = t.staff_id",
        "aliases": "SELECT a.alias_ref, l.lead_ref, a.how FROM lead_alias a "
        "JOIN lead l ON l.id = a.lead_id",
        "audited": "SELECT action, entity, detail FROM audit_log WHERE action LIKE 'lead.%'",
    }
    with engine.connect() as connection:
        state = {
            name: sorted(tuple(map(str, row)) for row in connection.execute(text(query)))
            for name, query in queries.items()
        }
    engine.dispose()
    return state


def test_finding_5_a_chunked_leads_import_applies_collisions_as_one_transaction_does(
    app_database, small_chunks, monkeypatch, _sqlite_template, tmp_path
):
    """The same 3,000-row leads file, whose rows collide with existing leads (10 touches,
    10 claims) and with each other (a touch and a claim), is imported into two identical
    hospitals: on SQLite in chunks of 500 rows, and in one transaction. Both give the same
    report and leave the same leads, owners, ownership periods, touches, aliases and audit
    rows: every new lead has its `created` period, each claimed lead a closed period and a
    `claim` one."""
    single_url = f"sqlite:///{tmp_path / 'single.db'}"
    shutil.copyfile(_sqlite_template, tmp_path / "single.db")
    for url in (app_database, single_url):
        _credit_hospital(url)
    content = _colliding_leads_csv(3_000)
    chunks: list[int] = []

    def hook(event: str, number: int) -> None:
        if event == "between":
            chunks.append(number)

    monkeypatch.setattr(importer, "_chunk_hook", hook)
    chunked = importer.run_import(actor=Actor.system(), kind="leads", content=content)
    assert chunks == [1, 2, 3, 4, 5, 6]  # 2,978 new leads in chunks of 500
    monkeypatch.setattr(importer, "SINGLE_ROWS", 10_000)
    single_engine = make_engine(single_url)
    single = importer.run_import(
        actor=Actor.system(), kind="leads", content=content, engine=single_engine
    )
    single_engine.dispose()
    assert chunks == [1, 2, 3, 4, 5, 6]  # no chunk: one transaction

    def events(report: importer.ImportReport) -> list[tuple]:
        return [(e.row, e.lead_ref, e.outcome, e.existing, e.staff_no) for e in report.credit]

    assert events(chunked) == events(single)
    assert [e.outcome for e in chunked.credit].count("touch") == 11
    assert [e.outcome for e in chunked.credit].count("claim") == 11
    assert chunked.summary().startswith(single.summary().rsplit(" (", 1)[0])
    state = _credit_state(app_database)
    assert state == _credit_state(single_url)
    assert len(state["leads"]) == EXISTING + 3_000 - 22
    assert len(state["touches"]) == 11 and len(state["aliases"]) == 22
    periods = state["periods"]
    assert len(periods) == len(state["leads"]) + 11  # a `created` each, a `claim` per claim
    assert ("E10", "A", "2019-01-01", "2019-06-02", "created") in periods
    assert ("E10", "B", "2019-06-02", "None", "claim") in periods
    assert ("N60", "C", "2019-06-10", "None", "claim") in periods
    assert ("N50", "C", "2019-06-10", "import", "N2950") in state["touches"]


@pytest.mark.parametrize("failing_chunk", [3, 6])
def test_finding_5_a_chunked_leads_import_that_fails_leaves_no_credit_behind(
    app_database, small_chunks, monkeypatch, failing_chunk
):
    """The same colliding 3,000-row leads file fails in a later chunk: in its third (two
    chunks, with their leads' ownership periods, were committed), or in its last, after the
    touches, claims and aliases were applied in that chunk's transaction. Either way every
    table is row-for-row as before: no lead, ownership period, touch, alias or changed owner
    stays, and the audit log has no touch or claim."""
    _credit_hospital(app_database)
    before = _snapshot(app_database)
    seen: dict[str, int] = {}
    applied = []
    apply_import = importer.ownership.apply_import

    def spy(*args, **kwargs):
        applied.append(1)
        return apply_import(*args, **kwargs)

    def hook(event: str, number: int) -> None:
        if event == "between" and number == 2:
            seen["periods"] = len(_snapshot(app_database)["ownership_period"])
        if event == "in_chunk" and number == failing_chunk:
            raise RuntimeError("disk full")

    monkeypatch.setattr(importer.ownership, "apply_import", spy)
    monkeypatch.setattr(importer, "_chunk_hook", hook)
    with pytest.raises(RuntimeError, match="disk full"):
        importer.run_import(actor=Actor.system(), kind="leads", content=_colliding_leads_csv(3_000))
    assert seen["periods"] == len(before["ownership_period"]) + 2 * CHUNK_ROWS
    assert applied == ([1] if failing_chunk == 6 else [])
    assert _snapshot(app_database) == before
    assert _lock_files(app_database) == []


def test_finding_5_a_chunked_import_reaches_the_lead_an_alias_names(
    app_database, small_chunks, monkeypatch
):
    """Lead L1 was merged into L0, so `L1` is an alias of L0 (SPEC §8). 3,000 interactions
    naming L0..L299 (each ten times) are imported in chunks; after the first chunk, a
    marketer merges L3 into L2. The import lands in full: the chunk after the merge re-reads
    its references, sees that `L3` now names L2, and the file is checked again; the rows
    naming L1 are L0's and those naming L3 are L2's, and no interaction is left on the
    merged leads."""
    _hospital(app_database, leads=300)
    engine = make_engine(app_database)

    def merge(keep: str, gone: str) -> None:
        with write_session(engine) as session:
            ids = dict(session.exec(select(Lead.lead_ref, Lead.id)).all())
            ownership.merge_leads(
                session, actor=Actor.system(), keep_id=ids[keep], merge_id=ids[gone]
            )

    merge("L0", "L1")
    merged: list[int] = []

    def hook(event: str, number: int) -> None:
        if event == "between" and number == 1 and not merged:
            merge("L2", "L3")
            merged.append(number)

    monkeypatch.setattr(importer, "_chunk_hook", hook)
    report = importer.run_import(
        actor=Actor.system(), kind="interactions", content=_interactions_csv(3_000, 300)
    )
    assert report.rows == 3_000 and merged == [1]
    with Session(engine) as session:
        counts = dict(
            session.exec(
                select(Lead.lead_ref, func.count(Interaction.id))
                .join(Interaction, Interaction.lead_id == Lead.id, isouter=True)
                .group_by(Lead.lead_ref)
            ).all()
        )
        batches = session.exec(select(ImportBatch.status)).all()
    engine.dispose()
    assert counts["L0"] == counts["L2"] == 20 and counts["L1"] == counts["L3"] == 0
    assert counts["L4"] == 10 and sum(counts.values()) == 3_000
    assert batches == ["done", "done"]  # the leads, and the interactions
