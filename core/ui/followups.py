"""My day and the follow-up widgets (SPEC §9), phone first.

- `followup_form(user, lead_id=…, name=…, stage=…, on=…, key=…)`: the reusable form that
  records a follow-up with the next date prefilled from the stage cadence. The lead dialog
  and the board card can call it as is.
- `my_day_page(user, extra)`: the page itself — the counts of the day's lists (a tap opens
  one), the chosen list with one-tap actions (call, record, open), and for heads and
  marketers the team views with the weekly trend.
- `cadence_settings(user)`: the admin's cadence editor with its preview, for the settings tab.

Rows are drawn in bordered containers with the actions in a horizontal container, so a
390-px-wide phone shows each lead as a card with three buttons side by side.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import NamedTuple

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.db import read_session
from core.domain import STAGE_ORDER, Role
from core.i18n import label_of, t
from core.permissions import Actor
from core.services import followups as service
from core.ui import format as fmt
from core.ui.actions import run_write, show_flash
from core.ui.cache import cached
from core.ui.text import plain, show_chart

FORM_OPEN = "myday_form_open"  # "section:lead_id" of the row whose form is open
# Rows drawn per section until "Show more" is tapped: a phone screen holds a few, and a run
# that draws every due lead (up to 200 a section) cost a server a hundred sessions could not.
ROWS_SHOWN = 20
LEAD_OPEN = "myday_lead_open"  # lead id of the open lead dialog
LEAD_SECTIONS = ("overdue", "due_today", "first_contacts")
SECTIONS = (*LEAD_SECTIONS, "handoffs", "members", "lapsing")  # in the order they open
SECTION_KEY = "myday_section"  # the list shown (its name)
TEAM_ROLES = (Role.admin, Role.marketer, Role.dept_head)
CSS = """
<style>
[class*="st-key-myday_acts_"] button, [class*="st-key-myday_acts_"] a {min-height: 44px;}
[class*="st-key-myday_row_"] p {margin-bottom: 0.15rem;}
</style>
"""


# --- Cached readers -------------------------------------------------------------------------


@cached("leads", "followups", "members")
def cached_day(actor: Actor) -> service.MyDay:
    with read_session() as session:
        on = service.my_day_as_of(session)
        return service.my_day(session, actor=actor, on=on)


@cached("leads", "followups")
def cached_team(actor: Actor) -> tuple[dt.date, pd.DataFrame, pd.DataFrame]:
    with read_session() as session:
        on = service.my_day_as_of(session)
        team = service.team_by_person(session, actor=actor, on=on)
        trend = service.on_time_by_week(session, actor=actor, on=on)
        return on, team, trend


@cached("leads", "settings")
def cached_cadence() -> dict[str, int]:
    with read_session() as session:
        return service.cadence(session)


# --- The follow-up form (reusable) ------------------------------------------------------------


def followup_form(
    user, *, lead_id: int, name: str, stage: str, on: dt.date, key: str, on_saved=None
) -> bool:
    """A form recording a contact with one lead: how, when, the next date (prefilled from
    the cadence of `stage`) and a note. Returns True once saved (the caches of leads are
    cleared; `on_saved()` then runs, e.g. to close the form and rerun)."""
    lang = user.lang
    days = cached_cadence().get(stage, cached_cadence()[str(STAGE_ORDER[0])])
    with st.form(key=f"fu_form_{key}", border=True, enter_to_submit=False):
        st.markdown(t("followups.form.title", lang, name=plain(name)))
        kind = st.radio(
            t("followups.form.kind", lang),
            service.KINDS,
            format_func=lambda k: label_of("followup_kind", k, lang),
            horizontal=True,
            key=f"fu_kind_{key}",
        )
        occurred_on = st.date_input(
            t("followups.form.occurred_on", lang), value=on, max_value=on, key=f"fu_on_{key}"
        )
        next_on = st.date_input(
            t("followups.form.next_on", lang),
            value=on + dt.timedelta(days=days),
            min_value=on,
            help=t("followups.form.next_help", lang, days=days,
                   stage=label_of("stage", stage, lang)),
            key=f"fu_next_{key}",
        )  # fmt: skip
        note = st.text_area(
            t("followups.form.note", lang), height=68, max_chars=500, key=f"fu_note_{key}"
        )
        submitted = st.form_submit_button(
            t("followups.form.save", lang), type="primary", width="stretch"
        )
    if not submitted:
        return False
    saved = run_write(
        lambda session: service.record_followup(
            session,
            actor=user.actor,
            lead_id=lead_id,
            kind=kind,
            occurred_on=occurred_on,
            note=note,
            next_on=next_on,
        ),
        lang=lang,
        affects=("followups",),  # not scored: no lead, board or KPI figure changes
        done=lambda row: t("followups.saved", lang, name=plain(name), next_on=row.next_on),
        flash=True,
    )
    if saved and on_saved is not None:
        on_saved()
    return bool(saved)


# --- My day -------------------------------------------------------------------------------


def _tel(phone) -> str | None:
    if not isinstance(phone, str) or not phone:
        return None
    digits = re.sub(r"[^\d+]", "", phone)
    return f"tel:{digits}" if len(digits) >= 5 else None


def _why(section: str, row, lang: str) -> str:
    if section == "overdue":
        key = "myday.why.overdue" if row["followed"] else "myday.why.first_overdue"
        ago = fmt.counted(int(row["overdue_days"]), "fmt.noun.day_ago", lang)
        return t(key, lang, day=row["next_on"], ago=ago)
    if section == "due_today":
        return t("myday.why.due_today", lang, last=row["last_on"])
    if section == "first_contacts":
        return t("myday.why.first_contact", lang, created=row["last_on"])
    if section == "handoffs":
        handed = row["handed_at"]
        day = handed.date() if hasattr(handed, "date") else handed
        return t("myday.why.handoff", lang, consultant=plain(row["consultant"]), day=day)
    if section == "lapsing":
        return t("myday.why.lapsing", lang, until=row["protected_until"])
    return ""


def _close_form() -> None:
    st.session_state.pop(FORM_OPEN, None)


def _toggle_form(token: str) -> None:
    st.session_state[FORM_OPEN] = None if st.session_state.get(FORM_OPEN) == token else token


def _open_lead(lead_id: int) -> None:
    st.session_state[LEAD_OPEN] = lead_id


def _after_save() -> None:
    _close_form()
    st.session_state.pop(LEAD_OPEN, None)
    st.rerun()


def _lead_row(user, section: str, row, on: dt.date) -> None:
    lang = user.lang
    lead_id = int(row["lead_id"])
    token = f"{section}:{lead_id}"
    with st.container(border=True, key=f"myday_row_{section}_{lead_id}"):
        stage = label_of("stage", row["stage"], lang)
        score = t("myday.score", lang, score=int(row["score"]))
        handed = f" · {t('myday.why.handed', lang)}" if row.get("handed") is True else ""
        why = plain(_why(section, row, lang))
        why = f":red[{why}]" if section == "overdue" else why
        # One element for both lines: My day draws up to a hundred rows on every rerun.
        st.markdown(f"**{plain(row['name'])}** · {stage} · {score}{handed}  \n{why}")
        writable = user.can_write and section != "handoffs"
        with st.container(horizontal=True, key=f"myday_acts_{section}_{lead_id}", gap="small"):
            tel = _tel(row.get("phone"))
            if tel:
                st.link_button(t("myday.call", lang), tel, icon=":material/call:", width="stretch")
            else:
                st.button(t("myday.no_phone", lang), key=f"myday_nophone_{section}_{lead_id}",
                          disabled=True, width="stretch")  # fmt: skip
            if writable:
                st.button(
                    t("myday.record", lang),
                    key=f"myday_rec_{section}_{lead_id}",
                    icon=":material/edit_note:",
                    type="primary",
                    width="stretch",
                    on_click=_toggle_form,
                    args=(token,),
                )
            st.button(
                t("myday.open", lang),
                key=f"myday_open_{section}_{lead_id}",
                icon=":material/open_in_new:",
                width="stretch",
                on_click=_open_lead,
                args=(lead_id,),
            )
        if writable and st.session_state.get(FORM_OPEN) == token:
            followup_form(
                user, lead_id=lead_id, name=str(row["name"]), stage=str(row["stage"]), on=on,
                key=f"{section}_{lead_id}", on_saved=_after_save,
            )  # fmt: skip


def _member_row(row, lang: str) -> None:
    with st.container(border=True, key=f"myday_row_member_{row['member_no']}"):
        st.markdown(f"**{plain(row['name'])}** · {plain(row['member_no'])}")
        st.markdown(t(f"myday.why.{row['why']}", lang))
        tel = _tel(row["phone"])
        if tel:
            with st.container(horizontal=True, key=f"myday_acts_member_{row['member_no']}"):
                st.link_button(t("myday.call", lang), tel, icon=":material/call:", width="stretch")


def _lead_dialog(user, row, on: dt.date) -> None:
    lang = user.lang
    lead_id = int(row["lead_id"])

    def body() -> None:
        st.markdown(
            t("myday.opened_lead", lang, ref=plain(row["lead_ref"]), name=plain(row["name"]))
        )
        st.caption(
            f"{label_of('stage', row['stage'], lang)} · "
            f"{t('myday.score', lang, score=int(row['score']))}"
        )
        tel = _tel(row.get("phone"))
        if tel:
            st.link_button(f"{t('myday.call', lang)} {plain(row['phone'])}", tel,
                           icon=":material/call:", width="stretch")  # fmt: skip
        st.markdown(f"**{t('myday.history', lang)}**")
        with read_session() as session:
            history = service.lead_followups(session, actor=user.actor, lead_id=lead_id)
        if history.empty:
            st.caption(t("myday.no_history", lang))
        for item in history.head(10).itertuples():
            note = f" — {plain(item.note)}" if isinstance(item.note, str) and item.note else ""
            following = f" → {item.next_on}" if item.next_on else ""
            st.markdown(
                f"{item.occurred_on} · {label_of('followup_kind', item.kind, lang)} · "
                f"{plain(item.staff)}{following}{note}"
            )
        if user.can_write:
            followup_form(
                user, lead_id=lead_id, name=str(row["name"]), stage=str(row["stage"]), on=on,
                key=f"dialog_{lead_id}", on_saved=_after_save,
            )  # fmt: skip

    st.dialog(
        t("page.my_day", lang),
        width="small",
        on_dismiss=lambda: st.session_state.pop(LEAD_OPEN, None),
    )(body)()


class ExtraSection(NamedTuple):
    """A list another part of the app adds to My day (the recall list, SPEC §10): its
    label in the user's language, its count, and how to draw it."""

    label: str
    count: int
    draw: Callable[[], None]


