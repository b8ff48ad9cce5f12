"""A save shows its new figures at once, on its own page and on every other page that reads
them: the pages' cached readers are named for the subjects they read, and every save clears
exactly the subjects it affects (issue 16, "a stale figure after a save on one page and not
another")."""

from __future__ import annotations

import ast
import base64
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from sqlmodel import Session

from core.db import make_engine
from core.domain import Role
from core.i18n import t
from core.services import settings as settings_service
from core.ui import admin as admin_ui
from tests.factories import make_department, make_lead, make_staff, make_user
from tests.pages.apptest import open_page, open_tab, texts

KPIS = "pages/6_KPIs.py"
MEMBERS = "pages/4_Members.py"
ADMIN = "pages/8_Admin.py"
MONTH = "2019-08"
LEAD_REF = "L-AUG-1"


@pytest.fixture
def august(app_database):
    """A hospital whose only month with data is August 2019: one staff member (card issued
    on 1 August) owning two August leads, nobody a member yet, and an admin login."""
    st.cache_data.clear()  # nothing cached by an earlier test on another database
    engine = make_engine(app_database)
    with Session(engine) as session:
        settings_service.ensure_defaults(session)
        department = make_department(session, name="Cardiology")
        staff = make_staff(
            session,
            department=department,
            staff_no="S-AUG",
            name="Wang Fang",
            card_issued_on=dt.date(2019, 8, 1),
        )
        make_lead(session, owner=staff, lead_ref=LEAD_REF, created_on=dt.date(2019, 8, 5))
        make_lead(session, owner=staff, lead_ref="L-AUG-2", created_on=dt.date(2019, 8, 6))
        make_user(session, role=Role.admin, username="office")
        session.commit()
    engine.dispose()
    st.cache_data.clear()
    yield app_database
    st.cache_data.clear()


def _converted_board(at) -> dict[str, int]:
    """The KPI page's "members converted" leaderboard: members by staff number."""
    heading = t("metrics.by.members_converted", "en")
    for frame in at.dataframe:
        if heading in frame.value.columns:
            shown = frame.value
            return dict(zip(shown[t("metrics.staff_no", "en")], shown[heading], strict=True))
    return {}  # the board says "no data"


def _metric(at, label: str) -> str:
    for metric in at.metric:
        if metric.label == label:
            return metric.value
    raise AssertionError(f"no tile labelled {label!r}")


def test_a_member_made_on_the_members_page_counts_at_once_on_the_kpi_leaderboard(august):
    """The office reads August's leaderboards (nobody converted yet), makes Wang Fang's lead
    a member on the Members page, and goes back to the KPIs: the "members converted" board
    shows her with 1 at once (the KPI page used to show its cached, empty board for five
    minutes: the Members page's save cleared only its own chart cache)."""
    at = open_page(KPIS, username="office")
    assert not at.exception
    assert at.selectbox(key="kpi_month").value == MONTH
    open_tab(at, "kpi_tabs", t("kpi.tab.leaderboards", "en"))
    assert not at.exception
    assert at.get_by_key("kpi_board_members_converted")  # the board is drawn, empty
    assert _converted_board(at) == {}

    at.switch_page(MEMBERS).run()
    assert not at.exception
    at.text_input(key="members_convert_lead").set_value(LEAD_REF)
    at.date_input(key="members_convert_joined").set_value(dt.date(2019, 8, 20))
    at.button(key="members_convert_submit").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == []
    assert f"{LEAD_REF} is now member" in texts(at)

    at.switch_page(KPIS).run()
    assert not at.exception
    open_tab(at, "kpi_tabs", t("kpi.tab.leaderboards", "en"))
    assert not at.exception
    assert _converted_board(at) == {"S-AUG": 1}


