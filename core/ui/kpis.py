"""The KPI page's parts: cached reads of core.metrics (each named for the subjects it
reads, so a save elsewhere clears exactly the figures it changes), the period picker, and
one drawing function per tab. Every number comes from core.metrics; nothing here computes
a figure of its own."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from core import metrics
from core.db import read_session
from core.domain import STAGE_ORDER
from core.i18n import t
from core.permissions import Actor
from core.services import settings as settings_service
from core.services import staff as staff_service
from core.services.landing import Figure
from core.ui import charts
from core.ui import format as fmt
from core.ui.activation import activation_months
from core.ui.auth import CurrentUser
from core.ui.cache import cached
from core.ui.text import chart_spec, show_chart
from core.ui.widgets import download_buttons, figure_tiles

PERIODS = ("month", "ytd", "range")
BOARD_ROWS = 10
ALL = 0  # the leaderboards' "all departments" choice (a None option would be clearable)
TILE_ROWS = (
    ("cumulative_leads", "new_leads", "staff_using", "staff_active"),
    ("orders", "valid_orders", "revenue", "revenue_growth"),
)
TREND_COLUMNS = (
    "month",
    "licences",
    "cards_issued",
    "cards_not_activated",
    "profiles_incomplete",
    "staff_using",
    "staff_active",
    "new_leads",
    "cumulative_leads",
    "orders",
    "valid_orders",
    "revenue",
    "revenue_growth",
)
DEPARTMENT_MEASURES = ("new_leads", "cumulative_leads", "orders", "valid_orders", "revenue")
PARETO_COLUMNS = {
    "member_no": "metrics.member_no",
    "name": "metrics.name",
    "orders": "metric.valid_orders",
    "revenue": "metric.revenue",
    "share": "metrics.share",
    "cumulative_share": "metrics.cumulative_share",
    "member_share": "metrics.member_share",
}
SHARES = ("share", "cumulative_share", "member_share")


# --- Reads (cached per database, user and choice) -----------------------------------------


@dataclass(frozen=True)
class MonthFigures:
    now: dict
    before: dict
    trend: pd.DataFrame
    departments: pd.DataFrame
    threshold: int  # the "active staff" lead threshold in force


@cached("leads", "members", "staff", "settings")
def month_figures(actor: Actor, month: str, first_month: str) -> MonthFigures:
    """The month and the one before it, the trend since `first_month`, and the departments:
    leads, orders, cards and staff activity, under the rules in force."""
    with read_session() as session:
        rules = settings_service.metric_rules(session)
        now, before = metrics.with_previous_month(
            metrics.month_kpis, session, month=month, actor=actor, rules=rules
        )
        trend = metrics.kpi_trend(
            session, actor=actor, first_month=first_month, last_month=month, rules=rules
        )
        departments = metrics.department_comparison(session, actor=actor, month=month)
    return MonthFigures(
        dict(now), dict(before), trend, departments, rules.active_staff_lead_threshold
    )


@cached("leads", "members", "staff")
def boards(
    actor: Actor, first: str, last: str, department_id: int | None, limit: int
) -> dict[str, pd.DataFrame]:
    """Every leaderboard: leads, valid appointments, valid revenue, members converted."""
    with read_session() as session:
        return {
            by: metrics.leaderboard(
                session,
                actor=actor,
                first_month=first,
                last_month=last,
                by=by,
                department_id=department_id,
                limit=limit,
            )
            for by in metrics.LEADERBOARD_MEASURES
        }


@cached("leads", "members")
def revenue_by_member(actor: Actor, first: str, last: str) -> pd.DataFrame:
    with read_session() as session:
        return metrics.revenue_by_member(session, actor=actor, first_month=first, last_month=last)


@cached("staff")
def departments(actor: Actor) -> pd.DataFrame:
    with read_session() as session:
        return staff_service.departments(session, actor=actor)


@cached("leads", "members", "staff", "settings")
def month_charts(actor: Actor, month: str, first_month: str, lang: str) -> dict[str, dict]:
    """The charts of `month_figures` in `lang` (the ladder, the four trends, the departments)
    as `chart_spec`s: built once per data version and language, so a rerun only draws them."""
    figures = month_figures(actor, month, first_month)
    built = {"ladder": ladder_chart(figures, lang), **trend_charts(figures, lang)}
    built["departments"] = department_chart(figures.departments, lang)
    return {name: chart_spec(figure, lang) for name, figure in built.items()}


@cached("leads", "members")
def pareto_chart(actor: Actor, first: str, last: str, lang: str) -> dict:
    """The 20/80 chart of revenue by member from `first` to `last`, as a `chart_spec`."""
    frame = revenue_by_member(actor, first, last)
    labels = [f"{no} {name}" for no, name in zip(frame["member_no"], frame["name"], strict=True)]
    return chart_spec(pareto_figure(frame, labels, lang), lang)


def data_months() -> tuple[list[str], str | None]:
    """From the first month with cards or activity to the latest month with data (SPEC §7),
    and that latest month."""
    months, latest = activation_months()
    return [month for month in months if month <= (latest or "")], latest


# --- Widgets ------------------------------------------------------------------------------


def period_picker(prefix: str, months: list[str], month: str, lang: str) -> tuple[str, str]:
    """The selected month, the year to date, or a chosen range of months: (first, last)."""
    period = st.radio(
        t("kpi.period", lang),
        PERIODS,
        format_func=lambda key: t(f"kpi.period.{key}", lang, month=month),
        horizontal=True,
        key=f"{prefix}_period",
    )
    if period == "month":
        return month, month
    if period == "ytd":
        return metrics.year_to_date(month, earliest=months[0])
    left, right, _ = st.columns([1, 1, 2])
    first = left.selectbox(t("kpi.from", lang), months, index=0, key=f"{prefix}_from")
    last = right.selectbox(t("kpi.to", lang), months, index=months.index(month), key=f"{prefix}_to")
    if first > last:
        st.warning(t("kpi.range_swapped", lang))
        first, last = last, first
    return first, last


def tile(figures: MonthFigures, key: str) -> Figure:
    """One overview tile with its change on the previous month."""
    if key == "revenue_growth":  # itself a change on the previous month
        return Figure("metric.revenue_growth", figures.now["revenue_growth"], None, is_ratio=True)
    return Figure(
        f"metric.{key}",
        figures.now[key],
        metrics.change_on_previous_month(figures.now, figures.before, key),
        label_values={"n": figures.threshold} if key == "staff_active" else None,
        is_money=key == "revenue",
    )


# --- The tabs -----------------------------------------------------------------------------


def ladder_chart(figures: MonthFigures, lang: str):
    stage_counts = figures.now["leads_by_stage"]
    return charts.stage_bars(
        [t(f"stage.{stage}", lang) for stage in STAGE_ORDER],
        [stage_counts[str(stage)] for stage in STAGE_ORDER],
    )


def overview_tab(figures: MonthFigures, month: str, lang: str, drawn: dict[str, dict]) -> None:
    """The month's tiles and the trust ladder (`drawn`: `month_charts`)."""
    st.subheader(t("kpi.month_heading", lang, month=month))
    for row in TILE_ROWS:
        figure_tiles([tile(figures, key) for key in row], lang, per_row=4)
    stage_counts = figures.now["leads_by_stage"]
    st.subheader(t("kpi.ladder", lang))
    st.caption(t("kpi.ladder_note", lang))
    figure_tiles(
        [Figure(f"stage.{stage}", stage_counts[str(stage)]) for stage in STAGE_ORDER],
        lang,
        per_row=4,
    )
    show_chart(drawn["ladder"], key="kpi_ladder_chart", width="stretch")


