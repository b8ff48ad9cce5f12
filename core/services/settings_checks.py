"""The settings editors' checks and previews (the admin's Settings tab).

`change_settings` validates every value by its check (`SETTING_CHECKS`; a setting added
later without one is checked by the type of its default) and changes those that differ,
or nothing (`SettingRejected`, {key: message}). The previews say what a change would do
before it is saved, computed in SQL: the leads per suggested stage and qualified for
hand-off under the current and the proposed scoring (`scoring_preview`, from the leads'
score summaries), the staff counted active (`active_staff_preview`), a month's commission
(`commission_preview`).

The settings themselves (defaults, reading, writing) are core.services.settings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import case, func, select
from sqlmodel import Session

from core import metrics
from core.db import as_date
from core.domain import Role, Stage
from core.errors import AppError
from core.i18n import t
from core.models import Lead
from core.permissions import Actor, require_role
from core.scoring import score_sql, suggested_stage_sql
from core.services import settings as settings_service
from core.services.table_admin.validating import Refused


class SettingRejected(AppError):
    """Some values were refused and nothing was changed: `errors` is {setting key: message
    in the language `change_settings` was given}."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__(message="; ".join(f"{key}: {message}" for key, message in errors.items()))


def _int_at_least(low: int, high: int | None = None):
    def check(value, lang):
        if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
            raise Refused(t("table_admin.err.not_integer", lang))
        if value < low or (high is not None and value > high):
            raise Refused(
                t("table_admin.err.range", lang, low=low, high=high if high is not None else "∞")
            )
        return int(value)

    return check


def _decimal_text(low: Decimal, high: Decimal | None = None):
    def check(value, lang):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise Refused(t("table_admin.err.not_number", lang)) from None
        if not number.is_finite() or number < low or (high is not None and number > high):
            raise Refused(
                t("table_admin.err.range", lang, low=low, high=high if high is not None else "∞")
            )
        return str(number.normalize()) if number != number.to_integral() else str(int(number))

    return check


def _boolean(value, lang):
    if not isinstance(value, bool):
        raise Refused(t("table_admin.err.not_bool", lang))
    return value


def _timezone(value, lang):
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise Refused(t("table_admin.err.timezone", lang)) from None
    return str(value)


def _language(value, lang):
    if value not in ("en", "zh"):
        raise Refused(t("table_admin.err.choice", lang, choices="en, zh"))
    return value


def _stage_thresholds(value, lang):
    if not isinstance(value, Mapping):
        raise Refused(t("table_admin.err.not_number", lang))
    stages = [str(stage) for stage in (Stage.weak_trust, Stage.strong_trust, Stage.super_trust)]
    checked = {}
    for stage in stages:
        checked[stage] = _int_at_least(1)(value.get(stage), lang)
    bounds = [checked[s] for s in stages]
    if not bounds[0] < bounds[1] < bounds[2]:
        raise Refused(t("settings_admin.err.thresholds_order", lang))
    return checked


def _earning_points(value, lang):
    if not isinstance(value, Mapping):
        raise Refused(t("table_admin.err.not_number", lang))
    return {str(kind): _int_at_least(0)(points, lang) for kind, points in value.items()}


def _optional_months(value, lang):
    if value is None:
        return None
    return _int_at_least(1, 120)(value, lang)


SETTING_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "idle_decay_points": _int_at_least(0, 1000),
    "stage_thresholds": _stage_thresholds,
    "handoff_threshold": _int_at_least(0, 100_000),
    "auto_promotion": _boolean,
    "active_staff_lead_threshold": _int_at_least(1, 100_000),
    "followup_activation_days": _int_at_least(1, 365),
    "followup_profile_days": _int_at_least(1, 365),
    "commission_per_appointment": _decimal_text(Decimal(0), Decimal(100_000)),
    "commission_rate": _decimal_text(Decimal(0), Decimal(1)),
    "earning_points": _earning_points,
    "default_licences": _int_at_least(0, 1_000_000),
    "timezone": _timezone,
    "default_language": _language,
    "points_expiry_months": _optional_months,
    "tier_requalification_months": _optional_months,
    "idle_session_minutes": _int_at_least(5, 24 * 60),
    "absolute_session_hours": _int_at_least(1, 24 * 14),
}


def _inferred_check(default: Any) -> Callable[[Any, str], Any]:
    """The check of a setting added without one here: the type of its default."""
    if isinstance(default, bool):
        return _boolean
    if isinstance(default, int):
        return _int_at_least(0)
    if default is None:
        return _optional_months

    def same_type(value, lang):
        if not isinstance(value, type(default)):
            raise Refused(t("table_admin.err.not_text", lang))
        return value

    return same_type


def setting_check(key: str) -> Callable[[Any, str], Any] | None:
    if key in SETTING_CHECKS:
        return SETTING_CHECKS[key]
    if key in settings_service.DEFAULTS:
        return _inferred_check(settings_service.DEFAULTS[key])
    return None


