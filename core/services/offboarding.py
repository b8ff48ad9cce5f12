"""Staff joining and leaving (离职变更归属), and handing leads and members to someone else.

Leaving (`offboard_staff`): on the leaving day the person's card is revoked, they are marked
as left (`left_on`, `active=False`) and their logins are disabled; every lead they own (all
of them, whatever the stage: nothing stays with someone who has gone), the pending and
accepted consultant hand-offs they made, and the members they own move to the successor(s).
`preview_offboarding` returns exactly what `offboard_staff` will move; both build the same
`TransferPlan`, and a `token` taken from the preview makes the confirmation refuse to run if
anything changed in between.

History stays true: orders keep the staff member they were credited to (`orders.staff_id`
is never rewritten), so commission lines and order figures of earlier months do not move;
new orders on a moved lead are credited to its owner at the time they are booked.

Every moved lead, member and hand-off gets its own audit row (`lead.reassign`,
`member.reassign`, `handoff.reassign`; entity and id of the record) with the old and new
owner and the reason, in the shape the lead board's timeline reads, so each record's
timeline shows the change of owner.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import func, select, update
from sqlmodel import Session

from core import audit, metrics
from core.db import chunks
from core.domain import STAGE_ORDER, HandoffStatus, Role
from core.models import AppUser, AppUserCreate, Handoff, Lead, Member, Staff, StaffCreate, utcnow
from core.permissions import Actor, PermissionDenied, require_role
from core.services import ownership, users
from core.services.settings import hospital_today, metric_rules
from core.services.staff import (
    StaffError,
    add_staff,
    clean_reason,
    revoke_card,
)
from core.text import TextRefused

STRATEGIES = ("single", "by_workload")
OFFBOARD_ROLES = (Role.admin, Role.dept_head)
REASSIGN_ROLES = (Role.admin, Role.marketer, Role.dept_head)
ONBOARD_ROLES = (Role.admin, Role.marketer, Role.dept_head)
CHUNK = 500  # ids per IN (...) list


@dataclass(frozen=True)
class Move:
    """One record changing hands: a lead, a member or a consultant hand-off."""

    kind: str  # lead | member | handoff
    id: int
    ref: str
    name: str
    group: str  # the lead's stage, the member's tier level, the hand-off's status
    from_staff_id: int | None
    to_staff_id: int | None
    to_user_id: int | None = None  # hand-offs: the login now named as handing over


@dataclass
class TransferPlan:
    """Exactly what moves, to whom. `token` fingerprints it for the confirmation."""

    moves: list[Move]
    staff_names: dict[int, tuple[str, str]]  # staff id → (staff_no, name)
    leaving_staff_id: int | None = None
    handoffs_kept: list[int] = field(default_factory=list)  # successor has no login

    def of_kind(self, kind: str) -> list[Move]:
        return [move for move in self.moves if move.kind == kind]

    @property
    def leads(self) -> list[Move]:
        return self.of_kind("lead")

    @property
    def members(self) -> list[Move]:
        return self.of_kind("member")

    @property
    def handoffs(self) -> list[Move]:
        return self.of_kind("handoff")

    @property
    def token(self) -> str:
        text = ";".join(
            f"{m.kind}:{m.id}:{m.from_staff_id}>{m.to_staff_id}/{m.to_user_id}"
            for m in sorted(self.moves, key=lambda m: (m.kind, m.id))
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def leads_by_stage(self) -> dict[str, int]:
        counts = Counter(move.group for move in self.leads)
        return {str(stage): counts.get(str(stage), 0) for stage in STAGE_ORDER}

    def members_by_tier(self) -> dict[int, int]:
        counts = Counter(int(move.group) for move in self.members)
        return dict(sorted(counts.items()))

    def summary(self) -> pd.DataFrame:
        """One row per receiving staff member: leads per stage, members per tier level,
        hand-offs (columns `stage.<key>`, `tier.<level>`, `handoffs`, `leads`, `members`)."""
        tiers = sorted({int(move.group) for move in self.members})
        rows = []
        for staff_id in sorted(
            {m.to_staff_id for m in self.moves if m.to_staff_id is not None},
            key=lambda i: self.staff_names[i][0],
        ):
            mine = [m for m in self.moves if m.to_staff_id == staff_id]
            stages = Counter(m.group for m in mine if m.kind == "lead")
            levels = Counter(int(m.group) for m in mine if m.kind == "member")
            row: dict[str, Any] = {
                "staff_no": self.staff_names[staff_id][0],
                "name": self.staff_names[staff_id][1],
                "leads": sum(stages.values()),
            }
            row.update({f"stage.{s}": stages.get(str(s), 0) for s in STAGE_ORDER})
            row["members"] = sum(levels.values())
            row.update({f"tier.{level}": levels.get(level, 0) for level in tiers})
            row["handoffs"] = sum(1 for m in mine if m.kind == "handoff")
            rows.append(row)
        columns = ["staff_no", "name", "leads", *[f"stage.{s}" for s in STAGE_ORDER]]
        columns += ["members", *[f"tier.{level}" for level in tiers], "handoffs"]
        return pd.DataFrame(rows, columns=columns)

    def table(self) -> pd.DataFrame:
        """Every move: kind, ref, name, group (stage / tier / status), to_staff_no, to_name."""
        rows = [
            {
                "kind": m.kind,
                "ref": m.ref,
                "name": m.name,
                "group": m.group,
                "to_staff_no": self.staff_names.get(m.to_staff_id, ("", ""))[0],
                "to_name": self.staff_names.get(m.to_staff_id, ("", ""))[1],
            }
            for m in self.moves
        ]
        return pd.DataFrame(
            rows, columns=["kind", "ref", "name", "group", "to_staff_no", "to_name"]
        )


# --- Checks -------------------------------------------------------------------------------


def _staff(session: Session, staff_id: int | None) -> Staff:
    person = session.get(Staff, staff_id) if staff_id is not None else None
    if person is None:
        raise StaffError("staff.err.unknown_staff")
    return person


def _in_reach(actor: Actor, person: Staff) -> None:
    if actor.role == Role.dept_head and person.department_id != actor.department_id:
        raise PermissionDenied("outside your department")


def _employed(person: Staff) -> bool:
    return person.left_on is None and person.active


def _successors(session: Session, actor: Actor, ids: Iterable[int], leaving: Staff | None):
    ids = list(dict.fromkeys(ids or []))
    if not ids:
        raise StaffError("offboard.err.no_successor")
    people = [_staff(session, staff_id) for staff_id in ids]
    for person in people:
        _in_reach(actor, person)
        if leaving is not None and person.id == leaving.id:
            raise StaffError("offboard.err.successor_is_leaver")
        if not _employed(person):
            raise StaffError("offboard.err.successor_left", name=f"{person.staff_no} {person.name}")
    return people


def _logins(session: Session, staff_id: int) -> list[AppUser]:
    return list(
        session.exec(select(AppUser).where(AppUser.staff_id == staff_id).order_by(AppUser.id))
        .scalars()
        .all()
    )


def _login_of(session: Session, staff_id: int) -> int | None:
    """The login a hand-off is credited to for a successor: their first enabled login."""
    return (
        session.exec(
            select(AppUser.id)
            .where(AppUser.staff_id == staff_id, AppUser.disabled.is_(False))
            .order_by(AppUser.id)
        )
        .scalars()
        .first()
    )


def _counts(session: Session, column, staff_ids: list[int]) -> dict[int, int]:
    rows = session.exec(
        select(column, func.count()).where(column.in_(staff_ids)).group_by(column)
    ).all()
    counts = {staff_id: 0 for staff_id in staff_ids}
    counts.update({staff_id: int(n) for staff_id, n in rows})
    return counts


def _assigner(session: Session, people: list[Staff], strategy: str, column):
    """A function giving the next record to the right person: always the single successor,
    or (by_workload) the one who owns the fewest records of that kind at that moment."""
    if strategy == "single":
        only = people[0].id
        return lambda: only
    counts = _counts(session, column, [p.id for p in people])
    heap = [(counts[p.id], p.staff_no, p.id) for p in people]
    heapq.heapify(heap)

    def next_owner() -> int:
        count, staff_no, staff_id = heapq.heappop(heap)
        heapq.heappush(heap, (count + 1, staff_no, staff_id))
        return staff_id

    return next_owner


def _member_tiers(session: Session, actor: Actor, member_nos: set[str]) -> dict[str, int]:
    """Tier levels of the given members, from `metrics.member_table` (the one definition)."""
    if not member_nos:
        return {}
    table = metrics.member_table(session, actor=actor, rules=metric_rules(session))
    table = table[table["member_no"].isin(member_nos)]
    return dict(zip(table["member_no"], table["tier"].astype(int), strict=True))


def _plan(
    session: Session,
    actor: Actor,
    *,
    leads: list[Lead],
    members: list[Member],
    handoffs: list[Handoff],
    receivers: list[Staff],
    strategy: str,
    leaving: Staff | None,
) -> TransferPlan:
    rank = {str(stage): index for index, stage in enumerate(STAGE_ORDER)}
    # Hottest leads first, so that by_workload spreads every stage evenly.
    leads = sorted(leads, key=lambda lead: (-rank.get(lead.stage, 0), lead.created_on, lead.id))
    next_lead_owner = _assigner(session, receivers, strategy, Lead.owner_staff_id)
    moves: list[Move] = []
    lead_owner: dict[int, int] = {}
    for lead in leads:
        to = next_lead_owner()
        lead_owner[lead.id] = to
        moves.append(
            Move("lead", lead.id, lead.lead_ref, lead.name, lead.stage, lead.owner_staff_id, to)
        )
    tiers = _member_tiers(session, actor, {member.member_no for member in members})
    next_member_owner = _assigner(session, receivers, strategy, Member.owner_staff_id)
    for member in sorted(members, key=lambda m: (-tiers.get(m.member_no, 1), m.member_no)):
        moves.append(
            Move(
                "member",
                member.id,
                member.member_no,
                member.name,
                str(tiers.get(member.member_no, 1)),
                member.owner_staff_id,
                next_member_owner(),
            )
        )
    kept: list[int] = []
    logins = {person.id: _login_of(session, person.id) for person in receivers}
    lead_refs = {}
    if handoffs:
        lead_refs = dict(
            session.exec(
                select(Lead.id, Lead.lead_ref).where(Lead.id.in_({h.lead_id for h in handoffs}))
            ).all()
        )
    for handoff in sorted(handoffs, key=lambda h: h.id):
        to = lead_owner.get(handoff.lead_id, receivers[0].id)
        if logins[to] is None:
            kept.append(handoff.id)
            continue
        moves.append(
            Move(
                "handoff",
                handoff.id,
                lead_refs.get(handoff.lead_id, str(handoff.lead_id)),
                "",
                handoff.status,
                leaving.id if leaving else None,
                to,
                logins[to],
            )
        )
    names = {person.id: (person.staff_no, person.name) for person in receivers}
    if leaving is not None:
        names[leaving.id] = (leaving.staff_no, leaving.name)
    return TransferPlan(
        moves=moves,
        staff_names=names,
        leaving_staff_id=leaving.id if leaving else None,
        handoffs_kept=kept,
    )


def _check_offboarding(
    session: Session,
    actor: Actor,
    *,
    staff_id: int,
    leaving_on: dt.date | None,
    successor_staff_ids: list[int],
    strategy: str,
) -> tuple[Staff, list[Staff]]:
    require_role(actor, *OFFBOARD_ROLES)
    leaving = _staff(session, staff_id)
    _in_reach(actor, leaving)
    if actor.staff_id is not None and leaving.id == actor.staff_id:
        raise PermissionDenied("you cannot offboard yourself")
    if actor.role == Role.dept_head:
        roles = {login.role for login in _logins(session, leaving.id)}
        if roles & {str(Role.admin), str(Role.dept_head)}:
            raise PermissionDenied("an administrator offboards someone with this login")
    if not _employed(leaving):
        raise StaffError("offboard.err.already_left", name=f"{leaving.staff_no} {leaving.name}")
    if strategy not in STRATEGIES:
        raise StaffError("offboard.err.strategy")
    receivers = _successors(session, actor, successor_staff_ids, leaving)
    if strategy == "single" and len(receivers) != 1:
        raise StaffError("offboard.err.single_needs_one")
    if leaving_on is not None:
        if leaving_on > hospital_today(session):
            raise StaffError("staff.err.future_date", day=leaving_on.isoformat())
        if leaving.card_issued_on is not None and leaving_on < leaving.card_issued_on:
            raise StaffError("offboard.err.before_card", day=leaving.card_issued_on.isoformat())
    return leaving, receivers


def _offboarding_records(session: Session, leaving: Staff):
    leads = list(session.exec(select(Lead).where(Lead.owner_staff_id == leaving.id)).scalars())
    members = list(
        session.exec(select(Member).where(Member.owner_staff_id == leaving.id)).scalars()
    )
    login_ids = [login.id for login in _logins(session, leaving.id)]
    handoffs = []
    if login_ids:
        handoffs = list(
            session.exec(
                select(Handoff).where(
                    Handoff.handed_by_user_id.in_(login_ids),
                    Handoff.status.in_([str(HandoffStatus.pending), str(HandoffStatus.accepted)]),
                )
            ).scalars()
        )
    return leads, members, handoffs


# --- Leaving ------------------------------------------------------------------------------


def preview_offboarding(
    session: Session,
    *,
    actor: Actor,
    staff_id: int,
    successor_staff_ids: list[int],
    strategy: str = "single",
    leaving_on: dt.date | None = None,
    reason: str | None = None,
) -> TransferPlan:
    """What `offboard_staff` would move, changing nothing: `plan.leads_by_stage()`,
    `plan.members_by_tier()`, `plan.summary()` per successor, `plan.table()` per record."""
    leaving, receivers = _check_offboarding(
        session,
        actor,
        staff_id=staff_id,
        leaving_on=leaving_on,
        successor_staff_ids=successor_staff_ids,
        strategy=strategy,
    )
    leads, members, handoffs = _offboarding_records(session, leaving)
    return _plan(
        session,
        actor,
        leads=leads,
        members=members,
        handoffs=handoffs,
        receivers=receivers,
        strategy=strategy,
        leaving=leaving,
    )


def offboard_staff(
    session: Session,
    *,
    actor: Actor,
    staff_id: int,
    leaving_on: dt.date,
    successor_staff_ids: list[int],
    strategy: str = "single",
    reason: str,
    expected_token: str | None = None,
) -> TransferPlan:
    """A staff member leaves on `leaving_on` (admin; a department head for their own
    department, successors from it too). In the caller's one transaction: the card is
    revoked that day, `left_on` and `active=False` are set, their logins are disabled, and
    their leads, pending/accepted hand-offs and members move as `preview_offboarding` shows
    (`single`: all to one successor; `by_workload`: each record to whoever of the successors
    then owns the fewest). With `expected_token` (the preview's `plan.token`) it refuses if
    the plan has changed since the preview. Returns the plan carried out."""
    if leaving_on is None:
        raise StaffError("staff.err.date_required")
    reason = clean_reason(reason)
    leaving, receivers = _check_offboarding(
        session,
        actor,
        staff_id=staff_id,
        leaving_on=leaving_on,
        successor_staff_ids=successor_staff_ids,
        strategy=strategy,
    )
    leads, members, handoffs = _offboarding_records(session, leaving)
    plan = _plan(
        session,
        actor,
        leads=leads,
        members=members,
        handoffs=handoffs,
        receivers=receivers,
        strategy=strategy,
        leaving=leaving,
    )
    if expected_token is not None and expected_token != plan.token:
        raise StaffError("offboard.err.changed")

    if leaving.card_issued_on is not None and leaving.card_revoked_on is None:
        revoke_card(session, actor=actor, person=leaving, revoked_on=leaving_on, reason=reason)
    leaving.left_on = leaving_on
    leaving.active = False
    session.add(leaving)
    disabled = []
    for login in _logins(session, leaving.id):
        if login.id == actor.user_id:
            raise PermissionDenied("you cannot offboard yourself")
        if not login.disabled:
            login.disabled = True
            session.add(login)
            users.end_sessions(session, user_id=login.id)
            audit.record(
                session,
                actor=actor,
                action="user.disable",
                entity="app_user",
                entity_id=login.id,
                detail={"username": login.username, "reason": reason, "via": "offboarding"},
            )
            disabled.append(login.username)
    audit.record(
        session,
        actor=actor,
        action="staff.offboard",
        entity="staff",
        entity_id=leaving.id,
        detail={
            "staff_no": leaving.staff_no,
            "leaving_on": leaving_on,
            "reason": reason,
            "strategy": strategy,
            "successors": [person.staff_no for person in receivers],
            "leads": len(plan.leads),
            "members": len(plan.members),
            "handoffs": len(plan.handoffs),
            "handoffs_kept": plan.handoffs_kept,
            "logins_disabled": disabled,
        },
    )
    _apply(session, actor, plan, reason=reason, via="offboarding", on=leaving_on)
    return plan


# --- Reassignment without leaving ---------------------------------------------------------


def _reassign_records(
    session: Session,
    actor: Actor,
    *,
    lead_ids: Iterable[int] | None,
    member_ids: Iterable[int] | None,
    to_staff_id: int,
) -> tuple[list[Lead], list[Member], Staff, dict[int, Staff]]:
    require_role(actor, *REASSIGN_ROLES)
    (receiver,) = _successors(session, actor, [to_staff_id], None)
    lead_ids = sorted(set(lead_ids or []))
    member_ids = sorted(set(member_ids or []))
    if not lead_ids and not member_ids:
        raise StaffError("staff.err.none_selected")
    leads: list[Lead] = []
    for chunk in chunks(lead_ids, CHUNK):
        leads += session.exec(select(Lead).where(Lead.id.in_(chunk))).scalars().all()
    members: list[Member] = []
    for chunk in chunks(member_ids, CHUNK):
        members += session.exec(select(Member).where(Member.id.in_(chunk))).scalars().all()
    if len(leads) != len(lead_ids) or len(members) != len(member_ids):
        raise StaffError("offboard.err.unknown_record")
    owner_ids = {lead.owner_staff_id for lead in leads}
    owner_ids |= {m.owner_staff_id for m in members if m.owner_staff_id is not None}
    owners = {
        person.id: person
        for person in session.exec(select(Staff).where(Staff.id.in_(owner_ids))).scalars()
    }
    if actor.role == Role.dept_head:
        if any(m.owner_staff_id is None for m in members):
            raise PermissionDenied("outside your department")
        for person in owners.values():
            _in_reach(actor, person)
    leads = [lead for lead in leads if lead.owner_staff_id != receiver.id]
    members = [m for m in members if m.owner_staff_id != receiver.id]
    return leads, members, receiver, owners


def preview_reassign(
    session: Session,
    *,
    actor: Actor,
    lead_ids: Iterable[int] | None = None,
    member_ids: Iterable[int] | None = None,
    to_staff_id: int,
) -> TransferPlan:
    """What `reassign` would move (records the receiver already owns are left out)."""
    leads, members, receiver, owners = _reassign_records(
        session, actor, lead_ids=lead_ids, member_ids=member_ids, to_staff_id=to_staff_id
    )
    plan = _plan(
        session,
        actor,
        leads=leads,
        members=members,
        handoffs=[],
        receivers=[receiver],
        strategy="single",
        leaving=None,
    )
    plan.staff_names.update({p.id: (p.staff_no, p.name) for p in owners.values()})
    return plan


def reassign(
    session: Session,
    *,
    actor: Actor,
    lead_ids: Iterable[int] | None = None,
    member_ids: Iterable[int] | None = None,
    to_staff_id: int,
    reason: str,
    expected_token: str | None = None,
) -> TransferPlan:
    """Give leads and/or members to another staff member, nobody leaving (admin, marketer;
    a department head inside their own department). Audited one row per record."""
    reason = clean_reason(reason)
    plan = preview_reassign(
        session, actor=actor, lead_ids=lead_ids, member_ids=member_ids, to_staff_id=to_staff_id
    )
    if expected_token is not None and expected_token != plan.token:
        raise StaffError("offboard.err.changed")
    _apply(session, actor, plan, reason=reason, via="reassign", on=hospital_today(session))
    return plan


def owned_records(session: Session, *, actor: Actor, staff_id: int) -> pd.DataFrame:
    """The leads and members a staff member owns, for picking what to reassign: kind, id,
    ref, name, group (the lead's stage or the member's tier level), newest leads first."""
    require_role(actor, *REASSIGN_ROLES)
    person = _staff(session, staff_id)
    _in_reach(actor, person)
    leads = session.exec(
        select(Lead.id, Lead.lead_ref, Lead.name, Lead.stage)
        .where(Lead.owner_staff_id == person.id)
        .order_by(Lead.created_on.desc(), Lead.id.desc())
    ).all()
    members = session.exec(
        select(Member.id, Member.member_no, Member.name)
        .where(Member.owner_staff_id == person.id)
        .order_by(Member.member_no)
    ).all()
    tiers = _member_tiers(session, actor, {member_no for _, member_no, _ in members})
    rows = [
        {"kind": "lead", "id": i, "ref": ref, "name": name, "group": stage}
        for i, ref, name, stage in leads
    ]
    rows += [
        {"kind": "member", "id": i, "ref": no, "name": name, "group": str(tiers.get(no, 1))}
        for i, no, name in members
    ]
    return pd.DataFrame(rows, columns=["kind", "id", "ref", "name", "group"])


# --- Carrying a plan out ------------------------------------------------------------------


def _apply(
    session: Session, actor: Actor, plan: TransferPlan, *, reason: str, via: str, on: dt.date
) -> None:
    """Write the plan in bulk (one UPDATE per receiver and chunk) and one audit row per
    record; lead and member versions are bumped so stale edits elsewhere are refused."""
    session.flush()
    now = utcnow()
    names = plan.staff_names
    leaving_no = names[plan.leaving_staff_id][0] if plan.leaving_staff_id else None
    groups: dict[tuple[str, int | None, int | None], list[int]] = {}
    for move in plan.moves:
        groups.setdefault((move.kind, move.to_staff_id, move.to_user_id), []).append(move.id)
    for (kind, to_staff, to_user), ids in groups.items():
        for chunk in chunks(ids, CHUNK):
            if kind == "lead":
                statement = (
                    update(Lead)
                    .where(Lead.id.in_(chunk))
                    .values(
                        owner_staff_id=to_staff,
                        version=Lead.version + 1,
                        updated_at=now,
                        updated_by_user_id=actor.user_id,
                    )
                )
            elif kind == "member":
                statement = (
                    update(Member)
                    .where(Member.id.in_(chunk))
                    .values(owner_staff_id=to_staff, version=Member.version + 1)
                )
            else:
                statement = (
                    update(Handoff).where(Handoff.id.in_(chunk)).values(handed_by_user_id=to_user)
                )
            session.exec(statement.execution_options(synchronize_session="fetch"))
    # SPEC §8: each lead's ownership period ends on `on` and the successor's begins.
    ownership.record_owner_change(
        session,
        actor=actor,
        changes=[(m.id, m.from_staff_id, m.to_staff_id) for m in plan.moves if m.kind == "lead"],
        on=on,
        how="offboarding" if via == "offboarding" else "reassignment",
        reason=reason,
    )
    ref_key = {"lead": "lead_ref", "member": "member_no", "handoff": "lead_ref"}
    for move in plan.moves:
        old_owner = names.get(move.from_staff_id, (None, None))
        new_owner = names.get(move.to_staff_id, (None, None))
        # The keys the lead timeline reads (core.services.leads: "lead.reassign").
        detail: dict[str, Any] = {
            ref_key[move.kind]: move.ref,
            "from_owner_id": move.from_staff_id,
            "from_owner": old_owner[1],
            "from_staff_no": old_owner[0],
            "to_owner_id": move.to_staff_id,
            "to_owner": new_owner[1],
            "to_staff_no": new_owner[0],
            "reason": reason,
            "via": via,
        }
        if leaving_no:
            detail["leaving_staff_no"] = leaving_no
        if move.kind == "handoff":
            detail["to_user_id"] = move.to_user_id
        audit.record(
            session,
            actor=actor,
            action=f"{move.kind}.reassign",
            entity=move.kind,
            entity_id=move.id,
            detail=detail,
        )
    session.flush()


# --- Joining ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Onboarding:
    staff: Staff
    login: AppUser | None


def onboard_staff(
    session: Session,
    *,
    actor: Actor,
    data: StaffCreate,
    card_issued_on: dt.date | None = None,
    username: str | None = None,
    password: str | None = None,
) -> Onboarding:
    """A newcomer in one step: the staff record (`data`, as `staff.add_staff` takes it), a
    card issued on `card_issued_on` (they then stand in their head's follow-up list until
    the card is activated) and, with `username`, a staff login (`core.services.users.create_user`: administrators only). Admin and
    marketer anywhere; a department head in their own department. All or nothing."""
    require_role(actor, *ONBOARD_ROLES)
    if username and actor.role != Role.admin:
        raise StaffError("offboard.err.login_admin_only")
    person = add_staff(session, actor=actor, data=data)
    if card_issued_on is not None:
        if card_issued_on > hospital_today(session):
            raise StaffError("staff.err.future_date", day=card_issued_on.isoformat())
        person.card_issued_on = card_issued_on
        session.add(person)
        audit.record(
            session,
            actor=actor,
            action="card.issue",
            entity="staff",
            entity_id=person.id,
            detail={"staff_no": person.staff_no, "issued_on": card_issued_on, "via": "onboarding"},
        )
    login = None
    if username:
        try:
            login = users.create_user(
                session,
                actor=actor,
                user_create=AppUserCreate(
                    username=username.strip().lower(),
                    role=str(Role.staff),
                    staff_id=person.id,
                    display_name=person.name,
                    password=password or "",
                ),
            )
        except TextRefused:
            raise
        except ValueError as error:  # a weak password, a taken username (pydantic too)
            raise StaffError("offboard.err.login", detail=_first_line(error)) from error
    session.flush()
    return Onboarding(staff=person, login=login)


def _first_line(error: Exception) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
            return f"{'.'.join(str(p) for p in first.get('loc', ()))}: {first.get('msg', '')}"
        except (IndexError, TypeError):
            pass
    return str(error).splitlines()[0]
