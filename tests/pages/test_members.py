"""The Members page under AppTest, on a private copy of the demo hospital."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session, func, select

from core import metrics
from core.db import make_engine
from core.i18n import t
from core.models import Lead, Member, PointsEntry, Reward, Tier
from core.permissions import Actor
from core.services.settings import metric_rules
from tests.pages.apptest import open_page, open_tab, texts

PAGE = "pages/4_Members.py"


@pytest.fixture
def db(demo_app):
    engine = make_engine(demo_app)
    yield engine
    engine.dispose()


def _tab(name: str, lang: str = "en") -> tuple[str, str]:
    """The page's tab group key and the label of its tab `name`, for `open_tab` (only the
    open tab's content runs)."""
    return "members_tab", t(f"members.tab.{name}", lang)


def _form(name: str, lang: str = "en") -> tuple[str, str]:
    """The open member's form tabs' key and the label of its form `name` (award, redeem,
    adjust): only the open form is drawn."""
    return "members_form_tab", t(f"members.{name}", lang)


def keys(at) -> set[str]:
    widgets = [*at.button, *at.text_input, *at.number_input, *at.selectbox, *at.checkbox]
    return {widget.key for widget in widgets if widget.key}


def frame(at, *columns: str):
    """The first table on the page that has all these column headings."""
    for element in at.dataframe:
        if set(columns) <= set(element.value.columns):
            return element.value
    raise AssertionError(f"no table with columns {columns}")


def find(at, member_no: str):
    """Type a member number into the search box; the detail opens on them."""
    at.text_input(key="members_search").set_value(member_no).run()
    assert at.selectbox(key="members_open").value == member_no
    return at


def status(db, member_no: str) -> dict:
    with Session(db) as session:
        return metrics.member_status(
            session, rules=metric_rules(session), actor=Actor.system(), member_no=member_no
        )


def members(db):
    """The demo's members with their figures (from the metrics), by member number."""
    with Session(db) as session:
        return metrics.member_table(
            session, rules=metric_rules(session), actor=Actor.system()
        ).sort_values("member_no")


def test_marketer_sees_the_member_list_and_a_members_detail(demo_app, db):
    """A marketer opens Members: 1,600 members in pages of 50, and the first member's tier,
    balance, progress bar and benefits."""
    table = members(db)
    first = table.iloc[0]
    assert len(table) == 1600
    at = open_page(PAGE, username="marketer")
    assert not at.exception
    shown = texts(at)
    assert "1,600 members · page 1 of 32" in shown
    tier_names = ["Regular", "Silver", "Gold", "Platinum", "Diamond"]
    assert f"Tier {tier_names[first.tier - 1]}" in shown
    assert f"Balance {first.balance:,}" in shown
    progress = at.get("progress")[0].proto.text
    expected = "Top tier reached" if first.tier == 5 else f"points to {tier_names[first.tier]}"
    assert progress.endswith(expected)
    assert "Benefits now:" in shown and "member gifts" in shown
    table = frame(at, "Member no.", "Lifetime points")
    assert len(table) == 50 and list(table.columns)[:3] == ["Member no.", "Name", "Tier"]
    assert "members_award_submit" in keys(at)  # the first form is open
    assert not {"members_redeem_submit", "members_adjust_submit"} & keys(at)
    for name in ("redeem", "adjust"):
        open_tab(at, *_form(name))
        assert f"members_{name}_submit" in keys(at)


def test_marketer_filters_and_pages(demo_app, db):
    """Page 2 of the list follows page 1; filtering to Diamond shows exactly the Diamonds."""
    table = members(db)
    diamonds = int((table["tier"] == 5).sum())
    at = open_page(PAGE, username="marketer")
    at.number_input(key="members_page_no").set_value(2).run()
    assert "page 2 of 32" in texts(at)
    assert (
        frame(at, "Member no.", "Lifetime points").iloc[0]["Member no."] == table.iloc[50].member_no
    )
    at.selectbox(key="members_tier_en").set_value(5).run()
    assert not at.exception
    assert f"{diamonds} members · page 1 of 1" in texts(at)
    assert set(frame(at, "Member no.", "Lifetime points")["Tier"]) == {"Diamond"}


def test_marketer_awards_points_to_a_member(demo_app, db):
    """Recording an event for a member adds its 50 points to the balance and the ledger."""
    member_no = members(db).iloc[0].member_no
    before = status(db, member_no)
    at = find(open_page(PAGE, username="marketer"), member_no)
    at.selectbox(key="members_award_kind_en").set_value("event")
    at.button(key="members_award_submit").click().run()
    assert not at.exception
    assert "50 points awarded." in texts(at)
    after = status(db, member_no)
    assert after["balance"] == before["balance"] + 50
    assert frame(at, "Date", "Kind", "Points").iloc[0]["Points"] == 50


