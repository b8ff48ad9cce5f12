"""Ownership over time (SPEC §8): the periods every change of owner writes, transfers
(by hand and the `transfers` import kind)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlmodel import Session

from core import audit
from core.db import CHUNK, as_date, chunks, execute_many, fetch_rows
from core.lead_refs import alias_targets
from core.models import (
    Lead,
    OwnershipPeriod,
    Staff,
    utcnow,
)
from core.permissions import Actor, require_department, require_role
from core.services.ownership.base import (
    HOWS,
    TRANSFER_ROLES,
    ClaimLost,
    CreditError,
    get_lead,
    get_staff,
    mask_name,
    sees_holder,
)

# --- Ownership periods ---------------------------------------------------------------------


def open_initial_periods(session: Session, *, after_id: int = 0, fresh: bool = False) -> int:
    """A current `created` period for every lead with id > after_id that has none yet (one
    INSERT … SELECT): used after bulk lead inserts (importer, demo). `fresh`: the leads with
    id > after_id were just inserted in this transaction, so none has a period to look for."""
    period = OwnershipPeriod.__table__
    lead = Lead.__table__
    has_period = select(period.c.id).where(period.c.lead_id == lead.c.id).exists()
    source = select(
        lead.c.id,
        lead.c.owner_staff_id,
        lead.c.created_on,
        bindparam("how", "created"),
        bindparam("now", utcnow(), type_=period.c.created_at.type),
    ).where(lead.c.id > after_id, *([] if fresh else [~has_period]))
    result = session.execute(
        insert(period).from_select(["lead_id", "staff_id", "from_on", "how", "created_at"], source)
    )
    return result.rowcount or 0


def current_periods(
    session: Session, lead_ids: Sequence[int]
) -> dict[int, tuple[int, int, dt.date]]:
    """{lead_id: (period id, staff_id, from_on)} of the current periods."""
    table = OwnershipPeriod.__table__
    query = select(table.c.lead_id, table.c.id, table.c.staff_id, table.c.from_on).where(
        table.c.to_on.is_(None), table.c.lead_id.in_(bindparam("chunk", expanding=True))
    )
    found: dict[int, tuple[int, int, dt.date]] = {}
    for chunk in chunks(sorted(set(lead_ids)), CHUNK):
        for lead_id, period_id, staff_id, from_on in fetch_rows(
            session, query.params(chunk=list(chunk))
        ):
            found[lead_id] = (period_id, staff_id, as_date(from_on))
    return found


def current_start(session: Session, lead: Lead) -> dt.date:
    """The day the lead's current ownership began (its created_on without a period)."""
    period = current_periods(session, [lead.id]).get(lead.id)
    return period[2] if period else lead.created_on


def record_owner_change(
    session: Session,
    *,
    actor: Actor,
    changes: Sequence[tuple[int, int, int | None]],
    on: dt.date,
    how: str,
    reason: str | None = None,
) -> None:
    """Close each lead's current period and open the next on `on` (or on the current
    period's start, when `on` precedes it). `changes` are (lead_id, from_staff_id,
    to_staff_id); to_staff_id None closes without a successor (a merged lead). A lead
    without a period (made before this history existed) first gets its `created` one.

    Only the history is written here: callers change `Lead.owner_staff_id` and audit.
    """
    if how not in HOWS:
        raise ValueError(f"how must be one of {', '.join(HOWS)}")
    if not changes:
        return
    session.flush()
    lead_ids = [lead_id for lead_id, _, _ in changes]
    current = current_periods(session, lead_ids)
    missing = [change for change in changes if change[0] not in current]
    if missing:
        created = dict(
            session.execute(
                select(Lead.id, Lead.created_on).where(Lead.id.in_([m[0] for m in missing]))
            ).all()
        )
        now = utcnow()
        for lead_id, from_staff, _ in missing:
            row = OwnershipPeriod(
                lead_id=lead_id,
                staff_id=from_staff,
                from_on=as_date(created[lead_id]),
                how="created",
                created_at=now,
            )
            session.add(row)
        session.flush()
        current = current_periods(session, lead_ids)
    closes: dict[str, list] = {"pid": [], "to_on": []}
    opens: dict[str, list] = {"lead_id": [], "staff_id": [], "from_on": []}
    for lead_id, _, to_staff in changes:
        period_id, _, from_on = current[lead_id]
        day = max(on, from_on)
        closes["pid"].append(period_id)
        closes["to_on"].append(day)
        if to_staff is not None:
            opens["lead_id"].append(lead_id)
            opens["staff_id"].append(to_staff)
            opens["from_on"].append(day)
    table = OwnershipPeriod.__table__
    execute_many(
        session,
        update(table).where(table.c.id == bindparam("pid")).values(to_on=bindparam("to_on")),
        closes,
    )
    if opens["lead_id"]:
        execute_many(
            session,
            insert(table),
            opens,
            {
                "to_on": None,
                "how": how,
                "reason": reason,
                "created_at": utcnow(),
                "created_by_user_id": actor.user_id,
            },
        )


