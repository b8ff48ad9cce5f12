"""`python -m core.cli COMMAND`: the command-line contract of SPEC §4.

Every command runs against DATABASE_URL (default: the SQLite file data/trustpool.db) and
exits non-zero with a one-line reason on error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any


class CliError(Exception):
    """An error reported as one line on stderr with exit status 1."""


class _Parser(argparse.ArgumentParser):
    """Reports a bad argument (e.g. a month not in YYYY-MM) as one line, without the usage."""

    def error(self, message: str):
        self.exit(2, f"error: {message}\n")


def _month(value: str) -> str:
    from core.months import is_month

    if not is_month(value):
        raise argparse.ArgumentTypeError(f"month must be YYYY-MM, got '{value}'")
    return value


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"date must be YYYY-MM-DD, got '{value}'") from None


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__}")


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, default=_json_default, indent=2))


def _print_table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        print("(no rows)")
        return
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns))


def _engine():
    from core import schema
    from core.db import get_engine

    engine = get_engine()
    if not schema.has_table(engine, "alembic_version"):
        raise CliError("the database has no schema yet: run `python -m core.cli init` first")
    _clean_up_imports(engine)
    return engine


def _clean_up_imports(engine) -> None:
    """Finish what an import killed mid-write left behind (core.importer.clean_up_imports).
    Only a batch not yet `done` can need it, so the importer — a large module the one-lead
    commands never use otherwise — is loaded only when there is one."""
    from sqlalchemy import select

    from core.db import read_session
    from core.models import ImportBatch

    with read_session(engine) as session:
        pending = session.execute(
            select(ImportBatch.id).where(ImportBatch.status != "done").limit(1)
        ).first()
    if pending is not None:
        from core import importer

        importer.clean_up_imports(engine)


# --- commands ------------------------------------------------------------------------------


def cmd_init(args) -> None:
    from core import data_version, importer, schema
    from core.db import get_engine, write_session
    from core.services import settings as settings_service

    engine = get_engine()
    schema.upgrade(engine)
    importer.clean_up_imports(engine)  # what an import killed mid-write left behind
    with write_session(engine) as session:
        settings_service.ensure_defaults(session)
        data_version.bump(session, ("settings",))  # defaults a new version may have added
    print(f"schema is up to date ({engine.url.render_as_string(hide_password=True)})")


def cmd_demo(args) -> None:
    from core import data_version, demo
    from core.config import get_settings

    if get_settings().env == "production":
        raise CliError(
            "TRUSTPOOL_ENV=production: the demo hospital (logins with a public password) is "
            "never loaded into a production database"
        )
    cmd_init(args)
    engine = _engine()
    summary = demo.load_demo(engine, progress=lambda message: print(message, file=sys.stderr))
    data_version.bump_now(engine, data_version.SUBJECTS)
    print(summary)


def cmd_import(args) -> None:
    import time

    from core import importer
    from core.permissions import Actor

    path = Path(args.file)
    if not path.exists():
        raise CliError(f"no such file: {path}")
    started = time.perf_counter()

    def progress(fraction: float, text: str) -> None:
        print(f"{time.perf_counter() - started:8.2f}s {fraction:4.0%} {text}", file=sys.stderr)
        sys.stderr.flush()

    # Reads and checks without SQLite's write lock; writes in short transactions (SQLite).
    report = importer.run_import(
        actor=Actor.system(),
        kind=args.kind,
        path=path,
        dry_run=args.dry_run,
        progress=progress if args.progress else None,
        engine=_engine(),
    )
    print(report.summary())
    for event in report.credit:  # SPEC §8: touches and claims, by row (not errors)
        print(f"  {event.describe()}")


def cmd_kpi(args) -> None:
    from core import metrics
    from core.db import read_session
    from core.permissions import Actor
    from core.services.settings import metric_rules

    with read_session(_engine()) as session:
        figures = metrics.month_kpis(
            session, actor=Actor.system(), month=args.month, rules=metric_rules(session)
        )
    if args.json:
        _print_json(figures)
    else:
        for key, value in figures.items():
            print(f"{key:22} {value}")


def cmd_score(args) -> None:
    from core import metrics
    from core.db import read_session
    from core.permissions import Actor
    from core.services.settings import metric_rules

    with read_session(_engine()) as session:
        result = metrics.lead_score(
            session,
            actor=Actor.system(),
            lead_ref=args.lead_ref,
            rules=metric_rules(session),
            as_of=args.as_of,
        )
    if args.json:
        _print_json(result)
    else:
        for key, value in result.items():
            print(f"{key:16} {value}")


def cmd_lead(args) -> None:
    from core.db import read_session
    from core.permissions import Actor
    from core.services.ownership import lead_credit

    with read_session(_engine()) as session:
        result = lead_credit(
            session, actor=Actor.system(), lead_ref=args.lead_ref, as_of=args.as_of
        )
    if args.json:
        _print_json(result)
        return
    for key in ("lead_ref", "owner_staff_no", "protected_until"):
        print(f"{key:16} {result[key]}")
    print("owners")
    for period in result["owners"]:
        print(f"  {period['staff_no']:12} {period['from']} → {period['to'] or ''}")
    print("touches")
    for touch in result["touches"]:
        print(f"  {touch['staff_no']:12} {touch['on']}")


def cmd_due(args) -> None:
    from core.db import read_session
    from core.services.followups import due_for_staff

    with read_session(_engine()) as session:
        rows = due_for_staff(session, staff_no=args.staff, on=args.on)
    if args.json:
        _print_json(rows)
    else:
        _print_table(rows)


def cmd_member(args) -> None:
    from core import metrics
    from core.db import read_session
    from core.permissions import Actor
    from core.services.settings import metric_rules

    with read_session(_engine()) as session:
        result = metrics.member_status(
            session, actor=Actor.system(), member_no=args.member_no, rules=metric_rules(session)
        )
    if args.json:
        _print_json(result)
    else:
        for key, value in result.items():
            print(f"{key:16} {value}")


def cmd_commission(args) -> None:
    from core import metrics
    from core.db import read_session
    from core.permissions import Actor
    from core.services.settings import metric_rules

    with read_session(_engine()) as session:
        rows = metrics.commission_sheet(
            session, actor=Actor.system(), month=args.month, rules=metric_rules(session)
        )
    if args.json:
        _print_json(rows)
    else:
        _print_table(rows)


def cmd_user_add(args) -> None:
    from sqlmodel import select

    from core import data_version
    from core.db import write_session
    from core.models import AppUserCreate, Department, Staff
    from core.permissions import Actor
    from core.services import users

    password = _new_password()
    users.check_password_strength(password)
    with write_session(_engine()) as session:
        staff_id = department_id = None
        if args.staff:
            staff = session.exec(select(Staff).where(Staff.staff_no == args.staff)).first()
            if staff is None:
                raise CliError(f"no staff member with staff_no '{args.staff}'")
            staff_id = staff.id
        if args.department:
            department = session.exec(
                select(Department).where(Department.code == args.department)
            ).first()
            if department is None:
                raise CliError(f"no department with code '{args.department}'")
            department_id = department.id
        user = users.create_user(
            session,
            actor=Actor.system(),
            user_create=AppUserCreate(
                username=args.username,
                role=args.role,
                staff_id=staff_id,
                department_id=department_id,
                password=password,
            ),
        )
        data_version.bump(session, ("users",))
        print(f"created user '{user.username}' with role {user.role}")


def _new_password() -> str:
    """TRUSTPOOL_PASSWORD, or asked twice in a terminal."""
    password = os.environ.get("TRUSTPOOL_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            raise CliError("set TRUSTPOOL_PASSWORD or run in a terminal to be asked for one")
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Repeat password: "):
            raise CliError("the passwords do not match")
    return password


def _login(session, username: str):
    from core.services import users

    user = users.get_by_username(session, username)
    if user is None:
        raise CliError(f"no login named '{username}'")
    return user


def cmd_user_passwd(args) -> None:
    """A new password for a login (ends its sessions); e.g. a demo login before production."""
    from core import data_version
    from core.db import write_session
    from core.permissions import Actor
    from core.services import users

    password = _new_password()
    users.check_password_strength(password)
    with write_session(_engine()) as session:
        user = _login(session, args.username)
        users.reset_password(session, actor=Actor.system(), user_id=user.id, new_password=password)
        data_version.bump(session, ("users",))
    print(f"new password set for '{args.username}'; their sessions are ended")


def cmd_user_disable(args) -> None:
    """Switch a login off (or on again with --enable); switching off ends its sessions."""
    from core import data_version
    from core.db import write_session
    from core.permissions import Actor
    from core.services import users

    with write_session(_engine()) as session:
        user = _login(session, args.username)
        users.set_disabled(session, actor=Actor.system(), user_id=user.id, disabled=not args.enable)
        data_version.bump(session, ("users",))
    print(f"login '{args.username}' {'enabled' if args.enable else 'disabled'}")


def cmd_expire_points(args) -> None:
    from core import data_version
    from core.db import write_session
    from core.permissions import Actor
    from core.services import members

    with write_session(_engine()) as session:
        if args.dry_run:
            result = members.preview_expiry(session, actor=Actor.system(), as_of=args.as_of)
            if not result.enabled:
                raise CliError("points expiry is off (setting points_expiry_months)")
        else:
            result = members.run_expiry(session, actor=Actor.system(), as_of=args.as_of)
            data_version.bump(session, ("members",))
    verb = "would expire" if args.dry_run else "expired"
    print(
        f"{verb} {result.points} points of {result.members} members as of "
        f"{result.as_of.isoformat()} (points earned on or before {result.cutoff.isoformat()})"
    )


def cmd_backup(args) -> None:
    from core import backup

    target = backup.backup_database(_engine(), Path(args.path), force=args.force)
    size = target.stat().st_size
    print(f"backup written to {target} ({size / 1_048_576:,.1f} MB, {size:,} bytes)")


def cmd_restore(args) -> None:
    from core import backup, data_version, schema
    from core.config import get_settings
    from core.db import get_engine

    # No engine here: on SQLite it would hold the very lock the restore needs.
    restored = backup.restore_database(
        get_settings().database_url, Path(args.backup), force=args.force
    )
    # Newer than any version before (see core.data_version): running processes read again.
    # A backup older than the table gets it from `init`, which the app runs on start.
    if schema.has_table(get_engine(), "data_version"):
        data_version.bump_now(None, data_version.SUBJECTS)
    if restored.size is None:
        print(f"restored {args.backup} into the database {restored.database}")
        return
    print(
        f"restored {args.backup} to {restored.database} ({restored.size / 1_048_576:,.1f} MB, "
        "integrity ok)"
    )
    if restored.replaced is not None:
        print(f"the database it replaced is kept as {restored.replaced}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m core.cli", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("init", help="create or upgrade the schema").set_defaults(run=cmd_init)
    commands.add_parser("demo", help="load the demo hospital").set_defaults(run=cmd_demo)

    p = commands.add_parser("import", help="import a CSV or XLSX file (all rows or none)")
    p.add_argument("kind")
    p.add_argument("file")
    p.add_argument("--dry-run", action="store_true", help="validate and count, write nothing")
    p.add_argument("--progress", action="store_true", help="print each step on stderr")
    p.set_defaults(run=cmd_import)

    p = commands.add_parser("kpi", help="the month's figures (SPEC §3)")
    p.add_argument("--month", required=True, type=_month)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_kpi)

    p = commands.add_parser("score", help="a lead's score and suggested stage")
    p.add_argument("lead_ref")
    p.add_argument("--as-of", type=_date, default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_score)

    p = commands.add_parser("lead", help="a lead's owner, protection and history (SPEC §8)")
    p.add_argument("lead_ref")
    p.add_argument("--as-of", type=_date, default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_lead)

    p = commands.add_parser("due", help="the leads a staff member must follow up (SPEC §9)")
    p.add_argument("--staff", required=True, metavar="STAFF_NO")
    p.add_argument("--on", required=True, type=_date)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_due)

    p = commands.add_parser("member", help="a member's balance, lifetime points and tier")
    p.add_argument("member_no")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_member)

    p = commands.add_parser("commission", help="the month's payout sheet")
    p.add_argument("--month", required=True, type=_month)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_commission)

    p = commands.add_parser("user", help="manage logins")
    user_commands = p.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    p = user_commands.add_parser("add", help="create a login")
    p.add_argument("username")
    p.add_argument(
        "--role",
        required=True,
        choices=["admin", "executive", "dept_head", "marketer", "consultant", "staff"],
    )
    p.add_argument("--staff", metavar="STAFF_NO")
    p.add_argument("--department", metavar="CODE")
    p.set_defaults(run=cmd_user_add)
    p = user_commands.add_parser("passwd", help="set a new password (TRUSTPOOL_PASSWORD or asked)")
    p.add_argument("username")
    p.set_defaults(run=cmd_user_passwd)
    p = user_commands.add_parser("disable", help="switch a login off (--enable: on again)")
    p.add_argument("username")
    p.add_argument("--enable", action="store_true")
    p.set_defaults(run=cmd_user_disable)

    p = commands.add_parser("expire-points", help="expire unused points (setting-controlled)")
    p.add_argument("--as-of", required=True, type=_date)
    p.add_argument("--dry-run", action="store_true", help="show what would expire, write nothing")
    p.set_defaults(run=cmd_expire_points)

    p = commands.add_parser("backup", help="a consistent copy of the database")
    p.add_argument("path")
    p.add_argument("--force", action="store_true", help="replace an existing file at PATH")
    p.set_defaults(run=cmd_backup)

    p = commands.add_parser("restore", help="replace the database with a backup (app stopped)")
    p.add_argument("backup")
    p.add_argument(
        "--force",
        action="store_true",
        help="PostgreSQL: restore even while other sessions are connected",
    )
    p.set_defaults(run=cmd_restore)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # one line, never a traceback, for scripts that call us
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"error: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
