"""The Campaigns page, driven as each role uses it (AppTest on a private demo hospital)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from core.db import read_session
from core.i18n import t
from core.models import Campaign, CampaignTask, ContentPiece, StaffActivity
from core.services.settings import hospital_today
from tests.pages.apptest import open_page, open_tab, texts

PAGE = "pages/5_Campaigns.py"
PLAN_TABS_EN = ["Campaigns", "Responsibility sheet", "Calendar", "Results", "Content library"]
TABS = ("list", "sheet", "calendar", "results", "library")


def _tab(name: str, lang: str = "en") -> tuple[str, str]:
    """The page's tab group key and the label of its tab `name`, for `open_tab` (only the
    open tab's content runs)."""
    return "campaigns_tab", t(f"campaigns.tab.{name}", lang)


def _tab_labels(at) -> list[str]:
    return [tab.label for tab in at.tabs]


def _table(at, column: str):
    """The first table on the page that has `column` (tables carry no key)."""
    for frame in at.dataframe:
        if column in frame.value.columns:
            return frame.value
    raise AssertionError(f"no table with a '{column}' column")


def _chart_keys(at) -> set[str]:
    return {chart.proto.id.rsplit("-", 1)[-1] for chart in at.get("plotly_chart")}


def _button_keys(at) -> set[str]:
    return {button.key for button in at.button if button.key}


def test_marketer_plans_the_free_clinic_trilogy_from_a_template(demo_app):
    """The marketer opens Campaigns, picks the free-clinic trilogy, starts it on 1 Sept 2019
    and sees the three linked campaigns appear in the list."""
    at = open_page(PAGE, username="marketer")
    assert not at.exception
    assert _tab_labels(at)[:5] == PLAN_TABS_EN
    shown = _table(at, "Owner")
    assert "C1903" in set(shown["Code"])

    at.date_input(key="tpl_starts").set_value(dt.date(2019, 9, 1))
    at.text_input(key="tpl_name").set_value("Autumn clinic")
    at.button(key="tpl_submit").click().run()
    assert not at.exception
    assert "Created the campaigns of “Free-clinic trilogy”" in texts(at)

    with read_session() as session:
        created = session.exec(
            select(Campaign).where(Campaign.code.like("FCT-190901-%")).order_by(Campaign.code)
        ).all()
    assert [(c.type, c.starts_on) for c in created] == [
        ("free_clinic", dt.date(2019, 9, 1)),
        ("discount_followup", dt.date(2019, 9, 4)),
        ("conference", dt.date(2019, 9, 24)),
    ]
    assert created[2].linked_campaign_id == created[1].id
    assert {"FCT-190901-1", "FCT-190901-2", "FCT-190901-3"} <= set(_table(at, "Owner")["Code"])


def test_marketer_gets_a_chinese_error_for_a_campaign_that_ends_before_it_starts(demo_app):
    """In Chinese, the marketer fills in a new campaign ending before it starts: a clear error,
    nothing saved."""
    at = open_page(PAGE, username="marketer", lang="zh")
    at.text_input(key="new_code").set_value("C2001")
    at.text_input(key="new_name").set_value("冬季义诊")
    at.date_input(key="new_starts").set_value(dt.date(2019, 12, 10))
    at.date_input(key="new_ends").set_value(dt.date(2019, 12, 1))
    at.button(key="new_submit").click().run()
    assert not at.exception
    assert "结束日期早于开始日期。" in [e.value for e in at.error]
    with read_session() as session:
        assert session.exec(select(Campaign).where(Campaign.code == "C2001")).first() is None


