"""The five tiers: settings, what a threshold change would do, benefits, requalification.

SPEC §3's tier is the one of lifetime points (`core.metrics.tier_case`); a threshold change
is previewed before it is saved (members per tier now and after, moving up and down), and
saving is the admin's, audited with old and new values. Requalification (an option, off by
default) is advisory: the members whose points earned in the window fall short of their tier.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlmodel import Session

from core import audit, metrics
from core.domain import Role
from core.models import Member, PointsEntry, Tier
from core.months import add_months
from core.permissions import Actor, require_role
from core.services import settings as settings_service
from core.services.members.access import require_read
from core.services.members.care import CARE_LIST_LIMIT
from core.services.members.errors import MemberError
from core.services.members.figures import default_as_of, member_figures, tier_levels
from core.text import clean_text


def tier_benefits(tier: Tier) -> dict[str, Any]:
    """What a tier gives (seed 001): gifts, discount, free items, check-up package."""
    return {
        "gifts": bool(tier.gifts),
        "discount_rate": float(tier.discount_rate or 0),
        "free_items": [item.strip() for item in (tier.free_items or "").split(";") if item.strip()],
        "checkup_package": bool(tier.checkup_package),
    }


def _thresholds(new_thresholds: Mapping[int, int] | Sequence[int]) -> dict[int, int]:
    if isinstance(new_thresholds, Mapping):
        return {int(level): int(value) for level, value in new_thresholds.items()}
    return {index: int(value) for index, value in enumerate(new_thresholds, start=1)}


def _check_thresholds(levels: Sequence[int], thresholds: Mapping[int, int]) -> None:
    if sorted(thresholds) != sorted(levels):
        raise MemberError("members.error.tier_levels")
    problems = {problem for _, problem, _, _ in metrics.tier_threshold_problems(thresholds)}
    if "first" in problems:
        raise MemberError("members.error.tier_first")
    if "order" in problems:
        raise MemberError("members.error.tier_order")


def tier_change_preview(
    session: Session, *, actor: Actor, new_thresholds: Mapping[int, int] | Sequence[int]
) -> pd.DataFrame:
    """How many members each tier would have with `new_thresholds` ({level: threshold}),
    and per current tier how many would move up and down — before anything is saved.
    Columns: level, members_now, members_after, moving_up, moving_down."""
    require_read(actor)
    current = settings_service.tiers(session)
    thresholds = _thresholds(new_thresholds)
    _check_thresholds([tier.level for tier in current], thresholds)
    ledger, _, lifetime, now_tier = member_figures(session)
    after_tier = metrics.tier_case(lifetime, list(thresholds.items()))
    statement = (
        select(now_tier, after_tier.label("after"), func.count(Member.id).label("members"))
        .select_from(Member)
        .outerjoin(ledger, ledger.c.member_id == Member.id)
        .group_by(now_tier, after_tier)
    )
    moves = pd.DataFrame(
        session.execute(statement).mappings().all(), columns=["tier", "after", "members"]
    ).astype(int)
    levels = sorted(tier.level for tier in current)
    rows = []
    for level in levels:  # ≤ 25 (from, to) pairs: the aggregation was done in SQL
        here = moves[moves["tier"] == level]
        rows.append(
            {
                "level": level,
                "members_now": int(here["members"].sum()),
                "members_after": int(moves.loc[moves["after"] == level, "members"].sum()),
                "moving_up": int(here.loc[here["after"] > level, "members"].sum()),
                "moving_down": int(here.loc[here["after"] < level, "members"].sum()),
            }
        )
    return pd.DataFrame(rows)


TIER_FIELDS = (
    "name_en",
    "name_zh",
    "threshold",
    "discount_rate",
    "free_items",
    "gifts",
    "checkup_package",
)


def set_tiers(session: Session, *, actor: Actor, tiers: Sequence[Mapping[str, Any]]) -> list[Tier]:
    """Save the tier settings (admin only; audited with old and new values): for every level,
    names in both languages, threshold, discount rate (0–<1), free items (';'-separated),
    gifts and check-up package. Thresholds start at 0 and rise with the level."""
    require_role(actor, Role.admin)
    current = {tier.level: tier for tier in settings_service.tiers(session)}
    given = {int(row["level"]): dict(row) for row in tiers}
    _check_thresholds(list(current), {level: int(row["threshold"]) for level, row in given.items()})
    old, new = {}, {}
    saved = []
    for level in sorted(current):
        row = given[level]
        names = (str(row.get("name_en") or "").strip(), str(row.get("name_zh") or "").strip())
        for name in names:
            clean_text(name, field="name")
        if not all(names) or any(len(name) > 50 for name in names):
            raise MemberError("members.error.tier_name", level=level)
        rate = float(row.get("discount_rate") or 0)
        if not 0 <= rate < 1:
            raise MemberError("members.error.tier_discount", level=level)
        free_items = (
            clean_text(str(row.get("free_items") or "").strip(), field="free_items") or None
        )
        if free_items and len(free_items) > 500:
            raise MemberError("members.error.tier_items")
        values = {
            "name_en": names[0],
            "name_zh": names[1],
            "threshold": int(row["threshold"]),
            "discount_rate": rate,
            "free_items": free_items,
            "gifts": bool(row.get("gifts", True)),
            "checkup_package": bool(row.get("checkup_package", False)),
        }
        tier = session.get(Tier, level)
        if tier is None:  # defaults not stored yet
            tier = Tier(level=level, **values)
            before = current[level].model_dump()
        else:
            before = tier.model_dump()
            for key, value in values.items():
                setattr(tier, key, value)
        session.add(tier)
        changed = {k: v for k, v in values.items() if before.get(k) != v}
        if changed:
            old[level] = {k: before.get(k) for k in changed}
            new[level] = changed
        saved.append(tier)
    session.flush()
    if new:
        audit.record(
            session,
            actor=actor,
            action="tiers.change",
            entity="tier",
            detail={"old": old, "new": new},
        )
    return saved


@dataclass
class RequalificationReview:
    enabled: bool
    months: int | None
    window: tuple[dt.date, dt.date] | None
    members: pd.DataFrame


def requalification_review(
    session: Session, *, actor: Actor, as_of: dt.date | None = None, limit: int = CARE_LIST_LIMIT
) -> RequalificationReview:
    """Yearly requalification (an option, off by default: setting
    `tier_requalification_months`): the members whose points earned in the window up to
    `as_of` fall short of their tier's threshold. Advisory: SPEC §3's tier stays the one of
    lifetime points; the list tells the marketing office whom to re-engage before a review."""
    require_read(actor)
    months = settings_service.get_value(session, "tier_requalification_months")
    if not months:
        return RequalificationReview(False, None, None, pd.DataFrame())
    as_of = as_of or default_as_of(session)
    start = add_months(as_of, -int(months)) + dt.timedelta(days=1)
    ledger, _, lifetime, tier_column = member_figures(session)
    window = (
        select(
            PointsEntry.member_id.label("member_id"),
            func.sum(PointsEntry.points).label("earned"),
        )
        .where(metrics.earning_condition(), PointsEntry.occurred_on.between(start, as_of))
        .group_by(PointsEntry.member_id)
        .subquery("window")
    )
    earned = func.coalesce(window.c.earned, 0)
    requalifies = metrics.tier_case(earned, tier_levels(session))
    statement = (
        select(
            Member.member_no,
            Member.name,
            tier_column,
            earned.label("earned_in_window"),
            requalifies.label("requalifies_for"),
        )
        .select_from(Member)
        .outerjoin(ledger, ledger.c.member_id == Member.id)
        .outerjoin(window, window.c.member_id == Member.id)
        .where(Member.active.is_(True), Member.joined_on <= as_of, requalifies < tier_column)
        .order_by(tier_column.desc(), Member.member_no)
        .limit(limit)
    )
    frame = pd.DataFrame(
        session.execute(statement).mappings().all(),
        columns=["member_no", "name", "tier", "earned_in_window", "requalifies_for"],
    )
    frame = frame.astype({"tier": int, "earned_in_window": int, "requalifies_for": int})
    return RequalificationReview(True, int(months), (start, as_of), frame)