def owner_history(session: Session, lead_id: int) -> list[dict[str, Any]]:
    """The lead's ownership periods, oldest first: staff_no, name, from, to, how, reason."""
    rows = session.execute(
        select(
            OwnershipPeriod.staff_id,
            Staff.staff_no,
            Staff.name,
            OwnershipPeriod.from_on,
            OwnershipPeriod.to_on,
            OwnershipPeriod.how,
            OwnershipPeriod.reason,
        )
        .join(Staff, Staff.id == OwnershipPeriod.staff_id)
        .where(OwnershipPeriod.lead_id == lead_id)
        .order_by(OwnershipPeriod.from_on, OwnershipPeriod.id)
    ).all()
    return [
        {
            "staff_id": staff_id,
            "staff_no": staff_no,
            "name": name,
            "from": as_date(from_on),
            "to": as_date(to_on),
            "how": how,
            "reason": reason,
        }
        for staff_id, staff_no, name, from_on, to_on, how, reason in rows
    ]


def owner_on(session: Session, lead: Lead, day: dt.date) -> int | None:
    """The owner at the end of `day`: the last period with from ≤ day (SPEC §8); before
    the first period, the first owner; a merged lead's closed history, nobody."""
    history = owner_history(session, lead.id)
    if not history:
        return lead.owner_staff_id
    chosen = None
    for period in history:
        if period["from"] <= day:
            chosen = period
    if chosen is None:
        return history[0]["staff_id"]
    if chosen["to"] is not None and chosen["to"] <= day and chosen is history[-1]:
        return None  # the history ended (merged)
    return chosen["staff_id"]


# --- Changing the owner ---------------------------------------------------------------------


def audit_owner_change(
    session: Session,
    actor: Actor,
    lead: Lead,
    *,
    action: str,
    from_staff: Staff | None,
    to_staff: Staff | None,
    on: dt.date,
    reason: str | None,
    **extra: Any,
) -> None:
    detail = {
        "lead_ref": lead.lead_ref,
        "from_owner_id": from_staff.id if from_staff else None,
        "from_owner": from_staff.name if from_staff else None,
        "from_staff_no": from_staff.staff_no if from_staff else None,
        "to_owner_id": to_staff.id if to_staff else None,
        "to_owner": to_staff.name if to_staff else None,
        "to_staff_no": to_staff.staff_no if to_staff else None,
        "on": on,
        "reason": reason,
        **extra,
    }
    audit.record(
        session, actor=actor, action=action, entity="lead", entity_id=lead.id, detail=detail
    )


