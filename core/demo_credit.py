"""The demo hospital's credit stories (SPEC §8), told through the services after the bulk
load: a handful of touches (a colleague typed in a person someone else holds), claims from
the pool, one merge of a person entered twice, one ruled dispute and one open one, and one
likely duplicate left for review — so every credit screen has something to show.

Seed 000's published figures must not move: touches change no owner; claims and the merge
move leads only between staff whose end-of-month lead counts stay on the same side of the
active-staff threshold (`_safe`), and rulings keep the owner.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, delete, func, select, update
from sqlmodel import Session

from core.models import Followup, Interaction, Lead, LeadCreate, Member, Order, Staff
from core.permissions import Actor
from core.services import ownership
from core.services import settings as settings_service

AS_OF = dt.date(2019, 8, 31)  # the demo's last day


def _counts(session: Session) -> dict[int, int]:
    """Leads each staff member owns at the end of the demo (created on or before AS_OF)."""
    rows = session.execute(
        select(Lead.owner_staff_id, func.count())
        .where(Lead.created_on <= AS_OF)
        .group_by(Lead.owner_staff_id)
    ).all()
    return {staff_id: int(n) for staff_id, n in rows}


def _safe(counts: dict[int, int], staff_id: int, change: int, threshold: int) -> bool:
    """Would `change` leave this staff member's count on the same side of the threshold
    (with a margin, so several stories together cannot cross it)?"""
    now = counts.get(staff_id, 0)
    return (now >= threshold + 5 and now + change >= threshold + 5) or (
        now < threshold - 5 and now + change < threshold - 5
    )


def _protected_leads(session: Session, department_id: int, on: dt.date, exclude: set[int]):
    """Active leads of the department with a phone, touched (an interaction) in the 20 days
    before `on`: inside protection on `on`. Oldest ids first (deterministic)."""
    recent = (
        select(Interaction.lead_id)
        .where(Interaction.occurred_on.between(on - dt.timedelta(days=20), on))
        .distinct()
    )
    return session.execute(
        select(Lead.id, Lead.phone, Lead.owner_staff_id)
        .join(Staff, Staff.id == Lead.owner_staff_id)
        .where(
            Staff.department_id == department_id,
            Lead.active == True,  # noqa: E712
            Lead.person_key.is_not(None),
            Lead.id.in_(recent),
            Lead.owner_staff_id.not_in(exclude),
        )
        .order_by(Lead.id)
        .limit(12)
    ).all()


def _untied(session: Session, lead_id: int) -> bool:
    """No order or member hangs on the lead (their credited staff follow the lead's owner
    in the demo, so a lead that carries them does not change hands here)."""
    tied = (
        session.execute(
            select(func.count()).select_from(Order).where(Order.lead_id == lead_id)
        ).scalar()
        + session.execute(
            select(func.count()).select_from(Member).where(Member.lead_id == lead_id)
        ).scalar()
    )
    return tied == 0


def _let_lapse(session: Session, department_id: int, counts: dict, threshold: int) -> None:
    days = int(settings_service.get_value(session, "protection_days"))
    quiet = AS_OF - dt.timedelta(days=days + 5)
    recent = select(Interaction.lead_id).where(Interaction.occurred_on > quiet)
    rows = session.execute(
        select(Lead.id, Lead.owner_staff_id)
        .join(Staff, Staff.id == Lead.owner_staff_id)
        .where(
            Staff.department_id != department_id,
            Lead.active == True,  # noqa: E712
            Lead.created_on < quiet,
            Lead.id.not_in(recent),
        )
        .order_by(Lead.id)
        .limit(400)
    ).all()
    chosen = [lead_id for lead_id, owner in rows
              if _safe(counts, owner, -1, threshold) and _untied(session, lead_id)][:12]  # fmt: skip
    session.execute(delete(Followup).where(Followup.lead_id.in_(chosen)))
    session.flush()


def _touch(session: Session, actor: Actor, staff: Staff, phone: str, on: dt.date, source: str):
    data = LeadCreate(
        lead_ref=ownership.new_ref(session, on),
        name="(typed again)",
        phone=f"+86 {phone[:3]}-{phone[3:7]}-{phone[7:]}" if len(phone) == 11 else phone,
        owner_staff_id=staff.id,
        created_on=on,
    )
    done = ownership.register_lead(session, actor=actor, data=data, source=source)
    assert done.outcome == "touch", done.outcome
    return done


def tell_credit_stories(session: Session, *, physician_no: str, head_username: str) -> dict:
    """Touches, claims, a merge, disputes and a duplicate candidate (see the module doc)."""
    from core.services import users

    system = Actor.system()
    threshold = int(settings_service.get_value(session, "active_staff_lead_threshold"))
    physician = session.execute(select(Staff).where(Staff.staff_no == physician_no)).scalar_one()
    head = users.actor_of(users.get_by_username(session, head_username))
    colleagues = (
        session.execute(
            select(Staff)
            .where(Staff.department_id == physician.department_id, Staff.active == True)  # noqa: E712
            .where(Staff.id != physician.id, Staff.id != head.staff_id)  # the head rules
            .order_by(Staff.staff_no)
        )
        .scalars()
        .all()
    )
    told = {"touches": 0, "claims": 0, "merges": 0, "disputes": 0}

    # Touches: the physician typed in two people colleagues hold; a colleague typed in one
    # of the physician's; one more colleague touched a lead and disputed it (ruled: kept).
    staff_actor = users.actor_of(
        users.get_by_username(session, "staff")
    )  # the physician's own login
    on = AS_OF - dt.timedelta(days=6)
    targets = _protected_leads(session, physician.department_id, on, {physician.id})
    touches = []
    for _, phone, _ in targets[:2]:
        touches.append(_touch(session, staff_actor, physician, phone, on, "own_entry"))
    own = _protected_leads(session, physician.department_id, on, {c.id for c in colleagues})
    disputer = colleagues[0]
    if own:
        _touch(session, system, colleagues[1], own[0][1], on - dt.timedelta(days=2), "board")
        told["touches"] += 1
    for _, phone, owner in targets[2:]:
        if owner != disputer.id:
            ruled = _touch(session, system, disputer, phone, on - dt.timedelta(days=4), "board")
            break
    told["touches"] += len(touches) + 1
    dispute = ownership.raise_dispute(
        session,
        actor=Actor(user_id=None, username="demo", role=system.role, staff_id=disputer.id),
        touch_id=ruled.touch_id,
        note="我先加的微信，聊过两次",
    )
    ownership.rule_dispute(
        session, actor=head, dispute_id=dispute.id, ruling="keep", on=AS_OF - dt.timedelta(days=2),
        note="归属人近期有随访记录，维持原归属",
    )  # fmt: skip
    ownership.raise_dispute(
        session, actor=staff_actor, touch_id=touches[0].touch_id, note="患者是我门诊首诊的"
    )
    told["disputes"] = 2

    # The pool: the demo's follow-ups keep nearly every lead warm, so a dozen leads outside
    # 内三科 that nobody followed up (their follow-ups are left out), with no interaction in
    # the protection window, lapse. Three of them are claimed by colleagues far from the
    # threshold.
    counts = _counts(session)
    _let_lapse(session, physician.department_id, counts, threshold)
    pool = ownership.pool(session, actor=system, on=AS_OF)
    claimers = colleagues[2:8]  # the physician keeps the 33 leads the demo is known for
    for claimer in claimers:
        if told["claims"] >= 3:
            break
        if not _safe(counts, claimer.id, 1, threshold):
            continue
        for row in pool.itertuples():
            owner = int(row.owner_staff_id)
            if (
                owner != claimer.id
                and _safe(counts, owner, -1, threshold)
                and _untied(session, int(row.lead_id))
            ):
                ownership.claim(session, actor=system, lead_id=int(row.lead_id), on=AS_OF,
                                to_staff_id=claimer.id)  # fmt: skip
                counts[owner] -= 1
                counts[claimer.id] = counts.get(claimer.id, 0) + 1
                pool = pool[pool["lead_id"] != row.lead_id]
                told["claims"] += 1
                break

    # The merge: a person entered twice before SPEC §8 (the same phone on two leads).
    pairs = ownership.duplicate_candidates(session, actor=system)
    for pair in pairs.itertuples():
        owner = session.get(Lead, int(pair.merge_id)).owner_staff_id
        if _safe(counts, owner, -1, threshold) and _untied(session, int(pair.merge_id)):
            ownership.merge_leads(session, actor=system, keep_id=int(pair.keep_id),
                                  merge_id=int(pair.merge_id), on=AS_OF - dt.timedelta(days=1),
                                  reason="同一患者重复登记(电话相同)")  # fmt: skip
            told["merges"] += 1
            break

    # A likely duplicate left for review: the same name, the phone one digit apart.
    names = (
        select(Lead.name)
        .where(Lead.active == True, Lead.person_key.is_not(None))  # noqa: E712
        .group_by(Lead.name)
        .having(func.count() > 1)
        .order_by(Lead.name)
        .limit(1)
        .scalar_subquery()
    )
    first, second = session.execute(
        select(Lead.id, Lead.phone)
        .where(and_(Lead.name == names, Lead.active == True, Lead.person_key.is_not(None)))  # noqa: E712
        .order_by(Lead.id)
        .limit(2)
    ).all()
    phone = first[1][:-1] + str((int(first[1][-1]) + 1) % 10)
    session.execute(update(Lead).where(Lead.id == second[0]).values(phone=phone, person_key=phone))
    session.flush()
    return told
