"""Staff and their digital business cards (seed 000: about 400 of 600 staff given a card).

One cohesive module: the staff roster and each person's card pipeline, which share one
scope and the card-status conditions of `core.metrics` (splitting it is left for later).

The roster, each person's card pipeline (not issued → issued → activated → profile complete,
or revoked), the follow-up list a department head works through, the card actions of the
marketing office (issue, activate, profile complete, revoke — each audited), adding and
editing staff, and the card cohorts of the activation page.

Month figures of SPEC §3 (the card funnel, department rates) come from `core.metrics`; the
roster's per-person columns are plain SQL aggregates grouped by staff member, and a person's
card status as of end(M) uses exactly the conditions of `metrics._card_conditions`, so the
roster's counts add up to the funnel's (tests check it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pandas as pd
from sqlalchemy import String, and_, case, func, literal, or_, select, union_all
from sqlmodel import Session

from core import audit, credit, metrics
from core.db import as_date
from core.domain import ActivityKind, OrderStatus, Role
from core.errors import AppError
from core.models import Department, Order, Staff, StaffActivity, StaffCreate, StaffUpdate
from core.months import months_table
from core.permissions import Actor, PermissionDenied, department_scope, require_role
from core.services.settings import get_value, hospital_today, metric_rules
from core.text import clean_text

CARD_STATUSES = ("not_issued", "issued", "activated", "profile_complete", "revoked")
FOLLOW_UP_REASONS = ("not_activated", "no_profile", "not_using")

ROSTER_ROLES = (Role.admin, Role.executive, Role.marketer, Role.dept_head, Role.staff)
CARD_WRITE_ROLES = (Role.admin, Role.marketer)
STAFF_WRITE_ROLES = (Role.admin, Role.marketer, Role.dept_head)
MAX_REASON = 200


class StaffError(AppError):
    """A refused change, with its message in either language (`message_in`)."""


# --- Scope --------------------------------------------------------------------------------


def _roster_scope(actor: Actor, department_id: int | None) -> tuple[int | None, int | None]:
    """(department_id, staff_id) a roster query is limited to."""
    require_role(actor, *ROSTER_ROLES)
    if actor.role == Role.staff:
        if actor.staff_id is None:
            raise PermissionDenied("no staff member is linked to this login")
        return None, actor.staff_id
    own = department_scope(actor)
    if own is not None and department_id is not None and department_id != own:
        raise PermissionDenied("outside your department")
    return (department_id if department_id is not None else own), None


def _writable_staff(session: Session, actor: Actor, staff_ids: Iterable[int]) -> list[Staff]:
    """The staff rows a write touches, every one of them inside the actor's reach."""
    ids = sorted(set(staff_ids))
    if not ids:
        raise StaffError("staff.err.none_selected")
    rows = session.exec(select(Staff).where(Staff.id.in_(ids)).order_by(Staff.staff_no))
    staff = list(rows.scalars().all())
    if len(staff) != len(ids):
        raise StaffError("staff.err.unknown_staff")
    for person in staff:
        if actor.role == Role.dept_head and person.department_id != actor.department_id:
            raise PermissionDenied("outside your department")
    return staff


def departments(session: Session, *, actor: Actor) -> pd.DataFrame:
    """Departments the actor may look at: id, code, name (ordered by code)."""
    department_id, staff_id = _roster_scope(actor, None)
    statement = select(Department.id, Department.code, Department.name).order_by(Department.code)
    if staff_id is not None:
        statement = statement.join(Staff, Staff.department_id == Department.id).where(
            Staff.id == staff_id
        )
    elif department_id is not None:
        statement = statement.where(Department.id == department_id)
    return pd.DataFrame(session.exec(statement).all(), columns=["id", "code", "name"])


def staff_titles(session: Session, *, actor: Actor) -> list[str]:
    """The distinct job titles in the actor's scope (for the roster filter)."""
    department_id, staff_id = _roster_scope(actor, None)
    statement = select(Staff.title).where(Staff.title.is_not(None)).distinct()
    if staff_id is not None:
        statement = statement.where(Staff.id == staff_id)
    elif department_id is not None:
        statement = statement.where(Staff.department_id == department_id)
    return sorted(title for title in session.exec(statement).scalars().all() if title)


