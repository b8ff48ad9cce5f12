"""What each import kind's rows become (SPEC §5): one plan per KIND converts its columns
(`core.importing.checks.Checker`), checks what spans columns or rows, and — only when no row
was bad — builds the rows to insert by zipping the converted columns (`Plan`, written by
`core.importing.writer`), with what goes with them (a new lead's first ownership period and
stage) and after them (a leads file's collisions, transfers, referral rewards, rescoring).

Decisions SPEC leaves open:
- `points` of kind `redeem` or `expire` take points away: the file may give them with either
  sign (`200` or `-200`), they are stored negative. `adjust` may be either sign but not 0;
  every earning kind must be positive. Balances are checked in date order together with the
  member's existing entries (on one day, credits before debits), and a row that would take a
  balance below 0 at any time, even through a later existing entry, is refused.
- `interactions`: `points` is optional (the scoring rule's points by default); a kind whose
  rule has a range (browse_news: 1..5) must stay inside it; other kinds take any points ≥ 0.
  An interaction dated before its lead's creation is refused. Only active scoring-rule kinds
  are accepted. After the write, each affected lead is rescored and promoted
  (`core.services.leads.rescore_leads`).
- Staff card dates must be in order (issued ≤ activated ≤ profile completed; issued ≤ revoked).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable

from sqlalchemy import bindparam, case, func, select
from sqlmodel import Session

from core.db import CHUNK, as_date, chunks, fetch_rows
from core.domain import OrderStatus, PointsKind
from core.importing.checks import MAX_INT, Checker, ids_by_key, ids_of
from core.importing.outcome import ImportReport, show_cell
from core.importing.writer import Plan, Write, inserting, max_id
from core.models import (
    Campaign,
    Department,
    Followup,
    Interaction,
    Lead,
    Member,
    Order,
    OwnershipPeriod,
    PointsEntry,
    Staff,
    StaffActivity,
    StageChange,
)
from core.permissions import Actor
from core.services import ownership, referrals
from core.services import settings as settings_service


def _plan_departments(ck: Checker, actor: Actor, now: dt.datetime) -> Plan:
    codes, names = ck.column("code"), ck.column("name")
    if ck.errors:
        return Plan()
    return Plan(Department, {"code": codes, "name": names}, {"active": True})


def _plan_staff(ck: Checker, actor: Actor, now: dt.datetime) -> Plan:
    numbers, names = ck.column("staff_no"), ck.column("name")
    departments = ck.column("department_code")
    titles, phones = ck.column("title"), ck.column("phone")
    issued, activated = ck.column("card_issued_on"), ck.column("card_activated_on")
    completed, revoked = ck.column("profile_completed_on"), ck.column("card_revoked_on")
    order = (
        ("card_activated_on", activated, "card_issued_on", issued),
        ("profile_completed_on", completed, "card_activated_on", activated),
        ("card_revoked_on", revoked, "card_issued_on", issued),
    )
    for i in list(ck.good_rows()):
        for name, values, other, others in order:
            if values[i] is None:
                continue
            if others[i] is None:
                ck.error(i, name, "importer.date_requires", other=other)
            elif values[i] < others[i]:
                ck.error(
                    i, name, "importer.date_order", value=values[i], other=other,
                    other_value=others[i],
                )  # fmt: skip
    if ck.errors:
        return Plan()
    columns = {
        "staff_no": numbers,
        "name": names,
        "department_id": ids_of(departments),
        "title": titles,
        "phone": phones,
        "card_issued_on": issued,
        "card_activated_on": activated,
        "profile_completed_on": completed,
        "card_revoked_on": revoked,
    }
    constants = {"card_revoke_reason": None, "left_on": None, "active": True, "created_at": now}
    return Plan(Staff, columns, constants)


def _plan_activity(ck: Checker, actor: Actor, now: dt.datetime) -> Plan:
    staff, dates, kinds = ck.column("staff_no"), ck.column("date"), ck.column("kind")
    if ck.errors:
        return Plan()
    return Plan(StaffActivity, {"staff_id": ids_of(staff), "date": dates, "kind": kinds})


def _plan_campaigns(ck: Checker, actor: Actor, now: dt.datetime) -> Plan:
    codes, names, types = ck.column("code"), ck.column("name"), ck.column("type")
    channels, owners = ck.column("channel"), ck.column("owner_staff_no")
    starts, ends = ck.column("starts_on"), ck.column("ends_on")
    budgets, targets = ck.column("budget"), ck.integer("target_leads", 0, MAX_INT)
    for i in list(ck.good_rows()):
        if ends[i] < starts[i]:
            ck.error(
                i, "ends_on", "importer.date_order", value=ends[i], other="starts_on",
                other_value=starts[i],
            )  # fmt: skip
    if ck.errors:
        return Plan()
    columns = {
        "code": codes,
        "name": names,
        "type": types,
        "channel": channels,
        "owner_staff_id": ids_of(owners),
        "starts_on": starts,
        "ends_on": ends,
        "budget": budgets,
        "target_leads": targets,
    }
    return Plan(Campaign, columns, {"status": "planned"})


def _plan_leads(ck: Checker, actor: Actor, now: dt.datetime) -> Plan:
    refs, names, phones = ck.column("lead_ref"), ck.column("name"), ck.column("phone")
    owners, created = ck.column("owner_staff_no"), ck.column("created_on")
    sources, campaigns = ck.column("source_channel"), ck.column("campaign_code")
    tags, stages = ck.column("tags"), ck.column("stage")
    referrers = ck.column("referred_by_member_no")
    if ck.errors:
        return Plan()
    # SPEC §8: person keys; a row whose key is already held becomes a touch or a claim.
    credit = ownership.plan_import(
        ck.session,
        phones=phones,
        refs=refs,
        owners=ids_of(owners),
        owner_nos=[owner[0] for owner in owners],
        created=created,
        numbers=ck.numbers,
        error=ck.error,
        referrers=ids_of(referrers),  # SPEC §10: a collided row's referrer is kept
    )
    if credit is None:
        return Plan()
    columns = {
        "lead_ref": refs,
        "name": names,
        "phone": phones,
        "owner_staff_id": ids_of(owners),
        "created_on": created,
        "source_channel": sources,
        "campaign_id": ids_of(campaigns),
        "tags": tags,
        "stage": [stage or "distrust" for stage in stages],
        "person_key": credit.keys,
        "referred_by_member_id": ids_of(referrers),
    }
    written = None  # every row creates a lead, unless some collide
    if len(credit.creates) < ck.n:
        written = credit.creates
        columns = {name: [values[i] for i in written] for name, values in columns.items()}
        stages = [stages[i] for i in written]
    constants = {
        "version": 1,
        "points_total": 0,
        "decay_weeks": 0,
        "last_interaction_on": None,
        "active": True,
        "updated_at": now,
        "updated_by_user_id": actor.user_id,
    }
    new_refs, new_created = columns["lead_ref"], columns["created_on"]
    staged = [j for j, stage in enumerate(stages) if stage]
    move = {
        "from_stage": None,
        "changed_at": now,
        "changed_by_user_id": actor.user_id,
        "is_system": actor.is_system,
        "reason": "import",
    }

    def extra(session: Session, start: int, end: int, after_id: int) -> list:
        # SPEC §8: each new lead's first ownership period (`created`), written with it.
        writes = [(OwnershipPeriod.__table__, _opening_periods(after_id))]
        # An initial stage given in the file is the lead's first move, audited as such.
        rows = staged[bisect.bisect_left(staged, start) : bisect.bisect_left(staged, end)]
        if rows:
            ids = ids_by_key(session, "lead", [new_refs[j] for j in rows])
            columns = {
                "lead_id": [ids[new_refs[j]] for j in rows],
                "to_stage": [stages[j] for j in rows],
                "changed_on": [new_created[j] for j in rows],
            }
            table = StageChange.__table__
            writes.insert(0, (table, inserting(table, columns, move)))
        return writes

    def after(session: Session, actor: Actor, report: ImportReport) -> None:
        # The collisions (touches, claims, aliases) once every new lead is in. The new leads'
        # periods went with them (`extra`): none is left for apply_import to open.
        if credit.actions:
            last_id = max_id(session, Lead.__table__)
            ownership.apply_import(
                session, actor=actor, plan=credit, refs=refs, first_new_id=last_id
            )

    return Plan(Lead, columns, constants, extra, after, credit=credit.events, rows=written)


def _opening_periods(after_id: int) -> Write:
    """Writes the `created` ownership periods of the leads with ids above `after_id`."""

    def write(session: Session) -> int:
        return ownership.open_initial_periods(session, after_id=after_id)

    return write


def _plan_transfers(ck: Checker, actor: Actor, now: dt.datetime) -> Plan:
    leads, to_staff = ck.column("lead_ref"), ck.column("to_staff_no")
    days, reasons = ck.column("transferred_on"), ck.column("reason")
    if ck.errors:
        return Plan()
    rows = ownership.plan_transfers(
        ck.session, leads=leads, to_staff=to_staff, days=days, reasons=reasons,
        numbers=ck.numbers, error=ck.error,
    )  # fmt: skip
    if ck.errors:
        return Plan()

    def after(session: Session, actor: Actor, report: ImportReport) -> None:
        ownership.apply_transfers(session, actor=actor, rows=rows)

    # No rows of its own: changes of owner, in one transaction (never in chunks).
    return Plan(None, after=after)


def _active_rules(session: Session) -> dict[str, tuple[int, int, int]]:
    """{kind: (default points, lowest, highest)} of the active scoring rules."""
    return {
        kind: (
            rule.points,
            rule.min_points if rule.min_points is not None else 0,
            rule.max_points if rule.max_points is not None else MAX_INT,
        )
        for kind, rule in settings_service.scoring_rules(session).items()
        if rule.active
    }


def _plan_interactions(ck: Checker, actor: Actor, now: dt.datetime) -> Plan:
    rules = ck.read(_active_rules)
    leads, kinds = ck.column("lead_ref"), ck.choice("kind", sorted(rules))
    dates, points = ck.column("occurred_on"), ck.integer("points", 0, MAX_INT)
    bad = set(ck.bad)  # rows bad in some cell: nothing more is checked on them
    late = _before_created(ck, leads, dates, bad)
    for i in late:
        ck.error(i, "occurred_on", "importer.before_created", value=dates[i], created=leads[i][2])
    bad.update(late)
    for i in _points_out_of_range(ck, rules, kinds, points, bad):
        _default, low, high = rules[kinds[i]]
        ck.error(
            i, "points", "importer.points_range", kind=kinds[i], low=low, high=high,
            value=points[i],
        )  # fmt: skip
    if None in points:
        defaults = {kind: rule[0] for kind, rule in rules.items()}
        points = [
            defaults.get(kind) if value is None else value
            for kind, value in zip(kinds, points, strict=True)
        ]
    if ck.errors:
        return Plan()
    lead_ids = ids_of(leads)
    touched = sorted(set(lead_ids))
    constants = {"note": None, "created_by_user_id": actor.user_id, "created_at": now}
    columns = {"lead_id": lead_ids, "kind": kinds, "occurred_on": dates, "points": points}
    return Plan(Interaction, columns, constants, rescore=touched, leads_touched=len(touched))


def _before_created(ck: Checker, leads: list, dates: list, bad: set[int]) -> list[int]:
    """The good rows dated before their lead was created. None when the file's first date
    is on or after the latest creation of the leads it names (an import of new
    interactions): then no row is looked at."""
    days = [day for day in ck.distinct["occurred_on"].values() if day is not None]
    created = [row[2] for row in ck.found["lead_ref"].values()]
    if not days or not created or min(days) >= max(created):
        return []
    return [
        i
        for i, lead, day in zip(range(ck.n), leads, dates, strict=True)
        if lead is not None and day is not None and day < lead[2] and i not in bad
    ]


def _points_out_of_range(
    ck: Checker, rules: dict[str, tuple[int, int, int]], kinds: list, points: list, bad: set[int]
) -> list[int]:
    """The good rows whose points are outside their kind's range. None when every value in
    the file is within every range of the kinds it names; else each distinct (kind, points)
    pair is checked once, and only the rows of a pair out of range are looked for."""
    values = [value for value in ck.distinct["points"].values() if value is not None]
    named = [rules[kind] for kind in ck.distinct["kind"].values() if kind is not None]
    if not values or not named:
        return []
    if max(rule[1] for rule in named) <= min(values) and max(values) <= min(
        rule[2] for rule in named
    ):
        return []
    wrong = {
        (kind, value)
        for kind, value in set(zip(kinds, points, strict=True))
        if kind is not None and value is not None and not rules[kind][1] <= value <= rules[kind][2]
    }
    if not wrong:
        return []
    return [
        i
        for i, pair in enumerate(zip(kinds, points, strict=True))
        if pair in wrong and i not in bad
    ]


def _plan_followups(ck: Checker, actor: Actor, now: dt.datetime) -> Plan:
    leads, staff, kinds = ck.column("lead_ref"), ck.column("staff_no"), ck.column("kind")
    days, notes, nexts = ck.column("occurred_on"), ck.column("note"), ck.column("next_on")
    today = settings_service.hospital_today(ck.session)
    for i in range(ck.n):
        if i in ck.bad:
            continue
        day, following = days[i], nexts[i]
        if day > today:
            ck.error(i, "occurred_on", "followups.import.future", value=day)
        elif day < leads[i][2]:
            ck.error(i, "occurred_on", "importer.before_created", value=day, created=leads[i][2])
        elif following is not None and following < day:
            ck.error(i, "next_on", "followups.import.next_before", value=following, day=day)
    if ck.errors:
        return Plan()
    constants = {"created_by_user_id": actor.user_id, "created_at": now}
    columns = {"lead_id": ids_of(leads), "staff_id": ids_of(staff), "kind": kinds,
               "occurred_on": days, "note": notes, "next_on": nexts}  # fmt: skip
    return Plan(Followup, columns, constants)


def _plan_orders(ck: Checker, actor: Actor, now: dt.datetime) -> Plan:
    refs, staff, kinds = ck.column("order_ref"), ck.column("staff_no"), ck.column("kind")
    amounts, statuses, created = ck.column("amount"), ck.column("status"), ck.column("created_on")
    leads, members = ck.column("lead_ref"), ck.column("member_no")
    if ck.errors:
        return Plan()
    columns = {
        "order_ref": refs,
        "staff_id": ids_of(staff),
        "kind": kinds,
        "amount": amounts,
        "status": statuses,
        "created_on": created,
        "lead_id": ids_of(leads),
        "member_id": ids_of(members),
    }
    valid = str(OrderStatus.valid)
    paying = {
        lead
        for lead, status in zip(columns["lead_id"], statuses, strict=True)
        if lead and status == valid
    }

    def after(session: Session, actor: Actor, report: ImportReport) -> None:
        # SPEC §10: a referred lead's first valid order pays its referrer, once per lead.
        if paying:
            referrals.pay_referrals(session, actor=actor, lead_ids=paying)

    return Plan(Order, columns, after=after)


def _plan_members(ck: Checker, actor: Actor, now: dt.datetime) -> Plan:
    numbers, names, joined = ck.column("member_no"), ck.column("name"), ck.column("joined_on")
    phones, birthdays, leads = ck.column("phone"), ck.column("birthday"), ck.column("lead_ref")
    referrers = _referrers(ck, numbers, leads)
    if ck.errors:
        return Plan()
    owners = [None if lead is None else lead[3] for lead in leads]
    columns = {
        "member_no": numbers,
        "name": names,
        "joined_on": joined,
        "phone": phones,
        "birthday": birthdays,
        "lead_id": ids_of(leads),
        "owner_staff_id": owners,
        "referred_by_member_id": ids_of(referrers),
    }
    return Plan(Member, columns, {"version": 1, "active": True})


def _referrers(ck: Checker, numbers: list, leads: list) -> list[tuple | None]:
    """A members file's `referred_by_member_no`: a member that exists, not the row's own
    member (or the member of the row's lead), closing no cycle of referrals (A referred B
    referred A; a member and the lead it came from are one person)."""
    name = "referred_by_member_no"
    own = [
        i
        for i, (cell, number) in enumerate(zip(ck.raw(name), numbers, strict=True))
        if cell and cell == number
    ]
    referrers = ck.column(name)
    if own:  # the row's own (new) member: "names themself", not "no such member"
        rows = {ck.numbers[i] for i in own}
        ck.errors = [e for e in ck.errors if not (e.column == name and e.row in rows)]
        for i in own:
            ck.error(i, name, "referrals.import_self", value=show_cell(numbers[i]))
    checked = [
        (i, (None if leads[i] is None else ("L", leads[i][1])), None, referrer[1])
        for i, referrer in enumerate(referrers)
        if referrer is not None and i not in ck.bad
    ]
    problems = referrals.referral_problems(ck.session, [row[1:] for row in checked])
    for j, problem in problems.items():
        i = checked[j][0]
        ck.error(i, name, f"referrals.import_{problem}", value=show_cell(referrers[i][0]))
    return referrers


_DEBITS = frozenset({str(PointsKind.redeem), str(PointsKind.expire)})


def _plan_points(ck: Checker, actor: Actor, now: dt.datetime) -> Plan:
    members, kinds = ck.column("member_no"), ck.column("kind")
    points, dates = ck.column("points"), ck.column("occurred_on")
    signed: list[int | None] = [None] * ck.n
    for i in list(ck.good_rows()):
        kind, given, day, member = kinds[i], points[i], dates[i], members[i]
        if kind in _DEBITS or kind == PointsKind.adjust:
            if given == 0:
                ck.error(i, "points", "importer.points_zero")
                continue
            value = -abs(given) if kind in _DEBITS else given
        elif given <= 0:
            ck.error(i, "points", "importer.points_positive", kind=kind, value=given)
            continue
        else:
            value = given
        if day < member[2]:
            ck.error(i, "occurred_on", "importer.before_joined", value=day, joined=member[2])
            continue
        signed[i] = value
    _check_balances(ck, signed, members, kinds, dates)
    if ck.errors:
        return Plan()
    columns = {"member_id": ids_of(members), "kind": kinds, "points": signed, "occurred_on": dates}
    constants = {"note": None, "created_by_user_id": actor.user_id, "created_at": now}
    return Plan(PointsEntry, columns, constants)


def _check_balances(ck: Checker, signed, members, kinds, dates) -> None:
    """No member's balance may go below 0 at any date, counting existing entries (in date
    order; on one day credits before debits, existing entries before the file's)."""
    by_member: dict[int, list[tuple]] = {}
    for i, value in enumerate(signed):
        if value is not None:
            # (date, is debit, existing first, row order, points, row index or None)
            event = (dates[i], value < 0, 1, i, value, i)
            by_member.setdefault(members[i][1], []).append(event)
    if not by_member:
        return
    table = PointsEntry.__table__
    credit = func.sum(case((table.c.points > 0, table.c.points), else_=0))
    debit = func.sum(case((table.c.points < 0, table.c.points), else_=0))
    query = (
        select(table.c.member_id, table.c.occurred_on, credit, debit)
        .where(table.c.member_id.in_(bindparam("chunk", expanding=True)))
        .group_by(table.c.member_id, table.c.occurred_on)
    )
    for chunk in chunks(sorted(by_member), CHUNK):
        bound = query.params(chunk=chunk)
        for member_id, occurred_on, plus, minus in ck.read(
            lambda session, bound=bound: fetch_rows(session, bound)
        ):
            day = as_date(occurred_on)
            events = by_member[member_id]
            if plus:
                events.append((day, False, 0, -1, int(plus), None))
            if minus:
                events.append((day, True, 0, -1, int(minus), None))
    for events in by_member.values():
        events.sort(key=lambda event: event[:4])
        balance = 0
        last_debit: int | None = None
        blamed: set[int] = set()
        for day, _debit, _existing, _order, value, i in events:
            balance += value
            if i is not None and value < 0:
                last_debit = i
            if balance >= 0:
                continue
            culprit = i if (i is not None and value < 0) else last_debit
            if culprit is None or culprit in blamed:
                continue  # negative before this file, or already reported
            blamed.add(culprit)
            details = {
                "kind": kinds[culprit],
                "points": abs(signed[culprit]),
                "date": dates[culprit],
                "member": members[culprit][0],
                "balance": balance,
            }
            if culprit == i:
                ck.error(culprit, "points", "importer.balance", **details)
            else:
                ck.error(culprit, "points", "importer.balance_later", later=day, **details)


PLANS: dict[str, Callable[[Checker, Actor, dt.datetime], Plan]] = {
    "departments": _plan_departments,
    "staff": _plan_staff,
    "activity": _plan_activity,
    "campaigns": _plan_campaigns,
    "leads": _plan_leads,
    "interactions": _plan_interactions,
    "transfers": _plan_transfers,
    "followups": _plan_followups,
    "orders": _plan_orders,
    "members": _plan_members,
    "points": _plan_points,
}
