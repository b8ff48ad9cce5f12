"""The one engine factory and the session scopes every caller uses.

SQLite runs in WAL mode with foreign keys on and a busy timeout. Write sessions take the
write lock when they begin (`BEGIN IMMEDIATE`), so concurrent writers queue instead of
failing half-way or losing a read-then-write race; read sessions begin deferred, so a long
KPI query never blocks writers. PostgreSQL URLs work unchanged (psycopg 3).

Every SQLite connection opened here holds a shared `flock` on the sidecar file `<db>.lock`
(taken before the file is opened, released when the connection closes): `core.backup`'s
restore takes it exclusively, so it refuses while the app or a command has the database open,
and a process that connects during a restore waits for it instead of opening the old file.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import functools
import itertools
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, create_engine

from core.config import get_settings

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()
SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalise_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` URLs and use psycopg 3 for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def sqlite_lock_path(database: str | os.PathLike) -> Path:
    """The sidecar lock file of a SQLite database file."""
    return Path(f"{database}.lock")


class SqliteLock:
    """An open `<db>.lock` with a `flock` held on it; closing it (or losing it) releases it."""

    def __init__(self, fd: int, path: Path):
        self.fd: int | None = fd
        self.path = path

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # releases the flock
            self.fd = None

    def __del__(self) -> None:
        self.close()

    def __enter__(self) -> SqliteLock:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


def open_sqlite_lock(database: str | os.PathLike) -> SqliteLock | None:
    """Open (creating it) the database's lock file, without locking it; None when it can be
    neither created nor opened (a read-only folder: nothing can replace the database there)."""
    path = sqlite_lock_path(database)
    try:
        # Readable by all: a process of another user locks it through a read-only handle.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
    return SqliteLock(fd, path)


def hold_sqlite_lock(
    database: str | os.PathLike, *, wait: float = SQLITE_BUSY_TIMEOUT_MS / 1000
) -> SqliteLock | None:
    """A shared lock on the database for as long as the returned object is open. Waits up to
    `wait` seconds while a restore holds the lock exclusively."""
    lock = open_sqlite_lock(database)
    if lock is None:
        return None
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(lock.fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return lock
        except BlockingIOError:
            if time.monotonic() >= deadline:
                lock.close()
                raise sqlite3.OperationalError(
                    f"{database} is being restored (its lock file {lock.path} is held): "
                    "try again when the restore has finished"
                ) from None
            time.sleep(0.05)


def _configure_sqlite(engine: Engine, database: str | None) -> None:
    if database and database != ":memory:" and not database.startswith("file:"):

        @event.listens_for(engine, "do_connect")
        def _lock_then_connect(dialect, record, cargs, cparams):
            # The lock comes first: a restore swapping the file cannot slip in between.
            lock = hold_sqlite_lock(database)
            try:
                connection = dialect.connect(*cargs, **cparams)
            except BaseException:
                if lock is not None:
                    lock.close()
                raise
            if lock is not None:
                record.info["trustpool_lock"] = lock
            return connection

        @event.listens_for(engine, "close")
        def _release(_dbapi_connection, record):
            lock = record.info.pop("trustpool_lock", None)
            if lock is not None:
                lock.close()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy's "begin" event decide how each transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        if connection.get_execution_options().get("trustpool_write"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def make_engine(url: str) -> Engine:
    """Build a new engine for `url` (tests use this for throw-away databases)."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        _configure_sqlite(engine, database)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def get_engine(url: str | None = None) -> Engine:
    """The shared engine for `url` (default: the configured DATABASE_URL)."""
    url = normalise_url(url or get_settings().database_url)
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
        return engine


def dispose_engines() -> None:
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def read_session(engine: Engine | None = None) -> Iterator[Session]:
    """A short session for reading; never blocks writers."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        yield session


@contextmanager
def write_session(engine: Engine | None = None) -> Iterator[Session]:
    """One user action's transaction: commits on success, rolls back on any error."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        # Take the connection now so SQLite's write lock is held from the first read.
        session.connection(execution_options={"trustpool_write": True})
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


class _Memo(dict):
    """Each distinct value processed once (a column of dates holds few distinct ones)."""

    def __init__(self, process):
        super().__init__()
        self.process = process

    def __missing__(self, value):
        processed = self[value] = self.process(value)
        return processed


