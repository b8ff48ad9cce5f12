"""Staff and cards: the roster, the card pipeline, the follow-up list and the card actions."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from core import metrics
from core.domain import Role
from core.models import AuditLog, StaffActivity, StaffCreate, StaffUpdate
from core.permissions import PermissionDenied
from core.services import settings as settings_service
from core.services import staff as staff_service
from core.services.settings import metric_rules
from core.services.staff import StaffError
from tests.factories import make_actor, make_department, make_lead, make_order, make_staff

JUNE = "2019-06"
JUNE_END = dt.date(2019, 6, 30)


def _audit(session, action: str) -> list[AuditLog]:
    rows = session.exec(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id))
    return list(rows.scalars().all())


def _activity(session, person, day: dt.date) -> None:
    session.add(StaffActivity(staff_id=person.id, date=day, kind="login"))
    session.flush()


@pytest.fixture
def hospital(session):
    """Two departments with staff at every step of the card pipeline as of end of June."""
    ward = make_department(session, code="NS3", name="内三科")
    obstetrics = make_department(session, code="OB", name="妇产科")
    people = {
        "none": make_staff(session, department=ward, name="无卡", title="护士"),
        "issued": make_staff(
            session, department=ward, name="已开通", card_issued_on=dt.date(2019, 6, 1)
        ),
        "activated": make_staff(
            session,
            department=ward,
            name="已激活",
            title="医师",
            card_issued_on=dt.date(2019, 5, 1),
            card_activated_on=dt.date(2019, 5, 3),
        ),
        "complete": make_staff(
            session,
            department=obstetrics,
            name="已完善",
            title="护士",
            card_issued_on=dt.date(2019, 4, 1),
            card_activated_on=dt.date(2019, 4, 2),
            profile_completed_on=dt.date(2019, 4, 5),
        ),
        "revoked": make_staff(
            session,
            department=obstetrics,
            name="已停用",
            card_issued_on=dt.date(2019, 3, 1),
            card_activated_on=dt.date(2019, 3, 2),
            card_revoked_on=dt.date(2019, 6, 10),
        ),
        # Activated only after June: still "issued" as of June's end.
        "late": make_staff(
            session,
            department=obstetrics,
            name="七月激活",
            card_issued_on=dt.date(2019, 6, 20),
            card_activated_on=dt.date(2019, 7, 2),
        ),
    }
    _activity(session, people["complete"], dt.date(2019, 6, 3))
    _activity(session, people["activated"], dt.date(2019, 5, 30))
    session.commit()
    return {"ward": ward, "obstetrics": obstetrics, **people}


def test_roster_shows_each_persons_card_step_as_of_the_months_end(session, hospital):
    """The marketing office opens the roster for June: each person's card step is the one
    they had reached by 30 June (a card activated in July still shows as issued)."""
    admin = make_actor(session, Role.admin)
    roster = staff_service.staff_roster(session, actor=admin, month=JUNE)
    status = dict(zip(roster["name"], roster["card_status"], strict=True))
    assert status == {
        "无卡": "not_issued",
        "已开通": "issued",
        "已激活": "activated",
        "已完善": "profile_complete",
        "已停用": "revoked",
        "七月激活": "issued",
    }
    july = staff_service.staff_roster(session, actor=admin, month="2019-07")
    assert dict(zip(july["name"], july["card_status"], strict=True))["七月激活"] == "activated"


def test_roster_counts_add_up_to_the_card_funnel(session, hospital):
    """The roster's people add up to the activation page's funnel for the same month."""
    admin = make_actor(session, Role.admin)
    settings_service.set_value(session, actor=admin, key="active_staff_lead_threshold", value=2)
    for _ in range(2):
        make_lead(session, owner=hospital["complete"], created_on=dt.date(2019, 6, 2))
    make_lead(session, owner=hospital["activated"], created_on=dt.date(2019, 6, 2))
    roster = staff_service.staff_roster(session, actor=admin, month=JUNE, include_left=True)
    funnel = metrics.card_funnel(session, rules=metric_rules(session), actor=admin, month=JUNE)
    statuses = roster["card_status"].value_counts().to_dict()
    issued = sum(statuses.get(s, 0) for s in ("issued", "activated", "profile_complete"))
    assert issued == funnel["cards_issued"] == 4
    assert statuses.get("issued", 0) == funnel["cards_not_activated"] == 2
    assert statuses.get("activated", 0) == funnel["profiles_incomplete"] == 1
    assert int(roster["using"].sum()) == funnel["staff_using"] == 1
    assert int(roster["active"].sum()) == funnel["staff_active"] == 1
    assert roster.loc[roster["name"] == "已完善", "active"].item()


def test_roster_filters_narrow_the_list(session, hospital):
    """Filtering by department, title, card status, usage and a search finds the right people."""
    admin = make_actor(session, Role.admin)

    def names(**filters):
        frame = staff_service.staff_roster(session, actor=admin, month=JUNE, **filters)
        return sorted(frame["name"])

    assert names(department_id=hospital["ward"].id) == sorted(["无卡", "已开通", "已激活"])
    assert names(title="护士") == sorted(["已完善", "无卡"])
    assert names(card_status="issued") == sorted(["七月激活", "已开通"])
    assert names(using=True) == sorted(["已完善"])
    assert names(search="激活") == sorted(["七月激活", "已激活"])
    assert names(search=hospital["revoked"].staff_no) == sorted(["已停用"])


def test_roster_counts_the_months_leads_and_orders_and_ranks_inside_the_department(
    session, hospital
):
    """A department head's team table shows this month's leads and valid orders per person
    and who ranks first inside the department."""
    ward = hospital["ward"]
    head = make_actor(session, Role.dept_head, department=ward)
    for day in (dt.date(2019, 5, 20), dt.date(2019, 6, 2), dt.date(2019, 6, 9)):
        make_lead(session, owner=hospital["activated"], created_on=day)
    make_lead(session, owner=hospital["issued"], created_on=dt.date(2019, 6, 5))
    make_order(session, staff=hospital["issued"], status="valid", created_on=dt.date(2019, 6, 7))
    make_order(session, staff=hospital["issued"], status="placed", created_on=dt.date(2019, 6, 8))
    make_order(session, staff=hospital["issued"], status="valid", created_on=dt.date(2019, 7, 1))
    team = staff_service.team_table(session, actor=head, month=JUNE).set_index("name")
    assert team.loc["已激活", ["leads", "leads_month", "rank_leads"]].tolist() == [3, 2, 1]
    assert team.loc["已开通", ["leads_month", "orders_month", "valid_orders_month"]].tolist() == [
        1,
        2,
        1,
    ]
    assert team.loc["已开通", "rank_valid_orders"] == 1
    assert team.loc["无卡", "rank_leads"] == 3
    assert set(team["department"]) == {"内三科"}


def test_department_head_sees_only_their_department(session, hospital):
    """A department head's roster and follow-up list hold only their own people, and asking
    for another department is refused."""
    head = make_actor(session, Role.dept_head, department=hospital["ward"])
    roster = staff_service.staff_roster(session, actor=head, month=JUNE)
    assert set(roster["department"]) == {"内三科"} and len(roster) == 3
    follow = staff_service.follow_up_list(session, actor=head, as_of=JUNE_END)
    assert set(follow["department"]) <= {"内三科"}
    with pytest.raises(PermissionDenied):
        staff_service.staff_roster(
            session, actor=head, month=JUNE, department_id=hospital["obstetrics"].id
        )


def test_staff_login_sees_only_themself(session, hospital):
    """A staff member opening the page sees their own card and figures, nobody else's."""
    me = make_actor(session, Role.staff, staff=hospital["activated"])
    roster = staff_service.staff_roster(session, actor=me, month=JUNE)
    assert roster["name"].tolist() == ["已激活"]
    with pytest.raises(PermissionDenied):
        staff_service.follow_up_list(session, actor=me, as_of=JUNE_END)


