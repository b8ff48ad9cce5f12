"""The page layout under AppTest (issue 19, item 9): a month picker only in the tabs it
drives, one import screen, the important columns of a head's team first, every chart's
legend at its foot, and the phone menu's script on every page (tests/e2e/test_layout.py
checks the same in a real browser)."""

from __future__ import annotations

import json

import pytest

from core.i18n import t
from tests.pages.apptest import open_page, open_tab, texts

STAFF = "pages/1_Staff_and_cards.py"
MONTH = {"en": "Month", "zh": "月份"}


def _month_pickers(block, lang: str = "en") -> list:
    return [box for box in block.selectbox if box.label == MONTH[lang]]


def _tabs(at) -> dict:
    return {tab.label: tab for tab in at.tabs}


def _staff_tab(at, name: str, lang: str = "en"):
    """Open the Staff & cards tab `name` (only the open tab's content runs)."""
    open_tab(at, "staff_tab", t(f"staff.tab.{name}", lang))
    assert not at.exception
    return at


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_month_picker_is_only_in_the_tabs_it_drives(demo_app, lang):
    """The administrator opens Staff & cards: the Roster and the Follow-up list each have a
    month picker; Card actions, Add / edit, Onboarding, Offboarding and Reassign, which
    ignore the month, have none, and no picker stands above the tabs."""
    at = open_page(STAFF, username="admin", lang=lang)
    assert not at.exception
    labels = list(_tabs(at))
    assert len(labels) == 7
    with_picker = set()
    for label in labels:  # each tab in turn: only the open tab's content runs
        open_tab(at, "staff_tab", label)
        assert not at.exception, label
        in_tab = _month_pickers(_tabs(at)[label], lang)
        assert len(_month_pickers(at, lang)) == len(in_tab) <= 1, "no picker outside the tab"
        if in_tab:
            with_picker.add(label)
    roster, follow_up = (("Roster", "Follow-up list"), ("员工名册", "跟进名单"))[lang == "zh"]
    assert with_picker == {roster, follow_up}


def test_a_month_picked_in_one_tab_is_the_month_of_the_others(demo_app):
    """The head picks July in My team: the follow-up list's picker shows July too, and the
    figures say July."""
    at = open_page(STAFF, username="head")
    team = at.selectbox(key="staff_month_team")
    assert team.value == "2019-08", "opens on the latest month with data"
    team.set_value("2019-07").run()
    assert not at.exception
    assert "Figures for 2019-07" in texts(at)
    _staff_tab(at, "follow_up")
    assert at.selectbox(key="staff_month_follow_up").value == "2019-07"
    assert "as of 2019-07-31" in texts(at)  # the follow-up list is July's too


def test_staff_and_cards_has_no_second_import_screen(demo_app):
    """The administrator looks for the staff import on Staff & cards: there is no upload
    there, only a line pointing to Admin → Import and a button that opens it; the button
    lands on the Admin page with its Import tab open. The marketing office sees neither."""
    at = open_page(STAFF, username="admin")
    assert not at.exception
    _staff_tab(at, "edit")
    assert not at.get("file_uploader")
    assert "Import" not in _tabs(at)
    assert "Admin → Import" in texts(at)
    at.button(key="staff_open_import").click().run()
    assert not at.exception
    assert at.session_state["admin_tab"] == "Import"
    assert at.file_uploader(key="imp_file"), "Admin's import, open on its Import tab"
    # The marketing office adds staff one by one but may not import staff files: no upload
    # and no pointer to a screen they cannot open.
    office = _staff_tab(open_page(STAFF, username="marketer"), "edit")
    assert "Add / edit staff" in _tabs(office) and not office.get("file_uploader")
    assert not [b for b in office.button if b.key == "staff_open_import"]


def test_a_heads_team_table_starts_with_what_a_head_reads(demo_app):
    """On a phone a table shows four or five columns: the head's team table starts with the
    name (kept in view when scrolling), this month's leads and valid orders, and the card."""
    at = open_page(STAFF, username="head")
    assert not at.exception
    team = at.dataframe[0]
    headers = list(team.value.columns)
    assert headers[:5] == [
        "Name",
        "Rank (leads)",
        "New leads",
        "Valid orders",
        "Card",
    ], headers
    config = json.loads(team.proto.columns or "{}")
    assert config["Name"].get("pinned") is True


def _legends(at) -> list[tuple[str, dict]]:
    """(chart title, legend settings) of every chart on the page that shows a legend."""
    found = []
    for chart in at.get("plotly_chart"):
        layout = json.loads(chart.proto.spec or "{}").get("layout", {})
        if layout.get("showlegend") is False:
            continue
        title = layout.get("title", {})
        found.append((title.get("text", "") if isinstance(title, dict) else title, layout))
    return found


@pytest.mark.parametrize(
    ("page", "username", "key"),
    [
        ("pages/5_Campaigns.py", "marketer", "campaigns_tab"),
        ("pages/6_KPIs.py", "admin", "kpi_tabs"),
    ],
    ids=["campaigns", "kpis"],
)
def test_every_chart_legend_sits_at_the_foot_of_its_chart(demo_app, page, username, key):
    """Campaigns (charts with titles) and KPIs: every legend is one row at the chart's foot,
    never above the plot where it covered the chart's title and sat under its toolbar."""
    at = open_page(page, username=username)
    assert not at.exception
    legends = []
    for label in [tab.label for tab in at.tabs]:  # each tab in turn (only the open one runs)
        open_tab(at, key, label)
        assert not at.exception, label
        legends += _legends(at)
    assert legends, "the page draws charts with legends"
    for title, layout in legends:
        legend = layout.get("legend", {})
        where = (legend.get("yref"), legend.get("y"), legend.get("yanchor"))
        assert where == ("container", 0, "bottom"), (title, legend)


def test_every_page_carries_the_phone_menu_script_hidden(demo_app):
    """Signed in, every page carries the script that closes the menu after a choice on a
    narrow screen, inside a container the style sheet hides; the sign-in form sits in its
    own narrow column."""
    anonymous = open_page(STAFF)
    assert not anonymous.exception
    style = " ".join(h.proto.body for h in anonymous.get("html"))
    assert ".st-key-login_box {max-width: 420px" in style
    assert ".st-key-app_menu_script {display: none;}" in style
    at = open_page(STAFF, username="staff")
    assert not at.exception
    scripts = [h for h in at.get("html") if "stSidebarCollapseButton" in h.proto.body]
    assert len(scripts) == 1 and scripts[0].proto.unsafe_allow_javascript
