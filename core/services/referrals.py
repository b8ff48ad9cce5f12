"""Coming back and bringing others (SPEC §10): referral payments, checks and lists.

- `pay_referrals`: the automatic `referral` points entry — when a referred lead has a valid
  order, its referrer earns one entry (the `earning_points` setting, default 100), dated the
  day its first valid order was created. Every path that writes or validates an order calls
  it (the `orders` import, a consultant's visit outcome, the table editor); the entry names
  the lead (`points_entry.referral_lead_id`, a unique index), so a lead pays once, whichever
  path comes first and however often an order turns valid.
- `referral_problems`: the one rule for a referrer (not the person themself, no cycle
  A → B → A), over people: a member and the lead it came from are one person. The imports,
  the table editor, the forms (`check_referrer`) and a registration or import row that
  reaches an existing person (`attach_referrer`: the first referrer is kept) all apply it.
- Lists: a member's referral tree, the referral leaderboard, whom a staff member's
  patients brought, and the recall list (patients due back for a kind of order).

Decisions SPEC leaves open: a referrer must be an active member to be paid (an inactive
one is paid when a later order write finds them active again); the recall interval is per
order kind (setting `recall_months`, default check-up 12 months; a kind without one is never
recalled); a patient who came back after the last order of that kind is not due.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import and_, case, exists, func, literal, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased
from sqlmodel import Session

from core import audit, metrics
from core.db import as_date, chunks
from core.domain import OrderStatus, PointsKind, Role
from core.errors import AppError
from core.i18n import t
from core.models import Department, Lead, Member, Order, PointsEntry, Staff, utcnow
from core.months import add_months, month_bounds
from core.permissions import Actor, PermissionDenied, department_scope, require_role, staff_scope
from core.services import settings as settings_service
from core.services.members.access import require_write as require_member_write
from core.services.members.ledger import earning_points
from core.text import clean_text

READ_ROLES = (Role.admin, Role.executive, Role.marketer, Role.dept_head, Role.staff)
MAX_DEPTH = 6  # levels of a referral tree shown
MAX_WALK = 100  # steps up a referral chain a check follows (a longer chain is refused)
Node = tuple[str, int]  # ("L", lead id) or ("M", member id): one person


# --- payments -------------------------------------------------------------------------------


def pay_referrals(session: Session, *, actor: Actor, lead_ids: Iterable[int] | None = None) -> int:
    """Write the `referral` entries now due (of `lead_ids`, or of every lead): one per
    referred lead with a valid order and no entry yet, to its active referrer, dated its
    first valid order's `created_on`, noted with the lead. Returns how many were written.
    The caller holds the write lock (SQLite); on PostgreSQL an entry a concurrent write
    made first is left alone (ON CONFLICT DO NOTHING on the unique index), so both writes
    succeed and the lead is paid once."""
    first_valid = func.min(Order.created_on)
    query = (
        select(
            Lead.id,
            Lead.lead_ref,
            Lead.referred_by_member_id,
            Member.member_no,
            first_valid.label("first_on"),
        )
        .join(Order, and_(Order.lead_id == Lead.id, Order.status == str(OrderStatus.valid)))
        .join(Member, Member.id == Lead.referred_by_member_id)
        .where(
            Lead.referred_by_member_id.is_not(None),
            Member.active.is_(True),
            ~exists().where(PointsEntry.referral_lead_id == Lead.id),
        )
        .group_by(Lead.id, Lead.lead_ref, Lead.referred_by_member_id, Member.member_no)
    )
    rows: list[Any] = []
    if lead_ids is None:
        rows = list(session.execute(query).all())
    else:
        for chunk in chunks(sorted(set(lead_ids)), 5_000):
            rows.extend(session.execute(query.where(Lead.id.in_(chunk))).all())
    if not rows:
        return 0
    points = earning_points(session)[str(PointsKind.referral)]
    entries = [
        {
            "member_id": member_id,
            "kind": str(PointsKind.referral),
            "points": points,
            "occurred_on": as_date(first_on),
            "note": f"referral: {lead_ref}",
            "created_by_user_id": actor.user_id,
            "created_at": utcnow(),
            "referral_lead_id": lead_id,
        }
        for lead_id, lead_ref, member_id, _member_no, first_on in rows
    ]
    # A concurrent write may have paid a lead since the query above (PostgreSQL, READ
    # COMMITTED): its entry wins and this one is skipped, not the whole write rolled back.
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(PointsEntry)
        .values(entries)
        .on_conflict_do_nothing(index_elements=["referral_lead_id"])
        .returning(PointsEntry.referral_lead_id)
    )
    paid = set(session.execute(statement).scalars())
    session.flush()
    rows = [row for row in rows if row[0] in paid]
    if not rows:
        return 0
    audit.record(
        session,
        actor=actor,
        action="points.referral",
        entity="points_entry",
        entity_id=None,
        detail={
            "entries": len(rows),
            "points": points,
            "leads": [row[1] for row in rows[:50]],
            "referrers": sorted({row[3] for row in rows})[:50],
        },
    )
    return len(rows)


# --- checks ---------------------------------------------------------------------------------


def _node_of_members(session: Session, member_ids: set[int]) -> dict[int, Node]:
    """The person each member is: its lead when it came from one, else itself."""
    found: dict[int, Node] = {}
    for chunk in chunks(sorted(member_ids), 5_000):
        for member_id, lead_id in session.execute(
            select(Member.id, Member.lead_id).where(Member.id.in_(chunk))
        ).all():
            found[member_id] = ("L", lead_id) if lead_id is not None else ("M", member_id)
    return found


def _parents(session: Session, nodes: set[Node]) -> dict[Node, int]:
    """{person: the member who referred them}, as the lead or any of its members names."""
    parents: dict[Node, int] = {}
    leads = sorted(i for kind, i in nodes if kind == "L")
    members = sorted(i for kind, i in nodes if kind == "M")
    for chunk in chunks(leads, 5_000):
        statement = select(Lead.id, Lead.referred_by_member_id).where(
            Lead.id.in_(chunk), Lead.referred_by_member_id.is_not(None)
        )
        for lead_id, referrer in session.execute(statement).all():
            parents[("L", lead_id)] = referrer
        statement = select(Member.lead_id, Member.referred_by_member_id).where(
            Member.lead_id.in_(chunk), Member.referred_by_member_id.is_not(None)
        )
        for lead_id, referrer in session.execute(statement).all():
            parents.setdefault(("L", lead_id), referrer)
    for chunk in chunks(members, 5_000):
        statement = select(Member.id, Member.referred_by_member_id).where(
            Member.id.in_(chunk), Member.referred_by_member_id.is_not(None)
        )
        for member_id, referrer in session.execute(statement).all():
            parents[("M", member_id)] = referrer
    return parents


def referral_problems(
    session: Session, rows: Sequence[tuple[Node | None, int | None, int]]
) -> dict[int, str]:
    """{row index: "self" | "cycle"} for rows (the person the row is — None for a new
    person with no lead —, the member the row itself is or None, the referrer's member id).
    A row names itself when the referrer is that person; it closes a cycle when walking up
    from the referrer (through the database and the other rows) reaches the row's person."""
    referrer_ids = {referrer for _node, _member, referrer in rows}
    person_of = _node_of_members(session, referrer_ids)
    problems: dict[int, str] = {}
    pending: dict[int, Node] = {}
    new_parents: dict[Node, int] = {}
    for i, (node, member_id, referrer) in enumerate(rows):
        if referrer == member_id or (node is not None and person_of.get(referrer) == node):
            problems[i] = "self"
        elif node is not None:
            pending[i] = person_of[referrer]
            new_parents[node] = referrer
    seen: dict[int, set[Node]] = {i: {step} for i, step in pending.items()}
    for _ in range(MAX_WALK):
        if not pending:
            break
        for i, step in list(pending.items()):
            if step == rows[i][0]:
                problems[i] = "cycle"
                del pending[i]
        parents = _parents(session, set(pending.values()))
        parents.update({n: r for n, r in new_parents.items() if n in set(pending.values())})
        person_of.update(_node_of_members(session, set(parents.values()) - person_of.keys()))
        for i, step in list(pending.items()):
            referrer = parents.get(step)
            if referrer is None:
                del pending[i]
                continue
            following = person_of[referrer]
            if following in seen[i]:  # an old loop above this row, not through it
                del pending[i]
                continue
            seen[i].add(following)
            pending[i] = following
    for i in pending:
        problems[i] = "cycle"  # a chain longer than MAX_WALK: refused as one
    return problems


class ReferralError(AppError):
    """A referrer refused (SPEC §10): no such member, the person themself, or a cycle. The
    message names the field ("Referred by (member no.)")."""


def _problem_error(problem: str, number: str) -> ReferralError:
    return ReferralError(f"referrals.err.{problem}", value=number)


def check_referrer(
    session: Session, *, member_no: str | None, node: Node | None = None,
    member_id: int | None = None,
) -> Member | None:  # fmt: skip
    """The member a form's "Referred by (member no.)" names, by the rule the imports and
    the table editor apply (`referral_problems`): a member that exists, not the person
    themself (`node`: ("L", lead id) or ("M", member id), None for a new person;
    `member_id`: the member the person is), closing no cycle. None when blank;
    ReferralError otherwise."""
    number = clean_text((member_no or "").strip(), field="referred_by_member_no")
    if not number:
        return None
    statement = select(Member).where(Member.member_no == number)
    referrer = session.execute(statement).scalars().first()
    if referrer is None:
        raise ReferralError("referrals.err.unknown", value=number)
    problem = referral_problems(session, [(node, member_id, referrer.id)]).get(0)
    if problem is not None:
        raise _problem_error(problem, number)
    return referrer


def person_of_member(member: Member) -> Node:
    """The person a member is: its lead when it came from one, else itself."""
    return ("L", member.lead_id) if member.lead_id is not None else ("M", member.id)


def set_member_referrer(
    session: Session, *, actor: Actor, member_id: int, referrer_no: str | None
) -> Member:
    """Name (or clear, when blank) the member who referred a member — the Members page's
    forms (admins and marketers) — checked by `check_referrer`, audited."""
    require_member_write(actor)
    member = session.get(Member, member_id)
    if member is None:
        raise LookupError(f"no member with id {member_id}")
    referrer = check_referrer(
        session, member_no=referrer_no, node=person_of_member(member), member_id=member.id
    )
    new_id = referrer.id if referrer is not None else None
    if new_id == member.referred_by_member_id:
        return member
    old = (
        session.get(Member, member.referred_by_member_id) if member.referred_by_member_id else None
    )
    member.referred_by_member_id = new_id
    member.version += 1
    session.add(member)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="member.referrer",
        entity="member",
        entity_id=member.member_no,
        detail={
            "old": old.member_no if old is not None else None,
            "new": referrer.member_no if referrer is not None else None,
        },
    )
    return member


