"""The commission page's services around SPEC §3's payout sheet (core.metrics).

`core.metrics` computes the sheet (`commission_sheet`, `commission_table`). Here: the rules in
force, the months the page offers, a sheet's publication status, publishing (freezing) it,
the sheet's totals, and corrections. A published sheet never changes; a
correction is a new, audited adjustment line booked in the first month after it whose sheet is
still open, with a note that names the month it corrects.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import case, func, select
from sqlmodel import Session

from core import audit, metrics
from core.db import as_date
from core.domain import Role
from core.errors import AppError
from core.models import (
    AppUser,
    CommissionLine,
    CommissionSheet,
    Department,
    Order,
    Staff,
    utcnow,
)
from core.permissions import Actor, department_scope, require_role, staff_scope
from core.services.settings import get_value, hospital_today, metric_rules
from core.services.staff import data_months
from core.text import clean_text

CENT = Decimal("0.01")
NOTE_LIMIT = 400  # the stored note is "[YYYY-MM] " + this, within the column's 500
_CORRECTS = re.compile(r"^\[(\d{4}-\d{2})\] (.*)$", re.DOTALL)
ADJUSTMENT_COLUMNS = ["staff_no", "name", "department", "corrects_month", "amount", "note"]


class CommissionError(AppError):
    """A refused commission action; `key` is an i18n key of core/i18n/kpi.py."""


def commission_rules(session: Session, *, actor: Actor) -> dict[str, Decimal]:
    """The rules in force (SPEC §3; an administrator edits them in Admin → Settings)."""
    require_role(actor, *metrics.COMMISSION_ROLES)
    return {
        "per_appointment": Decimal(str(get_value(session, "commission_per_appointment"))),
        "rate": Decimal(str(get_value(session, "commission_rate"))),
    }


def commission_months(session: Session, *, actor: Actor) -> list[str]:
    """The months the commission page offers: from the first month with orders (or with
    cards and activity, as the staff pages count it) to the latest month with data, plus any
    later month that already holds adjustment lines."""
    require_role(actor, *metrics.COMMISSION_ROLES)
    latest = metrics.latest_data_month(session)
    months = {str(month) for month in session.exec(select(CommissionSheet.month)).scalars()}
    if latest is not None:
        months |= {latest, *data_months(session)[:1]}
        first_order = session.exec(select(func.min(Order.created_on))).scalar_one()
        if first_order is not None:
            months.add(metrics.month_of(as_date(first_order)))
    if not months:
        return []
    return metrics.months_between(min(months), max(months))


def sheet_status(session: Session, *, actor: Actor, month: str) -> dict[str, Any]:
    """Whether `month`'s sheet is published (when — also as the hospital's local time — and by
    whom), and whether it may be published now (the month is over and the sheet is open)."""
    require_role(actor, *metrics.COMMISSION_ROLES)
    _, last = metrics.month_bounds(month)
    row = session.exec(
        select(CommissionSheet.published_at, AppUser.username)
        .outerjoin(AppUser, AppUser.id == CommissionSheet.published_by_user_id)
        .where(CommissionSheet.month == month)
    ).first()
    published_at = row[0] if row else None
    local = None
    if published_at is not None:
        moment = published_at if published_at.tzinfo else published_at.replace(tzinfo=dt.UTC)
        zone = ZoneInfo(str(get_value(session, "timezone")))
        local = moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    return {
        "month": month,
        "published": published_at is not None,
        "published_at": published_at,
        "published_local": local,
        "published_by": (row[1] or "system") if published_at is not None else None,
        "month_over": last < hospital_today(session),
    }


def _adjustment_scope(session: Session, actor: Actor, month: str):
    """(department_id, staff_id) the adjustment lines of `month` are limited to, or None when
    the actor may see none yet (staff see lines of published months only)."""
    require_role(actor, *metrics.COMMISSION_ROLES)
    if actor.role == Role.staff:
        if not metrics.is_published(session, month):
            return None
        return None, staff_scope(actor)
    return department_scope(actor), None


def commission_adjustments(session: Session, *, actor: Actor, month: str) -> pd.DataFrame:
    """The correction lines booked in `month`: staff_no, name, department, the month each
    corrects, amount (¥, signed) and note — scoped like the sheet itself."""
    metrics.month_bounds(month)
    scope = _adjustment_scope(session, actor, month)
    if scope is None:
        return pd.DataFrame(columns=ADJUSTMENT_COLUMNS)
    department_id, staff_id = scope
    statement = (
        select(
            Staff.staff_no,
            Staff.name,
            Department.name.label("department"),
            CommissionLine.commission.label("amount"),
            CommissionLine.note,
        )
        .join(Staff, Staff.id == CommissionLine.staff_id)
        .join(Department, Department.id == Staff.department_id)
        .where(CommissionLine.month == month, CommissionLine.is_adjustment.is_(True))
        .order_by(Staff.staff_no, CommissionLine.id)
    )
    if staff_id is not None:
        statement = statement.where(Staff.id == staff_id)
    elif department_id is not None:
        statement = statement.where(Staff.department_id == department_id)
    rows = []
    for row in session.exec(statement).mappings().all():
        match = _CORRECTS.match(row["note"] or "")
        rows.append(
            {
                "staff_no": row["staff_no"],
                "name": row["name"],
                "department": row["department"],
                "corrects_month": match.group(1) if match else None,
                "amount": float(Decimal(str(row["amount"])).quantize(CENT)),
                "note": match.group(2) if match else (row["note"] or ""),
            }
        )
    return pd.DataFrame(rows, columns=ADJUSTMENT_COLUMNS)


def commission_totals(session: Session, *, actor: Actor, month: str) -> dict[str, Any]:
    """The sheet's totals as the actor sees it: lines, valid appointments, commissionable
    amount, commission, adjustments booked in the month, and the payout (commission +
    adjustments)."""
    sheet = metrics.commission_sheet(session, actor=actor, month=month, rules=metric_rules(session))
    scope = _adjustment_scope(session, actor, month)
    adjustments = Decimal("0")
    if scope is not None:
        department_id, staff_id = scope
        statement = (
            select(func.coalesce(func.sum(CommissionLine.commission), 0))
            .select_from(CommissionLine)
            .join(Staff, Staff.id == CommissionLine.staff_id)
            .where(CommissionLine.month == month, CommissionLine.is_adjustment.is_(True))
        )
        if staff_id is not None:
            statement = statement.where(Staff.id == staff_id)
        elif department_id is not None:
            statement = statement.where(Staff.department_id == department_id)
        adjustments = Decimal(str(session.exec(statement).one()[0])).quantize(CENT)
    commission = sum((line["commission"] for line in sheet), Decimal("0.00"))
    return {
        "lines": len(sheet),
        "valid_appointments": sum(line["valid_appointments"] for line in sheet),
        "commissionable_amount": sum(
            (line["commissionable_amount"] for line in sheet), Decimal("0.00")
        ),
        "commission": commission,
        "adjustments": adjustments,
        "payout": commission + adjustments,
    }


def _amount(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value).strip().replace(",", "").replace("¥", ""))
    except (InvalidOperation, AttributeError):
        raise CommissionError("kpi.err.amount") from None
    if not amount.is_finite():
        raise CommissionError("kpi.err.amount")
    amount = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    if amount == 0 or abs(amount) >= Decimal("10000000"):
        raise CommissionError("kpi.err.amount")
    return amount


def add_commission_adjustment(
    session: Session,
    *,
    actor: Actor,
    month: str,
    staff_id: int,
    amount: Decimal | float | int | str,
    note: str,
) -> CommissionLine:
    """Correct `month`'s published sheet for one staff member: an adjustment line of `amount`
    (¥, negative to claw back) booked in the first later month whose sheet is still open,
    audited. The published sheet itself never changes. Admin only."""
    require_role(actor, Role.admin)
    metrics.month_bounds(month)
    if not metrics.is_published(session, month):
        raise CommissionError("kpi.err.not_published", month=month)
    value = _amount(amount)
    text = " ".join(clean_text(note or "", field="note").split())
    if not text:
        raise CommissionError("kpi.err.note_required")
    if len(text) > NOTE_LIMIT:
        raise CommissionError("kpi.err.note_long", n=NOTE_LIMIT)
    person = session.get(Staff, staff_id)
    if person is None:
        raise CommissionError("kpi.err.unknown_staff")
    target = metrics.next_month(month)
    while True:
        sheet = session.exec(
            select(CommissionSheet).where(CommissionSheet.month == target).with_for_update()
        ).scalar_one_or_none()
        if sheet is None:
            session.add(CommissionSheet(month=target))
            session.flush()
            break
        if sheet.published_at is None:
            break
        target = metrics.next_month(target)
    line = CommissionLine(
        month=target,
        staff_id=person.id,
        valid_appointments=0,
        commissionable_amount=Decimal("0.00"),
        commission=value,
        is_adjustment=True,
        note=f"[{month}] {text}",
    )
    session.add(line)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="commission.adjust",
        entity="commission_line",
        entity_id=line.id,
        detail={
            "corrects_month": month,
            "booked_in": target,
            "staff_no": person.staff_no,
            "amount": value,
            "note": text,
        },
    )
    session.flush()
    return line


def publishable(session: Session, *, actor: Actor, month: str) -> bool:
    """Whether `actor` may publish `month`'s sheet now (admin, month over, not published)."""
    if actor.role != Role.admin:
        return False
    status = sheet_status(session, actor=actor, month=month)
    return status["month_over"] and not status["published"]


