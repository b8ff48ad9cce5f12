"""The follow-up list: people whose card waits for activation or a profile, or who do not
use it, by department."""

from __future__ import annotations

import streamlit as st

from core.i18n import t
from core.ui.staff.common import (
    StaffView,
    checkboxes,
    dates,
    export,
    follow_up,
    headers,
    month_row,
)
from core.ui.text import plain
from core.ui.widgets import download_buttons

FOLLOW_UP_SHOWN = ["staff_no", "name", "title", "reason", "since", "days", "due_on", "overdue"]


def follow_up_tab(view: StaffView) -> None:
    lang = view.lang
    month_row(view, "follow_up", caption=False)  # its caption says the day
    st.caption(
        t(
            "staff.followup.caption",
            lang,
            activation=view.activation_days,
            profile=view.profile_days,
            day=view.as_of.isoformat(),
        )
    )
    include = st.checkbox(
        t("staff.followup.include_not_due", lang), value=True, key="staff_followup_include_new"
    )
    follow = follow_up(view.actor, view.as_of, include)
    if follow.empty:
        st.info(t("staff.followup.none", lang))
        return
    columns = FOLLOW_UP_SHOWN
    shown = follow[["department", *columns]].copy()
    shown["reason"] = shown["reason"].map(lambda r: t(f"followup.{r}", lang))
    shown["title"] = shown["title"].fillna("")
    shown = dates(shown, ["since", "due_on"])
    groups = list(shown.groupby("department", sort=True))
    for department, block in groups:
        people = block["staff_no"].nunique()
        label = t("staff.followup.department", lang, department=plain(department), n=people)
        with st.expander(label, expanded=len(groups) == 1):
            st.dataframe(
                headers(block[columns], lang),
                hide_index=True,
                width="stretch",
                column_config=checkboxes(lang, "overdue"),
                placeholder="—",
            )
    download_buttons(
        export(headers(shown, lang), lang),
        name=f"follow-up-{view.as_of}",
        key="staff_followup_download",
        user=view.user,
    )
