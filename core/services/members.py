"""Members: points, five tiers, rewards, care lists and points expiry (SPEC §3, seed 001).

The points ledger (`points_entry`) is append-only: awards, redemptions, adjustments and
expiries each add a signed row; nothing here updates or deletes one. Balance, lifetime points
and tier are SPEC §3 numbers defined once in `core.metrics`; this module reuses that
definition for lists and only sums a single member's rows where a write must check the
balance under its lock.

Who may do what: admins and marketers write, executives read; tier settings are the admin's.
Writes that could overdraw (redemption, adjustment, expiry) hold a lock while they check:
SQLite's write session holds the database write lock from its start; on PostgreSQL the
member's row is locked (`SELECT … FOR UPDATE`), and an expiry run locks the member table
against concurrent writers. Reward stock is taken with one conditional UPDATE.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

import pandas as pd
from sqlalchemy import (
    Date,
    Integer,
    and_,
    case,
    exists,
    extract,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlmodel import Session

from core import audit, metrics
from core.db import as_date
from core.domain import NON_EARNING_POINTS_KINDS, PointsKind, Role
from core.models import (
    AppUser,
    Lead,
    Member,
    PointsEntry,
    Redemption,
    Reward,
    Staff,
    Tier,
    UTCDateTime,
    utcnow,
)
from core.months import add_months, month_of_day, months_table
from core.permissions import Actor, require_role
from core.services import privacy
from core.services import settings as settings_service

READ_ROLES = (Role.admin, Role.executive, Role.marketer)
WRITE_ROLES = (Role.admin, Role.marketer)
PAGE_SIZE = 50
# Care lists (seed 001: keep in touch with members): quiet for FOLLOW_UP_DAYS → call them;
# no activity for AT_RISK_DAYS → at risk of leaving the pool.
FOLLOW_UP_DAYS = 30
AT_RISK_DAYS = 90
CARE_LIST_LIMIT = 1_000
MAX_POINTS_PER_ENTRY = 10_000_000
EARNING_KINDS = tuple(str(k) for k in PointsKind if k not in NON_EARNING_POINTS_KINDS)
# Entries a member makes happen themselves; expiries and adjustments are the hospital's doing.
ACTIVITY_KINDS = tuple(k for k in (str(p) for p in PointsKind) if k not in ("expire", "adjust"))


# --- Errors -------------------------------------------------------------------------------


class MemberError(ValueError):
    """A refused member operation; `key` and `values` give the message in any language."""

    key = "members.error.invalid"

    def __init__(self, message: str, *, key: str | None = None, **values: Any):
        super().__init__(message)
        if key is not None:
            self.key = key
        self.values = {"message": message, **values}


class InsufficientPoints(MemberError):
    """The balance does not cover a redemption, a negative adjustment or an expiry."""

    key = "members.error.insufficient_points"


class OutOfStock(MemberError):
    """The reward has fewer units in stock than asked for."""

    key = "members.error.out_of_stock"


class StaleRecord(MemberError):
    """Someone else changed the record since it was read."""

    key = "members.error.stale"


class ExpiryOff(MemberError):
    """Points expiry is not switched on (setting `points_expiry_months`)."""

    key = "members.error.expiry_off"


def _require_read(actor: Actor) -> None:
    require_role(actor, *READ_ROLES)


def _require_write(actor: Actor) -> None:
    require_role(actor, *WRITE_ROLES)


# --- Helpers ------------------------------------------------------------------------------


def _tier_levels(session: Session) -> tuple[tuple[int, int], ...]:
    """The tiers in force as (level, threshold), as `core.metrics` takes them."""
    return tuple((tier.level, tier.threshold) for tier in settings_service.tiers(session))


def _member_figures(session: Session, member_ids: list[int] | None = None):
    """SPEC §3's (ledger, balance, lifetime points, tier) columns, from `core.metrics`."""
    return metrics.member_figures(session, _tier_levels(session), member_ids=member_ids)


def _get_member(session: Session, member_id: int, *, lock: bool = False) -> Member:
    statement = select(Member).where(Member.id == member_id)
    if lock:
        # PostgreSQL: concurrent writers of this member's points wait here (SQLite: no-op,
        # its write session already holds the database write lock).
        statement = statement.with_for_update().execution_options(populate_existing=True)
    member = session.execute(statement).scalars().first()
    if member is None:
        raise MemberError(f"no member with id {member_id}", key="members.error.no_member")
    return member


def _balance(session: Session, member_id: int) -> int:
    """One member's balance (SPEC §3: the sum of all signed entries), read under the lock."""
    total = session.execute(
        select(func.coalesce(func.sum(PointsEntry.points), 0)).where(
            PointsEntry.member_id == member_id
        )
    ).scalar_one()
    return int(total)


def _writable(member: Member) -> None:
    if not member.active:
        raise MemberError(
            f"member {member.member_no} is inactive",
            key="members.error.inactive",
            member_no=member.member_no,
        )


def _positive_int(value: Any, what: str, *, maximum: int = MAX_POINTS_PER_ENTRY) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise MemberError(f"{what} must be a whole number", key="members.error.whole") from None
    if number != value and not isinstance(value, str):
        raise MemberError(f"{what} must be a whole number", key="members.error.whole")
    if number <= 0 or number > maximum:
        raise MemberError(
            f"{what} must be between 1 and {maximum:,}",
            key="members.error.range",
            maximum=maximum,
        )
    return number


def _not_future(session: Session, day: dt.date | None) -> dt.date:
    today = settings_service.hospital_today(session)
    day = day or today
    if day > today:
        raise MemberError(
            f"{day.isoformat()} is in the future", key="members.error.future", day=day.isoformat()
        )
    return day


def member_by_no(session: Session, *, actor: Actor, member_no: str) -> Member:
    """The member with this number (LookupError when there is none)."""
    _require_read(actor)
    member = (
        session.execute(select(Member).where(Member.member_no == member_no.strip()))
        .scalars()
        .first()
    )
    if member is None:
        raise LookupError(f"no member with member_no '{member_no}'")
    return member