def member_referrer(session: Session, *, actor: Actor, member_id: int) -> Member | None:
    """The member who referred this member (the member's own, else its lead's), or None."""
    require_role(actor, *READ_ROLES)
    member = session.get(Member, member_id)
    referrer = _parents(session, {person_of_member(member)}).get(person_of_member(member))
    return session.get(Member, member.referred_by_member_id or referrer or -1)


def attach_referrer(
    session: Session, *, actor: Actor, lead: Lead, referrer_id: int | None, alias: str
) -> tuple[str, str] | None:
    """A registration that collided with `lead` (SPEC §8) names a referrer: the lead takes
    it when the person has none (checked: not themself, no cycle — ReferralError), and a
    valid order already made is paid (`pay_referrals`). A person who already has another
    referrer keeps the first (SPEC §10 is silent): (kept member_no, named member_no) is
    returned for a warning. `alias` is the registration's own ref (audit)."""
    if referrer_id is None:
        return None
    node: Node = ("L", lead.id)
    current = _parents(session, {node}).get(node)
    if current == referrer_id:
        return None
    numbers = _member_numbers(session, {referrer_id, current} - {None})
    if current is not None:
        return numbers[current], numbers[referrer_id]
    problem = referral_problems(session, [(node, None, referrer_id)]).get(0)
    if problem is not None:
        raise _problem_error(problem, numbers[referrer_id])
    lead.referred_by_member_id = referrer_id
    lead.version += 1
    session.add(lead)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="lead.referrer",
        entity="lead",
        entity_id=lead.id,
        detail={"lead_ref": lead.lead_ref, "alias": alias, "new": numbers[referrer_id]},
    )
    pay_referrals(session, actor=actor, lead_ids=[lead.id])
    return None


