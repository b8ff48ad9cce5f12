"""Coming back and bringing others (SPEC §10) on the pages: the KPI page's return-rate
trend, departments, referral share and leaderboard; the recall list (Members, My day) with a
one-tap follow-up; a member's referral tree; a staff member's "your patients brought N".

Reads go through cached readers (subjects leads and members); the follow-up form is
core.ui.followups' (it saves through run_write).
"""

from __future__ import annotations

import datetime as dt
from functools import partial

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core import metrics
from core.db import read_session
from core.i18n import label_of, t
from core.months import add_months, month_of
from core.permissions import Actor
from core.services import referrals as service
from core.services import settings as settings_service
from core.ui import charts
from core.ui import format as fmt
from core.ui.cache import cached
from core.ui.followups import ExtraSection, followup_form
from core.ui.text import chart_spec, plain, show_chart

TREND_MONTHS = 12
RECALL_OPEN = "recall_open"
BROUGHT_LIMIT = 100  # people listed under "your patients brought"


# --- reads ----------------------------------------------------------------------------------


@cached("leads", "members", "staff")
def return_figures(actor: Actor, first: str, last: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The months' trend and the last month's departments."""
    with read_session() as session:
        trend = metrics.return_trend(session, actor=actor, first_month=first, last_month=last)
        departments = metrics.returns_by_department(session, actor=actor, month=last)
    return trend, departments


@cached("leads", "members", "staff")
def return_charts(actor: Actor, first: str, last: str, lang: str) -> dict[str, dict]:
    """The return-rate trend and the referral share charts, as `chart_spec`s."""
    trend, _ = return_figures(actor, first, last)
    return {
        "trend": chart_spec(trend_figure(trend, lang), lang),
        "share": chart_spec(share_figure(trend, lang), lang),
    }


@cached("leads", "members")
def leaderboards(actor: Actor, month: str) -> dict[str, pd.DataFrame]:
    """The referral leaderboard of the month and of its year to date."""
    first_of_year, _ = metrics.year_to_date(month)
    with read_session() as session:
        return {
            "month": service.referral_leaderboard(
                session, actor=actor, first_month=month, last_month=month
            ),
            "year": service.referral_leaderboard(
                session, actor=actor, first_month=first_of_year, last_month=month
            ),
        }


@cached("leads", "members", "settings")
def recall(actor: Actor, on: dt.date) -> tuple[pd.DataFrame, dict[str, int]]:
    """The patients due back on `on`, and the recall interval (months) of each order kind."""
    with read_session() as session:
        return service.recall_list(session, actor=actor, on=on), service.recall_intervals(session)


@cached("leads", "members")
def tree(actor: Actor, member_no: str) -> tuple[pd.DataFrame, int]:
    with read_session() as session:
        frame = service.referral_tree(session, actor=actor, member_no=member_no)
        referred = service.referred_count(session, actor=actor, member_no=member_no)
    return frame, referred


@cached("leads", "members")
def brought(actor: Actor) -> tuple[int, pd.DataFrame]:
    """How many people the staff login's patients brought, and (the newest) who."""
    with read_session() as session:
        count = service.patients_brought(session, actor=actor)
        people = service.brought_people(session, actor=actor, limit=BROUGHT_LIMIT)
    return count, people


def recall_day() -> dt.date:
    """The day the recall list is for: the hospital's today, or the last day with orders
    when the data ended before it (a demo opens on its own months)."""
    with read_session() as session:
        latest = metrics.latest_data_month(session)
        today = settings_service.hospital_today(session)
    if latest is None:
        return today
    return min(today, metrics.month_bounds(latest)[1])


# --- KPI page -------------------------------------------------------------------------------


def _percent(value) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.1%}"


def trend_figure(trend: pd.DataFrame, lang: str) -> go.Figure:
    """Patients and returning patients as bars, the return rate as a line (right axis)."""
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    x = list(trend["month"])
    for column, colour in (("patients", "#94a3b8"), ("returning_patients", "#0f766e")):
        figure.add_trace(
            go.Bar(x=x, y=list(trend[column]), name=t(f"referrals.{column}", lang),
                   marker_color=colour),
        )  # fmt: skip
    figure.add_trace(
        go.Scatter(
            x=x,
            y=list(trend["return_rate"]),
            name=t("referrals.return_rate", lang),
            mode="lines+markers",
            line={"color": "#dc2626", "width": 3},
        ),
        secondary_y=True,
    )
    figure.update_yaxes(title_text=t("referrals.patients", lang), secondary_y=False,
                        rangemode="tozero", tickformat=",")  # fmt: skip
    figure.update_yaxes(title_text=t("referrals.return_rate", lang), secondary_y=True,
                        rangemode="tozero", tickformat=".0%", showgrid=False)  # fmt: skip
    figure.update_xaxes(type="category")
    figure.update_layout(barmode="group")
    return charts.layout(figure, height=340)


