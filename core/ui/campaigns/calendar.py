"""The calendar: campaigns as bars over a window of months with their tasks as marks, the
channels' load week by week, and channels booked twice in the same days."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from core.db import read_session
from core.domain import CampaignStatus
from core.i18n import label_of, t
from core.months import add_months, month_bounds, month_of
from core.permissions import Actor
from core.services import campaigns as plans
from core.ui.cache import cached
from core.ui.campaigns.common import STATUSES, TYPES, CampaignsView
from core.ui.forms import channel_text
from core.ui.text import chart_spec, show_chart

MONTHS_BACK = 2  # the window opens two months before the page's day
TASK_MARKS = (("done", "#2e7d32"), ("overdue", "#c62828"), ("open", "#455a64"))
# Campaigns on a channel in a week: 0 grey, 1 blue, 2 orange, 3 or more red (2+ overlap).
LOAD_COLOURS = [
    [0, "#f3f4f6"],
    [0.17, "#f3f4f6"],
    [0.17, "#bbdefb"],
    [0.5, "#bbdefb"],
    [0.5, "#ffb74d"],
    [0.83, "#ffb74d"],
    [0.83, "#e53935"],
    [1, "#e53935"],
]
TWO_WEEKS_MS = 14 * 24 * 3600 * 1000


def window_start(as_of: dt.date) -> dt.date:
    """The first day of the month `MONTHS_BACK` months before `as_of`'s."""
    return month_bounds(month_of(add_months(as_of, -MONTHS_BACK)))[0]


def window_end(first_day: dt.date, months: int) -> dt.date:
    """The last day of the `months`-th calendar month counted from `first_day`'s."""
    return month_bounds(month_of(add_months(first_day, months - 1)))[1]


def short(text: str, limit: int = 18) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- Figures ------------------------------------------------------------------------------


def timeline(
    bars: pd.DataFrame, tasks: pd.DataFrame, window, *, lang: str, as_of: dt.date
) -> go.Figure:
    """Campaign bars coloured by type, tasks as diamonds (done, overdue, open), the line of
    the page's day `as_of`."""
    first_day, last_day = window
    figure = px.timeline(
        bars,
        x_start="start",
        x_end="finish",
        y="row",
        color="type_label",
        hover_name="label",
        hover_data={
            "row": False,
            "type_label": False,
            "channels": True,
            "owner": True,
            "status_label": True,
        },
        labels={
            "type_label": t("campaigns.field.type", lang),
            "channels": t("campaigns.field.channel", lang),
            "owner": t("campaigns.field.owner", lang),
            "status_label": t("campaigns.field.status", lang),
        },
        category_orders={"type_label": [label_of("campaign_type", k, lang) for k in TYPES]},
    )
    for state, colour in TASK_MARKS:
        subset = tasks[tasks["state"] == state]
        if subset.empty:
            continue
        figure.add_trace(
            go.Scatter(
                x=[pd.Timestamp(day) + pd.Timedelta(hours=12) for day in subset["start"]],
                y=subset["row"],
                mode="markers",
                marker={"symbol": "diamond", "size": 9, "color": colour},
                name=t(f"campaigns.task_{state}", lang),
                text=subset["label"],
                hovertemplate="%{text}<br>%{x|%Y-%m-%d}<extra></extra>",
            )
        )
    figure.add_vline(x=pd.Timestamp(as_of), line_dash="dot", line_color="#c62828")
    figure.update_yaxes(autorange="reversed", title=None)
    figure.update_xaxes(
        range=[pd.Timestamp(first_day), pd.Timestamp(last_day) + pd.Timedelta(days=1)],
        title=None,
        dtick="M1",
        tickformat="%Y-%m",
    )
    figure.update_layout(
        height=max(300, 30 * len(bars) + 110),
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        legend={
            "orientation": "h",
            "yanchor": "bottom",
            "y": 1.01,
            "xanchor": "left",
            "x": 0,
            "title": None,
        },
    )
    return figure


def load_heatmap(grid: pd.DataFrame) -> go.Figure:
    """Campaigns per channel (rows) and week (columns)."""
    counts = grid.to_numpy()
    heat = go.Figure(
        go.Heatmap(
            z=counts,
            x=[pd.Timestamp(week) for week in grid.columns],
            y=list(grid.index),
            text=[[str(n) if n else "" for n in row] for row in counts],
            texttemplate="%{text}",
            colorscale=LOAD_COLOURS,
            zmin=0,
            zmax=3,
            showscale=False,
            xgap=2,
            ygap=2,
            hovertemplate="%{y} · %{x|%Y-%m-%d}: %{z}<extra></extra>",
        )
    )
    heat.update_xaxes(tickformat="%m-%d", side="top", dtick=TWO_WEEKS_MS)
    heat.update_yaxes(autorange="reversed")
    heat.update_layout(
        height=max(200, 24 * len(grid) + 70), margin={"l": 10, "r": 10, "t": 30, "b": 10}
    )
    return heat


# --- The reads ----------------------------------------------------------------------------