def test_marketer_records_the_pdca_check_of_a_campaign(demo_app):
    """The marketer opens C1906's details and writes what the check showed."""
    with read_session() as session:
        campaign = session.exec(select(Campaign).where(Campaign.code == "C1906")).one()
    at = open_page(PAGE, username="marketer")
    at.selectbox(key="camp_detail").set_value(campaign.id).run()
    prefix = f"edit_{campaign.id}"
    assert at.text_area(key=f"{prefix}_pdca_check").value.startswith("到场 92 人")
    at.text_area(key=f"{prefix}_pdca_check").set_value("到场 92 人;复盘完成")
    at.button(key=f"{prefix}_submit").click().run()
    assert not at.exception
    assert "Campaign C1906 saved." in texts(at)
    with read_session() as session:
        assert session.get(Campaign, campaign.id).pdca_check == "到场 92 人;复盘完成"


def test_marketer_sees_overdue_tasks_and_closes_one(demo_app):
    """On the responsibility sheet the overdue count (as of the demo's last day, 2019-08-31)
    is shown; the marketer marks an overdue task done and the count drops by one."""
    with read_session() as session:
        late = session.exec(
            select(CampaignTask)
            .where(CampaignTask.due_on < dt.date(2019, 8, 31), CampaignTask.done.is_(False))
            .order_by(CampaignTask.id)
        ).all()
    assert late, "the demo has overdue tasks"
    at = open_tab(open_page(PAGE, username="marketer"), *_tab("sheet"))
    assert f"Overdue tasks on 2019-08-31 {len(late)}" in texts(at)
    task = late[0]
    at.selectbox(key="sheet_campaign").set_value(task.campaign_id).run()
    at.selectbox(key="sheet_task").set_value(task.id).run()
    at.checkbox(key=f"task_{task.id}_done").check()
    at.text_area(key=f"task_{task.id}_feedback").set_value("已补交反馈")
    at.button(key=f"task_{task.id}_save").click().run()
    assert not at.exception
    assert f"Overdue tasks on 2019-08-31 {len(late) - 1}" in texts(at)
    with read_session() as session:
        saved = session.get(CampaignTask, task.id)
    assert saved.done and saved.feedback == "已补交反馈"


def test_marketer_sees_results_and_the_calendar(demo_app):
    """The results table compares the campaigns; the calendar draws the timeline and the
    channel load of the demo's months."""
    at = open_tab(open_page(PAGE, username="marketer"), *_tab("calendar"))
    assert not at.exception
    charts = _chart_keys(at)
    open_tab(at, *_tab("results"))
    assert not at.exception
    charts |= _chart_keys(at)
    results = _table(at, "Valid revenue (¥)").set_index("Code")
    assert {"C1903", "C1910", "C1913"} <= set(results.index)
    assert "C1908" not in results.index  # cancelled campaigns are filtered out by default
    assert results.loc["C1917", "Leads"] == 0  # planned, nothing sourced yet
    assert results["Valid revenue (¥)"].sum() > 0
    assert {"cal_chart", "cal_channels", "res_ladder", "res_return"} <= charts
    # "Of target" is drawn in percentage points with the app's one-decimal format (it mixed
    # "82%" with "206.33%"): leads ÷ target × 100.
    row = results.loc["C1903"]
    assert row["Of target"] == pytest.approx(100 * row["Leads"] / row["Target leads"])
    table = next(t for t in at.dataframe if "Of target" in t.value.columns)
    assert '"%.1f%%"' in table.proto.columns  # the column config Streamlit draws with


