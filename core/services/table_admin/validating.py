"""Validating what an admin typed, before anything is written.

A cell's input is turned into the value it stands for (`coerce_cell`: labels to ids, text to
numbers and dates, the typed-text rule of core.text), the row is validated through its own
SQLModel class (`validate_model`: types, max_length, required), unique columns are checked
against the table and the save itself (`unique_errors`), and `ROW_RULES` add the cross-field
rules a model cannot state. Refusals are messages in the user's language (`Refused`,
`error_message` for pydantic's errors).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import pandas as pd
from pydantic import ValidationError
from sqlalchemy import select
from sqlmodel import Session

from core import metrics
from core import text as text_rules
from core.db import as_date
from core.domain import Role
from core.errors import problem_text
from core.i18n import t
from core.models import Member
from core.services import referrals
from core.services import settings as settings_service
from core.services.table_admin.specs import (
    ColumnSpec,
    TableSpec,
    find_spec,
    find_table,
    resolve_reference,
    table_title,
)

# --- validating ------------------------------------------------------------------------------


def error_message(error: Mapping[str, Any], lang: str) -> str:
    """One pydantic validation error as a message in `lang` (core.errors.problem_text)."""
    return problem_text(error, lang)


def _is_blank(value: Any) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


class Refused(Exception):
    """A value refused by a check; `message` says why in the user's language."""

    def __init__(self, message: str):
        self.message = message


def coerce_cell(session: Session, col: ColumnSpec, value: Any, lang: str) -> Any:
    """The value a cell's input stands for (labels → ids, floats → decimals, …)."""
    if _is_blank(value):
        return None
    if isinstance(value, str):
        value = value.strip()
        problem = text_rules.text_problem(value)
        if problem is not None:  # the importer's rule (core.text), with its message
            raise Refused(t(problem[0], lang, **problem[1]))
    if col.fk_table is not None:
        found, ident = resolve_reference(session, find_spec(col.fk_table), col.fk_column, value)
        if not found:
            raise Refused(
                t(
                    "table_admin.err.no_such",
                    lang,
                    table=table_title(col.fk_table, lang),
                    value=value,
                )
            )
        return ident
    if col.choices is not None:
        text = str(value)
        if text not in col.choices:
            raise Refused(t("table_admin.err.choice", lang, choices=", ".join(col.choices)))
        return text
    if col.kind == "int":
        if isinstance(value, str) and value.lstrip("+-").isdigit():
            return int(value)
        if isinstance(value, float):
            if not value.is_integer():
                raise Refused(t("table_admin.err.not_integer", lang))
            return int(value)
        return value
    if col.kind == "decimal":
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise Refused(t("table_admin.err.not_number", lang)) from None
        if not number.is_finite():
            raise Refused(t("table_admin.err.not_number", lang))
        if col.scale is not None:
            rounded = number.quantize(Decimal(1).scaleb(-col.scale), rounding=ROUND_HALF_UP)
            if abs(rounded - number) > Decimal("1e-9"):
                raise Refused(t("table_admin.err.decimals", lang, scale=col.scale))
            number = rounded
            if col.precision is not None and abs(number) >= Decimal(10) ** (
                col.precision - col.scale
            ):
                raise Refused(t("table_admin.err.too_large", lang))
        return number
    if col.kind == "date":
        if isinstance(value, dt.datetime | pd.Timestamp):
            if value.time() != dt.time():
                raise Refused(t("table_admin.err.not_date", lang))
            return value.date()
        if isinstance(value, str) and len(value) > 10 and value[10] in "T ":
            head, tail = value[:10], value[11:]
            if tail.strip("0:.Z") == "":
                return head
        return value
    if col.kind == "bool" and isinstance(value, str):
        lowered = value.lower()
        if lowered in ("true", "1", "yes", "是"):
            return True
        if lowered in ("false", "0", "no", "否"):
            return False
        raise Refused(t("table_admin.err.not_bool", lang))
    if col.kind in ("text", "long_text") and not isinstance(value, str):
        return str(value)
    return value