def staff_choices(
    session: Session, *, actor: Actor, department_id: int | None = None, employed_only=True
) -> pd.DataFrame:
    """id, staff_no, name, department_id, department of the staff in reach (for pickers)."""
    department_id, staff_id = _roster_scope(actor, department_id)
    statement = (
        select(
            Staff.id,
            Staff.staff_no,
            Staff.name,
            Staff.department_id,
            Department.name.label("department"),
        )
        .join(Department, Department.id == Staff.department_id)
        .order_by(Staff.staff_no)
    )
    if employed_only:
        statement = statement.where(Staff.left_on.is_(None), Staff.active.is_(True))
    if staff_id is not None:
        statement = statement.where(Staff.id == staff_id)
    elif department_id is not None:
        statement = statement.where(Staff.department_id == department_id)
    return pd.DataFrame(
        session.exec(statement).all(),
        columns=["id", "staff_no", "name", "department_id", "department"],
    )


# --- Card status --------------------------------------------------------------------------


def card_status_column(last_day):
    """A person's card status as of `last_day`, as an SQL CASE (the funnel's conditions)."""
    return case(
        (and_(Staff.card_revoked_on.is_not(None), Staff.card_revoked_on <= last_day), "revoked"),
        (or_(Staff.card_issued_on.is_(None), Staff.card_issued_on > last_day), "not_issued"),
        (
            or_(Staff.card_activated_on.is_(None), Staff.card_activated_on > last_day),
            "issued",
        ),
        (
            or_(Staff.profile_completed_on.is_(None), Staff.profile_completed_on > last_day),
            "activated",
        ),
        else_="profile_complete",
    )


def card_status(staff: Staff, as_of: dt.date) -> str:
    """The same status for one loaded staff row."""
    if staff.card_revoked_on is not None and staff.card_revoked_on <= as_of:
        return "revoked"
    if staff.card_issued_on is None or staff.card_issued_on > as_of:
        return "not_issued"
    if staff.card_activated_on is None or staff.card_activated_on > as_of:
        return "issued"
    if staff.profile_completed_on is None or staff.profile_completed_on > as_of:
        return "activated"
    return "profile_complete"


def holds_card(status: str) -> bool:
    """Issued, activated and profile-complete cards all count as issued (SPEC §3)."""
    return status in ("issued", "activated", "profile_complete")


def as_of_for(session: Session, month: str) -> dt.date:
    """The day a month's lists are drawn up on: its last day, or today while it runs."""
    _, last = metrics.month_bounds(month)
    return min(last, hospital_today(session))


def data_months(session: Session, *, limit: int = 120) -> list[str]:
    """The months a staff page offers: from the first card issued, activity recorded or
    month with data (at most `limit` months back) to the current month, so that today's card
    changes can be seen before the month has leads or orders. Pages still open on
    `metrics.latest_data_month` (SPEC §7). Empty on an empty database."""
    latest = metrics.latest_data_month(session)
    first_days = session.exec(
        select(
            select(func.min(Staff.card_issued_on)).scalar_subquery(),
            select(func.min(StaffActivity.date)).scalar_subquery(),
        )
    ).one()
    starts = [metrics.month_of(as_date(day)) for day in first_days if day is not None]
    if latest is not None:
        starts.append(latest)
    if not starts:
        return []
    last = max(latest or min(starts), metrics.month_of(hospital_today(session)))
    return metrics.months_between(min(starts), last)[-limit:]


# --- Roster -------------------------------------------------------------------------------

ROSTER_COLUMNS = [
    "staff_id",
    "staff_no",
    "name",
    "department_id",
    "department",
    "title",
    "phone",
    "card_status",
    "card_issued_on",
    "card_activated_on",
    "profile_completed_on",
    "card_revoked_on",
    "card_revoke_reason",
    "leads",
    "leads_month",
    "orders_month",
    "valid_orders_month",
    "last_activity",
    "activity_month",
    "using",
    "active",
    "left_on",
]


