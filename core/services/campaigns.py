"""Campaigns: planning, templates, the responsibility sheet, the calendar and the results.

A campaign (SPEC §5 types) has an owner, dates, channels (the hospital's own channel
names, ';'-separated, as in an import), a budget, a lead target, a
status and a PDCA record. Templates create linked campaigns (`linked_campaign_id` points to
the campaign a step follows) with their responsibility-sheet tasks (seed 004 step 6:
responsible person, milestone, external action, feedback, internal coordination).

Results come from the leads attributed to a campaign (`lead.campaign_id`) and the orders
linked to those leads, with core.metrics' definitions: an order is valid when its status is
`valid`, revenue is the sum of `amount` of valid orders. All of it is SQL aggregates.

Admins and marketers write; executives read (and change nothing). Every write is audited.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import pandas as pd
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from core import audit
from core.db import as_date
from core.domain import STAGE_ORDER, CampaignStatus, CampaignType, OrderStatus, Role
from core.i18n import t
from core.models import Campaign, CampaignTask, Lead, Order, Staff
from core.permissions import MARKETING, Actor, require_role
from core.services.settings import hospital_today

READERS = frozenset({Role.admin, Role.executive, Role.marketer})
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
TASK_FIELDS = (
    "responsible_staff_id",
    "milestone",
    "external_action",
    "feedback",
    "internal_coordination",
    "due_on",
    "done",
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


class CampaignError(ValueError):
    """Input that cannot be saved; `key`/`values` give the message in either language."""

    def __init__(self, key: str, **values: Any):
        self.key = key
        self.values = values
        super().__init__(t(key, "en", **values))


def _require_read(actor: Actor) -> None:
    require_role(actor, *READERS)


def _require_write(actor: Actor) -> None:
    require_role(actor, *MARKETING)


def _count_if(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP)


def default_as_of(session: Session) -> dt.date:
    """The day overdue tasks are judged on: today, or the last day of the latest month with
    data when the data ends before today (the demo hospital's records end in 2019-08)."""
    from core import metrics

    today = hospital_today(session)
    month = metrics.latest_data_month(session)
    if month is None:
        return today
    return min(today, metrics.month_bounds(month)[1])


# --- Validation ---------------------------------------------------------------------------


def _date_field(value: Any, name: str) -> dt.date:
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
        values[key] = _date_field(values[key], key)
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


def _get_campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignError("campaigns.error.no_campaign", value=campaign_id)
    return campaign


# --- Campaigns ----------------------------------------------------------------------------


def get_campaign(session: Session, *, actor: Actor, campaign_id: int) -> Campaign:
    _require_read(actor)
    return _get_campaign(session, campaign_id)


def create_campaign(
    session: Session,
    *,
    actor: Actor,
    code: str,
    name: str,
    type: str,
    starts_on: dt.date,
    ends_on: dt.date,
    channel: str | None = None,
    owner_staff_id: int | None = None,
    budget: Decimal | float | str | None = None,
    target_leads: int | None = None,
    status: str = CampaignStatus.planned,
    linked_campaign_id: int | None = None,
    pdca_plan: str | None = None,
    pdca_do: str | None = None,
    pdca_check: str | None = None,
    pdca_act: str | None = None,
) -> Campaign:
    """Plan a campaign (admin, marketer); audited."""
    arguments = dict(locals())
    _require_write(actor)
    values = {key: value for key, value in arguments.items() if key in CAMPAIGN_FIELDS}
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
    session: Session, *, actor: Actor, campaign_id: int, **changes: Any
) -> Campaign:
    """Change a campaign's fields, PDCA record included (admin, marketer); audited with the
    old and new value of each field that changed."""
    _require_write(actor)
    unknown = set(changes) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise CampaignError("campaigns.error.bad_field", value=", ".join(sorted(unknown)))
    campaign = _get_campaign(session, campaign_id)
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
            _count_if(CampaignTask.done.is_(False)).label("open_tasks"),
            _count_if(overdue).label("overdue_tasks"),
        )
        .group_by(CampaignTask.campaign_id)
        .subquery()
    )


