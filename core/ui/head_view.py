"""A department head's analytics: their department on its own scale, against the hospital's
value and the other departments' spread (no other department named), their people's card use
month by month, and the 20/80 of their department's revenue by patient.

Numbers come from core.services.benchmark, core.services.staff and core.metrics; the figures
here only draw them (labels already in the user's language).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core import metrics
from core.db import read_session
from core.domain import Role
from core.i18n import t
from core.permissions import Actor
from core.services import benchmark
from core.services import staff as staff_service
from core.ui import charts
from core.ui import format as fmt
from core.ui.auth import CurrentUser
from core.ui.cache import cached
from core.ui.kpis import pareto_figure, pareto_section, period_picker
from core.ui.text import chart_spec, plain, show_chart

RATE_MEASURES = frozenset(benchmark.CARD_MEASURES)
MONEY_MEASURES = frozenset({"revenue_per_person"})
COLOURS = {"others": "#94a3b8", "hospital": "#0f172a", "department": "#dc2626"}
PATIENT_COLUMNS = {
    "patient_ref": "head.pareto.patient",
    "name": "metrics.name",
    "orders": "metric.valid_orders",
    "revenue": "metric.revenue",
    "share": "metrics.share",
    "cumulative_share": "metrics.cumulative_share",
    "patient_share": "head.pareto.patient_share",
}


def is_head(user: CurrentUser) -> bool:
    return user.role == Role.dept_head


# --- Reads (cached per database, user and choice) -----------------------------------------


@cached("staff", "leads", "settings")
def _benchmark(actor: Actor, month: str, measures: tuple[str, ...]):
    with read_session() as session:
        return benchmark.department_benchmark(session, actor=actor, month=month, measures=measures)


@cached("staff")
def _usage_by_person(actor: Actor, months: tuple[str, ...]) -> pd.DataFrame:
    with read_session() as session:
        return staff_service.usage_by_person(session, actor=actor, months=list(months))


@cached("leads", "members")
def _revenue_by_patient(actor: Actor, first: str, last: str) -> pd.DataFrame:
    with read_session() as session:
        return metrics.revenue_by_patient(session, actor=actor, first_month=first, last_month=last)


@cached("leads", "members")
def _pareto_chart(actor: Actor, first: str, last: str, lang: str) -> dict:
    """The 20/80 chart of the department's revenue by patient, as a `chart_spec`."""
    frame = _revenue_by_patient(actor, first, last)
    labels = [
        f"{ref} {name}" for ref, name in zip(frame["patient_ref"], frame["name"], strict=True)
    ]
    return chart_spec(pareto_figure(frame, labels, lang), lang)


@cached("staff", "leads", "settings")
def _comparison_chart(actor: Actor, month: str, measures: tuple[str, ...], lang: str) -> dict:
    """The spread strips of `comparison`, as a `chart_spec`."""
    result = _benchmark(actor, month, measures)
    return chart_spec(spread_strips(result, lang), lang)


@cached("staff")
def _usage_chart(actor: Actor, months: tuple[str, ...], lang: str) -> dict:
    """The people × months heatmap of `usage_grid`, as a `chart_spec`."""
    return chart_spec(usage_figure(_usage_by_person(actor, months), months, lang), lang)


# --- The department against the hospital --------------------------------------------------


def measure_label(measure: str, lang: str) -> str:
    if measure in RATE_MEASURES:
        return t(f"activation.col.{measure}", lang)
    return t(f"head.measure.{measure}", lang)


def _value(measure: str, value, lang: str) -> str:
    if measure in RATE_MEASURES:
        return fmt.percent(value, lang)
    if measure in MONEY_MEASURES:
        return fmt.money(value, lang)
    return fmt.number(None if value is None else round(float(value), 2), lang)