def _processed(process, values: Sequence[Any]) -> list[Any]:
    try:
        return list(map(_Memo(process).__getitem__, values))
    except TypeError:  # an unhashable value
        return list(map(process, values))


def execute_many(
    session: Session,
    statement,
    columns: Mapping[str, Sequence[Any]],
    constants: Mapping[str, Any] | None = None,
) -> None:
    """Run an INSERT or UPDATE once per row, as `session.execute(statement, dicts)` would,
    in the session's transaction, with one driver-level executemany.

    For bulk writes (imports, rescoring): SQLAlchemy's per-row parameter handling costs more
    than SQLite's own insert. Here each bound value goes through the same type processor
    SQLAlchemy applies (dates as ISO text on SQLite, UTC timestamps, ...), column by column.
    `columns` maps each parameter to its values, one per row (all of one length);
    `constants` are the same for every row (processed once). Every bound parameter of
    `statement` must be given one way or the other, or carry its own value (like the 1 of
    `version + 1`).
    """
    counts = {len(values) for values in columns.values()}
    if len(counts) != 1:
        raise ValueError("execute_many: columns of different lengths")
    count = counts.pop()
    if not count:
        return
    constants = dict(constants or {})
    connection = session.connection()
    dialect = connection.dialect
    compiled = statement.compile(dialect=dialect, column_keys=[*columns, *constants])
    sql = str(compiled)
    if compiled.positional:
        names = list(compiled.positiontup)
    else:
        names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", sql)))
    bound: list[Iterable[Any]] = []
    for name in names:
        bind = compiled.binds[name]
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if name in columns:
            values = columns[name]
            bound.append(_processed(process, values) if process else values)
            continue
        if name in constants:
            value = constants[name]
        elif bind.effective_value is not None:
            value = bind.effective_value
        else:
            raise ValueError(f"execute_many: no value for parameter '{name}'")
        bound.append(itertools.repeat(process(value) if process else value, count))
    parameters: list[Any] = list(zip(*bound, strict=False))  # repeat() columns are endless
    target = copy_target(sql) if dialect.name == "postgresql" else None
    if target is not None and count >= COPY_ROWS:
        copy_rows(connection, sql, target, parameters)
        return
    if not compiled.positional:
        parameters = [dict(zip(names, values, strict=True)) for values in parameters]
    connection.exec_driver_sql(sql, parameters)


# PostgreSQL: a plain INSERT of at least this many rows goes through COPY (`copy_rows`).
COPY_ROWS = 2

# `INSERT INTO t (a, b) VALUES (%(a)s::INTEGER, %(b)s::VARCHAR) [RETURNING t.id]` as the
# psycopg dialect compiles `insert(table)`: every value one bound parameter, in column order.
_BOUND = r"%\((\w+)\)s(?:::[A-Z][A-Z ]*(?:\(\d+(?:, ?\d+)?\))?(?:\[\])?)?"
_PLAIN_INSERT = re.compile(
    rf"INSERT INTO (\S+) \(([^()]*)\) VALUES \(({_BOUND}(?:, {_BOUND})*)\)"
    r"(?: RETURNING [\w.\"]+)?"
)


def copy_target(sql: str) -> tuple[str, list[str]] | None:
    """(table, columns) of a compiled INSERT that `COPY table (columns) FROM STDIN` can do
    exactly (each value one bound parameter, no ON CONFLICT, no SQL expression); else None."""
    match = _PLAIN_INSERT.fullmatch(sql)
    if match is None:
        return None
    columns = [name.strip() for name in match.group(2).split(",")]
    if len(columns) != len(re.findall(_BOUND, match.group(3))):
        return None
    return match.group(1), columns


def copy_rows(connection, sql: str, target: tuple[str, list[str]], rows: list[tuple]) -> None:
    """Write `rows` (values already through SQLAlchemy's type processors, in the order of
    `target`'s columns) with one `COPY ... FROM STDIN`, in the connection's transaction. A
    database error comes as SQLAlchemy's own (a unique key taken: IntegrityError), as the
    executemany it stands for would raise it."""
    table, columns = target
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    dbapi = connection.dialect.loaded_dbapi
    cursor = connection.connection.driver_connection.cursor()
    try:
        with cursor.copy(statement) as copy:
            write = copy.write_row
            for row in rows:
                write(row)
    except dbapi.Error as error:
        raise DBAPIError.instance(sql, None, error, dbapi.Error) from error
    finally:
        cursor.close()