def publish_commission(session: Session, *, actor: Actor, month: str) -> list[dict[str, Any]]:
    """Freeze `month`'s computed sheet into commission lines (admin only; audited).
    A month is published once, after it has ended."""
    require_role(actor, Role.admin)
    _, last = metrics.month_bounds(month)
    if metrics.is_published(session, month):
        raise ValueError(f"the commission sheet of {month} is already published")
    rules = metric_rules(session)
    if last >= rules.today:
        raise ValueError(f"{month} is not over yet: publish its sheet after {last.isoformat()}")
    lines = metrics.computed_commission_lines(session, actor=actor, month=month, rules=rules)
    sheet = session.get(CommissionSheet, month) or CommissionSheet(month=month)
    sheet.published_at = utcnow()
    sheet.published_by_user_id = actor.user_id
    session.add(sheet)
    session.flush()
    for line in lines:
        session.add(
            CommissionLine(
                month=month,
                staff_id=line["staff_id"],
                valid_appointments=line["valid_appointments"],
                commissionable_amount=line["commissionable_amount"],
                commission=line["commission"],
            )
        )
    audit.record(
        session,
        actor=actor,
        action="commission.publish",
        entity="commission_sheet",
        entity_id=month,
        detail={
            "lines": len(lines),
            "total_commission": sum((line["commission"] for line in lines), Decimal("0")),
        },
    )
    session.flush()
    return [{k: v for k, v in line.items() if k != "staff_id"} for line in lines]


