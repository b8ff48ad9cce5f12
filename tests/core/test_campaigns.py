"""Campaign planning: templates, responsibility sheets, calendar, results and permissions."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest
from sqlmodel import select

from core.domain import Role
from core.models import AuditLog, Campaign, CampaignCreate, CampaignTask, CampaignUpdate
from core.permissions import PermissionDenied
from core.services import campaigns as svc
from core.services.campaigns import CampaignError
from tests.factories import make_actor, make_lead, make_order, make_staff

D = dt.date


def _campaign(session, actor, code, **fields):
    values = {
        "name": f"Campaign {code}",
        "type": "free_clinic",
        "starts_on": D(2019, 6, 1),
        "ends_on": D(2019, 6, 30),
    }
    values.update(fields)
    return svc.create_campaign(session, actor=actor, data=CampaignCreate(code=code, **values))


@pytest.fixture
def marketer(session):
    return make_actor(session, Role.marketer)


# --- Templates ----------------------------------------------------------------------------


def test_free_clinic_trilogy_follows_the_seed_offsets_and_links_each_step(session, marketer):
    """A marketer plans seed 003's trilogy starting on 1 Sept 2019 and gets three linked
    campaigns: the clinic day, the half-price follow-up three days later, the conference."""
    owner = make_staff(session)
    clinic, followup, conference = svc.create_from_template(
        session,
        actor=marketer,
        template="free_clinic_trilogy",
        starts_on=D(2019, 9, 1),
        owner_staff_id=owner.id,
        name="Autumn clinic",
    )
    assert (clinic.type, clinic.starts_on, clinic.ends_on) == (
        "free_clinic",
        D(2019, 9, 1),
        D(2019, 9, 1),
    )
    assert (followup.type, followup.starts_on, followup.ends_on) == (
        "discount_followup",
        D(2019, 9, 4),
        D(2019, 9, 17),
    )
    assert (conference.type, conference.starts_on, conference.ends_on) == (
        "conference",
        D(2019, 9, 24),
        D(2019, 9, 24),
    )
    assert clinic.linked_campaign_id is None
    assert followup.linked_campaign_id == clinic.id
    assert conference.linked_campaign_id == followup.id
    assert [c.code for c in (clinic, followup, conference)] == [
        "FCT-190901-1",
        "FCT-190901-2",
        "FCT-190901-3",
    ]
    assert {c.owner_staff_id for c in (clinic, followup, conference)} == {owner.id}
    assert all(c.status == "planned" and c.name.startswith("Autumn clinic") for c in (clinic,))
    sheet = svc.list_tasks(session, actor=marketer, campaign_id=clinic.id, as_of=D(2019, 8, 1))
    assert list(sheet["due_on"]) == [D(2019, 8, 18), D(2019, 8, 25), D(2019, 9, 1)]
    assert set(sheet["responsible_staff_id"]) == {owner.id}


def test_a_longer_free_clinic_moves_the_follow_up_to_three_days_after_its_last_day(
    session, marketer
):
    """A two-day clinic on 1–2 Sept: the follow-up starts on 5 Sept."""
    clinic, followup, _ = svc.create_from_template(
        session,
        actor=marketer,
        template="free_clinic_trilogy",
        starts_on=D(2019, 9, 1),
        clinic_days=2,
    )
    assert clinic.ends_on == D(2019, 9, 2)
    assert followup.starts_on == D(2019, 9, 5)


def test_lecture_series_and_spring_breeze_templates(session, marketer):
    """A weekly series of four lectures, and Healthy Spring Breeze: warm-up content, then the
    seasonal offer, each step linked to the one before."""
    lectures = svc.create_from_template(
        session, actor=marketer, template="lecture_series", starts_on=D(2020, 3, 2), lang="zh"
    )
    assert [(c.starts_on, c.ends_on) for c in lectures] == [
        (D(2020, 3, 2), D(2020, 3, 2)),
        (D(2020, 3, 9), D(2020, 3, 9)),
        (D(2020, 3, 16), D(2020, 3, 16)),
        (D(2020, 3, 23), D(2020, 3, 23)),
    ]
    assert {c.type for c in lectures} == {"lecture"}
    assert [c.linked_campaign_id for c in lectures] == [None, *[c.id for c in lectures[:-1]]]
    assert lectures[0].name == "健康讲座系列 · 健康讲座 1/4"

    warmup, offer = svc.create_from_template(
        session, actor=marketer, template="spring_breeze", starts_on=D(2020, 3, 1), lang="zh"
    )
    assert (warmup.type, warmup.starts_on, warmup.ends_on) == (
        "content",
        D(2020, 3, 1),
        D(2020, 3, 14),
    )
    assert (offer.type, offer.starts_on, offer.ends_on) == (
        "seasonal",
        D(2020, 3, 15),
        D(2020, 4, 13),
    )
    assert offer.linked_campaign_id == warmup.id
    assert offer.name.startswith("健康春风行动")


def test_the_same_template_twice_on_one_day_gets_fresh_codes(session, marketer):
    first = svc.create_from_template(
        session, actor=marketer, template="spring_breeze", starts_on=D(2020, 3, 1)
    )
    second = svc.create_from_template(
        session, actor=marketer, template="spring_breeze", starts_on=D(2020, 3, 1)
    )
    assert [c.code for c in first] == ["SPR-200301-1", "SPR-200301-2"]
    assert [c.code for c in second] == ["SPR-200301b-1", "SPR-200301b-2"]


# --- Create and update --------------------------------------------------------------------


def test_create_and_update_are_audited_with_old_and_new_values(session, marketer):
    """The marketer records the PDCA check after the campaign; the audit shows the change."""
    campaign = _campaign(session, marketer, "C1", budget="1200.5", target_leads=40)
    assert campaign.budget == pytest.approx(1200.5)
    svc.update_campaign(
        session,
        actor=marketer,
        campaign_id=campaign.id,
        data=CampaignUpdate(status="done", pdca_check="40 leads, 12 visits"),
    )
    rows = session.exec(select(AuditLog).where(AuditLog.entity == "campaign")).all()
    assert [r.action for r in rows] == ["campaign.create", "campaign.update"]
    detail = json.loads(rows[1].detail)
    assert detail == {"status": ["planned", "done"], "pdca_check": [None, "40 leads, 12 visits"]}
    assert session.get(Campaign, campaign.id).pdca_check == "40 leads, 12 visits"


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"ends_on": D(2019, 5, 31)}, "campaigns.error.ends_before_start"),
        ({"type": "flash_mob"}, "campaigns.error.bad_type"),
        ({"status": "paused"}, "campaigns.error.bad_status"),
        ({"budget": "-5"}, "campaigns.error.negative"),
        ({"target_leads": -1}, "campaigns.error.negative"),
        ({"name": "  "}, "campaigns.error.required"),
        ({"owner_staff_id": 99999}, "campaigns.error.no_staff"),
    ],
)
def test_bad_campaign_input_is_refused_with_a_clear_error(session, marketer, fields, key):
    with pytest.raises(CampaignError) as error:
        _campaign(session, marketer, "BAD", **fields)
    assert error.value.key == key
    assert session.exec(select(Campaign)).all() == []


def test_a_code_used_by_another_campaign_is_refused(session, marketer):
    _campaign(session, marketer, "C1")
    other = _campaign(session, marketer, "C2")
    with pytest.raises(CampaignError, match="already used"):
        svc.update_campaign(
            session, actor=marketer, campaign_id=other.id, data=CampaignUpdate(code="C1")
        )
    with pytest.raises(CampaignError, match="cannot follow itself"):
        svc.update_campaign(
            session,
            actor=marketer,
            campaign_id=other.id,
            data=CampaignUpdate(linked_campaign_id=other.id),
        )


# --- Responsibility sheet -----------------------------------------------------------------


def test_overdue_tasks_are_those_due_before_the_as_of_day_and_not_done(session, marketer):
    """On 10 June, the open line due 9 June is overdue; the one due today, the done one and
    the one without a date are not."""
    person = make_staff(session, name="王医生")
    campaign = _campaign(session, marketer, "C1")
    late = svc.add_task(
        session,
        actor=marketer,
        campaign_id=campaign.id,
        milestone="Book venue",
        responsible_staff_id=person.id,
        due_on=D(2019, 6, 9),
    )
    svc.add_task(
        session, actor=marketer, campaign_id=campaign.id, milestone="Today", due_on=D(2019, 6, 10)
    )
    finished = svc.add_task(
        session, actor=marketer, campaign_id=campaign.id, milestone="Done", due_on=D(2019, 6, 1)
    )
    svc.update_task(session, actor=marketer, task_id=finished.id, done=True, feedback="ok")
    svc.add_task(session, actor=marketer, campaign_id=campaign.id, milestone="Someday")

    sheet = svc.list_tasks(session, actor=marketer, campaign_id=campaign.id, as_of=D(2019, 6, 10))
    assert dict(zip(sheet["milestone"], sheet["overdue"], strict=True)) == {
        "Done": False,
        "Book venue": True,
        "Today": False,
        "Someday": False,
    }
    overdue = svc.overdue_tasks(session, actor=marketer, as_of=D(2019, 6, 10))
    assert list(overdue["id"]) == [late.id]
    assert list(overdue["responsible"]) == ["王医生"]
    listed = svc.list_campaigns(session, actor=marketer, as_of=D(2019, 6, 10))
    assert listed.loc[0, ["tasks", "open_tasks", "overdue_tasks"]].tolist() == [4, 3, 1]
    # A day earlier nothing is overdue yet.
    assert svc.overdue_tasks(session, actor=marketer, as_of=D(2019, 6, 9)).empty


def test_task_changes_are_audited(session, marketer):
    campaign = _campaign(session, marketer, "C1")
    task = svc.add_task(session, actor=marketer, campaign_id=campaign.id, milestone="Invite")
    svc.update_task(session, actor=marketer, task_id=task.id, done=True)
    svc.delete_task(session, actor=marketer, task_id=task.id)
    actions = session.exec(
        select(AuditLog.action).where(AuditLog.entity == "campaign_task").order_by(AuditLog.id)
    ).all()
    assert actions == ["campaign_task.create", "campaign_task.update", "campaign_task.delete"]
    assert session.exec(select(CampaignTask)).all() == []


# --- Calendar -----------------------------------------------------------------------------


def test_calendar_shows_campaigns_and_tasks_in_the_window_with_filters(session, marketer):
    owner, other = make_staff(session), make_staff(session)
    in_window = _campaign(
        session,
        marketer,
        "IN",
        starts_on=D(2019, 8, 25),
        ends_on=D(2019, 9, 5),
        owner_staff_id=owner.id,
    )
    _campaign(session, marketer, "OUT", starts_on=D(2019, 5, 1), ends_on=D(2019, 5, 31))
    _campaign(
        session,
        marketer,
        "OTHER",
        starts_on=D(2019, 9, 1),
        ends_on=D(2019, 9, 2),
        owner_staff_id=other.id,
        status="running",
    )
    svc.add_task(
        session, actor=marketer, campaign_id=in_window.id, milestone="m", due_on=D(2019, 9, 3)
    )
    items = svc.calendar_items(
        session, actor=marketer, first_day=D(2019, 9, 1), last_day=D(2019, 12, 31)
    )
    assert sorted(items["code"][items["item"] == "campaign"]) == ["IN", "OTHER"]
    task = items[items["item"] == "task"].iloc[0]
    assert (task["start"], task["finish"], task["type"]) == (
        D(2019, 9, 3),
        D(2019, 9, 4),
        "free_clinic",
    )
    bar = items[items["code"] == "IN"].iloc[0]
    assert (bar["start"], bar["finish"]) == (D(2019, 8, 25), D(2019, 9, 6))

    mine = svc.calendar_items(
        session,
        actor=marketer,
        first_day=D(2019, 9, 1),
        last_day=D(2019, 12, 31),
        owner_staff_id=owner.id,
    )
    assert set(mine["code"]) == {"IN"}
    running = svc.calendar_items(
        session,
        actor=marketer,
        first_day=D(2019, 9, 1),
        last_day=D(2019, 12, 31),
        statuses=["running"],
    )
    assert list(running["code"]) == ["OTHER"]


def test_channel_overlaps_list_shared_channels_on_shared_days(session, marketer):
    """Two campaigns in the WeChat groups in the same week show up; a cancelled one does not."""
    _campaign(
        session,
        marketer,
        "A",
        starts_on=D(2019, 9, 1),
        ends_on=D(2019, 9, 10),
        channel="wechat_group;community",
    )
    _campaign(
        session,
        marketer,
        "B",
        starts_on=D(2019, 9, 8),
        ends_on=D(2019, 9, 20),
        channel="douyin;wechat_group",
    )
    _campaign(
        session,
        marketer,
        "C",
        starts_on=D(2019, 9, 1),
        ends_on=D(2019, 9, 30),
        channel="wechat_group",
        status="cancelled",
    )
    _campaign(
        session, marketer, "D", starts_on=D(2019, 9, 1), ends_on=D(2019, 9, 30), channel="douyin"
    )
    overlaps = svc.channel_overlaps(
        session, actor=marketer, first_day=D(2019, 9, 1), last_day=D(2019, 12, 31)
    )
    pairs = {
        (row.channel, row.first[:1], row.second[:1], row["from"], row.to)
        for _, row in overlaps.iterrows()
    }
    assert pairs == {
        ("wechat_group", "A", "B", D(2019, 9, 8), D(2019, 9, 10)),
        ("douyin", "B", "D", D(2019, 9, 8), D(2019, 9, 20)),
    }


def test_channel_weeks_count_campaigns_per_channel_and_week(session, marketer):
    """Week of Mon 2 Sept: A and B both use the WeChat groups (2, an overlap); the week of
    9 Sept only B does; a cancelled campaign counts nowhere."""
    _campaign(
        session,
        marketer,
        "A",
        starts_on=D(2019, 9, 1),
        ends_on=D(2019, 9, 6),
        channel="微信群;社区",
    )
    _campaign(
        session, marketer, "B", starts_on=D(2019, 9, 4), ends_on=D(2019, 9, 12), channel="微信群"
    )
    _campaign(
        session,
        marketer,
        "X",
        starts_on=D(2019, 9, 1),
        ends_on=D(2019, 9, 30),
        channel="微信群",
        status="cancelled",
    )
    load = svc.channel_weeks(
        session, actor=marketer, first_day=D(2019, 9, 2), last_day=D(2019, 9, 15)
    )
    cells = {(row.channel, row.week): row.campaigns for row in load.itertuples()}
    assert cells == {
        ("微信群", D(2019, 9, 2)): 2,
        ("微信群", D(2019, 9, 9)): 1,
        ("社区", D(2019, 9, 2)): 1,
    }


# --- Results ------------------------------------------------------------------------------


def test_results_match_hand_computed_figures(session, marketer):
    """Campaign A (budget ¥1,000, target 4 leads) sourced 3 leads: one still distrusting, one
    in strong and one in super trust. Their orders: ¥300 valid, ¥200 valid, ¥500 cancelled and
    ¥100 placed — 4 orders, 2 valid, ¥500 valid revenue. So 75% of target, 2 reached
    strong/super, ¥333.33 per lead, ¥500 per valid order, return on budget 0.5.
    Campaign B has no budget; campaign C sourced nothing; orders of other leads don't count."""
    staff = make_staff(session)
    a = _campaign(
        session,
        marketer,
        "A",
        budget=1000,
        target_leads=4,
        starts_on=D(2019, 7, 1),
        ends_on=D(2019, 7, 31),
    )
    b = _campaign(session, marketer, "B", starts_on=D(2019, 6, 1))
    _campaign(session, marketer, "C", budget=500, target_leads=10, starts_on=D(2019, 5, 1))
    l1 = make_lead(session, owner=staff, campaign_id=a.id, stage="distrust")
    l2 = make_lead(session, owner=staff, campaign_id=a.id, stage="strong_trust")
    make_lead(session, owner=staff, campaign_id=a.id, stage="super_trust")
    lb = make_lead(session, owner=staff, campaign_id=b.id, stage="weak_trust")
    stray = make_lead(session, owner=staff)
    make_order(session, staff=staff, lead_id=l1.id, amount="300", status="valid")
    make_order(session, staff=staff, lead_id=l2.id, amount="200", status="valid", kind="mall")
    make_order(session, staff=staff, lead_id=l2.id, amount="500", status="cancelled")
    make_order(session, staff=staff, lead_id=l2.id, amount="100", status="placed")
    make_order(session, staff=staff, lead_id=lb.id, amount="50", status="valid")
    make_order(session, staff=staff, lead_id=stray.id, amount="999", status="valid")
    make_order(session, staff=staff, amount="777", status="valid")

    results = svc.campaign_results(session, actor=marketer).set_index("code")
    assert list(results.index) == ["A", "B", "C"]
    row = results.loc["A"]
    assert row["leads"] == 3 and row["target_reached"] == 0.75
    assert [row[s] for s in ("distrust", "weak_trust", "strong_trust", "super_trust")] == [
        1,
        0,
        1,
        1,
    ]
    assert row["reached_strong"] == 2
    assert (row["orders"], row["valid_orders"], row["revenue"]) == (4, 2, 500.0)
    assert row["cost_per_lead"] == 333.33
    assert row["cost_per_valid_order"] == 500.0
    assert row["return_on_budget"] == 0.5

    row = results.loc["B"]
    assert (row["leads"], row["weak_trust"], row["valid_orders"], row["revenue"]) == (
        1,
        1,
        1,
        50.0,
    )
    assert math.isnan(row["cost_per_lead"]) and math.isnan(row["return_on_budget"])

    row = results.loc["C"]
    assert (row["leads"], row["orders"], row["revenue"], row["target_reached"]) == (0, 0, 0.0, 0)
    assert math.isnan(row["cost_per_lead"]) and math.isnan(row["cost_per_valid_order"])
    assert row["return_on_budget"] == 0.0

    only_a = svc.campaign_results(session, actor=marketer, campaign_ids=[a.id])
    assert list(only_a["code"]) == ["A"]

    # Totals over the three: ¥1,500 budget, 4 leads, 3 valid orders, ¥550 valid revenue.
    assert svc.results_summary(results.reset_index()) == {
        "campaigns": 3,
        "budget": 1500.0,
        "leads": 4,
        "reached_strong": 2,
        "valid_orders": 3,
        "revenue": 550.0,
        "cost_per_lead": 375.0,
        "return_on_budget": 0.3667,
    }


