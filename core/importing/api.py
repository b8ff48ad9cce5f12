"""Importing a file (SPEC §5): a CSV (UTF-8) or XLSX file of one KIND, all rows or none.

The whole file is read (`core.importing.reader`) and checked first (every bad row is
collected, with the file's row number: `core.importing.checks`, `core.importing.plans`), and
only a file without a single bad row is written, in bulk (`core.importing.writer`).
- `run_import` (the pages and the CLI) reads and checks with no write lock held and takes it
  only to write, re-reading what the check read from the database: in one transaction, or
  on SQLite for a large file in short ones that still leave all rows or none;
- `import_file` does it all in the caller's session and never commits.
Both take `dry_run` (check only, write nothing) and report progress and errors in `lang`.
"""

from __future__ import annotations

import gc
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from core import data_version
from core.db import get_engine, read_session, write_session
from core.domain import Role
from core.i18n import t
from core.importing.checks import Checker, check_header
from core.importing.kinds import KINDS, MARKETER_KINDS
from core.importing.outcome import ImportFailed, ImportRejected, ImportReport
from core.importing.plans import PLANS
from core.importing.reader import Limits, Table, read_table
from core.importing.writer import (
    Checked,
    Plan,
    clean_up_imports,
    in_chunks,
    refuse_repeat,
    write_checked,
    write_in_chunks,
)
from core.models import utcnow
from core.permissions import Actor, PermissionDenied, require_role

BAD_ROWS_KEPT = 500  # the cells of this many bad rows travel with ImportRejected (for a page)


_paused = [0, False]  # imports running with the collector paused; whether it was on before
_paused_lock = threading.Lock()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a file is read, checked and written: its rows are
    100,000s of lists and tuples that live until the end and hold no cycle, and the
    collector, woken every 700 new ones, would walk them (and everything else the process
    holds) again and again: a third of a large import's time. Turned back on, if it was on,
    when the last import running ends."""
    with _paused_lock:
        if _paused[0] == 0:
            _paused[1] = gc.isenabled()
            gc.disable()
        _paused[0] += 1
    try:
        yield
    finally:
        with _paused_lock:
            _paused[0] -= 1
            if _paused[0] == 0 and _paused[1]:
                gc.enable()


def _begin(actor: Actor, kind: str, lang: str) -> None:
    require_role(actor, Role.admin, Role.marketer)
    if kind not in KINDS:
        raise ImportFailed("importer.unknown_kind", lang, kind=kind, kinds=", ".join(KINDS))
    if actor.role == Role.marketer and kind not in MARKETER_KINDS:
        raise PermissionDenied(t("importer.kind_not_allowed", lang, role=actor.role, kind=kind))


def _stepper(progress: Callable[[float, str], None] | None, lang: str):
    def step(fraction: float, key: str, **values: Any) -> None:
        if progress is not None:
            progress(fraction, t(key, lang, **values))

    return step


def _in_lang(error: ImportFailed, lang: str) -> ImportFailed:
    error.lang = lang
    error.args = (error.message_in(lang),)
    return error


def _load(path: Path | None, content: bytes | None, filename: str | None) -> tuple[bytes, str]:
    if content is None:
        if path is None:
            raise ImportFailed("importer.no_file")
        content = Path(path).read_bytes()
    return content, (filename or (Path(path).name if path is not None else "upload"))[:255]


def _read(content: bytes, filename: str, kind: str, limits: Limits) -> Table:
    """The file's table; a header that does not fit `kind` is refused as soon as it is read."""
    columns = KINDS[kind]
    return read_table(
        content,
        filename,
        limits,
        check_header=lambda header, row: check_header(header, row, columns),
    )


def check(session: Session, actor: Actor, kind: str, table: Table) -> tuple[Checker, Plan]:
    """Every row checked against the file and the database (read in `session`): the kind's
    checker and plan, or ImportRejected with every bad row (the first BAD_ROWS_KEPT rows'
    cells with it)."""
    checker = Checker(session, kind, table)
    plan = PLANS[kind](checker, actor, utcnow())
    if checker.errors:
        position = checker.index  # on one row, errors in the order of the file's columns
        errors = sorted(checker.errors, key=lambda e: (e.row, position.get(e.column, -1)))
        rejected = ImportRejected(errors)
        rejected.header = list(table.header)
        rejected.cells = {
            table.numbers[i]: table.rows[i] for i in sorted(checker.bad)[:BAD_ROWS_KEPT]
        }
        raise rejected
    return checker, plan


