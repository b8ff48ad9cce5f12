"""Hand-offs as the board lists them: the rows of the hand-off queue and the hand-offs of
one lead (for its detail, where the owner sees their outcomes).

Writing hand-offs (hand off, accept, return, record the outcome) and the consultants' queue
are core.services.handoffs, which builds on these rows; the lead detail reads them from here,
so the lead services never depend on the hand-off workflow.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import func, select
from sqlmodel import Session

from core.domain import HandoffStatus
from core.models import AppUser, Department, Handoff, Lead, Staff, utcnow
from core.permissions import Actor
from core.scoring import score_sql
from core.services import settings as settings_service
from core.services.leads.access import check_visible, mask_phone, shows_full_phone
from core.services.leads.board import board_as_of, board_rules

QUEUE_COLUMNS = [
    "id",
    "lead_id",
    "lead_ref",
    "name",
    "phone",
    "owner_name",
    "department",
    "stage",
    "score",
    "consultant",
    "handed_by",
    "handed_at",
    "decided_at",
    "status",
    "outcome",
    "reason_code",
    "note",
    "waiting_days",
]


def handoff_rows_query(session: Session):
    """SELECT of hand-offs with their lead (score as of the board's day), owner, department,
    consultant and who handed it off; callers add the scope, WHERE and ORDER BY."""
    consultant = AppUser.__table__.alias("consultant")
    handed_by = AppUser.__table__.alias("handed_by")
    rules = board_rules(session)
    score = score_sql(board_as_of(session), rules.decay).label("score")
    return (
        select(
            Handoff.id,
            Handoff.lead_id,
            Lead.lead_ref,
            Lead.name,
            Lead.phone,
            Lead.owner_staff_id,
            Staff.name.label("owner_name"),
            Department.name.label("department"),
            Lead.stage,
            score,
            func.coalesce(consultant.c.display_name, consultant.c.username).label("consultant"),
            func.coalesce(handed_by.c.display_name, handed_by.c.username).label("handed_by"),
            Handoff.handed_at,
            Handoff.decided_at,
            Handoff.status,
            Handoff.outcome,
            Handoff.reason_code,
            Handoff.note,
        )
        .select_from(Handoff)
        .join(Lead, Lead.id == Handoff.lead_id)
        .join(Staff, Staff.id == Lead.owner_staff_id)
        .join(Department, Department.id == Staff.department_id)
        .join(consultant, consultant.c.id == Handoff.consultant_user_id)
        .outerjoin(handed_by, handed_by.c.id == Handoff.handed_by_user_id)
    )


def handoff_frame(rows, actor: Actor, now: dt.datetime) -> pd.DataFrame:
    """The rows of `handoff_rows_query` as QUEUE_COLUMNS: phones masked for `actor`,
    `waiting_days` from hand-off to `now` while pending, else to the consultant's decision."""
    records = []
    for row in rows:
        record = dict(row._mapping)
        if not shows_full_phone(actor, record["owner_staff_id"]):
            record["phone"] = mask_phone(record["phone"])
        record["score"] = int(record["score"])
        until = now if record["status"] == str(HandoffStatus.pending) else record["decided_at"]
        waited = (until - record["handed_at"]) if until and record["handed_at"] else None
        record["waiting_days"] = round(waited.total_seconds() / 86400, 1) if waited else None
        records.append(record)
    return pd.DataFrame(records, columns=QUEUE_COLUMNS)


def board_now(session: Session) -> dt.datetime:
    """Now, or the end of the board's as-of day when the data ended in the past (the demo
    hospital), so waiting times read as they did on the data's last day."""
    zone = ZoneInfo(settings_service.get_value(session, "timezone"))
    as_of = board_as_of(session)
    end_of_day = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return min(utcnow(), end_of_day.astimezone(dt.UTC))


def lead_handoffs(session: Session, *, actor: Actor, lead_id: int) -> pd.DataFrame:
    """Every hand-off of one lead (newest first), outcome included, for its detail."""
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise LookupError(f"no lead with id {lead_id}")
    check_visible(session, actor, lead)
    query = (
        handoff_rows_query(session)
        .where(Handoff.lead_id == lead_id)
        .order_by(Handoff.handed_at.desc(), Handoff.id.desc())
    )
    return handoff_frame(session.execute(query), actor, board_now(session))
