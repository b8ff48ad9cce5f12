"""A consistent copy of the database, taken while the app may be writing.

SQLite: the online backup API copies a snapshot page by page (writers are not blocked for
long, and the copy is never torn). PostgreSQL: `pg_dump` in custom format (restore with
`pg_restore --clean -d DATABASE_URL FILE`).
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import Engine


def backup_database(engine: Engine, target: Path) -> Path:
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if engine.dialect.name == "sqlite":
        source_path = engine.url.database
        if not source_path or source_path == ":memory:":
            raise ValueError("an in-memory database cannot be backed up")
        tmp = target.with_suffix(target.suffix + ".partial")
        tmp.unlink(missing_ok=True)
        source = sqlite3.connect(source_path, timeout=30)
        copy = sqlite3.connect(tmp)
        try:
            # One step: a paged copy restarts whenever the app writes, and may never finish.
            source.backup(copy)
            check = copy.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise RuntimeError(f"backup failed its integrity check: {check}")
        finally:
            copy.close()
            source.close()
        tmp.replace(target)
        return target
    if engine.dialect.name == "postgresql":
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            raise RuntimeError("pg_dump is not installed (apt-get install postgresql-client)")
        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        subprocess.run([pg_dump, "--format=custom", f"--file={target}", url], check=True)
        return target
    raise ValueError(f"no backup method for {engine.dialect.name}")


def restore_sqlite(backup: Path, target: Path) -> None:
    """Restore a SQLite backup over `target` (stop the app first)."""
    source = sqlite3.connect(backup)
    destination = sqlite3.connect(target)
    try:
        source.backup(destination)
    finally:
        destination.close()
        source.close()