def default_as_of(session: Session) -> dt.date:
    """The day care lists are relative to: the latest date in the members' data (the demo's
    last day), never later than the hospital's today."""
    latest = [
        as_date(session.execute(select(func.max(PointsEntry.occurred_on))).scalar()),
        as_date(session.execute(select(func.max(Member.joined_on))).scalar()),
    ]
    today = settings_service.hospital_today(session)
    days = [day for day in latest if day is not None]
    return min(max(days), today) if days else today


# --- Points -------------------------------------------------------------------------------


def earning_points(session: Session) -> dict[str, int]:
    """Default points per earning kind (setting `earning_points`; `spend` is per ¥1)."""
    configured = settings_service.get_value(session, "earning_points") or {}
    defaults = settings_service.DEFAULTS["earning_points"]
    return {kind: int(configured.get(kind, defaults[kind])) for kind in EARNING_KINDS}


def award_points(
    session: Session,
    *,
    actor: Actor,
    member_id: int,
    kind: str,
    points: int | None = None,
    amount: Decimal | float | str | None = None,
    note: str | None = None,
    occurred_on: dt.date | None = None,
) -> PointsEntry:
    """Add an earning entry. Points default to the kind's setting; `spend` takes the ¥
    `amount` spent (points = amount × the per-¥1 rate, rounded down). `sign_in` counts once
    a day. Returns the new ledger entry."""
    _require_write(actor)
    if kind not in EARNING_KINDS:
        raise MemberError(f"'{kind}' is not an earning kind", key="members.error.kind", kind=kind)
    member = _get_member(session, member_id)
    _writable(member)
    day = _not_future(session, occurred_on)
    rates = earning_points(session)
    if kind == PointsKind.spend:
        if amount is None:
            raise MemberError("spending needs the amount in ¥", key="members.error.amount")
        try:
            spent = Decimal(str(amount))
        except InvalidOperation:
            raise MemberError(
                "spending needs the amount in ¥", key="members.error.amount"
            ) from None
        if not spent.is_finite() or spent <= 0:
            raise MemberError("spending needs the amount in ¥", key="members.error.amount")
        points = int((spent * rates[kind]).to_integral_value(rounding=ROUND_FLOOR))
        note = note or f"¥{spent:,.2f}"
    elif points is None:
        points = rates[kind]
    points = _positive_int(points, "points")
    if kind == PointsKind.sign_in:
        already = session.execute(
            select(
                exists().where(
                    PointsEntry.member_id == member.id,
                    PointsEntry.kind == str(PointsKind.sign_in),
                    PointsEntry.occurred_on == day,
                )
            )
        ).scalar()
        if already:
            raise MemberError(
                f"member {member.member_no} already signed in on {day.isoformat()}",
                key="members.error.signed_in",
                day=day.isoformat(),
            )
    entry = PointsEntry(
        member_id=member.id,
        kind=str(kind),
        points=points,
        occurred_on=day,
        note=(note or None) and note[:500],
        created_by_user_id=actor.user_id,
    )
    session.add(entry)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="points.award",
        entity="member",
        entity_id=member.member_no,
        detail={"kind": kind, "points": points, "occurred_on": day, "entry_id": entry.id},
    )
    return entry


def redeem_reward(
    session: Session,
    *,
    actor: Actor,
    member_id: int,
    reward_id: int,
    quantity: int = 1,
    occurred_on: dt.date | None = None,
) -> Redemption:
    """Exchange points for `quantity` units of a reward: one `redeem` entry and one stock
    decrement in the caller's transaction. Refused (nothing written) with InsufficientPoints
    when the balance does not cover it and OutOfStock when the stock does not."""
    _require_write(actor)
    quantity = _positive_int(quantity, "quantity", maximum=1_000)
    member = _get_member(session, member_id, lock=True)
    _writable(member)
    day = _not_future(session, occurred_on)
    reward = (
        session.execute(
            select(Reward).where(Reward.id == reward_id).execution_options(populate_existing=True)
        )
        .scalars()
        .first()
    )
    if reward is None or not reward.active:
        raise MemberError(f"no active reward with id {reward_id}", key="members.error.no_reward")
    cost = reward.points_cost * quantity
    balance = _balance(session, member.id)
    if balance < cost:
        raise InsufficientPoints(
            f"member {member.member_no} has {balance:,} points; {quantity} × {reward.name} "
            f"costs {cost:,}",
            balance=balance,
            cost=cost,
            member_no=member.member_no,
        )
    taken = session.execute(
        update(Reward)
        .where(Reward.id == reward.id, Reward.stock >= quantity)
        .values(stock=Reward.stock - quantity, version=Reward.version + 1)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        session.expire(reward)
        raise OutOfStock(
            f"{reward.name}: not enough in stock for {quantity}",
            reward=reward.name,
            quantity=quantity,
        )
    session.expire(reward)
    entry = PointsEntry(
        member_id=member.id,
        kind=str(PointsKind.redeem),
        points=-cost,
        occurred_on=day,
        note=f"{quantity} × {reward.name}"[:500],
        created_by_user_id=actor.user_id,
    )
    session.add(entry)
    session.flush()
    redemption = Redemption(
        member_id=member.id,
        reward_id=reward.id,
        quantity=quantity,
        points=cost,
        points_entry_id=entry.id,
        created_by_user_id=actor.user_id,
    )
    session.add(redemption)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="points.redeem",
        entity="member",
        entity_id=member.member_no,
        detail={
            "reward_id": reward.id,
            "reward": reward.name,
            "quantity": quantity,
            "points": cost,
            "balance_before": balance,
            "balance_after": balance - cost,
        },
    )
    return redemption


