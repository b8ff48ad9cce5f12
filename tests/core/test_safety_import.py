"""Safe to run in a real hospital, findings 4 and 5: a hostile or huge import file is refused
in seconds and small memory, and an import keeps no one else from writing while it reads and
checks its file.

The CLI runs in a subprocess whose time and peak memory (its own rusage, from wait4) are
measured and printed (`pytest -s` shows them)."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
import threading
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from core.cli import main
from core.db import make_engine, write_session
from core.domain import Role
from core.importing import ImportFailed, ImportRejected, import_file, plans, run_import
from core.models import AppUser, AuditLog, Lead, LoginSession, PointsEntry
from core.permissions import Actor
from core.services import settings as settings_service
from core.services import users
from tests.factories import make_department, make_member, make_points, make_staff, make_user

ROOT = Path(__file__).resolve().parents[2]
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
LEAD_HEADER = [
    "lead_ref", "name", "phone", "owner_staff_no", "created_on", "source_channel",
    "campaign_code", "tags", "stage",
]  # fmt: skip
SECONDS, MEGABYTES = 10, 300  # the bounds for refusing a hostile file

PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG}">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" xmlns:r="{REL}">'
        '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG}">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
    ),
}


def _cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def _letters(column: int) -> str:
    letters = ""
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _row(number: int, values: list[str]) -> str:
    cells = "".join(_cell(f"{_letters(i)}{number}", v) for i, v in enumerate(values, 1) if v)
    return f'<row r="{number}">{cells}</row>'


def _sheet(rows: str, dimension: str = "A1:I2") -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}">'
        f'<dimension ref="{dimension}"/><sheetData>{rows}</sheetData></worksheet>'
    )


def _xlsx(sheet: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in PARTS.items():
            archive.writestr(name, text)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
    return buffer.getvalue()


def hostile_xlsx() -> bytes:
    """The 1.6 KB file of finding 4: a sheet declaring the whole grid (A1:XFD1048576), a
    header row and one cell at A1048576."""
    rows = _row(1, LEAD_HEADER) + _row(1_048_576, ["L-FAR"])
    return _xlsx(_sheet(rows, dimension="A1:XFD1048576"))


def expanding_xlsx(path: Path, megabytes: int = 400) -> None:
    """An XLSX of a few hundred KB whose sheet XML expands to `megabytes` MB: a header row
    and one cell holding a run of the same letter."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in PARTS.items():
            archive.writestr(name, text)
        head = _sheet(_row(1, LEAD_HEADER) + "\0").split("\0")[0]
        head += '<row r="2"><c r="A2" t="inlineStr"><is><t>'
        tail = "</t></is></c></row></sheetData></worksheet>"
        block = b"A" * (1 << 20)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            member.write(head.encode())
            for _ in range(megabytes):
                member.write(block)
            member.write(tail.encode())


# Runs core.cli in the child and writes the child's own peak memory on the way out. The
# kernel's ru_maxrss cannot be used: a child forked from a large pytest process inherits the
# parent's high-water mark across exec, so it would read the parent's size, not the child's.
_CHILD = """
import atexit, runpy, sys
def _peak():
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith('VmHWM:'):
                sys.stderr.write('\\n[peak-kb] ' + line.split()[1] + '\\n')
atexit.register(_peak)
sys.argv = ['core.cli', *sys.argv[1:]]
runpy.run_module('core.cli', run_name='__main__')
"""


def run_cli(database_url: str, *argv: str, timeout: float = 60) -> dict:
    """`python -m core.cli ARGV` in a subprocess: its exit status, stderr, wall and CPU time,
    and its own peak resident memory (MB, VmHWM of the child's address space after exec). A
    4 GB address-space cap and a timeout keep a runaway (the old code) from taking the
    machine down."""

    def cap() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    env = {**os.environ, "DATABASE_URL": database_url}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", _CHILD, *argv],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=cap,
    )
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    try:
        out = process.stdout.read()
        err = process.stderr.read()
        _pid, status, usage = os.wait4(process.pid, 0)
    finally:
        timer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = err.decode(errors="replace")
    peaks = [line for line in stderr.splitlines() if line.startswith("[peak-kb] ")]
    return {
        "status": process.returncode,
        "stdout": out.decode(errors="replace"),
        "stderr": "\n".join(line for line in stderr.splitlines() if line not in peaks),
        "seconds": time.perf_counter() - started,
        # CPU time is what the file costs; wall time also counts a loaded machine's queue.
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_mb": int(peaks[-1].split()[1]) / 1024 if peaks else float("inf"),
    }


def _report(name: str, size: int, result: dict) -> None:
    print(
        f"\n[{name}] file {size:,} bytes: exit {result['status']} in "
        f"{result['seconds']:.2f} s ({result['cpu_seconds']:.2f} s CPU), peak RSS {result['peak_mb']:.0f} MB; "
        f"stderr: {result['stderr'].strip()[:300]}"
    )


# --- finding 4 -------------------------------------------------------------------------------


