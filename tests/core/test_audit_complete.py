"""The audit log is complete: every service function that changes data leaves its audit row.

Each write is called on the demo hospital by a role allowed to make it, in a transaction
that is rolled back afterwards; the audit rows it added (count before and after, in the same
transaction) must include its action, attributed to the acting user. A second test lists
every public service function that takes an acting user and checks each is classified here
as a write (and then called above) or as a read, so a new write service cannot slip past.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from core import importing, metrics
from core.domain import Role
from core.models import (
    AppUserCreate,
    AuditLog,
    CampaignCreate,
    CampaignTask,
    CampaignUpdate,
    ContentPiece,
    InteractionCreate,
    Lead,
    LeadCreate,
    LeadDispute,
    LeadTouch,
    Member,
    Order,
    Reward,
    Staff,
    StaffCreate,
    StaffUpdate,
    StageChange,
)
from core.permissions import Actor
from core.services import (
    audit_log,
    benchmark,
    campaigns,
    commission,
    consent,
    content,
    followups,
    handoffs,
    landing,
    leads,
    members,
    offboarding,
    ownership,
    referrals,
    settings,
    settings_checks,
    staff,
    table_admin,
    users,
)
from core.services.commission import publish_commission
from core.services.settings import metric_rules
from tests.core import test_access_matrix as matrix

engine = matrix.engine  # one private demo copy for this module (a module-scoped fixture)
demo = matrix.demo
A, E, D, M, C, S = matrix.ROLES
DAY = matrix.DAY
SYSTEM = Actor.system()


@dataclass(frozen=True)
class Write:
    name: str  # module.function
    role: Role
    call: Callable[[Session, Actor, matrix.Demo], Any]
    actions: tuple[str, ...]  # audit actions it must add (each at least once)
    setup: Callable[[Session, matrix.Demo], Any] | None = None


def _fresh_referrer(session, member_id: int) -> str:
    """A member who may refer `member_id`: not itself, not already its referrer, and not one
    it brought (no cycle)."""
    member = session.get(Member, member_id)
    for other in session.execute(select(Member).order_by(Member.id)).scalars():
        if other.id not in (member_id, member.referred_by_member_id) and (
            other.referred_by_member_id != member_id
        ):
            return other.member_no
    raise AssertionError("the demo needs a second member")


def _version(session, lead_id):
    return session.get(Lead, lead_id).version


def _staff_where(session, *conditions) -> int:
    return (
        session.execute(
            select(Staff.id).where(Staff.active.is_(True), Staff.left_on.is_(None), *conditions)
        )
        .scalars()
        .first()
    )


def _issued_not_activated(session, demo):
    return _staff_where(
        session,
        Staff.card_issued_on.is_not(None),
        Staff.card_activated_on.is_(None),
        Staff.card_revoked_on.is_(None),
    )


def _activated_no_profile(session, demo):
    return _staff_where(
        session,
        Staff.card_activated_on.is_not(None),
        Staff.profile_completed_on.is_(None),
        Staff.card_revoked_on.is_(None),
    )


def _rich_member(session, demo) -> int:
    """The member with the highest balance (for a redemption)."""
    table = metrics.member_table(session, rules=metric_rules(session), actor=SYSTEM)
    member_no = table.sort_values("balance").iloc[-1]["member_no"]
    return session.execute(select(Member.id).where(Member.member_no == member_no)).scalar()


def _cheap_reward(session) -> Reward:
    return (
        session.execute(
            select(Reward)
            .where(Reward.active.is_(True), Reward.stock > 0)
            .order_by(Reward.points_cost)
        )
        .scalars()
        .first()
    )


def _new_task(session, demo) -> int:
    return campaigns.add_task(session, actor=SYSTEM, campaign_id=demo.campaign, milestone="t").id


def _accepted(session, demo) -> int:
    handoffs.accept_handoff(session, actor=SYSTEM, handoff_id=demo.pending_handoff)
    return demo.pending_handoff


def _tiers(session) -> list[dict]:
    return [
        {
            "level": tier.level,
            "name_en": tier.name_en,
            "name_zh": tier.name_zh,
            "threshold": tier.threshold + (1 if tier.level == 2 else 0),
            "discount_rate": tier.discount_rate,
            "free_items": tier.free_items,
            "gifts": tier.gifts,
            "checkup_package": tier.checkup_package,
        }
        for tier in settings.tiers(session)
    ]


def _expiry_on(session, demo):
    settings.set_value(session, actor=SYSTEM, key="points_expiry_months", value=3)


def _touch_by_successor(session, demo) -> None:
    """The `staff` physician (demo.successor) registered a colleague's protected lead."""
    session.add(
        LeadTouch(lead_id=demo.colleague_lead, staff_id=demo.successor, touched_on=DAY,
                  source="board")
    )  # fmt: skip
    session.flush()


