"""Staff leaving and joining (离职变更归属): what moves, what stays, who may do it."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from core import metrics
from core.db import write_session
from core.domain import Role
from core.models import AppUser, AuditLog, Handoff, Lead, Member, Order, Staff, StaffCreate
from core.permissions import PermissionDenied
from core.services import handoffs as handoff_service
from core.services import offboarding
from core.services import settings as settings_service
from core.services import staff as staff_service
from core.services.settings import metric_rules
from core.services.staff import StaffError
from tests.factories import (
    actor_for,
    make_actor,
    make_department,
    make_lead,
    make_member,
    make_order,
    make_points,
    make_staff,
    make_user,
)

LEAVING_ON = dt.date(2019, 8, 15)
REASON = "个人原因离职"


@dataclass
class Team:
    ward: object
    other: object
    leaver: Staff
    first: Staff  # successor with a login
    second: Staff  # successor without a login
    stranger: Staff  # in another department
    leads: list[Lead]
    members: list[Member]
    leaver_login: AppUser
    first_login: AppUser
    consultant: AppUser
    handoff: Handoff


def _card(day: dt.date) -> dict:
    return {"card_issued_on": day, "card_activated_on": day, "profile_completed_on": day}


@pytest.fixture
def team(session) -> Team:
    ward = make_department(session, code="NS3", name="内三科")
    other = make_department(session, code="OB", name="妇产科")
    leaver = make_staff(session, department=ward, name="离职者", **_card(dt.date(2019, 3, 1)))
    first = make_staff(session, department=ward, name="接替一", **_card(dt.date(2019, 3, 1)))
    second = make_staff(session, department=ward, name="接替二", **_card(dt.date(2019, 3, 1)))
    stranger = make_staff(session, department=other, name="外科室")
    leads = [
        make_lead(session, owner=leaver, stage=stage, created_on=day)
        for stage, day in (
            ("distrust", dt.date(2019, 5, 2)),
            ("distrust", dt.date(2019, 6, 3)),
            ("weak_trust", dt.date(2019, 6, 4)),
            ("strong_trust", dt.date(2019, 6, 5)),
        )
    ]
    members = [make_member(session, owner_staff_id=leaver.id) for _ in range(2)]
    make_points(session, member=members[1], kind="spend", points=1_500)  # Silver (tier 2)
    leaver_login = make_user(session, role=Role.staff, staff=leaver)
    first_login = make_user(session, role=Role.staff, staff=first)
    consultant = make_user(session, role=Role.consultant)
    handoff = Handoff(
        lead_id=leads[3].id,
        consultant_user_id=consultant.id,
        handed_by_user_id=leaver_login.id,
        status="accepted",
    )
    session.add(handoff)
    # Orders the leaver earned in June (a valid appointment, a valid mall order).
    make_order(session, staff=leaver, kind="appointment", created_on=dt.date(2019, 6, 10))
    make_order(session, staff=leaver, kind="mall", amount="800", created_on=dt.date(2019, 6, 12))
    make_order(session, staff=first, kind="appointment", created_on=dt.date(2019, 6, 11))
    session.commit()
    return Team(
        ward,
        other,
        leaver,
        first,
        second,
        stranger,
        leads,
        members,
        leaver_login,
        first_login,
        consultant,
        handoff,
    )


def _owned(session, model, staff: Staff) -> int:
    column = model.owner_staff_id
    return session.exec(select(func.count()).select_from(model).where(column == staff.id)).one()[0]


def _offboard(session, actor, team: Team, **kwargs):
    values = dict(
        staff_id=team.leaver.id,
        leaving_on=LEAVING_ON,
        successor_staff_ids=[team.first.id],
        strategy="single",
        reason=REASON,
    )
    values.update(kwargs)
    return offboarding.offboard_staff(session, actor=actor, **values)


def test_after_offboarding_the_leaver_owns_no_lead_or_member(session, team):
    """A department head offboards a nurse: every lead and member is with the successor, the
    card is revoked on the leaving day, she is marked as left and her login is disabled."""
    head = make_actor(session, Role.dept_head, department=team.ward)
    _offboard(session, head, team)
    session.commit()
    assert _owned(session, Lead, team.leaver) == 0
    assert _owned(session, Member, team.leaver) == 0
    assert _owned(session, Lead, team.first) == 4
    assert _owned(session, Member, team.first) == 2
    session.refresh(team.leaver)
    assert team.leaver.card_revoked_on == LEAVING_ON
    assert team.leaver.card_revoke_reason == REASON
    assert team.leaver.left_on == LEAVING_ON and team.leaver.active is False
    session.refresh(team.leaver_login)
    assert team.leaver_login.disabled is True
    session.refresh(team.handoff)
    assert team.handoff.handed_by_user_id == team.first_login.id
    assert staff_service.card_status(team.leaver, LEAVING_ON) == "revoked"
    # Leads moved in the same session show their new owner at once.
    assert {lead.owner_staff_id for lead in team.leads} == {team.first.id}


def test_preview_shows_exactly_what_will_move_and_changes_nothing(session, team):
    """Before confirming, the head sees the counts per stage and per tier and the hand-off;
    the confirmed offboarding carries out that very plan."""
    admin = make_actor(session, Role.admin)
    plan = offboarding.preview_offboarding(
        session,
        actor=admin,
        staff_id=team.leaver.id,
        successor_staff_ids=[team.first.id],
        leaving_on=LEAVING_ON,
    )
    assert plan.leads_by_stage() == {
        "distrust": 2,
        "weak_trust": 1,
        "strong_trust": 1,
        "super_trust": 0,
    }
    assert plan.members_by_tier() == {1: 1, 2: 1}
    assert [move.ref for move in plan.handoffs] == [team.leads[3].lead_ref]
    summary = plan.summary()
    assert summary[["staff_no", "leads", "members", "handoffs"]].values.tolist() == [
        [team.first.staff_no, 4, 2, 1]
    ]
    session.expire_all()
    assert _owned(session, Lead, team.leaver) == 4
    assert session.get(Staff, team.leaver.id).left_on is None
    done = _offboard(session, admin, team, expected_token=plan.token)
    assert done.table().equals(plan.table())


def test_a_stale_preview_is_refused_and_nothing_changes(session, team):
    """If a lead arrives between preview and confirmation, the confirmation is refused."""
    admin = make_actor(session, Role.admin)
    plan = offboarding.preview_offboarding(
        session, actor=admin, staff_id=team.leaver.id, successor_staff_ids=[team.first.id]
    )
    make_lead(session, owner=team.leaver)
    with pytest.raises(StaffError) as refused:
        _offboard(session, admin, team, expected_token=plan.token)
    assert refused.value.key == "offboard.err.changed"
    assert team.leaver.left_on is None and team.leaver.card_revoked_on is None
    assert _owned(session, Lead, team.leaver) == 5


def test_every_reassignment_is_audited_with_the_reason(session, team):
    """Each moved lead, member and hand-off has its own audit row naming the old and new
    owner and the reason; the lead's timeline shows the change of owner."""
    from core.services.leads.detail import _timeline

    admin = make_actor(session, Role.admin)
    _offboard(session, admin, team)
    rows = session.exec(select(AuditLog).order_by(AuditLog.id)).scalars().all()
    by_action: dict[str, list[AuditLog]] = {}
    for row in rows:
        by_action.setdefault(row.action, []).append(row)
    leads = by_action["lead.reassign"]
    assert sorted(int(r.entity_id) for r in leads) == sorted(lead.id for lead in team.leads)
    detail = json.loads(leads[0].detail)
    assert detail["reason"] == REASON
    assert detail["from_staff_no"] == team.leaver.staff_no
    assert detail["to_staff_no"] == team.first.staff_no
    assert detail["leaving_staff_no"] == team.leaver.staff_no
    members = by_action["member.reassign"]
    assert sorted(int(r.entity_id) for r in members) == sorted(m.id for m in team.members)
    assert [int(r.entity_id) for r in by_action["handoff.reassign"]] == [team.handoff.id]
    assert len(by_action["staff.offboard"]) == 1
    assert len(by_action["card.revoke"]) == 1
    assert len(by_action["user.disable"]) == 1
    timeline = _timeline(session, session.get(Lead, team.leads[0].id))
    moves = timeline[timeline["event"] == "lead_reassign"]
    assert moves[["from", "to"]].values.tolist() == [["离职者", "接替一"]]


