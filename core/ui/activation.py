"""The Card activation page's reader and figures: the month's funnel, the trend, the usage
heatmap and the cohorts. Numbers come from `core.metrics` and `core.services.staff`; the
figures take them ready-made and only draw (labels already in the user's language)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from core import metrics
from core.db import read_session
from core.domain import Role
from core.i18n import t
from core.permissions import Actor
from core.services import settings as settings_service
from core.services import staff as staff_service
from core.ui import format as fmt
from core.ui.cache import cached
from core.ui.text import chart_spec

FUNNEL_KEYS = (
    "licences",
    "cards_issued",
    "cards_not_activated",
    "profiles_incomplete",
    "staff_using",
    "staff_active",
)
COLOURS = {
    "licences": "#94a3b8",
    "cards_issued": "#0f766e",
    "cards_not_activated": "#dc2626",
    "profiles_incomplete": "#f59e0b",
    "staff_using": "#2563eb",
    "staff_active": "#7c3aed",
}
DEPARTMENT_COLUMNS = (
    "department",
    "staff",
    "cards_issued",
    "cards_not_activated",
    "activated",
    "profiles_incomplete",
    "staff_using",
    "staff_active",
    "activation_rate",
    "profile_rate",
    "usage_rate",
    "active_rate",
)
RATES = ("activation_rate", "profile_rate", "usage_rate", "active_rate")
MARGIN = {"l": 10, "r": 10, "t": 10, "b": 10}


@cached("staff", "leads", "members")
def activation_months() -> tuple[list[str], str | None]:
    """The months the page offers and the one it opens on (cached per database): read once
    per data version, not on every run of the page."""
    with read_session() as session:
        return staff_service.data_months(session), metrics.latest_data_month(session)


@cached("staff", "leads")
def activation_figures(actor: Actor, month: str, months: tuple[str, ...]):
    """The page's numbers in one read (cached per database, user and month): the active-staff
    threshold, this month's and last month's funnel, the trend, the departments, the usage
    heatmap of the last twelve months and the cohorts issued in them."""
    with read_session() as session:
        rules = settings_service.metric_rules(session)
        now, before = metrics.with_previous_month(
            metrics.card_funnel, session, month=month, actor=actor, rules=rules
        )
        trend = metrics.kpi_trend(
            session, actor=actor, first_month=months[0], last_month=month, rules=rules
        )
        departments = metrics.department_table(session, actor=actor, month=month, rules=rules)
        shown = [m for m in months if m <= month][-12:]
        heatmap = staff_service.usage_heatmap(session, actor=actor, months=shown)
        cohorts = staff_service.card_cohorts(
            session, actor=actor, first_month=shown[0], last_month=month
        )
    threshold = rules.active_staff_lead_threshold
    return threshold, now, before, trend, departments, heatmap, cohorts


@cached("staff", "leads")
def activation_charts(
    actor: Actor,
    month: str,
    months: tuple[str, ...],
    keys: tuple[str, ...],
    lang: str,
) -> dict[str, dict]:
    """The page's charts in `lang` as `chart_spec`s ("funnel", "trend", and "usage" and
    "cohorts" when there is something to draw): built once per data version, so a rerun only
    draws them."""
    threshold, now, _, trend, _, heatmap, cohorts = activation_figures(actor, month, months)
    built = {
        "funnel": funnel_bars(now, lang, threshold, keys),
        "trend": trend_lines(trend, lang, threshold, keys),
        "usage": usage_heatmap(heatmap, lang),
        "cohorts": cohort_heatmap(cohorts, lang),
    }
    return {name: chart_spec(figure, lang) for name, figure in built.items() if figure is not None}


def funnel_keys(role) -> tuple[str, ...]:
    """The funnel's figures for a role: a department head's leave out the hospital's card
    licences (bought for the whole hospital, they would squash the department's scale)."""
    if role == Role.dept_head:
        return tuple(key for key in FUNNEL_KEYS if key != "licences")
    return FUNNEL_KEYS


def figure_label(key: str, lang: str, threshold: int) -> str:
    return t(f"metric.{key}", lang, n=threshold)


def funnel_bars(
    now: dict, lang: str, threshold: int, keys: Sequence[str] = FUNNEL_KEYS
) -> go.Figure:
    """The month's funnel: one horizontal bar per figure, top to bottom."""
    figure = go.Figure(
        go.Bar(
            x=[now[key] for key in keys],
            y=[figure_label(key, lang, threshold) for key in keys],
            orientation="h",
            text=[f"{now[key]:,}" for key in keys],
            textposition="auto",
            marker_color=[COLOURS[key] for key in keys],
        )
    )
    figure.update_layout(
        height=280,
        margin=MARGIN,
        yaxis={"autorange": "reversed"},
        xaxis_title=t("activation.count", lang),
    )
    return figure


def trend_lines(
    trend: pd.DataFrame, lang: str, threshold: int, keys: Sequence[str] = FUNNEL_KEYS
) -> go.Figure:
    """Each funnel figure month by month."""
    long = trend.melt(id_vars="month", value_vars=list(keys), var_name="figure")
    long["figure"] = long["figure"].map(lambda key: figure_label(key, lang, threshold))
    figure = px.line(
        long,
        x="month",
        y="value",
        color="figure",
        markers=True,
        color_discrete_sequence=[COLOURS[key] for key in keys],
        labels={"month": t("app.month", lang), "value": t("activation.count", lang), "figure": ""},
    )
    figure.update_layout(height=340, margin=MARGIN)
    figure.update_xaxes(type="category")
    return figure


def department_frame(departments: pd.DataFrame, lang: str, threshold: int):
    """The departments' table with headers in `lang`, and the names of its rate columns."""
    headers = {
        key: t(f"activation.col.{key}", lang)
        for key in ("department", "staff", "activated", *RATES)
    }
    headers |= {
        key: figure_label(key, lang, threshold) for key in DEPARTMENT_COLUMNS if key not in headers
    }
    table = departments[list(DEPARTMENT_COLUMNS)].rename(columns=headers)
    return table, [headers[key] for key in RATES]


RATE_HELP = {key: f"help.metrics.{key}" for key in RATES}


def department_view(table: pd.DataFrame, rates: list[str], lang: str):
    """The departments' table as drawn (the download keeps the ratios): each rate a
    percentage with one decimal, its header's tooltip saying what it divides by what."""
    shown = table.copy()
    for name in rates:
        shown[name] = fmt.percent_points(shown[name].astype(float))
    config = {
        name: st.column_config.NumberColumn(
            format=fmt.PERCENT_COLUMN_FORMAT, help=t(RATE_HELP[key], lang)
        )
        for key, name in zip(RATES, rates, strict=True)
    }
    return shown, config


def _percent_heatmap(
    values: pd.DataFrame, x: Sequence[str], y: Sequence[str], colours: str, title: str, hover: str
) -> go.Figure:
    return go.Figure(
        go.Heatmap(
            z=values.values,
            x=list(x),
            y=list(y),
            colorscale=colours,
            zmin=0,
            zmax=1,
            text=values.map(lambda v: "" if pd.isna(v) else f"{v:.0%}").values,
            texttemplate="%{text}",
            hovertemplate=hover,
            colorbar={"tickformat": ".0%", "title": title},
        )
    )


def usage_heatmap(heatmap: pd.DataFrame, lang: str) -> go.Figure | None:
    """Usage rate per department and month (departments without cards left out); None when
    there is nothing to draw."""
    months = [column for column in heatmap.columns if column != "department"]
    heatmap = heatmap.dropna(how="all", subset=months)
    if not months or not len(heatmap):
        return None
    figure = _percent_heatmap(
        heatmap[months].astype(float),
        months,
        heatmap["department"].tolist(),
        "Teal",
        t("activation.col.usage_rate", lang),
        "%{y} · %{x}: %{text}<extra></extra>",
    )
    figure.update_layout(
        height=max(220, 26 * len(heatmap) + 100),
        margin={**MARGIN, "t": 36},  # room for the chart's toolbar
        xaxis={"type": "category"},
        yaxis={"autorange": "reversed"},
    )
    return figure


def cohort_heatmap(cohorts: pd.DataFrame, lang: str) -> go.Figure | None:
    """Share of each month's issued cards in use N months later; None without cohorts."""
    if not len(cohorts):
        return None
    grid = cohorts.pivot(index="cohort", columns="months_after", values="share")
    sizes = cohorts.drop_duplicates("cohort").set_index("cohort")["issued"]
    rows = [f"{cohort} ({sizes[cohort]:,})" for cohort in grid.index]
    figure = _percent_heatmap(
        grid,
        [str(column) for column in grid.columns],
        rows,
        "Blues",
        t("activation.share", lang),
        "%{y} +%{x}: %{text}<extra></extra>",
    )
    figure.update_layout(
        height=max(220, 32 * len(rows) + 110),
        margin={**MARGIN, "t": 36},
        xaxis={"title": t("activation.months_after", lang), "type": "category"},
        yaxis={"title": t("activation.cohort", lang), "autorange": "reversed"},
    )
    return figure