def _filters(statement, *, owner_staff_id=None, statuses=None, types=None):
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
    _require_read(actor)
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
    statement = _filters(statement, owner_staff_id=owner_staff_id, statuses=statuses, types=types)
    statement = statement.order_by(Campaign.starts_on.desc(), Campaign.code)
    rows = [dict(row) for row in session.execute(statement).mappings().all()]
    frame = pd.DataFrame(rows, columns=CAMPAIGN_COLUMNS)
    frame["budget"] = pd.to_numeric(frame["budget"], errors="coerce").astype(float)
    for column in ("tasks", "open_tasks", "overdue_tasks"):
        frame[column] = frame[column].astype(int)
    return frame


def campaign_choices(session: Session, *, actor: Actor) -> list[tuple[int, str]]:
    """(id, 'code · name') of every campaign, newest start first."""
    _require_read(actor)
    statement = select(Campaign.id, Campaign.code, Campaign.name).order_by(
        Campaign.starts_on.desc(), Campaign.code
    )
    return [(row[0], f"{row[1]} · {row[2]}") for row in session.execute(statement).all()]


def owner_choices(session: Session, *, actor: Actor) -> list[tuple[int, str]]:
    """(id, name) of the staff who own at least one campaign (for the owner filter)."""
    _require_read(actor)
    statement = (
        select(Staff.id, Staff.name, Staff.staff_no)
        .where(Staff.id.in_(select(Campaign.owner_staff_id)))
        .order_by(Staff.name)
    )
    return [(row[0], f"{row[1]} ({row[2]})") for row in session.execute(statement).all()]


def staff_choices(session: Session, *, actor: Actor) -> list[tuple[int, str]]:
    """(id, 'name (staff_no)') of active staff, to pick an owner or a responsible person."""
    _require_read(actor)
    statement = (
        select(Staff.id, Staff.name, Staff.staff_no)
        .where(Staff.active.is_(True))
        .order_by(Staff.name, Staff.staff_no)
    )
    return [(row[0], f"{row[1]} ({row[2]})") for row in session.execute(statement).all()]


# --- Templates ----------------------------------------------------------------------------


@dataclass
class _Step:
    type: CampaignType
    name: str
    starts_on: dt.date
    ends_on: dt.date
    channel: str
    tasks: list[tuple[str, dt.date]] = field(default_factory=list)


TEMPLATES = ("free_clinic_trilogy", "lecture_series", "spring_breeze")
TEMPLATE_PREFIX = {"free_clinic_trilogy": "FCT", "lecture_series": "LEC", "spring_breeze": "SPR"}
# Seed 003's trilogy: a free-clinic day; the half-price follow-up starts three days after it
# (the patients' follow-up period) and runs two weeks; conference marketing for the serious
# cases a week after the offer ends, once the collected information has been worked through.
FOLLOWUP_GAP_DAYS = 3
FOLLOWUP_DAYS = 14
CONFERENCE_GAP_DAYS = 7
# Healthy Spring Breeze: two weeks of warm-up content, then a month of the seasonal offer.
WARMUP_DAYS = 14
SEASONAL_DAYS = 30


def _day(start: dt.date, days: int) -> dt.date:
    return start + dt.timedelta(days=days)


