"""Card activation — the monthly card funnel, trends, department rates, usage and cohorts.

Every number comes from `core.metrics` (the funnel, the trend, the department table); the
cohorts and the heatmap from `core.services.staff`, which builds them on the same figures.
"""

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from core import metrics
from core.config import get_settings
from core.db import read_session
from core.i18n import t
from core.permissions import Actor
from core.services import settings as settings_service
from core.services import staff as staff_service
from core.services.landing import Figure
from core.ui.layout import page_setup
from core.ui.widgets import download_buttons, figure_tiles, month_picker

user = page_setup("page.card_activation")
lang = user.lang
FUNNEL_KEYS = (
    "licences",
    "cards_issued",
    "cards_not_activated",
    "profiles_incomplete",
    "staff_using",
    "staff_active",
)
TREND_COLOURS = {
    "licences": "#94a3b8",
    "cards_issued": "#0f766e",
    "cards_not_activated": "#dc2626",
    "profiles_incomplete": "#f59e0b",
    "staff_using": "#2563eb",
    "staff_active": "#7c3aed",
}


@st.cache_data(ttl=300, show_spinner=False)
def _activation_figures(database_url: str, actor: Actor, month: str, months: tuple[str, ...]):
    """The page's numbers in one read (cached per database, user and month)."""
    with read_session() as session:
        rules = settings_service.metric_rules(session)
        threshold = rules.active_staff_lead_threshold
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
    return threshold, now, before, trend, departments, heatmap, cohorts


def _label(key: str, threshold: int) -> str:
    return t(f"metric.{key}", lang, n=threshold)


with read_session() as session:
    months = staff_service.data_months(session)
    latest = metrics.latest_data_month(session)

if not months:
    st.info(t("activation.no_months", lang))
    st.stop()

month = month_picker(months, key="activation_month", lang=lang, default=latest)
threshold, now, before, trend, departments, heatmap, cohorts = _activation_figures(
    get_settings().database_url, user.actor, month, tuple(months)
)

# --- The month's funnel -------------------------------------------------------------------
st.subheader(t("activation.funnel", lang, month=month))
figure_tiles(
    [
        Figure(
            f"metric.{key}",
            now[key],
            metrics.change_on_previous_month(now, before, key),
            label_values={"n": threshold} if key == "staff_active" else None,
        )
        for key in FUNNEL_KEYS
    ],
    lang,
    per_row=6,
)
funnel = go.Figure(
    go.Bar(
        x=[now[key] for key in FUNNEL_KEYS],
        y=[_label(key, threshold) for key in FUNNEL_KEYS],
        orientation="h",
        text=[f"{now[key]:,}" for key in FUNNEL_KEYS],
        textposition="auto",
        marker_color=[TREND_COLOURS[key] for key in FUNNEL_KEYS],
    )
)
funnel.update_layout(
    height=280,
    margin={"l": 10, "r": 10, "t": 10, "b": 10},
    yaxis={"autorange": "reversed"},
    xaxis_title=t("activation.count", lang),
)
st.plotly_chart(funnel, key="activation_funnel_chart", width="stretch")

# --- Month by month -----------------------------------------------------------------------
st.subheader(t("activation.trend", lang))
long = trend.melt(id_vars="month", value_vars=list(FUNNEL_KEYS), var_name="figure")
long["figure"] = long["figure"].map(lambda key: _label(key, threshold))
lines = px.line(
    long,
    x="month",
    y="value",
    color="figure",
    markers=True,
    color_discrete_sequence=[TREND_COLOURS[key] for key in FUNNEL_KEYS],
    labels={"month": t("app.month", lang), "value": t("activation.count", lang), "figure": ""},
)
lines.update_layout(height=340, margin={"l": 10, "r": 10, "t": 10, "b": 10})
lines.update_xaxes(type="category")
st.plotly_chart(lines, key="activation_trend_chart", width="stretch")

# --- Departments --------------------------------------------------------------------------
st.subheader(t("activation.departments", lang, month=month))
table = departments[
    [
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
    ]
].copy()
headers = {
    "department": t("activation.col.department", lang),
    "staff": t("activation.col.staff", lang),
    "cards_issued": t("metric.cards_issued", lang),
    "cards_not_activated": t("metric.cards_not_activated", lang),
    "activated": t("activation.col.activated", lang),
    "profiles_incomplete": t("metric.profiles_incomplete", lang),
    "staff_using": t("metric.staff_using", lang),
    "staff_active": _label("staff_active", threshold),
    "activation_rate": t("activation.col.activation_rate", lang),
    "profile_rate": t("activation.col.profile_rate", lang),
    "usage_rate": t("activation.col.usage_rate", lang),
    "active_rate": t("activation.col.active_rate", lang),
}
table = table.rename(columns=headers)
rates = [headers[key] for key in ("activation_rate", "profile_rate", "usage_rate", "active_rate")]
st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    key="activation_department_table",
    column_config={name: st.column_config.NumberColumn(format="percent") for name in rates},
)
download_buttons(table, name=f"card-activation-{month}", key="activation_download", user=user)

# --- Usage heatmap ------------------------------------------------------------------------
st.subheader(t("activation.heatmap", lang))
heat_months = [column for column in heatmap.columns if column != "department"]
heatmap = heatmap.dropna(how="all", subset=heat_months)  # departments without cards
if heat_months and len(heatmap):
    values = heatmap[heat_months].astype(float)
    heat = go.Figure(
        go.Heatmap(
            z=values.values,
            x=heat_months,
            y=heatmap["department"].tolist(),
            colorscale="Teal",
            zmin=0,
            zmax=1,
            text=values.map(lambda v: "" if pd.isna(v) else f"{v:.0%}").values,
            texttemplate="%{text}",
            hovertemplate="%{y} · %{x}: %{text}<extra></extra>",
            colorbar={"tickformat": ".0%", "title": t("activation.col.usage_rate", lang)},
        )
    )
    heat.update_layout(
        height=max(220, 26 * len(heatmap) + 100),
        margin={"l": 10, "r": 10, "t": 36, "b": 10},  # room for the chart's toolbar
        xaxis={"type": "category"},
        yaxis={"autorange": "reversed"},
    )
    st.plotly_chart(heat, key="activation_heatmap_chart", width="stretch")

# --- Cohorts ------------------------------------------------------------------------------
st.subheader(t("activation.cohorts", lang))
if len(cohorts):
    grid = cohorts.pivot(index="cohort", columns="months_after", values="share")
    sizes = cohorts.drop_duplicates("cohort").set_index("cohort")["issued"]
    rows = [f"{cohort} ({sizes[cohort]:,})" for cohort in grid.index]
    cohort_chart = go.Figure(
        go.Heatmap(
            z=grid.values,
            x=[str(column) for column in grid.columns],
            y=rows,
            colorscale="Blues",
            zmin=0,
            zmax=1,
            text=grid.map(lambda v: "" if pd.isna(v) else f"{v:.0%}").values,
            texttemplate="%{text}",
            hovertemplate="%{y} +%{x}: %{text}<extra></extra>",
            colorbar={"tickformat": ".0%", "title": t("activation.share", lang)},
        )
    )
    cohort_chart.update_layout(
        height=max(220, 32 * len(rows) + 110),
        margin={"l": 10, "r": 10, "t": 36, "b": 10},
        xaxis={"title": t("activation.months_after", lang), "type": "category"},
        yaxis={"title": t("activation.cohort", lang), "autorange": "reversed"},
    )
    st.plotly_chart(cohort_chart, key="activation_cohort_chart", width="stretch")
else:
    st.info(t("app.no_data", lang))