def test_finding_4_a_1_6_kb_xlsx_declaring_the_whole_sheet_is_refused_in_seconds(
    app_database, tmp_path
):
    """The CLI is given the 1.6 KB workbook whose sheet declares A1:XFD1048576 and holds a
    cell at A1048576: it refuses it at once, naming the row limit and its setting, in well
    under 10 s and 300 MB (the old code padded a million rows of 16,384 cells: 11.6 GB)."""
    content = hostile_xlsx()
    assert len(content) < 2_000
    path = tmp_path / "hostile.xlsx"
    path.write_bytes(content)
    result = run_cli(app_database, "import", "leads", str(path), "--dry-run")
    _report("1.6 KB hostile XLSX", len(content), result)
    assert result["status"] == 1
    assert "row 1,048,576 is past the limit of 1,000,000 rows" in result["stderr"]
    assert "import_max_rows" in result["stderr"]
    assert "Traceback" not in result["stderr"]
    assert result["cpu_seconds"] < SECONDS and result["peak_mb"] < MEGABYTES


def test_finding_4_an_xlsx_expanding_to_400_mb_is_refused_in_seconds(app_database, tmp_path):
    """A workbook of a few hundred KB whose sheet expands to 400 MB is refused from the zip's
    own size record before anything is decompressed, naming the size limit and its setting."""
    path = tmp_path / "expanding.xlsx"
    expanding_xlsx(path, megabytes=400)
    size = path.stat().st_size
    assert size < 2_000_000
    result = run_cli(app_database, "import", "leads", str(path), "--dry-run")
    _report("400 MB-expanding XLSX", size, result)
    assert result["status"] == 1
    assert "the file is too big: xl/worksheets/sheet1.xml holds 400 MB" in result["stderr"]
    assert "over the limit of 200 MB" in result["stderr"]
    assert "import_max_megabytes" in result["stderr"]
    assert result["cpu_seconds"] < SECONDS and result["peak_mb"] < MEGABYTES


def test_finding_4_empty_far_rows_and_columns_are_never_built(session):
    """With the row limit raised past Excel's last row, the hostile file is just a header and
    one row (1,048,576), checked in a moment: the million rows in between and the declared
    16,384 columns are never made up. An empty styled cell at XFD2 costs nothing either."""
    staff = make_staff(session)
    actor = Actor.system()
    settings_service.set_value(session, actor=actor, key="import_max_rows", value=2_000_000)
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(ImportRejected) as rejected:
        import_file(session, actor=actor, kind="leads", content=hostile_xlsx(), filename="h.xlsx")
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert {e.row for e in rejected.value.errors} == {1_048_576}
    assert seconds < 2 and peak < 50e6

    row = ["L-1", "Zhao", "", staff.staff_no, "2019-06-02"]
    styled = _row(2, row).replace("</row>", '<c r="XFD2" s="0"/></row>')
    content = _xlsx(_sheet(_row(1, LEAD_HEADER) + styled, dimension="A1:XFD2"))
    report = import_file(
        session, actor=actor, kind="leads", content=content, filename="l.xlsx", dry_run=True
    )
    assert report.rows == 1


def test_finding_4_a_value_past_the_column_limit_is_refused_naming_the_setting(session):
    """A value in column 51 (BA) of a data row: the file is refused before it is checked."""
    staff = make_staff(session)
    row = ["L-1", "Zhao", "", staff.staff_no, "2019-06-02"] + [""] * 45 + ["stray"]
    content = _xlsx(_sheet(_row(1, LEAD_HEADER) + _row(2, row)))
    with pytest.raises(ImportFailed) as refused:
        import_file(session, actor=Actor.system(), kind="leads", content=content, filename="w.xlsx")
    assert refused.value.key == "importer.limit_columns"
    assert "column 51, past the limit of 50 columns" in str(refused.value)
    assert "import_max_columns" in str(refused.value)


def test_finding_4_the_limits_are_settings_an_admin_changes(session):
    """The admin lowers the row and size limits: a CSV past either is refused with a message
    naming the limit and the setting (in Chinese too); at the defaults it is accepted."""
    staff = make_staff(session)
    admin = Actor.system()
    lines = [",".join(LEAD_HEADER)] + [
        f"L-{i},Name {i},,{staff.staff_no},2019-06-02,,,," for i in range(3)
    ]
    content = ("\n".join(lines) + "\n").encode()
    report = import_file(
        session, actor=admin, kind="leads", content=content, filename="l.csv", dry_run=True
    )
    assert report.rows == 3
    settings_service.set_value(session, actor=admin, key="import_max_rows", value=2)
    with pytest.raises(ImportFailed) as refused:
        import_file(
            session, actor=admin, kind="leads", content=content, filename="l.csv", lang="zh"
        )
    assert "第 4 行超出表头之后 2 行的上限" in str(refused.value)
    assert "import_max_rows" in str(refused.value)
    settings_service.set_value(session, actor=admin, key="import_max_rows", value=1_000_000)
    big = content + b"\n" * (1 << 20)  # blank lines: 1 MB of text
    settings_service.set_value(session, actor=admin, key="import_max_megabytes", value=1)
    with pytest.raises(ImportFailed) as refused:
        import_file(session, actor=admin, kind="leads", content=big, filename="l.csv")
    assert refused.value.key == "importer.limit_size" and "import_max_megabytes" in str(
        refused.value
    )