def test_consultants_cannot_read_the_roster(session, hospital):
    consultant = make_actor(session, Role.consultant)
    with pytest.raises(PermissionDenied):
        staff_service.staff_roster(session, actor=consultant, month=JUNE)


# --- Follow-up list -----------------------------------------------------------------------


def test_follow_up_lists_a_card_not_activated_from_the_nth_day(session):
    """A card issued 14 days ago (the setting) and still not activated is on the list; one
    issued 13 days ago is not, unless new cards are asked for too."""
    admin = make_actor(session, Role.admin)
    today = dt.date(2019, 8, 20)
    department = make_department(session)
    on_day = make_staff(session, department=department, card_issued_on=today - dt.timedelta(14))
    day_before = make_staff(session, department=department, card_issued_on=today - dt.timedelta(13))
    follow = staff_service.follow_up_list(session, actor=admin, as_of=today)
    waiting = follow[follow["reason"] == "not_activated"]
    assert waiting["staff_no"].tolist() == [on_day.staff_no]
    assert waiting["days"].tolist() == [14]
    assert waiting["due_on"].tolist() == [today]
    assert waiting["overdue"].tolist() == [True]
    everyone = staff_service.follow_up_list(session, actor=admin, as_of=today, include_not_due=True)
    new = everyone[everyone["staff_no"] == day_before.staff_no]
    assert new["reason"].tolist() == ["not_activated"]
    assert new["overdue"].tolist() == [False]
    assert new["due_on"].tolist() == [today + dt.timedelta(1)]