def _template_steps(
    template: str,
    starts_on: dt.date,
    name: str,
    lang: str,
    clinic_days: int,
    lectures: int,
    every_days: int,
) -> list[_Step]:
    def task(key: str, due: dt.date) -> tuple[str, dt.date]:
        return t(f"campaigns.tpl.task.{key}", lang), due

    def title(kind: str, suffix: str = "") -> str:
        return f"{name} · {t(f'campaign_type.{kind}', lang)}{suffix}"

    if template == "free_clinic_trilogy":
        clinic_end = _day(starts_on, clinic_days - 1)
        followup_start = _day(clinic_end, FOLLOWUP_GAP_DAYS)
        followup_end = _day(followup_start, FOLLOWUP_DAYS - 1)
        conference = _day(followup_end, CONFERENCE_GAP_DAYS)
        return [
            _Step(
                CampaignType.free_clinic,
                title("free_clinic"),
                starts_on,
                clinic_end,
                "社区;微信群;公众号",
                [
                    task("book_venue", _day(starts_on, -14)),
                    task("announce", _day(starts_on, -7)),
                    task("collect_contacts", clinic_end),
                ],
            ),
            _Step(
                CampaignType.discount_followup,
                title("discount_followup"),
                followup_start,
                followup_end,
                "微信群;医生个人号",
                [
                    task("call_participants", _day(followup_start, -1)),
                    task("review_uptake", followup_end),
                ],
            ),
            _Step(
                CampaignType.conference,
                title("conference"),
                conference,
                conference,
                "微信群;医生个人号",
                [
                    task("invite_qualified", _day(conference, -5)),
                    task("hand_off", _day(conference, 1)),
                ],
            ),
        ]
    if template == "lecture_series":
        if lectures < 1 or every_days < 1:
            raise CampaignError("campaigns.error.bad_series")
        steps = []
        for number in range(1, lectures + 1):
            day = _day(starts_on, (number - 1) * every_days)
            steps.append(
                _Step(
                    CampaignType.lecture,
                    title("lecture", f" {number}/{lectures}"),
                    day,
                    day,
                    "社区;公众号;微信群",
                    [
                        task("confirm_speaker", _day(day, -10)),
                        task("publish_invitation", _day(day, -5)),
                        task("record_attendance", day),
                    ],
                )
            )
        return steps
    if template == "spring_breeze":
        offer_start = _day(starts_on, WARMUP_DAYS)
        offer_end = _day(offer_start, SEASONAL_DAYS - 1)
        return [
            _Step(
                CampaignType.content,
                title("content"),
                starts_on,
                _day(offer_start, -1),
                "公众号;抖音;头条号",
                [task("publish_content", _day(starts_on, 2))],
            ),
            _Step(
                CampaignType.seasonal,
                title("seasonal"),
                offer_start,
                offer_end,
                "公众号;微信群;社区",
                [
                    task("prepare_gifts", _day(offer_start, -7)),
                    task("midway_review", _day(offer_start, SEASONAL_DAYS // 2)),
                ],
            ),
        ]
    raise CampaignError("campaigns.error.bad_template", value=template)


def _free_codes(session: Session, base: str, count: int) -> list[str]:
    for attempt in itertools.count(1):
        # base, then base + b, c, … (the second plan of the day is "b"), then numbers.
        suffix = "" if attempt == 1 else chr(ord("a") + attempt - 1) if attempt <= 26 else attempt
        stem = f"{base}{suffix}"
        codes = [f"{stem}-{n}" for n in range(1, count + 1)]
        if not session.execute(select(Campaign.id).where(Campaign.code.in_(codes))).first():
            return codes
    raise AssertionError("unreachable")


def create_from_template(
    session: Session,
    *,
    actor: Actor,
    template: str,
    starts_on: dt.date,
    owner_staff_id: int | None = None,
    name: str | None = None,
    lang: str = "en",
    clinic_days: int = 1,
    lectures: int = 4,
    every_days: int = 7,
) -> list[Campaign]:
    """Create a template's linked campaigns and their responsibility-sheet tasks, in order.

    - `free_clinic_trilogy` (seed 003): free clinic from `starts_on` for `clinic_days`; the
      half-price follow-up starts three days after the clinic's last day and runs 14 days;
      conference marketing is held 7 days after the follow-up ends.
    - `lecture_series`: `lectures` one-day health lectures, one every `every_days` days.
    - `spring_breeze` (健康春风行动): 14 days of warm-up content, then a 30-day seasonal offer.

    Each campaign links to the one before it; the owner is responsible for every task.
    Codes are `<PREFIX>-<yymmdd>-<n>` (a letter is added when those are taken).
    """
    _require_write(actor)
    if template not in TEMPLATES:
        raise CampaignError("campaigns.error.bad_template", value=template)
    if clinic_days < 1:
        raise CampaignError("campaigns.error.bad_series")
    starts_on = _date_field(starts_on, "starts_on")
    name = (name or "").strip() or t(f"campaigns.template.{template}", lang)
    steps = _template_steps(template, starts_on, name, lang, clinic_days, lectures, every_days)
    codes = _free_codes(session, f"{TEMPLATE_PREFIX[template]}-{starts_on:%y%m%d}", len(steps))
    created: list[Campaign] = []
    for code, step in zip(codes, steps, strict=True):
        campaign = create_campaign(
            session,
            actor=actor,
            code=code,
            name=step.name[:200],
            type=step.type,
            starts_on=step.starts_on,
            ends_on=step.ends_on,
            channel=step.channel,
            owner_staff_id=owner_staff_id,
            linked_campaign_id=created[-1].id if created else None,
        )
        for milestone, due in step.tasks:
            add_task(
                session,
                actor=actor,
                campaign_id=campaign.id,
                milestone=milestone,
                responsible_staff_id=owner_staff_id,
                due_on=due,
            )
        created.append(campaign)
    audit.record(
        session,
        actor=actor,
        action="campaign.template",
        entity="campaign",
        entity_id=created[0].id,
        detail={"template": template, "codes": codes},
    )
    return created


# --- Responsibility sheet -----------------------------------------------------------------


def _clean_task(session: Session, values: dict[str, Any]) -> None:
    for key in TEXT_FIELDS & set(values):
        if isinstance(values[key], str):
            values[key] = values[key].strip() or None
    if "milestone" in values:
        if not values["milestone"]:
            raise CampaignError("campaigns.error.required", field="milestone")
        if len(values["milestone"]) > 200:
            raise CampaignError("campaigns.error.too_long", field="milestone", limit=200)
    if values.get("due_on") is not None:
        values["due_on"] = _date_field(values["due_on"], "due_on")
    if "done" in values:
        values["done"] = bool(values["done"])
    person = values.get("responsible_staff_id")
    if person is not None and session.get(Staff, person) is None:
        raise CampaignError("campaigns.error.no_staff", value=person)


def add_task(
    session: Session,
    *,
    actor: Actor,
    campaign_id: int,
    milestone: str,
    responsible_staff_id: int | None = None,
    external_action: str | None = None,
    feedback: str | None = None,
    internal_coordination: str | None = None,
    due_on: dt.date | None = None,
    done: bool = False,
) -> CampaignTask:
    """Add a line to a campaign's responsibility sheet (admin, marketer); audited."""
    arguments = dict(locals())
    _require_write(actor)
    _get_campaign(session, campaign_id)
    values = {key: value for key, value in arguments.items() if key in TASK_FIELDS}
    _clean_task(session, values)
    task = CampaignTask(campaign_id=campaign_id, **values)
    session.add(task)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="campaign_task.create",
        entity="campaign_task",
        entity_id=task.id,
        detail={"campaign_id": campaign_id, **values},
    )
    return task


def update_task(session: Session, *, actor: Actor, task_id: int, **changes: Any) -> CampaignTask:
    """Change a responsibility-sheet line (feedback, done, …); audited with old and new."""
    _require_write(actor)
    unknown = set(changes) - set(TASK_FIELDS)
    if unknown:
        raise CampaignError("campaigns.error.bad_field", value=", ".join(sorted(unknown)))
    task = session.get(CampaignTask, task_id)
    if task is None:
        raise CampaignError("campaigns.error.no_task", value=task_id)
    values = dict(changes)
    _clean_task(session, values)
    audit.apply_changes(
        session,
        actor=actor,
        row=task,
        values=values,
        action="campaign_task.update",
        entity="campaign_task",
    )
    return task


def delete_task(session: Session, *, actor: Actor, task_id: int) -> None:
    """Remove a responsibility-sheet line (admin, marketer); the audit keeps its content."""
    _require_write(actor)
    task = session.get(CampaignTask, task_id)
    if task is None:
        raise CampaignError("campaigns.error.no_task", value=task_id)
    detail = {"campaign_id": task.campaign_id, **{k: getattr(task, k) for k in TASK_FIELDS}}
    session.delete(task)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="campaign_task.delete",
        entity="campaign_task",
        entity_id=task_id,
        detail=detail,
    )


