"""Writing a checked import file (SPEC §5): the one place an import's rows reach the
database, all of them or none.

A checked file is a `Plan` (rows of one table, column by column, and what goes with them).
It is written with an `ImportBatch` row (its SHA-256 refuses a second import of the same
file: `refuse_repeat`) and one audit row:
- `write_checked`: in one transaction, the caller's (`executemany` in WRITE_CHUNK rows);
- `write_in_chunks`: on SQLite, a large file in short transactions that still leave all rows
  or none (see below); `clean_up_imports` finishes what a killed import left behind.
A key or file taken meanwhile by another writer is an `ImportFailed` (`importer.conflict`).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from core import audit
from core.db import execute_many, get_engine, read_session, write_session
from core.importing.checks import Checker
from core.importing.outcome import ImportFailed, ImportReport
from core.importing.reader import Table
from core.models import ImportBatch, Interaction
from core.permissions import Actor
from core.services import settings as settings_service

WRITE_CHUNK = 20_000  # rows per executemany (for progress)
WRITING, SCORING, DONE = "writing", "scoring", "done"  # ImportBatch.status


def rescore_leads(session: Session, **kwargs: Any) -> int:
    """`core.services.leads.rescore_leads`, imported on the first rescore: the lead services
    bring pandas, which the CLI's one-lead reads (they import this module to clean up
    killed imports) never need."""
    from core.services.leads import rescore_leads as rescore

    return rescore(session, **kwargs)


# What goes with the written rows start:end, in their transaction, given the largest id
# `Plan.model`'s table had before they were inserted: [(table, write)], where `write(session)`
# inserts rows into `table` only and returns how many (their ids are recorded: see below).
Write = Callable[[Session], int]
Extra = Callable[[Session, int, int, int], list[tuple[Any, Write]]]


def inserting(table, columns: dict[str, list[Any]], constants: dict[str, Any]) -> Write:
    """A Write that inserts `columns` (one value per row) and `constants` into `table`."""

    def write(session: Session) -> int:
        execute_many(session, insert(table), columns, constants)
        return len(next(iter(columns.values()), []))

    return write


@dataclass
class Plan:
    """What a checked file writes: rows of one table (and rows that go with them), then
    `after` (changes to few rows, in the transaction that lands the file), then the leads to
    rescore."""

    model: type | None = None
    columns: dict[str, list[Any]] = field(default_factory=dict)  # column → one value per row
    constants: dict[str, Any] = field(default_factory=dict)
    extra: Extra | None = None
    after: Callable[[Session, Actor, ImportReport], None] | None = None
    rescore: list[int] = field(default_factory=list)  # lead ids, rescored after the write
    leads_touched: int = 0
    credit: list = field(default_factory=list)  # a `leads` file's collisions (SPEC §8)
    rows: list[int] | None = None  # the file's row (index) of each written row; None: all

    @property
    def count(self) -> int:
        """The number of rows written to `model`'s table."""
        return len(next(iter(self.columns.values()), []))

    def file_span(self, start: int, end: int) -> tuple[int, int | None]:
        """The file's rows (indexes first:last, None: to the end) that written rows
        start:end stand for: the spans of successive chunks cover the file, the rows that
        write none of their own (a leads file's collisions) too."""
        if self.rows is None:
            return start, (None if end >= self.count else end)
        first = 0 if start == 0 else self.rows[start - 1] + 1
        return first, (None if end >= self.count else self.rows[end - 1] + 1)


@dataclass
class Checked:
    """A file read and checked, ready to be written."""

    kind: str
    filename: str
    sha256: str
    table: Table
    checker: Checker
    plan: Plan


# Checks a file again (in the given read session): its checker and plan, or ImportRejected.
Recheck = Callable[[Session], tuple[Checker, Plan]]


# --- one transaction -----------------------------------------------------------------------