def adjust_points(
    session: Session,
    *,
    actor: Actor,
    member_id: int,
    points: int,
    reason: str,
    occurred_on: dt.date | None = None,
) -> PointsEntry:
    """Correct a balance with a signed `adjust` entry and a reason (audited; the ledger is
    never edited). A negative adjustment beyond the balance is refused."""
    _require_write(actor)
    reason = (reason or "").strip()
    if not reason:
        raise MemberError("an adjustment needs a reason", key="members.error.reason")
    try:
        points = int(points)
    except (TypeError, ValueError):
        raise MemberError("points must be a whole number", key="members.error.whole") from None
    if points == 0 or abs(points) > MAX_POINTS_PER_ENTRY:
        raise MemberError(
            "an adjustment must be a non-zero number of points",
            key="members.error.range",
            maximum=MAX_POINTS_PER_ENTRY,
        )
    member = _get_member(session, member_id, lock=True)
    _writable(member)
    day = _not_future(session, occurred_on)
    balance = _balance(session, member.id)
    if balance + points < 0:
        raise InsufficientPoints(
            f"member {member.member_no} has {balance:,} points; cannot take {-points:,}",
            balance=balance,
            cost=-points,
            member_no=member.member_no,
        )
    entry = PointsEntry(
        member_id=member.id,
        kind=str(PointsKind.adjust),
        points=points,
        occurred_on=day,
        note=reason[:500],
        created_by_user_id=actor.user_id,
    )
    session.add(entry)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="points.adjust",
        entity="member",
        entity_id=member.member_no,
        detail={
            "points": points,
            "reason": reason,
            "balance_before": balance,
            "balance_after": balance + points,
            "entry_id": entry.id,
        },
    )
    return entry


# --- Leads become members -----------------------------------------------------------------


def convert_lead_to_member(
    session: Session,
    *,
    actor: Actor,
    lead_id: int,
    member_no: str | None = None,
    joined_on: dt.date | None = None,
) -> Member:
    """Make a lead a member, keeping the lead and its owner (the staff member who brought
    them is credited with the conversion). A lead becomes a member once."""
    _require_write(actor)
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise MemberError(f"no lead with id {lead_id}", key="members.error.no_lead")
    existing = session.execute(select(Member.member_no).where(Member.lead_id == lead.id)).scalar()
    if existing is not None:
        raise MemberError(
            f"lead {lead.lead_ref} is already member {existing}",
            key="members.error.already_member",
            lead_ref=lead.lead_ref,
            member_no=existing,
        )
    member_no = (member_no or "").strip() or f"M-{lead.lead_ref}"
    if len(member_no) > 64:
        raise MemberError("member number is too long", key="members.error.member_no")
    taken = session.execute(select(Member.id).where(Member.member_no == member_no)).scalar()
    if taken is not None:
        raise MemberError(
            f"member number {member_no} is taken",
            key="members.error.member_no_taken",
            member_no=member_no,
        )
    day = _not_future(session, joined_on)
    member = Member(
        member_no=member_no,
        name=lead.name,
        phone=lead.phone,
        joined_on=day,
        lead_id=lead.id,
        owner_staff_id=lead.owner_staff_id,
    )
    session.add(member)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="member.convert_lead",
        entity="member",
        entity_id=member.member_no,
        detail={"lead_ref": lead.lead_ref, "owner_staff_id": lead.owner_staff_id, "joined_on": day},
    )
    return member


def lead_by_ref(session: Session, *, actor: Actor, lead_ref: str) -> Lead:
    """The lead with this reference (LookupError when there is none)."""
    _require_write(actor)
    lead = session.execute(select(Lead).where(Lead.lead_ref == lead_ref.strip())).scalars().first()
    if lead is None:
        raise LookupError(f"no lead with lead_ref '{lead_ref}'")
    return lead


# --- Lists --------------------------------------------------------------------------------


def _last_activity(member_ids: list[int] | None = None):
    """(member_id, last_activity): the latest entry each member made happen (of
    `member_ids` only, when given)."""
    statement = (
        select(
            PointsEntry.member_id.label("member_id"),
            func.max(PointsEntry.occurred_on).label("last_activity"),
        )
        .where(PointsEntry.kind.in_(ACTIVITY_KINDS))
        .group_by(PointsEntry.member_id)
    )
    if member_ids is not None:
        statement = statement.where(PointsEntry.member_id.in_(member_ids))
    return statement.subquery("activity")


def _later(day, other):
    """The later of two date columns (`day` may be NULL)."""
    return case((and_(day.is_not(None), day > other), day), else_=other)


def _quiet_since(day: dt.date):
    """Members with no activity after `day` who had joined by then (joining counts as
    activity): one indexed probe per member, not a GROUP BY of the whole ledger."""
    active_after = exists().where(
        PointsEntry.member_id == Member.id,
        PointsEntry.occurred_on > day,
        PointsEntry.kind.in_(ACTIVITY_KINDS),
    )
    return and_(Member.joined_on <= day, ~active_after)


def _member_rows(session: Session, member_ids: list[int], columns: list[str]) -> pd.DataFrame:
    """Members by id with their figures (SPEC §3, from `core.metrics`) and last activity,
    summing only these members' ledger rows."""
    if not member_ids:
        return pd.DataFrame(columns=columns)
    ledger, balance, lifetime, tier = _member_figures(session, member_ids=member_ids)
    activity = _last_activity(member_ids)
    available = {
        "member_id": Member.id.label("member_id"),
        "member_no": Member.member_no,
        "name": Member.name,
        "phone": Member.phone,
        "birthday": Member.birthday,
        "joined_on": Member.joined_on,
        "tier": tier,
        "balance": balance,
        "lifetime_points": lifetime,
        "last_activity": _later(activity.c.last_activity, Member.joined_on).label("last_activity"),
        "owner_staff_no": Staff.staff_no.label("owner_staff_no"),
    }
    statement = (
        select(*[available[column] for column in columns if column in available])
        .select_from(Member)
        .outerjoin(ledger, ledger.c.member_id == Member.id)
        .outerjoin(activity, activity.c.member_id == Member.id)
        .outerjoin(Staff, Staff.id == Member.owner_staff_id)
        .where(Member.id.in_(member_ids))
    )
    frame = pd.DataFrame(session.execute(statement).mappings().all())
    frame = frame.reindex(columns=[c for c in columns if c in available])
    return _typed(frame)


