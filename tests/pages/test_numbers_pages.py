"""Numbers on the pages (issue 19, items 3, 7 and 8): every KPI tile tells what it means in
the user's language, a figure that cannot be computed says "—" and why, the trust ladder is
drawn as today's counts (not a conversion funnel), the "Month at a glance" has an export, and
no export file is built until the user asks for it."""

from __future__ import annotations

import json

from core.i18n import t
from tests.pages.apptest import open_page, open_tab

PAGE = "pages/6_KPIs.py"


def tiles(at) -> dict:
    return {metric.label: metric for metric in at.metric}


def test_every_kpi_tile_says_what_it_means_in_both_languages(demo_app):
    """The executive hovers the help icon of each KPI tile, in English and in Chinese: each
    says what the figure counts; "Valid orders" says how it differs from Commission's "Valid
    appointments"."""
    for lang, valid, other in (
        ("en", "Valid orders", "Valid appointments"),
        ("zh", "有效订单", "有效预约"),
    ):
        at = open_page(PAGE, username="executive", lang=lang)
        assert not at.exception
        shown = tiles(at)
        assert len(shown) >= 12
        for label, metric in shown.items():
            assert metric.proto.help, label
        assert other in shown[valid].proto.help
        ladder = shown[t("stage.super_trust", lang)].proto.help
        assert ladder == t("help.stage", lang)


def test_revenue_growth_says_why_it_cannot_be_computed(demo_app):
    """On the first demo month there is no earlier revenue: the growth tile shows "—" and its
    help says the previous month had no revenue."""
    at = open_page(PAGE, username="executive")
    first = at.selectbox(key="kpi_month").options[0]
    at.selectbox(key="kpi_month").set_value(first).run()
    assert not at.exception
    growth = tiles(at)["Revenue growth"]
    assert growth.value == "—"
    assert growth.proto.help.startswith(t("why.no_previous_revenue", "en"))


def test_the_trust_ladder_is_drawn_as_counts_not_a_funnel(demo_app):
    """The stages are a snapshot of the board today: the chart shows each stage's count as a
    bar, with no conversion percentages between stages."""
    at = open_page(PAGE, username="executive")
    assert not at.exception
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    ladder = next(
        spec for spec in specs if "Super trust" in json.dumps(spec["data"], ensure_ascii=False)
    )
    assert [trace["type"] for trace in ladder["data"]] == ["bar"]
    assert "percent" not in json.dumps(ladder["data"])


def test_no_export_is_built_until_the_user_clicks(demo_app, monkeypatch):
    """Opening KPIs builds no CSV or Excel file (they cost a third of a warm run); the
    "Month at a glance" offers its own Excel download."""
    from core import exports

    built = []
    real_xlsx, real_csv = exports.to_xlsx_bytes, exports.to_csv_bytes
    monkeypatch.setattr(
        exports, "to_xlsx_bytes", lambda *a, **k: built.append("xlsx") or real_xlsx(*a, **k)
    )
    monkeypatch.setattr(
        exports, "to_csv_bytes", lambda *a, **k: built.append("csv") or real_csv(*a, **k)
    )
    at = open_page(PAGE, username="executive")
    assert not at.exception
    assert built == []
    assert at.download_button(key="kpi_glance_xlsx").label == t("app.download_xlsx", "en")
    open_tab(at, "kpi_tabs", t("kpi.tab.departments", "en"))  # only the open tab runs
    assert not at.exception
    assert built == []
    assert at.download_button(key="kpi_departments_xlsx")