def glance_table(figures: MonthFigures, lang: str) -> pd.DataFrame:
    """The month's tiles as a table (figure, value, change on the previous month) for the
    "Month at a glance" export; money and growth keep their own columns so each is typed."""
    rows = []
    for key in (*TILE_ROWS[0], *TILE_ROWS[1]):
        figure = tile(figures, key)
        value = figure.value
        rows.append(
            {
                t("kpi.glance.figure", lang): t(
                    figure.label_key, lang, **(figure.label_values or {})
                ),
                t("kpi.glance.count", lang): (
                    None if figure.is_money or figure.is_ratio or value is None else int(value)
                ),
                t("kpi.glance.amount", lang): float(value) if figure.is_money else None,
                t("kpi.glance.ratio", lang): (
                    float(value) if figure.is_ratio and value is not None else None
                ),
                t("kpi.glance.change", lang): (
                    None if figure.delta is None else float(figure.delta)
                ),
            }
        )
    for stage in STAGE_ORDER:
        rows.append(
            {
                t("kpi.glance.figure", lang): t(f"stage.{stage}", lang),
                t("kpi.glance.count", lang): int(figures.now["leads_by_stage"][str(stage)]),
            }
        )
    frame = pd.DataFrame(rows)
    count = t("kpi.glance.count", lang)
    frame[count] = frame[count].astype("Int64")
    return frame


def glance_export(user: CurrentUser, figures: MonthFigures, month: str) -> None:
    """The executive's "Month at a glance" as CSV and Excel (built only when clicked)."""
    lang = user.lang
    download_buttons(
        glance_table(figures, lang),
        name=f"kpi-month-at-a-glance-{month}",
        key="kpi_glance",
        user=user,
        what="kpi_month_at_a_glance",
        title=t("kpi.tab.overview", lang),
        period=fmt.month(month, lang),
        money=[t("kpi.glance.amount", lang)],
        percent=[t("kpi.glance.ratio", lang)],
    )


