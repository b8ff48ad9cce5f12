"""Results: the campaigns' totals, leads per stage against each target, the return on the
budget, and the table of every campaign's figures."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from core.db import read_session
from core.domain import STAGE_ORDER, CampaignStatus
from core.i18n import label_of, t
from core.permissions import Actor
from core.services import campaigns as plans
from core.ui import format as fmt
from core.ui.cache import cached
from core.ui.campaigns.calendar import short
from core.ui.campaigns.common import STATUSES, TYPES, CampaignsView
from core.ui.text import chart_spec, show_chart
from core.ui.widgets import download_buttons

STAGE_COLOURS = ("#b0bec5", "#64b5f6", "#1e88e5", "#0d47a1")
TARGET_COLOUR = "#e65100"
RETURN_COLOUR = "#00897b"
MONEY_COLUMNS = (
    "campaigns.field.budget",
    "campaigns.result.revenue",
    "campaigns.result.cost_per_lead",
    "campaigns.result.cost_per_valid_order",
)


def times(value) -> str:
    """A return on budget as "1.25×" ("—" when there is none)."""
    return "—" if value is None or pd.isna(value) else f"{value:.2f}×"


# --- Figures ------------------------------------------------------------------------------


def _bar_layout(figure: go.Figure, height: int) -> go.Figure:
    figure.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 80, "b": 10},
        yaxis={"autorange": "reversed"},
        title_font_size=14,
    )
    return figure


def stage_ladder(chart: pd.DataFrame, lang: str, height: int) -> go.Figure:
    """Each campaign's leads per stage, stacked, with its target as a mark."""
    stages = chart.melt(
        id_vars=["row"], value_vars=[str(s) for s in STAGE_ORDER], var_name="stage", value_name="n"
    )
    stages["stage_label"] = stages["stage"].map(lambda s: label_of("stage", s, lang))
    ladder = px.bar(
        stages,
        x="n",
        y="row",
        color="stage_label",
        orientation="h",
        color_discrete_sequence=list(STAGE_COLOURS),
        category_orders={"stage_label": [label_of("stage", s, lang) for s in STAGE_ORDER]},
        labels={"n": "", "row": "", "stage_label": ""},
        title=t("campaigns.chart_leads", lang),
    )
    targets = chart[chart["target_leads"].notna()]
    ladder.add_trace(
        go.Scatter(
            x=targets["target_leads"].astype(float),
            y=targets["row"],
            mode="markers",
            marker={
                "symbol": "line-ns-open",
                "size": 16,
                "line": {"width": 3},
                "color": TARGET_COLOUR,
            },
            name=t("campaigns.field.target_leads", lang),
        )
    )
    _bar_layout(ladder, height)
    ladder.update_layout(
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0, "title": None}
    )
    return ladder


def return_bars(chart: pd.DataFrame, lang: str, height: int) -> go.Figure:
    """Each campaign's revenue per ¥ of budget (no budget: an empty bar marked "—")."""
    returns = chart.assign(value=chart["return_on_budget"].fillna(0))
    money = px.bar(
        returns,
        x="value",
        y="row",
        orientation="h",
        text=returns["return_on_budget"].map(times),
        labels={"value": "", "row": ""},
        title=t("campaigns.chart_return", lang),
        color_discrete_sequence=[RETURN_COLOUR],
    )
    return _bar_layout(money, height)


@cached("campaigns", "leads", "members")
def campaign_results(
    actor: Actor, types: tuple[str, ...], statuses: tuple[str, ...], lang: str
) -> tuple[pd.DataFrame, dict[str, dict]]:
    """The campaigns' results (of `types` and `statuses`; none: all) and their two charts in
    `lang` as `chart_spec`s, read and built once per data version."""
    with read_session() as session:
        results = plans.campaign_results(
            session, actor=actor, types=list(types) or None, statuses=list(statuses) or None
        )
    if results.empty:
        return results, {}
    chart = results.assign(row=(results["code"] + " · " + results["name"]).map(short))
    height = max(340, 26 * len(chart) + 140)
    drawn = {
        "ladder": stage_ladder(chart, lang, height),
        "return": return_bars(chart, lang, height),
    }
    return results, {name: chart_spec(figure, lang) for name, figure in drawn.items()}


