"""The KPI page on the demo hospital: the tiles are core.metrics' figures for the chosen month
and the user's scope, the leaderboards find the case-study staff, exports are audited."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from core import metrics
from core.db import read_session
from core.i18n import t
from core.models import AppUser, AuditLog
from core.services.settings import metric_rules
from tests.factories import actor_for
from tests.pages.apptest import open_page, open_tab

PAGE = "pages/6_KPIs.py"
TILES = {
    "Cumulative leads": "cumulative_leads",
    "New leads": "new_leads",
    "Staff using": "staff_using",
    "Active staff (≥50 leads)": "staff_active",
    "Orders": "orders",
    "Valid orders": "valid_orders",
}


def actor(username: str):
    with read_session() as session:
        user = session.exec(select(AppUser).where(AppUser.username == username)).one()
        return actor_for(user)


def tiles(at) -> dict[str, tuple[str, str]]:
    return {metric.label: (metric.value, metric.delta) for metric in at.metric}


def board(at, by: str):
    return at.get_by_key(f"kpi_board_{by}").dataframe[0].value


def tab(at, name: str, lang: str = "en"):
    """The page's tab `name` (kpi.tab.<name>), opened: only the open tab's content runs."""
    label = t(f"kpi.tab.{name}", lang)
    open_tab(at, "kpi_tabs", label)
    assert not at.exception
    return next(block for block in at.tabs if block.label == label)


def assert_tiles_match(at, username: str, month: str) -> dict:
    """Every headline tile shows core.metrics' figure and its change on the previous month."""
    with read_session() as session:
        now = metrics.month_kpis(
            session, rules=metric_rules(session), actor=actor(username), month=month
        )
        before = metrics.month_kpis(
            session,
            rules=metric_rules(session),
            actor=actor(username),
            month=metrics.previous_month(month),
        )
    shown = tiles(at)
    for label, key in TILES.items():
        value, delta = shown[label]
        assert value == f"{now[key]:,}", label
        assert delta == t("app.vs_previous", "en", delta=now[key] - before[key]), label
    assert shown["Revenue (¥)"][0] == f"¥{now['revenue']:,.2f}"
    assert shown["Revenue growth"][0] == f"{now['revenue_growth']:.1%}"
    for stage, label in (
        ("distrust", "Distrust"),
        ("weak_trust", "Weak trust"),
        ("strong_trust", "Strong trust"),
        ("super_trust", "Super trust"),
    ):
        assert shown[label][0] == f"{now['leads_by_stage'][stage]:,}"
    return now


def test_an_executive_reads_july_2019_as_the_case_study_published_it(demo_app):
    """The executive opens KPIs (on August 2019, the latest month), picks July 2019 and reads
    cumulative leads 15,026, orders 170 and valid orders 117 on the tiles."""
    at = open_page(PAGE, username="executive")
    assert not at.exception
    assert at.selectbox(key="kpi_month").value == "2019-08"
    assert tiles(at)["Cumulative leads"][0] == "25,055"
    at.selectbox(key="kpi_month").set_value("2019-07").run()
    assert not at.exception
    now = assert_tiles_match(at, "executive", "2019-07")
    shown = tiles(at)
    assert shown["Cumulative leads"] == ("15,026", t("app.vs_previous", "en", delta=7_852))
    assert shown["Orders"][0] == "170" and shown["Valid orders"][0] == "117"
    assert now["cumulative_leads"] == 15_026
    # The trend table runs month by month up to the chosen month.
    trend = tab(at, "trends").dataframe[0].value
    assert trend["Month"].tolist()[-1] == "2019-07"
    assert trend["Cumulative leads"].tolist()[-2:] == [7_174, 15_026]


def test_a_department_head_sees_the_same_page_for_their_department_only(demo_app):
    """The head of 内三科 opens KPIs: tiles, department comparison and leaderboards hold
    内三科's figures only, the same numbers core.metrics gives for that login."""
    at = open_page(PAGE, username="head")
    assert not at.exception
    at.selectbox(key="kpi_month").set_value("2019-07").run()
    now = assert_tiles_match(at, "head", "2019-07")
    assert 0 < now["cumulative_leads"] < 15_026
    assert "Figures of your department only: 内三科." in [c.value for c in at.caption]
    # Departments: 内三科 against the hospital, no other department named (issue 19).
    departments = tab(at, "departments").dataframe[0].value
    assert "Department" not in departments.columns
    row = departments[departments["Measure"] == "New leads per card"].iloc[0]
    assert row["Your department"] == f"{now['new_leads'] / now['cards_issued']:,.2f}"
    tab(at, "leaderboards")
    assert at.selectbox(key="kpi_board_department").options == ["内三科"]
    at.radio(key="kpi_board_period").set_value("ytd").run()
    for by in metrics.LEADERBOARD_MEASURES:
        frame = board(at, by)
        assert set(frame["Department"]) == {"内三科"}, by
    assert board(at, "valid_appointments").iloc[0]["Staff no."] == "S0066"