def trend_charts(figures: MonthFigures, lang: str) -> dict:
    """The four trend figures: leads, orders and revenue, staff, revenue growth."""
    trend, threshold = figures.trend, figures.threshold
    x = trend["month"].tolist()
    growth = charts.bars_and_line(
        x,
        [(trend["revenue_growth"], t("metric.revenue_growth", lang), charts.PALETTE["revenue"])],
        None,
        y_title=t("metric.revenue_growth", lang),
    )
    growth.update_yaxes(tickformat=".0%", rangemode="normal")
    growth.update_layout(showlegend=False)
    return {
        "trend_leads": charts.bars_and_line(
            x,
            [(trend["new_leads"], t("metric.new_leads", lang), charts.PALETTE["leads"])],
            (
                trend["cumulative_leads"],
                t("metric.cumulative_leads", lang),
                charts.PALETTE["cumulative"],
            ),
            y_title=t("metric.new_leads", lang),
            y2_title=t("metric.cumulative_leads", lang),
        ),
        "trend_orders": charts.bars_and_line(
            x,
            [
                (trend["orders"], t("metric.orders", lang), charts.PALETTE["orders"]),
                (trend["valid_orders"], t("metric.valid_orders", lang), charts.PALETTE["valid"]),
            ],
            (trend["revenue"], t("metric.revenue", lang), charts.PALETTE["revenue"]),
            y_title=t("kpi.count", lang),
            y2_title=t("metric.revenue", lang),
            money_line=True,
        ),
        "trend_staff": charts.lines(
            x,
            [
                (trend["staff_using"], t("metric.staff_using", lang), charts.PALETTE["using"]),
                (
                    trend["staff_active"],
                    t("metric.staff_active", lang, n=threshold),
                    charts.PALETTE["active"],
                ),
            ],
            y_title=t("kpi.staff_count", lang),
        ),
        "trend_growth": growth,
    }


def trends_tab(
    user: CurrentUser, figures: MonthFigures, first: str, month: str, drawn: dict[str, dict]
) -> None:
    """The trends since `first`: four charts (`drawn`: `month_charts`) and their table."""
    lang = user.lang
    trend, threshold = figures.trend, figures.threshold
    st.subheader(t("kpi.trend_heading", lang, first=first, last=month))
    titles = (
        ("trend_leads", t("kpi.trend.leads", lang)),
        ("trend_orders", t("kpi.trend.orders", lang)),
        ("trend_staff", t("kpi.trend.staff", lang)),
        ("trend_growth", t("metric.revenue_growth", lang)),
    )
    for pair in (titles[:2], titles[2:]):
        for column, (name, title) in zip(st.columns(2), pair, strict=True):
            with column:
                st.markdown(f"**{title}**")
                show_chart(drawn[name], key=f"kpi_{name}_chart", width="stretch")
    headers = {
        key: t("app.month", lang) if key == "month" else t(f"metric.{key}", lang, n=threshold)
        for key in TREND_COLUMNS
    }
    charts.table_section(
        user,
        trend[list(TREND_COLUMNS)].rename(columns=headers),
        key="kpi_trend",
        name=f"kpi-trend-{first}-{month}",
        what="kpi_trend",
        title=t("kpi.tab.trends", lang),
        period=f"{fmt.month(first, lang)} – {fmt.month(month, lang)}",
        column_config={
            headers["revenue"]: charts.money_column(),
            headers["revenue_growth"]: st.column_config.NumberColumn(format="percent"),
        },
    )


def department_chart(frame: pd.DataFrame, lang: str):
    """The departments side by side: one bar panel per measure."""
    panels = [
        (frame[key], t(f"metric.{key}", lang), charts.PALETTE[colour], key == "revenue")
        for key, colour in (
            ("new_leads", "leads"),
            ("orders", "orders"),
            ("valid_orders", "valid"),
            ("revenue", "revenue"),
        )
    ]
    return charts.department_bars(frame["department"].tolist(), panels)


def departments_tab(
    user: CurrentUser, figures: MonthFigures, month: str, drawn: dict[str, dict]
) -> None:
    """The departments side by side (`drawn`: `month_charts`) and their table."""
    lang = user.lang
    frame = figures.departments
    st.subheader(t("kpi.departments_heading", lang, month=month))
    show_chart(drawn["departments"], key="kpi_departments_chart", width="stretch")
    headers = {
        "department": t("metrics.department", lang),
        **{key: t(f"metric.{key}", lang) for key in DEPARTMENT_MEASURES},
        **{str(stage): t(f"stage.{stage}", lang) for stage in STAGE_ORDER},
    }
    charts.table_section(
        user,
        frame[list(headers)].rename(columns=headers),
        key="kpi_departments",
        name=f"kpi-departments-{month}",
        what="kpi_departments",
        title=t("kpi.tab.departments", lang),
        period=fmt.month(month, lang),
        column_config={headers["revenue"]: charts.money_column()},
    )


