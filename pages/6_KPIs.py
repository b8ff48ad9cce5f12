"""KPIs (经营指标) — the month at a glance, trends, the trust ladder, departments side by side,
leaderboards and the 20/80 chart of revenue by member.

Every number comes from core.metrics, scoped by the signed-in user: a department head sees the
same page limited to their department. Executives read it; nothing here changes data.
"""

import streamlit as st

from core import metrics
from core.config import get_settings
from core.db import read_session
from core.domain import STAGE_ORDER
from core.i18n import t
from core.permissions import Actor
from core.services import settings as settings_service
from core.services import staff as staff_service
from core.services.landing import Figure
from core.ui import charts
from core.ui.layout import page_setup
from core.ui.text import plain
from core.ui.widgets import figure_tiles, month_picker

user = page_setup("page.kpis")
lang = user.lang
actor = user.actor
PERIODS = ("month", "ytd", "range")
BOARD_ROWS = 10
ALL = 0  # the leaderboards' "all departments" choice (a None option would be clearable)
TILE_ROWS = (
    ("cumulative_leads", "new_leads", "staff_using", "staff_active"),
    ("orders", "valid_orders", "revenue", "revenue_growth"),
)


# --- Reads (cached per database, user and choice) -----------------------------------------


@st.cache_data(ttl=300, show_spinner=False)
def _month_figures(database_url: str, actor: Actor, month: str, first_month: str):
    with read_session() as session:
        rules = settings_service.metric_rules(session)
        now, before = metrics.with_previous_month(
            metrics.month_kpis, session, month=month, actor=actor, rules=rules
        )
        trend = metrics.kpi_trend(
            session, actor=actor, first_month=first_month, last_month=month, rules=rules
        )
        departments = metrics.department_comparison(session, actor=actor, month=month)
    return now, before, trend, departments, rules.active_staff_lead_threshold


@st.cache_data(ttl=300, show_spinner=False)
def _boards(
    database_url: str, actor: Actor, first: str, last: str, department_id: int | None, limit: int
):
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


@st.cache_data(ttl=300, show_spinner=False)
def _pareto(database_url: str, actor: Actor, first: str, last: str):
    with read_session() as session:
        return metrics.revenue_by_member(session, actor=actor, first_month=first, last_month=last)


@st.cache_data(ttl=300, show_spinner=False)
def _departments(database_url: str, actor: Actor):
    with read_session() as session:
        return staff_service.departments(session, actor=actor)


def _period(prefix: str, months: list[str], month: str) -> tuple[str, str]:
    """The selected month, the year to date, or a chosen range of months."""
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


# --- The month ----------------------------------------------------------------------------

database_url = get_settings().database_url
with read_session() as session:
    latest = metrics.latest_data_month(session)
    # From the first month with cards or activity to the latest month with data (SPEC §7).
    months = [month for month in staff_service.data_months(session) if month <= (latest or "")]
if not months:
    st.info(t("app.no_data", lang))
    st.stop()

with st.columns([1, 3])[0]:
    month = month_picker(months, key="kpi_month", lang=lang, default=latest)
now, before, trend, departments, threshold = _month_figures(database_url, actor, month, months[0])
if user.department_id is not None:
    names = ", ".join(plain(name) for name in departments["department"])
    st.caption(t("kpi.scope_department", lang, department=names))

overview, trends, compare, boards, pareto = st.tabs(
    [
        t("kpi.tab.overview", lang),
        t("kpi.tab.trends", lang),
        t("kpi.tab.departments", lang),
        t("kpi.tab.leaderboards", lang),
        t("kpi.tab.pareto", lang),
    ],
    key="kpi_tabs",
)


def _tile(key: str) -> Figure:
    label_values = {"n": threshold} if key == "staff_active" else None
    if key == "revenue_growth":  # itself a change on the previous month
        return Figure("metric.revenue_growth", now["revenue_growth"], None, is_ratio=True)
    return Figure(
        f"metric.{key}",
        now[key],
        metrics.change_on_previous_month(now, before, key),
        label_values=label_values,
        is_money=key == "revenue",
    )


