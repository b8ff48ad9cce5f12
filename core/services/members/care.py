"""Care lists (seed 001: keep in touch with members): birthdays, due a call, at risk.

Quiet for FOLLOW_UP_DAYS → call them; no activity for AT_RISK_DAYS → at risk of leaving the
pool. Phones are masked for readers who may not see them.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import and_, extract, func, or_, select
from sqlmodel import Session

from core.db import as_date
from core.models import Member, PointsEntry
from core.permissions import Actor
from core.services import privacy
from core.services.members.access import require_read
from core.services.members.figures import (
    ACTIVITY_KINDS,
    default_as_of,
    later_of,
    member_rows,
    no_activity_since,
)

# Care lists (seed 001: keep in touch with members): quiet for FOLLOW_UP_DAYS → call them;
# no activity for AT_RISK_DAYS → at risk of leaving the pool.
FOLLOW_UP_DAYS = 30
AT_RISK_DAYS = 90
CARE_LIST_LIMIT = 1_000
CARE_COLUMNS = [
    "member_no",
    "name",
    "phone",
    "tier",
    "birthday",
    "last_activity",
    "days_quiet",
    "owner_staff_no",
]


@dataclass
class CareLists:
    as_of: dt.date
    week: tuple[dt.date, dt.date]
    birthdays_week: pd.DataFrame
    birthdays_month: pd.DataFrame
    follow_up: pd.DataFrame
    at_risk: pd.DataFrame
    totals: dict[str, int]


def _month_day_condition(days: Sequence[dt.date]):
    """Birthdays falling on any of `days` (any birth year; 29 February is celebrated on
    28 February in other years)."""
    month = extract("month", Member.birthday)
    day = extract("day", Member.birthday)
    terms = []
    for one in days:
        terms.append(and_(month == one.month, day == one.day))
        if one.month == 2 and one.day == 28 and not calendar.isleap(one.year):
            terms.append(and_(month == 2, day == 29))
    return or_(*terms)


def care_lists(
    session: Session, *, actor: Actor, as_of: dt.date | None = None, limit: int = CARE_LIST_LIMIT
) -> CareLists:
    """Who to look after as of `as_of` (default: the latest date in the data): birthdays this
    week (Monday to Sunday) and this month, members quiet for FOLLOW_UP_DAYS (due a call) and
    members with no activity for AT_RISK_DAYS (at risk). Each list holds at most `limit` rows;
    `totals` has the full counts."""
    require_read(actor)
    as_of = as_of or default_as_of(session)
    monday = as_of - dt.timedelta(days=as_of.weekday())
    week = [monday + dt.timedelta(days=n) for n in range(7)]
    eligible = and_(Member.active.is_(True), Member.joined_on <= as_of)
    found: dict[str, pd.DataFrame] = {}
    position = {(day.month, day.day): index for index, day in enumerate(week)}
    position.setdefault((2, 29), position.get((2, 28)))  # leap-day birthdays on 28 Feb
    # Birthdays come from the member table alone.
    for name, condition in (
        ("birthdays_week", _month_day_condition(week)),
        ("birthdays_month", extract("month", Member.birthday) == as_of.month),
    ):
        rows = session.execute(
            select(Member.id, Member.member_no, Member.birthday).where(eligible, condition)
        ).all()
        frame = pd.DataFrame(rows, columns=["member_id", "member_no", "birthday"])
        frame["birthday"] = frame["birthday"].map(as_date)
        if name == "birthdays_week":  # in the week's order (a week may span two years)
            frame["order"] = frame["birthday"].map(lambda d: position.get((d.month, d.day)))
        else:
            frame["order"] = frame["birthday"].map(lambda d: d.day)
        found[name] = frame.sort_values(["order", "member_no"])
    # Quiet members: those with nothing since FOLLOW_UP_DAYS ago, and their last activity.
    quiet_since = as_of - dt.timedelta(days=FOLLOW_UP_DAYS)
    risk_since = as_of - dt.timedelta(days=AT_RISK_DAYS)
    latest = (
        select(func.max(PointsEntry.occurred_on))
        .where(PointsEntry.member_id == Member.id, PointsEntry.kind.in_(ACTIVITY_KINDS))
        .scalar_subquery()
    )
    rows = session.execute(
        select(Member.id, Member.member_no, later_of(latest, Member.joined_on)).where(
            eligible, no_activity_since(quiet_since)
        )
    ).all()
    quiet = pd.DataFrame(rows, columns=["member_id", "member_no", "last_activity"])
    quiet["last_activity"] = quiet["last_activity"].map(as_date)
    quiet = quiet.sort_values(["last_activity", "member_no"], ascending=[False, True])
    at_risk = quiet["last_activity"].map(lambda day: day <= risk_since).astype(bool)
    found["follow_up"] = quiet[~at_risk]
    found["at_risk"] = quiet[at_risk]
    totals = {name: len(frame) for name, frame in found.items()}
    shown = {name: frame["member_id"].head(limit).tolist() for name, frame in found.items()}
    ids = sorted({member_id for chosen in shown.values() for member_id in chosen})
    columns = [c for c in CARE_COLUMNS if c != "days_quiet"]
    details = member_rows(session, ids, ["member_id", *columns]).set_index("member_id")
    frames = {}
    for name, chosen in shown.items():
        frame = details.reindex(chosen).reset_index(drop=True)[columns]
        frame.insert(
            6, "days_quiet", frame["last_activity"].map(lambda d: (as_of - d).days).astype(int)
        )
        frames[name] = frame
    frames = {
        name: privacy.mask_phones(frame, actor, subject="member", owner_column=None)
        for name, frame in frames.items()
    }
    return CareLists(as_of=as_of, week=(week[0], week[-1]), totals=totals, **frames)
