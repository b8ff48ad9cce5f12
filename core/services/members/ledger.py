"""The points ledger: award, adjust, and the checks every points write shares.

The ledger (`points_entry`) is append-only: awards, redemptions, adjustments and expiries each
add a signed row; nothing here updates or deletes one. Writes that could overdraw hold a lock
while they check the balance: SQLite's write session holds the database write lock from its
start; on PostgreSQL the member's row is locked (`get_member(..., lock=True)`, `SELECT … FOR
UPDATE`). Redemptions (`rewards`) and expiry runs (`expiry`) write their entries through the
same checks.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import exists, func, select
from sqlmodel import Session

from core import audit
from core.domain import NON_EARNING_POINTS_KINDS, PointsKind
from core.models import Member, PointsEntry
from core.permissions import Actor
from core.services import settings as settings_service
from core.services.members.access import require_write
from core.services.members.errors import InsufficientPoints, MemberError
from core.text import clean_text

MAX_POINTS_PER_ENTRY = 10_000_000
EARNING_KINDS = tuple(str(k) for k in PointsKind if k not in NON_EARNING_POINTS_KINDS)


def get_member(session: Session, member_id: int, *, lock: bool = False) -> Member:
    """The member (MemberError when there is none); `lock` holds off concurrent points
    writers of this member until the transaction ends."""
    statement = select(Member).where(Member.id == member_id)
    if lock:
        # PostgreSQL: concurrent writers of this member's points wait here (SQLite: no-op,
        # its write session already holds the database write lock).
        statement = statement.with_for_update().execution_options(populate_existing=True)
    member = session.execute(statement).scalars().first()
    if member is None:
        raise MemberError("members.error.no_member")
    return member


def member_balance(session: Session, member_id: int) -> int:
    """One member's balance (SPEC §3: the sum of all signed entries), read under the lock."""
    total = session.execute(
        select(func.coalesce(func.sum(PointsEntry.points), 0)).where(
            PointsEntry.member_id == member_id
        )
    ).scalar_one()
    return int(total)


def require_active(member: Member) -> None:
    """Refuse points writes for an inactive member."""
    if not member.active:
        raise MemberError("members.error.inactive", member_no=member.member_no)


def positive_int(value: Any, what: str, *, maximum: int = MAX_POINTS_PER_ENTRY) -> int:
    """`value` as a whole number from 1 to `maximum` (MemberError otherwise)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise MemberError("members.error.whole", what=what) from None
    if number != value and not isinstance(value, str):
        raise MemberError("members.error.whole", what=what)
    if number <= 0 or number > maximum:
        raise MemberError("members.error.range", maximum=maximum)
    return number


def not_future(session: Session, day: dt.date | None) -> dt.date:
    """`day` (default: the hospital's today), refused when it is later than today."""
    today = settings_service.hospital_today(session)
    day = day or today
    if day > today:
        raise MemberError("members.error.future", day=day.isoformat())
    return day


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
    require_write(actor)
    clean_text(note, field="note")
    if kind not in EARNING_KINDS:
        raise MemberError("members.error.kind", kind=kind)
    member = get_member(session, member_id)
    require_active(member)
    day = not_future(session, occurred_on)
    rates = earning_points(session)
    if kind == PointsKind.spend:
        if amount is None:
            raise MemberError("members.error.amount")
        try:
            spent = Decimal(str(amount))
        except InvalidOperation:
            raise MemberError("members.error.amount") from None
        if not spent.is_finite() or spent <= 0:
            raise MemberError("members.error.amount")
        points = int((spent * rates[kind]).to_integral_value(rounding=ROUND_FLOOR))
        note = note or f"¥{spent:,.2f}"
    elif points is None:
        points = rates[kind]
    points = positive_int(points, "points")
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
            raise MemberError("members.error.signed_in", day=day.isoformat())
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
    require_write(actor)
    reason = clean_text((reason or "").strip(), field="reason")
    if not reason:
        raise MemberError("members.error.reason")
    try:
        points = int(points)
    except (TypeError, ValueError):
        raise MemberError("members.error.whole", what="points") from None
    if points == 0 or abs(points) > MAX_POINTS_PER_ENTRY:
        raise MemberError("members.error.range", maximum=MAX_POINTS_PER_ENTRY)
    member = get_member(session, member_id, lock=True)
    require_active(member)
    day = not_future(session, occurred_on)
    balance = member_balance(session, member.id)
    if balance + points < 0:
        raise InsufficientPoints(balance=balance, cost=-points, member_no=member.member_no)
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
