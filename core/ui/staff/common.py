"""What every tab of the Staff & cards page shares: the view (who reads, the month, the rules
the page reads once per run), names in the user's language, and the roster's table helpers
(headers, dates, ticks, the export with yes/no)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from core.db import read_session
from core.domain import Role
from core.i18n import t
from core.permissions import Actor
from core.services import settings as settings_service
from core.services import staff as staff_service
from core.ui.actions import refusal_text, show_flash
from core.ui.activation import activation_months
from core.ui.auth import CurrentUser
from core.ui.cache import cached
from core.ui.refusals import as_app_error
from core.ui.text import plain
from core.ui.view import UserView
from core.ui.widgets import shared_month, shared_month_picker

STAFF_CHANGE = ("staff", "leads", "commission")  # a person's name and department show there
RECORDS_MOVED = ("staff", "leads", "members")  # leads, members and hand-offs change owner
MONTH_KEY = "staff_month"  # the month the Roster, My team and Follow-up tabs share

# The month's figures first; the card dates after them (the table scrolls sideways there).
ROSTER_SHOWN = [
    "staff_no",
    "name",
    "department",
    "title",
    "card_status",
    "leads_month",
    "valid_orders_month",
    "leads",
    "last_activity",
    "using",
    "active",
    "card_issued_on",
    "card_activated_on",
    "profile_completed_on",
    "card_revoked_on",
]
# What a head reads first (a phone shows four or five columns): who, this month's figures,
# the card; the name stays in view when the table scrolls sideways (issue 19, item 10).
TEAM_SHOWN = [
    "name",
    "rank_leads",
    "leads_month",
    "valid_orders_month",
    "card_status",
    "using",
    "active",
    "orders_month",
    "rank_valid_orders",
    "leads",
    "last_activity",
    "staff_no",
    "title",
]
DATE_COLUMNS = [
    "card_issued_on",
    "card_activated_on",
    "profile_completed_on",
    "card_revoked_on",
    "last_activity",
    "left_on",
    "since",
    "due_on",
]


@dataclass(frozen=True)
class StaffView(UserView):
    """The signed-in user, the month picked and the rules the page reads once per run."""

    user: CurrentUser
    months: list[str]
    month: str
    as_of: dt.date  # the month's lists are drawn up on this day
    today: dt.date  # card days and joining days: the hospital's today
    threshold: int  # leads in a month that make a person "active"
    activation_days: int
    profile_days: int
    tier_names: dict[int, str]
    latest: str | None = None  # the latest month with data: where the month picker opens

    @property
    def role(self) -> Role:
        return self.user.role


# --- Reads (cached per data version: a rerun reads none of them again) ---------------------


@cached("staff", "leads", "members")
def roster(
    actor: Actor,
    month: str,
    search: str | None = None,
    department_id: int | None = None,
    title: str | None = None,
    card_status: str | None = None,
    using: bool | None = None,
    active: bool | None = None,
    include_left: bool = False,
) -> pd.DataFrame:
    """`staff_service.staff_roster`: one row per person as of the end of `month`."""
    with read_session() as session:
        return staff_service.staff_roster(
            session,
            actor=actor,
            month=month,
            search=search,
            department_id=department_id,
            title=title,
            card_status=card_status,
            using=using,
            active=active,
            include_left=include_left,
        )


@cached("staff", "leads", "members")
def card_candidates(actor: Actor, action: str, month: str) -> pd.DataFrame:
    """The people a card action may be taken for."""
    with read_session() as session:
        return staff_service.card_action_candidates(
            session, actor=actor, action=action, month=month
        )


@cached("staff")
def follow_up(actor: Actor, as_of: dt.date, include_not_due: bool) -> pd.DataFrame:
    """The follow-up list drawn up on `as_of`."""
    with read_session() as session:
        return staff_service.follow_up_list(
            session, actor=actor, as_of=as_of, include_not_due=include_not_due
        )


@cached("staff")
def departments(actor: Actor) -> pd.DataFrame:
    with read_session() as session:
        return staff_service.departments(session, actor=actor)


@cached("staff")
def titles(actor: Actor) -> list[str]:
    with read_session() as session:
        return staff_service.staff_titles(session, actor=actor)


@cached("staff")
def staff_choices(actor: Actor, employed_only: bool) -> pd.DataFrame:
    with read_session() as session:
        return staff_service.staff_choices(session, actor=actor, employed_only=employed_only)


def staff_view(user: CurrentUser) -> StaffView | None:
    """Read what the tabs share and show the last save's outcome; None (after saying so) when
    the hospital has no data yet. The month is the one the tabs that use it share (each draws
    its picker with `month_row`; the others have none, issue 19 item 9)."""
    lang = user.lang
    months, latest = activation_months()
    with read_session() as session:
        today = settings_service.hospital_today(session)
        threshold = int(settings_service.get_value(session, "active_staff_lead_threshold"))
        activation_days = int(settings_service.get_value(session, "followup_activation_days"))
        profile_days = int(settings_service.get_value(session, "followup_profile_days"))
        tier_names = {
            tier.level: (tier.name_zh if lang == "zh" else tier.name_en)
            for tier in settings_service.tiers(session)
        }
    show_flash()
    if not months:
        st.info(t("app.no_data", lang))
        return None
    month = shared_month(months, shared=MONTH_KEY, default=latest)
    with read_session() as session:
        as_of = staff_service.as_of_for(session, month)
    return StaffView(
        user=user,
        months=months,
        month=month,
        as_of=as_of,
        today=today,
        threshold=threshold,
        activation_days=activation_days,
        profile_days=profile_days,
        tier_names=tier_names,
        latest=latest,
    )


def month_row(view: StaffView, where: str, *, caption: bool = True) -> None:
    """The month picker of a tab that uses the month (the Roster, My team, the Follow-up
    list, a staff member's card), in a narrow column: all of them show the view's month, and
    a month picked in one is picked in all. `caption`: the day the figures are counted to."""
    with st.columns([1, 3])[0]:
        shared_month_picker(
            view.months,
            key=f"{MONTH_KEY}_{where}",
            shared=MONTH_KEY,
            lang=view.lang,
            default=view.latest,
        )
    if caption:
        st.caption(t("staff.as_of", view.lang, month=view.month, day=view.as_of.isoformat()))


# --- Words --------------------------------------------------------------------------------


def refusal(error: Exception, lang: str) -> str:
    """Why a read or a preview was refused, in the user's language, as text."""
    refused = as_app_error(error, lang)
    return refusal_text(refused or error, lang) or t("app.error", lang, message=plain(error))


def yes_no(value, lang: str) -> str:
    if value is None:
        return t("staff.any", lang)
    return t("staff.yes", lang) if value else t("staff.no", lang)


def person(row) -> str:
    """A staff member as pickers name them: number, name, department."""
    return f"{row['staff_no']} {row['name']} · {row['department']}"


def people_labels(frame: pd.DataFrame, id_column: str = "id") -> dict[int, str]:
    """Picker labels of the people in `frame`, by their id."""
    return {getattr(row, id_column): person(row._asdict()) for row in frame.itertuples()}


def person_picker(view: StaffView, place, label_key: str, labels: dict, key: str, options=None):
    """One person out of `labels` (or out of `options`, a part of them), none at first."""
    return place.selectbox(
        t(label_key, view.lang),
        list(labels) if options is None else options,
        index=None,
        format_func=labels.get,
        key=key,
        placeholder=t("admin.choose", view.lang),
    )


def choices(view: StaffView, employed_only: bool = True) -> pd.DataFrame:
    """The people the user may pick (those still employed unless told otherwise)."""
    return staff_choices(view.actor, employed_only)


# --- Tables -------------------------------------------------------------------------------


def dates(frame: pd.DataFrame, columns) -> pd.DataFrame:
    for column in columns:
        frame[column] = frame[column].map(lambda d: d.isoformat() if d else "")
    return frame


def headers(frame: pd.DataFrame, lang: str, threshold: int | None = None) -> pd.DataFrame:
    names = {c: t(f"staff.col.{c}", lang) for c in frame.columns}
    if "active" in names and threshold is not None:
        names["active"] = t("staff.filter.active", lang, n=threshold)
    return frame.rename(columns=names)


def checkboxes(lang: str, *keys: str) -> dict:
    return {t(f"staff.col.{k}", lang): st.column_config.CheckboxColumn() for k in keys}


def roster_ticks(view: StaffView) -> dict:
    """The roster's and the team's tick columns: using, and active (≥ the threshold)."""
    return checkboxes(view.lang, "using") | {
        t("staff.filter.active", view.lang, n=view.threshold): st.column_config.CheckboxColumn()
    }


def export(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The shown table with yes/no in place of ticks (for CSV and Excel)."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == bool:
            out[column] = out[column].map(lambda v: t("staff.yes", lang) if v else "")
    return out


def roster_display(frame: pd.DataFrame, columns: list[str], lang: str) -> pd.DataFrame:
    """The roster's columns in words: card status named, dates as text."""
    shown = frame[columns].copy()
    shown["card_status"] = shown["card_status"].map(lambda s: t(f"card.{s}", lang))
    shown["title"] = shown["title"].fillna("")
    return dates(shown, [c for c in columns if c in DATE_COLUMNS])


def department_picker(
    view: StaffView, key: str, departments: pd.DataFrame, current: int | None = None
):
    """A department picker (a department head's is fixed to their own department)."""
    ids = departments["id"].tolist()
    names = dict(zip(departments["id"], departments["name"], strict=True))
    index = ids.index(current) if current in ids else (0 if len(ids) == 1 else None)
    return st.selectbox(
        t("staff.filter.department", view.lang),
        ids,
        index=index,
        format_func=names.get,
        key=key,
        disabled=view.role == Role.dept_head,
        placeholder=t("admin.choose", view.lang),
    )