def _chosen_section(day: service.MyDay, extra: Mapping[str, ExtraSection], lang: str) -> str:
    """The counts at the top, one per list, each a tap that opens its list. The page opens
    on the first list with something in it; only the chosen list is drawn (a phone scrolls
    through one list, and a run draws twenty rows, not a hundred and forty)."""
    counts = {**day.counts, **{name: section.count for name, section in extra.items()}}
    labels = {name: t(f"myday.count.{name}", lang) for name in SECTIONS}
    labels |= {name: section.label for name, section in extra.items()}
    names = [*SECTIONS, *extra]
    chosen = st.segmented_control(
        t("myday.sections", lang),
        names,
        default=next((name for name in names if counts[name]), names[0]),
        required=True,
        format_func=lambda name: f"{labels[name]} · {counts[name]:,}",
        key=SECTION_KEY,
        label_visibility="collapsed",
    )
    return chosen or names[0]


def _show_more(name: str) -> None:
    key = f"myday_shown_{name}"
    st.session_state[key] = st.session_state.get(key, ROWS_SHOWN) + ROWS_SHOWN


def _section(user, name: str, frame: pd.DataFrame, total: int, on: dt.date) -> None:
    lang = user.lang
    st.subheader(f"{t(f'myday.section.{name}', lang)} ({total:,})")
    if not total:
        st.caption(t("myday.section_empty", lang))
        return
    shown = frame.head(st.session_state.get(f"myday_shown_{name}", ROWS_SHOWN))
    for row in shown.to_dict("records"):
        if name == "members":
            _member_row(row, lang)
        else:
            _lead_row(user, name, row, on)
    if len(frame) > len(shown):
        st.button(
            t("myday.show_more", lang, count=min(ROWS_SHOWN, len(frame) - len(shown)),
              left=total - len(shown)),
            key=f"myday_more_{name}",
            icon=":material/expand_more:",
            width="stretch",
            on_click=_show_more,
            args=(name,),
        )  # fmt: skip
    elif total > len(frame):
        st.caption(t("myday.more", lang, count=total - len(frame)))


