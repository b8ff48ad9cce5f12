"""Protection, the pool and claims (SPEC §8), and one lead's credit record (CLI `lead`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, func, select
from sqlmodel import Session

from core.db import as_date
from core.domain import Role
from core.lead_refs import resolve_lead
from core.models import (
    Followup,
    Interaction,
    Lead,
    LeadTouch,
    OwnershipPeriod,
    Staff,
)
from core.permissions import Actor, PermissionDenied, require_department, require_role
from core.services import settings as settings_service
from core.services.ownership.base import (
    CLAIM_ROLES,
    POOL_ROLES,
    ClaimLost,
    CreditError,
    get_lead,
    get_staff,
    mask_name,
    protection_days,
    sees_holder,
)
from core.services.ownership.history import (
    audit_owner_change,
    owner_history,
    owner_on,
    record_owner_change,
    set_owner,
)

if TYPE_CHECKING:
    import pandas as pd

# --- Protection ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Protection:
    lead_id: int
    owner_staff_id: int | None
    on: dt.date
    last_touch: dt.date
    protected_until: dt.date
    protected: bool


def _followup_dates(session: Session, lead_id: int, on: dt.date) -> list[dt.date]:
    """Follow-ups renew protection (SPEC §8 and §9): the lead's latest follow-up date on or
    before `on` (none without one); `_latest_followup` is the same for the lists."""
    latest = session.execute(_latest_followup(on).where(Followup.lead_id == lead_id)).scalar()
    return [] if latest is None else [as_date(latest)]


def _latest_followup(on: dt.date):
    """The latest follow-up date on or before `on` (correlate it with a lead)."""
    return select(func.max(Followup.occurred_on)).where(Followup.occurred_on <= on)


def _start_on(history: list[dict[str, Any]], lead: Lead, on: dt.date) -> dt.date:
    start = history[0]["from"] if history else lead.created_on
    for period in history:
        if period["from"] <= on:
            start = period["from"]
    return start


def protection(session: Session, lead_id: int, on: dt.date) -> Protection:
    """SPEC §8: `last_touch` = the latest of the day the ownership in force on `on` began and
    the lead's interactions and follow-ups on or before `on` (touches do not renew it);
    protected while on − last_touch ≤ protection_days; protected_until = last_touch + days."""
    lead = get_lead(session, lead_id)
    history = owner_history(session, lead.id)
    start = _start_on(history, lead, on)
    latest = session.exec(
        select(func.max(Interaction.occurred_on)).where(
            Interaction.lead_id == lead.id, Interaction.occurred_on <= on
        )
    ).one()[0]
    candidates = [start, *_followup_dates(session, lead.id, on)]
    if latest is not None:
        candidates.append(as_date(latest))
    last_touch = max(candidates)
    days = protection_days(session)
    until = last_touch + dt.timedelta(days=days)
    return Protection(
        lead_id=lead.id,
        owner_staff_id=owner_on(session, lead, on),
        on=on,
        last_touch=last_touch,
        protected_until=until,
        protected=(on - last_touch).days <= days,
    )


def _last_touch_expression(on: dt.date):
    """(last_touch column, period outer join target) for list queries over Lead: the
    current period's start (created_on without one) and the latest interaction ≤ on."""
    period = OwnershipPeriod.__table__.alias("current_period")
    start = func.coalesce(period.c.from_on, Lead.created_on)
    latest = (
        select(func.max(Interaction.occurred_on))
        .where(Interaction.lead_id == Lead.id, Interaction.occurred_on <= on)
        .correlate(Lead)
        .scalar_subquery()
    )
    interaction = func.coalesce(latest, start)
    followup = func.coalesce(
        _latest_followup(on).where(Followup.lead_id == Lead.id).correlate(Lead).scalar_subquery(),
        start,
    )
    interaction = case((followup > interaction, followup), else_=interaction)
    last_touch = case((interaction > start, interaction), else_=start)
    join = (period, and_(period.c.lead_id == Lead.id, period.c.to_on.is_(None)))
    return last_touch, join