def _latest_touch(session, demo) -> int:
    statement = select(LeadTouch.id).where(LeadTouch.staff_id == demo.successor)
    return session.execute(statement.order_by(LeadTouch.id.desc())).scalars().first()


def _open_dispute(session, demo) -> None:
    _touch_by_successor(session, demo)
    session.add(
        LeadDispute(touch_id=_latest_touch(session, demo), raised_by_staff_id=demo.successor,
                    holder_staff_id=session.get(Lead, demo.colleague_lead).owner_staff_id)
    )  # fmt: skip
    session.flush()


def _latest_open_dispute(session) -> int:
    statement = select(LeadDispute.id).where(LeadDispute.status == "open")
    return session.execute(statement.order_by(LeadDispute.id.desc())).scalars().first()


def _own_phone(session, actor) -> str:
    """The phone of a lead `actor`'s staff member already holds."""
    return session.execute(
        select(Lead.phone)
        .where(Lead.owner_staff_id == actor.staff_id, Lead.active.is_(True),
               Lead.person_key.is_not(None))
        .order_by(Lead.id)
    ).scalars().first()  # fmt: skip


def _referral_due(session, demo) -> None:
    """A lead with a valid order that nobody referred is now named as referred by a member:
    its referral is due."""
    lead_id = session.execute(
        select(Order.lead_id)
        .join(Lead, Lead.id == Order.lead_id)
        .where(Order.status == "valid", Lead.referred_by_member_id.is_(None))
        .order_by(Order.lead_id)
    ).scalars().first()  # fmt: skip
    lead = session.get(Lead, lead_id)
    lead.referred_by_member_id = demo.other_member
    session.add(lead)
    session.flush()


def _longer_cadence(session) -> dict[str, int]:
    return {stage: days + 1 for stage, days in followups.cadence(session).items()}


CAMPAIGN_CSV = b"code,name,type,starts_on,ends_on\nSEC-AUDIT,Audit,lecture,2019-08-01,2019-08-02\n"