# --- finding 5 -------------------------------------------------------------------------------


def _hospital(database_url: str) -> tuple[str, str]:
    """A department, a staff member and an admin account; (staff_no, username)."""
    engine = make_engine(database_url)
    with Session(engine) as session:
        staff = make_staff(session, department=make_department(session))
        user = make_user(session, role=Role.admin)
        session.commit()
        names = staff.staff_no, user.username
    engine.dispose()
    return names


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
        user = users.get_by_username(session, username)
        users.start_session(session, user=user)
    waits.append(time.perf_counter() - started)
    return waits


def test_finding_5_a_sign_in_writes_while_an_import_is_being_checked(
    app_database, tmp_path, monkeypatch
):
    """An admin imports 3,000 leads with the CLI. While the import is in the middle of its
    check (held there by the test until the sign-in is done), a user signs in: both of the
    sign-in's writes go through at once instead of waiting for the import's write lock. The
    import then writes all its rows."""
    staff_no, username = _hospital(app_database)
    path = tmp_path / "leads.csv"
    lines = [",".join(LEAD_HEADER)]
    lines += [f"LK-{i},Name {i},,{staff_no},2019-06-02,,,," for i in range(3_000)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    in_check, release = threading.Event(), threading.Event()
    original = plans.PLANS["leads"]

    def held(checker, actor, now):
        plan = original(checker, actor, now)  # the check's database reads are done
        in_check.set()
        assert release.wait(60)
        return plan

    monkeypatch.setitem(plans.PLANS, "leads", held)
    outcome: dict = {}
    importing = threading.Thread(
        target=lambda: outcome.update(status=main(["import", "leads", str(path)]))
    )
    importing.start()
    signed_in = threading.Event()
    waits: list[float] = []
    try:
        assert in_check.wait(60), "the import never reached its check"

        def sign_in():
            waits.extend(_sign_in(username))
            signed_in.set()

        threading.Thread(target=sign_in, daemon=True).start()
        # Proof of overlap: the sign-in finishes while the import is still held mid-check.
        finished = signed_in.wait(5)
        assert not release.is_set()
    finally:
        release.set()
        importing.join(120)
    print(f"\n[sign-in during an import's check] waits: {', '.join(f'{w:.3f} s' for w in waits)}")
    assert finished, "the sign-in waited for the import"
    assert max(waits) < 1
    assert outcome["status"] == 0
    engine = make_engine(app_database)
    with Session(engine) as session:
        leads = session.exec(select(func.count()).where(Lead.lead_ref.like("LK-%"))).one()
        user = session.exec(select(AppUser).where(AppUser.username == username)).one()
        logins = session.exec(select(LoginSession).where(LoginSession.user_id == user.id)).all()
        audited = session.exec(select(AuditLog).where(AuditLog.action == "import")).all()
    engine.dispose()
    assert leads == 3_000 and len(logins) == 1
    assert [json.loads(row.detail)["rows"] for row in audited] == [3_000]


def test_finding_5_a_change_made_during_the_check_is_caught_under_the_write_lock(
    app_database, monkeypatch
):
    """A points file redeems 80 of a member's 100 points. While it is being checked, a
    cashier redeems 50 of them: the import, re-reading the balances under the write lock,
    refuses the file (the balance would go below 0) and writes none of it."""
    engine = make_engine(app_database)
    with Session(engine) as session:
        member = make_member(session, joined_on=dt.date(2019, 1, 1))
        make_points(
            session, member=member, kind="event", points=100, occurred_on=dt.date(2019, 6, 1)
        )
        session.commit()
        member_no, member_id = member.member_no, member.id
    in_check, release = threading.Event(), threading.Event()
    original = plans.PLANS["points"]
    calls = []

    def held(checker, actor, now):
        plan = original(checker, actor, now)
        calls.append(checker.errors)
        if len(calls) == 1:
            in_check.set()
            assert release.wait(60)
        return plan

    monkeypatch.setitem(plans.PLANS, "points", held)
    content = f"member_no,kind,points,occurred_on\n{member_no},redeem,80,2019-07-01\n".encode()
    outcome: dict = {}

    def run():
        try:
            run_import(actor=Actor.system(), kind="points", content=content)
        except ImportFailed as error:
            outcome["error"] = error

    importing = threading.Thread(target=run)
    importing.start()
    try:
        assert in_check.wait(60)
        with write_session() as session:  # the cashier's redemption, committed at once
            session.add(
                PointsEntry(
                    member_id=member_id, kind="redeem", points=-50,
                    occurred_on=dt.date(2019, 6, 15), created_by_user_id=None,
                )
            )  # fmt: skip
    finally:
        release.set()
        importing.join(60)
    assert isinstance(outcome.get("error"), ImportRejected)
    assert "balance" in str(outcome["error"])
    assert len(calls) == 2  # checked again, under the write lock
    with Session(engine) as session:
        entries = session.exec(select(PointsEntry.points).where(PointsEntry.member_id == member_id))
        assert sorted(entries.all()) == [-50, 100]
    engine.dispose()
