"""What an administrator (and a few siblings) reads is words, in their language (issue 19,
item 6): the audit log's actions, subjects and details, the scoring rules' interaction names
and column headers, the uploader's real limit, chart ticks in Chinese, the consultant's
script library link, the card activation rates and the staff's valid-orders tile."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import pytest

from core.db import write_session
from core.permissions import Actor
from core.services import settings as settings_service
from tests.pages.apptest import open_page, texts
from tests.pages.test_admin import _open_tab
from tests.pages.test_labels import raw_reason

ADMIN_PAGE = "pages/8_Admin.py"


def _column(frame, header: str) -> list[str]:
    return [str(value) for value in frame[header]]


def test_the_audit_log_reads_as_words_in_chinese(demo_app):
    """The admin opens the audit log in Chinese: each event says what happened ("登录成功",
    "加载演示数据"), to what ("登录账号", "线索"), and its details as "field: value" text,
    never `login.success`, `app_user` or a JSON object; the "What" filter offers worded
    actions and groups."""
    at = _open_tab(open_page(ADMIN_PAGE, username="admin", lang="zh"), "audit")
    assert not at.exception
    [table] = [d.value for d in at.dataframe]
    actions = _column(table, "操作")
    assert "登录成功" in actions and "加载演示数据" in actions
    subjects = _column(table, "对象")
    assert "数据库" in subjects and "线索" in subjects
    for cell in [*actions, *subjects]:
        assert raw_reason(cell) is None and "_" not in cell, cell
    details = _column(table, "详情(旧值 → 新值)")
    assert not [d for d in details if d.lstrip().startswith(("{", "["))]
    assert any(d.startswith("科室: 22; 员工: 600") for d in details), details
    options = at.multiselect(key="audit_what__zh").options
    assert "全部:登录" in options and "登录成功" in options
    assert not [o for o in options if raw_reason(o)]


def test_a_change_in_the_audit_log_reads_field_old_new():
    """A table edit, a setting change, an export and a stage move each read as a sentence in
    the admin's language: "Role: Marketing staff → Consultant", only the thresholds that
    changed, the row count, the stages' names."""
    from core.ui.admin.audit import action_label, detail_text, subject_label

    edit = json.dumps(
        {
            "old": {"role": "marketer", "disabled": False},
            "new": {"role": "consultant", "disabled": True},
        }
    )
    assert detail_text("table.edit", "app_user", edit, "en") == (
        "Role: Marketing staff → Consultant; Disabled: No → Yes"
    )
    assert (
        detail_text("table.edit", "app_user", edit, "zh")
        == "角色: 市场专员 → 咨询师; 已停用: 否 → 是"
    )
    thresholds = json.dumps(
        {
            "old": {"weak_trust": 20, "strong_trust": 60},
            "new": {"weak_trust": 25, "strong_trust": 60},
        }
    )
    assert detail_text("setting.change", "setting", thresholds, "zh") == "弱信任: 20 → 25"
    assert detail_text("export", "table:staff", json.dumps({"rows": 1204}), "en") == "Rows: 1,204"
    assert detail_text("stage.move", "lead", "weak_trust → strong_trust · board", "zh").startswith(
        "弱信任 → 强信任"
    )
    assert action_label("login.success", "en") == "Signed in"
    assert subject_label("table:staff", "zh") == "数据表: 员工"
    assert subject_label("app_user", "en") == "Logins"


def test_scoring_rules_show_interaction_names_and_worded_columns(demo_app):
    """The admin opens the scoring rules in Chinese: the columns are headed "互动类型",
    "最低积分", "最高积分", and the rule picked for removal is named "浏览新闻", not
    `browse_news`."""
    at = _open_tab(open_page(ADMIN_PAGE, username="admin", lang="zh"), "settings")
    assert not at.exception
    rules = next(d for d in at.dataframe if "min_points" in d.value.columns)
    config = json.loads(rules.proto.columns)
    assert config["kind"]["label"] == "互动类型"
    assert config["min_points"]["label"] == "最低积分"
    assert config["max_points"]["label"] == "最高积分"
    assert "浏览新闻" in json.dumps(config["kind"], ensure_ascii=False)
    picker = at.selectbox(key="set_rules_remove_pick__zh")
    assert "浏览新闻" in picker.options and "browse_news" not in picker.options


