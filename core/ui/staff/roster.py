"""The roster (the office), a department head's team with the card funnel, and a staff
member's own card."""

from __future__ import annotations

import streamlit as st

from core import metrics
from core.db import read_session
from core.i18n import t
from core.services import settings as settings_service
from core.services import staff as staff_service
from core.services.landing import Figure
from core.ui.head_view import leavers_note
from core.ui.staff.common import (
    ROSTER_SHOWN,
    TEAM_SHOWN,
    StaffView,
    departments,
    export,
    headers,
    month_row,
    roster,
    roster_display,
    roster_ticks,
    titles,
    yes_no,
)
from core.ui.text import plain
from core.ui.widgets import download_buttons, figure_tiles

CARD_STEPS = ("card.issued", "card.activated", "card.profile_complete", "card.revoked")


def my_card(view: StaffView) -> None:
    """A staff member's own card pipeline and figures (for the month picked above them)."""
    lang = view.lang
    month_row(view, "mine")
    mine = roster(view.actor, view.month, include_left=True)
    if mine.empty:
        st.info(t("staff.mine.none", lang))
        return
    me = mine.iloc[0]
    st.subheader(f"{t('staff.mine.title', lang)} · {plain(me['name'])} ({plain(me['staff_no'])})")
    st.markdown(f"**{t('staff.pipeline', lang)}:** {t(f'card.{me.card_status}', lang)}")
    steps = st.columns(4)
    for column, key, day in zip(
        steps,
        CARD_STEPS,
        (me.card_issued_on, me.card_activated_on, me.profile_completed_on, me.card_revoked_on),
        strict=True,
    ):
        column.metric(t(key, lang), day.isoformat() if day else "—")
    figures = st.columns(4)
    figures[0].metric(t("staff.col.leads", lang), f"{me.leads:,}")
    figures[1].metric(t("staff.col.leads_month", lang), f"{me.leads_month:,}")
    figures[2].metric(
        t("staff.col.valid_orders_month", lang),
        f"{me.valid_orders_month:,}",
        help=t("staff.help.valid_orders_month", lang),
    )
    figures[3].metric(
        t("staff.col.last_activity", lang),
        me.last_activity.isoformat() if me.last_activity else "—",
    )


def roster_tab(view: StaffView) -> None:
    """The office's roster: the month, filters, the table and its downloads."""
    lang, actor = view.lang, view.actor
    month_row(view, "roster")
    offices = departments(actor)
    department_names = dict(zip(offices["id"], offices["name"], strict=True))
    left, middle, right, last = st.columns([2, 1.2, 1.2, 1.2])
    search = left.text_input(t("staff.search", lang), key="staff_search", max_chars=64)
    department = middle.selectbox(
        t("staff.filter.department", lang),
        [None, *department_names],
        format_func=lambda i: t("app.all", lang) if i is None else department_names[i],
        placeholder=t("app.all", lang),
        key=view.lk("staff_department"),
    )
    title = right.selectbox(
        t("staff.filter.title", lang),
        [None, *titles(actor)],
        format_func=lambda v: t("app.all", lang) if v is None else v,
        placeholder=t("app.all", lang),
        key=view.lk("staff_title"),
    )
    status = last.selectbox(
        t("staff.filter.card_status", lang),
        [None, *staff_service.CARD_STATUSES],
        format_func=lambda s: t("app.all", lang) if s is None else t(f"card.{s}", lang),
        placeholder=t("app.all", lang),
        key=view.lk("staff_card_status"),
    )
    first, second, third = st.columns([1.2, 1.2, 2.8])
    using = first.selectbox(
        t("staff.filter.using", lang),
        [None, True, False],
        format_func=lambda v: yes_no(v, lang),
        placeholder=yes_no(None, lang),
        key=view.lk("staff_using"),
    )
    active = second.selectbox(
        t("staff.filter.active", lang, n=view.threshold),
        [None, True, False],
        format_func=lambda v: yes_no(v, lang),
        placeholder=yes_no(None, lang),
        key=view.lk("staff_active"),
    )
    third.write("")
    include_left = third.checkbox(t("staff.filter.include_left", lang), key="staff_include_left")
    people = roster(
        actor,
        view.month,
        search=search,
        department_id=department,
        title=title,
        card_status=status,
        using=using,
        active=active,
        include_left=include_left,
    )
    st.caption(t("staff.count", lang, n=f"{len(people):,}"))
    columns = ROSTER_SHOWN + (["left_on"] if include_left else [])
    _table(view, people, columns, name="staff", key="staff_roster_download")


def team_tab(view: StaffView) -> None:
    """A department head's team: the month, the card funnel against last month, then the
    table."""
    lang = view.lang
    month_row(view, "team")
    with read_session() as session:
        now, before = metrics.with_previous_month(
            metrics.card_funnel,
            session,
            month=view.month,
            actor=view.actor,
            rules=settings_service.metric_rules(session),
        )
        team = staff_service.team_table(session, actor=view.actor, month=view.month)
    keys = ("cards_issued", "cards_not_activated", "profiles_incomplete", "staff_using")
    figure_tiles(
        [
            Figure(f"metric.{key}", now[key], metrics.change_on_previous_month(now, before, key))
            for key in keys
        ]
        + [
            Figure(
                "metric.staff_active",
                now["staff_active"],
                metrics.change_on_previous_month(now, before, "staff_active"),
                label_values={"n": view.threshold},
            )
        ],
        lang,
        per_row=5,
    )
    st.caption(t("staff.count", lang, n=f"{len(team):,}"))
    leavers_note(view.user, view.month)  # counted as Card activation counts them
    _table(view, team, TEAM_SHOWN, name="team", key="staff_team_download")


def _table(view: StaffView, frame, columns: list[str], *, name: str, key: str) -> None:
    """The roster or team table in words, with its CSV and Excel downloads."""
    shown = headers(roster_display(frame, columns, view.lang), view.lang, view.threshold)
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        height=420,
        column_config=roster_ticks(view)
        | {t("staff.col.name", view.lang): st.column_config.TextColumn(pinned=True)},
        placeholder="—",
    )
    download_buttons(export(shown, view.lang), name=f"{name}-{view.month}", key=key, user=view.user)
