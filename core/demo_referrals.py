"""The demo hospital's referrals (SPEC §10): who brought whom, written after the plan.

Leads whose source channel is `referral`, and about one in five members who did not come
from a lead, name an earlier member as referrer (one who joined strictly before: chains run
forward in time, so there is never a cycle); members who were themselves referred are
favoured, so chains of several levels form. Then the referral points entries now due are
paid (core.services.referrals.pay_referrals). Drawn from its own random stream after
everything else: none of seed 000's figures, and nothing else of the demo, changes — the
points totals grow by the referral entries only.

Returning patients: about a third of July's and August's valid orders that name a lead (and
no member) are moved to a lead of the same staff member who had a valid order in an earlier
month — the same staff, day, kind, amount and status, so every monthly figure stays.

The demo's administrator also shortened the recall intervals (check-up 2 months,
appointment 1 month) so that the three months of demo orders have patients due back.
"""

from __future__ import annotations

import bisect
import json
import random

from sqlalchemy import bindparam, select, update
from sqlmodel import Session

from core.db import as_date
from core.models import Lead, Member, Order, Setting
from core.permissions import Actor
from core.services.referrals import pay_referrals

SEED = 20_191_010
MEMBER_SHARE = 0.2  # of members without a lead
DEMO_RECALL_MONTHS = {"checkup": 2, "appointment": 1}
RETURN_SHARE = 0.33


def add_referrals(session: Session) -> int:
    """Name referrers in the demo and pay what is due; returns the referral entries paid."""
    rng = random.Random(SEED)
    members = [
        (as_date(joined), member_id, lead_id)
        for member_id, joined, lead_id in session.execute(
            select(Member.id, Member.joined_on, Member.lead_id).order_by(
                Member.joined_on, Member.id
            )
        ).all()
    ]
    days = [joined for joined, _id, _lead in members]
    referred: set[int] = set()

    def referrer_before(day, own_lead=None) -> int | None:
        upto = bisect.bisect_left(days, day)  # joined strictly before `day`
        if not upto:
            return None
        pool = [m for m in members[:upto] if m[2] is None or m[2] != own_lead]
        chained = [m for m in pool if m[1] in referred]
        if chained and rng.random() < 0.5:
            return rng.choice(chained)[1]
        return rng.choice(pool[-400:])[1] if pool else None

    member_rows = []
    for joined, member_id, lead_id in members:
        if lead_id is None and rng.random() < MEMBER_SHARE:
            chosen = referrer_before(joined)
            if chosen is not None:
                member_rows.append({"member_id": member_id, "referrer": chosen})
                referred.add(member_id)
    member_of_lead = {lead_id: member_id for _j, member_id, lead_id in members if lead_id}
    lead_rows = []
    for lead_id, created in session.execute(
        select(Lead.id, Lead.created_on)
        .where(Lead.source_channel == "referral")
        .order_by(Lead.created_on, Lead.id)
    ).all():
        chosen = referrer_before(as_date(created), own_lead=lead_id)
        if chosen is not None:
            lead_rows.append({"lead_id": lead_id, "referrer": chosen})
            if lead_id in member_of_lead:
                referred.add(member_of_lead[lead_id])
    connection = session.connection()
    if member_rows:
        connection.execute(
            update(Member.__table__)
            .where(Member.__table__.c.id == bindparam("member_id"))
            .values(referred_by_member_id=bindparam("referrer")),
            member_rows,
        )
    if lead_rows:
        connection.execute(
            update(Lead.__table__)
            .where(Lead.__table__.c.id == bindparam("lead_id"))
            .values(referred_by_member_id=bindparam("referrer")),
            lead_rows,
        )
    _returning_patients(session, rng)
    session.add(Setting(key="recall_months", value=json.dumps(DEMO_RECALL_MONTHS)))
    session.flush()
    return pay_referrals(session, actor=Actor.system())


def _returning_patients(session: Session, rng: random.Random) -> None:
    valid = (Order.status == "valid") & Order.lead_id.is_not(None)
    rows = session.execute(
        select(Order.id, Order.staff_id, Order.created_on, Order.lead_id, Order.member_id)
        .where(valid)
        .order_by(Order.created_on, Order.id)
    ).all()
    earlier: dict[int, list[tuple]] = {}  # staff id → (month, lead id) of their valid orders
    moves = []
    for order_id, staff_id, created_on, lead_id, member_id in rows:
        day = as_date(created_on)
        month = (day.year, day.month)
        before = [lead for seen, lead in earlier.get(staff_id, []) if seen < month]
        if before and member_id is None and rng.random() < RETURN_SHARE:
            lead_id = rng.choice(before)
            moves.append({"order_id": order_id, "lead": lead_id})
        earlier.setdefault(staff_id, []).append((month, lead_id))
    if moves:
        session.connection().execute(
            update(Order.__table__)
            .where(Order.__table__.c.id == bindparam("order_id"))
            .values(lead_id=bindparam("lead")),
            moves,
        )