def write_checked(
    session: Session | None, actor: Actor, checked: Checked, dry_run: bool, step, lang: str
) -> ImportReport:
    """Write a checked file in `session` (nothing when `dry_run`), with its ImportBatch row
    and its audit row; a key or file taken meanwhile by another writer is an ImportFailed."""
    kind, filename, plan = checked.kind, checked.filename, checked.plan
    rows = len(checked.table.rows)
    report = ImportReport(kind=kind, filename=filename, rows=rows, dry_run=dry_run)
    report.credit = plan.credit  # SPEC §8: a leads file's touches and claims, dry run too
    if dry_run or session is None:
        report.leads_rescored = plan.leads_touched
        step(1.0, "importer.progress_done")
        return report
    batch = _add_batch(session, checked, actor, DONE, lang)
    report.batch_id = batch.id
    try:
        after_id = 0 if plan.model is None else max_id(session, plan.model.__table__)
        write_rows(session, plan, step)
        if plan.extra is not None:
            for _table, write in plan.extra(session, 0, plan.count, after_id):
                write(session)
        if plan.after is not None:
            plan.after(session, actor, report)
        if plan.rescore:
            step(0.85, "importer.progress_rescoring")
            report.leads_rescored = len(plan.rescore)
            report.leads_promoted = rescore_leads(
                session, lead_ids=plan.rescore, actor=actor, added=_added(plan)
            )
        _audit(session, actor, checked, batch.id)
        session.flush()
    except IntegrityError as error:
        # Another writer added the same key between our check and our insert.
        raise _conflict(error, lang) from None
    step(1.0, "importer.progress_done")
    return report


def _added(plan: Plan):
    """The interactions a plan wrote (`core.services.leads.rescoring.Added`): written in the
    transaction that rescores their leads, they need not be read back."""
    if plan.model is not Interaction:
        return None
    from core.services.leads.rescoring import Added

    columns = plan.columns
    return Added(columns["lead_id"], columns["occurred_on"], columns["points"])


def _add_batch(
    session: Session, checked: Checked, actor: Actor, status: str, lang: str
) -> ImportBatch:
    batch = ImportBatch(
        kind=checked.kind,
        filename=checked.filename,
        sha256=checked.sha256,
        rows=len(checked.table.rows),
        user_id=actor.user_id,
        status=status,
    )
    try:
        with session.begin_nested():
            session.add(batch)
            session.flush()
    except IntegrityError:  # the same file, imported meanwhile by someone else
        refuse_repeat(session, checked.kind, checked.sha256, lang)
        raise
    return batch


def _audit(session: Session, actor: Actor, checked: Checked, batch_id: int) -> None:
    detail = {
        "kind": checked.kind,
        "rows": len(checked.table.rows),
        "filename": checked.filename,
        "sha256": checked.sha256,
    }
    audit.record(
        session, actor=actor, action="import", entity="import_batch", entity_id=batch_id,
        detail=detail,
    )  # fmt: skip


def _conflict(error: IntegrityError, lang: str) -> ImportFailed:
    reason = str(error.orig or error).strip().splitlines()[0][:200]
    return ImportFailed("importer.conflict", lang, reason=reason)


def write_rows(session: Session, plan: Plan, step) -> None:
    """Insert the plan's own rows in `session`, WRITE_CHUNK rows per executemany."""
    if plan.model is None:  # a kind that only changes rows (transfers)
        return
    rows = plan.count  # a leads file's touches and claims add no row
    statement = insert(plan.model.__table__)
    for start in range(0, rows, WRITE_CHUNK):
        chunk = {name: values[start : start + WRITE_CHUNK] for name, values in plan.columns.items()}
        execute_many(session, statement, chunk, plan.constants)
        written = min(rows, start + WRITE_CHUNK)
        step(0.3 + 0.5 * written / max(rows, 1), "importer.progress_writing",
             done=f"{written:,}", rows=f"{rows:,}")  # fmt: skip


# --- large files on SQLite: short transactions -------------------------------------------
#
# SQLite has one database-wide write lock: a transaction writing a million rows would make
# every sign-in wait half a minute. So a large file is written in chunks, each in its own
# short write transaction (sized to take about CHUNK_SECONDS), with a pause between two that
# is longer than SQLite's longest busy-handler sleep (0.1 s), so every waiting writer gets
# its turn. All rows or none still holds as users see it:
# - the ImportBatch row is `writing` meanwhile, and every chunk records, in its own
#   transaction, the id range it inserted (`ImportBatch.chunks`);
# - each chunk first reads again, under the write lock, what its rows' check read (the rows
#   they refer to, the scoring rules): a change means the chunks written so far are removed
#   and the file is checked again;
# - on any failure the recorded ranges are deleted (in short transactions too), then the
#   batch row; a process killed mid-write leaves a `writing` batch that `clean_up_imports`
#   removes (at start-up and before any import). A live writer holds an exclusive `flock`
#   on `<db>.import-<batch id>.lock`, so a clean-up never touches its batch;
# - the last chunk's transaction writes the one audit row and makes the batch `done` (or
#   `scoring` while the affected leads are rescored, again in short transactions; a
#   killed rescoring is finished by `clean_up_imports`: rescoring is idempotent).