def test_the_uploader_states_the_real_limit_in_the_users_language(demo_app):
    """The importer takes at most `import_max_megabytes` per file; with it set to 5, the
    uploader refuses bigger files itself and the caption says so in Chinese."""
    with write_session() as session:
        settings_service.set_value(
            session, actor=Actor.system(), key="import_max_megabytes", value=5
        )
    at = _open_tab(open_page(ADMIN_PAGE, username="admin", lang="zh"), "import")
    assert not at.exception
    [uploader] = at.get("file_uploader")
    assert uploader.proto.max_upload_size_mb == 5
    assert "每个文件最多 5 MB、1,000,000 行数据、50 列" in texts(at)


def test_chart_ticks_follow_the_language():
    """A monthly chart in Chinese writes its months 2019年3月 (not "Mar 2019") and its numbers
    in full (25,000, not 25k); in English the dates keep Plotly's words."""
    from core.ui.text import localise_axes

    def figure():
        return go.Figure(
            go.Scatter(x=["2019-01-01", "2019-02-01", "2019-03-01"], y=[12_000, 25_000, 31_000])
        )

    zh = localise_axes(figure(), "zh").layout
    assert [stop.value for stop in zh.xaxis.tickformatstops] == ["%-m月%-d日", "%Y年%-m月", "%Y年"]
    assert zh.yaxis.exponentformat == "none" and zh.yaxis.separatethousands
    en = localise_axes(figure(), "en").layout
    assert not en.xaxis.tickformatstops and en.yaxis.exponentformat == "none"
    categories = localise_axes(go.Figure(go.Heatmap(y=["2019-03 (45)"], x=["0"], z=[[1]])), "zh")
    assert not categories.layout.yaxis.tickformatstops


def test_the_pipeline_history_writes_chinese_months_and_full_numbers(demo_app):
    """A marketer opens the pipeline analytics in Chinese: the stages-over-time chart writes
    its months 2019年3月 (not "Mar 2019") and its lead counts in full (25,055, never 25k)."""
    at = open_page("pages/3_Lead_board.py", username="marketer", lang="zh")
    at.session_state["board_view_zh"] = "转化分析"
    at.run()
    assert not at.exception
    history = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]
    assert "%Y年%-m月" in [stop["value"] for stop in history["xaxis"]["tickformatstops"]]
    assert history["yaxis"]["exponentformat"] == "none"
    assert history["yaxis"]["separatethousands"] is True


@pytest.mark.parametrize(("lang", "title"), [("en", "Script library"), ("zh", "话术库")])
def test_a_consultant_reads_script_library_for_the_campaigns_page(demo_app, lang, title):
    """A consultant's Campaigns page holds only the script library, and is named so."""
    from core.domain import Role
    from core.i18n import t
    from core.ui.navigation import PAGE_BY_KEY

    at = open_page("pages/5_Campaigns.py", username="consultant", lang=lang)
    assert not at.exception
    assert at.title[0].value == title
    assert t(PAGE_BY_KEY["page.campaigns"].title_key_for(Role.consultant), lang) == title
    assert t(PAGE_BY_KEY["page.campaigns"].title_key_for(Role.marketer), lang) != title


def test_card_activation_rates_are_percentages_with_help(demo_app):
    """The departments' table shows each rate as a percentage with one decimal, and its
    header's tooltip says what it divides by what."""
    at = open_page("pages/2_Card_activation.py", username="admin")
    assert not at.exception
    table = next(d for d in at.dataframe if "Activation rate" in d.value.columns)
    config = json.loads(table.proto.columns)
    rate = config["Activation rate"]
    assert rate["type_config"]["format"] == "%.1f%%"
    assert "÷ cards issued" in rate["help"]
    values = table.value["Activation rate"].dropna()
    assert values.max() > 1 and values.max() <= 100


def test_the_staff_valid_orders_tile_says_how_it_differs_from_valid_appointments(demo_app):
    """A staff member's "Valid orders" tile explains it counts every kind of order, unlike
    the commission's valid appointments."""
    at = open_page("pages/1_Staff_and_cards.py", username="staff")
    assert not at.exception
    [tile] = [m for m in at.metric if m.label == "Valid orders"]
    assert "Valid appointments" in tile.proto.help


def test_channel_lists_are_joined_the_languages_way():
    """Channels read "WeChat official account, Douyin" in English, "公众号、抖音" in Chinese."""
    from core.ui.forms import channel_text

    assert channel_text("公众号;抖音", "en") == "WeChat official account, Douyin"
    assert channel_text("公众号;抖音", "zh") == "公众号、抖音"