WRITES: list[Write] = [
    # leads (the lead board)
    Write(
        "leads.move_lead",
        M,
        lambda s, a, d: leads.move_lead(
            s,
            actor=a,
            lead_id=d.handed_lead,
            to_stage=matrix._next_stage(d),
            expected_version=_version(s, d.handed_lead),
            reason="audit",
        ),
        ("lead.move",),
    ),
    Write(
        "leads.bulk_move",
        D,
        lambda s, a, d: leads.bulk_move(
            s,
            actor=a,
            versions={d.handed_lead: _version(s, d.handed_lead)},
            to_stage=matrix._next_stage(d),
            reason="audit",
        ),
        ("lead.move",),
    ),
    Write(
        "leads.bulk_reassign_owner",
        M,
        lambda s, a, d: leads.bulk_reassign_owner(
            s,
            actor=a,
            versions={d.colleague_lead: _version(s, d.colleague_lead)},
            owner_staff_id=d.successor,
        ),
        ("lead.reassign",),
    ),
    Write(
        "leads.bulk_tag",
        M,
        lambda s, a, d: leads.bulk_tag(
            s, actor=a, versions={d.handed_lead: _version(s, d.handed_lead)}, tag="audit"
        ),
        ("lead.tag",),
    ),
    Write(
        "leads.record_interaction",
        S,
        lambda s, a, d: leads.record_interaction(
            s,
            actor=a,
            lead_id=d.handed_lead,
            data=InteractionCreate(kind="livestream", occurred_on=DAY),
        ),
        ("lead.interaction",),
    ),
    # handoffs
    Write(
        "handoffs.hand_off",
        M,
        lambda s, a, d: handoffs.hand_off(
            s, actor=a, lead_id=d.qualified_lead, consultant_user_id=d.consultant_login
        ),
        ("handoff.create",),
    ),
    Write(
        "handoffs.accept_handoff",
        C,
        lambda s, a, d: handoffs.accept_handoff(s, actor=a, handoff_id=d.pending_handoff),
        ("handoff.accept",),
    ),
    Write(
        "handoffs.return_handoff",
        C,
        lambda s, a, d: handoffs.return_handoff(
            s, actor=a, handoff_id=d.pending_handoff, reason_code="not_ready"
        ),
        ("handoff.return",),
    ),
    Write(
        "handoffs.record_outcome",
        C,
        lambda s, a, d: handoffs.record_outcome(
            s, actor=a, handoff_id=d.pending_handoff, outcome="booked"
        ),
        ("handoff.outcome",),
        setup=_accepted,
    ),
    # members
    Write(
        "members.award_points",
        M,
        lambda s, a, d: members.award_points(
            s, actor=a, member_id=d.member, kind="event", occurred_on=DAY
        ),
        ("points.award",),
    ),
    Write(
        "members.redeem_reward",
        M,
        lambda s, a, d: members.redeem_reward(
            s, actor=a, member_id=_rich_member(s, d), reward_id=_cheap_reward(s).id
        ),
        ("points.redeem",),
    ),
    Write(
        "members.adjust_points",
        M,
        lambda s, a, d: members.adjust_points(
            s, actor=a, member_id=d.member, points=5, reason="audit"
        ),
        ("points.adjust",),
    ),
    Write(
        "members.convert_lead_to_member",
        M,
        lambda s, a, d: members.convert_lead_to_member(s, actor=a, lead_id=d.lead_not_member),
        ("member.convert_lead",),
    ),
    Write(
        "members.set_tiers",
        A,
        lambda s, a, d: members.set_tiers(s, actor=a, tiers=_tiers(s)),
        ("tiers.change",),  # action name checked loosely below: any audit row by the actor
    ),
    Write(
        "members.create_reward",
        M,
        lambda s, a, d: members.create_reward(s, actor=a, name="审计礼品", points_cost=10, stock=1),
        ("reward.create",),
    ),
    Write(
        "members.update_reward",
        M,
        lambda s, a, d: members.update_reward(
            s,
            actor=a,
            reward_id=_cheap_reward(s).id,
            version=_cheap_reward(s).version,
            name="改名礼品",
            points_cost=_cheap_reward(s).points_cost + 1,
        ),
        ("reward.update",),
    ),
    Write(
        "members.restock_reward",
        M,
        lambda s, a, d: members.restock_reward(s, actor=a, reward_id=_cheap_reward(s).id, add=3),
        ("reward.restock",),
    ),
    Write(
        "members.run_expiry",
        M,
        lambda s, a, d: members.run_expiry(s, actor=a, as_of=DAY),
        ("points.expire",),
        setup=_expiry_on,
    ),
    # campaigns
    Write(
        "campaigns.create_campaign",
        M,
        lambda s, a, d: campaigns.create_campaign(
            s,
            actor=a,
            data=CampaignCreate(code="SEC-A", name="A", type="lecture", starts_on=DAY, ends_on=DAY),
        ),
        ("campaign.create",),
    ),
    Write(
        "campaigns.update_campaign",
        M,
        lambda s, a, d: campaigns.update_campaign(
            s, actor=a, campaign_id=d.campaign, data=CampaignUpdate(pdca_check="审计")
        ),
        ("campaign.update",),
    ),
    Write(
        "campaigns.create_from_template",
        M,
        lambda s, a, d: campaigns.create_from_template(
            s, actor=a, template="lecture_series", starts_on=DAY
        ),
        ("campaign.template",),
    ),
    Write(
        "campaigns.add_task",
        M,
        lambda s, a, d: campaigns.add_task(s, actor=a, campaign_id=d.campaign, milestone="m"),
        ("campaign_task.create",),
    ),
    Write(
        "campaigns.update_task",
        M,
        lambda s, a, d: campaigns.update_task(
            s,
            actor=a,
            task_id=s.execute(select(func.max(CampaignTask.id))).scalar(),
            done=True,
        ),
        ("campaign_task.update",),
        setup=_new_task,
    ),
    Write(
        "campaigns.delete_task",
        M,
        lambda s, a, d: campaigns.delete_task(
            s, actor=a, task_id=s.execute(select(func.max(CampaignTask.id))).scalar()
        ),
        ("campaign_task.delete",),
        setup=_new_task,
    ),
    # content
    Write(
        "content.create_piece",
        M,
        lambda s, a, d: content.create_piece(s, actor=a, kind="script", title="Q", body="A"),
        ("content.create",),
    ),
    Write(
        "content.update_piece",
        M,
        lambda s, a, d: content.update_piece(s, actor=a, piece_id=d.briefcase, title="新标题"),
        ("content.update",),
    ),
    Write(
        "content.delete_piece",
        M,
        lambda s, a, d: content.delete_piece(
            s, actor=a, piece_id=s.execute(select(func.max(ContentPiece.id))).scalar()
        ),
        ("content.delete",),
    ),
    Write(
        "content.share_piece",
        S,
        lambda s, a, d: content.share_piece(s, actor=a, piece_id=d.briefcase, on=DAY),
        ("content.share",),
    ),
    # staff and cards
    Write(
        "staff.issue_cards",
        M,
        lambda s, a, d: staff.issue_cards(s, actor=a, staff_ids=[d.cardless_staff], issued_on=DAY),
        ("card.issue",),
    ),
    Write(
        "staff.mark_activated",
        M,
        lambda s, a, d: staff.mark_activated(
            s, actor=a, staff_ids=[_issued_not_activated(s, d)], activated_on=DAY
        ),
        ("card.activate",),
    ),
    Write(
        "staff.mark_profile_complete",
        M,
        lambda s, a, d: staff.mark_profile_complete(
            s, actor=a, staff_ids=[_activated_no_profile(s, d)], completed_on=DAY
        ),
        ("card.profile_complete",),
    ),
    Write(
        "staff.revoke_cards",
        M,
        lambda s, a, d: staff.revoke_cards(
            s, actor=a, staff_ids=[d.colleague], revoked_on=DAY, reason="审计"
        ),
        ("card.revoke",),
    ),
    Write(
        "staff.revoke_card",
        M,
        lambda s, a, d: staff.revoke_card(
            s, actor=a, person=s.get(Staff, d.colleague), revoked_on=DAY, reason="审计"
        ),
        ("card.revoke",),
    ),
    Write(
        "staff.add_staff",
        D,
        lambda s, a, d: staff.add_staff(
            s, actor=a, data=StaffCreate(staff_no="SEC-B", name="乙", department_id=d.nsk)
        ),
        ("staff.create",),
    ),
    Write(
        "staff.update_staff",
        D,
        lambda s, a, d: staff.update_staff(
            s,
            actor=a,
            staff_id=d.colleague,
            data=StaffUpdate(name="改名", department_id=d.nsk, title=None, phone=None),
        ),
        ("staff.update",),
    ),
    # offboarding
    Write(
        "offboarding.offboard_staff",
        D,
        lambda s, a, d: offboarding.offboard_staff(
            s,
            actor=a,
            staff_id=d.colleague,
            leaving_on=DAY,
            successor_staff_ids=[d.successor],
            reason="审计",
        ),
        ("staff.offboard", "card.revoke", "lead.reassign"),
    ),
    Write(
        "offboarding.reassign",
        M,
        lambda s, a, d: offboarding.reassign(
            s, actor=a, lead_ids=[d.colleague_lead], to_staff_id=d.successor, reason="审计"
        ),
        ("lead.reassign",),
    ),
    Write(
        "offboarding.onboard_staff",
        M,
        lambda s, a, d: offboarding.onboard_staff(
            s,
            actor=a,
            card_issued_on=DAY,
            data=StaffCreate(staff_no="SEC-C", name="丙", department_id=d.nsk),
        ),
        ("staff.create", "card.issue"),
    ),
    # the low-code admin
    Write(
        "table_admin.apply_edits",
        A,
        lambda s, a, d: matrix._no_cell_errors(
            table_admin.apply_edits(
                s, actor=a, table="department", changes={d.other_department: {"name": "改名"}}
            )
        ),
        ("table.edit",),
    ),
    Write(
        "table_admin.add_row",
        A,
        lambda s, a, d: table_admin.add_row(
            s, actor=a, table="department", values={"code": "SEC", "name": "审计科"}
        ),
        ("table.add",),
    ),
    Write(
        "table_admin.deactivate_or_delete",
        A,
        lambda s, a, d: table_admin.deactivate_or_delete(
            s, actor=a, table="department", pk=d.other_department
        ),
        ("table.deactivate",),
    ),
    Write(
        "settings_checks.change_settings",
        A,
        lambda s, a, d: settings_checks.change_settings(
            s, actor=a, values={"handoff_threshold": 61}
        ),
        ("setting.change",),
    ),
    Write(
        "settings.set_value",
        A,
        lambda s, a, d: settings.set_value(s, actor=a, key="handoff_threshold", value=62),
        ("setting.change",),
    ),
    # logins
    Write(
        "users.create_user",
        A,
        lambda s, a, d: users.create_user(
            s,
            actor=a,
            user_create=AppUserCreate(
                username="audit-new", role="marketer", password="long-enough-1"
            ),
        ),
        ("user.create",),
    ),
    Write(
        "users.reset_password",
        A,
        lambda s, a, d: users.reset_password(
            s, actor=a, user_id=d.staff_login, new_password="another-long-one"
        ),
        ("user.reset_password",),
    ),
    Write(
        "users.set_disabled",
        A,
        lambda s, a, d: users.set_disabled(s, actor=a, user_id=d.staff_login, disabled=True),
        ("user.disable",),
    ),
    # imports, commission, consent, exports
    Write(
        "importing.import_file",
        M,
        lambda s, a, d: importing.import_file(
            s, actor=a, kind="campaigns", content=CAMPAIGN_CSV, filename="campaigns.csv"
        ),
        ("import",),
    ),
    Write(
        "commission.publish_commission",
        A,
        lambda s, a, d: publish_commission(s, actor=a, month=d.month),
        ("commission.publish",),
    ),
    Write(
        "commission.add_commission_adjustment",
        A,
        lambda s, a, d: commission.add_commission_adjustment(
            s, actor=a, month=d.month, staff_id=d.successor, amount=Decimal("-5"), note="审计"
        ),
        ("commission.adjust",),
        setup=lambda s, d: publish_commission(s, actor=SYSTEM, month=d.month),
    ),
    Write(
        "consent.record_consent",
        S,
        lambda s, a, d: consent.record_consent(
            s,
            actor=a,
            subject_type="lead",
            subject_id=d.handed_lead,
            channel="phone",
            granted=False,
            recorded_on=DAY,
        ),
        ("consent.withdraw",),
    ),
    Write(
        "audit_log.record_export",
        E,
        lambda s, a, d: audit_log.record_export(s, actor=a, what="lead board", rows=50),
        ("export",),
    ),
    # credit: registration, claims, transfers, merges, disputes (SPEC §8)
    Write(
        "ownership.register_lead",
        S,
        lambda s, a, d: ownership.register_lead(
            s,
            actor=a,
            data=LeadCreate(
                lead_ref="AUDIT-NEW-1", name="审计", owner_staff_id=a.staff_id, created_on=DAY
            ),
        ),
        ("lead.create",),
    ),
    Write(
        # A person the registrant already holds: the new ref becomes an alias of their lead
        # (it used to be written without an audit row).
        "ownership.register_lead",
        S,
        lambda s, a, d: ownership.register_lead(
            s,
            actor=a,
            data=LeadCreate(
                lead_ref="AUDIT-MINE-1",
                name="审计",
                phone=_own_phone(s, a),
                owner_staff_id=a.staff_id,
                created_on=DAY,
            ),
        ),
        ("lead.alias",),
    ),
    Write(
        "ownership.claim",
        M,
        lambda s, a, d: ownership.claim(
            s, actor=a, lead_id=d.colleague_lead, to_staff_id=d.successor
        ),
        ("lead.claim",),
    ),
    Write(
        "ownership.transfer",
        M,
        lambda s, a, d: ownership.transfer(
            s,
            actor=a,
            lead_id=d.colleague_lead,
            to_staff_id=d.successor,
            on=settings.hospital_today(s),
            reason="audit",
        ),
        ("lead.transfer",),
    ),
    Write(
        "ownership.apply_transfers",
        M,
        lambda s, a, d: ownership.apply_transfers(
            s,
            actor=a,
            rows=[
                ownership.TransferRow(
                    0, d.colleague_lead, d.successor, settings.hospital_today(s), "audit"
                )
            ],
        ),
        ("lead.transfer",),
    ),
    Write(
        "ownership.merge_leads",
        M,
        lambda s, a, d: ownership.merge_leads(
            s, actor=a, keep_id=d.colleague_lead, merge_id=d.lead_not_member, reason="audit"
        ),
        ("lead.merge",),
    ),
    Write(
        "ownership.raise_dispute",
        S,
        lambda s, a, d: ownership.raise_dispute(
            s, actor=a, touch_id=_latest_touch(s, d), note="mine"
        ),
        ("dispute.raise",),
        setup=_touch_by_successor,
    ),
    Write(
        "ownership.rule_dispute",
        D,
        lambda s, a, d: ownership.rule_dispute(
            s, actor=a, dispute_id=_latest_open_dispute(s), ruling="keep"
        ),
        ("dispute.rule",),
        setup=_open_dispute,
    ),
    # follow-ups and referrals (SPEC §9, §10)
    Write(
        "followups.record_followup",
        S,
        lambda s, a, d: followups.record_followup(
            s, actor=a, lead_id=d.handed_lead, kind="call", occurred_on=DAY
        ),
        ("lead.followup",),
    ),
    Write(
        "followups.set_cadence",
        A,
        lambda s, a, d: followups.set_cadence(s, actor=a, days=_longer_cadence(s)),
        ("setting.change",),
    ),
    Write(
        "referrals.set_member_referrer",
        A,
        lambda s, a, d: referrals.set_member_referrer(
            s, actor=a, member_id=d.member, referrer_no=_fresh_referrer(s, d.member)
        ),
        ("member.referrer",),
    ),
    Write(
        "referrals.pay_referrals",
        A,
        lambda s, a, d: referrals.pay_referrals(s, actor=a),
        ("points.referral",),
        setup=_referral_due,
    ),
]