def staff_roster(
    session: Session,
    *,
    actor: Actor,
    month: str,
    search: str | None = None,
    department_id: int | None = None,
    title: str | None = None,
    card_status: str | None = None,
    using: bool | None = None,
    active: bool | None = None,
    include_left: bool = False,
) -> pd.DataFrame:
    """One row per staff member as of the end of `month` (columns `ROSTER_COLUMNS`).

    `leads`: leads they own created on or before end(M); `leads_month`, `orders_month`,
    `valid_orders_month`: leads created and orders credited to them in M; `last_activity`:
    their latest activity on or before end(M); `using`: an activity record dated in M;
    `active`: a card issued as of end(M) and at least the active-staff threshold of leads
    (SPEC §3's `staff_active`, per person). A department head sees their department, a staff
    login themself. Staff who left before M began only with `include_left`.
    """
    scope_department, scope_staff = _roster_scope(actor, department_id)
    first, last = metrics.month_bounds(month)
    threshold = int(get_value(session, "active_staff_lead_threshold"))

    # By the owner at end(M) (SPEC §8): a transfer dated after M never changes M's row.
    owned = credit.owned_counts(last, new_from=first)
    leads = select(
        owned.c.staff_id, owned.c.leads, owned.c.leads_new.label("leads_month")
    ).subquery("leads")
    orders = (
        select(
            Order.staff_id.label("staff_id"),
            func.count(Order.id).label("orders_month"),
            func.coalesce(func.sum(case((Order.status == OrderStatus.valid, 1), else_=0)), 0).label(
                "valid_orders_month"
            ),
        )
        .where(Order.created_on.between(first, last))
        .group_by(Order.staff_id)
        .subquery("orders")
    )
    activity = (
        select(
            StaffActivity.staff_id.label("staff_id"),
            func.max(StaffActivity.date).label("last_activity"),
            func.coalesce(func.sum(case((StaffActivity.date >= first, 1), else_=0)), 0).label(
                "activity_month"
            ),
        )
        .where(StaffActivity.date <= last)
        .group_by(StaffActivity.staff_id)
        .subquery("activity")
    )
    status = card_status_column(last)
    lead_count = func.coalesce(leads.c.leads, 0)
    activity_month = func.coalesce(activity.c.activity_month, 0)
    is_active = and_(
        status.in_(("issued", "activated", "profile_complete")), lead_count >= threshold
    )
    statement = (
        select(
            Staff.id.label("staff_id"),
            Staff.staff_no,
            Staff.name,
            Staff.department_id,
            Department.name.label("department"),
            Staff.title,
            Staff.phone,
            status.label("card_status"),
            Staff.card_issued_on,
            Staff.card_activated_on,
            Staff.profile_completed_on,
            Staff.card_revoked_on,
            Staff.card_revoke_reason,
            lead_count.label("leads"),
            func.coalesce(leads.c.leads_month, 0).label("leads_month"),
            func.coalesce(orders.c.orders_month, 0).label("orders_month"),
            func.coalesce(orders.c.valid_orders_month, 0).label("valid_orders_month"),
            activity.c.last_activity,
            activity_month.label("activity_month"),
            case((activity_month > 0, True), else_=False).label("using"),
            case((is_active, True), else_=False).label("active"),
            Staff.left_on,
        )
        .join(Department, Department.id == Staff.department_id)
        .outerjoin(leads, leads.c.staff_id == Staff.id)
        .outerjoin(orders, orders.c.staff_id == Staff.id)
        .outerjoin(activity, activity.c.staff_id == Staff.id)
        .order_by(Department.code, Staff.staff_no)
    )
    if scope_staff is not None:
        statement = statement.where(Staff.id == scope_staff)
    elif scope_department is not None:
        statement = statement.where(Staff.department_id == scope_department)
    if not include_left:  # people who left during the month are still in it
        statement = statement.where(or_(Staff.left_on.is_(None), Staff.left_on >= first))
    if search and search.strip():
        pattern = f"%{search.strip()}%"
        statement = statement.where(
            or_(
                Staff.name.ilike(pattern), Staff.staff_no.ilike(pattern), Staff.phone.ilike(pattern)
            )
        )
    if title:
        statement = statement.where(Staff.title == title)
    if card_status:
        if card_status not in CARD_STATUSES:
            raise ValueError(f"card status must be one of {', '.join(CARD_STATUSES)}")
        statement = statement.where(status == card_status)
    if using is not None:
        statement = statement.where(activity_month > 0 if using else activity_month == 0)
    if active is not None:
        statement = statement.where(is_active if active else ~is_active)
    frame = pd.DataFrame(session.exec(statement).mappings().all(), columns=ROSTER_COLUMNS)
    for column in ("leads", "leads_month", "orders_month", "valid_orders_month", "activity_month"):
        frame[column] = frame[column].astype(int)
    for column in ("using", "active"):
        frame[column] = frame[column].astype(bool)
    for column in (
        "card_issued_on",
        "card_activated_on",
        "profile_completed_on",
        "card_revoked_on",
        "last_activity",
        "left_on",
    ):
        frame[column] = frame[column].map(as_date)
    return frame