TASK_COLUMNS = [
    "id",
    "campaign_id",
    "campaign_code",
    "campaign_name",
    "milestone",
    "responsible_staff_id",
    "responsible",
    "external_action",
    "feedback",
    "internal_coordination",
    "due_on",
    "done",
    "overdue",
]


def list_tasks(
    session: Session,
    *,
    actor: Actor,
    campaign_id: int | None = None,
    as_of: dt.date | None = None,
    overdue_only: bool = False,
) -> pd.DataFrame:
    """Responsibility-sheet lines (one campaign's, or all), by due date. `overdue` marks the
    lines due before `as_of` (default: `default_as_of`) and not done."""
    _require_read(actor)
    as_of = as_of or default_as_of(session)
    overdue = and_(
        CampaignTask.due_on.is_not(None),
        CampaignTask.due_on < as_of,
        CampaignTask.done.is_(False),
    )
    person = aliased(Staff)
    statement = (
        select(
            CampaignTask.id,
            CampaignTask.campaign_id,
            Campaign.code.label("campaign_code"),
            Campaign.name.label("campaign_name"),
            CampaignTask.milestone,
            CampaignTask.responsible_staff_id,
            person.name.label("responsible"),
            CampaignTask.external_action,
            CampaignTask.feedback,
            CampaignTask.internal_coordination,
            CampaignTask.due_on,
            CampaignTask.done,
            case((overdue, True), else_=False).label("overdue"),
        )
        .join(Campaign, Campaign.id == CampaignTask.campaign_id)
        .outerjoin(person, person.id == CampaignTask.responsible_staff_id)
    )
    if campaign_id is not None:
        statement = statement.where(CampaignTask.campaign_id == campaign_id)
    if overdue_only:
        statement = statement.where(overdue)
    statement = statement.order_by(
        CampaignTask.due_on.is_(None), CampaignTask.due_on, CampaignTask.id
    )
    rows = [dict(row) for row in session.execute(statement).mappings().all()]
    frame = pd.DataFrame(rows, columns=TASK_COLUMNS)
    frame["done"] = frame["done"].astype(bool)
    frame["overdue"] = frame["overdue"].astype(bool)
    return frame