def test_points_awarded_on_the_members_page_show_at_once_in_its_charts(august):
    """The office makes the lead a member, opens the charts (August: no points earned),
    awards the new member 200 points dated 21 August, and opens the charts again: August's
    earned points read 200 and one member is counted in the tiers."""
    at = open_page(MEMBERS, username="office")
    at.text_input(key="members_convert_lead").set_value(LEAD_REF)
    at.date_input(key="members_convert_joined").set_value(dt.date(2019, 8, 20))
    at.button(key="members_convert_submit").click().run()
    assert not at.exception
    member_no = at.selectbox(key="members_open").value

    open_tab(at, "members_tab", t("members.tab.charts", "en"))
    assert not at.exception
    before = _earned_in(at, MONTH)

    open_tab(at, "members_tab", t("members.tab.list", "en"))
    assert at.selectbox(key="members_open").value == member_no
    at.selectbox(key="members_award_kind_en").set_value("event")
    at.number_input(key="members_award_points").set_value(200)
    at.date_input(key="members_award_date").set_value(dt.date(2019, 8, 21))
    at.button(key="members_award_submit").click().run()
    assert not at.exception
    assert "200 points awarded." in texts(at)

    open_tab(at, "members_tab", t("members.tab.charts", "en"))
    assert not at.exception
    assert _earned_in(at, MONTH) == before + 200


def _numbers(values) -> list:
    """A Plotly JSON array: a list, or typed binary data ({"dtype", "bdata"})."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def _earned_in(at, month: str) -> int:
    """August's "earned" bar of the Members page's points chart."""
    earned = t("members.flow.earned", "en")
    for chart in at.get("plotly_chart"):
        if not chart.proto.id.endswith("members_chart_points"):
            continue
        figure = json.loads(chart.proto.spec)
        for trace in figure["data"]:
            if trace.get("name") == earned:
                values = dict(zip(trace["x"], _numbers(trace["y"]), strict=True))
                return int(values.get(month, 0))
        return 0
    raise AssertionError("no points chart on the page")


def test_the_kpi_page_after_a_settings_change_shows_fresh_figures(august):
    """The office reads August on the KPIs (active staff need 50 leads: nobody), lowers the
    rule to 2 leads on the Admin page, and goes back: the tile reads "≥2 leads" and counts
    Wang Fang, who has two August leads."""
    at = open_page(KPIS, username="office")
    assert not at.exception
    assert _metric(at, t("metric.staff_active", "en", n=50)) == "0"

    at.switch_page(ADMIN).run()
    labels = [tab.label for tab in at.tabs]
    at.session_state["admin_tab"] = labels[admin_ui.TABS.index("settings")]
    at.run()
    at.button_group(key="set_section__en").set_value("cards").run()
    at.number_input(key="set_active_threshold").set_value(2).run()
    at.button(key="set_cards_save").click().run()
    assert not at.exception

    at.switch_page(KPIS).run()
    assert not at.exception
    assert _metric(at, t("metric.staff_active", "en", n=2)) == "1"


# --- Thin pages (issue 16, "Structure": pages read widgets, call services, draw results) ---

PAGES = sorted((Path(__file__).resolve().parents[2] / "pages").glob("*.py"))
MOST_PAGE_LINES = 250
# What building a table looks like: a DataFrame made, joined, grouped or its columns renamed.
FRAME_BUILDERS = {"DataFrame", "concat", "merge", "pivot_table", "groupby", "rename"}


def _frame_builders(source: str) -> list[str]:
    """The top-level functions of a page that build or reshape a DataFrame: said to return
    one, or calling one of `FRAME_BUILDERS`."""
    found = []
    for node in ast.parse(source).body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        returns = ast.unparse(node.returns) if node.returns else ""
        calls = {
            call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
            for call in ast.walk(node)
            if isinstance(call, ast.Call)
        }
        if "DataFrame" in returns or calls & FRAME_BUILDERS:
            found.append(node.name)
    return found


def test_every_page_is_short():
    """Every page file lays its page out and no more: at most 250 lines each (the Staff &
    cards page was 964 lines and the Lead board 694, with their tables and rules inline);
    tables and charts are built in core/ui, rules live in core."""
    assert PAGES
    long = {
        path.name: lines
        for path in PAGES
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MOST_PAGE_LINES
    }
    assert long == {}


def test_no_page_builds_tables_itself():
    """No page defines a function that builds a table (a DataFrame made, renamed, grouped or
    joined): the Staff & cards page's roster, team and export tables and the Lead board's
    chart data are built in core/ui, where other pages and tests reach them too."""
    builders = {
        path.name: names
        for path in PAGES
        if (names := _frame_builders(path.read_text(encoding="utf-8")))
    }
    assert builders == {}