def _lead_list(session: Session, conditions: list, on: dt.date, actor: Actor) -> pd.DataFrame:
    import pandas as pd

    last_touch, (period, on_clause) = _last_touch_expression(on)
    inner = (
        select(
            Lead.id.label("lead_id"),
            Lead.lead_ref,
            Lead.name,
            Lead.stage,
            Lead.owner_staff_id,
            last_touch.label("last_touch"),
        )
        .select_from(Lead)
        .outerjoin(period, on_clause)
        .where(Lead.active == True)  # noqa: E712
        .subquery("touched")
    )
    columns = ["lead_id", "lead_ref", "name", "stage", "owner_staff_id", "owner_staff_no",
               "owner_name", "last_touch", "protected_until"]  # fmt: skip
    statement = (
        select(
            inner.c.lead_id,
            inner.c.lead_ref,
            inner.c.name,
            inner.c.stage,
            inner.c.owner_staff_id,
            Staff.staff_no,
            Staff.name.label("owner_name"),
            inner.c.last_touch,
        )
        .join(Staff, Staff.id == inner.c.owner_staff_id)
        .where(*[condition(inner) for condition in conditions])
        .order_by(inner.c.last_touch, inner.c.lead_ref)
    )
    rows = session.execute(statement).all()
    days = protection_days(session)
    out = []
    for row in rows:
        last = as_date(row[7])
        out.append([*row[:5], row[5], row[6], last, last + dt.timedelta(days=days)])
    frame = pd.DataFrame(out, columns=columns)
    return frame.rename(columns={"owner_name": "owner"})


def lapsing_soon(
    session: Session, *, actor: Actor, within_days: int = 7, on: dt.date | None = None
) -> pd.DataFrame:
    """Protected leads whose protection ends within `within_days` of `on` (default today):
    a staff member's own, a head's department (others: everything). Columns lead_id,
    lead_ref, name, stage, owner_staff_id, owner_staff_no, owner, last_touch,
    protected_until; soonest first."""
    require_role(actor, Role.admin, Role.marketer, Role.executive, Role.dept_head, Role.staff)
    on = on or settings_service.hospital_today(session)
    days = protection_days(session)
    low = on - dt.timedelta(days=days)  # protected: last_touch ≥ on − days
    high = on + dt.timedelta(days=within_days) - dt.timedelta(days=days)
    conditions = [lambda q: q.c.last_touch >= low, lambda q: q.c.last_touch <= high]
    if actor.role == Role.staff:
        if actor.staff_id is None:
            raise PermissionDenied("no staff member is linked to this login")
        conditions.append(lambda q: q.c.owner_staff_id == actor.staff_id)
    elif actor.role == Role.dept_head:
        department = actor.department_id
        conditions.append(lambda q: Staff.department_id == department)
    return _lead_list(session, conditions, on, actor)


def pool(session: Session, *, actor: Actor, on: dt.date | None = None) -> pd.DataFrame:
    """Active leads whose protection lapsed on `on` (marketers, admins): same columns as
    `lapsing_soon`, longest lapsed first."""
    require_role(actor, *POOL_ROLES)
    on = on or settings_service.hospital_today(session)
    cutoff = on - dt.timedelta(days=protection_days(session))
    return _lead_list(session, [lambda q: q.c.last_touch < cutoff], on, actor)


def before_owner_update() -> None:
    """A seam for tests (the claim race): called between the checks and the update."""


def claim(
    session: Session,
    *,
    actor: Actor,
    lead_id: int,
    on: dt.date | None = None,
    to_staff_id: int | None = None,
) -> Lead:
    """Take a lead whose protection lapsed (the pool) for `to_staff_id` (default: the
    actor's own staff member; a staff login only for themself, a head within their
    department). At most `daily_claim_limit` claims per person a day. Of two people
    claiming one lead at once, one wins; the other gets ClaimLost naming the winner."""
    require_role(actor, *CLAIM_ROLES)
    on = on or settings_service.hospital_today(session)
    to_staff_id = to_staff_id if to_staff_id is not None else actor.staff_id
    if to_staff_id is None:
        raise CreditError("credit.err.no_staff")
    if actor.role == Role.staff and to_staff_id != actor.staff_id:
        raise PermissionDenied("a staff member claims only for themself")
    person = get_staff(session, to_staff_id)
    if not person.active:
        raise CreditError("credit.err.inactive_staff", staff_no=person.staff_no)
    require_department(actor, person.department_id)
    lead = get_lead(session, lead_id)
    version = lead.version
    if not lead.active:
        raise CreditError("credit.err.inactive_lead", lead_ref=lead.lead_ref)
    holder = session.get(Staff, lead.owner_staff_id)
    if holder.id == person.id:
        raise CreditError("credit.err.already_yours", lead_ref=lead.lead_ref)
    state = protection(session, lead.id, on)
    if state.protected:
        name = holder.name if sees_holder(actor, holder.id) else mask_name(holder.name)
        raise ClaimLost(
            "credit.err.protected",
            lead_ref=lead.lead_ref,
            holder=name,
            until=state.protected_until.isoformat(),
        )
    limit = int(settings_service.get_value(session, "daily_claim_limit"))
    claimed_today = session.exec(
        select(func.count(OwnershipPeriod.id)).where(
            OwnershipPeriod.staff_id == person.id,
            OwnershipPeriod.how == "claim",
            OwnershipPeriod.from_on == on,
        )
    ).one()[0]
    if claimed_today >= limit:
        raise CreditError("credit.err.claim_limit", limit=limit, day=on.isoformat())
    before_owner_update()
    set_owner(session, actor, lead, person.id, expected_version=version)
    record_owner_change(
        session, actor=actor, changes=[(lead.id, holder.id, person.id)], on=on, how="claim"
    )
    audit_owner_change(
        session, actor, lead, action="lead.claim", from_staff=holder, to_staff=person, on=on,
        reason=None, lapsed_until=state.protected_until,
    )  # fmt: skip
    session.flush()
    return session.get(Lead, lead.id)