@dataclass
class MemberPage:
    rows: pd.DataFrame
    total: int
    offset: int
    limit: int
    as_of: dt.date

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.limit))


MEMBER_COLUMNS = [
    "member_id",
    "member_no",
    "name",
    "joined_on",
    "tier",
    "balance",
    "lifetime_points",
    "last_activity",
    "owner_staff_no",
]


def list_members(
    session: Session,
    *,
    actor: Actor,
    search: str | None = None,
    tier: int | None = None,
    joined_from: dt.date | None = None,
    joined_to: dt.date | None = None,
    at_risk: bool = False,
    as_of: dt.date | None = None,
    offset: int = 0,
    limit: int = PAGE_SIZE,
) -> MemberPage:
    """One page of members (by member number) with tier, balance, lifetime points (SPEC §3,
    as `core.metrics` defines them) and last activity, and the number of matching members.
    `at_risk`: no activity in the AT_RISK_DAYS up to `as_of`. Without a tier or at-risk
    filter only the page's members' ledger rows are summed."""
    _require_read(actor)
    as_of = as_of or default_as_of(session)
    offset = max(0, int(offset))
    statement = select(Member.id).select_from(Member)
    if search and search.strip():
        pattern = f"%{search.strip()}%"
        statement = statement.where(
            or_(Member.member_no.ilike(pattern), Member.name.ilike(pattern))
        )
    if joined_from:
        statement = statement.where(Member.joined_on >= joined_from)
    if joined_to:
        statement = statement.where(Member.joined_on <= joined_to)
    if tier is not None:
        ledger, _, _, tier_column = _member_figures(session)
        statement = statement.outerjoin(ledger, ledger.c.member_id == Member.id).where(
            tier_column == int(tier)
        )
    if at_risk:
        statement = statement.where(_quiet_since(as_of - dt.timedelta(days=AT_RISK_DAYS)))

    def count() -> int:
        return int(
            session.execute(select(func.count()).select_from(statement.subquery())).scalar_one()
        )

    if tier is None and not at_risk:
        total = count()
        ids = list(
            session.execute(statement.order_by(Member.member_no).offset(offset).limit(limit))
            .scalars()
            .all()
        )
    else:
        # The page and the number of matches from one query: the aggregates run once.
        paged = statement.add_columns(func.count().over().label("total"))
        found = session.execute(paged.order_by(Member.member_no).offset(offset).limit(limit)).all()
        total = int(found[0].total) if found else count()
        ids = [row.id for row in found]
    frame = _member_rows(session, ids, MEMBER_COLUMNS)
    frame = frame.sort_values("member_no", ignore_index=True)
    return MemberPage(rows=frame, total=total, offset=offset, limit=limit, as_of=as_of)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    for column in ("tier", "balance", "lifetime_points"):
        if column in frame:
            frame[column] = frame[column].astype(int)
    for column in ("joined_on", "last_activity", "birthday"):
        if column in frame:
            frame[column] = frame[column].map(as_date)
    return frame


# --- One member ---------------------------------------------------------------------------


@dataclass
class MemberDetail:
    member: Member
    balance: int
    lifetime_points: int
    tier: Tier
    next_tier: Tier | None
    points_to_next: int | None
    progress: float  # 0..1 of the way from this tier's threshold to the next one's
    last_activity: dt.date
    owner_staff: str | None
    lead_ref: str | None
    ledger: pd.DataFrame
    redemptions: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def benefits(self) -> dict[str, Any]:
        return tier_benefits(self.tier)


def tier_benefits(tier: Tier) -> dict[str, Any]:
    """What a tier gives (seed 001): gifts, discount, free items, check-up package."""
    return {
        "gifts": bool(tier.gifts),
        "discount_rate": float(tier.discount_rate or 0),
        "free_items": [item.strip() for item in (tier.free_items or "").split(";") if item.strip()],
        "checkup_package": bool(tier.checkup_package),
    }


LEDGER_COLUMNS = ["entry_id", "occurred_on", "kind", "points", "balance", "note", "by"]


def member_detail(session: Session, *, actor: Actor, member_id: int) -> MemberDetail:
    """A member's figures (from `core.metrics`), tier progress, benefits now, their whole
    ledger newest first with the running balance, and their redemptions."""
    _require_read(actor)
    member = _get_member(session, member_id)
    status = metrics.member_status(
        session,
        actor=actor,
        member_no=member.member_no,
        rules=settings_service.metric_rules(session),
    )
    levels = settings_service.tiers(session)
    tier = next(level for level in levels if level.level == status["tier"])
    higher = [level for level in levels if level.level > tier.level]
    next_tier = min(higher, key=lambda level: level.level) if higher else None
    lifetime = status["lifetime_points"]
    if next_tier is None:
        points_to_next, progress = None, 1.0
    else:
        points_to_next = next_tier.threshold - lifetime
        span = max(1, next_tier.threshold - tier.threshold)
        progress = min(1.0, max(0.0, (lifetime - tier.threshold) / span))
    running = func.sum(PointsEntry.points).over(order_by=(PointsEntry.occurred_on, PointsEntry.id))
    ledger = (
        select(
            PointsEntry.id.label("entry_id"),
            PointsEntry.occurred_on,
            PointsEntry.kind,
            PointsEntry.points,
            running.label("balance"),
            PointsEntry.note,
            AppUser.username.label("by"),
        )
        .outerjoin(AppUser, AppUser.id == PointsEntry.created_by_user_id)
        .where(PointsEntry.member_id == member.id)
        .subquery("ledger")
    )
    rows = session.execute(
        select(ledger).order_by(ledger.c.occurred_on.desc(), ledger.c.entry_id.desc())
    ).mappings()
    frame = pd.DataFrame(rows.all(), columns=LEDGER_COLUMNS)
    frame["occurred_on"] = frame["occurred_on"].map(as_date)
    frame[["points", "balance"]] = frame[["points", "balance"]].astype(int)
    last = session.execute(
        select(func.max(PointsEntry.occurred_on)).where(
            PointsEntry.member_id == member.id, PointsEntry.kind.in_(ACTIVITY_KINDS)
        )
    ).scalar()
    owner = session.get(Staff, member.owner_staff_id) if member.owner_staff_id else None
    lead = session.get(Lead, member.lead_id) if member.lead_id else None
    # A detached copy, so masking the phone for readers who may not see it never reaches the
    # database through the caller's session.
    shown = Member.model_validate(member.model_dump())
    if not privacy.sees_full_member_phone(actor, member.owner_staff_id):
        shown.phone = privacy.mask_phone(member.phone)
    return MemberDetail(
        member=shown,
        balance=status["balance"],
        lifetime_points=lifetime,
        tier=tier,
        next_tier=next_tier,
        points_to_next=points_to_next,
        progress=progress,
        last_activity=max(as_date(last) or member.joined_on, member.joined_on),
        owner_staff=f"{owner.staff_no} {owner.name}" if owner else None,
        lead_ref=lead.lead_ref if lead else None,
        ledger=frame,
        redemptions=redemption_history(session, actor=actor, member_id=member.id),
    )