def overdue_tasks(session: Session, *, actor: Actor, as_of: dt.date | None = None) -> pd.DataFrame:
    """Every line due before `as_of` and not done, across campaigns."""
    return list_tasks(session, actor=actor, as_of=as_of, overdue_only=True)


# --- Calendar -----------------------------------------------------------------------------

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
    _require_read(actor)
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
    campaigns = _filters(campaigns, owner_staff_id=owner_staff_id, statuses=statuses)
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
    tasks = _filters(tasks, owner_staff_id=owner_staff_id, statuses=statuses)
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
    _require_read(actor)
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
    statement = _filters(statement, owner_staff_id=owner_staff_id, statuses=statuses)
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
        channels = [c.strip() for c in (row.channel or "").split(";") if c.strip()]
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


# --- Results ------------------------------------------------------------------------------

RESULT_COLUMNS = [
    "id",
    "code",
    "name",
    "type",
    "status",
    "starts_on",
    "ends_on",
    "budget",
    "target_leads",
    "leads",
    "target_reached",
    *[str(stage) for stage in STAGE_ORDER],
    "reached_strong",
    "orders",
    "valid_orders",
    "revenue",
    "cost_per_lead",
    "cost_per_valid_order",
    "return_on_budget",
]


# Result columns computed from the aggregates, per campaign row.
DERIVED_COLUMNS = frozenset(
    {
        "target_reached",
        "reached_strong",
        "cost_per_lead",
        "cost_per_valid_order",
        "return_on_budget",
    }
)


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    numerator = pd.to_numeric(numerator, errors="coerce").astype(float)
    denominator = pd.to_numeric(denominator, errors="coerce").astype(float)
    return (numerator / denominator.where(denominator > 0)).round(4)