# Writes that take no acting user (internal helpers other services call, or the sign-in's
# own bookkeeping) and what records them.
HELPERS = {
    # A registration or import that collided with an existing lead names its referrer
    # (SPEC §8/§10), audited by them as lead.referrer, in the caller's transaction.
    "referrals.attach_referrer": "lead.referrer (by ownership.register_lead)",
    "referrals.apply_collided_referrers": "lead.referrer (by the leads import)",
    "leads.rescore_leads": "system stage_change rows of automatic promotion (import/board audit)",
    "users.record_login_failure": "login.failure / login.locked",
    "users.start_session": "login.success",
    "users.end_sessions": "by the caller (user.reset_password, user.disable, staff.offboard)",
    "users.touch_session": "a session heartbeat, not a change",
    "settings.ensure_defaults": "first start only",
    "staff.record_activity": "NOT AUDITED and takes no actor; unused (reported)",
    # Takes an actor but no session: import_file's checks and write (audited 'import'), in
    # sessions of its own; its audit row is checked in tests/core/test_safety_import.py.
    "importing.run_import": "import (as importing.import_file)",
    # The write steps of import_file and run_import (core.importing.writer), audited 'import'
    # by them.
    "importing.write_checked": "import (the write step of importing.import_file)",
    "importing.write_in_chunks": "import (run_import's write of a large file on SQLite)",
    # Building blocks of the board's audited writes (move_lead, bulk_*): a version bump is
    # audited by the write that calls it.
    "leads.bump_version": "by the calling write (board.move, board.bulk_*)",
    # Building blocks of the credit writes (claim, transfer, register_lead, merge_leads,
    # apply_transfers), each audited by the write that calls it.
    "ownership.set_owner": "by the calling write (lead.claim, lead.transfer)",
    "ownership.record_owner_change": "ownership history; by the calling write (lead.*)",
    "ownership.audit_owner_change": "writes the calling write's audit row (lead.claim/transfer)",
    "ownership.apply_import": "by importing.import_file (import), and lead.touch / lead.claim / "
    "lead.alias per colliding row",
    # No acting user: bulk loaders' bookkeeping (the importer's `leads` kind, the demo).
    "ownership.open_initial_periods": "the `created` periods of new leads (import, demo)",
    "ownership.backfill": "person keys and `created` periods after a bulk load (the demo)",
}


