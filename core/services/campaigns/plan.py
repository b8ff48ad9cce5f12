"""The campaigns themselves: planning one, changing it, the list with its task counts, pickers.

A campaign (SPEC §5 types) has an owner, dates, channels (the hospital's own channel names,
';'-separated, as in an import), a budget, a lead target, a status and a PDCA record, and may
follow another (`linked_campaign_id`). What a form gives is checked here (`clean_campaign`);
the filters and the day overdue tasks are judged on are shared with the sheet, the calendar
and the results.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import pandas as pd
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from core import audit
from core.db import as_date
from core.domain import CampaignStatus, CampaignType
from core.models import Campaign, CampaignCreate, CampaignTask, CampaignUpdate, Staff
from core.permissions import Actor
from core.services.campaigns.access import require_read, require_write
from core.services.campaigns.errors import CampaignError
from core.services.settings import hospital_today
from core.text import clean_fields

CENT = Decimal("0.01")
CAMPAIGN_FIELDS = (
    "code",
    "name",
    "type",
    "channel",
    "owner_staff_id",
    "starts_on",
    "ends_on",
    "budget",
    "target_leads",
    "status",
    "linked_campaign_id",
    "pdca_plan",
    "pdca_do",
    "pdca_check",
    "pdca_act",
)


TEXT_FIELDS = frozenset(
    {
        "code",
        "name",
        "channel",
        "pdca_plan",
        "pdca_do",
        "pdca_check",
        "pdca_act",
        "milestone",
        "external_action",
        "feedback",
        "internal_coordination",
    }
)


def count_if(condition):
    """The number of rows where `condition` holds (0 for none), as an SQL aggregate."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def default_as_of(session: Session) -> dt.date:
    """The day overdue tasks are judged on: today, or the last day of the latest month with
    data when the data ends before today (the demo hospital's records end in 2019-08)."""
    from core import metrics

    today = hospital_today(session)
    month = metrics.latest_data_month(session)
    if month is None:
        return today
    return min(today, metrics.month_bounds(month)[1])


def date_field(value: Any, name: str) -> dt.date:
    """A date field of a form: a date (`core.db.as_date` reads it) or strict ISO text,
    refused with a message naming the field otherwise."""
    if isinstance(value, dt.date):
        return as_date(value)
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as error:
        raise CampaignError("campaigns.error.bad_date", field=name, value=value) from error


def _clean_campaign(session: Session, values: dict[str, Any], campaign_id: int | None) -> None:
    """Normalise and check `values` (a full record) in place."""
    clean_fields(values, sorted(TEXT_FIELDS & set(values)))
    for key in TEXT_FIELDS & set(values):
        if isinstance(values[key], str):
            values[key] = values[key].strip() or None
    if not values.get("code"):
        raise CampaignError("campaigns.error.required", field="code")
    if len(values["code"]) > 32:
        raise CampaignError("campaigns.error.too_long", field="code", limit=32)
    if not values.get("name"):
        raise CampaignError("campaigns.error.required", field="name")
    if len(values["name"]) > 200:
        raise CampaignError("campaigns.error.too_long", field="name", limit=200)
    if values.get("channel"):
        parts = [part.strip() for part in values["channel"].split(";") if part.strip()]
        values["channel"] = ";".join(dict.fromkeys(parts)) or None
    if values.get("channel") and len(values["channel"]) > 100:
        raise CampaignError("campaigns.error.too_long", field="channel", limit=100)
    if values.get("type") not in set(CampaignType):
        raise CampaignError("campaigns.error.bad_type", value=values.get("type"))
    if values.get("status") not in set(CampaignStatus):
        raise CampaignError("campaigns.error.bad_status", value=values.get("status"))
    for key in ("starts_on", "ends_on"):
        if values.get(key) is None:
            raise CampaignError("campaigns.error.required", field=key)
        values[key] = date_field(values[key], key)
    if values["ends_on"] < values["starts_on"]:
        raise CampaignError("campaigns.error.ends_before_start")
    if values.get("budget") is not None:
        try:
            budget = Decimal(str(values["budget"]))
        except InvalidOperation as error:
            raise CampaignError("campaigns.error.bad_number", field="budget") from error
        if budget < 0 or not budget.is_finite():
            raise CampaignError("campaigns.error.negative", field="budget")
        values["budget"] = budget.quantize(CENT, rounding=ROUND_HALF_UP)
    if values.get("target_leads") is not None:
        try:
            target = int(values["target_leads"])
        except (TypeError, ValueError) as error:
            raise CampaignError("campaigns.error.bad_number", field="target_leads") from error
        if target < 0:
            raise CampaignError("campaigns.error.negative", field="target_leads")
        values["target_leads"] = target
    taken = session.execute(
        select(Campaign.id).where(
            Campaign.code == values["code"], Campaign.id != (campaign_id or -1)
        )
    ).first()
    if taken:
        raise CampaignError("campaigns.error.code_taken", value=values["code"])
    owner = values.get("owner_staff_id")
    if owner is not None and session.get(Staff, owner) is None:
        raise CampaignError("campaigns.error.no_staff", value=owner)
    linked = values.get("linked_campaign_id")
    if linked is not None:
        if campaign_id is not None and linked == campaign_id:
            raise CampaignError("campaigns.error.self_link")
        if session.get(Campaign, linked) is None:
            raise CampaignError("campaigns.error.no_campaign", value=linked)