def team_table(
    session: Session, *, actor: Actor, month: str, department_id: int | None = None
) -> pd.DataFrame:
    """A department's people with the month's leads and orders and their rank inside the
    department on each (1 = most; ties share a rank), most leads first."""
    frame = staff_roster(session, actor=actor, month=month, department_id=department_id)
    by_department = frame.groupby("department_id")
    frame["rank_leads"] = by_department["leads_month"].rank(method="min", ascending=False)
    frame["rank_valid_orders"] = by_department["valid_orders_month"].rank(
        method="min", ascending=False
    )
    for column in ("rank_leads", "rank_valid_orders"):
        frame[column] = frame[column].fillna(0).astype(int)
    return frame.sort_values(["department", "rank_leads", "staff_no"]).reset_index(drop=True)


# --- Follow-up list -----------------------------------------------------------------------

FOLLOW_UP_COLUMNS = [
    "department_id",
    "department",
    "staff_id",
    "staff_no",
    "name",
    "title",
    "reason",
    "since",
    "days",
    "due_on",
    "overdue",
]


def follow_up_list(
    session: Session,
    *,
    actor: Actor,
    as_of: dt.date,
    department_id: int | None = None,
    include_not_due: bool = False,
) -> pd.DataFrame:
    """Whom to visit, as of `as_of`, grouped by department (columns `FOLLOW_UP_COLUMNS`):

    - `not_activated`: a card issued at least `followup_activation_days` ago, not activated;
    - `no_profile`: activated at least `followup_profile_days` ago, profile not completed;
    - `not_using`: an activated card and no activity record in as_of's month so far.

    `since` is the day the wait started (card issued, activated, or the last activity),
    `due_on` the day a card becomes overdue. With `include_not_due`, cards still inside
    their allowance are listed too (`overdue` False), so a newcomer shows up at once.
    Staff who have left, or whose card is revoked, are not listed.
    """
    scope_department, scope_staff = _roster_scope(actor, department_id)
    if actor.role == Role.staff:
        raise PermissionDenied("the follow-up list is for department heads and the office")
    activation_days = int(get_value(session, "followup_activation_days"))
    profile_days = int(get_value(session, "followup_profile_days"))
    month_first = as_of.replace(day=1)
    activation_cutoff = as_of - dt.timedelta(days=activation_days)
    profile_cutoff = as_of - dt.timedelta(days=profile_days)

    status = card_status_column(as_of)
    base = (
        select(
            Staff.department_id,
            Department.name.label("department"),
            Staff.id.label("staff_id"),
            Staff.staff_no,
            Staff.name,
            Staff.title,
        )
        .join(Department, Department.id == Staff.department_id)
        .where(
            Staff.active.is_(True),
            or_(Staff.left_on.is_(None), Staff.left_on > as_of),
        )
    )
    if scope_department is not None:
        base = base.where(Staff.department_id == scope_department)

    not_activated = base.add_columns(
        literal("not_activated", String(16)).label("reason"),
        Staff.card_issued_on.label("since"),
    ).where(status == "issued")
    if not include_not_due:
        not_activated = not_activated.where(Staff.card_issued_on <= activation_cutoff)

    no_profile = base.add_columns(
        literal("no_profile", String(16)).label("reason"),
        Staff.card_activated_on.label("since"),
    ).where(status == "activated")
    if not include_not_due:
        no_profile = no_profile.where(Staff.card_activated_on <= profile_cutoff)

    last_activity = (
        select(StaffActivity.staff_id, func.max(StaffActivity.date).label("last_day"))
        .where(StaffActivity.date <= as_of)
        .group_by(StaffActivity.staff_id)
        .subquery("last_activity")
    )
    not_using = (
        base.add_columns(
            literal("not_using", String(16)).label("reason"),
            last_activity.c.last_day.label("since"),
        )
        .outerjoin(last_activity, last_activity.c.staff_id == Staff.id)
        .where(
            status.in_(("activated", "profile_complete")),
            or_(last_activity.c.last_day.is_(None), last_activity.c.last_day < month_first),
        )
    )
    rows = session.exec(union_all(not_activated, no_profile, not_using)).mappings().all()
    frame = pd.DataFrame(rows, columns=FOLLOW_UP_COLUMNS[:8])
    frame["since"] = frame["since"].map(as_date)
    allowance = {"not_activated": activation_days, "no_profile": profile_days}

    def _due(row) -> dt.date | None:
        if row["reason"] not in allowance or row["since"] is None:
            return None
        return row["since"] + dt.timedelta(days=allowance[row["reason"]])

    frame["days"] = (
        frame["since"].map(lambda day: None if day is None else (as_of - day).days).astype("Int64")
    )
    frame["due_on"] = frame.apply(_due, axis=1) if len(frame) else pd.Series(dtype=object)
    frame["overdue"] = [
        reason == "not_using" or (due is not None and due <= as_of)
        for reason, due in zip(frame["reason"], frame["due_on"], strict=True)
    ]
    order = {reason: index for index, reason in enumerate(FOLLOW_UP_REASONS)}
    frame["_order"] = frame["reason"].map(order)
    frame = frame.sort_values(
        ["department", "_order", "overdue", "days", "staff_no"],
        ascending=[True, True, False, False, True],
    )
    return frame.drop(columns="_order").reset_index(drop=True)[FOLLOW_UP_COLUMNS]