def _new_audit_rows(session: Session, before: int) -> list[tuple[str, str, str | None]]:
    """(action, username, entity) of the audit rows added after id `before`."""
    session.flush()
    return [
        tuple(row)
        for row in session.execute(
            select(AuditLog.action, AuditLog.username, AuditLog.entity)
            .where(AuditLog.id > before)
            .order_by(AuditLog.id)
        )
    ]


@pytest.mark.parametrize("write", WRITES, ids=[w.name for w in WRITES])
def test_every_write_leaves_its_audit_row(engine, demo, write):
    """The write is made by a role allowed to make it; it adds audit rows in its own
    transaction, with its action, under the acting user's name."""
    actor = demo.actors[write.role]
    with Session(engine, expire_on_commit=False) as session:
        try:
            if write.setup is not None:
                write.setup(session, demo)
                session.flush()
            before = session.execute(select(func.coalesce(func.max(AuditLog.id), 0))).scalar()
            write.call(session, actor, demo)
            added = _new_audit_rows(session, before)
        finally:
            session.rollback()
    assert added, f"{write.name} wrote no audit row"
    mine = [row for row in added if row[1] == actor.username]
    assert mine, f"{write.name}: audit rows not attributed to {actor.username}: {added}"
    actions = {action for action, _, _ in mine}
    missing = set(write.actions) - actions
    assert not missing, f"{write.name}: missing {missing}; got {sorted(actions)}"


