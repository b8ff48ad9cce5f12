"""The campaign calendar: campaigns and tasks as timeline bars, channel overlaps and load."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import and_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from core.domain import CampaignStatus
from core.models import Campaign, CampaignTask, Staff
from core.permissions import Actor
from core.services.campaigns.access import require_read
from core.services.campaigns.plan import campaign_filters, default_as_of

CALENDAR_COLUMNS = [
    "item",
    "id",
    "campaign_id",
    "code",
    "label",
    "type",
    "channel",
    "owner",
    "status",
    "start",
    "finish",
    "done",
    "overdue",
]


def calendar_items(
    session: Session,
    *,
    actor: Actor,
    first_day: dt.date,
    last_day: dt.date,
    owner_staff_id: int | None = None,
    statuses: list[str] | None = None,
    as_of: dt.date | None = None,
) -> pd.DataFrame:
    """Campaigns running between the two days and their tasks due between them, as timeline
    bars: `start` is the first day, `finish` the day after the last (a one-day item is one
    day wide). Tasks carry their campaign's type and channel."""
    require_read(actor)
    as_of = as_of or default_as_of(session)
    owner = aliased(Staff)
    in_window = and_(Campaign.starts_on <= last_day, Campaign.ends_on >= first_day)
    campaigns = (
        select(
            Campaign.id,
            Campaign.code,
            Campaign.name,
            Campaign.type,
            Campaign.channel,
            owner.name.label("owner"),
            Campaign.status,
            Campaign.starts_on,
            Campaign.ends_on,
        )
        .outerjoin(owner, owner.id == Campaign.owner_staff_id)
        .where(in_window)
    )
    campaigns = campaign_filters(campaigns, owner_staff_id=owner_staff_id, statuses=statuses)
    campaign_rows = session.execute(campaigns.order_by(Campaign.starts_on, Campaign.code)).all()
    person = aliased(Staff)
    tasks = (
        select(
            CampaignTask.id,
            CampaignTask.campaign_id,
            Campaign.code,
            CampaignTask.milestone,
            Campaign.type,
            Campaign.channel,
            person.name.label("owner"),
            Campaign.status,
            CampaignTask.due_on,
            CampaignTask.done,
        )
        .join(Campaign, Campaign.id == CampaignTask.campaign_id)
        .outerjoin(person, person.id == CampaignTask.responsible_staff_id)
        .where(CampaignTask.due_on.between(first_day, last_day))
    )
    tasks = campaign_filters(tasks, owner_staff_id=owner_staff_id, statuses=statuses)
    task_rows = session.execute(tasks.order_by(CampaignTask.due_on, CampaignTask.id)).all()
    one_day = dt.timedelta(days=1)
    rows = [
        {
            "item": "campaign",
            "id": r.id,
            "campaign_id": r.id,
            "code": r.code,
            "label": f"{r.code} · {r.name}",
            "type": r.type,
            "channel": r.channel,
            "owner": r.owner,
            "status": r.status,
            "start": r.starts_on,
            "finish": r.ends_on + one_day,
            "done": r.status == CampaignStatus.done,
            "overdue": False,
        }
        for r in campaign_rows
    ] + [
        {
            "item": "task",
            "id": r.id,
            "campaign_id": r.campaign_id,
            "code": r.code,
            "label": f"{r.code} ▸ {r.milestone}",
            "type": r.type,
            "channel": r.channel,
            "owner": r.owner,
            "status": r.status,
            "start": r.due_on,
            "finish": r.due_on + one_day,
            "done": bool(r.done),
            "overdue": (not r.done) and r.due_on < as_of,
        }
        for r in task_rows
    ]
    return pd.DataFrame(rows, columns=CALENDAR_COLUMNS)


