"""Care lists: birthdays this week and month, members to follow up, members at risk, and
the tier requalification review."""

from __future__ import annotations

import streamlit as st

from core.db import read_session
from core.i18n import t
from core.months import month_of
from core.services import members as svc
from core.ui.members.common import MembersView, date_text, table
from core.ui.widgets import download_buttons

CARE_COLUMNS = {
    "member_no": "members.member_no",
    "name": "members.name",
    "phone": "members.phone",
    "tier": "metric.tier",
    "birthday": "members.birthday",
    "last_activity": "members.last_activity",
    "days_quiet": "members.days_quiet",
    "owner_staff_no": "members.owner",
}
REQUALIFICATION_COLUMNS = {
    "member_no": "members.member_no",
    "name": "members.name",
    "tier": "metric.tier",
    "earned_in_window": "members.earned_in_window",
    "requalifies_for": "members.requalifies_for",
}
DOWNLOADABLE = ("follow_up", "at_risk")


def care_tab(view: MembersView) -> None:
    lang = view.lang
    as_of = st.columns([1, 3])[0].date_input(
        t("members.as_of", lang), value=view.as_of, key="members_care_as_of"
    )
    with read_session() as session:
        lists = svc.care_lists(session, actor=view.actor, as_of=as_of)
        review = svc.requalification_review(session, actor=view.actor, as_of=as_of)
    sections = [
        (
            "birthdays_week",
            t(
                "members.care.birthdays_week",
                lang,
                first=lists.week[0].isoformat(),
                last=lists.week[1].isoformat(),
            ),
        ),
        ("birthdays_month", t("members.care.birthdays_month", lang, month=month_of(as_of))),
        ("follow_up", t("members.care.follow_up", lang, days=svc.FOLLOW_UP_DAYS)),
        ("at_risk", t("members.care.at_risk", lang, days=svc.AT_RISK_DAYS)),
    ]
    tiles = st.columns(4)
    for column, (name, label) in zip(tiles, sections, strict=True):
        column.metric(label, f"{lists.totals[name]:,}")
    for name, label in sections:
        frame = getattr(lists, name)
        with st.expander(f"{label} ({lists.totals[name]:,})", expanded=name == "birthdays_week"):
            if frame.empty:
                st.caption(t("members.care.empty", lang))
                continue
            shown = frame.copy()
            shown["tier"] = shown["tier"].map(view.tier_name)
            shown["birthday"] = shown["birthday"].map(date_text)
            shown["last_activity"] = shown["last_activity"].map(date_text)
            drawn = table(view, shown, CARE_COLUMNS, key=f"members_care_{name}")
            if len(frame) < lists.totals[name]:
                st.caption(t("members.care.first_rows", lang, rows=len(frame)))
            if name in DOWNLOADABLE:
                download_buttons(
                    drawn,
                    name=f"members-{name}-{as_of.isoformat()}",
                    key=f"members_dl_{name}",
                    user=view.user,
                )
    if review.enabled:
        _requalification(view, review)


def _requalification(view: MembersView, review) -> None:
    lang = view.lang
    st.subheader(t("members.requalification", lang, months=review.months))
    st.caption(
        t(
            "members.requalification_help",
            lang,
            first=review.window[0].isoformat(),
            last=review.window[1].isoformat(),
        )
    )
    shown = review.members.copy()
    shown["tier"] = shown["tier"].map(view.tier_name)
    shown["requalifies_for"] = shown["requalifies_for"].map(view.tier_name)
    table(view, shown, REQUALIFICATION_COLUMNS, key="members_requalification")