def test_a_move_is_recorded_in_the_stage_history_too(engine, demo):
    """The lead board's moves and automatic promotions are in stage_change (who, when,
    from, to, why) besides the audit log."""
    with Session(engine) as session:
        try:
            before = session.execute(select(func.count(StageChange.id))).scalar()
            leads.move_lead(
                session,
                actor=demo.actors[M],
                lead_id=demo.handed_lead,
                to_stage=matrix._next_stage(demo),
                expected_version=_version(session, demo.handed_lead),
                reason="audit",
            )
            session.flush()
            rows = session.execute(
                select(StageChange).where(StageChange.lead_id == demo.handed_lead)
                .order_by(StageChange.id.desc())
            ).scalars().first()  # fmt: skip
            after = session.execute(select(func.count(StageChange.id))).scalar()
            assert after == before + 1
            assert (rows.from_stage, rows.to_stage, rows.reason) == (
                demo.handed_stage,
                matrix._next_stage(demo),
                "audit",
            )
            assert rows.changed_by_user_id == demo.actors[M].user_id and not rows.is_system
        finally:
            session.rollback()


def test_a_sign_in_its_failures_and_a_lockout_are_audited(engine):
    with Session(engine) as session:
        try:
            before = session.execute(select(func.coalesce(func.max(AuditLog.id), 0))).scalar()
            for _ in range(users.MAX_FAILED_LOGINS):
                users.record_login_failure(session, username="marketer")
            users.record_login_failure(session, username="nobody-here")
            users.start_session(session, user=users.get_by_username(session, "executive"))
            actions = [action for action, _, _ in _new_audit_rows(session, before)]
        finally:
            session.rollback()
    assert actions.count("login.failure") == users.MAX_FAILED_LOGINS + 1
    assert actions.count("login.locked") == 1 and actions.count("login.success") == 1