def results_table(view: CampaignsView, results: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """The results under headings in the user's language, and their column formats."""
    lang = view.lang
    heading = {
        **{name: f"campaigns.field.{name}" for name in ("code", "name", "type", "status")},
        "budget": "campaigns.field.budget",
        "target_leads": "campaigns.field.target_leads",
        "leads": "campaigns.result.leads",
        "target_reached": "campaigns.result.target_reached",
    }
    after = (
        "reached_strong",
        "orders",
        "valid_orders",
        "revenue",
        "cost_per_lead",
        "cost_per_valid_order",
        "return_on_budget",
    )
    shown = results.assign(
        type=results["type"].map(view.type_label), status=results["status"].map(view.status_label)
    )
    table = pd.DataFrame(
        {
            **{t(key, lang): shown[name] for name, key in heading.items()},
            **{label_of("stage", str(s), lang): shown[str(s)] for s in STAGE_ORDER},
            **{t(f"campaigns.result.{name}", lang): shown[name] for name in after},
        }
    )
    config = {t(key, lang): st.column_config.NumberColumn(format="yen") for key in MONEY_COLUMNS}
    # One decimal like every other percentage (Streamlit's "percent" drew 82% beside 206.33%).
    reached = t("campaigns.result.target_reached", lang)
    config[reached] = st.column_config.NumberColumn(format=fmt.PERCENT_COLUMN_FORMAT)
    table[reached] = fmt.percent_points(table[reached].astype(float))
    config[t("campaigns.result.return_on_budget", lang)] = st.column_config.NumberColumn(
        format="%.2f×"
    )
    return table, config


# --- The tab ------------------------------------------------------------------------------


def results_tab(view: CampaignsView) -> None:
    lang = view.lang
    left, right = st.columns(2)
    types = left.multiselect(
        t("campaigns.field.type", lang),
        TYPES,
        format_func=view.type_label,
        placeholder=t("app.all", lang),
        key=view.lk("res_type"),
    )
    statuses = right.multiselect(
        t("campaigns.field.status", lang),
        STATUSES,
        default=[s for s in STATUSES if s != CampaignStatus.cancelled],
        format_func=view.status_label,
        placeholder=t("app.all", lang),
        key=view.lk("res_status"),
    )
    results, drawn = campaign_results(view.actor, tuple(types), tuple(statuses), lang)
    if results.empty:
        st.info(t("app.no_data", lang))
        return
    summary = plans.results_summary(results)
    tiles = st.columns(6)
    tiles[0].metric(t("campaigns.field.budget", lang), f"¥{summary['budget']:,.0f}")
    tiles[1].metric(t("campaigns.result.leads", lang), f"{summary['leads']:,}")
    tiles[2].metric(t("campaigns.strong_tile", lang), f"{summary['reached_strong']:,}")
    tiles[3].metric(t("campaigns.result.valid_orders", lang), f"{summary['valid_orders']:,}")
    tiles[4].metric(t("campaigns.result.revenue", lang), f"¥{summary['revenue']:,.0f}")
    tiles[5].metric(
        t("campaigns.result.return_on_budget", lang), times(summary["return_on_budget"])
    )

    left, right = st.columns(2)
    with left:  # chart_spec: the campaign names escaped, the legend under the plot
        show_chart(drawn["ladder"], key="res_ladder", width="stretch")
    with right:
        show_chart(drawn["return"], key="res_return", width="stretch")

    table, config = results_table(view, results)
    st.dataframe(table, hide_index=True, column_config=config, key="res_table", placeholder="—")
    st.caption(t("campaigns.results_note", lang))
    reached = t("campaigns.result.target_reached", lang)  # the file keeps the ratio, typed
    download_buttons(
        table.assign(**{reached: results["target_reached"].to_numpy()}),
        name="campaign-results",
        key="res_download",
        user=view.user,
        percent=[reached],
    )
