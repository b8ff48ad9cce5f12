"""Only the open tab runs on Staff & cards, Campaigns and KPIs (issue 21: a warm run within 10×
the empty page's). A tab the user has not opened draws nothing and reads nothing; opening it
draws its controls and tables at once, read then."""

from __future__ import annotations

import pytest
import streamlit as st

from core import metrics
from core.i18n import t
from core.services import content as library
from core.services import staff as staff_service
from core.ui import kpis as kpi_ui
from tests.pages.apptest import count_calls, open_page, open_tab

STAFF = "pages/1_Staff_and_cards.py"
CAMPAIGNS = "pages/5_Campaigns.py"
KPIS = "pages/6_KPIs.py"


def _keys(at) -> set[str]:
    """The keys of every keyed widget and element on the page."""
    return {node.key for node in at if getattr(node, "key", None)}


@pytest.fixture
def cold(demo_app):
    """The demo hospital with nothing cached: a read a tab makes is seen when it runs."""
    st.cache_data.clear()
    yield demo_app
    st.cache_data.clear()


def test_staff_and_cards_draws_card_actions_only_when_opened(cold, monkeypatch):
    """The administrator opens Staff & cards on the Roster: the card actions' controls are not
    drawn and the people each action may take are not read; opening Card actions draws them
    (and the roster's download goes away with its tab)."""
    calls = count_calls(monkeypatch, staff_service, "card_action_candidates")
    at = open_page(STAFF, username="admin")
    assert not at.exception
    shown = _keys(at)
    assert "staff_roster_download_xlsx" in shown
    assert not {"cards_action_en", "cards_apply", "onboard_submit"} & shown
    assert calls == []

    open_tab(at, "staff_tab", t("staff.tab.cards", "en"))
    assert not at.exception
    shown = _keys(at)
    assert {"cards_action_en", "cards_apply"} <= shown
    assert "staff_roster_download_xlsx" not in shown
    assert calls


def test_campaigns_reads_the_library_only_when_it_is_opened(cold, monkeypatch):
    """The marketer opens Campaigns on the list: the content library's search box and new-
    script form are not drawn and no library item is read; opening Content library shows
    them, and the list's campaign picker is gone with its tab."""
    calls = count_calls(monkeypatch, library, "list_pieces")
    at = open_page(CAMPAIGNS, username="marketer")
    assert not at.exception
    shown = _keys(at)
    assert "camp_detail" in shown
    assert not {"lib_query", "piece_script_new_save"} & shown
    assert calls == []

    open_tab(at, "campaigns_tab", t("campaigns.tab.library", "en"))
    assert not at.exception
    shown = _keys(at)
    assert {"lib_query", "piece_script_new_save"} <= shown
    assert "camp_detail" not in shown
    assert calls


def test_kpis_read_the_leaderboards_and_build_charts_only_for_the_open_tab(cold, monkeypatch):
    """The executive opens KPIs on the month at a glance: no leaderboard is drawn or read,
    and no department table is offered for download; opening Leaderboards draws the boards
    (and builds none of the other tabs' charts), opening Trends builds the month's charts."""
    boards = count_calls(monkeypatch, metrics, "leaderboard")
    at = open_page(KPIS, username="executive")
    assert not at.exception
    shown = _keys(at)
    assert "kpi_glance_xlsx" in shown
    assert not {"kpi_board_department", "kpi_board_leads", "kpi_departments_xlsx"} & shown
    assert boards == []

    open_tab(at, "kpi_tabs", t("kpi.tab.leaderboards", "en"))
    assert not at.exception
    shown = _keys(at)
    assert {"kpi_board_department", "kpi_board_leads"} <= shown
    assert "kpi_glance_xlsx" not in shown
    assert len(boards) == len(metrics.LEADERBOARD_MEASURES)

    charts = count_calls(monkeypatch, kpi_ui, "month_charts")
    at.run()  # a click on the leaderboards
    assert not at.exception
    assert charts == []
    open_tab(at, "kpi_tabs", t("kpi.tab.trends", "en"))
    assert not at.exception
    assert charts == ["month_charts"]
    assert "kpi_trend_leads_chart" in {
        c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")
    }


@pytest.mark.parametrize(
    ("page", "username", "key", "label_key", "first", "later"),
    [
        (
            STAFF,
            "admin",
            "staff_tab",
            "staff.tab.cards",
            "staff_roster_download_xlsx",
            "cards_apply",
        ),
        (
            CAMPAIGNS,
            "marketer",
            "campaigns_tab",
            "campaigns.tab.library",
            "camp_detail",
            "lib_query",
        ),
        (
            KPIS,
            "executive",
            "kpi_tabs",
            "kpi.tab.leaderboards",
            "kpi_glance_xlsx",
            "kpi_board_leads",
        ),
    ],
    ids=["staff", "campaigns", "kpis"],
)
def test_switching_language_keeps_the_open_tab_open(
    demo_app, page, username, key, label_key, first, later
):
    """A user on a later tab switches to Chinese: the page redraws, without an error, with its
    tabs in Chinese and the same tab open (its content only, not the first tab's)."""
    at = open_tab(open_page(page, username=username), key, t(label_key, "en"))
    assert not at.exception
    shown = _keys(at)
    assert later in shown and first not in shown
    at.radio(key="language_picker").set_value("zh").run()
    assert not at.exception
    assert at.session_state[key] == t(label_key, "zh")
    assert t(label_key, "zh") in [tab.label for tab in at.tabs]
    shown = _keys(at)
    assert later in shown and first not in shown