@_collector_paused()
def import_file(
    session: Session,
    *,
    actor: Actor,
    kind: str,
    path: Path | None = None,
    content: bytes | None = None,
    filename: str | None = None,
    dry_run: bool = False,
    progress: Callable[[float, str], None] | None = None,
    lang: str = "en",
) -> ImportReport:
    """Import one CSV or XLSX file of `kind`: every row, or none, all in `session`.

    Raises ImportRejected (every bad row, ordered) or ImportFailed (a file-level problem:
    unknown kind, empty, not UTF-8, unreadable, too big, already imported), both ValueErrors
    with a one-line message in `lang`; PermissionDenied for a role that may not import `kind`.
    Reads, checks and writes in the caller's transaction and never commits; `dry_run` writes
    nothing. A user's action calls `run_import` instead, which holds no write lock while it
    reads and checks.
    """
    started = time.perf_counter()
    _begin(actor, kind, lang)
    step = _stepper(progress, lang)
    try:
        step(0.0, "importer.progress_reading")
        content, filename = _load(path, content, filename)
        sha256 = hashlib.sha256(content).hexdigest()
        session.flush()
        refuse_repeat(session, kind, sha256)
        table = _read(content, filename, kind, Limits.of(session))
        step(0.2, "importer.progress_checking", rows=f"{len(table.rows):,}")
        checker, plan = check(session, actor, kind, table)
        checked = Checked(kind, filename, sha256, table, checker, plan)
        report = write_checked(session, actor, checked, dry_run, step, lang)
    except ImportFailed as error:
        raise _in_lang(error, lang) from None
    report.seconds = time.perf_counter() - started
    return report


@_collector_paused()
def run_import(
    *,
    actor: Actor,
    kind: str,
    path: Path | None = None,
    content: bytes | None = None,
    filename: str | None = None,
    dry_run: bool = False,
    progress: Callable[[float, str], None] | None = None,
    lang: str = "en",
    engine: Engine | None = None,
) -> ImportReport:
    """One user's import of a CSV or XLSX file of `kind`, all rows or none, that keeps no
    one else from writing for long.

    The file is read with no database session open and checked in a read session (on SQLite
    the write lock is not taken). Then it is written:
    - in one write session (`BEGIN IMMEDIATE`) that first reads again what the check read
      from the database — the referenced rows, the scoring rules, the members' balances; a
      unique key is re-checked by its index on insert — on PostgreSQL (row locks: nobody
      waits for the import), for `points` (their ledger is append-only: a written entry can
      never be taken back) and for a file of at most SINGLE_ROWS rows;
    - otherwise (SQLite) in short transactions, see `write_in_chunks`: the file lands
      completely or, on any failure (or a kill: see `clean_up_imports`), leaves nothing.
    Had anything the check read changed meanwhile, the file is checked again. Same errors as
    `import_file`; commits on success; `dry_run` opens no write session.
    """
    started = time.perf_counter()
    _begin(actor, kind, lang)
    step = _stepper(progress, lang)
    engine = engine or get_engine()
    try:
        step(0.0, "importer.progress_reading")
        content, filename = _load(path, content, filename)
        sha256 = hashlib.sha256(content).hexdigest()
        if not dry_run:
            clean_up_imports(engine)  # a killed import's rows, before the repeat check
        with read_session(engine) as session:
            refuse_repeat(session, kind, sha256)
            limits = Limits.of(session)
        table = _read(content, filename, kind, limits)
        with read_session(engine) as session:
            step(0.2, "importer.progress_checking", rows=f"{len(table.rows):,}")
            checker, plan = check(session, actor, kind, table)
        checked = Checked(kind, filename, sha256, table, checker, plan)
        if dry_run:
            report = write_checked(None, actor, checked, True, step, lang)
        elif in_chunks(engine, kind, plan):
            report = write_in_chunks(
                engine, actor, checked, step, lang,
                recheck=lambda session: check(session, actor, kind, table),
            )  # fmt: skip
        else:
            with write_session(engine) as session:
                step(0.3, "importer.progress_verifying")
                if not checker.still_valid(session):
                    checker, plan = check(session, actor, kind, table)
                    checked = Checked(kind, filename, sha256, table, checker, plan)
                report = write_checked(session, actor, checked, False, step, lang)
        if not dry_run:  # every app process's caches of what the file changed
            data_version.bump_now(engine, data_version.import_subjects(kind))
    except ImportFailed as error:
        raise _in_lang(error, lang) from None
    report.seconds = time.perf_counter() - started
    return report
