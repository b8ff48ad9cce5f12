"""The responsibility sheet (seed 004 step 6): a campaign's lines and the overdue ones.

Each line has a responsible person, a milestone, the external action, feedback, internal
coordination, a due day and whether it is done; it is overdue when due before the day tasks
are judged on (`plan.default_as_of`) and not done. Every change is audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import and_, case, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from core import audit
from core.models import Campaign, CampaignTask, Staff
from core.permissions import Actor
from core.services.campaigns.access import require_read, require_write
from core.services.campaigns.errors import CampaignError
from core.services.campaigns.plan import TEXT_FIELDS, date_field, default_as_of, find_campaign
from core.text import clean_fields

TASK_FIELDS = (
    "responsible_staff_id",
    "milestone",
    "external_action",
    "feedback",
    "internal_coordination",
    "due_on",
    "done",
)


def _clean_task(session: Session, values: dict[str, Any]) -> None:
    clean_fields(values, sorted(TEXT_FIELDS & set(values)))
    for key in TEXT_FIELDS & set(values):
        if isinstance(values[key], str):
            values[key] = values[key].strip() or None
    if "milestone" in values:
        if not values["milestone"]:
            raise CampaignError("campaigns.error.required", field="milestone")
        if len(values["milestone"]) > 200:
            raise CampaignError("campaigns.error.too_long", field="milestone", limit=200)
    if values.get("due_on") is not None:
        values["due_on"] = date_field(values["due_on"], "due_on")
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
    require_write(actor)
    find_campaign(session, campaign_id)
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
    require_write(actor)
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
    require_write(actor)
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
    require_read(actor)
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