# --- Care lists ---------------------------------------------------------------------------

CARE_COLUMNS = [
    "member_no",
    "name",
    "phone",
    "tier",
    "birthday",
    "last_activity",
    "days_quiet",
    "owner_staff_no",
]


@dataclass
class CareLists:
    as_of: dt.date
    week: tuple[dt.date, dt.date]
    birthdays_week: pd.DataFrame
    birthdays_month: pd.DataFrame
    follow_up: pd.DataFrame
    at_risk: pd.DataFrame
    totals: dict[str, int]


def _month_day_condition(days: Sequence[dt.date]):
    """Birthdays falling on any of `days` (any birth year; 29 February is celebrated on
    28 February in other years)."""
    month = extract("month", Member.birthday)
    day = extract("day", Member.birthday)
    terms = []
    for one in days:
        terms.append(and_(month == one.month, day == one.day))
        if one.month == 2 and one.day == 28 and not calendar.isleap(one.year):
            terms.append(and_(month == 2, day == 29))
    return or_(*terms)


def care_lists(
    session: Session, *, actor: Actor, as_of: dt.date | None = None, limit: int = CARE_LIST_LIMIT
) -> CareLists:
    """Who to look after as of `as_of` (default: the latest date in the data): birthdays this
    week (Monday to Sunday) and this month, members quiet for FOLLOW_UP_DAYS (due a call) and
    members with no activity for AT_RISK_DAYS (at risk). Each list holds at most `limit` rows;
    `totals` has the full counts."""
    _require_read(actor)
    as_of = as_of or default_as_of(session)
    monday = as_of - dt.timedelta(days=as_of.weekday())
    week = [monday + dt.timedelta(days=n) for n in range(7)]
    eligible = and_(Member.active.is_(True), Member.joined_on <= as_of)
    found: dict[str, pd.DataFrame] = {}
    position = {(day.month, day.day): index for index, day in enumerate(week)}
    position.setdefault((2, 29), position.get((2, 28)))  # leap-day birthdays on 28 Feb
    # Birthdays come from the member table alone.
    for name, condition in (
        ("birthdays_week", _month_day_condition(week)),
        ("birthdays_month", extract("month", Member.birthday) == as_of.month),
    ):
        rows = session.execute(
            select(Member.id, Member.member_no, Member.birthday).where(eligible, condition)
        ).all()
        frame = pd.DataFrame(rows, columns=["member_id", "member_no", "birthday"])
        frame["birthday"] = frame["birthday"].map(as_date)
        if name == "birthdays_week":  # in the week's order (a week may span two years)
            frame["order"] = frame["birthday"].map(lambda d: position.get((d.month, d.day)))
        else:
            frame["order"] = frame["birthday"].map(lambda d: d.day)
        found[name] = frame.sort_values(["order", "member_no"])
    # Quiet members: those with nothing since FOLLOW_UP_DAYS ago, and their last activity.
    quiet_since = as_of - dt.timedelta(days=FOLLOW_UP_DAYS)
    risk_since = as_of - dt.timedelta(days=AT_RISK_DAYS)
    latest = (
        select(func.max(PointsEntry.occurred_on))
        .where(PointsEntry.member_id == Member.id, PointsEntry.kind.in_(ACTIVITY_KINDS))
        .scalar_subquery()
    )
    rows = session.execute(
        select(Member.id, Member.member_no, _later(latest, Member.joined_on)).where(
            eligible, _quiet_since(quiet_since)
        )
    ).all()
    quiet = pd.DataFrame(rows, columns=["member_id", "member_no", "last_activity"])
    quiet["last_activity"] = quiet["last_activity"].map(as_date)
    quiet = quiet.sort_values(["last_activity", "member_no"], ascending=[False, True])
    at_risk = quiet["last_activity"].map(lambda day: day <= risk_since).astype(bool)
    found["follow_up"] = quiet[~at_risk]
    found["at_risk"] = quiet[at_risk]
    totals = {name: len(frame) for name, frame in found.items()}
    shown = {name: frame["member_id"].head(limit).tolist() for name, frame in found.items()}
    ids = sorted({member_id for chosen in shown.values() for member_id in chosen})
    columns = [c for c in CARE_COLUMNS if c != "days_quiet"]
    details = _member_rows(session, ids, ["member_id", *columns]).set_index("member_id")
    frames = {}
    for name, chosen in shown.items():
        frame = details.reindex(chosen).reset_index(drop=True)[columns]
        frame.insert(
            6, "days_quiet", frame["last_activity"].map(lambda d: (as_of - d).days).astype(int)
        )
        frames[name] = frame
    frames = {
        name: privacy.mask_phones(frame, actor, subject="member", owner_column=None)
        for name, frame in frames.items()
    }
    return CareLists(as_of=as_of, week=(week[0], week[-1]), totals=totals, **frames)


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
    _require_read(actor)
    months = settings_service.get_value(session, "tier_requalification_months")
    if not months:
        return RequalificationReview(False, None, None, pd.DataFrame())
    as_of = as_of or default_as_of(session)
    start = add_months(as_of, -int(months)) + dt.timedelta(days=1)
    ledger, _, lifetime, tier_column = _member_figures(session)
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
    requalifies = metrics.tier_case(earned, _tier_levels(session))
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