@cached("campaigns", "staff")
def calendar(
    actor: Actor,
    as_of: dt.date,
    first_day: dt.date,
    last_day: dt.date,
    owner_staff_id: int | None,
    statuses: tuple[str, ...],
    lang: str,
) -> tuple[dict[str, dict], pd.DataFrame]:
    """The window's charts in `lang` as `chart_spec`s ("timeline": none when no campaign
    falls in the window; "load": none when no channel is booked) and the channels booked
    twice, read and built once per data version."""
    window = {
        "first_day": first_day,
        "last_day": last_day,
        "owner_staff_id": owner_staff_id,
        "statuses": list(statuses) or None,
    }
    with read_session() as session:
        items = plans.calendar_items(session, actor=actor, as_of=as_of, **window)
        load = plans.channel_weeks(session, actor=actor, **window)
        overlaps = plans.channel_overlaps(session, actor=actor, **window)
    drawn: dict[str, dict] = {}
    bars = items[items["item"] == "campaign"].copy()
    if bars.empty:
        return drawn, overlaps
    bars["row"] = bars["label"].map(short)
    bars["type_label"] = bars["type"].map(lambda value: label_of("campaign_type", value, lang))
    bars["channels"] = bars["channel"].map(lambda value: channel_text(value, lang))
    bars["status_label"] = bars["status"].map(
        lambda value: label_of("campaign_status", value, lang)
    )
    tasks = items[items["item"] == "task"].merge(
        bars[["campaign_id", "row"]], on="campaign_id", how="inner"
    )
    tasks["state"] = "open"
    tasks.loc[tasks["overdue"].astype(bool), "state"] = "overdue"
    tasks.loc[tasks["done"].astype(bool), "state"] = "done"
    figure = timeline(bars, tasks, (first_day, last_day), lang=lang, as_of=as_of)
    drawn["timeline"] = chart_spec(figure, lang)
    if not load.empty:
        grid = load.assign(channel=load["channel"].map(lambda c: label_of("channel", c, lang)))
        grid = grid.pivot_table(
            index="channel", columns="week", values="campaigns", aggfunc="sum", fill_value=0
        )
        drawn["load"] = chart_spec(load_heatmap(grid), lang)
    return drawn, overlaps


# --- The tab ------------------------------------------------------------------------------


def calendar_tab(view: CampaignsView) -> None:
    lang = view.lang
    owner_ids, owner_labels = view.owners()
    cols = st.columns([2, 3, 2, 1])
    owner = cols[0].selectbox(
        t("campaigns.field.owner", lang),
        owner_ids,
        format_func=lambda i: owner_labels[i],
        placeholder=t("app.all", lang),  # the browser may show "All" (None) as no choice
        key=view.lk("cal_owner"),
    )
    statuses = cols[1].multiselect(
        t("campaigns.field.status", lang),
        STATUSES,
        default=[s for s in STATUSES if s != CampaignStatus.cancelled],
        format_func=view.status_label,
        placeholder=t("app.all", lang),
        key=view.lk("cal_status"),
    )
    first_day = cols[2].date_input(
        t("campaigns.from", lang), value=window_start(view.as_of), key="cal_from"
    )
    months = cols[3].number_input(
        t("campaigns.months", lang), min_value=1, max_value=24, value=6, key="cal_months"
    )
    last_day = window_end(first_day, int(months))
    drawn, overlaps = calendar(
        view.actor,
        view.as_of,
        first_day,
        last_day,
        owner,
        tuple(statuses),
        lang,
    )
    if "timeline" not in drawn:
        st.info(t("campaigns.no_campaigns_in_window", lang))
        return
    st.caption(t("campaigns.calendar_caption", lang, day=view.as_of.isoformat()))
    show_chart(drawn["timeline"], key="cal_chart", width="stretch")
    _channel_load(view, drawn.get("load"), overlaps)


def _channel_load(view: CampaignsView, load: dict | None, overlaps: pd.DataFrame) -> None:
    lang = view.lang
    st.subheader(t("campaigns.channel_load", lang))
    if load is None:
        st.info(t("campaigns.no_channels", lang))
    else:
        st.caption(t("campaigns.channel_load_help", lang))
        show_chart(
            load,
            key="cal_channels",
            width="stretch",
            config={"displayModeBar": False},
        )
    st.caption(t("campaigns.overlaps_caption", lang, count=len(overlaps)))
    if not overlaps.empty:
        st.dataframe(
            pd.DataFrame(
                {
                    t("campaigns.field.channel", lang): overlaps["channel"].map(
                        lambda c: label_of("channel", c, lang)
                    ),
                    t("campaigns.overlap_first", lang): overlaps["first"],
                    t("campaigns.overlap_second", lang): overlaps["second"],
                    t("campaigns.overlap_from", lang): overlaps["from"],
                    t("campaigns.overlap_to", lang): overlaps["to"],
                }
            ),
            hide_index=True,
            key="cal_overlaps",
            placeholder="—",
        )