def leaderboards_tab(user: CurrentUser, months: list[str], month: str) -> None:
    lang = user.lang
    st.subheader(t("kpi.boards_heading", lang))
    options = departments(user.actor)
    choices = ([ALL] if user.department_id is None else []) + options["id"].tolist()
    names = dict(zip(options["id"], options["name"], strict=True))
    controls, filters = st.columns([3, 1])
    with controls:
        first, last = period_picker("kpi_board", months, month, lang)
    department_id = (
        filters.selectbox(
            t("metrics.department", lang),
            choices,
            format_func=lambda value: (
                t("kpi.all_departments", lang) if value == ALL else names[value]
            ),
            key="kpi_board_department",
        )
        or None
    )
    span = first if first == last else f"{first} – {last}"
    st.caption(t("kpi.boards_caption", lang, span=span, n=BOARD_ROWS))
    tables = boards(user.actor, first, last, department_id, BOARD_ROWS)
    measures = metrics.LEADERBOARD_MEASURES
    for pair in (measures[:2], measures[2:]):  # two boards a row, rows aligned
        for column, by in zip(st.columns(2), pair, strict=True):
            with column.container(key=f"kpi_board_{by}"):
                _board(user, tables[by], by, f"leaderboard-{by}-{first}-{last}")


def _board(user: CurrentUser, board: pd.DataFrame, by: str, name: str) -> None:
    lang = user.lang
    st.markdown(f"**{t(f'metrics.by.{by}', lang)}**")
    if board.empty:
        st.info(t("app.no_data", lang))
        return
    value_header = t(f"metrics.by.{by}", lang)
    shown = board[["rank", "staff_no", "name", "department", "value"]].rename(
        columns={
            "rank": t("metrics.rank", lang),
            "staff_no": t("metrics.staff_no", lang),
            "name": t("metrics.name", lang),
            "department": t("metrics.department", lang),
            "value": value_header,
        }
    )
    charts.table_section(
        user,
        shown,
        key=f"kpi_board_{by}",
        name=name,
        what=f"leaderboard_{by}",
        title=t(f"metrics.by.{by}", lang),
        column_config={value_header: charts.money_column()} if by == "valid_revenue" else None,
    )


def pareto_tab(user: CurrentUser, months: list[str], month: str) -> None:
    lang = user.lang
    st.subheader(t("metrics.pareto", lang))
    first, last = period_picker("kpi_pareto", months, month, lang)
    frame = revenue_by_member(user.actor, first, last)
    if frame.empty:
        st.info(t("app.no_data", lang))
        return
    top = metrics.top_member_share(frame)
    st.caption(
        t(
            "kpi.pareto_caption",
            lang,
            members=top["members"],
            top=top["top_members"],
            share=fmt.percent(top["share"], lang),
        )
    )
    pareto_section(
        user,
        frame,
        chart=pareto_chart(user.actor, first, last, lang),
        columns=PARETO_COLUMNS,
        shares=SHARES,
        name=f"revenue-by-member-{first}-{last}",
        what="revenue_by_member",
        title=t("metrics.pareto", lang),
        months=(first, last),
    )


def pareto_section(
    user: CurrentUser,
    frame: pd.DataFrame,
    *,
    chart: dict,
    columns: dict[str, str],
    shares,
    name: str,
    what: str,
    title: str,
    months: tuple[str, str],
) -> None:
    """The 20/80 chart (`chart`: a `pareto_figure`'s `chart_spec`) and its table with export,
    for members (the hospital) or patients (a department head)."""
    lang = user.lang
    show_chart(chart, key="kpi_pareto_chart", width="stretch")
    headers = {key: t(label, lang) for key, label in columns.items()}
    first, last = months
    charts.table_section(
        user,
        frame[list(headers)].rename(columns=headers),
        key="kpi_pareto",
        name=name,
        what=what,
        title=title,
        period=f"{fmt.month(first, lang)} – {fmt.month(last, lang)}",
        column_config={
            headers["revenue"]: charts.money_column(),
            **{headers[key]: st.column_config.NumberColumn(format="percent") for key in shares},
        },
    )


def pareto_figure(frame: pd.DataFrame, labels: list[str], lang: str):
    """Revenue bars (largest first) and the cumulative share line, one bar per label."""
    return charts.pareto(
        labels,
        frame["revenue"],
        frame["cumulative_share"],
        revenue_title=t("metric.revenue", lang),
        share_title=t("metrics.cumulative_share", lang),
    )
