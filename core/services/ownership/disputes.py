"""Touches and disputes (SPEC §8): the staff member who touched a lead says it is theirs;
their head or a marketer rules."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlmodel import Session

from core import audit
from core.db import as_date
from core.domain import Role
from core.models import (
    AppUser,
    Lead,
    LeadDispute,
    LeadTouch,
    Staff,
)
from core.permissions import Actor, PermissionDenied, require_department, require_role
from core.services import settings as settings_service
from core.services.ownership.base import (
    RULE_ROLES,
    CreditError,
    mask_name,
    sees_holder,
)
from core.services.ownership.history import (
    transfer,
)

if TYPE_CHECKING:
    import pandas as pd

# --- Touches and disputes ----------------------------------------------------------------


def touches(session: Session, *, actor: Actor, lead_id: int | None = None) -> pd.DataFrame:
    """Touches, newest first: a staff login's own (they touched), a head's department's
    (touching or holding staff), everyone's for admins, marketers and executives; or one
    lead's. Columns touch_id, lead_id, lead_ref, staff_id, staff_no, staff_name, touched_on,
    source, alias, holder_staff_no, holder (masked as the role requires), dispute_id,
    dispute_status."""
    import pandas as pd

    require_role(actor, Role.admin, Role.marketer, Role.executive, Role.dept_head, Role.staff)
    toucher = Staff.__table__.alias("toucher")
    holder = Staff.__table__.alias("holder")
    statement = (
        select(
            LeadTouch.id, LeadTouch.lead_id, Lead.lead_ref, LeadTouch.staff_id, toucher.c.staff_no,
            toucher.c.name, LeadTouch.touched_on, LeadTouch.source, LeadTouch.lead_ref,
            holder.c.id, holder.c.staff_no, holder.c.name, LeadDispute.id, LeadDispute.status,
        )
        .join(Lead, Lead.id == LeadTouch.lead_id)
        .join(toucher, toucher.c.id == LeadTouch.staff_id)
        .join(holder, holder.c.id == Lead.owner_staff_id)
        .outerjoin(LeadDispute, LeadDispute.touch_id == LeadTouch.id)
        .order_by(LeadTouch.touched_on.desc(), LeadTouch.id.desc())
    )  # fmt: skip
    if lead_id is not None:
        statement = statement.where(LeadTouch.lead_id == lead_id)
    if actor.role == Role.staff:
        statement = statement.where(
            or_(LeadTouch.staff_id == actor.staff_id, Lead.owner_staff_id == actor.staff_id)
        )
    elif actor.role == Role.dept_head:
        statement = statement.where(
            or_(toucher.c.department_id == actor.department_id,
                holder.c.department_id == actor.department_id)
        )  # fmt: skip
    rows = []
    for row in session.execute(statement).all():
        row = list(row)
        holder_id, holder_name = row[9], row[11]
        row[11] = holder_name if sees_holder(actor, holder_id) else mask_name(holder_name)
        row[6] = as_date(row[6])
        del row[9]
        rows.append(row)
    columns = ["touch_id", "lead_id", "lead_ref", "staff_id", "staff_no", "staff_name",
               "touched_on", "source", "alias", "holder_staff_no", "holder", "dispute_id",
               "dispute_status"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def raise_dispute(
    session: Session, *, actor: Actor, touch_id: int, note: str | None = None
) -> LeadDispute:
    """The staff member who touched a lead says it is theirs (one open dispute a touch)."""
    require_role(actor, Role.staff, Role.dept_head, Role.marketer, Role.admin)
    touch = session.get(LeadTouch, touch_id)
    if touch is None:
        raise CreditError("credit.err.unknown_touch", value=touch_id)
    if actor.staff_id is None or actor.staff_id != touch.staff_id:
        raise PermissionDenied("only the staff member who touched the lead raises a dispute")
    existing = (
        session.exec(select(LeadDispute).where(LeadDispute.touch_id == touch.id)).scalars().first()
    )
    if existing is not None:
        raise CreditError("credit.err.dispute_exists", status=existing.status)
    lead = session.get(Lead, touch.lead_id)
    dispute = LeadDispute(
        touch_id=touch.id,
        raised_by_staff_id=touch.staff_id,
        holder_staff_id=lead.owner_staff_id,
        note=_clean(note),
    )
    session.add(dispute)
    session.flush()
    audit.record(
        session, actor=actor, action="dispute.raise", entity="lead_dispute", entity_id=dispute.id,
        detail={"lead_ref": lead.lead_ref, "touch_id": touch.id, "note": dispute.note},
    )  # fmt: skip
    return dispute


def _clean(note: str | None) -> str | None:
    text = " ".join((note or "").split())
    return text[:500] or None


def rule_dispute(
    session: Session,
    *,
    actor: Actor,
    dispute_id: int,
    ruling: str,
    on: dt.date | None = None,
    note: str | None = None,
) -> LeadDispute:
    """Rule an open dispute (the raiser's department head, a marketer or an admin): `keep`
    (the owner keeps the lead) or `transfer` (the lead passes to the raiser on `on`)."""
    require_role(actor, *RULE_ROLES)
    if ruling not in ("keep", "transfer"):
        raise CreditError("credit.err.ruling")
    dispute = session.get(LeadDispute, dispute_id)
    if dispute is None:
        raise CreditError("credit.err.unknown_dispute", value=dispute_id)
    if dispute.status != "open":
        raise CreditError("credit.err.dispute_ruled", status=dispute.status)
    raiser = session.get(Staff, dispute.raised_by_staff_id)
    require_department(actor, raiser.department_id)
    touch = session.get(LeadTouch, dispute.touch_id)
    on = on or settings_service.hospital_today(session)
    if ruling == "transfer":
        lead = session.get(Lead, touch.lead_id)
        if lead.owner_staff_id != raiser.id:
            system = Actor(user_id=actor.user_id, username=actor.username, role=Role.admin)
            transfer(
                session, actor=system, lead_id=lead.id, to_staff_id=raiser.id, on=on,
                reason=_clean(note) or f"dispute {dispute.id}",
            )  # fmt: skip
        dispute.status = "transferred"
        dispute.transfer_on = on
    else:
        dispute.status = "kept"
    dispute.ruled_by_user_id = actor.user_id
    dispute.ruled_on = on
    dispute.ruling_note = _clean(note)
    session.add(dispute)
    session.flush()
    audit.record(
        session, actor=actor, action="dispute.rule", entity="lead_dispute", entity_id=dispute.id,
        detail={"ruling": ruling, "status": dispute.status, "on": on, "note": dispute.ruling_note,
                "touch_id": touch.id},
    )  # fmt: skip
    return dispute


def disputes(session: Session, *, actor: Actor, status: str | None = None) -> pd.DataFrame:
    """Disputes both sides see: a staff login those they raised or about their leads; a head
    their department's (raiser or holder when raised); admins, marketers and executives all. Columns
    dispute_id, status, lead_id, lead_ref, raised_by_staff_no, raised_by, holder_staff_no,
    holder (masked as the role requires), touched_on, note, ruled_by, ruled_on, transfer_on,
    ruling_note."""
    import pandas as pd

    require_role(actor, Role.admin, Role.marketer, Role.executive, Role.dept_head, Role.staff)
    raiser = Staff.__table__.alias("raiser")
    holder = Staff.__table__.alias("holder")
    statement = (
        select(
            LeadDispute.id, LeadDispute.status, Lead.id, Lead.lead_ref, raiser.c.staff_no,
            raiser.c.name, holder.c.id, holder.c.staff_no, holder.c.name, LeadTouch.touched_on,
            LeadDispute.note, AppUser.username, LeadDispute.ruled_on, LeadDispute.transfer_on,
            LeadDispute.ruling_note,
        )
        .join(LeadTouch, LeadTouch.id == LeadDispute.touch_id)
        .join(Lead, Lead.id == LeadTouch.lead_id)
        .join(raiser, raiser.c.id == LeadDispute.raised_by_staff_id)
        .join(holder, holder.c.id == LeadDispute.holder_staff_id)
        .outerjoin(AppUser, AppUser.id == LeadDispute.ruled_by_user_id)
        .order_by(LeadDispute.id.desc())
    )  # fmt: skip
    if status is not None:
        statement = statement.where(LeadDispute.status == status)
    if actor.role == Role.staff:
        statement = statement.where(
            or_(LeadDispute.raised_by_staff_id == actor.staff_id,
                LeadDispute.holder_staff_id == actor.staff_id)
        )  # fmt: skip
    elif actor.role == Role.dept_head:
        statement = statement.where(
            or_(raiser.c.department_id == actor.department_id,
                holder.c.department_id == actor.department_id)
        )  # fmt: skip
    rows = []
    for row in session.execute(statement).all():
        row = list(row)
        holder_id = row.pop(6)
        row[7] = row[7] if sees_holder(actor, holder_id) else mask_name(row[7])
        rows.append(row)
    columns = ["dispute_id", "status", "lead_id", "lead_ref", "raised_by_staff_no", "raised_by",
               "holder_staff_no", "holder", "touched_on", "note", "ruled_by", "ruled_on",
               "transfer_on", "ruling_note"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)