def test_a_redemption_beyond_the_balance_is_refused_with_a_clear_message(demo_app, db):
    """The member with the fewest points tries a reward costing more: refused, nothing
    changes."""
    poorest = members(db).sort_values(["balance", "member_no"]).iloc[0]
    with Session(db) as session:
        reward = session.exec(
            select(Reward).where(Reward.points_cost > int(poorest.balance), Reward.stock > 0)
        ).first()
    at = open_tab(find(open_page(PAGE, username="marketer"), poorest.member_no), *_form("redeem"))
    at.selectbox(key="members_redeem_reward_en").set_value(reward.id)
    at.button(key="members_redeem_submit").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        f"Refused: the balance is {poorest.balance:,} points and this needs {reward.points_cost:,}."
    ]
    assert status(db, poorest.member_no)["balance"] == poorest.balance
    with Session(db) as session:
        assert session.get(Reward, reward.id).stock == reward.stock


def test_marketer_redeems_and_adjusts(demo_app, db):
    """A member takes a reward, then gets a correction with a reason; an adjustment without a
    reason is refused."""
    richest = members(db).sort_values(["balance", "member_no"], ascending=[False, True]).iloc[0]
    member_no, balance = richest.member_no, int(richest.balance)
    with Session(db) as session:
        reward = session.exec(
            select(Reward).where(Reward.points_cost <= balance, Reward.stock > 0)
        ).first()
    at = open_tab(find(open_page(PAGE, username="marketer"), member_no), *_form("redeem"))
    at.selectbox(key="members_redeem_reward_en").set_value(reward.id)
    at.button(key="members_redeem_submit").click().run()
    assert f"Redeemed for {reward.points_cost:,} points." in texts(at)
    lifetime = status(db, member_no)["lifetime_points"]
    open_tab(at, *_form("adjust"))
    at.number_input(key="members_adjust_points").set_value(-10)
    at.button(key="members_adjust_submit").click().run()
    assert "An adjustment needs a reason." in texts(at)
    at.number_input(key="members_adjust_points").set_value(-10)
    at.text_input(key="members_adjust_reason").set_value("duplicate sign-in")
    at.button(key="members_adjust_submit").click().run()
    assert not at.exception
    assert "Adjusted by -10 points." in texts(at)
    after = status(db, member_no)
    assert after["balance"] == balance - reward.points_cost - 10
    assert after["lifetime_points"] == lifetime


def test_marketer_converts_a_lead_into_a_member(demo_app, db):
    """Typing a lead's ref makes it a member who keeps the lead's owner; the list opens on
    the new member."""
    with Session(db) as session:
        members_leads = select(Member.lead_id).where(Member.lead_id.is_not(None))
        lead = session.exec(
            select(Lead).where(Lead.id.not_in(members_leads)).order_by(Lead.lead_ref)
        ).first()
    at = open_page(PAGE, username="marketer")
    at.text_input(key="members_convert_lead").set_value(lead.lead_ref)
    at.button(key="members_convert_submit").click().run()
    assert not at.exception
    assert f"Lead {lead.lead_ref} is now member M-{lead.lead_ref}." in texts(at)
    assert at.selectbox(key="members_open").value == f"M-{lead.lead_ref}"
    with Session(db) as session:
        member = session.exec(select(Member).where(Member.lead_id == lead.id)).one()
        assert member.owner_staff_id == lead.owner_staff_id
    at.text_input(key="members_convert_lead").set_value(lead.lead_ref)
    at.button(key="members_convert_submit").click().run()
    assert f"Lead {lead.lead_ref} is already member M-{lead.lead_ref}." in texts(at)


def test_executive_reads_everything_but_sees_no_forms(demo_app):
    """An executive reads the list, rewards, care lists, charts and tiers; no edit controls."""
    at = open_page(PAGE, username="executive")
    assert not at.exception
    assert "Read-only view" in texts(at)
    writes = {
        "members_award_submit",
        "members_redeem_submit",
        "members_adjust_submit",
        "members_convert_submit",
        "members_reward_add_submit",
        "members_reward_save",
        "members_save_tiers",
        "members_expiry_run",
        "members_expiry_settings_save",
    }
    assert not writes & keys(at)
    for tab in ("rewards", "care", "charts", "tiers"):
        open_tab(at, *_tab(tab))
        assert not at.exception, tab
        assert not writes & keys(at), tab
    assert frame(at, "Lifetime points from", "Free items")["Tier"].tolist() == [
        "Regular",
        "Silver",
        "Gold",
        "Platinum",
        "Diamond",
    ]