def campaign_results(
    session: Session,
    *,
    actor: Actor,
    campaign_ids: list[int] | None = None,
    statuses: list[str] | None = None,
    types: list[str] | None = None,
) -> pd.DataFrame:
    """One row per campaign: what its attributed leads became.

    - `leads`: leads whose `campaign_id` is the campaign; `target_reached` = leads / target.
    - one column per stage with the leads' current stage; `reached_strong` = strong + super.
    - `orders`: orders linked to those leads, whatever their status; `valid_orders`: status
      `valid`; `revenue`: sum of `amount` of the valid ones (core.metrics' definitions).
    - `cost_per_lead` = budget / leads, `cost_per_valid_order` = budget / valid_orders,
      `return_on_budget` = revenue / budget (empty where the divisor is 0 or missing).
    Two grouped subqueries joined to the campaigns; ratios on the per-campaign rows.
    """
    _require_read(actor)
    valid = Order.status == OrderStatus.valid
    lead_stats = (
        select(
            Lead.campaign_id.label("campaign_id"),
            func.count(Lead.id).label("leads"),
            *[_count_if(Lead.stage == str(stage)).label(str(stage)) for stage in STAGE_ORDER],
        )
        .where(Lead.campaign_id.is_not(None))
        .group_by(Lead.campaign_id)
        .subquery()
    )
    order_stats = (
        select(
            Lead.campaign_id.label("campaign_id"),
            func.count(Order.id).label("orders"),
            _count_if(valid).label("valid_orders"),
            func.coalesce(func.sum(case((valid, Order.amount), else_=0)), 0).label("revenue"),
        )
        .join(Lead, Lead.id == Order.lead_id)
        .where(Lead.campaign_id.is_not(None))
        .group_by(Lead.campaign_id)
        .subquery()
    )
    statement = (
        select(
            Campaign.id,
            Campaign.code,
            Campaign.name,
            Campaign.type,
            Campaign.status,
            Campaign.starts_on,
            Campaign.ends_on,
            Campaign.budget,
            Campaign.target_leads,
            func.coalesce(lead_stats.c.leads, 0).label("leads"),
            *[
                func.coalesce(lead_stats.c[str(stage)], 0).label(str(stage))
                for stage in STAGE_ORDER
            ],
            func.coalesce(order_stats.c.orders, 0).label("orders"),
            func.coalesce(order_stats.c.valid_orders, 0).label("valid_orders"),
            func.coalesce(order_stats.c.revenue, 0).label("revenue"),
        )
        .outerjoin(lead_stats, lead_stats.c.campaign_id == Campaign.id)
        .outerjoin(order_stats, order_stats.c.campaign_id == Campaign.id)
    )
    statement = _filters(statement, statuses=statuses, types=types)
    if campaign_ids is not None:
        statement = statement.where(Campaign.id.in_(campaign_ids))
    statement = statement.order_by(Campaign.starts_on.desc(), Campaign.code)
    rows = [dict(row) for row in session.execute(statement).mappings().all()]
    frame = pd.DataFrame(rows, columns=[c for c in RESULT_COLUMNS if c not in DERIVED_COLUMNS])
    counts = ["leads", *[str(s) for s in STAGE_ORDER], "orders", "valid_orders"]
    for column in counts:
        frame[column] = frame[column].astype(int)
    frame["revenue"] = [float(_money(value)) for value in frame["revenue"]]
    frame["budget"] = pd.to_numeric(frame["budget"], errors="coerce").astype(float)
    frame["target_leads"] = pd.to_numeric(frame["target_leads"], errors="coerce").astype("Int64")
    frame["reached_strong"] = frame[str(STAGE_ORDER[2])] + frame[str(STAGE_ORDER[3])]
    frame["target_reached"] = _ratio(frame["leads"], frame["target_leads"])
    frame["cost_per_lead"] = _ratio(frame["budget"], frame["leads"]).round(2)
    frame["cost_per_valid_order"] = _ratio(frame["budget"], frame["valid_orders"]).round(2)
    frame["return_on_budget"] = _ratio(frame["revenue"], frame["budget"])
    return frame[RESULT_COLUMNS]


def results_summary(results: pd.DataFrame) -> dict[str, Any]:
    """Totals over a `campaign_results` frame: budget, leads, valid orders, valid revenue,
    and the overall cost per lead and return on budget (None where the divisor is 0)."""
    budget = float(results["budget"].fillna(0).sum())
    leads = int(results["leads"].sum())
    revenue = round(float(results["revenue"].sum()), 2)
    return {
        "campaigns": len(results),
        "budget": round(budget, 2),
        "leads": leads,
        "reached_strong": int(results["reached_strong"].sum()),
        "valid_orders": int(results["valid_orders"].sum()),
        "revenue": revenue,
        "cost_per_lead": round(budget / leads, 2) if leads else None,
        "return_on_budget": round(revenue / budget, 4) if budget else None,
    }