def _member_numbers(session: Session, ids: set[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for chunk in chunks(sorted(ids), 5_000):
        statement = select(Member.id, Member.member_no).where(Member.id.in_(chunk))
        found.update(dict(session.execute(statement).all()))
    return found


@dataclass
class ReferrerKept:
    """A `leads` import row that collided with a person who already has another referrer:
    the first referrer is kept (a warning in the import's report, not an error)."""

    row: int
    lead_ref: str
    existing: str
    kept: str
    named: str
    outcome: str = "referrer_kept"

    def describe(self, lang: str = "en") -> str:
        return t("referrals.import_kept", lang, row=self.row, lead_ref=self.lead_ref,
                 existing=self.existing, kept=self.kept, named=self.named)  # fmt: skip


def plan_collided_referrers(
    session: Session,
    *,
    actions: Sequence[tuple],
    referrers: Sequence[int | None],
    refs: Sequence[str],
    numbers: Sequence[int],
    error: Any,
) -> tuple[dict[Any, tuple[int, str]], list[ReferrerKept]]:
    """The referrers of a `leads` file's rows that collided (SPEC §8 `actions`: (row index,
    existing lead id or None, existing ref, …, created_on)), in order of created_on, then
    row: ({existing lead id, or the ref of the file's row creating the lead: (the member to
    name, the row's ref)}, the rows whose referrer was not kept). The person's first
    referrer is kept; naming the person themself or closing a cycle is a row error
    (`error(i, column, key, **values)`)."""
    named = sorted(
        (action[5], numbers[action[0]], action[0], action[1], action[2]) for action in actions
         if referrers[action[0]] is not None
    )  # fmt: skip
    if not named:
        return {}, []
    parents = _parents(session, {("L", row[3]) for row in named if row[3] is not None})
    row_of_ref = {ref: i for i, ref in enumerate(refs)}
    current: dict[Any, int | None] = {}
    sets: dict[Any, tuple[int, str]] = {}
    kept_rows: list[tuple[int, str, Any]] = []
    for _on, _number, i, lead_id, ref in named:
        target = lead_id if lead_id is not None else ref
        if target not in current:  # the person's referrer before this file's collisions
            current[target] = (
                parents.get(("L", lead_id)) if lead_id is not None else referrers[row_of_ref[ref]]
            )
        if current[target] is None:
            current[target] = referrers[i]
            sets[target] = (referrers[i], refs[i])
        elif current[target] != referrers[i]:
            kept_rows.append((i, ref, target))
    member_nos = _member_numbers(session, set(referrers[i] for *_, i, _, _ in named) |
                                 {v for v in current.values() if v is not None})  # fmt: skip
    checks = [(target, referrer) for target, (referrer, _) in sets.items()
              if isinstance(target, int)]  # fmt: skip
    problems = referral_problems(session, [(("L", lead), None, member) for lead, member in checks])
    for j, problem in problems.items():
        referrer, ref = sets[checks[j][0]]
        error(row_of_ref[ref], "referred_by_member_no", f"referrals.import_{problem}",
              value=member_nos[referrer])  # fmt: skip
    kept = [
        ReferrerKept(numbers[i], refs[i], ref, member_nos[current[target]],
                     member_nos[referrers[i]])
        for i, ref, target in kept_rows
    ]  # fmt: skip
    return sets, kept


def apply_collided_referrers(
    session: Session, *, actor: Actor, sets: dict[Any, tuple[int, str]], ids: dict[str, int]
) -> None:
    """Name the referrers `plan_collided_referrers` kept, after the import inserted its new
    leads (`ids`: {ref: lead id} of those), audited; valid orders already made are paid."""
    for target, (referrer_id, ref) in sets.items():
        lead = session.get(Lead, target if isinstance(target, int) else ids[target])
        attach_referrer(session, actor=actor, lead=lead, referrer_id=referrer_id, alias=ref)


# --- lists ----------------------------------------------------------------------------------


def _member_visible(session: Session, actor: Actor, member: Member) -> None:
    """Department heads and staff see the members they or their department own."""
    require_role(actor, *READ_ROLES)
    staff_id = staff_scope(actor)
    department_id = department_scope(actor)
    if department_id is None:
        return
    owner = session.get(Staff, member.owner_staff_id) if member.owner_staff_id else None
    if owner is None and member.lead_id is not None:
        lead = session.get(Lead, member.lead_id)
        owner = session.get(Staff, lead.owner_staff_id) if lead is not None else None
    visible = owner is not None and (
        owner.id == staff_id if staff_id is not None else owner.department_id == department_id
    )
    if not visible:
        raise PermissionDenied("this member is not one of yours")


def _first_valid_orders(session: Session, lead_ids: set[int], member_ids: set[int]):
    """{("L"|"M", id): (created_on, kind)} of each lead's and member's first valid order."""
    found: dict[Node, tuple[dt.date, str]] = {}
    valid = Order.status == str(OrderStatus.valid)
    for tag, column, ids in (("L", Order.lead_id, lead_ids), ("M", Order.member_id, member_ids)):
        for chunk in chunks(sorted(ids), 5_000):
            statement = (
                select(column, Order.created_on, Order.kind)
                .where(valid, column.in_(chunk))
                .order_by(column, Order.created_on, Order.id)
            )
            for owner_id, created_on, kind in session.execute(statement).all():
                found.setdefault((tag, owner_id), (as_date(created_on), kind))
    return found


TREE_COLUMNS = ["level", "referrer_no", "kind", "ref", "name", "stage", "first_valid_on",
                "first_valid_kind", "referred", "member_no"]  # fmt: skip


def referral_tree(
    session: Session, *, actor: Actor, member_no: str, depth: int = MAX_DEPTH
) -> pd.DataFrame:
    """Whom a member brought, level by level (1: named this member; 2: named one of those
    members, or the member a lead of level 1 became; …): each lead or member with its stage
    (a member: its lead's), its first valid order (date and kind; a member's own orders,
    else its lead's), how many it brought and the member number it brings others under (a
    lead: the member it became, if any). One query per level, not per person."""
    member = session.execute(select(Member).where(Member.member_no == member_no)).scalars().first()
    if member is None:
        raise LookupError(f"no member with member_no '{member_no}'")
    _member_visible(session, actor, member)
    rows: list[dict[str, Any]] = []
    frontier = {member.id: member.member_no}
    visited = {member.id}
    referrer_lead = aliased(Lead)
    for level in range(1, depth + 1):
        if not frontier:
            break
        ids = sorted(frontier)
        leads = session.execute(
            select(Lead.id, Lead.lead_ref, Lead.name, Lead.stage, Lead.referred_by_member_id)
            .where(Lead.referred_by_member_id.in_(ids))
            .order_by(Lead.created_on, Lead.id)
        ).all()
        members = session.execute(
            select(Member.id, Member.member_no, Member.name, referrer_lead.stage,
                   Member.referred_by_member_id, Member.lead_id)
            .outerjoin(referrer_lead, referrer_lead.id == Member.lead_id)
            .where(Member.referred_by_member_id.in_(ids))
            .order_by(Member.joined_on, Member.id)
        ).all()  # fmt: skip
        # A lead that became a member shows once, as the member.
        member_leads = {row.lead_id for row in members if row.lead_id is not None}
        leads = [row for row in leads if row.id not in member_leads]
        # The members that leads of this level became bring the next level too.
        became = {
            lead_id: (member_id, number)
            for member_id, number, lead_id in session.execute(
                select(Member.id, Member.member_no, Member.lead_id).where(
                    Member.lead_id.in_([row.id for row in leads])
                )
            ).all()
        } if leads else {}  # fmt: skip
        firsts = _first_valid_orders(
            session, {row.id for row in leads} | member_leads, {row.id for row in members}
        )
        brought = metrics.referred_counts(
            session, [row.id for row in members] + [m for m, _ in became.values()]
        )
        following: dict[int, str] = {}
        for row in members:
            first = firsts.get(("M", row.id)) or firsts.get(("L", row.lead_id or -1))
            rows.append(dict(zip(TREE_COLUMNS, [
                level, frontier[row.referred_by_member_id], "member", row.member_no, row.name,
                row.stage, first[0] if first else None, first[1] if first else None,
                brought.get(row.id, 0), row.member_no,
            ], strict=True)))  # fmt: skip
            if row.id not in visited:
                visited.add(row.id)
                following[row.id] = row.member_no
        for row in leads:
            first = firsts.get(("L", row.id))
            member_id, number = became.get(row.id, (None, None))
            rows.append(dict(zip(TREE_COLUMNS, [
                level, frontier[row.referred_by_member_id], "lead", row.lead_ref, row.name,
                row.stage, first[0] if first else None, first[1] if first else None,
                brought.get(member_id, 0), number,
            ], strict=True)))  # fmt: skip
            if member_id is not None and member_id not in visited:
                visited.add(member_id)
                following[member_id] = number
        frontier = following
    return pd.DataFrame(rows, columns=TREE_COLUMNS)


def referred_count(session: Session, *, actor: Actor, member_no: str) -> int:
    """SPEC §10 `referred`: the leads and members naming this member."""
    member = session.execute(select(Member).where(Member.member_no == member_no)).scalars().first()
    if member is None:
        raise LookupError(f"no member with member_no '{member_no}'")
    _member_visible(session, actor, member)
    return metrics.referred_counts(session, [member.id]).get(member.id, 0)


def _named_in(first: dt.date, last: dt.date):
    """(member id, count) of the leads created and members joined in [first, last] that
    name a referrer, one UNION ALL aggregated by referrer."""
    leads = select(Lead.referred_by_member_id.label("member_id")).where(
        Lead.referred_by_member_id.is_not(None), Lead.created_on.between(first, last)
    )
    members = select(Member.referred_by_member_id.label("member_id")).where(
        Member.referred_by_member_id.is_not(None), Member.joined_on.between(first, last)
    )
    return leads.union_all(members).subquery("named")


def _member_owner_scope(actor: Actor):
    """A condition on Member limiting it to what a department head or staff login sees."""
    require_role(actor, *READ_ROLES)
    staff_id, department_id = staff_scope(actor), department_scope(actor)
    if staff_id is not None:
        return Member.owner_staff_id == staff_id
    if department_id is not None:
        return Member.owner_staff_id.in_(
            select(Staff.id).where(Staff.department_id == department_id)
        )
    return None


def referral_leaderboard(
    session: Session, *, actor: Actor, first_month: str, last_month: str, limit: int = 10
) -> pd.DataFrame:
    """Members ranked by the people (leads created, members joined) naming them in the
    months; ties share a rank. Columns: rank, member_no, name, referred."""
    first, _ = month_bounds(first_month)
    _, last = month_bounds(last_month)
    named = _named_in(first, last)
    statement = (
        select(Member.member_no, Member.name, func.count().label("referred"))
        .select_from(named)
        .join(Member, Member.id == named.c.member_id)
        .group_by(Member.id, Member.member_no, Member.name)
        .order_by(func.count().desc(), Member.member_no)
        .limit(limit)
    )
    condition = _member_owner_scope(actor)
    if condition is not None:
        statement = statement.where(condition)
    frame = pd.DataFrame(
        session.execute(statement).mappings().all(), columns=["member_no", "name", "referred"]
    )
    frame["referred"] = frame["referred"].astype(int)
    frame.insert(0, "rank", frame["referred"].rank(method="min", ascending=False).astype(int))
    return frame


def _their_members(session: Session, actor: Actor, staff_id: int | None):
    """The members that came from the staff member's leads or that they look after (a
    subquery of ids); the staff member defaults to the acting staff login."""
    require_role(actor, *READ_ROLES)
    own = staff_scope(actor)
    if staff_id is None:  # a head or marketer linked to a staff record: their own patients
        staff_id = own if own is not None else actor.staff_id
    if own is not None and staff_id != own:
        raise PermissionDenied("another staff member's figures")
    if staff_id is None:
        raise PermissionDenied("no staff member is linked to this login")
    if actor.role == Role.dept_head:
        staff = session.get(Staff, staff_id)
        if staff is None or staff.department_id != department_scope(actor):
            raise PermissionDenied("outside your department")
    return (
        select(Member.id)
        .outerjoin(Lead, Lead.id == Member.lead_id)
        .where(or_(Member.owner_staff_id == staff_id, Lead.owner_staff_id == staff_id))
    )


def patients_brought(session: Session, *, actor: Actor, staff_id: int | None = None) -> int:
    """How many people (leads and members) name as referrer a member that came from the
    staff member's leads or that they look after ("your patients brought 12 others").
    Defaults to the acting staff login."""
    theirs = _their_members(session, actor, staff_id)
    total = 0
    for model in (Lead, Member):
        column = model.referred_by_member_id
        total += int(
            session.execute(
                select(func.count()).select_from(model).where(column.in_(theirs))
            ).scalar_one()
        )
    return total


BROUGHT_COLUMNS = ["kind", "ref", "name", "on", "referrer_no", "referrer_name"]


def brought_people(
    session: Session, *, actor: Actor, staff_id: int | None = None, limit: int = 200
) -> pd.DataFrame:
    """Whom `patients_brought` counts, newest first: each lead or member (kind, ref, name,
    created or joined on) with the member who brought them. At most `limit` rows."""
    theirs = _their_members(session, actor, staff_id).subquery("theirs")
    referrer = aliased(Member)
    parts = []
    for kind, model, ref, on in (("lead", Lead, Lead.lead_ref, Lead.created_on),
                                 ("member", Member, Member.member_no, Member.joined_on)):  # fmt: skip
        parts.append(
            select(
                literal(kind).label("kind"),
                ref.label("ref"),
                model.name.label("name"),
                on.label("on"),
                referrer.member_no.label("referrer_no"),
                referrer.name.label("referrer_name"),
            )
            .join(referrer, referrer.id == model.referred_by_member_id)
            .where(model.referred_by_member_id.in_(select(theirs.c.id)))
        )
    union = parts[0].union_all(parts[1]).subquery("brought")
    statement = select(union).order_by(union.c.on.desc(), union.c.ref).limit(limit)
    frame = pd.DataFrame(session.execute(statement).mappings().all(), columns=BROUGHT_COLUMNS)
    frame["on"] = frame["on"].map(as_date)
    return frame


# --- recall ---------------------------------------------------------------------------------

RECALL_COLUMNS = [
    "patient",
    "name",
    "kind",
    "last_on",
    "due_on",
    "overdue_days",
    "lead_ref",
    "lead_id",
    "stage",
    "contact_staff_no",
    "contact_name",
    "department",
]


def recall_intervals(session: Session) -> dict[str, int]:
    """{order kind: months until a patient is due back} (setting `recall_months`)."""
    stored = settings_service.get_value(session, "recall_months") or {}
    return {str(kind): int(months) for kind, months in stored.items() if months}


def recall_list(session: Session, *, actor: Actor, on: dt.date, limit: int = 500) -> pd.DataFrame:
    """Patients due back on day `on`: their last valid order of a kind with a recall
    interval was created at least that many months before `on`. Each with the person to
    contact — the lead's owner, else the member's care person (its owner) — and the lead
    a follow-up is recorded on. Admin, executive and marketer see all; a department head
    their department's contacts; a staff login their own; a consultant none. Most overdue
    first."""
    require_role(actor, *READ_ROLES, Role.consultant)
    intervals = recall_intervals(session)
    if not intervals or actor.role == Role.consultant:
        return pd.DataFrame(columns=RECALL_COLUMNS)
    patient = metrics.patient_key(Order.lead_id, Order.member_id)
    last = func.max(Order.created_on)
    recent = (
        select(
            patient.label("patient"),
            Order.kind.label("kind"),
            func.max(Order.lead_id).label("lead_id"),
            func.max(Order.member_id).label("member_id"),
            last.label("last_on"),
        )
        .where(Order.status == str(OrderStatus.valid), Order.kind.in_(list(intervals)))
        .where(Order.created_on <= on, patient.is_not(None))
        .group_by(patient, Order.kind)
        .subquery("recent")
    )
    # Due: the last valid order of the kind is old enough (no later one of that kind).
    old_enough = or_(
        *[
            and_(recent.c.kind == kind, recent.c.last_on <= add_months(on, -months))
            for kind, months in intervals.items()
        ]
    )
    lead_of_member = aliased(Lead)
    contact_id = func.coalesce(Lead.owner_staff_id, lead_of_member.owner_staff_id,
                               Member.owner_staff_id)  # fmt: skip
    statement = (
        select(
            recent.c.kind,
            recent.c.last_on,
            case((recent.c.lead_id.is_not(None), Lead.lead_ref), else_=Member.member_no).label(
                "patient"
            ),
            func.coalesce(Lead.name, Member.name).label("name"),
            func.coalesce(Lead.lead_ref, lead_of_member.lead_ref).label("lead_ref"),
            func.coalesce(Lead.id, lead_of_member.id).label("lead_id"),
            func.coalesce(Lead.stage, lead_of_member.stage).label("stage"),
            Staff.staff_no.label("contact_staff_no"),
            Staff.name.label("contact_name"),
            Department.name.label("department"),
        )
        .select_from(recent)
        .outerjoin(Lead, Lead.id == recent.c.lead_id)
        .outerjoin(Member, Member.id == recent.c.member_id)
        .outerjoin(lead_of_member, lead_of_member.id == Member.lead_id)
        .outerjoin(Staff, Staff.id == contact_id)
        .outerjoin(Department, Department.id == Staff.department_id)
        .where(old_enough, func.coalesce(Lead.active, True).is_(True))
        .order_by(recent.c.last_on, recent.c.kind, recent.c.patient)
        .limit(limit)
    )
    staff_id, department_id = staff_scope(actor), department_scope(actor)
    if staff_id is not None:
        statement = statement.where(Staff.id == staff_id)
    elif department_id is not None:
        statement = statement.where(Staff.department_id == department_id)
    frame = pd.DataFrame(session.execute(statement).mappings().all())
    if frame.empty:
        return pd.DataFrame(columns=RECALL_COLUMNS)
    frame["last_on"] = frame["last_on"].map(as_date)
    frame["due_on"] = [
        add_months(day, intervals[kind])
        for day, kind in zip(frame["last_on"], frame["kind"], strict=True)
    ]
    frame["overdue_days"] = [(on - day).days for day in frame["due_on"]]
    return frame[RECALL_COLUMNS]