# --- Tiers --------------------------------------------------------------------------------


def _thresholds(new_thresholds: Mapping[int, int] | Sequence[int]) -> dict[int, int]:
    if isinstance(new_thresholds, Mapping):
        return {int(level): int(value) for level, value in new_thresholds.items()}
    return {index: int(value) for index, value in enumerate(new_thresholds, start=1)}


def _check_thresholds(levels: Sequence[int], thresholds: Mapping[int, int]) -> None:
    if sorted(thresholds) != sorted(levels):
        raise MemberError("give a threshold for every tier", key="members.error.tier_levels")
    problems = {problem for _, problem, _, _ in metrics.tier_threshold_problems(thresholds)}
    if "first" in problems:
        raise MemberError("the first tier starts at 0 points", key="members.error.tier_first")
    if "order" in problems:
        raise MemberError(
            "each tier needs more points than the one below", key="members.error.tier_order"
        )


def tier_change_preview(
    session: Session, *, actor: Actor, new_thresholds: Mapping[int, int] | Sequence[int]
) -> pd.DataFrame:
    """How many members each tier would have with `new_thresholds` ({level: threshold}),
    and per current tier how many would move up and down — before anything is saved.
    Columns: level, members_now, members_after, moving_up, moving_down."""
    _require_read(actor)
    current = settings_service.tiers(session)
    thresholds = _thresholds(new_thresholds)
    _check_thresholds([tier.level for tier in current], thresholds)
    ledger, _, lifetime, now_tier = _member_figures(session)
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
        if not all(names) or any(len(name) > 50 for name in names):
            raise MemberError(
                f"tier {level} needs a name in both languages (up to 50 characters)",
                key="members.error.tier_name",
                level=level,
            )
        rate = float(row.get("discount_rate") or 0)
        if not 0 <= rate < 1:
            raise MemberError(
                f"tier {level}: the discount rate must be between 0 and 1",
                key="members.error.tier_discount",
                level=level,
            )
        free_items = str(row.get("free_items") or "").strip() or None
        if free_items and len(free_items) > 500:
            raise MemberError("free items: up to 500 characters", key="members.error.tier_items")
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


# --- Rewards ------------------------------------------------------------------------------

REWARD_COLUMNS = [
    "reward_id",
    "name",
    "name_en",
    "points_cost",
    "stock",
    "active",
    "version",
    "redeemed",
]


def list_rewards(session: Session, *, actor: Actor, include_inactive: bool = True) -> pd.DataFrame:
    """The rewards catalogue with units redeemed so far."""
    _require_read(actor)
    redeemed = (
        select(Redemption.reward_id, func.sum(Redemption.quantity).label("redeemed"))
        .group_by(Redemption.reward_id)
        .subquery("redeemed")
    )
    statement = (
        select(
            Reward.id.label("reward_id"),
            Reward.name,
            Reward.name_en,
            Reward.points_cost,
            Reward.stock,
            Reward.active,
            Reward.version,
            func.coalesce(redeemed.c.redeemed, 0).label("redeemed"),
        )
        .outerjoin(redeemed, redeemed.c.reward_id == Reward.id)
        .order_by(Reward.active.desc(), Reward.points_cost, Reward.id)
    )
    if not include_inactive:
        statement = statement.where(Reward.active.is_(True))
    frame = pd.DataFrame(session.execute(statement).mappings().all(), columns=REWARD_COLUMNS)
    return frame.astype({"points_cost": int, "stock": int, "redeemed": int, "active": bool})


def _reward_values(name: str, name_en: str | None, points_cost: Any) -> tuple[str, str | None, int]:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise MemberError(
            "a reward needs a name (up to 100 characters)", key="members.error.reward_name"
        )
    name_en = (name_en or "").strip()[:100] or None
    return name, name_en, _positive_int(points_cost, "points cost")


def create_reward(
    session: Session,
    *,
    actor: Actor,
    name: str,
    points_cost: int,
    stock: int = 0,
    name_en: str | None = None,
) -> Reward:
    """Add a reward to the catalogue (audited)."""
    _require_write(actor)
    name, name_en, points_cost = _reward_values(name, name_en, points_cost)
    if int(stock) < 0:
        raise MemberError("stock cannot be negative", key="members.error.stock")
    reward = Reward(name=name, name_en=name_en, points_cost=points_cost, stock=int(stock))
    session.add(reward)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="reward.create",
        entity="reward",
        entity_id=reward.id,
        detail={"name": name, "points_cost": points_cost, "stock": int(stock)},
    )
    return reward