# --- Permissions --------------------------------------------------------------------------


def test_executive_reads_but_cannot_write(session, marketer):
    """The executive sees campaigns, sheets and results, and every write is refused."""
    executive = make_actor(session, Role.executive)
    campaign = _campaign(session, marketer, "C1")
    task = svc.add_task(session, actor=marketer, campaign_id=campaign.id, milestone="m")
    assert list(svc.list_campaigns(session, actor=executive)["code"]) == ["C1"]
    assert len(svc.campaign_results(session, actor=executive)) == 1
    assert len(svc.list_tasks(session, actor=executive)) == 1
    writes = [
        lambda: _campaign(session, executive, "C2"),
        lambda: svc.update_campaign(
            session, actor=executive, campaign_id=campaign.id, data=CampaignUpdate(name="x")
        ),
        lambda: svc.create_from_template(
            session, actor=executive, template="lecture_series", starts_on=D(2019, 9, 1)
        ),
        lambda: svc.add_task(session, actor=executive, campaign_id=campaign.id, milestone="m"),
        lambda: svc.update_task(session, actor=executive, task_id=task.id, done=True),
        lambda: svc.delete_task(session, actor=executive, task_id=task.id),
    ]
    for write in writes:
        with pytest.raises(PermissionDenied):
            write()
    assert session.get(Campaign, campaign.id).name == "Campaign C1"
    assert session.get(CampaignTask, task.id).done is False


@pytest.mark.parametrize("role", [Role.consultant, Role.staff, Role.dept_head])
def test_roles_outside_marketing_cannot_see_campaign_plans(session, role):
    staff = make_staff(session)
    actor = make_actor(session, role, staff=staff)
    with pytest.raises(PermissionDenied):
        svc.list_campaigns(session, actor=actor)
    with pytest.raises(PermissionDenied):
        svc.campaign_results(session, actor=actor)
