"""Issue 21: on PostgreSQL an import writes its rows with one COPY (not a row-by-row
executemany), lands exactly the rows the executemany would have landed, and a key taken by
another writer while the file is written still leaves none of the file's rows."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import select
from sqlmodel import Session

import core.db
from core import importing
from core.db import write_session
from core.domain import Role
from core.importing import ImportFailed, import_file, run_import
from core.models import Department, ImportBatch, Interaction, Lead, StageChange
from core.permissions import Actor
from tests.conftest import POSTGRES_URL
from tests.factories import make_actor, make_department

postgres_only = pytest.mark.skipif(not POSTGRES_URL, reason="the PostgreSQL suite runs this")
NOW = dt.datetime(2019, 8, 31, 9, 30, 15, 123456, tzinfo=dt.UTC)


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


@pytest.fixture
def copies(monkeypatch) -> list[tuple[str, int]]:
    """Every COPY the database layer runs: (table, rows)."""
    seen: list[tuple[str, int]] = []
    copy_rows = core.db.copy_rows

    def spy(connection, sql, target, rows):
        seen.append((target[0], len(rows)))
        return copy_rows(connection, sql, target, rows)

    monkeypatch.setattr(core.db, "copy_rows", spy)
    return seen


def _hospital(session: Session) -> None:
    """The templates' departments, staff, campaigns, leads (and nothing else), committed."""
    for kind in ("departments", "staff", "campaigns", "leads"):
        import_file(
            session, actor=Actor.system(), kind=kind, content=importing.template_csv(kind),
            filename=f"{kind}.csv",
        )  # fmt: skip
    session.commit()


LEADS = (
    [
        "lead_ref",
        "name",
        "phone",
        "owner_staff_no",
        "created_on",
        "source_channel",
        "stage",
        "tags",
    ],  # fmt: skip
    [
        ["C0001", "Zhang Wei", "13800000101", "S0001", "2019-07-01", "wechat", "weak_trust", "a;b"],
        ["C0002", "Li Na", "", "S0002", "2019-07-02", "", "", ""],
        [
            "C0003",
            "Wang Fang",
            "13800000103",
            "S0001",
            "2019-07-03",
            "referral",
            "strong_trust",
            "vip",
        ],  # fmt: skip
    ],
)
INTERACTIONS = (
    ["lead_ref", "kind", "occurred_on", "points"],
    [
        ["L0001", "browse_news", "2019-08-01", "3"],
        ["L0001", "event_attend", "2019-08-02", ""],
        ["L0002", "browse_news", "2019-08-03", "5"],
        ["L0002", "browse_news", "2019-08-03", "1"],
    ],
)


def _landed(session: Session) -> dict[str, list[tuple]]:
    """The rows both files wrote, every column as SQLAlchemy reads it back (typed), ids left
    out (a rolled-back insert still uses up its sequence values): a new lead's rows by ref."""
    refs = dict(session.execute(select(Lead.id, Lead.lead_ref)).all())

    def rows(model, key) -> list[tuple]:
        table = model.__table__
        columns = [c for c in table.c if c.name != "id"]
        found = session.execute(select(*columns).order_by(*key(table))).all()
        return [
            tuple(
                refs.get(v, v) if c.name == "lead_id" else v
                for c, v in zip(columns, row, strict=True)
            )
            for row in found
        ]

    def by_lead(table):
        return (table.c.lead_id, table.c.id)

    return {
        "lead": rows(Lead, lambda table: (table.c.lead_ref,)),
        "interaction": rows(Interaction, by_lead),
        "stage_change": rows(StageChange, by_lead),
    }


def _import_both(session: Session, actor: Actor) -> dict[str, list[tuple]]:
    for kind, (header, body) in (("leads", LEADS), ("interactions", INTERACTIONS)):
        import_file(
            session, actor=actor, kind=kind, content=csv_bytes(header, body),
            filename=f"{kind}.csv",
        )  # fmt: skip
    session.flush()
    landed = _landed(session)
    session.rollback()
    return landed


@postgres_only
def test_an_import_on_postgresql_writes_its_rows_with_copy(session, copies):
    """An interactions file's rows reach PostgreSQL through one COPY into the interaction
    table (and they are all there, with the rule's default points where none was given)."""
    _hospital(session)
    header, body = INTERACTIONS
    report = import_file(
        session, actor=Actor.system(), kind="interactions", content=csv_bytes(header, body),
        filename="interactions.csv",
    )  # fmt: skip
    session.commit()
    assert report.rows == 4
    assert ("interaction", 4) in copies
    points = session.execute(select(Interaction.points).order_by(Interaction.id)).scalars().all()
    assert len(points) >= 4 and points[-4] == 3 and points[-2:] == [5, 1] and points[-3] > 0


@postgres_only
def test_copy_lands_exactly_the_rows_the_executemany_lands(session, copies, monkeypatch):
    """The same leads and interactions files, imported once through COPY and once through
    the executemany it replaces (each rolled back), land the same rows, column by column and
    typed: dates, UTC timestamps, booleans, stages and empty cells alike."""
    _hospital(session)
    actor = make_actor(session, Role.admin)
    session.commit()
    monkeypatch.setattr(importing.api, "utcnow", lambda: NOW)
    monkeypatch.setattr("core.services.leads.rescoring.utcnow", lambda: NOW)
    through_copy = _import_both(session, actor)
    assert {"lead", "interaction"} <= {table for table, _rows in copies}
    copies.clear()
    monkeypatch.setattr(core.db, "COPY_ROWS", 10**9)  # every insert an executemany
    through_executemany = _import_both(session, actor)
    assert copies == []
    assert through_copy == through_executemany
    leads = {row[0]: row for row in through_copy["lead"]}
    assert {"C0001", "C0002", "C0003"} <= leads.keys()
    assert any(row[-1] == NOW for row in through_copy["interaction"])  # created_at, in UTC


def test_a_key_taken_while_the_file_is_written_leaves_none_of_its_rows(
    engine, session, copies, monkeypatch
):
    """Another writer adds department D0025 after a 50-department file was checked and
    before it is written: the import fails as a conflict naming nothing half-done, and
    none of the file's departments, no import batch and no audit row of it remain (on
    PostgreSQL the rows went through one COPY, refused as a whole)."""
    header = ["code", "name"]
    body = [[f"D{n:04d}", f"Department {n}"] for n in range(1, 51)]
    in_chunks = importing.api.in_chunks

    def another_writer_first(*args, **kwargs):  # between the check and the write
        with write_session(engine) as other:
            make_department(other, code="D0025", name="Taken meanwhile")
        return in_chunks(*args, **kwargs)

    monkeypatch.setattr(importing.api, "in_chunks", another_writer_first)
    with pytest.raises(ImportFailed) as failed:
        run_import(
            actor=Actor.system(), kind="departments", content=csv_bytes(header, body),
            filename="departments.csv", engine=engine,
        )  # fmt: skip
    assert failed.value.key == "importer.conflict"
    session.expire_all()
    codes = session.execute(select(Department.code)).scalars().all()
    assert codes == ["D0025"]
    assert session.execute(select(ImportBatch.id)).first() is None
    if POSTGRES_URL:
        assert ("department", 50) in copies
