"""SPEC §3's numbers, each defined once, here, as an SQL aggregate.

One cohesive module: the single home of every SPEC §3 definition (its scope rules and shared
aggregates are private to it), so no number is defined twice.

Months come from `core.months` (date bounds, never `strftime`/`date_trunc`, so every query
runs unchanged on SQLite and PostgreSQL). Figures over several months group by its small
table of month bounds (`months_table`) joined on `BETWEEN`, so a 24-month trend is one query
per figure, not one per month.

The rules an administrator may change (thresholds, decay, commission, tiers, default
licences) come in as a `Rules` value the caller passes (`core.services.settings.metric_rules`
reads them): this module reads no setting and imports no service.

Scoping (every function takes the acting user): admin, executive and marketer see the whole
hospital; a department head sees their department's staff and those staff's leads, orders
and members; a staff login sees only themself (department-level lists such as the department
table and the leaderboard show their own department); consultants see no hospital figures.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, func, or_, select, true
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session

from core import credit
from core.db import as_date
from core.domain import (
    NON_EARNING_POINTS_KINDS,
    STAGE_ORDER,
    OrderKind,
    OrderStatus,
    Role,
)
from core.models import (
    CardLicence,
    CommissionLine,
    CommissionSheet,
    Department,
    Handoff,
    Interaction,
    Lead,
    Member,
    Order,
    PointsEntry,
    Staff,
    StaffActivity,
)

# The month helpers live in core.months; these names stay importable from here.
from core.months import (  # noqa: F401
    MONTH_PATTERN,
    month_bounds,
    month_of,
    month_of_day,
    months_between,
    months_table,
    next_month,
    previous_month,
)
from core.permissions import (
    Actor,
    PermissionDenied,
    department_scope,
    require_role,
    staff_scope,
)
from core.scoring import score_as_of, suggested_stage

if TYPE_CHECKING:
    import pandas as pd

CENT = Decimal("0.01")
LEADERBOARD_MEASURES = ("leads", "valid_appointments", "valid_revenue", "members_converted")
COMMISSION_KINDS = (OrderKind.mall, OrderKind.checkup)
# "The top 20% of members" of the 20/80 chart (see `top_member_count`).
TOP_MEMBER_SHARE = 0.2

# Roles that see hospital figures (scoped as the module docstring says).
FIGURE_ROLES = (Role.admin, Role.executive, Role.marketer, Role.dept_head, Role.staff)
COMMISSION_ROLES = (Role.admin, Role.executive, Role.dept_head, Role.staff)


@dataclass(frozen=True)
class Rules:
    """The administrator's rules the figures depend on, passed in by the caller
    (`core.services.settings.metric_rules(session)` reads the ones in force)."""

    today: dt.date  # the hospital's today (a lead's score defaults to it)
    active_staff_lead_threshold: int
    default_licences: int
    idle_decay_points: int
    stage_thresholds: Mapping[str, int]
    handoff_threshold: int
    commission_per_appointment: Decimal
    commission_rate: Decimal
    tiers: tuple[tuple[int, int], ...] = field(default=((1, 0),))  # (level, threshold)


# --- Months -------------------------------------------------------------------------------


def latest_data_month(session: Session) -> str | None:
    """The latest month with leads or orders (pages open on it).

    Staff activity does not count: every sign-in records some, so a login today would move
    the pages to an empty month of a database whose business data ended earlier.
    """
    latest = session.exec(
        select(
            select(func.max(Lead.created_on)).scalar_subquery(),
            select(func.max(Order.created_on)).scalar_subquery(),
        )
    ).one()
    # A scalar subquery's max() comes back as text on SQLite.
    days = [as_date(day) for day in latest if day is not None]
    return month_of(max(days)) if days else None


def year_to_date(month: str, *, earliest: str | None = None) -> tuple[str, str]:
    """(first, last) month of the year to date: January of `month`'s year (or `earliest`,
    when that is later) to `month`."""
    first, _ = month_bounds(month)
    january = month_of(first.replace(month=1))
    return (max(january, earliest) if earliest else january), month


# --- This month against the previous one ----------------------------------------------------


def with_previous_month(
    figures: Callable[..., Mapping[str, Any]], session: Session, *, month: str, **arguments
) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """`figures(session, month=…, **arguments)` for `month` and for the month before it: the
    pair every "change on the previous month" is read from."""
    now = figures(session, month=month, **arguments)
    before = figures(session, month=previous_month(month), **arguments)
    return now, before


def change_on_previous_month(now: Mapping[str, Any], before: Mapping[str, Any], key: str):
    """SPEC's "change on the previous month" of figure `key`: now − before (money stays a
    Decimal), or None when either month lacks the figure."""
    value, previous = now.get(key), before.get(key)
    if value is None or previous is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    return value - previous


def growth(value: Decimal, previous: Decimal) -> float | None:
    """The growth on the previous month, (value − previous) ÷ previous to 4 places (None
    when the previous month had none)."""
    if previous == 0:
        return None
    return round(float((value - previous) / previous), 4)


# --- Scope --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scope:
    """The staff a query is limited to: one department, one staff member, or everyone."""

    department_id: int | None = None
    staff_id: int | None = None

    def staff(self) -> ColumnElement[bool] | None:
        """A condition on the Staff table itself."""
        if self.staff_id is not None:
            return Staff.id == self.staff_id
        if self.department_id is not None:
            return Staff.department_id == self.department_id
        return None

    def owner(self, column) -> ColumnElement[bool] | None:
        """A condition on a column that holds a staff id (lead owner, order's credited staff)."""
        if self.staff_id is not None:
            return column == self.staff_id
        if self.department_id is not None:
            return column.in_(select(Staff.id).where(Staff.department_id == self.department_id))
        return None


def _where(statement, condition):
    return statement if condition is None else statement.where(condition)


def _figure_scope(actor: Actor) -> _Scope:
    """Personal figures: a staff login sees only themself."""
    require_role(actor, *FIGURE_ROLES)
    if actor.role == Role.staff:
        return _Scope(staff_id=staff_scope(actor))
    return _Scope(department_id=department_scope(actor))


def _list_scope(actor: Actor, department_id: int | None = None) -> _Scope:
    """Department-level lists: a staff login sees their own department's."""
    require_role(actor, *FIGURE_ROLES)
    own = department_scope(actor)
    if own is not None and department_id is not None and department_id != own:
        raise PermissionDenied("outside your department")
    return _Scope(department_id=department_id if department_id is not None else own)


def _count_if(condition) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP)


# --- Card funnel --------------------------------------------------------------------------


def employed_at(day) -> ColumnElement[bool]:
    """Still on the staff at the end of `day` (a date or a column): never left, or left after
    it. The one rule of who counts among a department's people in month M (day = end(M)): the
    Card activation page's staff column, and the roster and team of core.services.staff."""
    return or_(Staff.left_on.is_(None), Staff.left_on > day)


