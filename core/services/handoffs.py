"""Hand-offs (seed 004: 合格的送院内): a qualified lead goes to a consultant, who accepts it or
returns it with a reason, and records what came of it.

Who may do what: admin and marketer hand off any qualified lead, a department head the leads
of their department; the consultant it was handed to (or an admin) accepts, returns and
records the outcome. A lead has at most one open hand-off (pending or accepted) at a time.

Outcomes and orders: `booked` creates an `appointment` order (status `placed`, amount 0,
dated the hospital's today) credited to the lead's owner; `visited` and `ordered` make that
order `valid` (creating it if the booking was never recorded) — a visit is what makes an
online appointment count, so it then counts in the month's valid orders and in the owner's
commission (SPEC §3: ¥10 per valid appointment); `lost` cancels a booking that was never
honoured (a valid one stays valid). The owner sees the outcome on the lead detail.

Listing hand-offs (`handoff_queue` here; `lead_handoffs`, re-exported here, for a lead's
detail) builds on core.services.leads.handoff_lists. This module depends on the lead
services (who may change a lead, the board's rules), never the other way round.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
from sqlalchemy import func, select
from sqlmodel import Session

from core import audit
from core.db import as_date
from core.domain import HandoffStatus, OrderKind, OrderStatus, Role, VisitOutcome
from core.models import AppUser, Handoff, Interaction, Lead, Order, Staff, utcnow
from core.permissions import Actor, PermissionDenied, department_scope, require_role, staff_scope
from core.scoring import score_as_of
from core.services import referrals
from core.services import settings as settings_service
from core.services.leads.access import MOVER_ROLES
from core.services.leads.board import board_as_of, board_rules
from core.services.leads.errors import BoardError
from core.services.leads.handoff_lists import board_now, handoff_frame, handoff_rows_query
from core.services.leads.handoff_lists import lead_handoffs as lead_handoffs  # re-exported
from core.services.leads.moves import load_for_change
from core.text import clean_text

RETURN_REASONS = ("not_reachable", "not_ready", "wrong_department", "duplicate", "other")
OPEN_STATUSES = (str(HandoffStatus.pending), str(HandoffStatus.accepted))
ORDER_REF_PREFIX = "HANDOFF-"


def consultants(session: Session, *, actor: Actor) -> list[tuple[int, str]]:
    """(user id, name) of every active consultant login, for the hand-off picker."""
    require_role(actor, *MOVER_ROLES)
    rows = session.execute(
        select(AppUser.id, AppUser.display_name, AppUser.username)
        .where(AppUser.role == str(Role.consultant), AppUser.disabled.is_(False))
        .order_by(AppUser.username)
    )
    return [(user_id, display_name or username) for user_id, display_name, username in rows]


def _lead_score(session: Session, lead: Lead) -> int:
    """The lead's score as of the board's day (exact, from its interactions)."""
    as_of = max(board_as_of(session), lead.created_on)
    rows = session.execute(
        select(Interaction.occurred_on, Interaction.points).where(Interaction.lead_id == lead.id)
    ).all()
    dated = [(as_date(day), int(points)) for day, points in rows]
    return score_as_of(lead.created_on, dated, as_of, board_rules(session).decay)


def hand_off(
    session: Session,
    *,
    actor: Actor,
    lead_id: int,
    consultant_user_id: int,
    note: str | None = None,
) -> Handoff:
    """Hand a qualified lead (score ≥ setting `handoff_threshold`) to a consultant."""
    note = _clean_note(note)
    lead = load_for_change(session, actor, [lead_id])[lead_id]
    consultant = session.get(AppUser, consultant_user_id)
    if consultant is None or consultant.role != str(Role.consultant) or consultant.disabled:
        raise LookupError(f"no active consultant with id {consultant_user_id}")
    score = _lead_score(session, lead)
    threshold = board_rules(session).handoff_threshold
    if score < threshold:
        raise BoardError(
            "board.error.not_qualified",
            score=score,
            threshold=threshold,
        )
    open_count = session.execute(
        select(func.count(Handoff.id)).where(
            Handoff.lead_id == lead.id, Handoff.status.in_(OPEN_STATUSES)
        )
    ).scalar()
    if open_count:
        raise BoardError("board.error.already_handed")
    handoff = Handoff(
        lead_id=lead.id,
        consultant_user_id=consultant.id,
        handed_by_user_id=actor.user_id,
        status=str(HandoffStatus.pending),
        note=note,
    )
    session.add(handoff)
    session.flush()
    _audit(
        session,
        actor,
        "handoff.create",
        handoff,
        lead,
        consultant=consultant.display_name or consultant.username,
        score=score,
        note=note,
    )
    return handoff


def _clean_note(note: str | None) -> str | None:
    note = clean_text((note or "").strip(), field="note") or None
    if note and len(note) > 500:
        raise BoardError("board.error.too_long")
    return note


def _audit(session, actor, action, handoff: Handoff, lead: Lead, **detail) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        entity="lead",
        entity_id=lead.id,
        detail={"handoff_id": handoff.id, "lead_ref": lead.lead_ref, **detail},
    )


def _own_handoff(session: Session, actor: Actor, handoff_id: int) -> tuple[Handoff, Lead]:
    require_role(actor, Role.consultant, Role.admin)
    handoff = session.get(Handoff, handoff_id, with_for_update=True, populate_existing=True)
    if handoff is None:
        raise LookupError(f"no hand-off with id {handoff_id}")
    if actor.role == Role.consultant and handoff.consultant_user_id != actor.user_id:
        raise PermissionDenied("this lead was handed to another consultant")
    return handoff, session.get(Lead, handoff.lead_id)


# --- What may be done with a hand-off in each status ---------------------------------------


def may_accept(status: str) -> bool:
    """A pending hand-off may be accepted."""
    return status == str(HandoffStatus.pending)


def may_return(status: str, outcome) -> bool:
    """An open hand-off (pending or accepted) may be given back until an outcome is
    recorded (`outcome` None, or missing in a table)."""
    return status in OPEN_STATUSES and not isinstance(outcome, str)


def may_record_outcome(status: str) -> bool:
    """An accepted hand-off takes an outcome."""
    return status == str(HandoffStatus.accepted)


def pending_wait(queue: pd.DataFrame) -> tuple[int, float | None]:
    """A queue's (`handoff_queue`) hand-offs waiting to be accepted, and their median wait
    in days (None when none has a wait)."""
    pending = queue[queue["status"] == str(HandoffStatus.pending)]
    waits = pending["waiting_days"].dropna()
    return len(pending), (float(waits.median()) if len(waits) else None)


def accept_handoff(session: Session, *, actor: Actor, handoff_id: int) -> Handoff:
    """The consultant takes the lead on."""
    handoff, lead = _own_handoff(session, actor, handoff_id)
    if not may_accept(handoff.status):
        raise BoardError("board.error.handoff_not_pending")
    handoff.status = str(HandoffStatus.accepted)
    handoff.decided_at = utcnow()
    session.add(handoff)
    session.flush()
    _audit(session, actor, "handoff.accept", handoff, lead)
    return handoff


def return_handoff(
    session: Session, *, actor: Actor, handoff_id: int, reason_code: str, note: str | None = None
) -> Handoff:
    """The consultant gives the lead back to its owner, with a reason (RETURN_REASONS)."""
    if reason_code not in RETURN_REASONS:
        raise BoardError("board.error.bad_reason_code")
    handoff, lead = _own_handoff(session, actor, handoff_id)
    if not may_return(handoff.status, handoff.outcome):
        closed = handoff.status not in OPEN_STATUSES
        raise BoardError(
            "board.error.handoff_closed" if closed else "board.error.handoff_has_outcome"
        )
    note = _clean_note(note)
    handoff.status = str(HandoffStatus.returned)
    handoff.reason_code = reason_code
    handoff.note = note or handoff.note
    handoff.decided_at = utcnow()
    session.add(handoff)
    session.flush()
    _audit(session, actor, "handoff.return", handoff, lead, reason_code=reason_code, note=note)
    return handoff


def record_outcome(
    session: Session, *, actor: Actor, handoff_id: int, outcome: str, note: str | None = None
) -> Handoff:
    """What came of an accepted hand-off; books, validates or cancels the lead's appointment
    order as the module docstring says."""
    outcome = str(VisitOutcome(outcome))
    handoff, lead = _own_handoff(session, actor, handoff_id)
    if not may_record_outcome(handoff.status):
        raise BoardError("board.error.accept_first")
    if handoff.outcome == outcome:
        raise BoardError("board.error.same_outcome")
    note = _clean_note(note)
    order_ref = f"{ORDER_REF_PREFIX}{handoff.id}"
    order = session.execute(select(Order).where(Order.order_ref == order_ref)).scalars().first()
    if outcome in (VisitOutcome.booked, VisitOutcome.visited, VisitOutcome.ordered):
        wanted = OrderStatus.placed if outcome == VisitOutcome.booked else OrderStatus.valid
        if order is None:
            order = Order(
                order_ref=order_ref,
                staff_id=lead.owner_staff_id,
                kind=str(OrderKind.appointment),
                amount=Decimal("0"),
                status=str(wanted),
                created_on=settings_service.hospital_today(session),
                lead_id=lead.id,
            )
        elif wanted == OrderStatus.valid or order.status == str(OrderStatus.cancelled):
            order.status = str(wanted)
    elif order is not None and order.status == str(OrderStatus.placed):
        order.status = str(OrderStatus.cancelled)
    if order is not None:
        session.add(order)
    handoff.outcome = outcome
    handoff.note = note or handoff.note
    session.add(handoff)
    session.flush()
    if order is not None and order.status == str(OrderStatus.valid):
        referrals.pay_referrals(session, actor=actor, lead_ids=[lead.id])  # SPEC §10
    _audit(
        session,
        actor,
        "handoff.outcome",
        handoff,
        lead,
        outcome=outcome,
        note=note,
        order_ref=order.order_ref if order is not None else None,
        order_status=order.status if order is not None else None,
    )
    return handoff


def handoff_queue(
    session: Session,
    *,
    actor: Actor,
    statuses: tuple[str, ...] | None = None,
    now: dt.datetime | None = None,
    limit: int = 500,
) -> pd.DataFrame:
    """Hand-offs, oldest pending first: a consultant's own; a department head's and a staff
    member's those of their leads; admin, marketer and executive all. `waiting_days` is the
    time from hand-off to now (`board_now`) while pending, else to the consultant's
    decision."""
    require_role(actor, *Role)
    query = handoff_rows_query(session)
    if actor.role == Role.consultant:
        query = query.where(Handoff.consultant_user_id == actor.user_id)
    elif actor.role == Role.dept_head:
        query = query.where(Staff.department_id == department_scope(actor))
    elif actor.role == Role.staff:
        query = query.where(Lead.owner_staff_id == staff_scope(actor))
    if statuses:
        query = query.where(Handoff.status.in_(statuses))
    pending_first = func.coalesce(
        func.nullif(Handoff.status, str(HandoffStatus.pending)), "0"
    )  # "0" sorts before "accepted" and "returned"
    query = query.order_by(pending_first, Handoff.handed_at, Handoff.id).limit(limit)
    return handoff_frame(session.execute(query), actor, now or board_now(session))
