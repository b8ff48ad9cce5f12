"""How long a sign-in waits while a 1,000,000-row import runs (issue "Safe to run in a real
hospital": a sign-in during a 1M-row import waits under 1 s).

    python -m benchmarks.import_lock [--rows 1000000] [--leads 100000] [--keep DIR]

Builds a SQLite hospital in a temporary directory (a department, a staff member, `--leads`
leads imported through the importer, one user account), writes a CSV of `--rows`
interactions, and starts `python -m core.cli import interactions FILE --progress` in a
subprocess. Meanwhile this process signs the user in over and over — a sign-in's database
writes, each in its own write transaction as the login form does: a failed attempt
(`users.record_login_failure`) and a successful one (`users.start_session`) — and times each
write's wait. The import's progress lines (stderr) tell which phase it is in. Prints one
row per phase (a sign-in whose wait spans phases is listed as "from → to"): sign-ins (two
writes each), the longest write wait, the 95th percentile, and sign-ins that gave up after
SQLite's 30 s busy timeout ("database is locked"), then how long each phase of the import
took (from its progress lines) and its total wall time.

On SQLite a large file is written in short transactions
(`core.importing.writer.write_in_chunks`), so the write phase shows "write (insert)" and
"write (rescore)" with waits of a fraction of a second; "write (re-read)" appears only for a
file written in one transaction.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHASES = (
    ("Reading", "parse"),
    ("Checking", "check"),
    ("Writing: checking", "write (re-read)"),
    ("Writing rows", "write (insert)"),
    ("Rescoring", "write (rescore)"),
    ("Done", "done"),
)
KINDS = ["browse_news", "download", "event_signup", "event_attend", "livestream"]


def _setup(url: str, directory: Path, leads: int) -> None:
    from sqlmodel import Session

    from core import importing, schema
    from core.db import make_engine
    from core.models import AppUser
    from core.permissions import Actor
    from core.services import users

    engine = make_engine(url)
    schema.upgrade(engine)
    system = Actor.system()
    files = {
        "departments": "code,name\nD1,Obstetrics\n",
        "staff": "staff_no,name,department_code\nS1,Li Na,D1\n",
        "leads": "lead_ref,name,owner_staff_no,created_on\n"
        + "".join(f"L{i},Lead {i},S1,2025-01-01\n" for i in range(leads)),
    }
    for kind, text in files.items():
        importing.run_import(actor=system, kind=kind, content=text.encode(), engine=engine)
    with Session(engine) as session:
        session.add(
            AppUser(username="nurse", role="staff", password_hash=users.hash_password("x" * 12))
        )
        session.commit()
    engine.dispose()


def _interactions(path: Path, rows: int, leads: int) -> None:
    start = dt.date(2025, 1, 2)
    days = [(start + dt.timedelta(days=d)).isoformat() for d in range(300)]
    with path.open("w", encoding="utf-8") as out:
        out.write("lead_ref,kind,occurred_on,points\n")
        out.writelines(
            f"L{(i * 7919) % leads},{KINDS[i % 5]},{days[i % 300]},\n" for i in range(rows)
        )


def _sign_in(engine, username: str) -> list[float]:
    from core.db import write_session
    from core.services import users

    waits = []
    started = time.perf_counter()
    with write_session(engine) as session:
        users.record_login_failure(session, username=username)
    waits.append(time.perf_counter() - started)
    started = time.perf_counter()
    with write_session(engine) as session:
        users.start_session(session, user=users.get_by_username(session, username))
    waits.append(time.perf_counter() - started)
    return waits


def run(
    rows: int, leads: int, directory: Path
) -> tuple[dict[str, list[float]], dict[str, int], str]:
    from core.db import make_engine

    url = f"sqlite:///{directory / 'lock.db'}"
    print(f"setting up {leads:,} leads ...", file=sys.stderr)
    _setup(url, directory, leads)
    csv_path = directory / "interactions.csv"
    _interactions(csv_path, rows, leads)
    size = csv_path.stat().st_size / 1e6
    print(f"{rows:,} interactions, {size:.0f} MB; importing ...", file=sys.stderr)
    engine = make_engine(url)
    phase = ["start"]
    log: list[str] = []
    process = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "import", "interactions", str(csv_path), "--progress"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def follow() -> None:
        for line in process.stderr:
            log.append(line.rstrip())
            for marker, name in PHASES:
                if marker in line:
                    phase[0] = name

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    waits: dict[str, list[float]] = {}
    failures: dict[str, int] = {}
    started = time.perf_counter()
    while process.poll() is None:
        began = phase[0]
        try:
            done = _sign_in(engine, "nurse")
        except Exception as error:  # a sign-in that gave up waiting (busy timeout: 30 s)
            label = began if phase[0] == began else f"{began} → {phase[0]}"
            failures[label] = failures.get(label, 0) + 1
            print(f"sign-in failed ({label}): {error}".splitlines()[0], file=sys.stderr)
        else:  # a wait that spans phases is shown as "from → to"
            label = began if phase[0] == began else f"{began} → {phase[0]}"
            waits.setdefault(label, []).extend(done)
        time.sleep(0.05)
    total = time.perf_counter() - started
    reader.join(5)
    out = process.stdout.read()
    engine.dispose()
    print("\n".join(log), file=sys.stderr)
    print(out.strip(), file=sys.stderr)
    print(f"import exit {process.returncode}, {total:.1f} s wall", file=sys.stderr)
    return waits, failures, _timings(log, process.returncode, total)


def _timings(log: list[str], returncode: int, total: float) -> str:
    """`import: exit 0, 60.1 s wall; parse 9.8 s, check 6.0 s, ...` from the progress lines
    (each starts with the seconds since the import started)."""
    starts: dict[str, float] = {}
    for line in log:
        parts = line.split()
        try:
            seconds = float(parts[0].rstrip("s"))
        except (IndexError, ValueError):
            continue
        for marker, name in PHASES:
            if marker in line and name not in starts:
                starts[name] = seconds
    ordered = sorted(starts.items(), key=lambda item: item[1])
    spans = [
        f"{name} {ordered[i + 1][1] - began:.1f} s" for i, (name, began) in enumerate(ordered[:-1])
    ]
    return f"import: exit {returncode}, {total:.1f} s wall; " + ", ".join(spans)


def _table(waits: dict[str, list[float]], failures: dict[str, int]) -> str:
    lines = ["| phase | sign-ins | max wait | p95 wait | failed |", "|---|---:|---:|---:|---:|"]
    order = ["start"] + [name for _, name in PHASES]

    def position(label: str) -> tuple[int, int]:
        parts = [order.index(p) if p in order else 99 for p in label.split(" → ")]
        return parts[0], parts[-1]

    for name in sorted({*waits, *failures}, key=position):
        values = sorted(waits.get(name, [])) or [float("nan")]
        p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
        lines.append(
            f"| {name} | {len(values) // 2:,} | {values[-1]:.3f} s | {p95:.3f} s | "
            f"{int(failures.get(name, 0))} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    args = parser.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        waits, failures, timings = run(args.rows, args.leads, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="import-lock-") as directory:
            waits, failures, timings = run(args.rows, args.leads, Path(directory))
    print(_table(waits, failures))
    print(timings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