def set_owner(
    session: Session, actor: Actor, lead: Lead, to_staff_id: int, *, expected_version: int
) -> None:
    """Change the owner unless someone changed the lead since it was read (a conditional
    UPDATE: of two concurrent writers exactly one matches)."""
    result = session.execute(
        update(Lead)
        .where(Lead.id == lead.id, Lead.version == expected_version)
        .values(
            owner_staff_id=to_staff_id,
            version=Lead.version + 1,
            updated_at=utcnow(),
            updated_by_user_id=actor.user_id,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.expire(lead)
        holder = session.get(Staff, session.get(Lead, lead.id).owner_staff_id)
        raise ClaimLost(
            "credit.err.claimed_meanwhile",
            lead_ref=lead.lead_ref,
            holder=holder.name if sees_holder(actor, holder.id) else mask_name(holder.name),
        )
    session.expire(lead)


def transfer(
    session: Session,
    *,
    actor: Actor,
    lead_id: int,
    to_staff_id: int,
    on: dt.date,
    reason: str | None = None,
    how: str = "transfer",
) -> Lead:
    """Give a lead to another staff member from `on` (admin, marketer; a head inside their
    department): not to its current owner, not before its creation or current ownership."""
    require_role(actor, *TRANSFER_ROLES)
    lead = get_lead(session, lead_id)
    holder = session.get(Staff, lead.owner_staff_id)
    person = get_staff(session, to_staff_id)
    require_department(actor, holder.department_id)
    require_department(actor, person.department_id)
    if person.id == holder.id:
        raise CreditError("credit.err.same_owner", staff_no=person.staff_no)
    if on < lead.created_on:
        raise CreditError(
            "credit.err.before_created", day=on.isoformat(), created=lead.created_on.isoformat()
        )
    start = current_start(session, lead)
    if on < start:
        raise CreditError(
            "credit.err.before_ownership", day=on.isoformat(), start=start.isoformat()
        )
    set_owner(session, actor, lead, person.id, expected_version=lead.version)
    record_owner_change(
        session, actor=actor, changes=[(lead.id, holder.id, person.id)], on=on, how=how,
        reason=reason,
    )  # fmt: skip
    audit_owner_change(
        session, actor, lead, action="lead.transfer", from_staff=holder, to_staff=person, on=on,
        reason=reason, how=how,
    )  # fmt: skip
    session.flush()
    return session.get(Lead, lead.id)


# --- Transfers import ---------------------------------------------------------------------


def current_starts(session: Session, lead_ids: Sequence[int]) -> dict[int, dt.date]:
    return {lead_id: start for lead_id, (_, _, start) in current_periods(session, lead_ids).items()}


# --- The importer's `transfers` kind --------------------------------------------------------


@dataclass(frozen=True)
class TransferRow:
    index: int
    lead_id: int
    to_staff_id: int
    on: dt.date
    reason: str | None


def alias_rows(session: Session, refs: Iterable[str]) -> dict[str, tuple]:
    """{alias: (alias, lead id, created_on, owner_staff_id)} of the surviving leads that
    these aliases name: the importer's reference lookup (SPEC §8: later imports that name an
    alias reach the surviving lead)."""
    targets = alias_targets(session, refs)
    if not targets:
        return {}
    rows = {
        lead_id: (created_on, owner)
        for lead_id, created_on, owner in session.execute(
            select(Lead.id, Lead.created_on, Lead.owner_staff_id).where(
                Lead.id.in_(sorted(set(targets.values())))
            )
        ).all()
    }
    return {
        ref: (ref, lead_id, as_date(rows[lead_id][0]), rows[lead_id][1])
        for ref, lead_id in targets.items()
    }


def plan_transfers(
    session: Session,
    *,
    leads: list[tuple],
    to_staff: list[tuple],
    days: list[dt.date],
    reasons: list[str | None],
    numbers: list[int],
    error: Any,
) -> list[TransferRow]:
    """Check a `transfers` file (SPEC §8), in order of transferred_on then file row, each
    row against the lead's owner and ownership start as the rows before it leave them: a
    transfer to the current owner, one dated before the lead's creation or its current
    ownership's start, or to someone who has left is a row error."""
    lead_ids = sorted({lead[1] for lead in leads})
    starts = current_starts(session, lead_ids)
    active = dict(session.execute(select(Staff.id, Staff.active)).all())
    state = {lead[1]: (lead[3], starts.get(lead[1], lead[2])) for lead in leads}
    rows: list[TransferRow] = []
    for i in sorted(range(len(leads)), key=lambda i: (days[i], numbers[i])):
        lead, person, day = leads[i], to_staff[i], days[i]
        owner, start = state[lead[1]]
        if not active.get(person[1], False):
            error(i, "to_staff_no", "credit.err.inactive_staff", staff_no=person[0])
        elif person[1] == owner:
            error(i, "to_staff_no", "credit.transfer.same_owner", staff_no=person[0],
                  lead_ref=lead[0])  # fmt: skip
        elif day < lead[2]:
            error(i, "transferred_on", "credit.err.before_created", day=day.isoformat(),
                  created=lead[2].isoformat())  # fmt: skip
        elif day < start:
            error(i, "transferred_on", "credit.err.before_ownership", day=day.isoformat(),
                  start=start.isoformat())  # fmt: skip
        else:
            state[lead[1]] = (person[1], day)
            rows.append(TransferRow(i, lead[1], person[1], day, reasons[i]))
    return rows


def apply_transfers(session: Session, *, actor: Actor, rows: list[TransferRow]) -> int:
    """Carry out a checked `transfers` file in order (one change of owner a row), audited."""
    staff = {s.id: s for s in session.exec(select(Staff)).scalars()}
    for row in rows:
        lead = session.get(Lead, row.lead_id)
        holder = staff[lead.owner_staff_id]
        set_owner(session, actor, lead, row.to_staff_id, expected_version=lead.version)
        record_owner_change(
            session, actor=actor, changes=[(lead.id, holder.id, row.to_staff_id)], on=row.on,
            how="transfer", reason=row.reason,
        )  # fmt: skip
        audit_owner_change(
            session, actor, lead, action="lead.transfer", from_staff=holder,
            to_staff=staff[row.to_staff_id], on=row.on, reason=row.reason, via="import",
        )  # fmt: skip
    session.flush()
    return len(rows)
