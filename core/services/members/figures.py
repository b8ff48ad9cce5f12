"""The figures a members list shows, each defined once elsewhere and reused here.

Balance, lifetime points and tier are SPEC §3 numbers from `core.metrics` (with the tiers in
force); last activity is the latest entry a member made happen (joining counts); the day
lists are relative to is the latest date in the members' data. `member_rows` reads them for
given members, summing only those members' ledger rows.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import and_, case, exists, func, select
from sqlmodel import Session

from core import metrics
from core.db import as_date
from core.domain import PointsKind
from core.models import Member, PointsEntry, Staff
from core.services import settings as settings_service

# Entries a member makes happen themselves; expiries and adjustments are the hospital's doing.
ACTIVITY_KINDS = tuple(k for k in (str(p) for p in PointsKind) if k not in ("expire", "adjust"))


def tier_levels(session: Session) -> tuple[tuple[int, int], ...]:
    """The tiers in force as (level, threshold), as `core.metrics` takes them."""
    return tuple((tier.level, tier.threshold) for tier in settings_service.tiers(session))


def member_figures(session: Session, member_ids: list[int] | None = None):
    """SPEC §3's (ledger, balance, lifetime points, tier) columns, from `core.metrics`."""
    return metrics.member_figures(session, tier_levels(session), member_ids=member_ids)


def default_as_of(session: Session) -> dt.date:
    """The day care lists are relative to: the latest date in the members' data (the demo's
    last day), never later than the hospital's today."""
    latest = [
        as_date(session.execute(select(func.max(PointsEntry.occurred_on))).scalar()),
        as_date(session.execute(select(func.max(Member.joined_on))).scalar()),
    ]
    today = settings_service.hospital_today(session)
    days = [day for day in latest if day is not None]
    return min(max(days), today) if days else today


def last_activity_by_member(member_ids: list[int] | None = None):
    """(member_id, last_activity): the latest entry each member made happen (of
    `member_ids` only, when given)."""
    statement = (
        select(
            PointsEntry.member_id.label("member_id"),
            func.max(PointsEntry.occurred_on).label("last_activity"),
        )
        .where(PointsEntry.kind.in_(ACTIVITY_KINDS))
        .group_by(PointsEntry.member_id)
    )
    if member_ids is not None:
        statement = statement.where(PointsEntry.member_id.in_(member_ids))
    return statement.subquery("activity")


def later_of(day, other):
    """The later of two date columns (`day` may be NULL)."""
    return case((and_(day.is_not(None), day > other), day), else_=other)


def no_activity_since(day: dt.date):
    """Members with no activity after `day` who had joined by then (joining counts as
    activity): one indexed probe per member, not a GROUP BY of the whole ledger."""
    active_after = exists().where(
        PointsEntry.member_id == Member.id,
        PointsEntry.occurred_on > day,
        PointsEntry.kind.in_(ACTIVITY_KINDS),
    )
    return and_(Member.joined_on <= day, ~active_after)


def member_rows(session: Session, member_ids: list[int], columns: list[str]) -> pd.DataFrame:
    """Members by id with their figures (SPEC §3, from `core.metrics`) and last activity,
    summing only these members' ledger rows."""
    if not member_ids:
        return pd.DataFrame(columns=columns)
    ledger, balance, lifetime, tier = member_figures(session, member_ids=member_ids)
    activity = last_activity_by_member(member_ids)
    available = {
        "member_id": Member.id.label("member_id"),
        "member_no": Member.member_no,
        "name": Member.name,
        "phone": Member.phone,
        "birthday": Member.birthday,
        "joined_on": Member.joined_on,
        "tier": tier,
        "balance": balance,
        "lifetime_points": lifetime,
        "last_activity": later_of(activity.c.last_activity, Member.joined_on).label(
            "last_activity"
        ),
        "owner_staff_no": Staff.staff_no.label("owner_staff_no"),
    }
    statement = (
        select(*[available[column] for column in columns if column in available])
        .select_from(Member)
        .outerjoin(ledger, ledger.c.member_id == Member.id)
        .outerjoin(activity, activity.c.member_id == Member.id)
        .outerjoin(Staff, Staff.id == Member.owner_staff_id)
        .where(Member.id.in_(member_ids))
    )
    frame = pd.DataFrame(session.execute(statement).mappings().all())
    frame = frame.reindex(columns=[c for c in columns if c in available])
    return _typed(frame)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    for column in ("tier", "balance", "lifetime_points"):
        if column in frame:
            frame[column] = frame[column].astype(int)
    for column in ("joined_on", "last_activity", "birthday"):
        if column in frame:
            frame[column] = frame[column].map(as_date)
    return frame