def test_marketer_manages_the_rewards_catalogue(demo_app, db):
    """A marketer adds a reward and restocks it."""
    at = open_tab(open_page(PAGE, username="marketer"), *_tab("rewards"))
    at.text_input(key="members_reward_name").set_value("健康体检卡")
    at.text_input(key="members_reward_name_en").set_value("Health check card")
    at.number_input(key="members_reward_cost").set_value(1200)
    at.number_input(key="members_reward_stock").set_value(3)
    at.button(key="members_reward_add_submit").click().run()
    assert not at.exception
    assert "Reward 健康体检卡 added." in texts(at)
    with Session(db) as session:
        reward = session.exec(select(Reward).where(Reward.name == "健康体检卡")).one()
    at.selectbox(key="members_reward_pick").set_value(reward.id).run()
    at.number_input(key=f"members_edit_restock_{reward.id}_1").set_value(2)
    at.button(key="members_reward_save").click().run()
    assert not at.exception
    with Session(db) as session:
        assert session.get(Reward, reward.id).stock == 5
    assert len(frame(at, "Redeemed at", "Reward")) > 0


def test_care_lists_and_charts(demo_app):
    """Birthdays this week and this month as of the demo's last day; the three charts."""
    at = open_tab(open_page(PAGE, username="marketer"), *_tab("care"))
    assert not at.exception
    assert "Birthdays this week (2019-08-26 – 2019-09-01)" in texts(at)
    assert len(frame(at, "Birthday", "Days quiet")) > 0
    open_tab(at, *_tab("charts"))
    assert not at.exception
    assert len(at.get("plotly_chart")) == 3
    assert "Share of the top" in texts(at)


def test_admin_previews_tier_changes_before_saving(demo_app, db):
    """Raising Silver to 1,500 points shows how many Silver members would drop to Regular
    before anything is saved; saving applies it."""
    with Session(db) as session:
        between = (
            metrics.member_table(session, rules=metric_rules(session), actor=Actor.system())
            .query("1000 <= lifetime_points < 1500")
            .shape[0]
        )
    at = open_tab(open_page(PAGE, username="admin"), *_tab("tiers"))
    assert not at.exception
    at.number_input(key="members_tier_threshold_2").set_value(1500).run()
    preview = frame(at, "Members now", "Moving down").set_index("Tier")
    assert preview.loc["Silver", "Moving down"] == between > 0
    with Session(db) as session:
        assert session.get(Tier, 2).threshold == 1000  # not saved yet
    at.button(key="members_save_tiers").click().run()
    assert not at.exception
    assert "Tier settings saved." in texts(at)
    with Session(db) as session:
        assert session.get(Tier, 2).threshold == 1500


def test_marketer_cannot_edit_tiers(demo_app):
    at = open_tab(open_page(PAGE, username="marketer"), *_tab("tiers"))
    assert not at.exception
    assert "members_save_tiers" not in keys(at)
    assert "members_expiry_settings_save" not in keys(at)
    assert "Points expiry is off: points never expire." in texts(at)


def test_admin_switches_expiry_on_and_runs_it_once(demo_app, db):
    """With 12-month expiry, as of 2020-06-30 the points earned by 2019-06-30 and unused
    expire; a second run finds nothing."""
    at = open_tab(open_page(PAGE, username="admin"), *_tab("tiers"))
    at.number_input(key="members_expiry_months").set_value(12)
    at.button(key="members_expiry_settings_save").click().run()
    assert "Settings saved." in texts(at)
    at.date_input(key="members_expiry_as_of").set_value(dt.date(2020, 6, 30)).run()
    assert "earned on or before 2019-06-30" in texts(at)
    assert at.button(key="members_expiry_run").disabled
    at.checkbox(key="members_expiry_confirm").check().run()
    at.button(key="members_expiry_run").click().run()
    assert not at.exception
    assert "points of" in texts(at) and "members expired." in texts(at)
    with Session(db) as session:
        expired = session.exec(
            select(func.count(PointsEntry.id)).where(PointsEntry.kind == "expire")
        ).one()
    assert expired > 0
    assert "members_expiry_run" not in keys(at)  # nothing left to expire for that day


def test_the_page_in_chinese(demo_app):
    """在中文界面下打开会员页面:列表、关怀名单、图表和等级设置都显示中文。"""
    at = open_page(PAGE, username="admin", lang="zh")
    assert not at.exception
    shown = texts(at)
    assert "共 1,600 位会员" in shown and "会员等级" in shown and "积分余额" in shown
    for tab, label in (
        ("rewards", "积分礼品目录"),
        ("care", "本周生日"),
        ("charts", "前 20% 会员贡献的营收"),
        ("tiers", "等级设置"),
    ):
        open_tab(at, *_tab(tab, "zh"))
        assert not at.exception, tab
        assert label in texts(at), tab
