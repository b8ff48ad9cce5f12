"""No user-visible label is a raw catalogue key or a raw field name (issue 19, item 6).

Every page a role may open is walked under AppTest in English and Chinese; every title,
heading, caption, widget label and option, tab, expander, metric label, table column header
(as drawn, after `column_config` renames) and chart axis, legend and trace name is collected.
A text that is an i18n key (`area.thing`, what `t()` shows when a key is missing) or a
snake_case field name (`staff_no`, `department_id`) or "None"/"nan" fails the test."""

from __future__ import annotations

import json
import re

import pytest

from core.domain import Role
from core.i18n import CATALOGUE
from core.ui.navigation import PAGES
from tests.pages.apptest import open_page, open_tab

DEMO_LOGIN = {
    Role.admin: "admin",
    Role.executive: "executive",
    Role.dept_head: "head",
    Role.marketer: "marketer",
    Role.consultant: "consultant",
    Role.staff: "staff",
}
CHECKED_PAGES = (
    "Home.py",
    "pages/0_My_day.py",
    "pages/1_Staff_and_cards.py",
    "pages/2_Card_activation.py",
    "pages/3_Lead_board.py",
    "pages/4_Members.py",
    "pages/5_Campaigns.py",
    "pages/6_KPIs.py",
    "pages/7_Commission.py",
    "pages/8_Admin.py",
)
# Pages whose tabs draw lazily (only the open one runs): each tab is opened in turn. The
# tabs' key, per language where their labels follow it.
TABBED_PAGES = {
    "pages/1_Staff_and_cards.py": "staff_tab",
    "pages/3_Lead_board.py": "board_view_{lang}",
    "pages/4_Members.py": "members_tab",
    "pages/5_Campaigns.py": "campaigns_tab",
    "pages/6_KPIs.py": "kpi_tabs",
    "pages/8_Admin.py": "admin_tab",
}
AREAS = {key.split(".", 1)[0] for key in CATALOGUE}
KEY_LIKE = re.compile(r"^([a-z_]+)(\.[a-z0-9_]+)+$")
FIELD_LIKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")
EMPTY_WORDS = {"None", "none", "nan", "NaN", "null", "NaT"}


def raw_reason(text: str) -> str | None:
    """Why `text` is not a label a user should read, or None when it is fine."""
    text = str(text).strip()
    match = KEY_LIKE.match(text)
    if match and match.group(1) in AREAS:
        return "i18n key"
    if FIELD_LIKE.match(text):
        return "field name"
    if text in EMPTY_WORDS:
        return "empty value"
    return None


def _column_headers(table) -> list[str]:
    """The headers a user sees on a st.dataframe / st.data_editor: labels from column_config,
    else the column's own name; hidden columns and a hidden index left out."""
    config = json.loads(table.proto.columns or "{}")
    frame = table.value
    order = list(table.proto.column_order) or [str(name) for name in frame.columns]
    headers = []
    for name in order:
        settings = config.get(str(name), {})
        if settings.get("hidden"):
            continue
        headers.append(settings.get("label") or str(name))
    index = config.get("_index", {})
    if not index.get("hidden"):
        headers.extend(str(name) for name in frame.index.names if name is not None)
    return headers


def _chart_labels(chart) -> list[str]:
    figure = json.loads(chart.proto.spec or "{}")
    layout = figure.get("layout", {})
    found = []
    for name, axis in layout.items():
        if name.startswith(("xaxis", "yaxis", "coloraxis")) and isinstance(axis, dict):
            title = axis.get("title")
            text = title.get("text") if isinstance(title, dict) else title
            if text:
                found.append(text)
    legend = layout.get("legend", {}).get("title", {})
    if isinstance(legend, dict) and legend.get("text"):
        found.append(legend["text"])
    for trace in figure.get("data", []):
        if trace.get("name") and trace.get("showlegend", True) is not False:
            found.append(trace["name"])
    return found