def test_the_case_study_staff_top_the_leaderboards(demo_app):
    """The office opens the leaderboards: 陈伟 (内三科, S0066) leads valid appointments in July
    and in August 2019; choosing "Year to date" shows the 妇产科 nurse with 774 leads on top."""
    at = open_page(PAGE, username="admin")
    tab(at, "leaderboards")
    top = board(at, "valid_appointments").iloc[0]
    assert (top["Staff no."], top["Name"], top["Department"]) == ("S0066", "陈伟", "内三科")
    assert top["Valid appointments"] == 18  # August 2019
    at.selectbox(key="kpi_month").set_value("2019-07").run()
    assert board(at, "valid_appointments").iloc[0]["Staff no."] == "S0066"
    assert board(at, "valid_appointments").iloc[0]["Valid appointments"] == 16

    at = open_page(PAGE, username="admin")
    tab(at, "leaderboards")
    at.radio(key="kpi_board_period").set_value("ytd").run()  # the second click
    assert not at.exception
    leads = board(at, "leads").iloc[0]
    assert (leads["Staff no."], leads["Department"], leads["Leads created"]) == (
        "S0140",
        "妇产科",
        774,
    )
    assert board(at, "valid_appointments").iloc[0]["Valid appointments"] == 34
    with read_session() as session:
        expected = metrics.leaderboard(
            session,
            actor=actor("admin"),
            first_month="2019-01",
            last_month="2019-08",
            by="valid_revenue",
            limit=10,
        )
    revenue = board(at, "valid_revenue")
    assert revenue["Staff no."].tolist() == expected["staff_no"].tolist()
    assert revenue["Valid order revenue (¥)"].tolist() == expected["value"].tolist()


def test_leaderboards_for_a_range_of_months_and_one_department(demo_app):
    """The office picks July to August and 妇产科: every board lists 妇产科 staff only, over
    both months."""
    at = open_page(PAGE, username="executive")
    tab(at, "leaderboards")
    at.radio(key="kpi_board_period").set_value("range").run()
    at.selectbox(key="kpi_board_from").set_value("2019-07").run()
    at.selectbox(key="kpi_board_to").set_value("2019-08").run()
    assert "2019-07 – 2019-08 · top 10 of each" in [c.value for c in at.caption]
    assert board(at, "valid_appointments").iloc[0]["Valid appointments"] == 34
    at.selectbox(key="kpi_board_department").set_value(_department_id("妇产科")).run()
    assert not at.exception
    for by in metrics.LEADERBOARD_MEASURES:
        assert set(board(at, by)["Department"]) == {"妇产科"}, by
    assert board(at, "leads").iloc[0]["Leads created"] == 372 + 356
    # A range given backwards is swapped, with a word about it.
    at.selectbox(key="kpi_board_from").set_value("2019-08").run()
    at.selectbox(key="kpi_board_to").set_value("2019-07").run()
    assert "The first month was after the last one; they have been swapped." in [
        w.value for w in at.warning
    ]
    assert board(at, "leads").iloc[0]["Leads created"] == 728


def _department_id(name: str) -> int:
    from core.models import Department

    with read_session() as session:
        return session.exec(select(Department.id).where(Department.name == name)).one()


def test_the_20_80_chart_lists_revenue_by_member(demo_app):
    """The office opens 20/80 for the year to date: members ranked by revenue, with their
    share and the cumulative share, as core.metrics computes them."""
    at = open_page(PAGE, username="admin")
    tab(at, "pareto")
    at.radio(key="kpi_pareto_period").set_value("ytd").run()
    assert not at.exception
    with read_session() as session:
        expected = metrics.revenue_by_member(
            session, actor=actor("admin"), first_month="2019-01", last_month="2019-08"
        )
    table = tab(at, "pareto").dataframe[0].value
    assert table["Member no."].tolist() == expected["member_no"].tolist()
    assert table["Cumulative share of revenue"].tolist() == expected["cumulative_share"].tolist()
    top = -(-len(expected) // 5)  # the top 20% of members: ceil(20% of them)
    share = f"{expected['cumulative_share'].iloc[top - 1]:.1%}"  # one decimal (issue 19)
    assert any(
        f"{len(expected)} members with valid orders; the top 20% ({top}) bring {share}"
        in caption.value
        for caption in at.caption
    )


@pytest.mark.parametrize("username", ["admin", "executive"])
def test_the_page_in_chinese_and_its_audited_downloads(demo_app, username):
    """An executive reading in Chinese sees Chinese labels and headers; downloading the
    department table writes an export row (who, what, how many rows) to the audit log."""
    at = open_page(PAGE, username=username, lang="zh")
    assert not at.exception
    assert [block.label for block in at.tabs] == [
        "本月概览",
        "趋势",
        "科室对比",
        "排行榜",
        "二八分析",
        "复诊与转介绍",
    ]
    assert tiles(at)["累计线索"][0] == "25,055"
    assert tiles(at)["累计线索"][1] == t("app.vs_previous", "zh", delta=10_029)
    departments = tab(at, "departments", "zh").dataframe[0].value
    assert departments.columns.tolist()[:6] == [
        "科室",
        "新增线索",
        "累计线索",
        "订单数",
        "有效订单",
        "营收(元)",
    ]
    assert len(departments) == 22
    at.download_button(key="kpi_departments_csv").click().run()
    assert not at.exception
    with read_session() as session:
        rows = session.exec(select(AuditLog).where(AuditLog.action == "export")).all()
    assert [(row.username, row.entity) for row in rows] == [(username, "kpi_departments")]
    assert json.loads(rows[0].detail) == {
        "rows": 22,
        "format": "csv",
        "file": "kpi-departments-2019-08",
    }