def comparison_table(summary: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The summary as the head reads it: one row per measure, values formatted per unit."""
    rows = []
    for row in summary.to_dict("records"):
        measure = row["measure"]
        rank = (
            fmt.number(None)
            if row["rank"] is None or pd.isna(row["rank"])
            else t("head.rank_of", lang, rank=int(row["rank"]), n=int(row["ranked"]))
        )
        rows.append(
            {
                t("head.col.measure", lang): measure_label(measure, lang),
                t("head.col.department", lang): _value(measure, row["department"], lang),
                t("head.col.hospital", lang): _value(measure, row["hospital"], lang),
                t("head.col.others_min", lang): _value(measure, row["others_min"], lang),
                t("head.col.others_median", lang): _value(measure, row["others_median"], lang),
                t("head.col.others_max", lang): _value(measure, row["others_max"], lang),
                t("head.col.rank", lang): rank,
            }
        )
    return pd.DataFrame(rows)


def spread_strips(result: benchmark.Benchmark, lang: str) -> go.Figure:
    """One strip per measure on its own scale: the other departments as grey dots (no
    names), the hospital's value as a black diamond, the department as a red dot."""
    summary = result.summary
    measures = summary["measure"].tolist()
    figure = make_subplots(
        rows=len(measures),
        cols=1,
        subplot_titles=[measure_label(m, lang) for m in measures],
        vertical_spacing=min(0.5 / max(len(measures), 1), 0.12),
    )
    names = {key: t(f"head.legend.{key}", lang) for key in COLOURS}
    for index, row in enumerate(summary.to_dict("records"), start=1):
        measure = row["measure"]
        others = result.spread.loc[result.spread["measure"] == measure, "value"].tolist()
        text = [_value(measure, v, lang) for v in others]
        figure.add_trace(
            go.Scatter(
                x=others,
                y=[0] * len(others),
                mode="markers",
                marker={"color": COLOURS["others"], "size": 11, "opacity": 0.7},
                name=names["others"],
                legendgroup="others",
                showlegend=index == 1,
                text=text,
                hovertemplate=f"{names['others']}: %{{text}}<extra></extra>",
            ),
            row=index,
            col=1,
        )
        for key, symbol, size in (("hospital", "diamond", 15), ("department", "circle", 17)):
            value = row[key]
            if value is None or pd.isna(value):
                continue
            figure.add_trace(
                go.Scatter(
                    x=[value],
                    y=[0],
                    mode="markers",
                    marker={
                        "color": COLOURS[key],
                        "size": size,
                        "symbol": symbol,
                        "line": {"color": "white", "width": 1},
                    },
                    name=names[key],
                    legendgroup=key,
                    showlegend=index == 1,
                    text=[_value(measure, value, lang)],
                    hovertemplate=f"{names[key]}: %{{text}}<extra></extra>",
                ),
                row=index,
                col=1,
            )
        axis = {"zeroline": False, "rangemode": "tozero"}
        if measure in RATE_MEASURES:
            axis |= {"tickformat": ".0%", "range": [-0.03, 1.03]}
        elif measure in MONEY_MEASURES:
            axis |= {"tickprefix": "¥", "tickformat": ",.0f"}
        figure.update_xaxes(**axis, row=index, col=1)
        figure.update_yaxes(visible=False, range=[-1, 1], row=index, col=1)
    height = 90 * len(measures) + 110
    charts.layout(figure, height=height)
    # The legend 40 px above the strips, clear of the first strip's title.
    top, bottom = 80, 20
    figure.update_layout(
        hovermode="closest",
        margin={"l": 10, "r": 10, "t": top, "b": bottom},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1 + 40 / (height - top - bottom)},
    )
    return figure


def comparison(user: CurrentUser, month: str, measures: tuple[str, ...], *, key: str) -> None:
    """The department against the hospital and the other departments (heads only)."""
    lang = user.lang
    result = _benchmark(user.actor, month, tuple(measures))
    others = int(result.summary["others"].max()) if len(result.summary) else 0
    st.caption(t("head.comparison_caption", lang, n=others))
    st.dataframe(
        comparison_table(result.summary, lang),
        hide_index=True,
        width="stretch",
        key=f"{key}_table",
        placeholder="—",
    )
    chart = _comparison_chart(user.actor, month, tuple(measures), lang)
    show_chart(chart, key=f"{key}_chart", width="stretch")