def test_follow_up_day_thresholds_come_from_the_settings(session):
    """An admin shortens the profile allowance to 3 days: a card activated 3 days ago with no
    profile appears, one activated 2 days ago does not."""
    admin = make_actor(session, Role.admin)
    settings_service.set_value(session, actor=admin, key="followup_profile_days", value=3)
    settings_service.set_value(session, actor=admin, key="followup_activation_days", value=30)
    today = dt.date(2019, 8, 20)
    department = make_department(session)
    due = make_staff(
        session,
        department=department,
        card_issued_on=dt.date(2019, 8, 1),
        card_activated_on=today - dt.timedelta(3),
    )
    make_staff(
        session,
        department=department,
        card_issued_on=dt.date(2019, 8, 1),
        card_activated_on=today - dt.timedelta(2),
    )
    make_staff(session, department=department, card_issued_on=today - dt.timedelta(29))
    follow = staff_service.follow_up_list(session, actor=admin, as_of=today)
    assert follow[follow["reason"] == "no_profile"]["staff_no"].tolist() == [due.staff_no]
    assert follow[follow["reason"] == "not_activated"].empty


def test_follow_up_lists_activated_cards_not_used_this_month(session):
    """Card holders with no activity record since the 1st of the month are listed, with the
    day they last used it; someone who signed in this month is not."""
    admin = make_actor(session, Role.admin)
    today = dt.date(2019, 8, 20)
    department = make_department(session, name="骨科")
    kwargs = dict(
        department=department,
        card_issued_on=dt.date(2019, 5, 1),
        card_activated_on=dt.date(2019, 5, 2),
        profile_completed_on=dt.date(2019, 5, 3),
    )
    idle, busy, never = (make_staff(session, **kwargs) for _ in range(3))
    _activity(session, idle, dt.date(2019, 7, 31))
    _activity(session, busy, dt.date(2019, 8, 1))
    _activity(session, busy, dt.date(2019, 8, 25))  # after as_of: not seen yet
    follow = staff_service.follow_up_list(session, actor=admin, as_of=today)
    not_using = follow[follow["reason"] == "not_using"].set_index("staff_no")
    assert sorted(not_using.index) == sorted([idle.staff_no, never.staff_no])
    assert not_using.loc[idle.staff_no, "since"] == dt.date(2019, 7, 31)
    assert not_using.loc[idle.staff_no, "days"] == 20
    assert not_using.loc[never.staff_no, "since"] is None