# --- One lead's credit (CLI `lead`, the lead dialog) --------------------------------------


def lead_credit(
    session: Session, *, actor: Actor, lead_ref: str, as_of: dt.date | None = None
) -> dict[str, Any]:
    """SPEC §8's `lead` record: lead_ref (the surviving lead's own, also for an alias),
    owner_staff_no (at the end of the as-of day), protected_until (as of that day), owners
    (the whole history: {staff_no, from, to}, oldest first) and touches ({staff_no, on})."""
    from core.metrics import check_lead_visible

    lead = resolve_lead(session, lead_ref)
    if lead is None:
        raise LookupError(f"no lead with lead_ref '{lead_ref}'")
    check_lead_visible(session, actor, lead)
    day = as_of or settings_service.hospital_today(session)
    history = owner_history(session, lead.id)
    owner_id = owner_on(session, lead, day)
    staff_nos = dict(session.execute(select(Staff.id, Staff.staff_no)).all())
    touched = session.execute(
        select(Staff.staff_no, LeadTouch.touched_on)
        .join(Staff, Staff.id == LeadTouch.staff_id)
        .where(LeadTouch.lead_id == lead.id)
        .order_by(LeadTouch.touched_on, LeadTouch.id)
    ).all()
    return {
        "lead_ref": lead.lead_ref,
        "owner_staff_no": staff_nos.get(owner_id) if owner_id is not None else None,
        "protected_until": protection(session, lead.id, day).protected_until.isoformat(),
        "owners": [
            {
                "staff_no": p["staff_no"],
                "from": p["from"].isoformat(),
                "to": p["to"].isoformat() if p["to"] else None,
            }
            for p in history
        ],  # fmt: skip
        "touches": [{"staff_no": no, "on": as_date(on).isoformat()} for no, on in touched],
    }


def protected_until_of(
    session: Session, lead_ids: Sequence[int], on: dt.date | None = None
) -> dict[int, dt.date]:
    """{lead_id: protected_until as of `on`} for the leads a page shows (the board's cards;
    one query): the same last touch as `protection`, without follow-ups (none yet)."""
    ids = sorted({int(lead_id) for lead_id in lead_ids})
    if not ids:
        return {}
    on = on or settings_service.hospital_today(session)
    last_touch, (period, on_clause) = _last_touch_expression(on)
    rows = session.execute(
        select(Lead.id, last_touch)
        .select_from(Lead)
        .outerjoin(period, on_clause)
        .where(Lead.id.in_(ids))
    ).all()
    days = dt.timedelta(days=protection_days(session))
    return {lead_id: as_date(last) + days for lead_id, last in rows}


def claim_allowance(session: Session, *, staff_id: int, on: dt.date | None = None) -> dict:
    """{used, limit, day}: the pool claims `staff_id` made on `on` and the daily limit."""
    on = on or settings_service.hospital_today(session)
    limit = int(settings_service.get_value(session, "daily_claim_limit"))
    used = session.exec(
        select(func.count(OwnershipPeriod.id)).where(
            OwnershipPeriod.staff_id == staff_id,
            OwnershipPeriod.how == "claim",
            OwnershipPeriod.from_on == on,
        )
    ).one()[0]
    return {"used": int(used), "limit": limit, "day": on}
