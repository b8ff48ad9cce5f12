"""What every part of the Members page shares: the view (who reads, the tiers, the days the
page works from), names in the user's language, tables, and the one save path."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from core import metrics
from core.db import read_session
from core.domain import Role
from core.i18n import label_of, t
from core.services import members as svc
from core.services import settings as settings_service
from core.ui.actions import run_write
from core.ui.auth import CurrentUser
from core.ui.refusals import refusing

REDEMPTION_COLUMNS = {
    "redeemed_at": "members.redeemed_at",
    "member_no": "members.member_no",
    "name": "members.name",
    "reward": "members.reward",
    "quantity": "members.quantity",
    "points": "members.points",
    "by": "members.by",
}


@dataclass(frozen=True)
class MembersView:
    """The signed-in user and what the page reads once per run."""

    user: CurrentUser
    tiers: tuple
    zone: ZoneInfo
    as_of: dt.date  # care lists and expiry: the members' data's last day
    today: dt.date  # new entries: the hospital's today

    @property
    def lang(self) -> str:
        return self.user.lang

    @property
    def actor(self):
        return self.user.actor

    @property
    def can_write(self) -> bool:
        return self.user.can_write and self.user.role in svc.WRITE_ROLES

    @property
    def is_admin(self) -> bool:
        return self.user.role == Role.admin

    @property
    def latest_month(self) -> str:
        """The charts end with the members' latest month (staff logins move the hospital's
        latest data month to today, which would leave a demo's member charts empty)."""
        return metrics.month_of(self.as_of)

    @property
    def tier_levels(self) -> list[int]:
        return [tier.level for tier in self.tiers]

    def lk(self, name: str) -> str:
        """A widget whose option labels depend on the language gets a key per language (a
        widget keeps the labels it was first drawn with)."""
        return f"{name}_{self.lang}"

    def tier_name(self, level) -> str:
        for tier in self.tiers:
            if tier.level == int(level):
                return tier.name_zh if self.lang == "zh" else tier.name_en
        return str(level)

    def kind_label(self, kind: str) -> str:
        return label_of("points_kind", kind, self.lang)

    def reward_name(self, row) -> str:
        english = getattr(row, "name_en", None)
        return english if self.lang == "en" and isinstance(english, str) and english else row.name

    def write(
        self,
        action: Callable,
        done: Callable,
        where: str = "top",
        *,
        affects: Iterable[str] = ("members",),
    ):
        """Run `action(session)` in one write transaction and keep `done(result)` or the
        refusal (nothing saved) for the next run, `where` the user acted; clear the cached
        figures of `affects`. Called from widget callbacks, before the page redraws. The
        result (True for an action returning nothing), or None when nothing was saved."""
        return run_write(
            refusing(action, self.lang, not_found="members.error.not_found"),
            lang=self.lang,
            affects=affects,
            done=done,
            flash=True,
            where=where,
        )


def members_view(user: CurrentUser) -> MembersView:
    with read_session() as session:
        return MembersView(
            user=user,
            tiers=tuple(settings_service.tiers(session)),
            zone=ZoneInfo(settings_service.get_value(session, "timezone")),
            as_of=svc.default_as_of(session),
            today=settings_service.hospital_today(session),
        )


def state(key: str, default=None):
    return st.session_state.get(key, default)


def date_text(value) -> str:
    return value.isoformat() if isinstance(value, dt.date) else ""


def table(
    view: MembersView, frame: pd.DataFrame, names: dict[str, str], *, key: str, height="auto"
) -> pd.DataFrame:
    """Show the listed columns under headings in the user's language: numbers with
    thousands separators, missing text as a dash. Returns the frame as shown."""
    shown = frame[list(names)].rename(columns={k: t(v, view.lang) for k, v in names.items()})
    config = {}
    for column in shown.columns:
        values = shown[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            config[column] = st.column_config.NumberColumn(format="localized")
        else:
            shown[column] = values.where(values.notna(), "—")
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        height=height,
        column_config=config,
        key=key,
        placeholder="—",
    )
    return shown


def redemption_table(view: MembersView, frame: pd.DataFrame, *, key: str, height: int = 300):
    shown = frame.copy()
    shown["redeemed_at"] = shown["redeemed_at"].map(
        lambda moment: moment.astimezone(view.zone).strftime("%Y-%m-%d %H:%M") if moment else ""
    )
    table(view, shown, REDEMPTION_COLUMNS, height=height, key=key)