def share_figure(trend: pd.DataFrame, lang: str) -> go.Figure:
    """The referral share of new leads, month by month."""
    share = charts.lines(
        trend["month"],
        [(trend["referral_share"], t("referrals.share", lang), "#7c3aed")],
        y_title=t("referrals.share", lang),
        height=260,
    )
    share.update_yaxes(tickformat=".0%", rangemode="tozero")
    return share


def kpi_tab(user, month: str, first_month: str) -> None:
    """Return visits and referrals for the KPI page: figures of `month`, the trend of the
    year before it (from `first_month`, the first with data, at the earliest), departments,
    referral share and the referral leaderboard."""
    lang = user.lang
    first = month_of(add_months(metrics.month_bounds(month)[0], -(TREND_MONTHS - 1)))
    first = max(first, min(first_month, month))
    trend, departments = return_figures(user.actor, first, month)
    drawn = return_charts(user.actor, first, month, lang)
    now = trend.iloc[-1]
    tiles = st.columns(4)
    # Every tile says what it counts (SPEC §10), as the overview's tiles do.
    tiles[0].metric(t("referrals.patients", lang), f"{int(now['patients']):,}",
                    help=t("help.metric.patients", lang))  # fmt: skip
    tiles[1].metric(t("referrals.returning_patients", lang), f"{int(now['returning_patients']):,}",
                    help=t("help.metric.returning_patients", lang))  # fmt: skip
    tiles[2].metric(t("referrals.return_rate", lang), _percent(now["return_rate"]),
                    help=t("help.metric.return_rate", lang))  # fmt: skip
    tiles[3].metric(t("referrals.referrals", lang), f"{int(now['referrals']):,}",
                    help=t("referrals.referrals_help", lang))  # fmt: skip
    st.markdown(f"**{t('referrals.trend_title', lang)}**")
    show_chart(drawn["trend"], key="referrals_trend", width="stretch")
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{t('referrals.by_department', lang, month=month)}**")
        shown = departments[["department", "patients", "returning_patients", "return_rate"]]
        shown = shown.assign(return_rate=shown["return_rate"].map(_percent))
        shown = shown.sort_values(["patients", "department"], ascending=[False, True])
        st.dataframe(shown.rename(columns=_headers(lang)), hide_index=True,
                     key="referrals_departments", placeholder="—")  # fmt: skip
    with right:
        st.markdown(f"**{t('referrals.share_title', lang)}**")
        show_chart(drawn["share"], key="referrals_share", width="stretch")
    leaderboard_section(user, month)


def _headers(lang: str) -> dict[str, str]:
    columns = ("department", "patients", "returning_patients", "return_rate", "member_no",
               "name", "referred", "rank")  # fmt: skip
    return {column: t(f"referrals.{column}", lang) for column in columns}


def leaderboard_section(user, month: str) -> None:
    lang = user.lang
    boards = leaderboards(user.actor, month)
    st.markdown(f"**{t('referrals.leaderboard_title', lang)}**")
    columns = st.columns(2)
    for column, (period, board) in zip(columns, boards.items(), strict=True):
        with column:
            st.caption(t(f"referrals.leaderboard_{period}", lang, month=month,
                         year=month[:4]))  # fmt: skip
            if board.empty:
                st.info(t("referrals.leaderboard_empty", lang))
                continue
            st.dataframe(board.rename(columns=_headers(lang)), hide_index=True,
                         key=f"referrals_board_{period}", placeholder="—")  # fmt: skip


# --- recall list ----------------------------------------------------------------------------


def recall_section(user, *, key: str, on: dt.date | None = None, limit: int = 50) -> None:
    """Patients due back, most overdue first, each with whom to contact and a button that
    opens the follow-up form for the patient's lead."""
    lang = user.lang
    on = on or recall_day()
    frame, intervals = recall(user.actor, on)
    st.markdown(f"**{t('referrals.recall_title', lang)}**")
    listed = ", ".join(
        t(
            "referrals.recall_interval",
            lang,
            kind=label_of("order_kind", kind, lang),
            months=fmt.counted(months, "referrals.noun.month", lang),
        )  # fmt: skip
        for kind, months in intervals.items()
    )
    st.caption(t("referrals.recall_help", lang, day=on.isoformat(), count=len(frame),
                 intervals=listed or "—"))  # fmt: skip
    if frame.empty:
        st.info(t("referrals.recall_empty", lang))
        return
    opened = st.session_state.get(f"{RECALL_OPEN}_{key}")
    for index, row in enumerate(frame.head(limit).itertuples()):
        line = st.columns([4, 3, 2], vertical_alignment="center")
        kind = label_of("order_kind", row.kind, lang)
        line[0].markdown(
            f"**{plain(row.name)}** · {plain(row.patient)}  \n"
            + t(
                "referrals.recall_line",
                lang,
                kind=kind,
                last_on=row.last_on.isoformat(),
                due_on=row.due_on.isoformat(),
                days=int(row.overdue_days),
            )  # fmt: skip
        )
        contact = plain(row.contact_name) if isinstance(row.contact_name, str) else "—"
        line[1].markdown(t("referrals.recall_contact", lang, name=contact,
                           department=plain(row.department or "—")))  # fmt: skip
        if pd.notna(row.lead_id):
            line[2].button(
                t("referrals.recall_follow_up", lang),
                key=f"recall_{key}_{index}",
                on_click=_toggle,
                args=(f"{RECALL_OPEN}_{key}", int(row.lead_id)),
                icon=":material/call:",
            )
            if opened == int(row.lead_id):
                followup_form(
                    user,
                    lead_id=int(row.lead_id),
                    name=row.name,
                    stage=row.stage or "distrust",
                    on=on,
                    key=f"recall_{key}_{index}",
                    on_saved=lambda: st.session_state.pop(f"{RECALL_OPEN}_{key}", None),
                )
        else:
            line[2].caption(t("referrals.recall_no_lead", lang))