def change_settings(
    session: Session, *, actor: Actor, values: Mapping[str, Any], lang: str = "en"
) -> list[str]:
    """Validate every value, then change those that differ (each audited with old and new
    values by `settings.set_value`); returns the keys changed. Raises SettingRejected
    ({key: message}) and changes nothing when any value is bad. Takes effect at once: every
    reader asks the database."""
    require_role(actor, Role.admin)
    checked: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, value in values.items():
        check = setting_check(key)
        if check is None:
            errors[key] = t("table_admin.err.unknown_column", lang)
            continue
        try:
            checked[key] = check(value, lang)
        except Refused as refused:
            errors[key] = refused.message
    if errors:
        raise SettingRejected(errors)
    current = settings_service.get_all(session)
    changed = []
    for key, value in checked.items():
        if current.get(key) != value:
            settings_service.set_value(session, actor=actor, key=key, value=value)
            changed.append(key)
    session.flush()
    return changed


def preview_day(session: Session) -> dt.date:
    """The day previews are computed for: today, or the last day with any interaction or lead
    when the data ends earlier (the demo hospital ends on 2019-08-31)."""
    today = settings_service.hospital_today(session)
    last = session.execute(
        select(func.max(func.coalesce(Lead.last_interaction_on, Lead.created_on)))
    ).scalar_one()
    if last is None:
        return today
    return min(today, as_date(last))


def scoring_preview(
    session: Session,
    *,
    actor: Actor,
    thresholds: Mapping[str, int] | None = None,
    decay: int | None = None,
    handoff: int | None = None,
    as_of: dt.date | None = None,
) -> dict[str, Any]:
    """What a change of the stage thresholds, idle decay or hand-off threshold would do.

    One GROUP BY over the leads' score summaries: the number of leads whose score suggests
    each stage (and that are qualified for hand-off) under the current and the proposed
    values, and how many leads would see their suggested stage change. Nothing is written.
    """
    require_role(actor, Role.admin)
    values = settings_service.get_all(session)
    old_thresholds = {str(k): int(v) for k, v in values["stage_thresholds"].items()}
    new_thresholds = {**old_thresholds, **{str(k): int(v) for k, v in (thresholds or {}).items()}}
    old_decay = int(values["idle_decay_points"])
    new_decay = old_decay if decay is None else int(decay)
    old_handoff = int(values["handoff_threshold"])
    new_handoff = old_handoff if handoff is None else int(handoff)
    day = as_of or preview_day(session)

    old_score = score_sql(day, old_decay)
    new_score = old_score if new_decay == old_decay else score_sql(day, new_decay)
    old_stage = suggested_stage_sql(old_score, old_thresholds).label("old_stage")
    new_stage = suggested_stage_sql(new_score, new_thresholds).label("new_stage")
    old_qualified = case((old_score >= old_handoff, 1), else_=0)
    new_qualified = case((new_score >= new_handoff, 1), else_=0)
    rows = session.execute(
        select(
            old_stage,
            new_stage,
            func.count(Lead.id),
            func.sum(old_qualified),
            func.sum(new_qualified),
        )
        .where(Lead.active == True)  # noqa: E712
        .group_by(old_stage, new_stage)
    ).all()
    before = {str(stage): 0 for stage in Stage}
    after = {str(stage): 0 for stage in Stage}
    moves: dict[tuple[str, str], int] = {}
    qualified_before = qualified_after = 0
    for old, new, count, q_old, q_new in rows:
        before[old] += int(count)
        after[new] += int(count)
        qualified_before += int(q_old or 0)
        qualified_after += int(q_new or 0)
        if old != new:
            moves[(old, new)] = int(count)
    return {
        "as_of": day,
        "before": before,
        "after": after,
        "moves": moves,
        "changed": sum(moves.values()),
        "qualified_before": qualified_before,
        "qualified_after": qualified_after,
    }


def active_staff_preview(session: Session, *, actor: Actor, threshold: int) -> dict[str, int]:
    """How many staff own at least the current and the proposed number of leads (the
    active-staff threshold), over all leads: one GROUP BY, nothing written."""
    require_role(actor, Role.admin)
    current = int(settings_service.get_value(session, "active_staff_lead_threshold"))
    per_owner = (
        select(func.count(Lead.id).label("n")).group_by(Lead.owner_staff_id).subquery("per_owner")
    )
    before, after = session.execute(
        select(
            func.coalesce(func.sum(case((per_owner.c.n >= current, 1), else_=0)), 0),
            func.coalesce(func.sum(case((per_owner.c.n >= int(threshold), 1), else_=0)), 0),
        )
    ).one()
    return {"before": int(before), "after": int(after)}


def commission_preview(
    session: Session, *, actor: Actor, month: str, per_appointment: Any, rate: Any
) -> dict[str, Decimal]:
    """The month's total commission under the current and the proposed rules (a published
    month keeps its frozen lines whatever the rules; this shows the computed sheet)."""
    require_role(actor, Role.admin)
    rules = settings_service.metric_rules(session)
    lines = metrics.commission_sheet(session, actor=actor, month=month, rules=rules)
    values = settings_service.get_all(session)

    def total(per: Any, share: Any) -> Decimal:
        return sum(
            (
                metrics.line_commission(
                    line["valid_appointments"], line["commissionable_amount"], per, share
                )
                for line in lines
            ),
            Decimal("0.00"),
        )

    return {
        "before": total(values["commission_per_appointment"], values["commission_rate"]),
        "after": total(per_appointment, rate),
    }