def _card_conditions(last_day) -> dict[str, ColumnElement[bool]]:
    """SPEC §3 card states of a staff member as of `last_day` (a date or a column)."""
    issued = and_(
        Staff.card_issued_on <= last_day,
        or_(Staff.card_revoked_on.is_(None), Staff.card_revoked_on > last_day),
    )
    activated = and_(issued, Staff.card_activated_on <= last_day)
    return {
        "issued": issued,
        "not_activated": and_(
            issued, or_(Staff.card_activated_on.is_(None), Staff.card_activated_on > last_day)
        ),
        "activated": activated,
        "profile_incomplete": and_(
            activated,
            or_(Staff.profile_completed_on.is_(None), Staff.profile_completed_on > last_day),
        ),
        "profile_complete": and_(activated, Staff.profile_completed_on <= last_day),
        "employed": employed_at(last_day),
    }


def _threshold_reached(scope: _Scope, threshold: int):
    """(staff_id, reached_on): the creation date of each owner's `threshold`-th lead.

    One index seek per staff member on (owner_staff_id, created_on), skipping threshold − 1
    entries: a window over every lead (row_number) cost ~0.15 s at 200,000 leads; this ~2 ms.
    """
    owner = aliased(Staff)
    nth = (
        select(Lead.created_on)
        .where(Lead.owner_staff_id == owner.id)
        .order_by(Lead.created_on)
        .limit(1)
        .offset(threshold - 1)
        .scalar_subquery()
    )
    statement = select(owner.id.label("staff_id"), nth.label("reached_on"))
    if scope.staff_id is not None:
        statement = statement.where(owner.id == scope.staff_id)
    elif scope.department_id is not None:
        statement = statement.where(owner.department_id == scope.department_id)
    return statement.subquery("reached")


def _card_counts(
    session: Session, scope: _Scope, months: list[str], *, by_department: bool, threshold: int
):
    """Per month (and department): staff, issued, not activated, activated, profiles
    incomplete and complete, and active staff (issued card, ≥ `threshold` leads by end(M))."""
    table = months_table(months)
    last = table.c.last_day
    state = _card_conditions(last)
    columns = [
        _count_if(and_(Staff.id.is_not(None), state["employed"])).label("staff"),
        _count_if(state["issued"]).label("cards_issued"),
        _count_if(state["not_activated"]).label("cards_not_activated"),
        _count_if(state["activated"]).label("activated"),
        _count_if(state["profile_incomplete"]).label("profiles_incomplete"),
        _count_if(state["profile_complete"]).label("profiles_complete"),
    ]
    reached = owned = None
    if threshold > 0:
        reached = _threshold_reached(scope, threshold)
        # SPEC §8: the owner at end(M), not today's (core.credit).
        owned = credit.owned_by_month(table)
        active = credit.active_condition(owned, reached, last, threshold)
        columns.append(_count_if(and_(state["issued"], active)).label("staff_active"))
    else:  # every issued card owns at least zero leads
        columns.append(_count_if(state["issued"]).label("staff_active"))
    if by_department:
        statement = (
            select(table.c.month, Department.id.label("department_id"), *columns)
            .select_from(table)
            .join(Department, true())
            .outerjoin(Staff, Staff.department_id == Department.id)
        )
        if scope.department_id is not None:
            statement = statement.where(Department.id == scope.department_id)
        group = (table.c.month, Department.id)
    else:
        statement = select(table.c.month, *columns).select_from(table).join(Staff, true())
        statement = _where(statement, scope.staff())
        group = (table.c.month,)
    if reached is not None:
        statement = statement.outerjoin(reached, reached.c.staff_id == Staff.id)
        statement = statement.outerjoin(
            owned, and_(owned.c.month == table.c.month, owned.c.staff_id == Staff.id)
        )
    return session.exec(statement.group_by(*group)).mappings().all()


def _staff_using(session: Session, scope: _Scope, months: list[str], *, by_department: bool):
    """Distinct staff with at least one activity record dated in the month (`staff_using`,
    SPEC §3), and of them those holding a card issued as of the month's end
    (`card_holders_using`: the usage rate's numerator, so the rate stays within cards issued)."""
    table = months_table(months)
    keys = [table.c.month]
    if by_department:
        keys.append(Staff.department_id.label("department_id"))
    issued = _card_conditions(table.c.last_day)["issued"]
    statement = (
        select(
            *keys,
            func.count(func.distinct(StaffActivity.staff_id)).label("staff_using"),
            func.count(func.distinct(case((issued, StaffActivity.staff_id)))).label(
                "card_holders_using"
            ),
        )
        .select_from(table)
        .join(StaffActivity, StaffActivity.date.between(table.c.first_day, table.c.last_day))
        .join(Staff, Staff.id == StaffActivity.staff_id)
    )
    if by_department:
        statement = _where(statement, scope.staff())
    else:
        statement = _where(statement, scope.owner(StaffActivity.staff_id))
    return session.exec(statement.group_by(*keys)).mappings().all()


def _licences(session: Session, months: list[str], default: int) -> dict[str, int]:
    """Licences bought for each month (`default` where none were recorded)."""
    bought = dict(
        session.exec(
            select(CardLicence.month, CardLicence.licences).where(CardLicence.month.in_(months))
        ).all()
    )
    return {month: int(bought.get(month, default)) for month in months}


def card_funnel(session: Session, *, actor: Actor, month: str, rules: Rules) -> dict[str, Any]:
    """SPEC §3's card funnel for `month`: licences, issued, not activated, profiles
    incomplete, staff using, staff active."""
    scope = _figure_scope(actor)
    month_bounds(month)
    threshold = rules.active_staff_lead_threshold
    cards = {
        row["month"]: row
        for row in _card_counts(session, scope, [month], by_department=False, threshold=threshold)
    }
    using = {
        row["month"]: row["staff_using"]
        for row in _staff_using(session, scope, [month], by_department=False)
    }
    row = cards.get(month, {})
    return {
        "licences": _licences(session, [month], rules.default_licences)[month],
        "cards_issued": int(row.get("cards_issued", 0)),
        "cards_not_activated": int(row.get("cards_not_activated", 0)),
        "profiles_incomplete": int(row.get("profiles_incomplete", 0)),
        "staff_using": int(using.get(month, 0)),
        "staff_active": int(row.get("staff_active", 0)),
    }


# --- Leads and orders ---------------------------------------------------------------------


def _span(months: list[str]) -> tuple[dt.date, dt.date]:
    return month_bounds(months[0])[0], month_bounds(months[-1])[1]


def _by_month(table, per_day, *sums):
    """Bucket a per-day aggregate (a subquery with a `day` column) into the months: the
    join and the month grouping see one row per day, not one per record (at 200,000 leads
    that join cost PostgreSQL ~0.5 s for 24 months; per day it is a few hundred rows)."""
    return (
        select(table.c.month, *[func.sum(per_day.c[name]).label(name) for name in sums])
        .select_from(table)
        .join(per_day, per_day.c.day.between(table.c.first_day, table.c.last_day))
        .group_by(table.c.month)
    )