_iso_date = functools.lru_cache(maxsize=65_536)(dt.date.fromisoformat)


def fetch_rows(session: Session, statement) -> list[tuple]:
    """All rows of a SELECT as plain tuples, read with the driver's own cursor (in the
    session's transaction): for reads of 100,000s of rows, where SQLAlchemy's row objects
    cost more than the query. Values come as the driver returns them (a DATE is ISO text on
    SQLite: `as_date` reads both). The statement's parameters (e.g. an `in_([...])` list) are
    sent as they are, so they must be ints or strings."""
    connection = session.connection()
    dialect = connection.dialect
    compiled = statement.compile(dialect=dialect)
    state = compiled.construct_expanded_state()
    if compiled.positional:
        parameters: Any = tuple(state.parameters[name] for name in state.positiontup)
    else:
        parameters = state.parameters
    cursor = connection.connection.cursor()
    try:
        cursor.execute(state.statement, parameters)
        return cursor.fetchall()
    finally:
        cursor.close()


_EXPANDED = (
    " IN (__[POSTCOMPILE_chunk])"  # how SQLAlchemy leaves `in_(bindparam("chunk", expanding=True))`
)


def fetch_in(
    session: Session, statement, values: Iterable[Any], params: Mapping[str, Any] | None = None
) -> list[tuple]:
    """`fetch_rows` of `statement` for all `values` of its one `in_(bindparam("chunk",
    expanding=True))` (CHUNK values per query), with `params` for its other parameters.

    The statement is compiled once and the IN list written here (SQLite: one `?` per value;
    PostgreSQL: `= ANY(%(chunk)s)`, ANY_CHUNK values as one array) instead of by SQLAlchemy, which
    renders a parameter of its own for each value: for 10,000s of ids that costs more than
    the query. Values must be ints or strings, as the driver takes them."""
    connection = session.connection()
    dialect = connection.dialect
    compiled = statement.compile(dialect=dialect)
    sql = compiled.string
    if sql.count(_EXPANDED) != 1:
        raise ValueError(
            "fetch_in: the statement needs one in_(bindparam('chunk', expanding=True))"
        )
    given = {**compiled.params, **(params or {})}
    found: list[tuple] = []
    cursor = connection.connection.cursor()
    # One array parameter on PostgreSQL, however long (its IN list would be a parameter per
    # value: at most 65,535).
    size = CHUNK if compiled.positional else ANY_CHUNK
    try:
        for chunk in chunks(sorted(set(values)), size):
            if compiled.positional:  # qmark (SQLite)
                text = sql.replace(_EXPANDED, f" IN ({', '.join(['?'] * len(chunk))})")
                parameters: Any = []
                for name in compiled.positiontup:
                    if name == "chunk":
                        parameters.extend(chunk)
                    else:
                        parameters.append(given[name])
            else:  # pyformat (psycopg)
                text = sql.replace(_EXPANDED, " = ANY(%(chunk)s)")
                parameters = {**given, "chunk": chunk}
            cursor.execute(text, parameters)
            found.extend(cursor.fetchall())
    finally:
        cursor.close()
    return found


def as_date(value: Any) -> dt.date | None:
    """A date read from the database, whatever the driver gave: SQLite's ISO text (of a DATE,
    or a max() of one), PostgreSQL's date, a timestamp (its date), or nothing (None, "",
    a pandas NaN/NaT) as None. The one place such values are turned into dates."""
    if isinstance(value, str):
        return _iso_date(value[:10]) if value else None
    if value is None or value != value:  # NaN / NaT: a missing date in a pandas column
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return _iso_date(str(value)[:10])


# Values per IN (...) list, everywhere: well below SQLite's and PostgreSQL's limits on bound
# parameters (32,766 and 65,535).
CHUNK = 5_000
ANY_CHUNK = 100_000  # values per `= ANY(%(chunk)s)` array (`fetch_in`, PostgreSQL)


def chunks(values: list, size: int = CHUNK) -> Iterator[list]:
    """`values` in consecutive lists of at most `size` (default CHUNK: values per IN (...)
    list, kept well below SQLite's and PostgreSQL's limits on bound parameters)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
