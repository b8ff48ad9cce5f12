"""Registering a lead (SPEC §8 collisions, 撞单): by hand (`register_lead`) and the
importer's `leads` kind (`plan_import`, `apply_import`)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, bindparam, func, select, update
from sqlmodel import Session

from core import audit
from core.db import as_date, chunks, execute_many, fetch_rows
from core.domain import Role
from core.i18n import t
from core.lead_refs import CHUNK, ref_taken
from core.models import (
    Interaction,
    Lead,
    LeadAlias,
    LeadCreate,
    LeadTouch,
    OwnershipPeriod,
    Staff,
)
from core.permissions import Actor, PermissionDenied, require_department, require_role
from core.person_key import MalformedPhone, person_key
from core.services import referrals
from core.services.ownership.base import (
    REGISTER_ROLES,
    SOURCES,
    CreditError,
    get_staff,
    mask_name,
    protection_days,
    sees_holder,
)
from core.services.ownership.claims import (
    protection,
)
from core.services.ownership.history import (
    audit_owner_change,
    open_initial_periods,
    record_owner_change,
    set_owner,
)

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
    # SPEC §10: (kept, named) member numbers when the person already had another referrer.
    referrer_kept: tuple[str, str] | None = None

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
    person = get_staff(session, owner_staff_id)
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
    done = _collide(session, actor, existing, registrant, data.created_on, data.lead_ref, source)
    # SPEC §10: the person the registration reached takes its referrer, unless they have one.
    done.referrer_kept = referrals.attach_referrer(
        session, actor=actor, lead=done.lead, referrer_id=data.referred_by_member_id,
        alias=data.lead_ref,
    )  # fmt: skip
    return done


def _audit_alias(
    session: Session, actor: Actor, lead: Lead, ref: str, owner: Staff, on: dt.date, source: str
) -> None:
    """Audit a registration of a person the registrant already holds: no touch, no claim,
    only the new ref becoming an alias of their lead."""
    audit.record(
        session, actor=actor, action="lead.alias", entity="lead", entity_id=lead.id,
        detail={"lead_ref": lead.lead_ref, "alias": ref, "staff_no": owner.staff_no, "on": on,
                "source": source},
    )  # fmt: skip


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
    shown = holder.name if sees_holder(actor, holder.id) else mask_name(holder.name)
    if holder.id == registrant.id:
        outcome, touch_id = "yours", None
        _audit_alias(session, actor, existing, ref, registrant, on, source)
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
        set_owner(session, actor, existing, registrant.id, expected_version=existing.version)
        record_owner_change(
            session, actor=actor, changes=[(existing.id, holder.id, registrant.id)], on=on,
            how="claim",
        )  # fmt: skip
        audit_owner_change(
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
    # SPEC §10: the referrers the collided rows give their person (core.services.referrals).
    referrers: dict = field(default_factory=dict)


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
    referrers: list[int | None] | None = None,
) -> ImportPlan | None:
    """Person keys of a checked `leads` file and its collisions, in the order of created_on
    then file row. `error(i, column, key, **values)` records a bad row (a malformed phone,
    a referrer naming the person themself); None is returned when any row was bad. A
    collided row's referrer (`referrers`: member ids) goes to the person it reached
    (core.services.referrals.plan_collided_referrers)."""
    try:  # the fast path: every phone well formed (one list comprehension)
        keys: list[str | None] = [_fast_key(phone) if phone else None for phone in phones]
    except MalformedPhone:
        keys = [None] * len(phones)
        bad = False
        for i, phone in enumerate(phones):
            if not phone:
                continue
            try:
                keys[i] = _fast_key(phone)
            except MalformedPhone as failure:
                error(i, "phone", f"credit.err.phone_{failure.reason}", value=failure.phone,
                      digits=failure.digits)  # fmt: skip
                bad = True
        if bad:
            return None
    counts = Counter(key for key in keys if key is not None)
    existing = _existing_holders(session, list(counts))
    colliding = {key for key, n in counts.items() if n > 1} | existing.keys()
    plan = ImportPlan(keys=keys, creates=[])
    if not colliding:
        plan.creates = list(range(len(phones)))
        return plan
    rows_of: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        if key in colliding:
            rows_of.setdefault(key, []).append(i)
    taken: set[int] = set()
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
            taken.add(i)
            if outcome == "claim":
                state["owner"] = owners[i]
                state["history"].append((on, owners[i]))
    plan.creates = [i for i in range(len(phones)) if i not in taken]
    if referrers is not None:
        bad: list[int] = []

        def refuse(i: int, column: str, key: str, **values: Any) -> None:
            bad.append(i)
            error(i, column, key, **values)

        plan.referrers, kept = referrals.plan_collided_referrers(
            session, actions=plan.actions, referrers=referrers, refs=refs, numbers=numbers,
            error=refuse,
        )  # fmt: skip
        if bad:
            return None
        plan.events.extend(kept)
    plan.events.sort(key=lambda e: e.row)
    return plan


def _existing_holders(session: Session, keys: list[str]) -> dict[str, dict[str, Any]]:
    """{key: holder} of the active leads with these keys (the oldest per key). A whole
    file's keys against fewer keyed leads read those leads in one query (an import into an
    empty hospital reads nothing more); otherwise one query per chunk of keys."""
    if not keys:
        return {}
    table = Lead.__table__
    keyed = and_(table.c.active == True, table.c.person_key.is_not(None))  # noqa: E712
    columns = (table.c.person_key, table.c.id, table.c.lead_ref, table.c.owner_staff_id,
               table.c.created_on)  # fmt: skip
    order = (table.c.created_on, table.c.id)
    rows: Iterable = ()
    held = None
    if len(keys) > CHUNK:
        held = session.execute(select(func.count()).select_from(table).where(keyed)).scalar()
        if not held:
            return {}
    if held is not None and held <= len(keys):
        wanted = set(keys)
        everything = fetch_rows(session, select(*columns).where(keyed).order_by(*order))
        rows = (row for row in everything if row[0] in wanted)
    else:
        query = (
            select(*columns)
            .where(keyed, table.c.person_key.in_(bindparam("chunk", expanding=True)))
            .order_by(*order)
        )
        rows = (
            row
            for chunk in chunks(sorted(keys), CHUNK)
            for row in fetch_rows(session, query.params(chunk=list(chunk)))
        )
    found: dict[str, dict[str, Any]] = {}
    for key, lead_id, ref, owner, created_on in rows:
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
        for chunk in chunks(ids, CHUNK):
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
    for chunk in chunks(sorted(set(lead_ids)), CHUNK):
        for lead_id, day in fetch_rows(session, query.params(chunk=list(chunk))):
            found.setdefault(lead_id, []).append(as_date(day))
    return found


def apply_import(
    session: Session, *, actor: Actor, plan: ImportPlan, refs: list[str], first_new_id: int
) -> None:
    """After the importer inserted `plan.creates`: open their ownership periods and apply
    the touches, claims and aliases in order (created_on, then file row)."""
    open_initial_periods(session, after_id=first_new_id, fresh=True)
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
            set_owner(session, actor, lead, staff_id, expected_version=lead.version)
            record_owner_change(
                session, actor=actor, changes=[(lead.id, holder.id, staff_id)], on=on, how="claim"
            )
            audit_owner_change(
                session, actor, lead, action="lead.claim", from_staff=holder, to_staff=registrant,
                on=on, reason=None, alias=refs[i], source="import",
            )  # fmt: skip
        else:  # yours: the row's owner already holds the person
            _audit_alias(session, actor, lead, refs[i], registrant, on, "import")
        session.add(LeadAlias(alias_ref=refs[i], lead_id=lead.id, how=outcome))
        session.flush()
    referrals.apply_collided_referrers(session, actor=actor, sets=plan.referrers, ids=ids)


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


def new_ref(session: Session, day: dt.date) -> str:
    """A free lead_ref for a lead typed in on `day`: N<yyyymmdd>-<n>, n counting up."""
    prefix = f"N{day:%Y%m%d}-"
    taken = session.execute(select(func.count()).where(Lead.lead_ref.like(f"{prefix}%"))).one()[0]
    number = int(taken) + 1
    while ref_taken(session, f"{prefix}{number:03d}"):
        number += 1
    return f"{prefix}{number:03d}"