def visible_labels(at) -> list[tuple[str, str]]:
    """(where, text) for every label on the page."""
    found: list[tuple[str, str]] = []
    for kind in ("title", "header", "subheader", "caption"):
        found.extend((kind, element.value) for element in getattr(at, kind))
    for kind in (
        "button",
        "checkbox",
        "toggle",
        "text_input",
        "text_area",
        "number_input",
        "date_input",
        "selectbox",
        "multiselect",
        "radio",
        "select_slider",
    ):
        for widget in getattr(at, kind):
            found.append((f"{kind} label", widget.label))
            for option in getattr(widget, "options", []) or []:
                found.append((f"{kind} option", option))
    found.extend(("tab", tab.label) for tab in at.tabs)
    found.extend(("expander", element.label) for element in at.expander)
    found.extend(("metric", metric.label) for metric in at.metric)
    for table in at.dataframe:
        found.extend(("column", header) for header in _column_headers(table))
    for chart in at.get("plotly_chart"):
        found.extend(("chart", text) for text in _chart_labels(chart))
    return found


def _labels_of_every_tab(at, path: str) -> list[tuple[str, str]]:
    """The page's labels; on a page whose tabs draw lazily, those of every tab."""
    found = visible_labels(at)
    state_key = TABBED_PAGES.get(path)
    if state_key is None:
        return found
    for label in [tab.label for tab in at.tabs][1:]:
        open_tab(at, state_key.format(lang=at.session_state["lang"]), label)
        assert not at.exception, label
        found.extend((f"{label}: {where}", text) for where, text in visible_labels(at))
    return found


@pytest.mark.parametrize(
    ("role", "path"),
    [
        (role, page.path)
        for role in Role
        for page in PAGES
        if page.path in CHECKED_PAGES and role in page.roles
    ],
    ids=lambda value: str(value).rsplit("/", 1)[-1].removesuffix(".py"),
)
def test_every_label_on_the_page_reads_as_words(demo_app, role, path):
    """A user of each role opens the page in English and in Chinese: every heading, label,
    option, tab, column header and chart axis reads as words in their language, never as a
    catalogue key, a database column name or "None"."""
    offenders = []
    for lang in ("en", "zh"):
        at = open_page(None if path == "Home.py" else path, username=DEMO_LOGIN[role], lang=lang)
        assert not at.exception
        for where, text in _labels_of_every_tab(at, path):
            reason = raw_reason(text)
            if reason:
                offenders.append(f"{lang} {where}: {text!r} ({reason})")
    assert not offenders, "\n".join(sorted(set(offenders)))


def test_the_check_flags_what_a_user_should_never_read():
    """The rule itself: keys, snake_case field names and None fail; words pass."""
    assert raw_reason("login.success") == "i18n key"
    assert raw_reason("staff_no") == "field name"
    assert raw_reason("card_issued_on") == "field name"
    assert raw_reason("None") == "empty value"
    for fine in ("Staff no.", "员工编号", "2019-08", "¥4,290.00", "Weak trust", "v1.2"):
        assert raw_reason(fine) is None


def test_every_model_field_has_words_in_both_languages():
    """Whatever column of whatever table a screen shows, `field_label` gives words, in
    English and Chinese, for it: "Card issued on" / "名片授权日期", never `card_issued_on`."""
    from sqlmodel import SQLModel

    import core.models  # noqa: F401  (registers every table)
    from core.i18n.fields import cell_text, field_label

    raw = []
    for table in SQLModel.metadata.tables.values():
        for column in table.columns:
            for lang in ("en", "zh"):
                label = field_label(table.name, column.name, lang)
                if raw_reason(label) or label == column.name:
                    raw.append(f"{table.name}.{column.name} ({lang}): {label!r}")
    assert not raw, "\n".join(raw)
    assert field_label("staff", "staff_no", "zh") == "工号"
    assert field_label("staff", "department_id", "en") == "Department"
    assert cell_text(None, "en") == "—" and cell_text(float("nan"), "zh") == "—"