def validate_model(spec: TableSpec, data: dict[str, Any], lang: str) -> tuple[Any, dict[str, str]]:
    """(validated model, {column: message}) through the table's own SQLModel class."""
    errors: dict[str, str] = {}
    for col in spec.columns:
        blank = col.name in data and data[col.name] is None and not col.nullable
        if blank and not (col.primary_key and not col.required):
            errors[col.name] = t("table_admin.err.required", lang)
    candidate = {k: v for k, v in data.items() if k not in errors}
    try:
        model = spec.model.model_validate(candidate)
    except ValidationError as error:
        for item in error.errors():
            column = str(item["loc"][0]) if item.get("loc") else ""
            errors.setdefault(column, error_message(item, lang))
        return None, errors
    return model, errors


def unique_errors(
    session: Session,
    spec: TableSpec,
    rows: Mapping[Any, dict[str, Any]],
    changed: Mapping[Any, set[str]],
    lang: str,
) -> list[tuple[Any, str, str]]:
    """Values of unique columns already used by another row (or twice in this save)."""
    table = find_table(spec.name)
    errors = []
    for col in spec.columns:
        if not col.unique:
            continue
        wanted: dict[Any, Any] = {
            pk: row[col.name]
            for pk, row in rows.items()
            if col.name in changed[pk] and row.get(col.name) is not None
        }
        if not wanted:
            continue
        seen: dict[Any, Any] = {}
        for pk, value in wanted.items():
            if value in seen:
                errors.append((pk, col.name, t("table_admin.err.duplicate", lang, value=value)))
            seen[value] = pk
        taken = session.execute(
            select(table.c[spec.pk], table.c[col.name]).where(table.c[col.name].in_(list(seen)))
        ).all()
        for other_pk, value in taken:
            pk = seen.get(value)
            moving_away = other_pk in rows and rows[other_pk].get(col.name) != value
            if pk is not None and other_pk != pk and not moving_away:
                errors.append((pk, col.name, t("table_admin.err.taken", lang, value=value)))
    return errors


# Cross-field rules a model cannot state: (session, spec, {pk: merged row}, lang) → errors.
RowRule = Callable[
    [Session, TableSpec, Mapping[Any, dict[str, Any]], str], list[tuple[Any, str, str]]
]


def _rule_dates_in_order(first: str, second: str) -> RowRule:
    def rule(session, spec, rows, lang):
        errors = []
        for pk, row in rows.items():
            a, b = row.get(first), row.get(second)
            if a is not None and b is not None and as_date(b) < as_date(a):
                errors.append((pk, second, t("table_admin.err.before", lang, other=first)))
        return errors

    return rule


def _rule_interaction_points(session, spec, rows, lang):
    rules = settings_service.scoring_rules(session)
    errors = []
    for pk, row in rows.items():
        rule = rules.get(row.get("kind"))
        if rule is None or not rule.active:
            errors.append(
                (
                    pk,
                    "kind",
                    t(
                        "table_admin.err.choice",
                        lang,
                        choices=", ".join(sorted(k for k, r in rules.items() if r.active)),
                    ),
                )
            )
            continue
        points = row.get("points")
        low = rule.min_points if rule.min_points is not None else 0
        high = rule.max_points
        if points is not None and (points < low or (high is not None and points > high)):
            errors.append(
                (
                    pk,
                    "points",
                    t(
                        "table_admin.err.range",
                        lang,
                        low=low,
                        high=high if high is not None else "∞",
                    ),
                )
            )
    return errors


def _rule_tiers_increase(session, spec, rows, lang):
    table = find_table(spec.name)
    current = {
        level: threshold
        for level, threshold in session.execute(select(table.c.level, table.c.threshold)).all()
    }
    for pk, row in rows.items():
        current.pop(pk, None)
        current[row["level"]] = row["threshold"]
    errors = []
    edited = {row["level"] for row in rows.values()}
    for level, problem, low_level, low in metrics.tier_threshold_problems(current):
        if problem == "first":
            if level in edited:
                errors.append((level, "threshold", t("table_admin.err.first_tier", lang)))
        else:
            errors.append(
                (
                    level,
                    "threshold",
                    t("table_admin.err.tier_order", lang, level=low_level, threshold=low),
                )
            )
    pk_by_level = {row["level"]: pk for pk, row in rows.items()}
    return [
        (pk_by_level.get(level, level), col, msg)
        for level, col, msg in errors
        if level in pk_by_level
    ]


