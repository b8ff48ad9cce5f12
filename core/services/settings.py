"""Rules an administrator may change: scoring, thresholds, commission, tiers, licences.

Values live in the `setting` table as JSON, falling back to SPEC's defaults; scoring rules
and tiers have tables of their own. Every change is audited.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import Session, select

from core import audit, metrics
from core.domain import (
    BROWSE_NEWS_POINTS_RANGE,
    DEFAULT_ACTIVE_STAFF_LEAD_THRESHOLD,
    DEFAULT_EARNING_POINTS,
    DEFAULT_FOLLOWUP_CADENCE,
    DEFAULT_HANDOFF_THRESHOLD,
    DEFAULT_IDLE_DECAY_POINTS,
    DEFAULT_IMPORT_MAX_COLUMNS,
    DEFAULT_IMPORT_MAX_MEGABYTES,
    DEFAULT_IMPORT_MAX_ROWS,
    DEFAULT_INTERACTION_POINTS,
    DEFAULT_STAGE_THRESHOLDS,
    InteractionKind,
    Role,
)
from core.models import CardLicence, Lead, ScoringRule, Setting, Tier
from core.permissions import Actor, require_role
from core.text import clean_text

# The settings a lead's peak_rank depends on (the stages its scores suggest).
PEAK_SETTINGS = frozenset({"idle_decay_points", "stage_thresholds"})

DEFAULTS: dict[str, Any] = {
    "idle_decay_points": DEFAULT_IDLE_DECAY_POINTS,
    "stage_thresholds": {str(k): v for k, v in DEFAULT_STAGE_THRESHOLDS.items()},
    "handoff_threshold": DEFAULT_HANDOFF_THRESHOLD,
    "auto_promotion": True,
    "active_staff_lead_threshold": DEFAULT_ACTIVE_STAFF_LEAD_THRESHOLD,
    "followup_activation_days": 14,
    "followup_profile_days": 14,
    "commission_per_appointment": "10",
    "commission_rate": "0.05",
    "earning_points": {str(k): v for k, v in DEFAULT_EARNING_POINTS.items()},
    "default_licences": 400,
    "timezone": "Asia/Shanghai",
    "default_language": "en",
    "points_expiry_months": None,
    # Yearly tier requalification review (members service): off by default.
    "tier_requalification_months": None,
    "idle_session_minutes": 120,
    "absolute_session_hours": 12,
    # SPEC §8: days an owner holds a lead after its last touch; pool claims a person a day.
    "protection_days": 30,
    "daily_claim_limit": 20,
    # SPEC §9: days to the next follow-up by stage (core.services.followups).
    "followup_cadence": {str(k): v for k, v in DEFAULT_FOLLOWUP_CADENCE.items()},
    # SPEC §10: months after a patient's last valid order of a kind until they are due back
    # (core.services.referrals.recall_list); a kind not listed is never recalled.
    "recall_months": {"checkup": 12},
    # Imports (core.importing.Limits): a bigger file is refused before it is read.
    "import_max_rows": DEFAULT_IMPORT_MAX_ROWS,
    "import_max_columns": DEFAULT_IMPORT_MAX_COLUMNS,
    "import_max_megabytes": DEFAULT_IMPORT_MAX_MEGABYTES,
}

# SPEC section 3's default tiers (seed 001).
DEFAULT_TIERS = [
    Tier(
        level=1,
        name_en="Regular",
        name_zh="普通",
        threshold=0,
        discount_rate=0.0,
        free_items=None,
        gifts=True,
        checkup_package=False,
    ),
    Tier(
        level=2,
        name_en="Silver",
        name_zh="银卡",
        threshold=1_000,
        discount_rate=0.05,
        free_items="Free parking",
        gifts=True,
        checkup_package=False,
    ),
    Tier(
        level=3,
        name_en="Gold",
        name_zh="金卡",
        threshold=3_000,
        discount_rate=0.08,
        free_items="Free parking; free consultation",
        gifts=True,
        checkup_package=True,
    ),
    Tier(
        level=4,
        name_en="Platinum",
        name_zh="铂金",
        threshold=8_000,
        discount_rate=0.10,
        free_items="Free parking; free consultation; annual eye exam",
        gifts=True,
        checkup_package=True,
    ),
    Tier(
        level=5,
        name_en="Diamond",
        name_zh="钻石",
        threshold=20_000,
        discount_rate=0.15,
        free_items="Free parking; free consultation; annual eye exam; VIP lounge",
        gifts=True,
        checkup_package=True,
    ),
]


def _default_rules() -> dict[str, ScoringRule]:
    """SPEC §2's table: browse_news takes 1..5 points per interaction, the others fixed."""
    rules = {}
    for kind, points in DEFAULT_INTERACTION_POINTS.items():
        low, high = (
            BROWSE_NEWS_POINTS_RANGE if kind == InteractionKind.browse_news else (None, None)
        )
        rules[str(kind)] = ScoringRule(
            kind=str(kind), points=points, min_points=low, max_points=high
        )
    return rules