def _toggle(state_key: str, lead_id: int) -> None:
    current = st.session_state.get(state_key)
    st.session_state[state_key] = None if current == lead_id else lead_id


def due_back(user) -> dict[str, ExtraSection]:
    """My day's "Due back" list (the recall list of the day), for its counts at the top."""
    on = recall_day()
    count = len(recall(user.actor, on)[0])
    draw = partial(recall_section, user, key="myday", on=on, limit=20)
    return {"due_back": ExtraSection(t("referrals.recall_tab", user.lang), count, draw)}


def my_day_section(user) -> None:
    """My day, below the lists: what the signed-in staff member's patients brought."""
    if user.staff_id is not None:
        brought_section(user)


def brought_section(user) -> None:
    """ "Your patients brought 12 others": the figure, and who they are behind an expander
    (newest first, each with the member who brought them)."""
    lang = user.lang
    count, people = brought(user.actor)
    others = fmt.counted(count, "referrals.noun.other", lang)
    with st.container(border=True, key="referrals_brought"):
        st.markdown(f"#### :material/diversity_3: {t('referrals.brought', lang, others=others)}")
        st.caption(t("referrals.brought_help", lang))
        if people.empty:
            return
        with st.expander(t("referrals.brought_list", lang, count=fmt.count(count, lang))):
            lines = []
            for row in people.itertuples():
                referrer = f"{row.referrer_no} · {row.referrer_name}"
                line = t("referrals.brought_line", lang, name=plain(row.name), ref=plain(row.ref),
                         kind=t(f"referrals.tree_{row.kind}", lang), on=fmt.date(row.on, lang),
                         referrer=plain(referrer))  # fmt: skip
                lines.append(f"- {line}")
            st.markdown("\n".join(lines))
            if count > len(people):
                st.caption(
                    t("referrals.brought_more", lang, count=fmt.count(count - len(people), lang))
                )


# --- a member's referral tree ---------------------------------------------------------------


def tree_section(user, member_no: str) -> None:
    """Whom the member brought, level by level, with stage and first valid order."""
    lang = user.lang
    frame, referred = tree(user.actor, member_no)
    st.markdown(f"**{t('referrals.tree_title', lang, count=referred)}**")
    if frame.empty:
        st.caption(t("referrals.tree_empty", lang))
        return
    lines = []
    for row in _depth_first(frame, member_no):
        indent = "    " * (int(row.level) - 1)
        stage = label_of("stage", row.stage, lang) if isinstance(row.stage, str) else "—"
        if row.first_valid_on is None or pd.isna(row.first_valid_on):
            first = t("referrals.tree_no_order", lang)
        else:
            first = t("referrals.tree_first_order", lang,
                      kind=label_of("order_kind", row.first_valid_kind, lang),
                      on=pd.Timestamp(row.first_valid_on).date().isoformat())  # fmt: skip
        kind = t(f"referrals.tree_{row.kind}", lang)
        brought_more = (
            t("referrals.tree_brought", lang, count=int(row.referred)) if row.referred else ""
        )
        lines.append(
            f"{indent}- **{plain(row.name)}** · {plain(row.ref)} ({kind}) · {stage} · "
            f"{first}{brought_more}"
        )
    st.markdown("\n".join(lines))


def _depth_first(frame: pd.DataFrame, member_no: str) -> list:
    """The tree's rows (level by level) in reading order: each person followed by whom
    they brought (as a member, or through the member their lead became), so an indented
    line sits under the person who brought it."""
    children: dict[tuple[int, str], list] = {}
    for row in frame.itertuples():
        children.setdefault((int(row.level), row.referrer_no), []).append(row)
    ordered: list = []
    seen: set = set()

    def walk(level: int, referrer: str) -> None:
        for row in children.get((level, referrer), []):
            if row.Index in seen:
                continue
            ordered.append(row)
            seen.add(row.Index)
            if isinstance(row.member_no, str):  # a member, or the member a lead became
                walk(level + 1, row.member_no)

    walk(1, member_no)
    ordered.extend(row for row in frame.itertuples() if row.Index not in seen)
    return ordered
