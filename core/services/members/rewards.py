"""The rewards catalogue and redemptions (points exchanged for a reward).

A redemption adds one `redeem` entry to the ledger and takes the stock with one conditional
UPDATE, under the member's lock (`ledger.get_member(..., lock=True)`): refused with
InsufficientPoints or OutOfStock, nothing written. Catalogue edits are optimistic (StaleRecord
when someone changed the reward since it was read); restocking never loses a redemption.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import func, select, update
from sqlmodel import Session

from core import audit
from core.domain import PointsKind
from core.models import AppUser, Member, PointsEntry, Redemption, Reward
from core.permissions import Actor
from core.services.members.access import require_read, require_write
from core.services.members.errors import InsufficientPoints, MemberError, OutOfStock, StaleRecord
from core.services.members.ledger import (
    get_member,
    member_balance,
    not_future,
    positive_int,
    require_active,
)
from core.text import clean_text


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
    require_write(actor)
    quantity = positive_int(quantity, "quantity", maximum=1_000)
    member = get_member(session, member_id, lock=True)
    require_active(member)
    day = not_future(session, occurred_on)
    reward = (
        session.execute(
            select(Reward).where(Reward.id == reward_id).execution_options(populate_existing=True)
        )
        .scalars()
        .first()
    )
    if reward is None or not reward.active:
        raise MemberError("members.error.no_reward")
    cost = reward.points_cost * quantity
    balance = member_balance(session, member.id)
    if balance < cost:
        raise InsufficientPoints(balance=balance, cost=cost, member_no=member.member_no)
    taken = session.execute(
        update(Reward)
        .where(Reward.id == reward.id, Reward.stock >= quantity)
        .values(stock=Reward.stock - quantity, version=Reward.version + 1)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        session.expire(reward)
        raise OutOfStock(reward=reward.name, quantity=quantity)
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
    require_read(actor)
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
    name = clean_text((name or "").strip(), field="name")
    clean_text(name_en, field="name_en")
    if not name or len(name) > 100:
        raise MemberError("members.error.reward_name")
    name_en = (name_en or "").strip()[:100] or None
    return name, name_en, positive_int(points_cost, "points cost")


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
    require_write(actor)
    name, name_en, points_cost = _reward_values(name, name_en, points_cost)
    if int(stock) < 0:
        raise MemberError("members.error.stock")
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
    require_write(actor)
    name, name_en, points_cost = _reward_values(name, name_en, points_cost)
    before = session.get(Reward, reward_id)
    if before is None:
        raise MemberError("members.error.no_reward")
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
        raise StaleRecord()
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
    require_write(actor)
    add = int(add)
    if add == 0:
        raise MemberError("members.error.stock")
    changed = session.execute(
        update(Reward)
        .where(Reward.id == reward_id, Reward.stock + add >= 0)
        .values(stock=Reward.stock + add, version=Reward.version + 1)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        raise OutOfStock("members.error.stock")
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
    require_read(actor)
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
