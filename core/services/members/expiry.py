"""Points expiry (setting `points_expiry_months`, off by default): preview and run.

Points earned on or before as_of − months and still unused expire, oldest used first; a run
writes one `expire` entry per member and one audit row, and running it again for the same day
writes nothing. On PostgreSQL a run locks the member table against concurrent points writers
(redemptions and adjustments lock their member's row, so they wait for it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Date, Integer, and_, case, func, insert, literal, select, text
from sqlmodel import Session

from core import audit
from core.domain import PointsKind
from core.models import Member, PointsEntry, UTCDateTime, utcnow
from core.months import add_months
from core.permissions import Actor
from core.services import settings as settings_service
from core.services.members.access import require_read, require_write
from core.services.members.errors import ExpiryOff


@dataclass
class ExpiryPreview:
    enabled: bool
    months: int | None
    as_of: dt.date
    cutoff: dt.date | None  # points earned on or before this day expire
    members: int
    points: int
    rows: pd.DataFrame  # the largest expiries first (member_no, name, balance, expiring)


def _expiry_due(cutoff: dt.date):
    """(member_id, due) per member with points to expire: points added on or before `cutoff`
    that are not used up yet, oldest used first (every redemption, adjustment down and earlier
    expiry counts as using points). Never more than the balance, so never below zero, and
    zero after a run for the same day."""
    added_by_cutoff = func.coalesce(
        func.sum(
            case(
                (
                    and_(PointsEntry.points > 0, PointsEntry.occurred_on <= cutoff),
                    PointsEntry.points,
                ),
                else_=0,
            )
        ),
        0,
    )
    used = func.coalesce(func.sum(case((PointsEntry.points < 0, -PointsEntry.points), else_=0)), 0)
    due = added_by_cutoff - used
    return (
        select(
            PointsEntry.member_id.label("member_id"),
            due.label("due"),
            func.sum(PointsEntry.points).label("balance"),
        )
        .group_by(PointsEntry.member_id)
        .having(due > 0)
        .subquery("due")
    )


def _expiry_setting(session: Session) -> int | None:
    months = settings_service.get_value(session, "points_expiry_months")
    return int(months) if months else None


def preview_expiry(
    session: Session, *, actor: Actor, as_of: dt.date, limit: int = 200
) -> ExpiryPreview:
    """What `run_expiry(as_of)` would write: members and points, the largest first."""
    require_read(actor)
    months = _expiry_setting(session)
    if months is None:
        return ExpiryPreview(False, None, as_of, None, 0, 0, pd.DataFrame())
    cutoff = add_months(as_of, -months)
    due = _expiry_due(cutoff)
    members, points = session.execute(
        select(func.count(due.c.member_id), func.coalesce(func.sum(due.c.due), 0))
    ).one()
    rows = pd.DataFrame(
        session.execute(
            select(Member.member_no, Member.name, due.c.balance, due.c.due.label("expiring"))
            .join(due, due.c.member_id == Member.id)
            .order_by(due.c.due.desc(), Member.member_no)
            .limit(limit)
        )
        .mappings()
        .all(),
        columns=["member_no", "name", "balance", "expiring"],
    ).astype({"balance": int, "expiring": int})
    return ExpiryPreview(True, months, as_of, cutoff, int(members), int(points), rows)


def run_expiry(session: Session, *, actor: Actor, as_of: dt.date) -> ExpiryPreview:
    """Expire points earned on or before `as_of` − `points_expiry_months` that are still
    unused: one `expire` entry per member dated `as_of`, one audit row for the run. Running
    it again for the same day writes nothing. Refused with ExpiryOff while the option is off."""
    require_write(actor)
    months = _expiry_setting(session)
    if months is None:
        raise ExpiryOff()
    if session.get_bind().dialect.name == "postgresql":
        # Redemptions and adjustments lock their member's row; this waits for them and holds
        # them off while the run computes and writes (plain reads carry on).
        session.execute(text("LOCK TABLE member IN EXCLUSIVE MODE"))
    preview = preview_expiry(session, actor=actor, as_of=as_of)
    if not preview.members:
        return preview
    due = _expiry_due(preview.cutoff)
    note = f"points earned on or before {preview.cutoff.isoformat()} expired"
    session.execute(
        insert(PointsEntry).from_select(
            [
                "member_id",
                "kind",
                "points",
                "occurred_on",
                "note",
                "created_by_user_id",
                "created_at",
            ],
            select(
                due.c.member_id,
                literal(str(PointsKind.expire)),
                -due.c.due,
                literal(as_of, Date()),
                literal(note),
                literal(actor.user_id, Integer()),
                literal(utcnow(), UTCDateTime()),
            ),
        )
    )
    audit.record(
        session,
        actor=actor,
        action="points.expire",
        entity="points_entry",
        detail={
            "as_of": as_of,
            "cutoff": preview.cutoff,
            "months": months,
            "members": preview.members,
            "points": preview.points,
        },
    )
    return preview