def _all_rows(day: service.MyDay) -> dict[int, dict]:
    rows: dict[int, dict] = {}
    for name in (*LEAD_SECTIONS, "handoffs", "lapsing"):
        for row in getattr(day, name).to_dict("records"):
            rows.setdefault(int(row["lead_id"]), row)
    return rows


def _team(user) -> None:
    lang = user.lang
    on, team, trend = cached_team(user.actor)
    st.header(t("myday.team.title", lang))
    scope = "department" if user.role == Role.dept_head else "all"
    st.caption(t(f"myday.team.caption_{scope}", lang))
    if team.empty:
        st.info(t("myday.team.empty", lang))
        return
    with st.container(horizontal=True, key="myday_team_counts", gap="small"):
        st.metric(t("myday.team.team_overdue", lang), f"{int(team['overdue'].sum()):,}")
        st.metric(t("myday.team.team_unattended", lang), f"{int(team['unattended'].sum()):,}",
                  help=t("myday.team.unattended_help", lang))  # fmt: skip
    shown = team.assign(staff_no=team["staff_no"].fillna("—")).rename(
        columns={c: t(f"myday.team.{c}", lang) for c in team.columns if c != "staff_no"}
        | {"staff_no": t("myday.team.staff_no", lang)}
    )
    st.dataframe(shown, hide_index=True, width="stretch", key="myday_team_table", placeholder="—")
    st.subheader(t("myday.trend.title", lang))
    if not trend["due"].sum():
        st.caption(t("myday.trend.empty", lang))
        return
    show_chart(trend_figure(trend, lang), width="stretch", key="myday_trend")