def find_campaign(session: Session, campaign_id: int) -> Campaign:
    """The campaign (CampaignError when there is none); callers check the actor first."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignError("campaigns.error.no_campaign", value=campaign_id)
    return campaign


def get_campaign(session: Session, *, actor: Actor, campaign_id: int) -> Campaign:
    require_read(actor)
    return find_campaign(session, campaign_id)


def create_campaign(session: Session, *, actor: Actor, data: CampaignCreate) -> Campaign:
    """Plan a campaign (admin, marketer); audited."""
    require_write(actor)
    values = data.model_dump()
    _clean_campaign(session, values, None)
    campaign = Campaign(**values)
    session.add(campaign)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="campaign.create",
        entity="campaign",
        entity_id=campaign.id,
        detail=values,
    )
    return campaign


def update_campaign(
    session: Session, *, actor: Actor, campaign_id: int, data: CampaignUpdate
) -> Campaign:
    """Change the fields set in `data`, PDCA record included (admin, marketer); the whole
    record is checked again, and the old and new value of each field that changed audited."""
    require_write(actor)
    changes = data.model_dump(exclude_unset=True)
    campaign = find_campaign(session, campaign_id)
    values = {key: getattr(campaign, key) for key in CAMPAIGN_FIELDS}
    values.update(changes)
    _clean_campaign(session, values, campaign_id)
    audit.apply_changes(
        session,
        actor=actor,
        row=campaign,
        values={key: values[key] for key in changes},
        action="campaign.update",
        entity="campaign",
    )
    return campaign


def _task_counts(as_of: dt.date):
    overdue = and_(CampaignTask.due_on < as_of, CampaignTask.done.is_(False))
    return (
        select(
            CampaignTask.campaign_id.label("campaign_id"),
            func.count(CampaignTask.id).label("tasks"),
            count_if(CampaignTask.done.is_(False)).label("open_tasks"),
            count_if(overdue).label("overdue_tasks"),
        )
        .group_by(CampaignTask.campaign_id)
        .subquery()
    )


def campaign_filters(statement, *, owner_staff_id=None, statuses=None, types=None):
    """`statement` limited to campaigns of this owner, these statuses and types (each
    optional), as the list, the calendar and the results filter them."""
    if owner_staff_id is not None:
        statement = statement.where(Campaign.owner_staff_id == owner_staff_id)
    if statuses:
        statement = statement.where(Campaign.status.in_([str(s) for s in statuses]))
    if types:
        statement = statement.where(Campaign.type.in_([str(s) for s in types]))
    return statement


CAMPAIGN_COLUMNS = [
    "id",
    "code",
    "name",
    "type",
    "channel",
    "owner_staff_id",
    "owner",
    "starts_on",
    "ends_on",
    "budget",
    "target_leads",
    "status",
    "linked_campaign_id",
    "linked_code",
    "tasks",
    "open_tasks",
    "overdue_tasks",
]


def list_campaigns(
    session: Session,
    *,
    actor: Actor,
    owner_staff_id: int | None = None,
    statuses: list[str] | None = None,
    types: list[str] | None = None,
    as_of: dt.date | None = None,
) -> pd.DataFrame:
    """Campaigns (newest start first) with owner, the campaign each follows, and task counts
    (overdue: due before `as_of` and not done)."""
    require_read(actor)
    as_of = as_of or default_as_of(session)
    owner = aliased(Staff)
    linked = aliased(Campaign)
    tasks = _task_counts(as_of)
    statement = (
        select(
            Campaign.id,
            Campaign.code,
            Campaign.name,
            Campaign.type,
            Campaign.channel,
            Campaign.owner_staff_id,
            owner.name.label("owner"),
            Campaign.starts_on,
            Campaign.ends_on,
            Campaign.budget,
            Campaign.target_leads,
            Campaign.status,
            Campaign.linked_campaign_id,
            linked.code.label("linked_code"),
            func.coalesce(tasks.c.tasks, 0).label("tasks"),
            func.coalesce(tasks.c.open_tasks, 0).label("open_tasks"),
            func.coalesce(tasks.c.overdue_tasks, 0).label("overdue_tasks"),
        )
        .outerjoin(owner, owner.id == Campaign.owner_staff_id)
        .outerjoin(linked, linked.id == Campaign.linked_campaign_id)
        .outerjoin(tasks, tasks.c.campaign_id == Campaign.id)
    )
    statement = campaign_filters(
        statement, owner_staff_id=owner_staff_id, statuses=statuses, types=types
    )
    statement = statement.order_by(Campaign.starts_on.desc(), Campaign.code)
    rows = [dict(row) for row in session.execute(statement).mappings().all()]
    frame = pd.DataFrame(rows, columns=CAMPAIGN_COLUMNS)
    frame["budget"] = pd.to_numeric(frame["budget"], errors="coerce").astype(float)
    for column in ("tasks", "open_tasks", "overdue_tasks"):
        frame[column] = frame[column].astype(int)
    return frame


def campaign_choices(session: Session, *, actor: Actor) -> list[tuple[int, str]]:
    """(id, 'code · name') of every campaign, newest start first."""
    require_read(actor)
    statement = select(Campaign.id, Campaign.code, Campaign.name).order_by(
        Campaign.starts_on.desc(), Campaign.code
    )
    return [(row[0], f"{row[1]} · {row[2]}") for row in session.execute(statement).all()]


def owner_choices(session: Session, *, actor: Actor) -> list[tuple[int, str]]:
    """(id, name) of the staff who own at least one campaign (for the owner filter)."""
    require_read(actor)
    statement = (
        select(Staff.id, Staff.name, Staff.staff_no)
        .where(Staff.id.in_(select(Campaign.owner_staff_id)))
        .order_by(Staff.name)
    )
    return [(row[0], f"{row[1]} ({row[2]})") for row in session.execute(statement).all()]


def staff_choices(session: Session, *, actor: Actor) -> list[tuple[int, str]]:
    """(id, 'name (staff_no)') of active staff, to pick an owner or a responsible person."""
    require_read(actor)
    statement = (
        select(Staff.id, Staff.name, Staff.staff_no)
        .where(Staff.active.is_(True))
        .order_by(Staff.name, Staff.staff_no)
    )
    return [(row[0], f"{row[1]} ({row[2]})") for row in session.execute(statement).all()]
