"""Figures by owner read the owner at the end of the period (SPEC §8), in SQL.

Every lead has ownership periods (core.models.OwnershipPeriod, written by
core.services.ownership); the owner at the end of day D is the staff member of the period
with from_on ≤ D < to_on. Changes of owner are rare, so counts by owner keep their fast
path over `Lead.owner_staff_id` (the current owner, indexed with created_on) and add a
correction computed from the few leads whose owner ever changed (a period with `to_on`):

    owned_at(S, D) = owned_now(S) + Σ(+1 where S held a changed lead at D,
                                      −1 where S holds a changed lead now)

over the leads the figure counts. A lead merged into another has no owner after the merge.
Periods never start before the lead's created_on, so "created on or before D" needs no
second check on the period.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, case, func, literal, or_, select, true, union_all

from core.models import Lead, OwnershipPeriod


def changed_leads():
    """The ids of the leads whose owner ever changed (one scan of the to_on index)."""
    return select(OwnershipPeriod.lead_id).where(OwnershipPeriod.to_on.is_not(None)).distinct()


def _held_at(day):
    return and_(
        OwnershipPeriod.from_on <= day,
        or_(OwnershipPeriod.to_on.is_(None), OwnershipPeriod.to_on > day),
    )


def owner_delta(day: dt.date, *, created_from: dt.date | None = None, created_to=None):
    """(staff_id, delta) for `day`: add delta to a current-owner count of the leads created
    in [created_from, created_to] (created_to defaults to `day`) to get the count by the
    owner at the end of `day`. Staff without a change are absent."""
    return owner_delta_by_month(None, day=day, created_from=created_from, created_to=created_to)


def owner_delta_by_month(
    months, *, day=None, created_from=None, created_to=None, new_only: bool = False
):
    """(month, staff_id, delta) over a months table (month, first_day, last_day): the
    correction of each month's current-owner count of the leads created on or before
    end(M) (with `new_only`: created in M) to the count by the owner at end(M). Without a
    months table (`months` None), the same for the one `day`, as (staff_id, delta)."""
    changed = changed_leads()
    if months is None:
        last, first = day, created_from
        upper = created_to if created_to is not None else day
        keys: list = []
    else:
        last, first = months.c.last_day, months.c.first_day if new_only else None
        upper = months.c.last_day
        keys = [months.c.month]

    def created(column):
        condition = column <= upper
        return and_(condition, column >= first) if first is not None else condition

    plus = (
        select(*keys, OwnershipPeriod.staff_id.label("staff_id"), literal(1).label("delta"))
        .select_from(OwnershipPeriod)
        .join(Lead, Lead.id == OwnershipPeriod.lead_id)
        .where(OwnershipPeriod.lead_id.in_(changed), _held_at(last), created(Lead.created_on))
    )
    minus = (
        select(*keys, Lead.owner_staff_id.label("staff_id"), literal(-1).label("delta"))
        .select_from(Lead)
        .where(Lead.id.in_(changed), created(Lead.created_on))
    )
    if months is not None:
        plus = plus.join(months, true())
        minus = minus.join(months, true())
    both = union_all(plus, minus).subquery("owner_moves")
    group = [both.c.month] if months is not None else []
    total = func.sum(both.c.delta)
    return (
        select(*group, both.c.staff_id, total.label("delta"))
        .group_by(*group, both.c.staff_id)
        .having(total != 0)
        .subquery("owner_delta")
    )


def owned_by_month(months):
    """(month, staff_id, owned): for the staff whose count differs, the number of leads
    created on or before end(M) that they owned at end(M) (`staff_active`, SPEC §8)."""
    delta = owner_delta_by_month(months)
    base = (
        select(func.count())
        .select_from(Lead)
        .where(Lead.owner_staff_id == delta.c.staff_id, Lead.created_on <= months.c.last_day)
        .scalar_subquery()
    )
    return (
        select(delta.c.month, delta.c.staff_id, (delta.c.delta + base).label("owned"))
        .select_from(delta)
        .join(months, months.c.month == delta.c.month)
        .subquery("owned_at_end")
    )


def active_condition(owned, reached, last_day, threshold: int):
    """Owned at least `threshold` leads at end(M): the corrected count where there is one,
    else the current owner's `threshold`-th lead created by then (metrics' fast path)."""
    return or_(
        and_(owned.c.owned.is_not(None), owned.c.owned >= threshold),
        and_(owned.c.owned.is_(None), reached.c.reached_on <= last_day),
    )


def owned_counts(day: dt.date, *, new_from: dt.date, cumulative: bool = True):
    """(staff_id, leads, leads_new) by the owner at the end of `day`: `leads`, the leads
    created on or before `day` each staff member owned then (0 without `cumulative`), and
    `leads_new`, those of them created on or after `new_from` (the roster, the leaderboard,
    the department comparison: SPEC §8, a change dated after `day` never changes it)."""
    created = Lead.created_on <= day
    if not cumulative:
        created = and_(created, Lead.created_on >= new_from)
    new = case((Lead.created_on >= new_from, 1), else_=0)
    base = (
        select(
            Lead.owner_staff_id.label("staff_id"),
            (func.count() if cumulative else literal(0)).label("leads"),
            func.sum(new).label("leads_new"),
        )
        .where(created)
        .group_by(Lead.owner_staff_id)
    )
    parts = [base]
    if cumulative:
        every = owner_delta(day)
        parts.append(select(every.c.staff_id, every.c.delta, literal(0)))
    fresh = owner_delta(day, created_from=new_from)
    parts.append(select(fresh.c.staff_id, literal(0), fresh.c.delta))
    rows = union_all(*parts).subquery("owned_rows")
    return (
        select(
            rows.c.staff_id,
            func.sum(rows.c.leads).label("leads"),
            func.sum(rows.c.leads_new).label("leads_new"),
        )
        .group_by(rows.c.staff_id)
        .subquery("owned_counts")
    )