def trend_figure(trend: pd.DataFrame, lang: str) -> go.Figure:
    """The weekly share of due follow-ups done on time (a line) over the number due (bars)."""
    weeks = [str(week) for week in trend["week"]]
    figure = go.Figure()
    figure.add_bar(x=weeks, y=trend["due"], name=t("myday.trend.due", lang),
                   marker_color="#cbd5e1")  # fmt: skip
    figure.add_scatter(
        x=weeks,
        y=[None if pd.isna(v) else round(100 * v, 1) for v in trend["share"]],
        name=t("myday.trend.share", lang),
        mode="lines+markers",
        line={"color": "#2563eb", "width": 3},
        yaxis="y2",
    )
    figure.update_layout(
        height=300,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": 1.12, "x": 0},
        xaxis={"title": t("myday.trend.week", lang), "type": "category"},
        yaxis={"title": t("myday.trend.due", lang), "showgrid": False},
        yaxis2={"overlaying": "y", "side": "right", "range": [0, 105], "title": "%"},
        hovermode="x unified",
    )  # fmt: skip
    return figure


def my_day_page(user, extra: Mapping[str, ExtraSection] | None = None) -> None:
    """The whole page: what the signed-in person has to do today, list by list, then their
    team's. `extra` adds lists drawn by other parts of the app (the recall list)."""
    lang = user.lang
    extra = extra or {}
    st.markdown(CSS, unsafe_allow_html=True)
    show_flash()
    day = cached_day(user.actor)
    st.caption(t("myday.as_of", lang, day=day.on))
    if user.staff_id is None and user.role != Role.consultant:
        st.caption(t("myday.no_staff", lang))
    if not any(day.counts.values()):
        st.success(t("myday.empty", lang), icon=":material/sentiment_satisfied:")
    chosen = _chosen_section(day, extra, lang)
    if chosen in extra:
        extra[chosen].draw()
    else:
        _section(user, chosen, getattr(day, chosen), day.counts[chosen], day.on)
    opened = st.session_state.get(LEAD_OPEN)
    if opened is not None:
        row = _all_rows(day).get(int(opened))
        if row is None:
            st.session_state.pop(LEAD_OPEN, None)
        else:
            _lead_dialog(user, row, day.on)
    if user.role in TEAM_ROLES:
        _team(user)


# --- Cadence settings (for the admin's settings tab) -----------------------------------------


def cadence_settings(user) -> None:
    """The cadence editor: a number of days per stage, a preview of how many leads the
    change makes due (per stage and in all), and Save. Admins only (the service checks)."""
    lang = user.lang
    st.subheader(t("followups.cadence.title", lang))
    st.caption(t("followups.cadence.caption", lang))
    current = cached_cadence()
    proposed = {}
    with st.container(horizontal=True, key="cadence_inputs"):
        for stage in STAGE_ORDER:
            proposed[str(stage)] = int(
                st.number_input(
                    label_of("stage", str(stage), lang),
                    min_value=service.CADENCE_RANGE[0],
                    max_value=service.CADENCE_RANGE[1],
                    value=int(current[str(stage)]),
                    step=1,
                    key=f"cadence_{stage}",
                )
            )
    if proposed == current:
        return
    with read_session() as session:
        preview = service.cadence_change_preview(session, actor=user.actor, days=proposed)
        on = service.my_day_as_of(session)
    due_now, due_new = int(preview["due_now"].sum()), int(preview["due_new"].sum())
    st.info(t("followups.cadence.preview", lang, day=on, due_now=due_now, due_new=due_new,
              change=due_new - due_now))  # fmt: skip
    shown = preview.assign(stage=[label_of("stage", s, lang) for s in preview["stage"]])
    st.dataframe(
        shown.rename(columns={c: t(f"followups.cadence.{c}", lang) for c in shown.columns}),
        hide_index=True,
        key="cadence_preview",
        placeholder="—",
    )
    if st.button(t("app.save", lang), key="cadence_save", type="primary"):
        run_write(
            lambda session: service.set_cadence(session, actor=user.actor, days=proposed),
            lang=lang,
            affects=("settings",),
            done=t("followups.cadence.saved", lang),
        )