SINGLE_ROWS = 1_000  # a file this small is written in one transaction
CHUNK_SECONDS = 0.2  # how long one chunk's transaction holds the write lock, about
CHUNK_PAUSE = 0.11  # between two transactions: > SQLite's longest busy-handler sleep
FIRST_CHUNK_ROWS = 2_000
MIN_CHUNK_ROWS = 100  # a slow machine shrinks chunks, never below this
MAX_CHUNK_ROWS = 100_000
FIRST_RESCORE_LEADS = 500
ATTEMPTS = 3  # writes restarted because what the check read changed meanwhile
chunk_hook: Callable[[str, int], None] | None = None  # tests: ("in_chunk"|"between", n)


class _Changed(Exception):
    """What a chunk's rows were checked against changed since the check."""


def in_chunks(engine: Engine, kind: str, plan: Plan) -> bool:
    """Whether to write in short transactions: on SQLite, a file that inserts more than
    SINGLE_ROWS rows (of a kind whose rows can be taken back: not `points`, whose ledger is
    append-only, nor `transfers`, which inserts no row of its own)."""
    if kind == "points" or plan.model is None or plan.count <= SINGLE_ROWS:
        return False
    return _database_file(engine) is not None


def _database_file(engine: Engine) -> str | None:
    """The SQLite database file (None on PostgreSQL or for an in-memory database)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def _hook(event: str, number: int) -> None:
    if chunk_hook is not None:
        chunk_hook(event, number)


def _next_size(size: int, elapsed: float, low: int, high: int) -> int:
    """The size that should take CHUNK_SECONDS, from how long `size` took (at most doubled)."""
    wanted = size * CHUNK_SECONDS / max(elapsed, 1e-3)
    return max(low, min(high, 2 * size, int(wanted)))


class _BatchLock:
    """An exclusive `flock` on `<db>.import-<batch id>.lock`: held by the process writing
    the batch; a clean-up that gets it knows that process is gone."""

    def __init__(self, database: str, batch_id: int):
        self.path = Path(f"{database}.import-{batch_id}.lock")
        self.fd: int | None = None

    def acquire(self, *, wait: float) -> bool:
        deadline = time.monotonic() + wait
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.05)
                continue
            try:  # the file we locked is still the one at the path (not unlinked meanwhile)
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self.fd = fd
                return True
            os.close(fd)

    def release(self) -> None:
        """Remove the file, then unlock it (the order keeps a waiting clean-up off it)."""
        if self.fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self.fd)
            self.fd = None


def _batch_state(session: Session, batch_id: int) -> tuple[str, list[list]] | None:
    table = ImportBatch.__table__
    row = session.execute(
        select(table.c.status, table.c.chunks).where(table.c.id == batch_id)
    ).first()
    if row is None:
        return None
    return row.status, json.loads(row.chunks or "[]")


def _set_batch(session: Session, batch_id: int, **values: Any) -> None:
    table = ImportBatch.__table__
    session.execute(table.update().where(table.c.id == batch_id).values(**values))


def max_id(session: Session, table) -> int:
    """The largest id in `table` (0 when it is empty)."""
    return session.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()


def _insert_recorded(session: Session, table, write: Write, ranges: list[list]) -> int:
    """Insert rows into `table` with `write` and append the id range they took to `ranges`
    (only this transaction writes: SQLite's write lock is held, and a new rowid is above
    every existing one); returns the largest id `table` had before."""
    before = max_id(session, table)
    count = write(session)
    if not count:
        return before
    after = max_id(session, table)
    if after - before != count:  # cannot happen while this transaction is the only writer
        raise RuntimeError(f"{table.name}: {count} rows took ids {before + 1}..{after}")
    ranges.append([table.name, before + 1, after])
    return before


def write_in_chunks(
    engine: Engine, actor: Actor, checked: Checked, step, lang: str, *, recheck: Recheck
) -> ImportReport:
    """Write a checked file in short transactions (see above); check it again (`recheck`,
    in a read session) and start over when something it was checked against changed
    meanwhile."""
    for _attempt in range(ATTEMPTS):
        try:
            return _ChunkedWrite(engine, actor, checked, step, lang).run()
        except _Changed:
            with read_session(engine) as session:
                checker, plan = recheck(session)
            checked = Checked(
                checked.kind, checked.filename, checked.sha256, checked.table, checker, plan
            )
    raise ImportFailed("importer.kept_changing", lang, attempts=ATTEMPTS)


class _ChunkedWrite:
    def __init__(self, engine: Engine, actor: Actor, checked: Checked, step, lang: str):
        self.engine, self.actor, self.checked, self.step, self.lang = (
            engine, actor, checked, step, lang,
        )  # fmt: skip
        self.database = _database_file(engine)
        self.rows = len(checked.table.rows)
        self.batch_id: int | None = None
        self.lock: _BatchLock | None = None
        self.ranges: list[list] = []  # committed: [table, first id, last id]
        self.landed = False

    def run(self) -> ImportReport:
        checked = self.checked
        report = ImportReport(
            kind=checked.kind, filename=checked.filename, rows=self.rows, dry_run=False
        )
        report.credit = checked.plan.credit
        try:
            self._write_rows(report)
            report.batch_id = self.batch_id
            if checked.plan.rescore:
                report.leads_rescored = len(checked.plan.rescore)
                report.leads_promoted = _rescore_in_chunks(
                    self.engine, self.actor, checked.plan.rescore, self.step
                )
                with write_session(self.engine) as session:
                    _set_batch(session, self.batch_id, status=DONE, chunks=None)
        except IntegrityError as error:
            # Another writer added the same key between our check and our insert, or
            # removed a row the file refers to.
            self._undo()
            raise _conflict(error, self.lang) from None
        except BaseException:
            self._undo()
            raise
        finally:
            if self.lock is not None:
                self.lock.release()
        self.step(1.0, "importer.progress_done")
        return report

    def _write_rows(self, report: ImportReport) -> None:
        plan, number, start, size = self.checked.plan, 0, 0, FIRST_CHUNK_ROWS
        rows = plan.count  # a leads file's touches and claims add no row
        last = False
        while not last:
            end = min(rows, start + size)
            last = end == rows
            number += 1
            columns = {name: values[start:end] for name, values in plan.columns.items()}
            with write_session(self.engine) as session:
                began = time.perf_counter()  # the write lock is held from here to the commit
                batch_id = self.batch_id
                if batch_id is None:
                    batch_id = _add_batch(session, self.checked, self.actor, WRITING, self.lang).id
                    # Held before the batch is visible to others, released (last) by run().
                    self.lock = _BatchLock(self.database, batch_id)
                    if not self.lock.acquire(wait=5):
                        raise RuntimeError(f"{self.lock.path} is locked by another process")
                else:
                    state = _batch_state(session, self.batch_id)
                    if state is None or state[0] != WRITING:  # removed by someone: give up
                        raise ImportFailed(
                            "importer.conflict", self.lang, reason="import batch removed"
                        )
                if not self.checked.checker.still_valid(session, *plan.file_span(start, end)):
                    raise _Changed
                ranges = list(self.ranges)
                table = plan.model.__table__
                write = inserting(table, columns, plan.constants)
                after_id = _insert_recorded(session, table, write, ranges)
                if plan.extra is not None:
                    for table, write in plan.extra(session, start, end, after_id):
                        _insert_recorded(session, table, write, ranges)
                if last and plan.after is not None:
                    # Few rows (a leads file's collisions), in the transaction that lands the
                    # file: a failure before its commit leaves none of them.
                    plan.after(session, self.actor, report)
                _hook("in_chunk", number)
                if last:
                    _audit(session, self.actor, self.checked, batch_id)
                    scoring = bool(plan.rescore)
                    _set_batch(
                        session, batch_id, status=SCORING if scoring else DONE,
                        chunks=json.dumps(ranges) if scoring else None,
                    )  # fmt: skip
                else:
                    _set_batch(session, batch_id, chunks=json.dumps(ranges))
                session.flush()
            elapsed = time.perf_counter() - began
            self.batch_id = batch_id  # committed
            self.ranges = ranges
            self.landed = last
            self.step(0.3 + 0.5 * end / max(rows, 1), "importer.progress_writing",
                      done=f"{end:,}", rows=f"{rows:,}")  # fmt: skip
            _hook("between", number)
            size = _next_size(end - start, elapsed, MIN_CHUNK_ROWS, MAX_CHUNK_ROWS)
            start = end
            time.sleep(CHUNK_PAUSE)

    def _undo(self) -> None:
        """Remove what this import committed, unless it had landed (then it stays: a failed
        rescoring is finished by `clean_up_imports`)."""
        if self.batch_id is not None and not self.landed:
            _remove_batch(self.engine, self.batch_id)


def _rescore_in_chunks(engine: Engine, actor: Actor, lead_ids: list[int], step) -> int:
    """`rescore_leads` over `lead_ids`, in short write transactions; the number promoted."""
    promoted, start, size = 0, 0, FIRST_RESCORE_LEADS
    step(0.85, "importer.progress_rescoring")
    while start < len(lead_ids):
        chunk = lead_ids[start : start + size]
        with write_session(engine) as session:
            began = time.perf_counter()
            promoted += rescore_leads(session, lead_ids=chunk, actor=actor)
            session.flush()
        elapsed = time.perf_counter() - began
        start += len(chunk)
        size = _next_size(len(chunk), elapsed, 50, MAX_CHUNK_ROWS)
        time.sleep(CHUNK_PAUSE)
    return promoted


def _delete_range(session: Session, batch_id: int, name: str, first: int, last: int) -> None:
    """Delete ids first..last of table `name`. A row another user's row now refers to (a
    lead that got an interaction while the import was writing) is kept, and audited."""
    table = SQLModel.metadata.tables[name]
    in_range = table.c.id.between(first, last)
    try:
        with session.begin_nested():
            session.execute(table.delete().where(in_range))
        return
    except IntegrityError:
        pass
    unreferenced = [
        ~exists().where(other.c[key.parent.name] == table.c.id)
        for other in SQLModel.metadata.tables.values()
        for key in other.foreign_keys
        if key.column.table is table
    ]
    session.execute(table.delete().where(in_range, *unreferenced))
    kept = session.execute(select(func.count()).where(in_range)).scalar_one()
    if kept:
        audit.record(
            session, actor=Actor.system(), action="import_undo_kept", entity="import_batch",
            entity_id=batch_id, detail={"table": name, "rows": kept, "ids": [first, last]},
        )  # fmt: skip


def _remove_batch(engine: Engine, batch_id: int) -> bool:
    """Delete a `writing` batch's recorded rows, newest first, in short transactions, then
    the batch row; False when the batch is gone or has landed."""
    while True:
        with write_session(engine) as session:
            began = time.perf_counter()
            state = _batch_state(session, batch_id)
            if state is None or state[0] != WRITING:
                return False
            ranges = state[1]
            while ranges and time.perf_counter() - began < CHUNK_SECONDS:
                name, first, last = ranges.pop()
                _delete_range(session, batch_id, name, first, last)
            if ranges:
                _set_batch(session, batch_id, chunks=json.dumps(ranges))
            else:
                session.execute(
                    ImportBatch.__table__.delete().where(ImportBatch.__table__.c.id == batch_id)
                )
        if not ranges:
            return True
        time.sleep(CHUNK_PAUSE)


def clean_up_imports(engine: Engine | None = None) -> int:
    """Finish what killed imports left behind (SQLite; run at start-up and before an
    import): a `writing` batch whose writer is gone is removed with every row it recorded;
    a `scoring` one has its leads rescored. Returns the number of batches dealt with."""
    engine = engine or get_engine()
    database = _database_file(engine)
    if database is None:
        return 0
    table = ImportBatch.__table__
    with read_session(engine) as session:
        pending = session.execute(
            select(table.c.id).where(table.c.status != DONE).order_by(table.c.id.desc())
        ).scalars().all()  # fmt: skip
    dealt = 0
    for batch_id in pending:
        lock = _BatchLock(database, batch_id)
        if not lock.acquire(wait=0):
            continue  # its writer is alive
        try:
            with read_session(engine) as session:
                state = _batch_state(session, batch_id)
            if state is None or state[0] == DONE:
                continue
            if state[0] == WRITING:
                _remove_batch(engine, batch_id)
            else:
                _finish_scoring(engine, batch_id, state[1])
            dealt += 1
        finally:
            lock.release()
    return dealt


def _finish_scoring(engine: Engine, batch_id: int, ranges: list[list]) -> None:
    interactions = Interaction.__table__
    lead_ids: set[int] = set()
    with read_session(engine) as session:
        for name, first, last in ranges:
            if name == interactions.name:
                query = (
                    select(interactions.c.lead_id)
                    .where(interactions.c.id.between(first, last))
                    .distinct()
                )
                lead_ids.update(session.execute(query).scalars())
    _rescore_in_chunks(engine, Actor.system(), sorted(lead_ids), lambda *_a, **_k: None)
    with write_session(engine) as session:
        _set_batch(session, batch_id, status=DONE, chunks=None)


def refuse_repeat(session: Session, kind: str, sha256: str, lang: str = "en") -> None:
    """ImportFailed when the same file (its SHA-256) was imported as `kind` before."""
    table = ImportBatch.__table__
    earlier = session.execute(
        select(table.c.imported_at, table.c.rows).where(
            table.c.kind == kind, table.c.sha256 == sha256
        )
    ).first()
    if earlier is not None:
        zone = ZoneInfo(settings_service.get_value(session, "timezone"))
        day = earlier.imported_at.astimezone(zone).date().isoformat()
        raise ImportFailed("importer.already_imported", lang, date=day, rows=f"{earlier.rows:,}")