SERVICE_MODULES = {
    "leads": leads,
    "handoffs": handoffs,
    "members": members,
    "campaigns": campaigns,
    "content": content,
    "staff": staff,
    "offboarding": offboarding,
    "table_admin": table_admin,
    "settings_checks": settings_checks,
    "audit_log": audit_log,
    "settings": settings,
    "users": users,
    "commission": commission,
    "consent": consent,
    "metrics": metrics,
    "importing": importing,
    "landing": landing,
    "ownership": ownership,
    "followups": followups,
    "referrals": referrals,
    "benchmark": benchmark,
}
# Public functions taking an acting user that only read (or preview without writing).
READS = {
    "leads": "board_columns lead_detail board_options stage_history stage_conversion "
    "stage_durations super_trust_sources handoff_frame lead_handoffs load_for_change "
    # and the access checks, which write nothing
    "check_can_record check_visible scope_conditions sees_every_phone shows_full_phone",
    "handoffs": "consultants handoff_queue lead_handoffs",
    "members": "member_by_no lead_by_ref list_members member_detail care_lists "
    "requalification_review tier_change_preview list_rewards redemption_history chart_months "
    "tier_counts_by_month points_by_month top_member_revenue_share preview_expiry "
    "require_read require_write",  # and the access checks, which write nothing
    "campaigns": "get_campaign list_campaigns campaign_choices owner_choices staff_choices "
    "list_tasks overdue_tasks calendar_items channel_overlaps channel_weeks campaign_results "
    "require_read require_write",
    "content": "can_read list_pieces search_scripts script_conditions library_departments "
    "channel_choices get_piece shares_by",
    "staff": "departments staff_titles staff_choices staff_roster team_table follow_up_list "
    "card_cohorts usage_heatmap leavers usage_by_person card_action_candidates",
    "offboarding": "preview_offboarding preview_reassign owned_records",
    "table_admin": "list_tables table_spec fk_choices fetch_rows export_rows references_to "
    "removal_mode",
    "settings_checks": "scoring_preview active_staff_preview commission_preview",
    "audit_log": "audit_trail export_trail trail_choices",
    "settings": "",
    "users": "list_users",
    "commission": "commission_rules commission_months sheet_status commission_adjustments "
    "commission_totals publishable provisional_commission published_history",
    "consent": "consent_status outreach_list",
    "metrics": "card_funnel leads_by_stage month_kpis kpi_trend department_table "
    "department_comparison leaderboard revenue_by_member lead_score member_status "
    "member_table commission_sheet commission_table stage_funnel_by_department "
    "computed_commission_lines check_lead_visible return_trend returns_by_department "
    "provisional_commission_lines revenue_by_patient",
    "landing": "landing_figures",
    "importing": "check",  # a file's rows checked (core.importing.api.check), nothing written
    "ownership": "pool lapsing_soon lead_credit touches disputes duplicate_candidates "
    "malformed_phones merge_preview sees_holder",
    "followups": "my_day team_by_person on_time_by_week lead_followups cadence_change_preview "
    "check_can_follow_up",  # and the access check, which writes nothing
    "referrals": "referral_tree referred_count referral_leaderboard patients_brought recall_list "
    "member_referrer brought_people",
    "benchmark": "department_benchmark",
}