def update_reward(
    session: Session,
    *,
    actor: Actor,
    reward_id: int,
    version: int,
    name: str,
    points_cost: int,
    active: bool = True,
    name_en: str | None = None,
) -> Reward:
    """Change a reward's name, cost or availability; refused with StaleRecord when someone
    changed it (or redeemed it) since `version` was read. Stock changes go through
    `restock_reward`, which never loses a concurrent redemption."""
    _require_write(actor)
    name, name_en, points_cost = _reward_values(name, name_en, points_cost)
    before = session.get(Reward, reward_id)
    if before is None:
        raise MemberError(f"no reward with id {reward_id}", key="members.error.no_reward")
    old = {
        "name": before.name,
        "name_en": before.name_en,
        "points_cost": before.points_cost,
        "active": before.active,
    }
    changed = session.execute(
        update(Reward)
        .where(Reward.id == reward_id, Reward.version == version)
        .values(
            name=name,
            name_en=name_en,
            points_cost=points_cost,
            active=bool(active),
            version=Reward.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        raise StaleRecord("the reward changed since you opened it; reload and try again")
    session.expire(before)
    audit.record(
        session,
        actor=actor,
        action="reward.update",
        entity="reward",
        entity_id=reward_id,
        detail={
            "old": old,
            "new": {
                "name": name,
                "name_en": name_en,
                "points_cost": points_cost,
                "active": bool(active),
            },
        },
    )
    return session.get(Reward, reward_id)


def restock_reward(session: Session, *, actor: Actor, reward_id: int, add: int) -> Reward:
    """Add `add` units to a reward's stock (negative writes units off, never below zero)."""
    _require_write(actor)
    add = int(add)
    if add == 0:
        raise MemberError("give a number of units other than 0", key="members.error.stock")
    changed = session.execute(
        update(Reward)
        .where(Reward.id == reward_id, Reward.stock + add >= 0)
        .values(stock=Reward.stock + add, version=Reward.version + 1)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        raise OutOfStock("not that many units in stock", key="members.error.stock")
    reward = (
        session.execute(
            select(Reward).where(Reward.id == reward_id).execution_options(populate_existing=True)
        )
        .scalars()
        .one()
    )
    audit.record(
        session,
        actor=actor,
        action="reward.restock",
        entity="reward",
        entity_id=reward_id,
        detail={"added": add, "stock": reward.stock},
    )
    return reward


REDEMPTION_COLUMNS = ["redeemed_at", "member_no", "name", "reward", "quantity", "points", "by"]


def redemption_history(
    session: Session, *, actor: Actor, member_id: int | None = None, limit: int = 500
) -> pd.DataFrame:
    """Redemptions, newest first (one member's, or everyone's)."""
    _require_read(actor)
    statement = (
        select(
            Redemption.redeemed_at,
            Member.member_no,
            Member.name,
            Reward.name.label("reward"),
            Redemption.quantity,
            Redemption.points,
            AppUser.username.label("by"),
        )
        .join(Member, Member.id == Redemption.member_id)
        .join(Reward, Reward.id == Redemption.reward_id)
        .outerjoin(AppUser, AppUser.id == Redemption.created_by_user_id)
        .order_by(Redemption.redeemed_at.desc(), Redemption.id.desc())
        .limit(limit)
    )
    if member_id is not None:
        statement = statement.where(Redemption.member_id == member_id)
    return pd.DataFrame(session.execute(statement).mappings().all(), columns=REDEMPTION_COLUMNS)


# --- Charts -------------------------------------------------------------------------------


def chart_months(session: Session, *, actor: Actor, last_month: str, span: int = 12) -> list[str]:
    """The months the charts show: up to `span` months ending with `last_month`, starting
    no earlier than the month the first member joined."""
    _require_read(actor)
    first_day, _ = metrics.month_bounds(last_month)
    first = metrics.month_of(add_months(first_day, -(span - 1)))
    joined = as_date(session.execute(select(func.min(Member.joined_on))).scalar())
    if joined is not None:
        first = min(max(first, metrics.month_of(joined)), last_month)
    return metrics.months_between(first, last_month)


def tier_counts_by_month(session: Session, *, actor: Actor, months: Sequence[str]) -> pd.DataFrame:
    """Members per tier at each month's end (members joined by then, tier from lifetime points
    earned by then, with today's tier thresholds). Columns: month, tier, members."""
    _require_read(actor)
    months = list(months)
    if not months:
        return pd.DataFrame(columns=["month", "tier", "members"])
    table = months_table(months)
    levels = sorted((tier.level, tier.threshold) for tier in settings_service.tiers(session))
    running = (
        select(
            PointsEntry.member_id.label("member_id"),
            PointsEntry.occurred_on.label("occurred_on"),
            func.sum(PointsEntry.points)
            .over(
                partition_by=PointsEntry.member_id,
                order_by=(PointsEntry.occurred_on, PointsEntry.id),
            )
            .label("lifetime"),
        )
        .where(
            metrics.earning_condition(),
            PointsEntry.occurred_on <= metrics.month_bounds(months[-1])[1],
        )
        .subquery("running")
    )
    # The day each member's lifetime points first reached each tier's threshold.
    upper = [(level, threshold) for level, threshold in levels if threshold > 0]
    reached = (
        select(
            running.c.member_id,
            *[
                func.min(
                    case((running.c.lifetime >= threshold, running.c.occurred_on), else_=None)
                ).label(f"reached_{level}")
                for level, threshold in upper
            ],
        )
        .group_by(running.c.member_id)
        .subquery("reached")
    )
    statement = (
        select(
            table.c.month,
            func.count(Member.id).label("joined"),
            *[
                func.coalesce(
                    func.sum(case((reached.c[f"reached_{level}"] <= table.c.last_day, 1), else_=0)),
                    0,
                ).label(f"level_{level}")
                for level, _ in upper
            ],
        )
        .select_from(table)
        .join(Member, Member.joined_on <= table.c.last_day)
        .outerjoin(reached, reached.c.member_id == Member.id)
        .group_by(table.c.month)
    )
    found = {row["month"]: row for row in session.execute(statement).mappings().all()}
    rows = []
    for month in months:  # differences of ≤ 5 cumulative counts per month
        row = found.get(month, {})
        at_least = [int(row.get("joined", 0))] + [
            int(row.get(f"level_{level}", 0)) for level, _ in upper
        ]
        for index, (level, _) in enumerate(levels):
            above = at_least[index + 1] if index + 1 < len(at_least) else 0
            rows.append({"month": month, "tier": level, "members": at_least[index] - above})
    return pd.DataFrame(rows, columns=["month", "tier", "members"])


def points_by_month(session: Session, *, actor: Actor, months: Sequence[str]) -> pd.DataFrame:
    """Points earned, redeemed, expired and adjusted (net) per month.
    Columns: month, earned, redeemed, expired, adjusted (redeemed and expired as positive)."""
    _require_read(actor)
    months = list(months)
    columns = ["month", "earned", "redeemed", "expired", "adjusted"]
    if not months:
        return pd.DataFrame(columns=columns)
    # A CASE over every row, not a date-range index search: on SQLite a range covering most
    # of the ledger is several times slower through the index than one plain scan.
    month = month_of_day(PointsEntry.occurred_on, months).label("month")

    def total(condition, sign=1):
        return func.coalesce(func.sum(case((condition, sign * PointsEntry.points), else_=0)), 0)

    statement = select(
        month,
        total(metrics.earning_condition()).label("earned"),
        total(PointsEntry.kind == str(PointsKind.redeem), -1).label("redeemed"),
        total(PointsEntry.kind == str(PointsKind.expire), -1).label("expired"),
        total(PointsEntry.kind == str(PointsKind.adjust)).label("adjusted"),
    ).group_by(month)
    found = {row["month"]: row for row in session.execute(statement).mappings().all()}
    rows = [
        {c: (month if c == "month" else int(found.get(month, {}).get(c, 0))) for c in columns}
        for month in months
    ]
    return pd.DataFrame(rows, columns=columns)


def top_member_revenue_share(
    session: Session,
    *,
    actor: Actor,
    first_month: str,
    last_month: str,
    top: float = metrics.TOP_MEMBER_SHARE,
) -> dict[str, Any]:
    """The share of members' valid revenue that the top `top` (20%) of paying members bring
    (`core.metrics.top_member_share` of `core.metrics.revenue_by_member`, as the KPI page
    reads it): members, top_members, revenue, top_revenue, share (None when there is no
    revenue), and the frame for the 20/80 chart."""
    _require_read(actor)
    frame = metrics.revenue_by_member(
        session, actor=actor, first_month=first_month, last_month=last_month
    )
    return {**metrics.top_member_share(frame, top), "frame": frame}


# --- Expiry -------------------------------------------------------------------------------


@dataclass
class ExpiryPreview:
    enabled: bool
    months: int | None
    as_of: dt.date
    cutoff: dt.date | None  # points earned on or before this day expire
    members: int
    points: int
    rows: pd.DataFrame  # the largest expiries first (member_no, name, balance, expiring)


def _expiry_due(cutoff: dt.date):
    """(member_id, due) per member with points to expire: points added on or before `cutoff`
    that are not used up yet, oldest used first (every redemption, adjustment down and earlier
    expiry counts as using points). Never more than the balance, so never below zero, and
    zero after a run for the same day."""
    added_by_cutoff = func.coalesce(
        func.sum(
            case(
                (
                    and_(PointsEntry.points > 0, PointsEntry.occurred_on <= cutoff),
                    PointsEntry.points,
                ),
                else_=0,
            )
        ),
        0,
    )
    used = func.coalesce(func.sum(case((PointsEntry.points < 0, -PointsEntry.points), else_=0)), 0)
    due = added_by_cutoff - used
    return (
        select(
            PointsEntry.member_id.label("member_id"),
            due.label("due"),
            func.sum(PointsEntry.points).label("balance"),
        )
        .group_by(PointsEntry.member_id)
        .having(due > 0)
        .subquery("due")
    )


def _expiry_setting(session: Session) -> int | None:
    months = settings_service.get_value(session, "points_expiry_months")
    return int(months) if months else None


def preview_expiry(
    session: Session, *, actor: Actor, as_of: dt.date, limit: int = 200
) -> ExpiryPreview:
    """What `run_expiry(as_of)` would write: members and points, the largest first."""
    _require_read(actor)
    months = _expiry_setting(session)
    if months is None:
        return ExpiryPreview(False, None, as_of, None, 0, 0, pd.DataFrame())
    cutoff = add_months(as_of, -months)
    due = _expiry_due(cutoff)
    members, points = session.execute(
        select(func.count(due.c.member_id), func.coalesce(func.sum(due.c.due), 0))
    ).one()
    rows = pd.DataFrame(
        session.execute(
            select(Member.member_no, Member.name, due.c.balance, due.c.due.label("expiring"))
            .join(due, due.c.member_id == Member.id)
            .order_by(due.c.due.desc(), Member.member_no)
            .limit(limit)
        )
        .mappings()
        .all(),
        columns=["member_no", "name", "balance", "expiring"],
    ).astype({"balance": int, "expiring": int})
    return ExpiryPreview(True, months, as_of, cutoff, int(members), int(points), rows)


def run_expiry(session: Session, *, actor: Actor, as_of: dt.date) -> ExpiryPreview:
    """Expire points earned on or before `as_of` − `points_expiry_months` that are still
    unused: one `expire` entry per member dated `as_of`, one audit row for the run. Running
    it again for the same day writes nothing. Refused with ExpiryOff while the option is off."""
    _require_write(actor)
    months = _expiry_setting(session)
    if months is None:
        raise ExpiryOff("points expiry is off (setting points_expiry_months)")
    if session.get_bind().dialect.name == "postgresql":
        # Redemptions and adjustments lock their member's row; this waits for them and holds
        # them off while the run computes and writes (plain reads carry on).
        session.execute(text("LOCK TABLE member IN EXCLUSIVE MODE"))
    preview = preview_expiry(session, actor=actor, as_of=as_of)
    if not preview.members:
        return preview
    due = _expiry_due(preview.cutoff)
    note = f"points earned on or before {preview.cutoff.isoformat()} expired"
    session.execute(
        insert(PointsEntry).from_select(
            [
                "member_id",
                "kind",
                "points",
                "occurred_on",
                "note",
                "created_by_user_id",
                "created_at",
            ],
            select(
                due.c.member_id,
                literal(str(PointsKind.expire)),
                -due.c.due,
                literal(as_of, Date()),
                literal(note),
                literal(actor.user_id, Integer()),
                literal(utcnow(), UTCDateTime()),
            ),
        )
    )
    audit.record(
        session,
        actor=actor,
        action="points.expire",
        entity="points_entry",
        detail={
            "as_of": as_of,
            "cutoff": preview.cutoff,
            "months": months,
            "members": preview.members,
            "points": preview.points,
        },
    )
    return preview