def test_by_workload_gives_each_record_to_whoever_owns_fewest(session, team):
    """Shared by workload: each lead in turn goes to whoever owns the fewest at that moment,
    so the successor with no leads catches up first; members are spread the same way."""
    for _ in range(3):
        make_lead(session, owner=team.first)
    admin = make_actor(session, Role.admin)
    plan = _offboard(
        session,
        admin,
        team,
        successor_staff_ids=[team.first.id, team.second.id],
        strategy="by_workload",
    )
    # 7 leads in all: the second takes 3 (level at 3 each), then the first, by staff no.
    assert _owned(session, Lead, team.first) == 4
    assert _owned(session, Lead, team.second) == 3
    assert _owned(session, Member, team.first) == 1
    assert _owned(session, Member, team.second) == 1
    # The hottest lead went to the second successor, who has no login: its hand-off stays
    # under the leaver's name (the preview says so) rather than losing who handed it over.
    assert {m.to_staff_id for m in plan.leads if m.id == team.leads[3].id} == {team.second.id}
    assert plan.handoffs == [] and plan.handoffs_kept == [team.handoff.id]
    session.refresh(team.handoff)
    assert team.handoff.handed_by_user_id == team.leaver_login.id


def test_one_successor_means_one(session, team):
    admin = make_actor(session, Role.admin)
    with pytest.raises(StaffError):
        _offboard(session, admin, team, successor_staff_ids=[team.first.id, team.second.id])
    with pytest.raises(StaffError):
        _offboard(session, admin, team, successor_staff_ids=[team.leaver.id])
    with pytest.raises(StaffError):
        _offboard(session, admin, team, reason="  ")


