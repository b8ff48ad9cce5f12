"""Backups taken while the app runs, and restores that never leave a mixed database.

Backup: SQLite's online backup API copies a snapshot page by page (writers are not blocked
for long, and the copy is never torn); PostgreSQL: `pg_dump` in custom format. Either way the
copy is written to a temporary file in the target's folder (readable by its owner only: it
holds personal data), removed on any failure, and renamed into place at the end. The live
database (and its -wal/-shm files) is refused as a target, and so is an existing file unless
`force` is given.

Restore (SQLite): only while no other process has the database open: every connection made by
`core.db` holds a shared lock on `<db>.lock` and the restore takes it exclusively; a database
held by another program (a `sqlite3` shell) is noticed through SQLite's own file locks. The
backup is copied next to the database and checked (`PRAGMA integrity_check`), the stale
-wal/-shm of a crashed process are moved aside with the replaced database (kept as
`<db>.replaced-YYYYMMDD-HHMMSS`, openable as it was at the crash), the copy is renamed into
place and checked again. PostgreSQL: `pg_restore --clean --if-exists --no-owner` in one
transaction, refused while other sessions are connected to the database unless `force`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import shutil
import sqlite3
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL, Engine, make_url

from core.db import hold_sqlite_lock, normalise_url, open_sqlite_lock, sqlite_lock_path

SQLITE_HEADER = b"SQLite format 3\x00"
SIDE_FILES = ("-wal", "-shm", "-journal")


class BackupError(RuntimeError):
    """A backup or restore refused or failed. `code` names the reason (the Admin page shows it
    in the user's language with `values`); `str()` is the one-line English reason."""

    def __init__(self, code: str, message: str, **values):
        super().__init__(message)
        self.code = code
        self.values = values


@dataclass(frozen=True)
class Restored:
    database: str  # the file, or the PostgreSQL database's name
    size: int | None  # bytes of the restored SQLite file
    replaced: Path | None  # where the database it replaced was kept (SQLite)


def _size_text(size: int) -> str:
    return f"{size / 1_048_576:,.1f} MB"


def _first_line(text_: str) -> str:
    lines = [line.strip() for line in text_.strip().splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or [""])[0]


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    for candidate in (path, *(Path(f"{path}{side}") for side in SIDE_FILES)):
        with contextlib.suppress(OSError):
            candidate.unlink(missing_ok=True)


def sqlite_database(url: str | URL | Engine) -> Path:
    """The file of a SQLite URL or engine (an in-memory database has none)."""
    if isinstance(url, Engine):
        url = url.url
    parsed = make_url(normalise_url(url) if isinstance(url, str) else url)
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError("memory", "an in-memory database cannot be backed up or restored")
    return Path(database)


def _live_files(database: Path) -> list[Path]:
    return [
        database,
        *(Path(f"{database}{side}") for side in SIDE_FILES),
        sqlite_lock_path(database),
    ]


def _is_live_file(target: Path, database: Path) -> bool:
    """`target` is the database or one of its side files, also through symlinks or links."""
    resolved = os.path.realpath(target)
    for live in _live_files(database):
        if resolved == os.path.realpath(live):
            return True
        try:
            if target.exists() and live.exists() and os.path.samefile(target, live):
                return True
        except OSError:
            pass
    return False


# --- backup -------------------------------------------------------------------------------


def backup_database(engine: Engine, target: Path, *, force: bool = False) -> Path:
    """Copy the database to `target` (never the live database; an existing file only with
    `force`). Returns `target`; raises BackupError with nothing left behind on failure."""
    target = Path(target)
    dialect = engine.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        raise BackupError("unsupported", f"no backup method for {dialect}")
    if dialect == "sqlite":
        database = sqlite_database(engine)
        if _is_live_file(target, database):
            raise BackupError(
                "live_target",
                f"{target} is the live database (or one of its files): "
                "write the backup to another path, e.g. backups/trustpool-YYYY-MM-DD.db",
                path=str(target),
            )
    if target.is_dir():
        raise BackupError("is_folder", f"{target} is a folder: give a file name", path=str(target))
    if target.exists() and not force:
        raise BackupError(
            "exists",
            f"{target} already exists: choose a new name, or pass --force to replace it",
            path=str(target),
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    os.close(handle)
    temporary = Path(name)
    try:
        if dialect == "sqlite":
            _copy_sqlite(database, temporary)
        else:
            _pg_dump(engine, temporary)
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        _place(temporary, target, force=force)
    except BaseException as error:
        _remove(temporary)
        if isinstance(error, BackupError):
            raise
        if isinstance(error, sqlite3.Error | OSError):
            raise BackupError(
                "failed", f"the backup failed ({error}); nothing was written to {target}"
            ) from error
        raise
    _fsync_folder(target.parent)
    return target


def _copy_sqlite(database: Path, temporary: Path) -> None:
    if not database.exists():
        raise BackupError("missing", f"there is no database at {database}", path=str(database))
    lock = hold_sqlite_lock(database)  # waits while a restore is swapping the file
    try:
        source = sqlite3.connect(database, timeout=30)
        copy = sqlite3.connect(temporary)
        try:
            # One step: a paged copy restarts whenever the app writes, and may never finish.
            source.backup(copy)
            # A self-contained file: opening the backup later leaves no -wal/-shm beside it.
            copy.execute("PRAGMA journal_mode=DELETE")
            check = copy.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise BackupError("corrupt", f"the copy failed its integrity check: {check}")
        finally:
            copy.close()
            source.close()
    finally:
        if lock is not None:
            lock.close()


def _pg_arguments(engine_or_url: Engine | str) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password, and an environment carrying it (not on the command
    line, where `ps` shows it)."""
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else make_url(engine_or_url)
    url = url.set(drivername="postgresql")
    environment = dict(os.environ)
    if url.password:
        environment["PGPASSWORD"] = str(url.password)
        url = url.set(password=None)
    return url.render_as_string(hide_password=False), environment


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            "missing_tool",
            f"{name} is not installed (apt-get install postgresql-client)",
            tool=name,
        )
    return path


def _pg_dump(engine: Engine, temporary: Path) -> None:
    pg_dump = _tool("pg_dump")
    url, environment = _pg_arguments(engine)
    result = subprocess.run(
        [pg_dump, "--format=custom", f"--file={temporary}", url],
        capture_output=True,
        text=True,
        env=environment,
    )
    if result.returncode != 0:
        raise BackupError("failed", f"pg_dump failed: {_first_line(result.stderr)}")


def _place(temporary: Path, target: Path, *, force: bool) -> None:
    if force:
        os.replace(temporary, target)
        return
    try:
        os.link(temporary, target)  # fails if the target appeared meanwhile
    except FileExistsError:
        raise BackupError(
            "exists",
            f"{target} already exists: choose a new name, or pass --force to replace it",
            path=str(target),
        ) from None
    except OSError:  # a file system without hard links
        if target.exists():
            raise BackupError(
                "exists",
                f"{target} already exists: choose a new name, or pass --force to replace it",
                path=str(target),
            ) from None
        os.replace(temporary, target)
        return
    temporary.unlink()


# --- restore ------------------------------------------------------------------------------


def restore_database(url: str, backup: Path, *, force: bool = False) -> Restored:
    """Replace the database at `url` with `backup` (see the module's docstring)."""
    url = normalise_url(url)
    backend = make_url(url).get_backend_name()
    backup = Path(backup)
    if not backup.is_file():
        raise BackupError("no_backup", f"there is no backup file {backup}", path=str(backup))
    if backend == "sqlite":
        return restore_sqlite_database(backup, sqlite_database(url))
    if backend == "postgresql":
        return _restore_postgres(url, backup, force=force)
    raise BackupError("unsupported", f"no restore method for {backend}")


def _integrity(path: Path) -> str:
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute("PRAGMA integrity_check(5)").fetchall()
        problems = "; ".join(str(row[0]) for row in rows)
        if problems != "ok":
            return problems
        tables = connection.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        ).fetchone()[0]
        return "ok" if tables else "not a TrustPool database (no alembic_version table)"
    except sqlite3.DatabaseError as error:
        return str(error)
    finally:
        connection.close()


def _held_by_another_program(database: Path) -> Path | None:
    """The first of the database's files on which another process holds an SQLite lock (an
    open connection holds one on the database and its -shm for as long as it is open)."""
    for path in (database, *(Path(f"{database}{side}") for side in SIDE_FILES)):
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.lockf(fd, fcntl.LOCK_UN)
        except OSError:
            return path
        finally:
            os.close(fd)  # (this process holds no SQLite connection to it: nothing else lost)
    return None


def _stop_the_app(database: Path | str, why: str) -> BackupError:
    return BackupError(
        "in_use",
        f"{why}: stop the app first (and any command using {database}), then run restore again",
        database=str(database),
    )


def restore_sqlite_database(backup: Path, database: Path) -> Restored:
    """Put `backup` in place of the SQLite file `database` (see the module's docstring)."""
    backup, database = Path(backup), Path(database)
    if _is_live_file(backup, database):
        raise BackupError(
            "backup_is_live", f"{backup} is the live database itself", path=str(backup)
        )
    with open(backup, "rb") as handle:
        if handle.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise BackupError(
                "not_sqlite", f"{backup} is not a SQLite database backup", path=str(backup)
            )
    backup_wal = Path(f"{backup}-wal")
    if backup_wal.exists() and backup_wal.stat().st_size:
        raise BackupError(
            "backup_wal",
            f"{backup} has a {backup_wal.name} file beside it (it was copied from a running "
            "database?): make the backup with `python -m core.cli backup`",
            path=str(backup),
        )
    database.parent.mkdir(parents=True, exist_ok=True)
    lock = open_sqlite_lock(database)
    if lock is None:
        raise BackupError(
            "read_only", f"cannot create {sqlite_lock_path(database)}: is the folder writable?"
        )
    with lock:
        try:
            fcntl.flock(lock.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _stop_the_app(
                database, f"{database} is in use by another process (the app?)"
            ) from None
        held = _held_by_another_program(database)
        if held is not None:
            raise _stop_the_app(database, f"another program has {held} open")
        handle, name = tempfile.mkstemp(
            dir=database.parent, prefix=f".{database.name}.restoring-", suffix=".db"
        )
        os.close(handle)
        temporary = Path(name)
        try:
            shutil.copyfile(backup, temporary)
            check = _integrity(temporary)  # the backup's own bytes, before anything changes
            if check != "ok":
                raise BackupError(
                    "corrupt_backup",
                    f"{backup} failed its integrity check ({check}); nothing was changed",
                    path=str(backup),
                )
            with open(temporary, "rb") as written:
                os.fsync(written.fileno())
            _same_owner_and_mode(temporary, database)
            replaced = _set_aside(database)
            os.replace(temporary, database)
        except BaseException:
            _remove(temporary)
            raise
        _fsync_folder(database.parent)
        check = _integrity(database)
        if check != "ok":
            raise BackupError(
                "corrupt_restore",
                f"the restored {database} failed its integrity check ({check}); the database it "
                f"replaced is kept as {replaced}",
            )
        size = database.stat().st_size
    return Restored(database=str(database), size=size, replaced=replaced)


def _same_owner_and_mode(new: Path, old: Path) -> None:
    """The restored file keeps the replaced one's mode and owner (the app may run as another
    user than the administrator restoring)."""
    try:
        status = old.stat()
    except FileNotFoundError:
        return
    os.chmod(new, stat.S_IMODE(status.st_mode))
    with contextlib.suppress(PermissionError):
        os.chown(new, status.st_uid, status.st_gid)


def _set_aside(database: Path) -> Path | None:
    """Keep the database being replaced, with its -wal (the writes of a crashed process,
    replayed when the kept file is opened), and remove its -shm and -journal so none of them
    is applied to the restored file."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    kept = database.with_name(f"{database.name}.replaced-{stamp}")
    n = 1
    while kept.exists():
        kept = database.with_name(f"{database.name}.replaced-{stamp}-{n}")
        n += 1
    if database.exists():
        try:
            os.link(database, kept)  # the live path stays in place until the rename
        except OSError:
            shutil.copy2(database, kept)
    else:
        kept = None
    for side in SIDE_FILES:
        stale = Path(f"{database}{side}")
        if not stale.exists():
            continue
        if side != "-shm" and kept is not None and stale.stat().st_size:
            os.replace(stale, Path(f"{kept}{side}"))
        else:
            stale.unlink()
    return kept


def _restore_postgres(url: str, backup: Path, *, force: bool) -> Restored:
    from core.db import make_engine

    pg_restore = _tool("pg_restore")
    listing = subprocess.run([pg_restore, "--list", str(backup)], capture_output=True, text=True)
    if listing.returncode != 0:
        raise BackupError(
            "not_dump",
            f"{backup} is not a pg_dump custom-format backup ({_first_line(listing.stderr)})",
            path=str(backup),
        )
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            name = connection.execute(text("SELECT current_database()")).scalar()
            others = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar()
    finally:
        engine.dispose()
    if others and not force:
        raise _stop_the_app(
            name,
            f"{others} other connection(s) to the database {name} are open (the app?); "
            "or pass --force",
        )
    plain, environment = _pg_arguments(url)
    result = subprocess.run(
        [pg_restore, "--clean", "--if-exists", "--no-owner", "--single-transaction",
         "--exit-on-error", f"--dbname={plain}", str(backup)],
        capture_output=True, text=True, env=environment,
    )  # fmt: skip
    if result.returncode != 0:
        raise BackupError(
            "failed",
            f"pg_restore failed, nothing was changed: {_first_line(result.stderr)}",
        )
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
    return Restored(database=name, size=None, replaced=None)


def restore_sqlite(backup: Path, target: Path) -> None:
    """Copy a SQLite backup into a new file `target` (no app uses it; for inspecting a
    backup). To put a backup in place of the app's database use `restore_database`."""
    source = sqlite3.connect(backup)
    destination = sqlite3.connect(target)
    try:
        source.backup(destination)
    finally:
        destination.close()
        source.close()