# --- Card actions -------------------------------------------------------------------------

CARD_ACTIONS = ("issue", "activate", "profile", "revoke")


def card_action_candidates(
    session: Session, *, actor: Actor, action: str, month: str
) -> pd.DataFrame:
    """The people a card action is offered for (roster rows as of the end of `month`), all
    still employed: a card is issued to whoever never held one (a revoked card is never
    issued again), activated once issued, completed once activated, and revoked from whoever
    holds one (`holds_card`)."""
    roster = staff_roster(session, actor=actor, month=month)
    status = roster["card_status"]
    wanted = {
        "issue": status.eq("not_issued") & roster["card_revoked_on"].isna(),
        "activate": status.eq("issued"),
        "profile": status.eq("activated"),
        "revoke": status.map(holds_card).astype(bool),
    }[action]
    return roster[wanted & roster["left_on"].isna()]


def _check_day(session: Session, day: dt.date) -> None:
    if day is None:
        raise StaffError("staff.err.date_required")
    if day > hospital_today(session):
        raise StaffError("staff.err.future_date", day=day.isoformat())


def _refuse(people: list[Staff], key: str, **values: Any) -> None:
    if people:
        names = ", ".join(f"{p.staff_no} {p.name}" for p in people[:10])
        more = len(people) - 10
        raise StaffError(key, names=names + (f" (+{more})" if more > 0 else ""), **values)