def test_follow_up_leaves_out_people_who_left_and_revoked_cards(session):
    admin = make_actor(session, Role.admin)
    today = dt.date(2019, 8, 20)
    department = make_department(session)
    make_staff(
        session,
        department=department,
        card_issued_on=dt.date(2019, 6, 1),
        left_on=dt.date(2019, 8, 1),
        active=False,
    )
    make_staff(
        session,
        department=department,
        card_issued_on=dt.date(2019, 6, 1),
        card_revoked_on=dt.date(2019, 7, 1),
    )
    assert staff_service.follow_up_list(session, actor=admin, as_of=today).empty


def test_follow_up_is_grouped_by_department(session):
    """The list comes sorted by department, so a head reads their block in one place."""
    admin = make_actor(session, Role.admin)
    today = dt.date(2019, 8, 20)
    surgery = make_department(session, name="外科")
    paediatrics = make_department(session, name="儿科")
    for department in (surgery, paediatrics, surgery, paediatrics):
        make_staff(session, department=department, card_issued_on=dt.date(2019, 7, 1))
    follow = staff_service.follow_up_list(session, actor=admin, as_of=today)
    assert follow["department"].tolist() == sorted(["外科", "外科", "儿科", "儿科"])


# --- Card actions -------------------------------------------------------------------------


def test_issuing_cards_to_a_selection_is_audited(session):
    """The marketing office issues cards to two newcomers at once; each gets an audit row."""
    marketer = make_actor(session, Role.marketer)
    department = make_department(session)
    first, second = (
        make_staff(session, department=department),
        make_staff(session, department=department),
    )
    day = dt.date(2019, 8, 1)
    staff_service.issue_cards(
        session, actor=marketer, staff_ids=[first.id, second.id], issued_on=day
    )
    assert first.card_issued_on == second.card_issued_on == day
    rows = _audit(session, "card.issue")
    assert sorted(int(r.entity_id) for r in rows) == sorted([first.id, second.id])
    assert {r.username for r in rows} == {marketer.username}
    assert json.loads(rows[0].detail)["issued_on"] == "2019-08-01"


def test_issuing_refuses_the_whole_selection_if_one_already_has_a_card(session):
    admin = make_actor(session, Role.admin)
    department = make_department(session)
    new = make_staff(session, department=department)
    holder = make_staff(session, department=department, card_issued_on=dt.date(2019, 5, 1))
    with pytest.raises(StaffError) as refused:
        staff_service.issue_cards(
            session, actor=admin, staff_ids=[new.id, holder.id], issued_on=dt.date(2019, 8, 1)
        )
    assert holder.staff_no in str(refused.value)
    assert holder.staff_no in refused.value.message_in("zh")
    assert new.card_issued_on is None
    assert _audit(session, "card.issue") == []


def test_a_revoked_card_is_not_issued_again(session):
    """Issuing again would rewrite the months the card was revoked in; it is refused."""
    admin = make_actor(session, Role.admin)
    person = make_staff(
        session, card_issued_on=dt.date(2019, 3, 1), card_revoked_on=dt.date(2019, 5, 1)
    )
    with pytest.raises(StaffError):
        staff_service.issue_cards(
            session, actor=admin, staff_ids=[person.id], issued_on=dt.date(2019, 8, 1)
        )


