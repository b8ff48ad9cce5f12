"""Credit you can defend (SPEC §8): one person, one owner, and a history that never changes.

- `register_lead` is the one way a lead is created by hand (the board's "new lead", a staff
  member's own entry); the importer's `leads` kind applies the same rules in bulk
  (`plan_import`). A new lead whose person key (core.person_key) equals an existing active
  lead's is not created: inside that lead's protection it is a *touch*, outside it a *claim*;
  either way its ref becomes an alias of the existing lead (`resolve_lead`).
- Every change of owner goes through `record_owner_change`, which closes the current
  ownership period and opens the next; `core.credit` reads the periods for figures by owner.
- Protection, the pool and claims, transfers, merges, duplicate candidates and disputes.

Services take the acting user first and audit every write; they never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import and_, bindparam, case, func, insert, or_, select, update
from sqlmodel import Session

from core import audit
from core.db import as_date, execute_many, fetch_rows
from core.domain import Role
from core.errors import AppError
from core.i18n import t
from core.models import (
    AppUser,
    Consent,
    Followup,
    Handoff,
    Interaction,
    Lead,
    LeadAlias,
    LeadCreate,
    LeadDispute,
    LeadTouch,
    Member,
    Order,
    OwnershipPeriod,
    Staff,
    utcnow,
)
from core.permissions import Actor, PermissionDenied, require_department, require_role
from core.person_key import MalformedPhone, person_key
from core.services import settings as settings_service

HOWS = ("created", "claim", "transfer", "offboarding", "reassignment", "merge")
SOURCES = ("board", "own_entry", "import")
DISPUTE_STATUSES = ("open", "kept", "transferred")
REGISTER_ROLES = (Role.admin, Role.marketer, Role.dept_head, Role.staff)
POOL_ROLES = (Role.admin, Role.marketer)
CLAIM_ROLES = (Role.admin, Role.marketer, Role.dept_head, Role.staff)
TRANSFER_ROLES = (Role.admin, Role.marketer, Role.dept_head)
MERGE_ROLES = (Role.admin, Role.marketer)
RULE_ROLES = (Role.admin, Role.marketer, Role.dept_head)
FULL_NAME_ROLES = (Role.admin, Role.marketer)
CHUNK = 5_000


class CreditError(AppError):
    """A refusal the user can act on: `key` is its label (core/i18n/credit.py)."""


class ClaimLost(CreditError):
    """Someone else claimed (or holds) the lead: `holder` names them."""


def _chunks(values: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def protection_days(session: Session) -> int:
    return int(settings_service.get_value(session, "protection_days"))


def mask_name(name: str | None) -> str | None:
    """王** : the first character, the rest masked (the lead board's rule for phones)."""
    if not name:
        return name
    return name[0] + "*" * max(1, len(name) - 1)


def _sees_holder(actor: Actor, holder_staff_id: int | None) -> bool:
    """Full names of holders for admins and marketers and the holder themself; everyone
    else reads them masked, as phones are on the lead board."""
    if actor.role in FULL_NAME_ROLES:
        return True
    return actor.staff_id is not None and actor.staff_id == holder_staff_id


def _staff(session: Session, staff_id: int) -> Staff:
    person = session.get(Staff, staff_id)
    if person is None:
        raise CreditError("credit.err.unknown_staff", value=staff_id)
    return person


def _lead(session: Session, lead_id: int) -> Lead:
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise CreditError("credit.err.unknown_lead", value=lead_id)
    return lead


# --- Resolving refs -----------------------------------------------------------------------


def alias_targets(session: Session, refs: Iterable[str]) -> dict[str, int]:
    """{alias_ref: surviving lead id} for the refs that are aliases (one query per chunk)."""
    wanted = sorted({ref for ref in refs if ref and "\x00" not in ref})
    found: dict[str, int] = {}
    table = LeadAlias.__table__
    query = select(table.c.alias_ref, table.c.lead_id).where(
        table.c.alias_ref.in_(bindparam("chunk", expanding=True))
    )
    for chunk in _chunks(wanted):
        found.update(
            (ref, lead_id) for ref, lead_id in fetch_rows(session, query.params(chunk=chunk))
        )
    return found


def resolve_lead(session: Session, ref: str) -> Lead | None:
    """The lead a ref names: the lead's own ref, or an alias (SPEC §8) of a surviving lead."""
    lead = session.exec(select(Lead).where(Lead.lead_ref == ref)).scalars().first()
    if lead is not None and lead.active:
        return lead
    lead_id = alias_targets(session, [ref]).get(ref)  # a merged lead's ref is an alias too
    return lead if lead_id is None else session.get(Lead, lead_id)


def ref_taken(session: Session, ref: str) -> bool:
    if session.exec(select(Lead.id).where(Lead.lead_ref == ref)).first() is not None:
        return True
    return bool(alias_targets(session, [ref]))


# --- Ownership periods ---------------------------------------------------------------------


def open_initial_periods(session: Session, *, after_id: int = 0) -> int:
    """A current `created` period for every lead with id > after_id that has none yet (one
    INSERT … SELECT): used after bulk lead inserts (importer, demo)."""
    period = OwnershipPeriod.__table__
    lead = Lead.__table__
    has_period = select(period.c.id).where(period.c.lead_id == lead.c.id).exists()
    source = select(
        lead.c.id,
        lead.c.owner_staff_id,
        lead.c.created_on,
        bindparam("how", "created"),
        bindparam("now", utcnow(), type_=period.c.created_at.type),
    ).where(lead.c.id > after_id, ~has_period)
    result = session.execute(
        insert(period).from_select(["lead_id", "staff_id", "from_on", "how", "created_at"], source)
    )
    return result.rowcount or 0


def _current_periods(
    session: Session, lead_ids: Sequence[int]
) -> dict[int, tuple[int, int, dt.date]]:
    """{lead_id: (period id, staff_id, from_on)} of the current periods."""
    table = OwnershipPeriod.__table__
    query = select(table.c.lead_id, table.c.id, table.c.staff_id, table.c.from_on).where(
        table.c.to_on.is_(None), table.c.lead_id.in_(bindparam("chunk", expanding=True))
    )
    found: dict[int, tuple[int, int, dt.date]] = {}
    for chunk in _chunks(sorted(set(lead_ids))):
        for lead_id, period_id, staff_id, from_on in fetch_rows(
            session, query.params(chunk=list(chunk))
        ):
            found[lead_id] = (period_id, staff_id, as_date(from_on))
    return found


def current_start(session: Session, lead: Lead) -> dt.date:
    """The day the lead's current ownership began (its created_on without a period)."""
    period = _current_periods(session, [lead.id]).get(lead.id)
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
    current = _current_periods(session, lead_ids)
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
        current = _current_periods(session, lead_ids)
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
    lead = _lead(session, lead_id)
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


# --- Changing the owner ---------------------------------------------------------------------


def _audit_owner_change(
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


def _set_owner(
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
            holder=holder.name if _sees_holder(actor, holder.id) else mask_name(holder.name),
        )
    session.expire(lead)


def _before_owner_update() -> None:
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
    person = _staff(session, to_staff_id)
    if not person.active:
        raise CreditError("credit.err.inactive_staff", staff_no=person.staff_no)
    require_department(actor, person.department_id)
    lead = _lead(session, lead_id)
    version = lead.version
    if not lead.active:
        raise CreditError("credit.err.inactive_lead", lead_ref=lead.lead_ref)
    holder = session.get(Staff, lead.owner_staff_id)
    if holder.id == person.id:
        raise CreditError("credit.err.already_yours", lead_ref=lead.lead_ref)
    state = protection(session, lead.id, on)
    if state.protected:
        name = holder.name if _sees_holder(actor, holder.id) else mask_name(holder.name)
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
    _before_owner_update()
    _set_owner(session, actor, lead, person.id, expected_version=version)
    record_owner_change(
        session, actor=actor, changes=[(lead.id, holder.id, person.id)], on=on, how="claim"
    )
    _audit_owner_change(
        session, actor, lead, action="lead.claim", from_staff=holder, to_staff=person, on=on,
        reason=None, lapsed_until=state.protected_until,
    )  # fmt: skip
    session.flush()
    return session.get(Lead, lead.id)


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
    lead = _lead(session, lead_id)
    holder = session.get(Staff, lead.owner_staff_id)
    person = _staff(session, to_staff_id)
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
    _set_owner(session, actor, lead, person.id, expected_version=lead.version)
    record_owner_change(
        session, actor=actor, changes=[(lead.id, holder.id, person.id)], on=on, how=how,
        reason=reason,
    )  # fmt: skip
    _audit_owner_change(
        session, actor, lead, action="lead.transfer", from_staff=holder, to_staff=person, on=on,
        reason=reason, how=how,
    )  # fmt: skip
    session.flush()
    return session.get(Lead, lead.id)


# --- Registering a lead (collisions) ------------------------------------------------------


@dataclass
class Registration:
    """What `register_lead` did: `outcome` is created, touch, claim or yours (the key is
    already the registrant's own lead). `lead` holds the person now."""

    outcome: str
    lead: Lead
    lead_ref: str
    holder_staff_no: str | None = None
    holder_name: str | None = None  # masked as the actor's role requires
    protected_until: dt.date | None = None
    touch_id: int | None = None

    def message_in(self, lang: str = "en") -> str:
        if self.outcome == "created":
            return t("credit.msg.created", lang, lead_ref=self.lead_ref)
        return t(
            f"credit.msg.{self.outcome}",
            lang,
            lead_ref=self.lead_ref,
            existing=self.lead.lead_ref,
            holder=self.holder_name or "",
            until=self.protected_until.isoformat() if self.protected_until else "",
        )


def _check_registrant(session: Session, actor: Actor, owner_staff_id: int, source: str) -> Staff:
    require_role(actor, *REGISTER_ROLES)
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}")
    if actor.role == Role.staff and owner_staff_id != actor.staff_id:
        raise PermissionDenied("a staff member enters leads for themself")
    person = _staff(session, owner_staff_id)
    if not person.active:
        raise CreditError("credit.err.inactive_staff", staff_no=person.staff_no)
    require_department(actor, person.department_id)
    return person


def _holder_of_key(session: Session, key: str) -> Lead | None:
    statement = (
        select(Lead)
        .where(Lead.person_key == key, Lead.active == True)  # noqa: E712
        .order_by(Lead.created_on, Lead.id)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    return session.exec(statement).scalars().first()


def register_lead(
    session: Session, *, actor: Actor, data: LeadCreate, source: str = "board"
) -> Registration:
    """Create a lead — or, when an active lead has its person key, keep the attempt as a
    touch (inside that lead's protection on data.created_on) or pass that lead to the
    registrant (a claim, outside it). The new ref becomes an alias of the existing lead.
    CreditError for a malformed phone or a ref already in use."""
    registrant = _check_registrant(session, actor, data.owner_staff_id, source)
    try:
        key = person_key(data.phone)
    except MalformedPhone as error:
        raise CreditError(
            f"credit.err.phone_{error.reason}", value=error.phone, digits=error.digits
        ) from None
    if ref_taken(session, data.lead_ref):
        raise CreditError("credit.err.ref_taken", lead_ref=data.lead_ref)
    existing = _holder_of_key(session, key) if key else None
    if existing is None:
        lead = Lead.model_validate(
            {
                **data.model_dump(),
                "phone": data.phone.strip() if data.phone else None,
                "person_key": key,
                "updated_by_user_id": actor.user_id,
            }
        )
        session.add(lead)
        session.flush()
        session.add(
            OwnershipPeriod(
                lead_id=lead.id,
                staff_id=registrant.id,
                from_on=lead.created_on,
                how="created",
                created_by_user_id=actor.user_id,
            )
        )
        audit.record(
            session,
            actor=actor,
            action="lead.create",
            entity="lead",
            entity_id=lead.id,
            detail={"lead_ref": lead.lead_ref, "owner_staff_no": registrant.staff_no,
                    "created_on": lead.created_on, "source": source},
        )  # fmt: skip
        session.flush()
        return Registration("created", lead, lead.lead_ref)
    return _collide(session, actor, existing, registrant, data.created_on, data.lead_ref, source)


def _collide(
    session: Session,
    actor: Actor,
    existing: Lead,
    registrant: Staff,
    on: dt.date,
    ref: str,
    source: str,
) -> Registration:
    holder = session.get(Staff, existing.owner_staff_id)
    state = protection(session, existing.id, on)
    shown = holder.name if _sees_holder(actor, holder.id) else mask_name(holder.name)
    if holder.id == registrant.id:
        outcome, touch_id = "yours", None
    elif state.protected:
        touch = LeadTouch(
            lead_id=existing.id, staff_id=registrant.id, touched_on=on, source=source, lead_ref=ref
        )
        session.add(touch)
        session.flush()
        outcome, touch_id = "touch", touch.id
        audit.record(
            session,
            actor=actor,
            action="lead.touch",
            entity="lead",
            entity_id=existing.id,
            detail={"lead_ref": existing.lead_ref, "alias": ref, "staff_no": registrant.staff_no,
                    "on": on, "holder_staff_no": holder.staff_no,
                    "protected_until": state.protected_until, "source": source},
        )  # fmt: skip
    else:
        _set_owner(session, actor, existing, registrant.id, expected_version=existing.version)
        record_owner_change(
            session, actor=actor, changes=[(existing.id, holder.id, registrant.id)], on=on,
            how="claim",
        )  # fmt: skip
        _audit_owner_change(
            session, actor, existing, action="lead.claim", from_staff=holder,
            to_staff=registrant, on=on, reason=None, alias=ref, source=source,
            lapsed_until=state.protected_until,
        )  # fmt: skip
        outcome, touch_id = "claim", None
    session.add(LeadAlias(alias_ref=ref, lead_id=existing.id, how=outcome))
    session.flush()
    return Registration(
        outcome,
        session.get(Lead, existing.id),
        ref,
        holder_staff_no=holder.staff_no,
        holder_name=shown,
        protected_until=state.protected_until,
        touch_id=touch_id,
    )


# --- The importer's `leads` kind ----------------------------------------------------------


@dataclass
class ImportEvent:
    """A collision found by an import: row (the file's row number), lead_ref (the row's),
    outcome (touch, claim or yours), existing (the surviving lead's ref, or the ref of an
    earlier row of the same file), staff_no (the row's owner), holder_staff_no, on,
    protected_until."""

    row: int
    lead_ref: str
    outcome: str
    existing: str
    staff_no: str
    holder_staff_no: str
    on: dt.date
    protected_until: dt.date

    def describe(self, lang: str = "en") -> str:
        return t(
            f"credit.import.{self.outcome}",
            lang,
            row=self.row,
            lead_ref=self.lead_ref,
            existing=self.existing,
            staff_no=self.staff_no,
            holder=self.holder_staff_no,
            on=self.on.isoformat(),
            until=self.protected_until.isoformat(),
        )


@dataclass
class ImportPlan:
    """The importer's plan for a `leads` file: which rows create leads (`creates`, indexes
    into the file's rows) and the collisions to apply after the insert."""

    keys: list[str | None]
    creates: list[int]
    events: list[ImportEvent] = field(default_factory=list)
    # (row index, existing lead id or None, existing ref, outcome, staff_id, on)
    actions: list[tuple] = field(default_factory=list)


def _fast_key(phone: str | None) -> str | None:
    if not phone:
        return None
    if phone.isdigit() and phone.isascii() and 7 <= len(phone) <= 15:
        if phone.startswith("0086"):
            return phone[4:]
        if len(phone) == 13 and phone.startswith("861"):
            return phone[2:]
        return phone
    return person_key(phone)


def plan_import(
    session: Session,
    *,
    phones: list[str | None],
    refs: list[str],
    owners: list[int],
    owner_nos: list[str],
    created: list[dt.date],
    numbers: list[int],
    error: Any,
) -> ImportPlan | None:
    """Person keys of a checked `leads` file and its collisions, in the order of created_on
    then file row. `error(i, column, key, **values)` records a bad row (a malformed phone);
    None is returned when any row was bad."""
    keys: list[str | None] = [None] * len(phones)
    bad = False
    cache: dict[str, str | None] = {}
    for i, phone in enumerate(phones):
        if not phone:
            continue
        key = cache.get(phone, False)
        if key is False:
            try:
                key = _fast_key(phone)
            except MalformedPhone as failure:
                error(
                    i,
                    "phone",
                    f"credit.err.phone_{failure.reason}",
                    value=failure.phone,
                    digits=failure.digits,
                )
                bad = True
                continue
            cache[phone] = key
        keys[i] = key
    if bad:
        return None
    rows_of: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        if key is not None:
            rows_of.setdefault(key, []).append(i)
    existing = _existing_holders(session, list(rows_of))
    colliding = {key for key, rows in rows_of.items() if len(rows) > 1 or key in existing}
    plan = ImportPlan(keys=keys, creates=[])
    creating = set(range(len(phones)))
    if not colliding:
        plan.creates = list(range(len(phones)))
        return plan
    days = protection_days(session)
    interactions = _interaction_dates(
        session, [existing[k]["id"] for k in colliding if k in existing]
    )
    staff_nos = dict(session.execute(select(Staff.id, Staff.staff_no)).all())
    for key in sorted(colliding):
        order = sorted(rows_of[key], key=lambda i: (created[i], numbers[i]))
        holder = existing.get(key)
        if holder is not None:
            state = {
                "lead_id": holder["id"], "ref": holder["ref"], "owner": holder["owner"],
                "start": holder["start"], "history": holder["history"],
                "dates": interactions.get(holder["id"], []),
            }  # fmt: skip
            queue = order
        else:
            first = order[0]
            state = {
                "lead_id": None, "ref": refs[first], "owner": owners[first],
                "start": created[first], "history": [(created[first], owners[first])],
                "dates": [],
            }  # fmt: skip
            queue = order[1:]
        for i in queue:
            on = created[i]
            start = state["history"][0][0]
            for began, _ in state["history"]:
                if began <= on:
                    start = began
            last = max([start, *[d for d in state["dates"] if d <= on]])
            until = last + dt.timedelta(days=days)
            if owners[i] == state["owner"]:
                outcome = "yours"
            elif (on - last).days <= days:
                outcome = "touch"
            else:
                outcome = "claim"
            plan.events.append(
                ImportEvent(
                    row=numbers[i], lead_ref=refs[i], outcome=outcome, existing=state["ref"],
                    staff_no=owner_nos[i], holder_staff_no=staff_nos.get(state["owner"], ""),
                    on=on, protected_until=until,
                )
            )  # fmt: skip
            plan.actions.append((i, state["lead_id"], state["ref"], outcome, owners[i], on))
            creating.discard(i)
            if outcome == "claim":
                state["owner"] = owners[i]
                state["history"].append((on, owners[i]))
    plan.creates = sorted(creating)
    plan.events.sort(key=lambda e: e.row)
    return plan


def _existing_holders(session: Session, keys: list[str]) -> dict[str, dict[str, Any]]:
    """{key: holder} of the active leads with these keys (the oldest per key)."""
    if not keys:
        return {}
    table = Lead.__table__
    query = (
        select(
            table.c.person_key,
            table.c.id,
            table.c.lead_ref,
            table.c.owner_staff_id,
            table.c.created_on,
        )
        .where(table.c.active == True, table.c.person_key.in_(bindparam("chunk", expanding=True)))  # noqa: E712
        .order_by(table.c.created_on, table.c.id)
    )
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(sorted(keys)):
        for key, lead_id, ref, owner, created_on in fetch_rows(
            session, query.params(chunk=list(chunk))
        ):
            if key not in found:
                found[key] = {"id": lead_id, "ref": ref, "owner": owner,
                              "created_on": as_date(created_on)}  # fmt: skip
    if found:
        periods: dict[int, list] = {}
        table = OwnershipPeriod.__table__
        query = (
            select(table.c.lead_id, table.c.from_on, table.c.staff_id)
            .where(table.c.lead_id.in_(bindparam("chunk", expanding=True)))
            .order_by(table.c.from_on, table.c.id)
        )
        ids = sorted(holder["id"] for holder in found.values())
        for chunk in _chunks(ids):
            for lead_id, from_on, staff_id in fetch_rows(session, query.params(chunk=list(chunk))):
                periods.setdefault(lead_id, []).append((as_date(from_on), staff_id))
        for holder in found.values():
            history = periods.get(holder["id"]) or [(holder["created_on"], holder["owner"])]
            holder["history"] = history
            holder["start"] = history[-1][0]
    return found


def _interaction_dates(session: Session, lead_ids: list[int]) -> dict[int, list[dt.date]]:
    found: dict[int, list[dt.date]] = {}
    query = select(Interaction.lead_id, Interaction.occurred_on).where(
        Interaction.lead_id.in_(bindparam("chunk", expanding=True))
    )
    for chunk in _chunks(sorted(set(lead_ids))):
        for lead_id, day in fetch_rows(session, query.params(chunk=list(chunk))):
            found.setdefault(lead_id, []).append(as_date(day))
    return found


def apply_import(
    session: Session, *, actor: Actor, plan: ImportPlan, refs: list[str], first_new_id: int
) -> None:
    """After the importer inserted `plan.creates`: open their ownership periods and apply
    the touches, claims and aliases in order (created_on, then file row)."""
    open_initial_periods(session, after_id=first_new_id)
    if not plan.actions:
        return
    session.flush()
    wanted = {ref for _, lead_id, ref, *_ in plan.actions if lead_id is None}
    ids = dict(
        session.execute(select(Lead.lead_ref, Lead.id).where(Lead.lead_ref.in_(sorted(wanted)))).all()
    ) if wanted else {}  # fmt: skip
    ordered = sorted(plan.actions, key=lambda a: (a[5], a[0]))  # created_on, then file row
    staff = {s.id: s for s in session.exec(select(Staff)).scalars()}
    for i, lead_id, existing_ref, outcome, staff_id, on in ordered:
        lead = session.get(Lead, lead_id if lead_id is not None else ids[existing_ref])
        registrant = staff[staff_id]
        if outcome == "touch":
            holder = staff[lead.owner_staff_id]
            session.add(
                LeadTouch(lead_id=lead.id, staff_id=staff_id, touched_on=on, source="import",
                          lead_ref=refs[i])
            )  # fmt: skip
            audit.record(
                session, actor=actor, action="lead.touch", entity="lead", entity_id=lead.id,
                detail={"lead_ref": lead.lead_ref, "alias": refs[i],
                        "staff_no": registrant.staff_no, "on": on,
                        "holder_staff_no": holder.staff_no, "source": "import"},
            )  # fmt: skip
        elif outcome == "claim":
            holder = staff[lead.owner_staff_id]
            _set_owner(session, actor, lead, staff_id, expected_version=lead.version)
            record_owner_change(
                session, actor=actor, changes=[(lead.id, holder.id, staff_id)], on=on, how="claim"
            )
            _audit_owner_change(
                session, actor, lead, action="lead.claim", from_staff=holder, to_staff=registrant,
                on=on, reason=None, alias=refs[i], source="import",
            )  # fmt: skip
        session.add(LeadAlias(alias_ref=refs[i], lead_id=lead.id, how=outcome))
        session.flush()


# --- Transfers import ---------------------------------------------------------------------


def current_starts(session: Session, lead_ids: Sequence[int]) -> dict[int, dt.date]:
    return {
        lead_id: start for lead_id, (_, _, start) in _current_periods(session, lead_ids).items()
    }


# --- Merge ----------------------------------------------------------------------------------

MERGE_FIELDS = (
    "lead_ref", "name", "phone", "person_key", "owner_staff_id", "created_on", "source_channel",
    "campaign_id", "tags", "stage", "age_band", "gender", "district", "condition",
    "department_of_interest", "points_total", "last_interaction_on",
)  # fmt: skip


def _merge_pair(session: Session, keep_id: int, merge_id: int) -> tuple[Lead, Lead]:
    if keep_id == merge_id:
        raise CreditError("credit.err.merge_self")
    first, second = _lead(session, keep_id), _lead(session, merge_id)
    for lead in (first, second):
        if not lead.active:
            raise CreditError("credit.err.inactive_lead", lead_ref=lead.lead_ref)
    # The older lead survives (SPEC §8), whichever way round they were given.
    if (second.created_on, second.id) < (first.created_on, first.id):
        first, second = second, first
    return first, second


def _counts(session: Session, lead_id: int) -> dict[str, int]:
    def count(model, *conditions) -> int:
        return session.exec(select(func.count()).select_from(model).where(*conditions)).one()[0]

    return {
        "interactions": count(Interaction, Interaction.lead_id == lead_id),
        "orders": count(Order, Order.lead_id == lead_id),
        "handoffs": count(Handoff, Handoff.lead_id == lead_id),
        "consent": count(Consent, Consent.subject_type == "lead", Consent.subject_id == lead_id),
        "touches": count(LeadTouch, LeadTouch.lead_id == lead_id),
        "members": count(Member, Member.lead_id == lead_id),
        "aliases": count(LeadAlias, LeadAlias.lead_id == lead_id),
    }


def merge_preview(session: Session, *, actor: Actor, keep_id: int, merge_id: int) -> dict[str, Any]:
    """What `merge_leads` would do, changing nothing: `keep` and `merge` (the survivor is
    the older lead), `fields` (a DataFrame: field, keep, merge, same) and `moves` (how many
    interactions, orders, hand-offs, consent records, touches, members and aliases move)."""
    require_role(actor, *MERGE_ROLES)
    keep, merge = _merge_pair(session, keep_id, merge_id)
    rows = []
    for name in MERGE_FIELDS:
        a, b = getattr(keep, name), getattr(merge, name)
        rows.append({"field": name, "keep": a, "merge": b, "same": a == b})
    names = dict(session.execute(select(Staff.id, Staff.name).where(Staff.id.in_([keep.owner_staff_id, merge.owner_staff_id]))).all())  # fmt: skip
    frame = pd.DataFrame(rows, columns=["field", "keep", "merge", "same"])
    return {
        "keep": keep,
        "merge": merge,
        "keep_owner": names.get(keep.owner_staff_id),
        "merge_owner": names.get(merge.owner_staff_id),
        "fields": frame,
        "moves": _counts(session, merge.id),
    }


def merge_leads(
    session: Session, *, actor: Actor, keep_id: int, merge_id: int, on: dt.date | None = None,
    reason: str | None = None,
) -> Lead:  # fmt: skip
    """Merge two leads of one person: the older survives; the other's interactions, orders,
    hand-offs, consent, touches, members and aliases move to it; the merged lead is made
    inactive (its row stays, so past figures do not change), its ownership closes on `on`
    and its ref becomes an alias. The survivor is rescored. Audited."""
    from core.services.leads.rescoring import rescore_leads

    require_role(actor, *MERGE_ROLES)
    keep, merge = _merge_pair(session, keep_id, merge_id)
    on = on or settings_service.hospital_today(session)
    moves = _counts(session, merge.id)
    session.execute(
        update(Interaction).where(Interaction.lead_id == merge.id).values(lead_id=keep.id)
    )
    session.execute(update(Order).where(Order.lead_id == merge.id).values(lead_id=keep.id))
    session.execute(update(Handoff).where(Handoff.lead_id == merge.id).values(lead_id=keep.id))
    session.execute(
        update(Consent)
        .where(Consent.subject_type == "lead", Consent.subject_id == merge.id)
        .values(subject_id=keep.id)
    )
    session.execute(update(LeadTouch).where(LeadTouch.lead_id == merge.id).values(lead_id=keep.id))
    session.execute(update(Member).where(Member.lead_id == merge.id).values(lead_id=keep.id))
    session.execute(update(LeadAlias).where(LeadAlias.lead_id == merge.id).values(lead_id=keep.id))
    session.add(LeadAlias(alias_ref=merge.lead_ref, lead_id=keep.id, how="merge"))
    record_owner_change(
        session, actor=actor, changes=[(merge.id, merge.owner_staff_id, None)], on=on, how="merge",
        reason=reason,
    )  # fmt: skip
    session.execute(
        update(Lead)
        .where(Lead.id == merge.id)
        .values(active=False, version=Lead.version + 1, updated_at=utcnow(),
                updated_by_user_id=actor.user_id)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    session.expire_all()
    rescore_leads(session, lead_ids={keep.id}, actor=actor)
    audit.record(
        session, actor=actor, action="lead.merge", entity="lead", entity_id=keep.id,
        detail={"lead_ref": keep.lead_ref, "merged_ref": merge.lead_ref, "merged_id": merge.id,
                "on": on, "reason": reason, "moved": moves},
    )  # fmt: skip
    session.flush()
    return session.get(Lead, keep.id)


def _one_digit_apart(a: str, b: str) -> bool:
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) == 1


def duplicate_candidates(session: Session, *, actor: Actor) -> pd.DataFrame:
    """Pairs of active leads that look like one person, for review: `same_key` (the same
    person key — e.g. leads that already shared a phone before SPEC §8) and
    `one_digit` (the same name, phones one digit apart). Columns reason, keep_id, keep_ref,
    merge_id, merge_ref, name, keep_phone, merge_phone (keep = the older lead)."""
    require_role(actor, *MERGE_ROLES)
    columns = ["reason", "keep_id", "keep_ref", "merge_id", "merge_ref", "name", "keep_phone",
               "merge_phone"]  # fmt: skip
    active = Lead.active == True  # noqa: E712
    shared = (
        select(Lead.person_key)
        .where(active, Lead.person_key.is_not(None))
        .group_by(Lead.person_key)
        .having(func.count() > 1)
        .subquery("shared")
    )
    rows = session.execute(
        select(Lead.person_key, Lead.id, Lead.lead_ref, Lead.name, Lead.phone, Lead.created_on)
        .join(shared, shared.c.person_key == Lead.person_key)
        .where(active)
        .order_by(Lead.person_key, Lead.created_on, Lead.id)
    ).all()
    out = []
    first_of: dict[str, tuple] = {}
    for key, lead_id, ref, name, phone, _ in rows:
        if key not in first_of:
            first_of[key] = (lead_id, ref, name, phone)
            continue
        keep = first_of[key]
        out.append(["same_key", keep[0], keep[1], lead_id, ref, name, keep[3], phone])
    names = (
        select(Lead.name)
        .where(active, Lead.person_key.is_not(None))
        .group_by(Lead.name)
        .having(func.count(func.distinct(Lead.person_key)) > 1)
        .subquery("names")
    )
    rows = session.execute(
        select(Lead.name, Lead.id, Lead.lead_ref, Lead.phone, Lead.person_key, Lead.created_on)
        .join(names, names.c.name == Lead.name)
        .where(active, Lead.person_key.is_not(None))
        .order_by(Lead.name, Lead.created_on, Lead.id)
    ).all()
    by_name: dict[str, list] = {}
    for row in rows:
        by_name.setdefault(row[0], []).append(row)
    for name, group in by_name.items():
        for x in range(len(group)):
            for y in range(x + 1, len(group)):
                a, b = group[x], group[y]
                if _one_digit_apart(a[4], b[4]):
                    out.append(["one_digit", a[1], a[2], b[1], b[2], name, a[3], b[3]])
    return pd.DataFrame(out, columns=columns)


def malformed_phones(session: Session, *, actor: Actor) -> pd.DataFrame:
    """Leads whose phone gave no person key (left by the migration's backfill): lead_id,
    lead_ref, name, phone — to be corrected by hand."""
    require_role(actor, *MERGE_ROLES)
    rows = session.execute(
        select(Lead.id, Lead.lead_ref, Lead.name, Lead.phone)
        .where(Lead.phone.is_not(None), Lead.phone != "", Lead.person_key.is_(None))
        .order_by(Lead.lead_ref)
    ).all()
    return pd.DataFrame(rows, columns=["lead_id", "lead_ref", "name", "phone"])


# --- Touches and disputes ----------------------------------------------------------------


def touches(session: Session, *, actor: Actor, lead_id: int | None = None) -> pd.DataFrame:
    """Touches, newest first: a staff login's own (they touched), a head's department's
    (touching or holding staff), everyone's for admins, marketers and executives; or one
    lead's. Columns touch_id, lead_id, lead_ref, staff_id, staff_no, staff_name, touched_on,
    source, alias, holder_staff_no, holder (masked as the role requires), dispute_id,
    dispute_status."""
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
        row[11] = holder_name if _sees_holder(actor, holder_id) else mask_name(holder_name)
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
        row[7] = row[7] if _sees_holder(actor, holder_id) else mask_name(row[7])
        rows.append(row)
    columns = ["dispute_id", "status", "lead_id", "lead_ref", "raised_by_staff_no", "raised_by",
               "holder_staff_no", "holder", "touched_on", "note", "ruled_by", "ruled_on",
               "transfer_on", "ruling_note"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


# --- One lead's credit (CLI `lead`, the lead dialog) --------------------------------------


def lead_credit(
    session: Session, *, actor: Actor, lead_ref: str, as_of: dt.date | None = None
) -> dict[str, Any]:
    """SPEC §8's `lead` record: lead_ref (the surviving lead's own, also for an alias),
    owner_staff_no (at the end of the as-of day), protected_until (as of that day), owners
    (the whole history: {staff_no, from, to}, oldest first) and touches ({staff_no, on})."""
    from core.metrics import _check_lead_visible

    lead = resolve_lead(session, lead_ref)
    if lead is None:
        raise LookupError(f"no lead with lead_ref '{lead_ref}'")
    _check_lead_visible(session, actor, lead)
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
        _set_owner(session, actor, lead, row.to_staff_id, expected_version=lead.version)
        record_owner_change(
            session, actor=actor, changes=[(lead.id, holder.id, row.to_staff_id)], on=row.on,
            how="transfer", reason=row.reason,
        )  # fmt: skip
        _audit_owner_change(
            session, actor, lead, action="lead.transfer", from_staff=holder,
            to_staff=staff[row.to_staff_id], on=row.on, reason=row.reason, via="import",
        )  # fmt: skip
    session.flush()
    return len(rows)


def backfill(session: Session) -> dict[str, int]:
    """Person keys for leads with a phone and no key, and a `created` period for leads
    without one (bulk loaders: the demo). Malformed phones keep no key
    (`malformed_phones` lists them). Returns the counts written."""
    rows = fetch_rows(
        session,
        select(Lead.id, Lead.phone).where(Lead.phone.is_not(None), Lead.person_key.is_(None)),
    )
    ids, keys = [], []
    for lead_id, phone in rows:
        try:
            key = _fast_key(phone.strip())
        except MalformedPhone:
            continue
        if key:
            ids.append(lead_id)
            keys.append(key)
    if ids:
        table = Lead.__table__
        execute_many(
            session,
            update(table).where(table.c.id == bindparam("lid")).values(person_key=bindparam("k")),
            {"lid": ids, "k": keys},
        )
    return {"keys": len(ids), "periods": open_initial_periods(session)}