def _defined_functions(module):
    """(name, function) of the public functions `module` defines; for a package (e.g.
    core.services.members), those every module of the package defines."""
    modules = [module]
    if hasattr(module, "__path__"):
        modules += [
            importlib.import_module(f"{module.__name__}.{info.name}")
            for info in pkgutil.iter_modules(module.__path__)
        ]
    for one in modules:
        for function_name, function in inspect.getmembers(one, inspect.isfunction):
            if function.__module__ == one.__name__ and not function_name.startswith("_"):
                yield function_name, function


def test_every_service_function_with_an_acting_user_is_classified():
    """A new public service function that takes `actor` must be added here, as a read or as
    a write with its audit check; writes without an actor are listed in HELPERS."""
    written = {write.name for write in WRITES}
    unknown = []
    for name, module in SERVICE_MODULES.items():
        reads = set(READS[name].split())
        for function_name, function in _defined_functions(module):
            qualified = f"{name}.{function_name}"
            takes_actor = "actor" in inspect.signature(function).parameters
            if not takes_actor:
                continue
            if qualified not in written | set(HELPERS) and function_name not in reads:
                unknown.append(qualified)
    assert unknown == []
    for helper in HELPERS:
        module, function_name = helper.split(".")
        defined = dict(_defined_functions(SERVICE_MODULES[module]))
        assert function_name in defined, helper
