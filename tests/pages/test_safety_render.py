"""Safe to run in a real hospital, the output side (finding 8): whatever a user typed — a
lead's, member's, staff member's or department's name, a tag, a campaign, a briefcase item,
a script — is drawn as the text it is, never as Markdown. A lead named
`![t](http://198.51.100.1/x.png)` must not make every viewer's browser fetch that address,
`[Click to verify](http://…)` must not be a live link, a tag must not draw a red badge."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from core.db import write_session
from core.domain import Role
from core.i18n import t
from core.models import (
    AppUser,
    CampaignCreate,
    Department,
    Interaction,
    InteractionCreate,
    Lead,
    Member,
    Staff,
)
from core.permissions import Actor
from core.services import campaigns, content, handoffs, leads, members
from core.ui import admin as admin_ui
from core.ui import board as board_ui
from core.ui.navigation import PAGES
from core.ui.text import plain
from tests.pages.apptest import open_page, open_tab

IMAGE = "![t](http://198.51.100.1/x.png)"
LINK = "[Click to verify](http://198.51.100.1/)"
BADGE = ":red-badge[VIP]"
BOLD = "**bold**"
HOSTILE = f"{BOLD} {IMAGE} {LINK} {BADGE}"  # 94 characters: fits every name column
TAG = f"{BADGE}{IMAGE}"  # a tag is at most 50 characters
# Markdown only user text can bring (the app's own badges say `:red-badge[No consent]`), as
# it would be drawn: not escaped by a backslash.
FORBIDDEN = (
    re.compile(r"(?<!\\)\]\(http"),  # a link or an image's address
    re.compile(r"!\[t"),  # an image
    re.compile(r"(?<!\\)\[Click to verify"),  # a link
    re.compile(r":red-badge\[VIP"),  # a badge
    re.compile(r"\*\*bold"),  # bold
    re.compile(r"https?://|www\.", re.IGNORECASE),  # a bare address: GitHub links it
)

DEMO_LOGIN = {
    Role.admin: "admin",
    Role.executive: "executive",
    Role.dept_head: "head",
    Role.marketer: "marketer",
    Role.consultant: "consultant",
    Role.staff: "staff",
}
# Element types whose strings are plain text in the browser (no Markdown): option lists of
# select boxes, typed values, tables and charts, and the drag-and-drop component.
PLAIN_TYPES = {
    "selectbox",
    "multiselect",
    "text_input",
    "text_area",
    "number_input",
    "date_input",
    "arrow_data_frame",
    "dataframe",
    "table",
    "plotly_chart",
    "component_instance",
    "download_button",
    "select_slider",
}
MARKDOWN_FIELDS = ("body", "label", "title", "value", "help", "caption", "text", "options")


def test_plain_escapes_everything_markdown_would_draw():
    """`plain()` keeps the characters and removes their meaning: images, links, directives,
    emphasis, LaTeX, HTML, headings, lists, quotes, icons and autolinks."""
    joiner = "\u2060"  # invisible: breaks what is linked or replaced after parsing
    assert plain(IMAGE) == f"\\!\\[t\\](http:{joiner}//198.51.100.1/x.png)"
    assert plain(LINK) == f"\\[Click to verify\\](http:{joiner}//198.51.100.1/)"
    assert plain(BADGE) == "\\:red-badge\\[VIP\\]"
    assert plain("tag :red-badge") == "tag \\:red-badge"  # a bare directive: an empty badge
    assert plain(BOLD) == "\\*\\*bold\\*\\*"
    assert plain("$x^2$ <img src=x> ~~a~~ `b` a_b_") == (
        "\\$x^2\\$ \\<img src=x\\> \\~\\~a\\~\\~ \\`b\\` a\\_b\\_"
    )
    assert plain("# Title\n- item\n> quote\n1. first\n---") == (
        "\\# Title\n\\- item\n\\> quote\n1\\. first\n\\---"
    )
    assert plain("    code") == "code"
    assert plain("see :material/warning: a@b.com www.x.cn") == (
        f"see :{joiner}material/warning: a@{joiner}b.com www{joiner}.x.cn"
    )
    # What means nothing stays as typed.
    assert plain("陈小红 M-L000001 2019-08-31 10:30 (ext. 3) 5!") == (
        "陈小红 M-L000001 2019-08-31 10:30 (ext. 3) 5!"
    )
    assert plain(None) == "" and plain(float("nan")) == ""
    assert plain(42) == "42"
    for sequence in FORBIDDEN:
        assert not sequence.search(plain(HOSTILE))


# --- The hostile hospital -------------------------------------------------------------------


@pytest.fixture
def hostile(demo_app) -> dict:
    """The demo hospital where users typed Markdown everywhere: 内三科 is renamed, and so is
    the physician 陈伟 (and his login's display name); he owns a new hot lead with a Markdown
    tag in a Markdown campaign, handed to the consultant, and a member; the library holds a
    script, a content piece and a briefcase item with Markdown titles and bodies."""
    system = Actor.system()
    with write_session() as session:
        physician_user = session.execute(
            select(AppUser).where(AppUser.username == "staff")
        ).scalar_one()
        physician = session.get(Staff, physician_user.staff_id)
        physician.name = HOSTILE
        physician_user.display_name = HOSTILE
        department = session.get(Department, physician.department_id)
        department.name = HOSTILE
        session.add_all([physician, physician_user, department])
        campaign = campaigns.create_campaign(
            session,
            actor=system,
            data=CampaignCreate(
                code="MD-1",
                name=HOSTILE,
                type="free_clinic",
                starts_on=dt.date(2019, 8, 1),
                ends_on=dt.date(2019, 8, 31),
                pdca_plan=HOSTILE,
                owner_staff_id=physician.id,
            ),
        )
        lead = Lead(
            lead_ref="L-MARKDOWN",
            name=HOSTILE,
            phone="13012346853",
            owner_staff_id=physician.id,
            campaign_id=campaign.id,
            created_on=dt.date(2019, 8, 1),
            tags=TAG,
        )
        session.add(lead)
        session.flush()
        for day in (2, 3):
            leads.record_interaction(
                session,
                actor=system,
                lead_id=lead.id,
                data=InteractionCreate(
                    kind="livestream", occurred_on=dt.date(2019, 8, day), note=HOSTILE
                ),
            )
        consultant = session.execute(
            select(AppUser).where(AppUser.username == "consultant")
        ).scalar_one()
        handoffs.hand_off(
            session, actor=system, lead_id=lead.id, consultant_user_id=consultant.id, note=HOSTILE
        )
        member = Member(
            member_no="M-MARKDOWN",
            name=HOSTILE,
            phone="13912346853",
            joined_on=dt.date(2019, 8, 1),
            owner_staff_id=physician.id,
        )
        session.add(member)
        members.create_reward(session, actor=system, name=HOSTILE, points_cost=10, stock=5)
        for kind in ("script", "content", "briefcase"):
            content.create_piece(
                session,
                actor=system,
                kind=kind,
                title=HOSTILE,
                body=f"{HOSTILE}\n{HOSTILE}",
                condition=BADGE if kind == "script" else None,
                content_type="story" if kind == "content" else None,
            )
        session.flush()
        ids = {"lead": lead.id, "campaign": campaign.id, "staff_no": physician.staff_no}
    return ids


# --- Walking a page -------------------------------------------------------------------------


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple) or type(value).__name__.startswith("Repeated"):
        return [item for item in value if isinstance(item, str)]
    return []


def _markdown_strings(at) -> list[str]:
    """Every string the browser draws as Markdown: bodies, labels, titles, tooltips, metric
    values and radio options, in the main area, the sidebar and open dialogs."""
    found = []

    def walk(node) -> None:
        kind = getattr(node, "type", "")
        proto = getattr(node, "proto", None)
        if proto is not None and kind not in PLAIN_TYPES:
            stack = [proto]
            while stack:
                message = stack.pop()
                for field, value in message.ListFields():
                    if field.message_type is None:
                        if field.name in MARKDOWN_FIELDS:
                            found.extend(_strings(value))
                    elif hasattr(value, "ListFields"):
                        stack.append(value)
                    else:  # a repeated message field
                        stack.extend(item for item in value if hasattr(item, "ListFields"))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return found


def _check(at, where: str, seen: list[str]) -> None:
    assert not at.exception, (where, at.exception)
    shown = _markdown_strings(at)
    for text in shown:
        for sequence in FORBIDDEN:
            assert not sequence.search(text), f"{where}: Markdown from user text drawn: {text!r}"
    seen.extend(shown)


def _tab_runs(at, key: str, labels: list[str], where: str, seen: list[str]) -> None:
    """Open each of a lazy tab group's tabs in turn (only the open tab draws)."""
    for label in labels:
        at.session_state[key] = label
        at.run()
        _check(at, f"{where} · {label}", seen)


def _board(at, role, hostile, where, seen) -> None:
    at.session_state["board_view_en"] = t("board.tab.board", "en")
    at.run()
    at.text_input(key="board_search").set_value("L-MARKDOWN").run()
    _check(at, f"{where} · search", seen)
    views = ["my_handoffs", "board", "analytics"] if role == Role.consultant else []
    views = views or ["board", "handoffs", "analytics"]
    _tab_runs(at, "board_view_en", [t(f"board.tab.{v}", "en") for v in views], where, seen)
    at.session_state["board_view_en"] = t("board.tab.board", "en")
    at.session_state[board_ui.OPEN_LEAD] = hostile["lead"]
    at.session_state[board_ui.OPEN_VERSION] = None
    at.run()
    _check(at, f"{where} · lead dialog", seen)


def _members(at, role, hostile, where, seen) -> None:
    at.text_input(key="members_search").set_value("M-MARKDOWN").run()
    _check(at, f"{where} · member", seen)
    labels = [t(f"members.tab.{name}", "en") for name in ("list", "rewards", "care", "tiers")]
    _tab_runs(at, "members_tab", labels, where, seen)


def _other_tabs(key: str):
    """Open every tab after the first of a page whose tabs draw lazily (key: per language)."""

    def runs(at, role, hostile, where, seen) -> None:
        labels = [tab.label for tab in at.tabs][1:]
        _tab_runs(at, key, labels, where, seen)

    return runs


def _campaigns(at, role, hostile, where, seen) -> None:
    if role in (Role.admin, Role.executive, Role.marketer):
        at.selectbox(key="camp_detail").set_value(hostile["campaign"]).run()
        _check(at, f"{where} · campaign", seen)
        _other_tabs("campaigns_tab")(at, role, hostile, where, seen)


def _admin(at, role, hostile, where, seen) -> None:
    labels = [t(f"admin.tab_{name}", "en") for name in admin_ui.TABS]
    _tab_runs(at, "admin_tab", labels, where, seen)
    at.session_state["admin_tab"] = t("admin.tab_tables", "en")
    at.run()
    at.text_input(key="ta_staff_search").set_value(hostile["staff_no"]).run()
    pick = at.selectbox(key="ta_staff_remove_pick__en")
    pick.set_value(pick.options[0]).run()
    at.button(key="ta_staff_remove").click().run()  # asks to confirm, naming the row
    _check(at, f"{where} · remove a staff member", seen)


DRAWN_AS_CHARTS_ONLY = {"pages/2_Card_activation.py"}  # department names on chart axes
MORE = {
    "pages/1_Staff_and_cards.py": _other_tabs("staff_tab"),
    "pages/3_Lead_board.py": _board,
    "pages/4_Members.py": _members,
    "pages/5_Campaigns.py": _campaigns,
    "pages/6_KPIs.py": _other_tabs("kpi_tabs"),
    "pages/8_Admin.py": _admin,
}


@pytest.mark.parametrize("page", PAGES, ids=[page.title_key for page in PAGES])
def test_finding_8_user_text_renders_as_text(hostile, page):
    """Every role that may open the page opens it (and its tabs, the hostile lead's dialog,
    member and campaign where the page has them): no Markdown typed by a user is drawn as
    Markdown anywhere, and the names still show, escaped, as the text that was typed."""
    path = None if page.path == "Home.py" else page.path
    seen: list[str] = []
    for role in sorted(page.roles, key=str):
        where = f"{page.path} as {role}"
        at = open_page(path, username=DEMO_LOGIN[role])
        _check(at, where, seen)
        if page.path in MORE:
            MORE[page.path](at, role, hostile, where, seen)
    if page.path not in DRAWN_AS_CHARTS_ONLY:
        assert any(plain(HOSTILE) in text for text in seen), f"{page.path}: the names show"


# --- Finding 9 on the page: a refusal is explained, and nothing typed is lost -----------------


def test_finding_9_a_refused_note_is_explained_in_chinese_and_kept(hostile):
    """The physician, in Chinese, records a call on his lead with a note that is a
    spreadsheet formula: the dialog says why in Chinese (the importer's words), nothing is
    recorded, and the note he typed is still in the field to correct."""

    def recorded() -> int:
        with write_session() as session:
            return session.execute(
                select(func.count()).where(Interaction.lead_id == hostile["lead"])
            ).scalar()

    before = recorded()
    at = open_page("pages/3_Lead_board.py", username="staff", lang="zh")
    at.session_state[board_ui.OPEN_LEAD] = hostile["lead"]
    at.run()
    formula = "=cmd|' /C calc'!A0"
    at.text_input(key="detail_note").set_value(formula)
    [submit] = [b for b in at.button if b.label == t("board.interaction.submit", "zh")]
    submit.click().run()
    assert not at.exception
    errors = " ".join(str(e.value) for e in at.error)
    assert "备注" in errors and "不接受公式" in errors, errors
    assert at.text_input(key="detail_note").value == formula
    assert recorded() == before


def test_finding_9_a_refused_staff_name_keeps_the_form(hostile):
    """An administrator adds a staff member whose name hides a right-to-left override: the
    page refuses it with the importer's words and keeps every field as typed."""
    at = open_page("pages/1_Staff_and_cards.py", username="admin")
    open_tab(at, "staff_tab", t("staff.tab.edit", "en"))  # only the open tab runs
    name = "Li\u202eLei"
    at.text_input(key="staff_add_no").set_value("S-RTL")
    at.text_input(key="staff_add_name").set_value(name)
    at.button(key="staff_add_submit").click().run()
    assert not at.exception
    errors = " ".join(str(e.value) for e in at.error)
    assert "Name: contains control characters" in errors, errors
    assert at.text_input(key="staff_add_name").value == name
    assert at.text_input(key="staff_add_no").value == "S-RTL"
    with write_session() as session:
        assert session.execute(select(Staff).where(Staff.staff_no == "S-RTL")).first() is None


def test_finding_8_chart_texts_are_drawn_as_text():
    """A staff or campaign name in a chart (axis category, legend name, hover text) cannot
    become a live link or a styled badge: its HTML is escaped, and Plotly shows it as typed."""
    import plotly.graph_objects as go

    from core.ui.text import plain_figure

    hostile = '<a href="http://198.51.100.1/">Click to verify</a>'
    figure = go.Figure(
        go.Bar(x=[hostile, "张伟"], y=[3, 4], name='<span style="color:red">VIP</span>')
    )
    figure.add_trace(go.Scatter(x=[1], y=[2], text=[hostile], hovertext=hostile))
    shown = plain_figure(figure).to_plotly_json()
    spec = str(shown["data"])
    assert "<a " not in spec and "<span" not in spec
    assert "&lt;a href=" in spec and "张伟" in spec
    assert shown["data"][0]["y"] == (3, 4) or list(shown["data"][0]["y"]) == [3, 4]


def test_every_chart_is_drawn_through_the_escaping_helper():
    """Pages and UI modules draw charts only with core.ui.text.show_chart (which escapes)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = [
        str(path.relative_to(root))
        for path in [
            *root.glob("pages/*.py"),
            *(root / "core" / "ui").rglob("*.py"),
            root / "Home.py",
        ]
        if path.name != "text.py" and "st.plotly_chart(" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