def test_previous_months_figures_and_commission_stay_as_they_were(session, team):
    """June's figures and June's commission sheet read the same after the nurse leaves in
    August: her orders stay credited to her (orders.staff_id is never rewritten)."""
    admin = make_actor(session, Role.admin)
    months = ["2019-05", "2019-06", "2019-07"]

    def figures():
        return {
            month: (
                {
                    k: v
                    for k, v in metrics.month_kpis(
                        session, rules=metric_rules(session), actor=admin, month=month
                    ).items()
                },
                metrics.commission_sheet(
                    session, rules=metric_rules(session), actor=admin, month=month
                ),
            )
            for month in months
        }

    orders_before = session.exec(select(Order.order_ref, Order.staff_id)).all()
    before = figures()
    assert any(line["staff_no"] == team.leaver.staff_no for line in before["2019-06"][1])
    _offboard(session, admin, team)
    session.commit()
    assert figures() == before
    assert session.exec(select(Order.order_ref, Order.staff_id)).all() == orders_before


def test_previous_months_active_staff_stay_as_they_were(session, team):
    """June's active-staff count (≥ threshold leads) is unchanged when the leaver's leads go
    to a successor who was already active."""
    admin = make_actor(session, Role.admin)
    settings_service.set_value(session, actor=admin, key="active_staff_lead_threshold", value=3)
    for _ in range(3):
        make_lead(session, owner=team.first, created_on=dt.date(2019, 5, 1))
    before = metrics.card_funnel(
        session, rules=metric_rules(session), actor=admin, month="2019-06"
    )["staff_active"]
    assert before == 2
    _offboard(session, admin, team)
    assert (
        metrics.card_funnel(session, rules=metric_rules(session), actor=admin, month="2019-06")[
            "staff_active"
        ]
        == before
    )


def test_orders_booked_after_the_transfer_credit_the_successor(session, team):
    """The consultant records a visit on a lead handed off before the nurse left: the new
    appointment order is credited to the successor, her earlier orders stay hers."""
    admin = make_actor(session, Role.admin)
    _offboard(session, admin, team)
    handoff_service.record_outcome(
        session, actor=actor_for(team.consultant), handoff_id=team.handoff.id, outcome="visited"
    )
    booked = session.exec(select(Order).where(Order.lead_id == team.leads[3].id)).scalars().one()
    assert booked.staff_id == team.first.id
    assert booked.status == "valid"
    earlier = session.exec(select(Order.staff_id).where(Order.kind == "mall")).scalars().all()
    assert earlier == [team.leaver.id]