def _rule_app_user(session, spec, rows, lang):
    errors = []
    for pk, row in rows.items():
        if row.get("role") == Role.dept_head and row.get("department_id") is None:
            errors.append((pk, "department_id", t("table_admin.err.dept_head_department", lang)))
        if row.get("role") == Role.staff and row.get("staff_id") is None:
            errors.append((pk, "staff_id", t("table_admin.err.staff_login_staff", lang)))
    return errors


def _rule_scoring_range(session, spec, rows, lang):
    errors = []
    for pk, row in rows.items():
        low, high, points = row.get("min_points"), row.get("max_points"), row.get("points")
        if low is not None and high is not None and high < low:
            errors.append((pk, "max_points", t("table_admin.err.before", lang, other="min_points")))
        elif points is not None and (
            (low is not None and points < low) or (high is not None and points > high)
        ):
            errors.append(
                (
                    pk,
                    "points",
                    t(
                        "table_admin.err.range",
                        lang,
                        low=low if low is not None else 0,
                        high=high if high is not None else "∞",
                    ),
                )
            )
        if points is not None and points < 0:
            errors.append((pk, "points", t("table_admin.err.negative", lang)))
    return errors


def _rule_not_negative(*columns: str) -> RowRule:
    def rule(session, spec, rows, lang):
        return [
            (pk, column, t("table_admin.err.negative", lang))
            for pk, row in rows.items()
            for column in columns
            if row.get(column) is not None and row[column] < 0
        ]

    return rule


def _rule_month(column: str) -> RowRule:
    def rule(session, spec, rows, lang):
        errors = []
        for pk, row in rows.items():
            value = row.get(column)
            try:
                valid = (
                    value is not None and len(value) == 7 and dt.date.fromisoformat(f"{value}-01")
                )
            except ValueError:
                valid = False
            if value is not None and not valid:
                errors.append((pk, column, t("table_admin.err.month", lang)))
        return errors

    return rule


def _rule_referrer(session, spec, rows, lang):
    """SPEC §10: a changed referrer is checked as the imports and forms check it
    (core.services.referrals.referral_problems): not the person themself, no cycle."""
    table = find_table(spec.name)
    column = "referred_by_member_id"
    saved = {}
    existing = [pk for pk in rows if pk != "__new__"]
    if existing:
        statement = select(table.c.id, table.c[column]).where(table.c.id.in_(existing))
        saved = dict(session.execute(statement).all())
    checked = []
    for pk, row in rows.items():
        referrer = row.get(column)
        if referrer is None or (pk in saved and saved[pk] == referrer):
            continue
        is_new = pk == "__new__"
        if spec.name == "lead":
            node = None if is_new else ("L", pk)
            member_id = None
        else:
            lead_id = row.get("lead_id")
            node = ("L", lead_id) if lead_id is not None else (None if is_new else ("M", pk))
            member_id = None if is_new else pk
        checked.append((pk, (node, member_id, referrer)))
    problems = referrals.referral_problems(session, [row for _, row in checked])
    errors = []
    for j, problem in problems.items():
        pk, (_node, _member, referrer) = checked[j]
        number = session.execute(select(Member.member_no).where(Member.id == referrer)).scalar_one()
        errors.append((pk, column, t(f"referrals.err.{problem}", lang, value=number)))
    return errors


ROW_RULES: dict[str, list[RowRule]] = {
    "campaign": [
        _rule_dates_in_order("starts_on", "ends_on"),
        _rule_not_negative("budget", "target_leads"),
    ],
    "staff": [
        _rule_dates_in_order("card_issued_on", "card_activated_on"),
        _rule_dates_in_order("card_activated_on", "profile_completed_on"),
        _rule_dates_in_order("card_issued_on", "card_revoked_on"),
    ],
    "interaction": [_rule_interaction_points],
    "tier": [_rule_tiers_increase, _rule_not_negative("discount_rate")],
    "app_user": [_rule_app_user],
    "scoring_rule": [_rule_scoring_range],
    "card_licence": [_rule_month("month"), _rule_not_negative("licences")],
    "orders": [_rule_not_negative("amount")],
    "reward": [_rule_not_negative("points_cost", "stock")],
    "lead": [_rule_referrer],
    "member": [_rule_referrer],
}