def ensure_defaults(session: Session) -> None:
    """Insert the default scoring rules and tiers where missing (idempotent)."""
    existing_rules = set(session.exec(select(ScoringRule.kind)).all())
    for kind, rule in _default_rules().items():
        if kind not in existing_rules:
            session.add(rule)
    existing_tiers = set(session.exec(select(Tier.level)).all())
    for tier in DEFAULT_TIERS:
        if tier.level not in existing_tiers:
            session.add(Tier.model_validate(tier.model_dump()))
    session.flush()


def get_value(session: Session, key: str) -> Any:
    if key not in DEFAULTS:
        raise KeyError(f"unknown setting: {key}")
    row = session.get(Setting, key)
    return DEFAULTS[key] if row is None else json.loads(row.value)


def stored_value(session: Session, key: str) -> Any:
    """The value an admin set, or None where the default is still in force."""
    row = session.get(Setting, key)
    return None if row is None else json.loads(row.value)


def get_all(session: Session) -> dict[str, Any]:
    values = dict(DEFAULTS)
    for row in session.exec(select(Setting)).all():
        if row.key in values:
            values[row.key] = json.loads(row.value)
    return values


def set_value(session: Session, *, actor: Actor, key: str, value: Any) -> None:
    """Change a setting (admin only); audited with the old and new value."""
    require_role(actor, Role.admin)
    clean_text(value, field=key)  # a text setting follows the rule of every typed text
    old = get_value(session, key)
    if key in PEAK_SETTINGS and value != old:
        # Each lead's peak_rank was suggested under the old ones: not known any more (the
        # next rescore of a lead reads its history again).
        session.execute(update(Lead).where(Lead.peak_rank.is_not(None)).values(peak_rank=None))
    row = session.get(Setting, key)
    encoded = json.dumps(value, ensure_ascii=False)
    if row is None:
        session.add(Setting(key=key, value=encoded))
    else:
        row.value = encoded
        session.add(row)
    audit.record(
        session,
        actor=actor,
        action="setting.change",
        entity="setting",
        entity_id=key,
        detail={"old": old, "new": value},
    )


def followup_cadence(session: Session) -> dict[str, int]:
    """Days from a follow-up to the next one, for each stage (SPEC §9; defaults filled in)."""
    stored = get_value(session, "followup_cadence") or {}
    return {
        str(stage): int(stored.get(str(stage), days))
        for stage, days in DEFAULT_FOLLOWUP_CADENCE.items()
    }


def scoring_rules(session: Session) -> dict[str, ScoringRule]:
    stored = {rule.kind: rule for rule in session.exec(select(ScoringRule)).all()}
    return {**_default_rules(), **stored}


def tiers(session: Session) -> list[Tier]:
    rows = list(session.exec(select(Tier).order_by(Tier.level)).all())
    return rows or [Tier.model_validate(t.model_dump()) for t in DEFAULT_TIERS]


def licences_for(session: Session, month: str) -> int:
    row = session.get(CardLicence, month)
    return row.licences if row else int(get_value(session, "default_licences"))


def hospital_today(session: Session | None = None) -> dt.date:
    """Today's date in the hospital's timezone."""
    zone = get_value(session, "timezone") if session is not None else DEFAULTS["timezone"]
    return dt.datetime.now(ZoneInfo(zone)).date()


def metric_rules(session: Session) -> metrics.Rules:
    """The rules in force, as `core.metrics` takes them (it reads no setting itself)."""
    values = get_all(session)
    return metrics.Rules(
        today=hospital_today(session),
        active_staff_lead_threshold=int(values["active_staff_lead_threshold"]),
        default_licences=int(values["default_licences"]),
        idle_decay_points=int(values["idle_decay_points"]),
        stage_thresholds={str(k): int(v) for k, v in values["stage_thresholds"].items()},
        handoff_threshold=int(values["handoff_threshold"]),
        commission_per_appointment=Decimal(str(values["commission_per_appointment"])),
        commission_rate=Decimal(str(values["commission_rate"])),
        tiers=tuple((tier.level, tier.threshold) for tier in tiers(session)),
    )