def channel_overlaps(
    session: Session,
    *,
    actor: Actor,
    first_day: dt.date,
    last_day: dt.date,
    owner_staff_id: int | None = None,
    statuses: list[str] | None = None,
) -> pd.DataFrame:
    """Pairs of campaigns (not cancelled) that use the same channel on the same days inside
    the window: channel, the two campaigns, and the first and last shared day."""
    require_read(actor)
    other = aliased(Campaign)
    statement = (
        select(
            Campaign.code.label("first_code"),
            Campaign.name.label("first_name"),
            Campaign.channel.label("first_channel"),
            other.code.label("second_code"),
            other.name.label("second_name"),
            other.channel.label("second_channel"),
            Campaign.starts_on.label("a_start"),
            Campaign.ends_on.label("a_end"),
            other.starts_on.label("b_start"),
            other.ends_on.label("b_end"),
        )
        .join(
            other,
            and_(
                Campaign.id < other.id,
                Campaign.starts_on <= other.ends_on,
                other.starts_on <= Campaign.ends_on,
            ),
        )
        .where(
            Campaign.channel.is_not(None),
            other.channel.is_not(None),
            Campaign.status != CampaignStatus.cancelled,
            other.status != CampaignStatus.cancelled,
            Campaign.starts_on <= last_day,
            Campaign.ends_on >= first_day,
            other.starts_on <= last_day,
            other.ends_on >= first_day,
        )
    )
    statement = campaign_filters(statement, owner_staff_id=owner_staff_id, statuses=statuses)
    if owner_staff_id is not None:
        statement = statement.where(other.owner_staff_id == owner_staff_id)
    if statuses:
        statement = statement.where(other.status.in_([str(s) for s in statuses]))
    rows = []
    for r in session.execute(statement).mappings().all():
        first = {c.strip() for c in r["first_channel"].split(";") if c.strip()}
        second = {c.strip() for c in r["second_channel"].split(";") if c.strip()}
        for channel in sorted(first & second):
            rows.append(
                {
                    "channel": channel,
                    "first": f"{r['first_code']} · {r['first_name']}",
                    "second": f"{r['second_code']} · {r['second_name']}",
                    "from": max(r["a_start"], r["b_start"], first_day),
                    "to": min(r["a_end"], r["b_end"], last_day),
                }
            )
    frame = pd.DataFrame(rows, columns=["channel", "first", "second", "from", "to"])
    return frame.sort_values(["from", "channel"], ignore_index=True)


def channel_weeks(
    session: Session,
    *,
    actor: Actor,
    first_day: dt.date,
    last_day: dt.date,
    owner_staff_id: int | None = None,
    statuses: list[str] | None = None,
) -> pd.DataFrame:
    """How many campaigns (not cancelled) use each channel in each week (weeks start on
    Monday) of the window: 2 or more in a cell is a channel overlap."""
    items = calendar_items(
        session,
        actor=actor,
        first_day=first_day,
        last_day=last_day,
        owner_staff_id=owner_staff_id,
        statuses=statuses,
    )
    campaigns = items[(items["item"] == "campaign") & (items["status"] != CampaignStatus.cancelled)]
    first_week = first_day - dt.timedelta(days=first_day.weekday())
    weeks = []
    week = first_week
    while week <= last_day:
        weeks.append(week)
        week += dt.timedelta(days=7)
    counts: dict[tuple[str, dt.date], int] = {}
    for row in campaigns.itertuples():
        text = row.channel if isinstance(row.channel, str) else ""  # None/NaN: no channel
        channels = [c.strip() for c in text.split(";") if c.strip()]
        last = row.finish - dt.timedelta(days=1)
        for week in weeks:
            if row.start <= week + dt.timedelta(days=6) and last >= week:
                for channel in channels:
                    counts[(channel, week)] = counts.get((channel, week), 0) + 1
    frame = pd.DataFrame(
        [{"channel": c, "week": w, "campaigns": n} for (c, w), n in counts.items()],
        columns=["channel", "week", "campaigns"],
    )
    return frame.sort_values(["channel", "week"], ignore_index=True)
