"""Who may see, change and follow up which lead, and who reads its full phone number.

These are the lead board's rules; the hand-offs, consent and privacy services reuse them
rather than restate them.

  see (scoped): admin, executive, marketer — every lead; dept_head — leads owned by their
    department's staff; staff — their own leads; consultant — leads handed to them.
    `scope_conditions` (SQL conditions for lists), `check_visible` (one lead; a consultant
    may open any lead that was ever handed to them).
  move, reassign, tag, hand off: admin and marketer (any lead), dept_head (their
    department's leads) — `MOVER_ROLES`, checked per lead by `moves.load_for_change`.
    Executives, consultants and staff are read-only on the board.
  record an interaction (and consent): the movers, plus staff on their own leads and
    consultants on the leads handed to them and not returned — `check_can_record`.
  full phone numbers: admin, marketer, the lead's owner, a consultant it was handed to;
    everyone else sees 138****1234 — `shows_full_phone`, `mask_phone`.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session

from core.domain import HandoffStatus, Role
from core.models import Handoff, Lead, Staff
from core.permissions import Actor, PermissionDenied, department_scope, require_role, staff_scope

MOVER_ROLES = (Role.admin, Role.marketer, Role.dept_head)
RECORDER_ROLES = (Role.admin, Role.marketer, Role.dept_head, Role.staff, Role.consultant)
FULL_PHONE_ROLES = (Role.admin, Role.marketer)


def mask_phone(phone: str | None) -> str | None:
    """138****1234: the first three and last four digits (shorter numbers keep two)."""
    if not phone:
        return phone
    if len(phone) >= 8:
        return f"{phone[:3]}****{phone[-4:]}"
    return "*" * max(0, len(phone) - 2) + phone[-2:]


def scope_conditions(actor: Actor) -> list:
    """Which leads `actor` sees (conditions on Lead joined with its owner Staff)."""
    require_role(actor, *Role)
    if actor.role in (Role.admin, Role.executive, Role.marketer):
        return []
    if actor.role == Role.dept_head:
        return [Staff.department_id == department_scope(actor)]
    if actor.role == Role.staff:
        return [Lead.owner_staff_id == staff_scope(actor)]
    if actor.role == Role.consultant:
        return [
            Lead.id.in_(
                select(Handoff.lead_id).where(
                    Handoff.consultant_user_id == actor.user_id,
                    Handoff.status != str(HandoffStatus.returned),
                )
            )
        ]
    raise PermissionDenied(f"role '{actor.role}' may not see leads")


def sees_every_phone(actor: Actor) -> bool:
    """Whether `actor` reads every full number it is shown (a consultant is only ever shown
    the leads handed to them)."""
    return actor.role in FULL_PHONE_ROLES or actor.role == Role.consultant


def shows_full_phone(actor: Actor, owner_staff_id: int) -> bool:
    """The masking rule: whether `actor` reads the full number of a lead of this owner."""
    if sees_every_phone(actor):
        return True
    return actor.staff_id is not None and actor.staff_id == owner_staff_id


def check_visible(session: Session, actor: Actor, lead: Lead) -> None:
    """Raise PermissionDenied unless `actor` may see `lead` (the board's scoping rules; a
    consultant may open any lead that was ever handed to them)."""
    require_role(actor, *Role)
    if actor.role in (Role.admin, Role.executive, Role.marketer):
        return
    if actor.role == Role.staff:
        if lead.owner_staff_id != staff_scope(actor):
            raise PermissionDenied("not your lead")
        return
    if actor.role == Role.consultant:
        handed = session.execute(
            select(func.count(Handoff.id)).where(
                Handoff.lead_id == lead.id, Handoff.consultant_user_id == actor.user_id
            )
        ).scalar()
        if not handed:
            raise PermissionDenied("this lead was not handed to you")
        return
    owner_department = session.execute(
        select(Staff.department_id).where(Staff.id == lead.owner_staff_id)
    ).scalar()
    if owner_department != department_scope(actor):
        raise PermissionDenied("outside your department")


def check_can_record(session: Session, actor: Actor, lead: Lead) -> None:
    """Raise PermissionDenied unless `actor` may record an interaction (or consent) on `lead`:
    a recorder role who sees it; a consultant only while their hand-off is not returned."""
    require_role(actor, *RECORDER_ROLES)
    check_visible(session, actor, lead)
    if actor.role == Role.consultant:
        open_handoff = session.execute(
            select(func.count(Handoff.id)).where(
                Handoff.lead_id == lead.id,
                Handoff.consultant_user_id == actor.user_id,
                Handoff.status != str(HandoffStatus.returned),
            )
        ).scalar()
        if not open_handoff:
            raise PermissionDenied("this lead was returned; it is no longer yours")
