"""The audit trail as an administrator reads it, and the audit of exports.

Three append-only records make up the trail: `audit_log` (settings, table edits, imports,
exports, publications, logins, users, …), `stage_change` (every stage move on the lead
board and every automatic promotion) and `points_entry` (every members' points entry).
`audit_trail` reads them as one list (UNION ALL in SQL), filtered by who, what and when,
newest first, a page at a time with the exact count.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import String, cast, func, literal, or_, select, union_all
from sqlmodel import Session

from core import audit
from core.domain import Role
from core.models import AppUser, AuditLog, Lead, Member, PointsEntry, StageChange
from core.permissions import Actor, require_role
from core.services import settings as settings_service

STAGE_MOVE = "stage.move"
STAGE_PROMOTION = "stage.promote"
POINTS_ENTRY = "points.entry"
EXPORT = "export"
MAX_PAGE_SIZE = 500
EXPORT_LIMIT = 200_000
COLUMNS = ["at", "username", "action", "entity", "entity_id", "detail"]


def record_export(
    session: Session,
    *,
    actor: Actor,
    what: str,
    rows: int,
    detail: dict[str, Any] | None = None,
) -> AuditLog:
    """Audit a download (CSV, Excel, backup): who took what, how many rows.

    Any signed-in user may export what their pages show them, so any role may record it;
    the caller writes it in a `write_session()`.
    """
    if actor is None:
        raise ValueError("an export needs the acting user")
    return audit.record(
        session,
        actor=actor,
        action=EXPORT,
        entity=what[:64],
        detail={"rows": int(rows), **(detail or {})},
    )


def _text(value: str):
    return literal(value, String)


def _trail():
    """The union of the three records, one row per event, with the columns of COLUMNS."""
    logged = select(
        AuditLog.at.label("at"),
        func.coalesce(AuditLog.username, _text("system")).label("username"),
        AuditLog.action.label("action"),
        AuditLog.entity.label("entity"),
        AuditLog.entity_id.label("entity_id"),
        AuditLog.detail.label("detail"),
        AuditLog.id.label("seq"),
        _text("audit_log").label("source"),
    )
    mover = AppUser.__table__.alias("mover")
    moved = (
        select(
            StageChange.changed_at.label("at"),
            func.coalesce(mover.c.username, _text("system")).label("username"),
            _move_action().label("action"),
            _text("lead").label("entity"),
            Lead.lead_ref.label("entity_id"),
            (
                func.coalesce(StageChange.from_stage, _text("—"))
                + _text(" → ")
                + StageChange.to_stage
                + func.coalesce(_text(" · ") + StageChange.reason, _text(""))
            ).label("detail"),
            StageChange.id.label("seq"),
            _text("stage_change").label("source"),
        )
        .select_from(StageChange)
        .join(Lead, Lead.id == StageChange.lead_id)
        .outerjoin(mover, mover.c.id == StageChange.changed_by_user_id)
    )
    author = AppUser.__table__.alias("author")
    points = (
        select(
            PointsEntry.created_at.label("at"),
            func.coalesce(author.c.username, _text("system")).label("username"),
            _text(POINTS_ENTRY).label("action"),
            _text("member").label("entity"),
            Member.member_no.label("entity_id"),
            (
                PointsEntry.kind
                + _text(" ")
                + cast(PointsEntry.points, String)
                + _text(" · ")
                + cast(PointsEntry.occurred_on, String)
                + func.coalesce(_text(" · ") + PointsEntry.note, _text(""))
            ).label("detail"),
            PointsEntry.id.label("seq"),
            _text("points_entry").label("source"),
        )
        .select_from(PointsEntry)
        .join(Member, Member.id == PointsEntry.member_id)
        .outerjoin(author, author.c.id == PointsEntry.created_by_user_id)
    )
    return union_all(logged, moved, points).subquery("trail")


def _move_action():
    from sqlalchemy import case

    return case((StageChange.is_system == True, _text(STAGE_PROMOTION)), else_=_text(STAGE_MOVE))  # noqa: E712


def _bounds(session: Session, date_from, date_to) -> tuple[dt.datetime | None, dt.datetime | None]:
    """UTC bounds of hospital-calendar days [date_from, date_to]."""
    zone = ZoneInfo(settings_service.get_value(session, "timezone"))
    start = end = None
    if date_from is not None:
        start = dt.datetime.combine(date_from, dt.time(), zone).astimezone(dt.UTC)
    if date_to is not None:
        end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), zone)
        end = end.astimezone(dt.UTC)
    return start, end


def _conditions(session, trail, *, usernames, actions, date_from, date_to, search):
    conditions = []
    if usernames:
        conditions.append(trail.c.username.in_(list(usernames)))
    if actions:
        exact = [a for a in actions if not a.endswith(".*")]
        prefixes = [a[:-1] for a in actions if a.endswith(".*")]
        parts = []
        if exact:
            parts.append(trail.c.action.in_(exact))
        parts.extend(trail.c.action.startswith(prefix, autoescape=True) for prefix in prefixes)
        conditions.append(or_(*parts))
    start, end = _bounds(session, date_from, date_to)
    if start is not None:
        conditions.append(trail.c.at >= start)
    if end is not None:
        conditions.append(trail.c.at < end)
    if search and search.strip():
        text = search.strip()
        conditions.append(
            or_(
                trail.c.entity.icontains(text, autoescape=True),
                trail.c.entity_id.icontains(text, autoescape=True),
                trail.c.detail.icontains(text, autoescape=True),
            )
        )
    return conditions


def _frame(session: Session, rows) -> pd.DataFrame:
    zone = ZoneInfo(settings_service.get_value(session, "timezone"))
    records = []
    for row in rows:
        at = row.at
        if at is not None:
            if isinstance(at, str):
                at = dt.datetime.fromisoformat(at)
            if at.tzinfo is None:
                at = at.replace(tzinfo=dt.UTC)
            at = at.astimezone(zone).replace(tzinfo=None)
        records.append(
            {
                "at": at,
                "username": row.username,
                "action": row.action,
                "entity": row.entity,
                "entity_id": row.entity_id,
                "detail": row.detail,
            }
        )
    return pd.DataFrame.from_records(records, columns=COLUMNS)


def audit_trail(
    session: Session,
    *,
    actor: Actor,
    usernames: list[str] | None = None,
    actions: list[str] | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    search: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[pd.DataFrame, int]:
    """One page of the trail, newest first, and the exact number of matching events.

    `actions` are exact names ('setting.change') or prefixes ending in '.*' ('login.*');
    `date_from`/`date_to` are hospital-calendar days, inclusive; times come back in the
    hospital's timezone.
    """
    require_role(actor, Role.admin)
    trail = _trail()
    conditions = _conditions(
        session,
        trail,
        usernames=usernames,
        actions=actions,
        date_from=date_from,
        date_to=date_to,
        search=search,
    )
    total = session.execute(select(func.count()).select_from(trail).where(*conditions)).scalar_one()
    page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
    statement = (
        select(trail)
        .where(*conditions)
        .order_by(trail.c.at.desc(), trail.c.source, trail.c.seq.desc())
        .limit(page_size)
        .offset((max(1, int(page)) - 1) * page_size)
    )
    return _frame(session, session.execute(statement).all()), int(total)


def export_trail(
    session: Session,
    *,
    actor: Actor,
    usernames: list[str] | None = None,
    actions: list[str] | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    search: str | None = None,
    limit: int = EXPORT_LIMIT,
) -> pd.DataFrame:
    """Every event `audit_trail` would page through (up to `limit`), newest first."""
    require_role(actor, Role.admin)
    trail = _trail()
    conditions = _conditions(
        session,
        trail,
        usernames=usernames,
        actions=actions,
        date_from=date_from,
        date_to=date_to,
        search=search,
    )
    statement = (
        select(trail)
        .where(*conditions)
        .order_by(trail.c.at.desc(), trail.c.source, trail.c.seq.desc())
        .limit(limit)
    )
    return _frame(session, session.execute(statement).all())


def trail_choices(session: Session, *, actor: Actor) -> dict[str, list[str]]:
    """The people and the actions that occur in the trail, for the filters."""
    require_role(actor, Role.admin)
    trail = _trail()
    usernames = session.execute(
        select(trail.c.username).group_by(trail.c.username).order_by(trail.c.username)
    ).scalars()
    actions = session.execute(
        select(trail.c.action).group_by(trail.c.action).order_by(trail.c.action)
    ).scalars()
    return {
        "usernames": [u for u in usernames if u is not None],
        "actions": [a for a in actions if a is not None],
    }