with overview:
    st.subheader(t("kpi.month_heading", lang, month=month))
    for row in TILE_ROWS:
        figure_tiles([_tile(key) for key in row], lang, per_row=4)
    stage_counts = now["leads_by_stage"]
    stage_labels = [t(f"stage.{stage}", lang) for stage in STAGE_ORDER]
    st.subheader(t("kpi.ladder", lang))
    st.caption(t("kpi.ladder_note", lang))
    figure_tiles(
        [Figure(f"stage.{stage}", stage_counts[str(stage)]) for stage in STAGE_ORDER],
        lang,
        per_row=4,
    )
    st.plotly_chart(
        charts.funnel(stage_labels, [stage_counts[str(stage)] for stage in STAGE_ORDER]),
        key="kpi_ladder_chart",
        width="stretch",
    )

with trends:
    st.subheader(t("kpi.trend_heading", lang, first=months[0], last=month))
    x = trend["month"].tolist()
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{t('kpi.trend.leads', lang)}**")
        st.plotly_chart(
            charts.bars_and_line(
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
            key="kpi_trend_leads_chart",
            width="stretch",
        )
    with right:
        st.markdown(f"**{t('kpi.trend.orders', lang)}**")
        st.plotly_chart(
            charts.bars_and_line(
                x,
                [
                    (trend["orders"], t("metric.orders", lang), charts.PALETTE["orders"]),
                    (
                        trend["valid_orders"],
                        t("metric.valid_orders", lang),
                        charts.PALETTE["valid"],
                    ),
                ],
                (trend["revenue"], t("metric.revenue", lang), charts.PALETTE["revenue"]),
                y_title=t("kpi.count", lang),
                y2_title=t("metric.revenue", lang),
                money_line=True,
            ),
            key="kpi_trend_orders_chart",
            width="stretch",
        )
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{t('kpi.trend.staff', lang)}**")
        st.plotly_chart(
            charts.lines(
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
            key="kpi_trend_staff_chart",
            width="stretch",
        )
    with right:
        st.markdown(f"**{t('metric.revenue_growth', lang)}**")
        growth = charts.bars_and_line(
            x,
            [
                (
                    trend["revenue_growth"],
                    t("metric.revenue_growth", lang),
                    charts.PALETTE["revenue"],
                )
            ],
            None,
            y_title=t("metric.revenue_growth", lang),
        )
        growth.update_yaxes(tickformat=".0%", rangemode="normal")
        growth.update_layout(showlegend=False)
        st.plotly_chart(growth, key="kpi_trend_growth_chart", width="stretch")
    trend_columns = [
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
    ]
    trend_headers = {
        key: t("app.month", lang) if key == "month" else t(f"metric.{key}", lang, n=threshold)
        for key in trend_columns
    }
    charts.table_section(
        user,
        trend[trend_columns].rename(columns=trend_headers),
        key="kpi_trend",
        name=f"kpi-trend-{months[0]}-{month}",
        what="kpi_trend",
        column_config={
            trend_headers["revenue"]: charts.money_column(),
            trend_headers["revenue_growth"]: st.column_config.NumberColumn(format="percent"),
        },
    )

with compare:
    st.subheader(t("kpi.departments_heading", lang, month=month))
    names = departments["department"].tolist()
    st.plotly_chart(
        charts.department_bars(
            names,
            [
                (
                    departments["new_leads"],
                    t("metric.new_leads", lang),
                    charts.PALETTE["leads"],
                    False,
                ),
                (departments["orders"], t("metric.orders", lang), charts.PALETTE["orders"], False),
                (
                    departments["valid_orders"],
                    t("metric.valid_orders", lang),
                    charts.PALETTE["valid"],
                    False,
                ),
                (
                    departments["revenue"],
                    t("metric.revenue", lang),
                    charts.PALETTE["revenue"],
                    True,
                ),
            ],
        ),
        key="kpi_departments_chart",
        width="stretch",
    )
    department_columns = [
        "department",
        "new_leads",
        "cumulative_leads",
        "orders",
        "valid_orders",
        "revenue",
        *[str(stage) for stage in STAGE_ORDER],
    ]
    department_headers = {
        key: t("metrics.department", lang)
        if key == "department"
        else t(f"stage.{key}", lang)
        if key in {str(stage) for stage in STAGE_ORDER}
        else t(f"metric.{key}", lang)
        for key in department_columns
    }
    charts.table_section(
        user,
        departments[department_columns].rename(columns=department_headers),
        key="kpi_departments",
        name=f"kpi-departments-{month}",
        what="kpi_departments",
        column_config={department_headers["revenue"]: charts.money_column()},
    )

with boards:
    st.subheader(t("kpi.boards_heading", lang))
    options = _departments(database_url, actor)
    choices = ([ALL] if user.department_id is None else []) + options["id"].tolist()
    department_names = dict(zip(options["id"], options["name"], strict=True))
    controls, filters = st.columns([3, 1])
    with controls:
        first, last = _period("kpi_board", months, month)
    department_id = (
        filters.selectbox(
            t("metrics.department", lang),
            choices,
            format_func=lambda value: (
                t("kpi.all_departments", lang) if value == ALL else department_names[value]
            ),
            key="kpi_board_department",
        )
        or None
    )
    span = first if first == last else f"{first} – {last}"
    st.caption(t("kpi.boards_caption", lang, span=span, n=BOARD_ROWS))
    tables = _boards(database_url, actor, first, last, department_id, BOARD_ROWS)
    measures = metrics.LEADERBOARD_MEASURES
    for pair in (measures[:2], measures[2:]):  # two boards a row, rows aligned
        for column, by in zip(st.columns(2), pair, strict=True):
            with column.container(key=f"kpi_board_{by}"):
                st.markdown(f"**{t(f'metrics.by.{by}', lang)}**")
                board = tables[by]
                if board.empty:
                    st.info(t("app.no_data", lang))
                    continue
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
                money = {value_header: charts.money_column()}
                charts.table_section(
                    user,
                    shown,
                    key=f"kpi_board_{by}",
                    name=f"leaderboard-{by}-{first}-{last}",
                    what=f"leaderboard_{by}",
                    column_config=money if by == "valid_revenue" else None,
                )

with pareto:
    st.subheader(t("metrics.pareto", lang))
    first, last = _period("kpi_pareto", months, month)
    frame = _pareto(database_url, actor, first, last)
    if frame.empty:
        st.info(t("app.no_data", lang))
    else:
        top = metrics.top_member_share(frame)
        st.caption(
            t(
                "kpi.pareto_caption",
                lang,
                members=top["members"],
                top=top["top_members"],
                share=f"{top['share'] or 0:.0%}",
            )
        )
        st.plotly_chart(
            charts.pareto(
                [
                    f"{no} {name}"
                    for no, name in zip(frame["member_no"], frame["name"], strict=True)
                ],
                frame["revenue"],
                frame["cumulative_share"],
                revenue_title=t("metric.revenue", lang),
                share_title=t("metrics.cumulative_share", lang),
            ),
            key="kpi_pareto_chart",
            width="stretch",
        )
        pareto_headers = {
            "member_no": t("metrics.member_no", lang),
            "name": t("metrics.name", lang),
            "orders": t("metric.valid_orders", lang),
            "revenue": t("metric.revenue", lang),
            "share": t("metrics.share", lang),
            "cumulative_share": t("metrics.cumulative_share", lang),
            "member_share": t("metrics.member_share", lang),
        }
        charts.table_section(
            user,
            frame[list(pareto_headers)].rename(columns=pareto_headers),
            key="kpi_pareto",
            name=f"revenue-by-member-{first}-{last}",
            what="revenue_by_member",
            column_config={
                pareto_headers["revenue"]: charts.money_column(),
                **{
                    pareto_headers[key]: st.column_config.NumberColumn(format="percent")
                    for key in ("share", "cumulative_share", "member_share")
                },
            },
        )
