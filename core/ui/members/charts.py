"""The members' charts: members per tier and points earned, redeemed and expired per month,
and how much of the members' revenue the top 20% of members bring."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from core import metrics
from core.db import read_session
from core.i18n import t
from core.permissions import Actor
from core.services import members as svc
from core.ui.cache import cached
from core.ui.members.common import MembersView
from core.ui.text import show_chart

TIER_COLOURS = ["#b0bec5", "#90a4ae", "#f9a825", "#78909c", "#0f766e"]
FLOW_COLOURS = ["#0f766e", "#f9a825", "#b0bec5"]
FLOWS = ("earned", "redeemed", "expired")


@cached("members", "leads", "settings")
def chart_data(actor: Actor, last_month: str):
    """The charts' figures (whole-ledger aggregates): the months, members per tier, points
    per month and the top members' revenue share. Members' points and tiers, their orders
    and the tier thresholds feed them; a save of any clears them."""
    with read_session() as session:
        months = svc.chart_months(session, actor=actor, last_month=last_month)
        return (
            months,
            svc.tier_counts_by_month(session, actor=actor, months=months),
            svc.points_by_month(session, actor=actor, months=months),
            svc.top_member_revenue_share(
                session, actor=actor, first_month=months[0], last_month=months[-1]
            ),
        )


# --- Figures (frames in, labels already translated) ---------------------------------------


def tier_bars(per_tier: pd.DataFrame, tier_order: Sequence[str], labels: dict, title: str):
    """Members per tier per month, stacked; `per_tier` has month, members and tier_name."""
    figure = px.bar(
        per_tier,
        x="month",
        y="members",
        color="tier_name",
        category_orders={"tier_name": list(tier_order)},
        color_discrete_sequence=TIER_COLOURS,
        labels=labels,
        title=title,
    )
    figure.update_layout(height=360, margin={"t": 50, "b": 10}, legend_title_text="")
    figure.update_xaxes(type="category")  # "2019-08", in every language
    return figure


def flow_bars(flows: pd.DataFrame, labels: dict, title: str):
    """Points per month side by side per flow; `flows` has month, flow and value."""
    figure = px.bar(
        flows,
        x="month",
        y="value",
        color="flow",
        barmode="group",
        color_discrete_sequence=FLOW_COLOURS,
        labels=labels,
        title=title,
    )
    figure.update_layout(height=360, margin={"t": 50, "b": 10}, legend_title_text="")
    figure.update_xaxes(type="category")  # "2019-08", in every language
    return figure


def share_curve(frame: pd.DataFrame, *, name: str, x_title: str, y_title: str) -> go.Figure:
    """The cumulative revenue share against the cumulative share of members, with the
    top-members line."""
    curve = go.Figure()
    curve.add_trace(
        go.Scatter(
            x=[0, *frame["member_share"].tolist()],
            y=[0, *frame["cumulative_share"].tolist()],
            mode="lines",
            line={"color": "#0f766e", "width": 3},
            name=name,
        )
    )
    curve.add_vline(x=metrics.TOP_MEMBER_SHARE, line_dash="dot", line_color="#f9a825")
    curve.update_layout(
        height=320,
        margin={"t": 20, "b": 10},
        xaxis={"title": x_title, "tickformat": ".0%"},
        yaxis={"title": y_title, "tickformat": ".0%"},
        showlegend=False,
    )
    return curve


# --- The tab ------------------------------------------------------------------------------


def charts_tab(view: MembersView) -> None:
    lang = view.lang
    months, per_tier, points, share = chart_data(view.actor, view.latest_month)
    st.caption(t("members.charts_range", lang, first=months[0], last=months[-1]))
    left, right = st.columns(2)
    with left:
        figure = tier_bars(
            per_tier.assign(tier_name=per_tier["tier"].map(view.tier_name)),
            [view.tier_name(level) for level in view.tier_levels],
            {
                "month": t("app.month", lang),
                "members": t("members.members", lang),
                "tier_name": t("metric.tier", lang),
            },
            t("members.chart.per_tier", lang),
        )
        show_chart(figure, width="stretch", key="members_chart_tiers")
        st.caption(t("members.chart.per_tier_help", lang))
    with right:
        flows = points.melt(id_vars="month", value_vars=list(FLOWS), var_name="flow")
        flows["flow"] = flows["flow"].map(lambda flow: t(f"members.flow.{flow}", lang))
        figure = flow_bars(
            flows,
            {"month": t("app.month", lang), "value": t("members.points", lang), "flow": ""},
            t("members.chart.points", lang),
        )
        show_chart(figure, width="stretch", key="members_chart_points")
    st.subheader(t("members.chart.top_share", lang))
    if share["share"] is None:
        st.info(t("app.no_data", lang))
        return
    tiles = st.columns(3)
    tiles[0].metric(
        t("members.top_share_metric", lang, top=share["top_members"]), f"{share['share']:.1%}"
    )
    tiles[1].metric(t("members.paying_members", lang), f"{share['members']:,}")
    tiles[2].metric(t("members.member_revenue", lang), f"¥{share['revenue']:,.0f}")
    curve = share_curve(
        share["frame"],
        name=t("members.chart.cumulative", lang),
        x_title=t("members.chart.member_share", lang),
        y_title=t("members.chart.revenue_share", lang),
    )
    show_chart(curve, width="stretch", key="members_chart_share")