def _card_audit(session: Session, actor: Actor, action: str, person: Staff, **detail) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        entity="staff",
        entity_id=person.id,
        detail={"staff_no": person.staff_no, **detail},
    )


def issue_cards(
    session: Session, *, actor: Actor, staff_ids: Iterable[int], issued_on: dt.date
) -> list[Staff]:
    """Issue a card to each selected staff member (admin, marketer). All or none: staff who
    left, already hold a card, or had one revoked (a second card would rewrite the figures
    of the months it was revoked in) are refused."""
    require_role(actor, *CARD_WRITE_ROLES)
    _check_day(session, issued_on)
    people = _writable_staff(session, actor, staff_ids)
    _refuse([p for p in people if p.left_on is not None or not p.active], "staff.err.has_left")
    _refuse([p for p in people if p.card_revoked_on is not None], "staff.err.card_was_revoked")
    _refuse([p for p in people if p.card_issued_on is not None], "staff.err.already_issued")
    for person in people:
        person.card_issued_on = issued_on
        session.add(person)
        _card_audit(session, actor, "card.issue", person, issued_on=issued_on)
    session.flush()
    return people


def mark_activated(
    session: Session, *, actor: Actor, staff_ids: Iterable[int], activated_on: dt.date
) -> list[Staff]:
    """Record that the selected cards were activated on `activated_on` (admin, marketer)."""
    require_role(actor, *CARD_WRITE_ROLES)
    _check_day(session, activated_on)
    people = _writable_staff(session, actor, staff_ids)
    _refuse([p for p in people if card_status(p, activated_on) == "revoked"], "staff.err.revoked")
    _refuse(
        [p for p in people if p.card_issued_on is None or p.card_issued_on > activated_on],
        "staff.err.not_issued_by",
        day=activated_on.isoformat(),
    )
    _refuse([p for p in people if p.card_activated_on is not None], "staff.err.already_activated")
    for person in people:
        person.card_activated_on = activated_on
        session.add(person)
        _card_audit(session, actor, "card.activate", person, activated_on=activated_on)
    session.flush()
    return people


def mark_profile_complete(
    session: Session, *, actor: Actor, staff_ids: Iterable[int], completed_on: dt.date
) -> list[Staff]:
    """Record that the selected staff completed their card profile (photo and bio)."""
    require_role(actor, *CARD_WRITE_ROLES)
    _check_day(session, completed_on)
    people = _writable_staff(session, actor, staff_ids)
    _refuse([p for p in people if card_status(p, completed_on) == "revoked"], "staff.err.revoked")
    _refuse(
        [p for p in people if p.card_activated_on is None or p.card_activated_on > completed_on],
        "staff.err.not_activated_by",
        day=completed_on.isoformat(),
    )
    _refuse([p for p in people if p.profile_completed_on is not None], "staff.err.already_profile")
    for person in people:
        person.profile_completed_on = completed_on
        session.add(person)
        _card_audit(session, actor, "card.profile_complete", person, completed_on=completed_on)
    session.flush()
    return people


def revoke_cards(
    session: Session,
    *,
    actor: Actor,
    staff_ids: Iterable[int],
    revoked_on: dt.date,
    reason: str,
) -> list[Staff]:
    """Revoke the selected cards from `revoked_on` with a reason (admin, marketer)."""
    require_role(actor, *CARD_WRITE_ROLES)
    _check_day(session, revoked_on)
    reason = clean_reason(reason)
    people = _writable_staff(session, actor, staff_ids)
    _refuse([p for p in people if p.card_revoked_on is not None], "staff.err.revoked")
    _refuse(
        [p for p in people if p.card_issued_on is None or p.card_issued_on > revoked_on],
        "staff.err.not_issued_by",
        day=revoked_on.isoformat(),
    )
    for person in people:
        revoke_card(session, actor=actor, person=person, revoked_on=revoked_on, reason=reason)
    session.flush()
    return people