def test_activation_and_profile_follow_the_card_in_order(session):
    """A card is activated after it is issued, and its profile completed after activation;
    dates out of order, a second activation and future dates are refused."""
    admin = make_actor(session, Role.admin)
    person = make_staff(session, card_issued_on=dt.date(2019, 6, 10))
    with pytest.raises(StaffError):
        staff_service.mark_profile_complete(
            session, actor=admin, staff_ids=[person.id], completed_on=dt.date(2019, 6, 12)
        )
    with pytest.raises(StaffError):
        staff_service.mark_activated(
            session, actor=admin, staff_ids=[person.id], activated_on=dt.date(2019, 6, 9)
        )
    with pytest.raises(StaffError):
        staff_service.mark_activated(
            session,
            actor=admin,
            staff_ids=[person.id],
            activated_on=settings_service.hospital_today(session) + dt.timedelta(days=1),
        )
    staff_service.mark_activated(
        session, actor=admin, staff_ids=[person.id], activated_on=dt.date(2019, 6, 11)
    )
    with pytest.raises(StaffError):
        staff_service.mark_activated(
            session, actor=admin, staff_ids=[person.id], activated_on=dt.date(2019, 6, 12)
        )
    staff_service.mark_profile_complete(
        session, actor=admin, staff_ids=[person.id], completed_on=dt.date(2019, 6, 12)
    )
    assert staff_service.card_status(person, dt.date(2019, 6, 30)) == "profile_complete"
    assert [r.action for r in _audit(session, "card.activate")] == ["card.activate"]
    assert len(_audit(session, "card.profile_complete")) == 1


def test_revoking_needs_a_reason_and_takes_the_card_out_of_the_funnel(session):
    """A revoked card stops counting as issued from the month it is revoked in; the reason is
    kept on the person and in the audit row."""
    admin = make_actor(session, Role.admin)
    person = make_staff(
        session, card_issued_on=dt.date(2019, 5, 1), card_activated_on=dt.date(2019, 5, 2)
    )
    with pytest.raises(StaffError):
        staff_service.revoke_cards(
            session, actor=admin, staff_ids=[person.id], revoked_on=dt.date(2019, 7, 5), reason=" "
        )
    staff_service.revoke_cards(
        session,
        actor=admin,
        staff_ids=[person.id],
        revoked_on=dt.date(2019, 7, 5),
        reason="调岗,不再对外",
    )
    assert person.card_revoke_reason == "调岗,不再对外"
    (row,) = _audit(session, "card.revoke")
    assert json.loads(row.detail)["reason"] == "调岗,不再对外"
    assert (
        metrics.card_funnel(session, rules=metric_rules(session), actor=admin, month=JUNE)[
            "cards_issued"
        ]
        == 1
    )
    assert (
        metrics.card_funnel(session, rules=metric_rules(session), actor=admin, month="2019-07")[
            "cards_issued"
        ]
        == 0
    )


@pytest.mark.parametrize("role", [Role.executive, Role.dept_head, Role.staff, Role.consultant])
def test_only_the_office_changes_cards(session, role):
    """Executives read only; heads and staff see cards but do not issue or revoke them."""
    department = make_department(session)
    person = make_staff(session, department=department)
    actor = make_actor(
        session,
        role,
        department=department if role == Role.dept_head else None,
        staff=person if role == Role.staff else None,
    )
    with pytest.raises(PermissionDenied):
        staff_service.issue_cards(
            session, actor=actor, staff_ids=[person.id], issued_on=dt.date(2019, 8, 1)
        )
    assert person.card_issued_on is None


# --- Adding and editing staff -------------------------------------------------------------


def test_adding_and_editing_staff_is_audited_with_old_and_new_values(session):
    admin = make_actor(session, Role.admin)
    ward = make_department(session, name="内三科")
    surgery = make_department(session, name="外科")
    person = staff_service.add_staff(
        session,
        actor=admin,
        data=StaffCreate(staff_no="N001", name="新同事", department_id=ward.id, title="护士"),
    )
    with pytest.raises(StaffError):
        staff_service.add_staff(
            session,
            actor=admin,
            data=StaffCreate(staff_no="N001", name="重号", department_id=ward.id),
        )
    staff_service.update_staff(
        session,
        actor=admin,
        staff_id=person.id,
        data=StaffUpdate(
            name="新同事", department_id=surgery.id, title="主管护师", phone="13800000000"
        ),
    )
    assert (person.department_id, person.title) == (surgery.id, "主管护师")
    (row,) = _audit(session, "staff.update")
    detail = json.loads(row.detail)
    assert detail["title"] == {"old": "护士", "new": "主管护师"}
    assert detail["department_id"] == {"old": ward.id, "new": surgery.id}
    assert "name" not in detail
    assert len(_audit(session, "staff.create")) == 1


