"""Who the members are: finding one, the paged list, one member's page, leads becoming members.

A lead becomes a member once, keeping its owner (the staff member who brought them is
credited with the conversion). A member's page shows their figures (`core.metrics`), tier
progress and benefits, the whole ledger with its running balance and their redemptions; the
phone is masked for readers who may not see it (`core.services.privacy`).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import func, or_, select
from sqlmodel import Session

from core import audit, metrics
from core.db import as_date
from core.models import AppUser, Lead, Member, PointsEntry, Staff, Tier
from core.permissions import Actor
from core.services import privacy
from core.services import settings as settings_service
from core.services.members.access import require_read, require_write
from core.services.members.care import AT_RISK_DAYS
from core.services.members.errors import MemberError
from core.services.members.figures import (
    ACTIVITY_KINDS,
    default_as_of,
    member_figures,
    member_rows,
    no_activity_since,
)
from core.services.members.ledger import get_member, not_future
from core.services.members.rewards import redemption_history
from core.services.members.tiers import tier_benefits
from core.text import clean_text


def member_by_no(session: Session, *, actor: Actor, member_no: str) -> Member:
    """The member with this number (LookupError when there is none)."""
    require_read(actor)
    member = (
        session.execute(select(Member).where(Member.member_no == member_no.strip()))
        .scalars()
        .first()
    )
    if member is None:
        raise LookupError(f"no member with member_no '{member_no}'")
    return member


def lead_by_ref(session: Session, *, actor: Actor, lead_ref: str) -> Lead:
    """The lead with this reference (LookupError when there is none)."""
    require_write(actor)
    lead = session.execute(select(Lead).where(Lead.lead_ref == lead_ref.strip())).scalars().first()
    if lead is None:
        raise LookupError(f"no lead with lead_ref '{lead_ref}'")
    return lead


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
    require_write(actor)
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise MemberError("members.error.no_lead")
    existing = session.execute(select(Member.member_no).where(Member.lead_id == lead.id)).scalar()
    if existing is not None:
        raise MemberError(
            "members.error.already_member",
            lead_ref=lead.lead_ref,
            member_no=existing,
        )
    member_no = clean_text((member_no or "").strip(), field="member_no") or f"M-{lead.lead_ref}"
    if len(member_no) > 64:
        raise MemberError("members.error.member_no")
    taken = session.execute(select(Member.id).where(Member.member_no == member_no)).scalar()
    if taken is not None:
        raise MemberError("members.error.member_no_taken", member_no=member_no)
    day = not_future(session, joined_on)
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


PAGE_SIZE = 50


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
    require_read(actor)
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
        ledger, _, _, tier_column = member_figures(session)
        statement = statement.outerjoin(ledger, ledger.c.member_id == Member.id).where(
            tier_column == int(tier)
        )
    if at_risk:
        statement = statement.where(no_activity_since(as_of - dt.timedelta(days=AT_RISK_DAYS)))

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
    frame = member_rows(session, ids, MEMBER_COLUMNS)
    frame = frame.sort_values("member_no", ignore_index=True)
    return MemberPage(rows=frame, total=total, offset=offset, limit=limit, as_of=as_of)


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


LEDGER_COLUMNS = ["entry_id", "occurred_on", "kind", "points", "balance", "note", "by"]


def member_detail(session: Session, *, actor: Actor, member_id: int) -> MemberDetail:
    """A member's figures (from `core.metrics`), tier progress, benefits now, their whole
    ledger newest first with the running balance, and their redemptions."""
    require_read(actor)
    member = get_member(session, member_id)
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