def revoke_card(
    session: Session, *, actor: Actor, person: Staff, revoked_on: dt.date, reason: str
) -> None:
    """Revoke one card (callers have checked the actor and the dates); audited."""
    person.card_revoked_on = revoked_on
    person.card_revoke_reason = reason[:MAX_REASON]
    session.add(person)
    _card_audit(session, actor, "card.revoke", person, revoked_on=revoked_on, reason=reason)


def clean_reason(reason: str | None) -> str:
    reason = clean_text((reason or "").strip(), field="reason")
    if not reason:
        raise StaffError("staff.err.reason_required")
    if len(reason) > MAX_REASON:
        raise StaffError("staff.err.reason_too_long", limit=MAX_REASON)
    return reason


# --- Adding and editing staff -------------------------------------------------------------


def _clean(value: str | None, limit: int, field: str) -> str | None:
    value = clean_text((value or "").strip(), field=field)
    if len(value) > limit:
        raise StaffError("staff.err.too_long", limit=limit)
    return value or None


def _check_department(session: Session, actor: Actor, department_id: int | None) -> Department:
    department = session.get(Department, department_id) if department_id is not None else None
    if department is None:
        raise StaffError("staff.err.unknown_department")
    if actor.role == Role.dept_head and department.id != actor.department_id:
        raise PermissionDenied("outside your department")
    return department


def add_staff(session: Session, *, actor: Actor, data: StaffCreate) -> Staff:
    """Add a staff member (admin, marketer; a department head into their own department)."""
    require_role(actor, *STAFF_WRITE_ROLES)
    staff_no = _clean(data.staff_no, 32, "staff_no")
    name = _clean(data.name, 100, "name")
    if not staff_no or not name:
        raise StaffError("staff.err.no_and_name_required")
    department = _check_department(session, actor, data.department_id)
    exists = session.exec(select(Staff.id).where(Staff.staff_no == staff_no)).first()
    if exists is not None:
        raise StaffError("staff.err.duplicate_no", staff_no=staff_no)
    person = Staff(
        staff_no=staff_no,
        name=name,
        department_id=department.id,
        title=_clean(data.title, 100, "title"),
        phone=_clean(data.phone, 32, "phone"),
    )
    session.add(person)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="staff.create",
        entity="staff",
        entity_id=person.id,
        detail={
            "staff_no": person.staff_no,
            "name": person.name,
            "department": department.code,
            "title": person.title,
        },
    )
    return person


def update_staff(session: Session, *, actor: Actor, staff_id: int, data: StaffUpdate) -> Staff:
    """Change the fields set in `data` (name, department, title, phone) and nothing else; the
    old and new values are audited. A department head edits their own department's staff
    and keeps them there."""
    require_role(actor, *STAFF_WRITE_ROLES)
    (person,) = _writable_staff(session, actor, [staff_id])
    new = data.model_dump(exclude_unset=True)
    if "name" in new:
        new["name"] = _clean(new["name"], 100, "name")
        if not new["name"]:
            raise StaffError("staff.err.no_and_name_required")
    if "department_id" in new:
        _check_department(session, actor, new["department_id"])
    for key, limit in (("title", 100), ("phone", 32)):
        if key in new:
            new[key] = _clean(new[key], limit, key)
    changes = {
        key: {"old": getattr(person, key), "new": value}
        for key, value in new.items()
        if getattr(person, key) != value
    }
    if not changes:
        return person
    person.sqlmodel_update({key: new[key] for key in changes})
    session.add(person)
    audit.record(
        session,
        actor=actor,
        action="staff.update",
        entity="staff",
        entity_id=person.id,
        detail={"staff_no": person.staff_no, **changes},
    )
    session.flush()
    return person