def activation_sections(user: CurrentUser, months: list[str], month: str) -> None:
    """The Card activation page's department part for a head: the card rates against the
    hospital, then their people's card use month by month."""
    lang = user.lang
    st.subheader(t("head.comparison_heading", lang, month=month))
    comparison(user, month, benchmark.CARD_MEASURES, key="activation_compare")
    st.subheader(t("head.usage_heading", lang))
    usage_grid(user, months, month)


def departments_tab(user: CurrentUser, month: str) -> None:
    """The KPI page's Departments tab for a head: every measure against the hospital."""
    st.subheader(t("head.comparison_heading", user.lang, month=month))
    comparison(user, month, benchmark.MEASURES, key="kpi_compare")


# --- Card use by person -------------------------------------------------------------------


def usage_grid(user: CurrentUser, months: list[str], month: str) -> None:
    """The department's people × the last twelve months: days with card activity."""
    lang = user.lang
    shown = tuple(m for m in months if m <= month)[-12:]
    grid = _usage_by_person(user.actor, shown)
    st.caption(t("head.usage_caption", lang, month=month))
    if grid.empty:
        st.info(t("app.no_data", lang))
        return
    chart = _usage_chart(user.actor, shown, lang)
    show_chart(chart, key="activation_person_heatmap_chart", width="stretch")


def usage_figure(grid: pd.DataFrame, months: tuple[str, ...], lang: str) -> go.Figure:
    """Days with card activity: one row per person, one column per month."""
    columns = list(months)
    people = [f"{no} {name}" for no, name in zip(grid["staff_no"], grid["name"], strict=True)]
    figure = go.Figure(
        go.Heatmap(
            z=grid[columns].values,
            x=columns,
            y=people,
            colorscale="Teal",
            zmin=0,
            text=grid[columns].values,
            texttemplate="%{text}",
            hovertemplate="%{y} · %{x}: %{z}<extra></extra>",
            colorbar={"title": t("head.days", lang)},
        )
    )
    figure.update_layout(
        height=max(260, 24 * len(people) + 110),
        margin={"l": 10, "r": 10, "t": 36, "b": 10},
        xaxis={"type": "category"},
        yaxis={"autorange": "reversed", "type": "category"},
    )
    return figure


# --- 20/80 of the department's revenue, by patient ----------------------------------------


def pareto_tab(user: CurrentUser, months: list[str], month: str) -> None:
    """The 20/80 chart over the department's patients (its orders name leads, rarely
    members)."""
    lang = user.lang
    st.subheader(t("head.pareto.heading", lang))
    first, last = period_picker("kpi_pareto", months, month, lang)
    frame = _revenue_by_patient(user.actor, first, last)
    if frame.empty:
        st.info(t("app.no_data", lang))
        return
    top = metrics.top_member_share(frame)
    st.caption(
        t(
            "head.pareto.caption",
            lang,
            patients=fmt.count(top["members"], lang),
            top=fmt.count(top["top_members"], lang),
            share=fmt.percent(top["share"], lang),
            revenue=fmt.money(top["revenue"], lang),
        )
    )
    pareto_section(
        user,
        frame,
        chart=_pareto_chart(user.actor, first, last, lang),
        columns=PATIENT_COLUMNS,
        shares=("share", "cumulative_share", "patient_share"),
        name=f"revenue-by-patient-{first}-{last}",
        what="revenue_by_patient",
        title=t("head.pareto.heading", lang),
        months=(first, last),
    )


# --- The team: who is counted -------------------------------------------------------------


def leavers_note(user: CurrentUser, month: str) -> None:
    """Who left during the month (not counted in the team, as on Card activation)."""
    with read_session() as session:
        gone = staff_service.leavers(session, actor=user.actor, month=month)
    if gone.empty:
        return
    names = ", ".join(
        f"{plain(name)} ({fmt.date(day, user.lang)})"
        for name, day in zip(gone["name"], gone["left_on"], strict=True)
    )
    st.caption(t("head.leavers", user.lang, n=len(gone), month=month, names=names))