def _new_leads(session: Session, scope: _Scope, months: list[str]) -> tuple[dict[str, int], int]:
    """Leads created per month, and the leads created before the first month. Scoped to
    staff or a department, counted by the owner at the end of each month (SPEC §8): the
    caller adds `_owner_corrections` to each month's new and cumulative counts."""
    first, last = _span(months)
    per_day = select(Lead.created_on.label("day"), func.count().label("leads")).where(
        Lead.created_on.between(first, last)
    )
    per_day = _where(per_day, scope.owner(Lead.owner_staff_id)).group_by(Lead.created_on)
    statement = _by_month(months_table(months), per_day.subquery("per_day"), "leads")
    per_month = {month: int(count) for month, count in session.exec(statement).all()}
    # count(*), not count(id): PostgreSQL then counts from the created_on index alone.
    before = select(func.count()).select_from(Lead).where(Lead.created_on < first)
    before = session.exec(_where(before, scope.owner(Lead.owner_staff_id))).one()[0]
    return per_month, int(before)


def _owner_corrections(
    session: Session, scope: _Scope, months: list[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """({month: new}, {month: cumulative}) corrections of a scoped current-owner count to
    the count by the owner at end(M): leads that changed hands into or out of the scope."""
    if scope.staff_id is None and scope.department_id is None:
        return {}, {}  # the whole hospital: every lead counts, whoever owns it
    table = months_table(months)
    found: list[dict[str, int]] = []
    for new_only in (True, False):
        delta = credit.owner_delta_by_month(table, new_only=new_only)
        statement = _where(
            select(delta.c.month, func.sum(delta.c.delta)), scope.owner(delta.c.staff_id)
        ).group_by(delta.c.month)
        found.append({month: int(value) for month, value in session.exec(statement).all()})
    return found[0], found[1]


def _order_counts(session: Session, scope: _Scope, months: list[str]):
    first, last = _span(months)
    valid = Order.status == OrderStatus.valid
    per_day = select(
        Order.created_on.label("day"),
        func.count().label("orders"),
        _count_if(valid).label("valid_orders"),
        func.coalesce(func.sum(case((valid, Order.amount), else_=0)), 0).label("revenue"),
    ).where(Order.created_on.between(first, last))
    per_day = _where(per_day, scope.owner(Order.staff_id)).group_by(Order.created_on)
    statement = _by_month(
        months_table(months), per_day.subquery("per_day"), "orders", "valid_orders", "revenue"
    )
    return {row["month"]: row for row in session.exec(statement).mappings().all()}


# --- Coming back and bringing others (SPEC §10) -------------------------------------------


def patient_key(lead_id, member_id) -> ColumnElement[int]:
    """SPEC §10: an order's patient — its lead, else its member — as one integer (a lead's id
    doubled, a member's doubled plus one); NULL for an order naming neither. A lead in one
    order and a member in another are two patients; an alias was resolved to the surviving
    lead when the order was written (and a merge moves the orders)."""
    return case(
        (lead_id.is_not(None), lead_id * 2),
        (member_id.is_not(None), member_id * 2 + 1),
        else_=None,
    )


def _return_counts(
    session: Session, scope: _Scope, months: list[str], *, by_department: bool = False
) -> list[dict[str, Any]]:
    """Per month (and department of the order's staff): `patients`, distinct patients with a
    valid order created in the month; `returning_patients`, those of them with a valid order
    created before its first day (anywhere in the hospital: coming back is to the hospital)."""
    first, last = _span(months)
    valid = Order.status == OrderStatus.valid
    patient = patient_key(Order.lead_id, Order.member_id)
    # One pass over the valid orders: each with its patient's first valid order date (a
    # window, so no join back); the orders of the months are kept after it.
    columns = [
        Order.created_on.label("created_on"),
        patient.label("patient"),
        func.min(Order.created_on).over(partition_by=patient).label("first_on"),
        Order.staff_id.label("staff_id"),
    ]
    valid_orders = select(*columns).where(valid, patient.is_not(None))
    valid_orders = valid_orders.subquery("valid_orders")  # later orders change no first date
    rows = valid_orders.c
    # The first day of each order's month, by one CASE (a join to the months' table read the
    # valid orders once per month).
    month_start = case(
        *[(rows.created_on.between(*month_bounds(m)), month_bounds(m)[0]) for m in months],
        else_=None,
    ).label("month_start")
    returning = rows.first_on < month_start  # the first valid order is before the month
    inner = select(month_start, rows.patient, returning.label("came_back"), rows.staff_id)
    inner = inner.where(rows.created_on.between(first, last))
    inner = _where(inner, scope.owner(rows.staff_id)).subquery("in_months")
    cells = inner.c
    keys = [cells.month_start]
    statement = select(
        cells.month_start,
        func.count(cells.patient.distinct()).label("patients"),
        func.count(case((cells.came_back, cells.patient), else_=None).distinct()).label(
            "returning_patients"
        ),
    )
    if by_department:
        keys.append(Staff.department_id)
        statement = statement.add_columns(Staff.department_id).join(
            Staff, Staff.id == cells.staff_id
        )
    names = {month_bounds(m)[0]: m for m in months}
    found = session.exec(statement.group_by(*keys)).mappings().all()
    return [
        {
            "month": names[as_date(row["month_start"])],
            **{k: v for k, v in row.items() if k != "month_start"},
        }
        for row in found
    ]


def return_rate(patients: int, returning: int) -> float | None:
    """returning_patients / patients, unrounded; None when there are no patients."""
    return None if not patients else returning / patients


def _referral_counts(session: Session, scope: _Scope, months: list[str]) -> dict[str, int]:
    """SPEC §10 `referrals`: leads created in the month that name a referrer."""
    first, last = _span(months)
    per_day = select(Lead.created_on.label("day"), func.count().label("referrals")).where(
        Lead.created_on.between(first, last), Lead.referred_by_member_id.is_not(None)
    )
    per_day = _where(per_day, scope.owner(Lead.owner_staff_id)).group_by(Lead.created_on)
    statement = _by_month(months_table(months), per_day.subquery("per_day"), "referrals")
    return {month: int(count) for month, count in session.exec(statement).all()}


def return_trend(
    session: Session, *, actor: Actor, first_month: str, last_month: str
) -> pd.DataFrame:
    """Per month: patients, returning_patients, return_rate (NaN when no patients),
    referrals, new_leads and referral_share (referrals / new_leads)."""
    import pandas as pd

    scope = _figure_scope(actor)
    months = months_between(first_month, last_month)
    returns = {row["month"]: row for row in _return_counts(session, scope, months)}
    referrals = _referral_counts(session, scope, months)
    new, _ = _new_leads(session, scope, months)
    rows = []
    for month in months:  # over the months' aggregates, not over records
        patients = int(returns.get(month, {}).get("patients", 0))
        returning = int(returns.get(month, {}).get("returning_patients", 0))
        rows.append(
            {
                "month": month,
                "patients": patients,
                "returning_patients": returning,
                "return_rate": return_rate(patients, returning),
                "referrals": referrals.get(month, 0),
                "new_leads": new.get(month, 0),
            }
        )
    frame = pd.DataFrame(rows)
    frame["return_rate"] = frame["return_rate"].astype(float)
    frame["referral_share"] = (
        frame["referrals"] / frame["new_leads"].where(frame["new_leads"] > 0)
    ).astype(float)
    return frame


def returns_by_department(session: Session, *, actor: Actor, month: str) -> pd.DataFrame:
    """Per department (of the order's staff) in `month`: patients, returning_patients and
    return_rate (NaN when no patients)."""
    import pandas as pd

    scope = _list_scope(actor)
    month_bounds(month)
    frame = _departments(session, scope)
    counts = pd.DataFrame(
        _return_counts(session, scope, [month], by_department=True),
        columns=["month", "department_id", "patients", "returning_patients"],
    )
    frame = frame.merge(counts.drop(columns="month"), on="department_id", how="left")
    columns = ["patients", "returning_patients"]
    frame[columns] = frame[columns].fillna(0).astype(int)
    frame["return_rate"] = (
        frame["returning_patients"] / frame["patients"].where(frame["patients"] > 0)
    ).astype(float)
    return frame


def _monthly_figures(
    session: Session, scope: _Scope, months: list[str], rules: Rules
) -> list[dict[str, Any]]:
    """The SPEC §3 figures of each month in `months` (revenue_growth of the first month is
    left out: callers ask for one month more than they show)."""
    threshold = rules.active_staff_lead_threshold
    cards = {
        r["month"]: r
        for r in _card_counts(session, scope, months, by_department=False, threshold=threshold)
    }
    using = {
        r["month"]: r["staff_using"]
        for r in _staff_using(session, scope, months, by_department=False)
    }
    new, cumulative = _new_leads(session, scope, months)
    new_fix, cumulative_fix = _owner_corrections(session, scope, months)
    orders = _order_counts(session, scope, months)
    licences = _licences(session, months, rules.default_licences)
    returns = {row["month"]: row for row in _return_counts(session, scope, months)}
    referrals = _referral_counts(session, scope, months)
    rows: list[dict[str, Any]] = []
    previous_revenue: Decimal | None = None
    for month in months:  # one pass over the months' aggregates, not over records
        card = cards.get(month, {})
        order = orders.get(month, {})
        cumulative += new.get(month, 0)
        revenue = _money(order.get("revenue"))
        patients = int(returns.get(month, {}).get("patients", 0))
        returning = int(returns.get(month, {}).get("returning_patients", 0))
        rows.append(
            {
                "month": month,
                "licences": licences[month],
                "cards_issued": int(card.get("cards_issued", 0)),
                "cards_not_activated": int(card.get("cards_not_activated", 0)),
                "profiles_incomplete": int(card.get("profiles_incomplete", 0)),
                "staff_using": int(using.get(month, 0)),
                "staff_active": int(card.get("staff_active", 0)),
                "new_leads": new.get(month, 0) + new_fix.get(month, 0),
                "cumulative_leads": cumulative + cumulative_fix.get(month, 0),
                "orders": int(order.get("orders", 0)),
                "valid_orders": int(order.get("valid_orders", 0)),
                "revenue": revenue,
                "revenue_growth": (
                    None if previous_revenue is None else growth(revenue, previous_revenue)
                ),
                "patients": patients,
                "returning_patients": returning,
                "return_rate": return_rate(patients, returning),
                "referrals": referrals.get(month, 0),
            }
        )
        previous_revenue = revenue
    return rows


def leads_by_stage(session: Session, *, actor: Actor) -> dict[str, int]:
    """Current number of leads in each stage (every stage key present)."""
    scope = _figure_scope(actor)
    # A lead merged into another (SPEC §8) is no longer a person of its own: not counted.
    statement = select(Lead.stage, func.count()).where(Lead.active == True).group_by(Lead.stage)  # noqa: E712
    counts = dict(session.exec(_where(statement, scope.owner(Lead.owner_staff_id))).all())
    return {str(stage): int(counts.get(str(stage), 0)) for stage in STAGE_ORDER}


def month_kpis(session: Session, *, actor: Actor, month: str, rules: Rules) -> dict[str, Any]:
    """The month's figures of SPEC §3 with the keys of `kpi --json` (SPEC §4)."""
    scope = _figure_scope(actor)
    rows = _monthly_figures(session, scope, [previous_month(month), month], rules)
    figures = rows[-1]
    figures["leads_by_stage"] = leads_by_stage(session, actor=actor)
    return figures


def kpi_trend(
    session: Session, *, actor: Actor, first_month: str, last_month: str, rules: Rules
) -> pd.DataFrame:
    """One row per month with the figures of `month_kpis` (revenue as a float)."""
    import pandas as pd

    scope = _figure_scope(actor)
    months = months_between(first_month, last_month)
    rows = _monthly_figures(session, scope, [previous_month(first_month), *months], rules)[1:]
    frame = pd.DataFrame(rows)
    frame["revenue"] = frame["revenue"].astype(float)
    frame["revenue_growth"] = frame["revenue_growth"].astype(float)
    frame["return_rate"] = frame["return_rate"].astype(float)
    return frame


# --- Departments --------------------------------------------------------------------------


def _departments(session: Session, scope: _Scope) -> pd.DataFrame:
    import pandas as pd

    statement = select(
        Department.id.label("department_id"),
        Department.code.label("department_code"),
        Department.name.label("department"),
    ).order_by(Department.code)
    if scope.department_id is not None:
        statement = statement.where(Department.id == scope.department_id)
    return pd.DataFrame(
        session.exec(statement).mappings().all(),
        columns=["department_id", "department_code", "department"],
    )


# The department table's rates: numerator and denominator (both as of the month's end), and
# the catalogue key of why a rate is missing (no card issued: nothing to divide by).
RATES = {
    "activation_rate": ("activated", "cards_issued"),
    "profile_rate": ("profiles_complete", "cards_issued"),
    "usage_rate": ("card_holders_using", "cards_issued"),
    "active_rate": ("staff_active", "cards_issued"),
}
RATE_REASONS = {name: "why.no_cards" for name in RATES}


def _rate(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    return (numerator / denominator.where(denominator > 0)).astype(float).round(4)


def department_table(session: Session, *, actor: Actor, month: str, rules: Rules) -> pd.DataFrame:
    """Per department in `month`: staff, cards issued, not activated, activated, profiles
    incomplete and complete, staff using, card holders using, staff active, and the rates
    over cards issued (each in [0, 1]: its numerator is a subset of the cards issued; NaN
    where no card was issued, see `RATE_REASONS`)."""
    import pandas as pd

    scope = _list_scope(actor)
    month_bounds(month)
    frame = _departments(session, scope)
    counts = pd.DataFrame(
        _card_counts(
            session,
            scope,
            [month],
            by_department=True,
            threshold=rules.active_staff_lead_threshold,
        )
    )
    using = pd.DataFrame(
        _staff_using(session, scope, [month], by_department=True),
        columns=["month", "department_id", "staff_using", "card_holders_using"],
    )
    count_columns = [
        "staff",
        "cards_issued",
        "cards_not_activated",
        "activated",
        "profiles_incomplete",
        "profiles_complete",
        "staff_using",
        "card_holders_using",
        "staff_active",
    ]
    if counts.empty:
        counts = pd.DataFrame(columns=["department_id", *count_columns[:6], "staff_active"])
    frame = frame.merge(
        counts.drop(columns="month", errors="ignore"), on="department_id", how="left"
    )
    frame = frame.merge(using.drop(columns="month"), on="department_id", how="left")
    frame[count_columns] = frame[count_columns].fillna(0).astype(int)
    frame = frame[["department_id", "department_code", "department", *count_columns]]
    frame["activation_rate"] = _rate(frame["activated"], frame["cards_issued"])
    frame["profile_rate"] = _rate(frame["profiles_complete"], frame["cards_issued"])
    # Over the card holders among the staff using: someone using without an issued card
    # (revoked, or never issued) is in `staff_using` but not in the denominator.
    frame["usage_rate"] = _rate(frame["card_holders_using"], frame["cards_issued"])
    frame["active_rate"] = _rate(frame["staff_active"], frame["cards_issued"])
    return frame


def department_comparison(session: Session, *, actor: Actor, month: str) -> pd.DataFrame:
    """Per department: new and cumulative leads, orders, valid orders and revenue of `month`,
    and the current number of leads in each stage (the KPI page's department comparison)."""
    import pandas as pd

    scope = _list_scope(actor)
    first, last = month_bounds(month)
    frame = _departments(session, scope)
    owned = credit.owned_counts(last, new_from=first)  # by the owner at end(M) (SPEC §8)
    leads = select(
        Staff.department_id.label("department_id"),
        func.coalesce(func.sum(owned.c.leads_new), 0).label("new_leads"),
        func.coalesce(func.sum(owned.c.leads), 0).label("cumulative_leads"),
    ).join(Staff, Staff.id == owned.c.staff_id)
    leads = _where(leads, scope.staff()).group_by(Staff.department_id)
    valid = Order.status == OrderStatus.valid
    orders = (
        select(
            Staff.department_id.label("department_id"),
            func.count(Order.id).label("orders"),
            _count_if(valid).label("valid_orders"),
            func.coalesce(func.sum(case((valid, Order.amount), else_=0)), 0).label("revenue"),
        )
        .join(Staff, Staff.id == Order.staff_id)
        .where(Order.created_on.between(first, last))
    )
    orders = _where(orders, scope.staff()).group_by(Staff.department_id)
    # Counted per owner first (a scan of the (stage, owner) index), then summed per department:
    # joining every lead to its owner made SQLite read all 200,000 rows (~0.3 s).
    per_owner = (
        select(Lead.owner_staff_id.label("staff_id"), Lead.stage, func.count().label("n"))
        .where(Lead.active == True)  # noqa: E712 - a merged lead is counted in its survivor
        .group_by(Lead.owner_staff_id, Lead.stage)
        .subquery("per_owner")
    )
    stage_columns = [
        func.coalesce(
            func.sum(case((per_owner.c.stage == str(stage), per_owner.c.n), else_=0)), 0
        ).label(str(stage))
        for stage in STAGE_ORDER
    ]
    stages = select(Staff.department_id.label("department_id"), *stage_columns).join(
        Staff, Staff.id == per_owner.c.staff_id
    )
    stages = _where(stages, scope.staff()).group_by(Staff.department_id)
    for statement, columns in (
        (leads, ["new_leads", "cumulative_leads"]),
        (orders, ["orders", "valid_orders", "revenue"]),
        (stages, [str(stage) for stage in STAGE_ORDER]),
    ):
        part = pd.DataFrame(
            session.exec(statement).mappings().all(), columns=["department_id", *columns]
        )
        frame = frame.merge(part, on="department_id", how="left")
        frame[columns] = frame[columns].fillna(0)
    integer_columns = ["new_leads", "cumulative_leads", "orders", "valid_orders"]
    integer_columns += [str(stage) for stage in STAGE_ORDER]
    frame[integer_columns] = frame[integer_columns].astype(int)
    frame["revenue"] = frame["revenue"].map(lambda value: float(_money(value)))
    return frame


stage_funnel_by_department = department_comparison


# --- Leaderboard and Pareto ---------------------------------------------------------------


def leaderboard(
    session: Session,
    *,
    actor: Actor,
    first_month: str,
    last_month: str,
    by: str,
    department_id: int | None = None,
    limit: int = 20,
) -> pd.DataFrame:
    """Staff ranked by `by` over the months: leads created, valid appointment orders, valid
    order revenue, or members converted (members who joined, credited to their owner or, if
    none, to their lead's owner). Staff with nothing are left out; ties share a rank."""
    import pandas as pd

    if by not in LEADERBOARD_MEASURES:
        raise ValueError(f"leaderboard measure must be one of {', '.join(LEADERBOARD_MEASURES)}")
    scope = _list_scope(actor, department_id)
    first, _ = month_bounds(first_month)
    _, last = month_bounds(last_month)
    valid = Order.status == OrderStatus.valid
    in_range_orders = Order.created_on.between(first, last)
    if by == "leads":  # by the owner at the end of the last month (SPEC §8)
        owned = credit.owned_counts(last, new_from=first, cumulative=False)
        measure = select(owned.c.staff_id, owned.c.leads_new.label("value")).where(
            owned.c.leads_new > 0
        )
    elif by == "valid_appointments":
        measure = select(Order.staff_id.label("staff_id"), func.count(Order.id).label("value"))
        measure = measure.where(valid, Order.kind == OrderKind.appointment, in_range_orders)
        measure = measure.group_by(Order.staff_id)
    elif by == "valid_revenue":
        measure = select(Order.staff_id.label("staff_id"), func.sum(Order.amount).label("value"))
        measure = measure.where(valid, in_range_orders, Order.amount > 0)
        measure = measure.group_by(Order.staff_id)
    else:
        credited = func.coalesce(Member.owner_staff_id, Lead.owner_staff_id)
        measure = (
            select(credited.label("staff_id"), func.count(Member.id).label("value"))
            .select_from(Member)
            .outerjoin(Lead, Lead.id == Member.lead_id)
            .where(Member.joined_on.between(first, last), credited.is_not(None))
            .group_by(credited)
        )
    measure = measure.subquery("measure")
    statement = (
        select(
            Staff.staff_no,
            Staff.name,
            Department.name.label("department"),
            measure.c.value,
        )
        .select_from(measure)
        .join(Staff, Staff.id == measure.c.staff_id)
        .join(Department, Department.id == Staff.department_id)
        .order_by(measure.c.value.desc(), Staff.staff_no)
        .limit(limit)
    )
    statement = _where(statement, scope.staff())
    frame = pd.DataFrame(
        session.exec(statement).mappings().all(),
        columns=["staff_no", "name", "department", "value"],
    )
    if by == "valid_revenue":
        frame["value"] = frame["value"].map(lambda value: float(_money(value)))
    else:
        frame["value"] = frame["value"].astype(int)
    frame["rank"] = frame["value"].rank(method="min", ascending=False).astype(int)
    return frame


def revenue_by_member(
    session: Session, *, actor: Actor, first_month: str, last_month: str
) -> pd.DataFrame:
    """Valid order revenue per member over the months, largest first, with each member's
    share, the cumulative share, and the cumulative share of members (the 20/80 chart)."""
    import pandas as pd

    scope = _figure_scope(actor)
    first, _ = month_bounds(first_month)
    _, last = month_bounds(last_month)
    statement = (
        select(
            Member.member_no,
            Member.name,
            func.count(Order.id).label("orders"),
            func.sum(Order.amount).label("revenue"),
        )
        .join(Member, Member.id == Order.member_id)
        .where(Order.status == OrderStatus.valid, Order.created_on.between(first, last))
        .group_by(Member.id, Member.member_no, Member.name)
        .order_by(func.sum(Order.amount).desc(), Member.member_no)
    )
    statement = _where(statement, scope.owner(Order.staff_id))
    frame = pd.DataFrame(
        session.exec(statement).mappings().all(),
        columns=["member_no", "name", "orders", "revenue"],
    )
    return _pareto_shares(frame, "member_share")


def _pareto_shares(frame: pd.DataFrame, count_share: str) -> pd.DataFrame:
    """The 20/80 columns of a frame ranked by revenue (largest first): each row's share of
    the revenue, the cumulative share, and the cumulative share of rows (`count_share`)."""
    frame["revenue"] = frame["revenue"].map(lambda value: float(_money(value))).astype(float)
    total = frame["revenue"].sum()
    frame["share"] = (frame["revenue"] / total).round(6) if total else 0.0
    frame["cumulative_share"] = (frame["revenue"].cumsum() / total).round(6) if total else 0.0
    frame[count_share] = (frame.index + 1) / len(frame) if len(frame) else 0.0
    return frame


def revenue_by_patient(
    session: Session, *, actor: Actor, first_month: str, last_month: str
) -> pd.DataFrame:
    """Valid order revenue per patient (SPEC §10: an order's lead, else its member) over the
    months, largest first, with the 20/80 shares of `revenue_by_member` (`patient_share` for
    the cumulative share of patients). A department's orders name a lead far more often than
    a member, so its 20/80 is read over patients. Orders naming neither are left out.
    Columns: patient_ref (lead ref or member no.), name, orders, revenue, share,
    cumulative_share, patient_share."""
    import pandas as pd

    scope = _figure_scope(actor)
    first, _ = month_bounds(first_month)
    _, last = month_bounds(last_month)
    patient = patient_key(Order.lead_id, Order.member_id)
    ref = func.coalesce(Lead.lead_ref, Member.member_no)
    name = case((Order.lead_id.is_not(None), Lead.name), else_=Member.name)
    revenue = func.sum(Order.amount)
    statement = (
        select(
            ref.label("patient_ref"),
            name.label("name"),
            func.count(Order.id).label("orders"),
            revenue.label("revenue"),
        )
        .select_from(Order)
        .outerjoin(Lead, Lead.id == Order.lead_id)
        .outerjoin(Member, Member.id == Order.member_id)
        .where(
            Order.status == OrderStatus.valid,
            Order.created_on.between(first, last),
            patient.is_not(None),
        )
        .group_by(patient, ref, name)
        .order_by(revenue.desc(), ref)
    )
    statement = _where(statement, scope.owner(Order.staff_id))
    frame = pd.DataFrame(
        session.exec(statement).mappings().all(),
        columns=["patient_ref", "name", "orders", "revenue"],
    )
    return _pareto_shares(frame, "patient_share")


def top_member_count(paying_members: int, share: float = TOP_MEMBER_SHARE) -> int:
    """How many members "the top 20% of members" are: ceil(20% × paying members), at least
    one when any member paid.

    The rounded-up count is the rule (the Members page's): "the top 20%" of 7 paying members
    is 2 (1.4 rounded up), not 1 — a cut at `member_share <= 0.2` (the KPI page's old one)
    rounds down, names 14% of the members for 20%, and names nobody below 5 members. The
    product is taken in decimal so 20% of 15 is exactly 3 (in floats it is 3.0000000000000004
    and would round up to 4).
    """
    if paying_members <= 0:
        return 0
    return max(1, math.ceil(Decimal(str(share)) * paying_members))


def top_member_share(frame: pd.DataFrame, share: float = TOP_MEMBER_SHARE) -> dict[str, Any]:
    """The share of revenue the top `share` of paying members bring, from
    `revenue_by_member`'s frame (largest first): members, top_members (`top_member_count`),
    revenue, top_revenue, and share (None when there is no revenue)."""
    members = len(frame)
    total = float(frame["revenue"].sum()) if members else 0.0
    top_members = top_member_count(members, share)
    top_revenue = float(frame["revenue"].head(top_members).sum()) if members else 0.0
    return {
        "members": members,
        "top_members": top_members,
        "revenue": total,
        "top_revenue": top_revenue,
        "share": (top_revenue / total) if total else None,
    }


# --- Lead score ---------------------------------------------------------------------------


def check_lead_visible(session: Session, actor: Actor, lead: Lead) -> None:
    if actor.role in (Role.admin, Role.executive, Role.marketer):
        return
    if actor.role == Role.consultant:
        handed = session.exec(
            select(func.count(Handoff.id)).where(
                Handoff.lead_id == lead.id, Handoff.consultant_user_id == actor.user_id
            )
        ).one()[0]
        if not handed:
            raise PermissionDenied("this lead was not handed to you")
        return
    if actor.role == Role.staff:
        if lead.owner_staff_id != staff_scope(actor):
            raise PermissionDenied("not your lead")
        return
    owner = session.get(Staff, lead.owner_staff_id)
    if owner is None or owner.department_id != department_scope(actor):
        raise PermissionDenied("outside your department")


def lead_score(
    session: Session, *, actor: Actor, lead_ref: str, rules: Rules, as_of: dt.date | None = None
) -> dict[str, Any]:
    """A lead's score as of a day (default: the hospital's today), its suggested stage and
    whether it is qualified for hand-off (score ≥ the hand-off threshold)."""
    from core.lead_refs import resolve_lead  # an alias reaches its lead (SPEC §8)

    lead = resolve_lead(session, lead_ref)
    if lead is None:
        raise LookupError(f"no lead with lead_ref '{lead_ref}'")
    check_lead_visible(session, actor, lead)
    day = as_of or rules.today
    interactions = session.exec(
        select(Interaction.occurred_on, Interaction.points).where(
            Interaction.lead_id == lead.id, Interaction.occurred_on <= day
        )
    ).all()
    decay = rules.idle_decay_points
    thresholds = {k: int(v) for k, v in rules.stage_thresholds.items()}
    score = score_as_of(lead.created_on, [(d, int(p)) for d, p in interactions], day, decay)
    return {
        "lead_ref": lead.lead_ref,
        "as_of": day.isoformat(),
        "score": score,
        "suggested_stage": str(suggested_stage(score, thresholds)),
        "qualified": score >= rules.handoff_threshold,
    }


# --- Members ------------------------------------------------------------------------------


def tier_case(lifetime, levels: Sequence[tuple[int, int]]):
    """SQL for SPEC §3's tier: the highest level whose threshold ≤ lifetime points
    (`levels` as (level, threshold); the lowest level below every threshold)."""
    ordered = sorted(levels, reverse=True)
    return case(
        *[(lifetime >= threshold, level) for level, threshold in ordered],
        else_=min(level for level, _ in levels),
    )


def tier_threshold_problems(
    thresholds: Mapping[int, int | None],
) -> list[tuple[int, str, int | None, int | None]]:
    """Where tier thresholds ({level: threshold}) break SPEC §3's ladder: the lowest tier
    starts at 0 points ("first"), and each tier needs more points than the one below
    ("order"). One (level, problem, lower level, its threshold) per broken level; a missing
    (None) threshold is not compared."""
    ordered = sorted(thresholds.items())
    problems: list[tuple[int, str, int | None, int | None]] = []
    if ordered and ordered[0][1] != 0:
        problems.append((ordered[0][0], "first", None, None))
    for (low_level, low), (level, threshold) in zip(ordered, ordered[1:], strict=False):
        if threshold is not None and low is not None and threshold <= low:
            problems.append((level, "order", low_level, low))
    return problems


def earning_condition():
    """SPEC §3: the ledger entries that count towards lifetime points."""
    return and_(
        PointsEntry.kind.not_in([str(kind) for kind in NON_EARNING_POINTS_KINDS]),
        PointsEntry.points > 0,
    )


def member_figures(
    session: Session, tiers: Sequence[tuple[int, int]], member_ids: list[int] | None = None
):
    """(ledger, balance, lifetime_points, tier) over Member, from one GROUP BY of the ledger
    (of `member_ids`' entries only, when given: a page of members need not sum everyone's);
    `tiers` as (level, threshold), e.g. `Rules.tiers`."""
    earning = earning_condition()
    ledger = select(
        PointsEntry.member_id.label("member_id"),
        func.sum(PointsEntry.points).label("balance"),
        func.sum(case((earning, PointsEntry.points), else_=0)).label("lifetime_points"),
    ).group_by(PointsEntry.member_id)
    if member_ids is not None:
        ledger = ledger.where(PointsEntry.member_id.in_(member_ids))
    ledger = ledger.subquery("ledger")
    balance = func.coalesce(ledger.c.balance, 0)
    lifetime = func.coalesce(ledger.c.lifetime_points, 0)
    tier = tier_case(lifetime, tiers)
    return ledger, balance.label("balance"), lifetime.label("lifetime_points"), tier.label("tier")


def _member_scope(actor: Actor) -> _Scope:
    return _figure_scope(actor)


def member_status(
    session: Session, *, actor: Actor, member_no: str, rules: Rules
) -> dict[str, Any]:
    """A member's balance, lifetime points and tier level (SPEC §3)."""
    scope = _member_scope(actor)
    member = session.exec(select(Member).where(Member.member_no == member_no)).scalars().first()
    if member is None:
        raise LookupError(f"no member with member_no '{member_no}'")
    if scope.department_id is not None or scope.staff_id is not None:
        owner = session.get(Staff, member.owner_staff_id) if member.owner_staff_id else None
        visible = owner is not None and (
            owner.id == scope.staff_id
            if scope.staff_id is not None
            else owner.department_id == scope.department_id
        )
        if not visible:
            raise PermissionDenied("this member is not one of yours")
    ledger, balance, lifetime, tier = member_figures(session, rules.tiers, member_ids=[member.id])
    row = session.exec(
        select(balance, lifetime, tier)
        .select_from(Member)
        .outerjoin(ledger, ledger.c.member_id == Member.id)
        .where(Member.id == member.id)
    ).one()
    return {
        "member_no": member.member_no,
        "balance": int(row.balance),
        "lifetime_points": int(row.lifetime_points),
        "tier": int(row.tier),
        "referred": referred_counts(session, [member.id]).get(member.id, 0),
    }


def referred_counts(session: Session, member_ids: Sequence[int]) -> dict[int, int]:
    """SPEC §10 `referred`: {member id: the number of leads and members naming it} (a
    member nobody named is absent)."""
    ids = list(member_ids)
    if not ids:
        return {}
    counts: dict[int, int] = {}
    for model in (Lead, Member):
        column = model.referred_by_member_id
        statement = select(column, func.count()).where(column.in_(ids)).group_by(column)
        for member_id, count in session.exec(statement).all():
            counts[member_id] = counts.get(member_id, 0) + int(count)
    return counts


def member_table(
    session: Session,
    *,
    actor: Actor,
    rules: Rules,
    search: str | None = None,
    tier: int | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Members with balance, lifetime points and tier; `search` matches number or name."""
    import pandas as pd

    scope = _member_scope(actor)
    member_ids = None
    if limit is not None and tier is None:
        # A page of members sums only its members' ledger rows, not the whole ledger.
        page = _where(select(Member.id), scope.owner(Member.owner_staff_id))
        if search:
            pattern = f"%{search.strip()}%"
            page = page.where(or_(Member.member_no.ilike(pattern), Member.name.ilike(pattern)))
        page = page.order_by(Member.member_no).limit(limit)
        member_ids = list(session.execute(page).scalars())
    ledger, balance, lifetime, tier_column = member_figures(
        session, rules.tiers, member_ids=member_ids
    )
    statement = (
        select(
            Member.member_no,
            Member.name,
            Member.joined_on,
            Staff.staff_no.label("owner_staff_no"),
            balance,
            lifetime,
            tier_column,
        )
        .select_from(Member)
        .outerjoin(ledger, ledger.c.member_id == Member.id)
        .outerjoin(Staff, Staff.id == Member.owner_staff_id)
        .order_by(Member.member_no)
    )
    statement = _where(statement, scope.owner(Member.owner_staff_id))
    if search:
        pattern = f"%{search.strip()}%"
        statement = statement.where(
            or_(Member.member_no.ilike(pattern), Member.name.ilike(pattern))
        )
    if tier is not None:
        statement = statement.where(tier_column == tier)
    if member_ids is not None:
        statement = statement.where(Member.id.in_(member_ids))
    if limit is not None:
        statement = statement.limit(limit)
    columns = [
        "member_no",
        "name",
        "joined_on",
        "owner_staff_no",
        "balance",
        "lifetime_points",
        "tier",
    ]
    frame = pd.DataFrame(session.exec(statement).mappings().all(), columns=columns)
    frame[["balance", "lifetime_points", "tier"]] = frame[
        ["balance", "lifetime_points", "tier"]
    ].astype(int)
    return frame


# --- Commission ---------------------------------------------------------------------------


def is_published(session: Session, month: str) -> bool:
    """Whether `month`'s payout sheet is published (then it is frozen)."""
    sheet = session.get(CommissionSheet, month)
    return sheet is not None and sheet.published_at is not None


def line_commission(appointments: int, commissionable: Any, per_appointment: Any, rate: Any):
    """SPEC §3's commission of one staff member's month: per_appointment × valid
    appointments + rate × commissionable amount, to the cent (half up)."""
    amount = Decimal(str(per_appointment)) * int(appointments) + Decimal(str(rate)) * Decimal(
        str(commissionable)
    )
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _computed_lines(
    session: Session, scope: _Scope, month: str, rules: Rules
) -> list[dict[str, Any]]:
    """SPEC §3 commission per staff member from the month's valid orders (staff with
    nothing are left out), sorted by staff_no."""
    first, last = month_bounds(month)
    per_appointment = Decimal(str(rules.commission_per_appointment))
    rate = Decimal(str(rules.commission_rate))
    appointments = _count_if(Order.kind == OrderKind.appointment)
    amount = func.coalesce(
        func.sum(case((Order.kind.in_([str(k) for k in COMMISSION_KINDS]), Order.amount), else_=0)),
        0,
    )
    statement = (
        select(Staff.id, Staff.staff_no, appointments.label("n"), amount.label("amount"))
        .select_from(Order)
        .join(Staff, Staff.id == Order.staff_id)
        .where(
            Order.status == OrderStatus.valid,
            Order.created_on.between(first, last),
            Order.kind.in_([str(OrderKind.appointment), *(str(k) for k in COMMISSION_KINDS)]),
        )
        .group_by(Staff.id, Staff.staff_no)
        .having(or_(appointments > 0, amount > 0))
        .order_by(Staff.staff_no)
    )
    statement = _where(statement, scope.staff())
    lines = []
    for row in session.exec(statement).all():
        commissionable = _money(row.amount)
        commission = line_commission(int(row.n), commissionable, per_appointment, rate)
        lines.append(
            {
                "staff_id": row.id,
                "staff_no": row.staff_no,
                "valid_appointments": int(row.n),
                "commissionable_amount": commissionable,
                "commission": commission,
            }
        )
    return lines


def _published_lines(session: Session, scope: _Scope, month: str) -> list[dict[str, Any]]:
    statement = (
        select(
            CommissionLine.staff_id,
            Staff.staff_no,
            CommissionLine.valid_appointments,
            CommissionLine.commissionable_amount,
            CommissionLine.commission,
        )
        .join(Staff, Staff.id == CommissionLine.staff_id)
        .where(CommissionLine.month == month, CommissionLine.is_adjustment.is_(False))
        .order_by(Staff.staff_no)
    )
    statement = _where(statement, scope.staff())
    return [
        {
            "staff_id": row.staff_id,
            "staff_no": row.staff_no,
            "valid_appointments": int(row.valid_appointments),
            "commissionable_amount": _money(row.commissionable_amount),
            "commission": _money(row.commission),
        }
        for row in session.exec(statement).all()
    ]


def _commission_scope(actor: Actor) -> _Scope:
    """Whose lines the actor sees: a staff login their own, a department head their
    department's, the office everyone's."""
    require_role(actor, *COMMISSION_ROLES)
    if actor.role == Role.staff:
        return _Scope(staff_id=staff_scope(actor))
    return _Scope(department_id=department_scope(actor))


def _commission_lines(
    session: Session, actor: Actor, month: str, rules: Rules
) -> list[dict[str, Any]]:
    scope = _commission_scope(actor)
    month_bounds(month)
    published = is_published(session, month)
    if actor.role == Role.staff and not published:
        return []  # the sheet shows staff their line once published (see provisional_…)
    if published:
        return _published_lines(session, scope, month)
    return _computed_lines(session, scope, month, rules)


def provisional_commission_lines(
    session: Session, *, actor: Actor, month: str, rules: Rules
) -> list[dict[str, Any]]:
    """The lines `month`'s orders give so far, by the sheet's own rule (`_computed_lines`):
    what publishing the month now would freeze, scoped like the sheet (a staff login sees
    only their own line). Not final: orders may still change until the sheet is published."""
    scope = _commission_scope(actor)
    month_bounds(month)
    return [
        {key: value for key, value in line.items() if key != "staff_id"}
        for line in _computed_lines(session, scope, month, rules)
    ]


def computed_commission_lines(
    session: Session, *, actor: Actor, month: str, rules: Rules
) -> list[dict[str, Any]]:
    """The whole hospital's sheet computed from `month`'s orders (published or not), each
    line with its staff_id: what publishing freezes (admin only)."""
    require_role(actor, Role.admin)
    month_bounds(month)
    return _computed_lines(session, _Scope(), month, rules)


def commission_sheet(
    session: Session, *, actor: Actor, month: str, rules: Rules
) -> list[dict[str, Any]]:
    """The month's payout sheet: staff_no, valid_appointments, commissionable_amount,
    commission (the frozen lines once published)."""
    return [
        {key: value for key, value in line.items() if key != "staff_id"}
        for line in _commission_lines(session, actor, month, rules)
    ]


def commission_table(session: Session, *, actor: Actor, month: str, rules: Rules) -> pd.DataFrame:
    """The payout sheet with each staff member's name and department (for the page)."""
    import pandas as pd

    lines = _commission_lines(session, actor, month, rules)
    frame = pd.DataFrame(
        lines,
        columns=[
            "staff_id",
            "staff_no",
            "valid_appointments",
            "commissionable_amount",
            "commission",
        ],
    )
    names = session.exec(
        select(Staff.id, Staff.name, Department.name)
        .join(Department, Department.id == Staff.department_id)
        .where(Staff.id.in_([line["staff_id"] for line in lines]))
    ).all()
    by_id = {staff_id: (name, department) for staff_id, name, department in names}
    frame.insert(2, "name", frame["staff_id"].map(lambda i: by_id[i][0]))
    frame.insert(3, "department", frame["staff_id"].map(lambda i: by_id[i][1]))
    for column in ("commissionable_amount", "commission"):
        frame[column] = frame[column].astype(float)
    return frame.drop(columns="staff_id")