def test_department_head_cannot_offboard_or_reassign_outside_their_department(session, team):
    head = make_actor(session, Role.dept_head, department=team.ward)
    other_head = make_actor(session, Role.dept_head, department=team.other)
    with pytest.raises(PermissionDenied):
        _offboard(session, other_head, team, successor_staff_ids=[team.stranger.id])
    with pytest.raises(PermissionDenied):  # a successor from another department
        _offboard(session, head, team, successor_staff_ids=[team.stranger.id])
    with pytest.raises(PermissionDenied):
        offboarding.preview_offboarding(
            session,
            actor=other_head,
            staff_id=team.leaver.id,
            successor_staff_ids=[team.stranger.id],
        )
    with pytest.raises(PermissionDenied):  # the other head's leads are out of reach
        offboarding.reassign(
            session,
            actor=other_head,
            lead_ids=[team.leads[0].id],
            to_staff_id=team.stranger.id,
            reason=REASON,
        )
    with pytest.raises(PermissionDenied):  # giving own leads to another department
        offboarding.reassign(
            session,
            actor=head,
            lead_ids=[team.leads[0].id],
            to_staff_id=team.stranger.id,
            reason=REASON,
        )
    assert _owned(session, Lead, team.leaver) == 4
    assert team.leaver.left_on is None


@pytest.mark.parametrize("role", [Role.marketer, Role.executive, Role.staff, Role.consultant])
def test_only_admins_and_heads_offboard(session, team, role):
    actor = make_actor(session, role, staff=team.second if role == Role.staff else None)
    with pytest.raises(PermissionDenied):
        _offboard(session, actor, team)


def test_a_head_does_not_offboard_themself(session, team):
    head_login = make_user(session, role=Role.dept_head, staff=team.leaver, department=team.ward)
    with pytest.raises(PermissionDenied):
        _offboard(session, actor_for(head_login), team)


def test_reassigning_some_records_without_anyone_leaving(session, team):
    """A head gives two of a nurse's leads and one member to a colleague: preview, confirm,
    one audit row each; the rest stays with the nurse, who keeps working."""
    head = make_actor(session, Role.dept_head, department=team.ward)
    picked = [team.leads[0].id, team.leads[2].id]
    plan = offboarding.preview_reassign(
        session,
        actor=head,
        lead_ids=picked,
        member_ids=[team.members[1].id],
        to_staff_id=team.second.id,
    )
    assert plan.leads_by_stage()["weak_trust"] == 1 and len(plan.members) == 1
    assert plan.members_by_tier() == {2: 1}
    offboarding.reassign(
        session,
        actor=head,
        lead_ids=picked,
        member_ids=[team.members[1].id],
        to_staff_id=team.second.id,
        reason="工作量调整",
        expected_token=plan.token,
    )
    assert _owned(session, Lead, team.second) == 2
    assert _owned(session, Lead, team.leaver) == 2
    assert _owned(session, Member, team.second) == 1
    assert team.leaver.left_on is None
    rows = session.exec(select(AuditLog).where(AuditLog.action == "lead.reassign")).scalars()
    details = [json.loads(row.detail) for row in rows]
    assert sorted(d["lead_ref"] for d in details) == sorted(team.leads[i].lead_ref for i in (0, 2))
    assert {d["reason"] for d in details} == {"工作量调整"} and {d["via"] for d in details} == {
        "reassign"
    }
    records = offboarding.owned_records(session, actor=head, staff_id=team.second.id)
    assert sorted(records["kind"]) == ["lead", "lead", "member"]


def test_reassigning_to_the_current_owner_moves_nothing(session, team):
    admin = make_actor(session, Role.admin)
    plan = offboarding.preview_reassign(
        session, actor=admin, lead_ids=[team.leads[0].id], to_staff_id=team.leaver.id
    )
    assert plan.moves == []


# --- Joining ------------------------------------------------------------------------------