def record_activity(
    session: Session, *, staff_id: int, day: dt.date, kind: str = ActivityKind.login
) -> StaffActivity:
    """One activity record (SPEC §3 `staff_using`): a sign-in, a share, a post, a visit, or
    an interaction a staff member records. Not audited: it is a usage fact, not a change."""
    if kind not in {str(k) for k in ActivityKind}:
        raise ValueError(f"activity kind must be one of {', '.join(ActivityKind)}")
    row = StaffActivity(staff_id=staff_id, date=day, kind=str(kind))
    session.add(row)
    return row


# --- Activation page: cohorts and the usage heatmap ----------------------------------------


def card_cohorts(
    session: Session, *, actor: Actor, first_month: str, last_month: str
) -> pd.DataFrame:
    """Of the staff issued a card in month X (a cohort; revoked later or not), the number and
    share with at least one activity record in each month from X to `last_month`.

    Columns: cohort, issued, month, months_after (0 = the month of issue), using, share.
    One SQL aggregate for the sizes and one for the usage (GROUP BY cohort, month).
    """
    department_id, _ = _roster_scope(actor, None)
    if actor.role == Role.staff:
        raise PermissionDenied("card cohorts are for department heads and the office")
    months = metrics.months_between(first_month, last_month)
    cohort = months_table(months, name="cohort_months")
    active_month = months_table(months, name="activity_months")
    sizes = (
        select(cohort.c.month.label("cohort"), func.count(Staff.id).label("issued"))
        .select_from(cohort)
        .join(Staff, Staff.card_issued_on.between(cohort.c.first_day, cohort.c.last_day))
        .group_by(cohort.c.month)
    )
    usage = (
        select(
            cohort.c.month.label("cohort"),
            active_month.c.month.label("month"),
            func.count(func.distinct(StaffActivity.staff_id)).label("using"),
        )
        .select_from(cohort)
        .join(Staff, Staff.card_issued_on.between(cohort.c.first_day, cohort.c.last_day))
        .join(StaffActivity, StaffActivity.staff_id == Staff.id)
        .join(
            active_month,
            and_(
                StaffActivity.date.between(active_month.c.first_day, active_month.c.last_day),
                active_month.c.month >= cohort.c.month,
            ),
        )
        .group_by(cohort.c.month, active_month.c.month)
    )
    if department_id is not None:
        sizes = sizes.where(Staff.department_id == department_id)
        usage = usage.where(Staff.department_id == department_id)
    size_frame = pd.DataFrame(session.exec(sizes).all(), columns=["cohort", "issued"])
    usage_frame = pd.DataFrame(session.exec(usage).all(), columns=["cohort", "month", "using"])
    grid = [
        {"cohort": c, "month": m, "months_after": months.index(m) - months.index(c)}
        for c in size_frame["cohort"]
        for m in months
        if m >= c
    ]
    frame = pd.DataFrame(grid, columns=["cohort", "month", "months_after"])
    frame = frame.merge(size_frame, on="cohort", how="left").merge(
        usage_frame, on=["cohort", "month"], how="left"
    )
    frame["issued"] = frame["issued"].fillna(0).astype(int)
    frame["using"] = frame["using"].fillna(0).astype(int)
    frame["share"] = (frame["using"] / frame["issued"].where(frame["issued"] > 0)).round(4)
    columns = ["cohort", "issued", "month", "months_after", "using", "share"]
    return frame[columns].sort_values(["cohort", "month"]).reset_index(drop=True)


def usage_heatmap(session: Session, *, actor: Actor, months: list[str]) -> pd.DataFrame:
    """Department × month usage rate (staff using ÷ cards issued), each month's rates from
    `metrics.department_table`. Columns: department, one per month."""
    frames = []
    rules = metric_rules(session)
    for month in months:
        table = metrics.department_table(session, actor=actor, month=month, rules=rules)
        frames.append(table[["department_code", "department", "usage_rate"]].assign(month=month))
    if not frames:
        return pd.DataFrame(columns=["department"])
    long = pd.concat(frames, ignore_index=True)
    wide = long.pivot(index=["department_code", "department"], columns="month", values="usage_rate")
    wide = wide.reset_index().drop(columns="department_code")
    wide.columns.name = None
    return wide
