"""The Analytics tab: leads per stage by month, stage-to-stage conversion, the median days
spent in each stage, and where super-trust leads came from — for the months picked."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from core.domain import STAGE_ORDER
from core.i18n import label_of, t
from core.services import leads as lead_service
from core.ui import board as ui
from core.ui.lead_board.common import BoardView
from core.ui.text import show_chart

TOP_SOURCES = 10  # the sources chart shows the ten largest
AXES = {
    "month": "board.analytics.month",
    "leads": "board.analytics.leads",
    "stage_label": "board.analytics.stage",
    "rate": "board.analytics.rate",
    "median_days": "board.analytics.days",
    "source": "board.analytics.source",
}


def _stage_labels(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    frame = frame.copy()
    frame["stage_label"] = [label_of("stage", stage, lang) for stage in frame["stage"]]
    return frame


def _stage_style(lang: str) -> dict:
    """What the stage charts share: stage colours, the ladder's order, axis titles."""
    return {
        "color_discrete_map": {label_of("stage", s, lang): c for s, c in ui.STAGE_COLOURS.items()},
        "category_orders": {
            "stage_label": [label_of("stage", str(stage), lang) for stage in STAGE_ORDER]
        },
        "labels": {column: t(key, lang) for column, key in AXES.items()},
    }


def month_chart(draw, frame: pd.DataFrame, y: str, lang: str, **more):
    """A stage-by-month chart (`draw`: px.area for leads per stage at each month's end,
    px.line for each stage's conversion to the next)."""
    figure = draw(
        _stage_labels(frame, lang),
        x="month",
        y=y,
        color="stage_label",
        **more,
        **_stage_style(lang),
    )
    figure.update_layout(height=320, margin={"t": 10, "b": 10}, legend_title_text="")
    return figure


def durations_chart(durations: pd.DataFrame, lang: str):
    """The median days a lead spends in each stage (stages nobody left are not drawn)."""
    figure = px.bar(
        _stage_labels(durations, lang).dropna(subset=["median_days"]),
        x="stage_label",
        y="median_days",
        color="stage_label",
        text="median_days",
        **_stage_style(lang),
    )
    figure.update_layout(height=300, margin={"t": 10, "b": 10}, showlegend=False)
    return figure


def sources_table(sources: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The largest sources of super-trust leads, each named "channel · campaign"."""
    sources = sources.head(TOP_SOURCES).copy()
    no_campaign = t("board.analytics.no_campaign", lang)
    sources["source"] = [
        f"{label_of('lead_source', source, lang) or '—'} · "
        f"{campaign if isinstance(campaign, str) else no_campaign}"
        for source, campaign in zip(sources["source_channel"], sources["campaign"], strict=True)
    ]
    return sources


def sources_chart(sources: pd.DataFrame, lang: str):
    figure = px.bar(
        sources.iloc[::-1],
        x="leads",
        y="source",
        orientation="h",
        labels=_stage_style(lang)["labels"],
    )
    figure.update_traces(marker_color=ui.STAGE_COLOURS["super_trust"])
    figure.update_layout(height=300, margin={"t": 10, "b": 10})
    return figure


def analytics_tab(view: BoardView) -> None:
    lang = view.lang
    months = ui.cached_options(view.actor)["months"]
    if not months:
        st.info(t("app.no_data", lang))
        return
    if len(months) > 1:
        first, last = st.select_slider(
            t("board.analytics.months", lang),
            options=months,
            value=lead_service.analytics_window(months),
            key="analytics_months",
        )
    else:
        first = last = months[0]
    data = ui.cached_analytics(view.actor, first, last)
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{t('board.analytics.history', lang)}**")
        history = month_chart(px.area, data["history"], "leads", lang)
        show_chart(history, key="chart_history")
    with right:
        st.markdown(
            f"**{t('board.analytics.conversion', lang)}**",
            help=t("board.analytics.conversion_help", lang),
        )
        conversion = month_chart(px.line, data["conversion"], "rate", lang, markers=True)
        conversion.update_yaxes(tickformat=".0%")
        show_chart(conversion, key="chart_conversion")
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{t('board.analytics.durations', lang)}**")
        show_chart(durations_chart(data["durations"], lang), key="chart_durations")
    with right:
        st.markdown(f"**{t('board.analytics.sources', lang)}**")
        if data["sources"].empty:
            st.caption(t("app.no_data", lang))
        else:
            sources = sources_table(data["sources"], lang)
            show_chart(sources_chart(sources, lang), key="chart_sources")