def test_onboarding_adds_the_person_card_and_login_in_one_step(session, team):
    """An admin onboards a nurse with a card issued today and a login: she can sign in, and
    she stands in her head's follow-up list until her card is activated."""
    admin = make_actor(session, Role.admin)
    head = make_actor(session, Role.dept_head, department=team.ward)
    today = settings_service.hospital_today(session)
    joined = offboarding.onboard_staff(
        session,
        actor=admin,
        card_issued_on=today,
        username="Nurse.New",
        password="a-long-enough-secret",
        data=StaffCreate(staff_no="N2019", name="新护士", department_id=team.ward.id, title="护士"),
    )
    assert joined.staff.card_issued_on == today and joined.staff.title == "护士"
    assert joined.login.username == "nurse.new" and joined.login.role == "staff"
    assert joined.login.staff_id == joined.staff.id
    assert joined.login.department_id == team.ward.id

    def waiting():
        follow = staff_service.follow_up_list(
            session, actor=head, as_of=today, include_not_due=True
        )
        return follow[follow["reason"] == "not_activated"]["staff_no"].tolist()

    assert waiting() == ["N2019"]
    staff_service.mark_activated(
        session, actor=admin, staff_ids=[joined.staff.id], activated_on=today
    )
    assert waiting() == []


def test_onboarding_is_all_or_nothing(engine, session, team):
    """A weak password stops the whole onboarding: no staff record, no card, no audit row."""
    admin = make_actor(session, Role.admin)
    session.commit()
    with pytest.raises(StaffError) as refused, write_session(engine) as other:
        offboarding.onboard_staff(
            other,
            actor=admin,
            card_issued_on=dt.date(2019, 8, 1),
            username="weak",
            password="123",
            data=StaffCreate(staff_no="N2020", name="弱密码", department_id=team.ward.id),
        )
    assert refused.value.key == "offboard.err.login"
    session.expire_all()
    assert session.exec(select(Staff).where(Staff.staff_no == "N2020")).first() is None
    assert (
        session.exec(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == "staff.create")
        ).one()[0]
        == 0
    )


def test_department_head_onboards_into_their_own_department_without_a_login(session, team):
    head = make_actor(session, Role.dept_head, department=team.ward)
    joined = offboarding.onboard_staff(
        session,
        actor=head,
        card_issued_on=dt.date(2019, 8, 1),
        data=StaffCreate(staff_no="N2021", name="新医生", department_id=team.ward.id),
    )
    assert joined.login is None and joined.staff.card_issued_on == dt.date(2019, 8, 1)
    with pytest.raises(StaffError):
        offboarding.onboard_staff(
            session,
            actor=head,
            username="newdoc",
            password="a-long-enough-secret",
            data=StaffCreate(staff_no="N2022", name="要账号", department_id=team.ward.id),
        )
    with pytest.raises(PermissionDenied):
        offboarding.onboard_staff(
            session,
            actor=head,
            data=StaffCreate(staff_no="N2023", name="外科室", department_id=team.other.id),
        )


# --- The demo hospital --------------------------------------------------------------------


def test_offboarding_the_demo_nurse_with_774_leads_keeps_earlier_months(demo_engine):
    """On the demo hospital, the obstetrics nurse with 774 leads leaves in September and her
    leads are spread over her ward by workload: nothing stays with her, and every month's
    orders, leads, card figures and commission sheet from January to August read the same."""
    from sqlmodel import Session

    with Session(demo_engine, expire_on_commit=False) as session:
        admin = actor_for(
            session.exec(select(AppUser).where(AppUser.username == "admin")).scalars().one()
        )
        nurse_id, count = session.exec(
            select(Lead.owner_staff_id, func.count())
            .group_by(Lead.owner_staff_id)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
        assert count == 774
        nurse = session.get(Staff, nurse_id)
        ward = staff_service.staff_choices(session, actor=admin, department_id=nurse.department_id)
        successors = [i for i in ward["id"] if i != nurse.id][:3]
        months = metrics.months_between("2019-01", "2019-08")

        def figures():
            out = {}
            for month in months:
                kpis = metrics.month_kpis(
                    session, rules=metric_rules(session), actor=admin, month=month
                )
                out[month] = (
                    kpis,
                    metrics.commission_sheet(
                        session, rules=metric_rules(session), actor=admin, month=month
                    ),
                )
            return out

        before = figures()
        offboarding.offboard_staff(
            session,
            actor=admin,
            staff_id=nurse.id,
            leaving_on=dt.date(2019, 9, 2),
            successor_staff_ids=successors,
            strategy="by_workload",
            reason=REASON,
        )
        session.commit()
        assert _owned(session, Lead, nurse) == 0 and _owned(session, Member, nurse) == 0
        assert figures() == before