# --- A staff member's view: the month so far, and the published months -------------------

HISTORY_COLUMNS = [
    "month",
    "valid_appointments",
    "commissionable_amount",
    "commission",
    "adjustments",
    "payout",
]


def provisional_commission(session: Session, *, actor: Actor, month: str) -> dict[str, Any]:
    """The actor's commission of `month` so far, computed from its orders by the sheet's rule
    (`metrics.provisional_commission_lines`): valid appointments, commissionable amount and
    commission summed over the lines the actor may see (a staff login: their own line only),
    whether the sheet is published (then the provisional figure is not needed: the frozen
    line is the figure) and whether the month is over. Not final until published."""
    lines = metrics.provisional_commission_lines(
        session, actor=actor, month=month, rules=metric_rules(session)
    )
    _, last = metrics.month_bounds(month)
    return {
        "month": month,
        "published": metrics.is_published(session, month),
        "month_over": last < hospital_today(session),
        "lines": len(lines),
        "valid_appointments": sum(line["valid_appointments"] for line in lines),
        "commissionable_amount": sum(
            (line["commissionable_amount"] for line in lines), Decimal("0.00")
        ),
        "commission": sum((line["commission"] for line in lines), Decimal("0.00")),
    }


def published_history(session: Session, *, actor: Actor) -> pd.DataFrame:
    """Every published month, newest first, with the actor's frozen figures (a staff login:
    their own line, ¥0.00 in a month they had none; a head: their department's; the office:
    the hospital's): valid appointments, commissionable amount, commission, the adjustments
    booked in the month and the payout. One GROUP BY over the frozen lines."""
    require_role(actor, *metrics.COMMISSION_ROLES)
    staff_id = staff_scope(actor)
    department_id = department_scope(actor) if staff_id is None else None
    months = [
        str(month)
        for month in session.exec(
            select(CommissionSheet.month)
            .where(CommissionSheet.published_at.is_not(None))
            .order_by(CommissionSheet.month.desc())
        ).scalars()
    ]
    if not months:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    regular = CommissionLine.is_adjustment.is_(False)

    def total(column, where) -> Any:
        return func.coalesce(func.sum(case((where, column), else_=0)), 0)

    statement = (
        select(
            CommissionLine.month,
            total(CommissionLine.valid_appointments, regular).label("valid_appointments"),
            total(CommissionLine.commissionable_amount, regular).label("commissionable_amount"),
            total(CommissionLine.commission, regular).label("commission"),
            total(CommissionLine.commission, ~regular).label("adjustments"),
        )
        .join(Staff, Staff.id == CommissionLine.staff_id)
        .where(CommissionLine.month.in_(months))
        .group_by(CommissionLine.month)
    )
    if staff_id is not None:
        statement = statement.where(Staff.id == staff_id)
    elif department_id is not None:
        statement = statement.where(Staff.department_id == department_id)
    found = {row["month"]: row for row in session.exec(statement).mappings().all()}
    rows = []
    for month in months:
        row = found.get(month, {})
        commission = Decimal(str(row.get("commission", 0))).quantize(CENT)
        adjustments = Decimal(str(row.get("adjustments", 0))).quantize(CENT)
        rows.append(
            {
                "month": month,
                "valid_appointments": int(row.get("valid_appointments", 0)),
                "commissionable_amount": float(
                    Decimal(str(row.get("commissionable_amount", 0))).quantize(CENT)
                ),
                "commission": float(commission),
                "adjustments": float(adjustments),
                "payout": float(commission + adjustments),
            }
        )
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)