def test_executive_reads_everything_but_gets_no_edit_controls(demo_app):
    """The executive opens Campaigns in both languages: same tabs, tables and charts, and not
    one control that would change something; a campaign's PDCA record is shown as text."""
    columns = {"en": ("Owner", "Valid revenue (¥)"), "zh": ("负责人", "有效营收(元)")}
    with read_session() as session:
        count = len(session.exec(select(Campaign.id)).all())
    for lang in ("en", "zh"):
        at = open_page(PAGE, username="executive", lang=lang)
        assert not at.exception
        assert len(at.tabs) >= 5
        owner, revenue = columns[lang]
        assert _table(at, owner).shape[0] == count
        charts, buttons, form_fields = set(), set(), []
        for name in TABS:  # each tab in turn (only the open tab's content runs)
            open_tab(at, *_tab(name, lang))
            assert not at.exception, name
            if name == "results":
                assert _table(at, revenue).shape[0] >= 1
            charts |= _chart_keys(at)
            buttons |= _button_keys(at)
            form_fields += [w.key for w in at.text_input] + [w.key for w in at.text_area]
        assert {"cal_chart", "res_ladder"} <= charts
        assert not any(
            key.endswith(("_submit", "_save", "_delete")) or key.startswith("share_")
            for key in buttons
        ), buttons
        assert form_fields == ["lib_query"]  # only the script search box
    with read_session() as session:
        campaign = session.exec(select(Campaign).where(Campaign.code == "C1903")).one()
    open_tab(at, *_tab("list", "zh"))
    at.selectbox(key="camp_detail").set_value(campaign.id).run()
    assert not at.exception
    assert "登记 236 人，其中高血压 97 人；名片添加率 61%。" in texts(at)
    assert not at.text_area and f"edit_{campaign.id}_submit" not in _button_keys(at)


def test_staff_member_shares_a_briefcase_item(demo_app):
    """The 内三科 physician opens Campaigns: only the briefcase, each item with a Share
    button. Sharing records card usage for them today."""
    at = open_page(PAGE, username="staff", lang="zh")
    assert not at.exception
    assert len(at.tabs) == 0  # no campaign planning tabs, no script library
    assert "公文包" in [h.value for h in at.subheader]
    with read_session() as session:
        item = session.exec(
            select(ContentPiece).where(ContentPiece.kind == "briefcase").order_by(ContentPiece.id)
        ).first()
        today = hospital_today(session)
        before = session.exec(
            select(StaffActivity).where(StaffActivity.kind == "share", StaffActivity.date == today)
        ).all()
    assert f"share_{item.id}" in _button_keys(at)
    assert "本月您已分享 0 次。" in texts(at)

    at.button(key=f"share_{item.id}").click().run()
    assert not at.exception
    assert f"已分享“{item.title}”,计入名片使用。" in texts(at)
    assert "本月您已分享 1 次。" in texts(at)
    with read_session() as session:
        after = session.exec(
            select(StaffActivity).where(StaffActivity.kind == "share", StaffActivity.date == today)
        ).all()
    assert len(after) == len(before) + 1


def test_consultant_searches_the_script_library(demo_app):
    """The consultant sees only the script library and finds the answer about stopping
    blood-pressure medicine."""
    at = open_page(PAGE, username="consultant")
    assert not at.exception
    assert len(at.tabs) == 0
    assert "Script library" in [h.value for h in at.subheader]
    at.text_input(key="lib_query").set_value("停药").run()
    assert not at.exception
    assert "1 scripts found" in texts(at)
    assert [e.label for e in at.expander] == ["降压药需要终身服用吗？  —  高血压 · 内三科"]
    assert not _button_keys(at) & {"piece_script_new_save"}


def test_marketer_adds_a_script_that_consultants_can_find(demo_app):
    """The marketer files a new approved answer under 高血压; searching for it finds it."""
    at = open_tab(open_page(PAGE, username="marketer"), *_tab("library"))
    at.text_input(key="piece_script_new_title").set_value("血压计怎么选?")
    at.text_area(key="piece_script_new_body").set_value("推荐上臂式电子血压计,每年校准一次。")
    at.text_input(key="piece_script_new_condition").set_value("高血压")
    at.button(key="piece_script_new_save").click().run()
    assert not at.exception
    assert "Saved." in texts(at)
    at.text_input(key="lib_query").set_value("上臂式").run()
    assert [e.label for e in at.expander if "血压计" in e.label] == ["血压计怎么选?  —  高血压"]
    with read_session() as session:
        piece = session.exec(
            select(ContentPiece).where(ContentPiece.title == "血压计怎么选?")
        ).one()
    assert (piece.kind, piece.condition) == ("script", "高血压")