def test_department_head_adds_and_edits_only_inside_their_department(session):
    ward = make_department(session)
    other = make_department(session)
    head = make_actor(session, Role.dept_head, department=ward)
    mine = staff_service.add_staff(
        session, actor=head, data=StaffCreate(staff_no="W1", name="本科室", department_id=ward.id)
    )
    with pytest.raises(PermissionDenied):
        staff_service.add_staff(
            session,
            actor=head,
            data=StaffCreate(staff_no="W2", name="外科室", department_id=other.id),
        )
    with pytest.raises(PermissionDenied):  # moving someone out of the department
        staff_service.update_staff(
            session,
            actor=head,
            staff_id=mine.id,
            data=StaffUpdate(name=mine.name, department_id=other.id, title=None, phone=None),
        )
    stranger = make_staff(session, department=other)
    with pytest.raises(PermissionDenied):
        staff_service.update_staff(
            session,
            actor=head,
            staff_id=stranger.id,
            data=StaffUpdate(name="改名", department_id=other.id, title=None, phone=None),
        )


# --- Cohorts ------------------------------------------------------------------------------


def test_card_cohorts_give_the_share_of_each_issue_month_using_it_later(session):
    """Of the two staff given a card in May, one used it in May and both in June: 50 %, then
    100 %; June's single card was not used in June (0 %)."""
    admin = make_actor(session, Role.admin)
    department = make_department(session)
    may_a = make_staff(session, department=department, card_issued_on=dt.date(2019, 5, 3))
    may_b = make_staff(session, department=department, card_issued_on=dt.date(2019, 5, 30))
    make_staff(session, department=department, card_issued_on=dt.date(2019, 6, 1))
    _activity(session, may_a, dt.date(2019, 5, 4))
    _activity(session, may_a, dt.date(2019, 5, 5))
    _activity(session, may_a, dt.date(2019, 6, 1))
    _activity(session, may_b, dt.date(2019, 6, 30))
    _activity(session, may_b, dt.date(2019, 4, 30))  # before the card: not in any cohort month
    cohorts = staff_service.card_cohorts(
        session, actor=admin, first_month="2019-04", last_month="2019-06"
    )
    rows = {
        (r.cohort, r.month): (r.issued, r.months_after, r.using, r.share)
        for r in cohorts.itertuples()
    }
    assert rows == {
        ("2019-05", "2019-05"): (2, 0, 1, 0.5),
        ("2019-05", "2019-06"): (2, 1, 2, 1.0),
        ("2019-06", "2019-06"): (1, 0, 0, 0.0),
    }


def test_usage_heatmap_takes_each_months_rate_from_the_department_table(session, hospital):
    admin = make_actor(session, Role.admin)
    months = ["2019-05", "2019-06"]
    heat = staff_service.usage_heatmap(session, actor=admin, months=months).set_index("department")
    for month in months:
        table = metrics.department_table(
            session, rules=metric_rules(session), actor=admin, month=month
        )
        expected = dict(zip(table["department"], table["usage_rate"], strict=True))
        assert expected and set(expected) <= set(heat.index)
        for department, rate in expected.items():
            got = heat.loc[department, month]
            assert (got != got and rate != rate) or got == rate
    assert heat.loc["妇产科", "2019-06"] == 0.5  # 1 of 2 issued cards used in June


def test_the_pages_months_run_from_the_first_card_to_this_month(session, hospital):
    """The month pickers offer every month from the first card issued to the current month
    (today's card changes are reachable), and nothing on an empty database."""
    months = staff_service.data_months(session)
    today = settings_service.hospital_today(session)
    assert months[0] == "2019-03"
    assert months[-1] == metrics.month_of(today)
    assert "2019-06" in months and len(months) == len(set(months))


def test_no_months_without_data(session):
    assert staff_service.data_months(session) == []
