"""Joining: a newcomer's staff record, card and (administrators) login in one step."""

from __future__ import annotations

import streamlit as st

from core.domain import Role
from core.i18n import t
from core.inputs import validated
from core.models import StaffCreate
from core.services import offboarding
from core.ui.actions import save
from core.ui.staff.common import STAFF_CHANGE, StaffView, department_picker, departments
from core.ui.text import plain


def onboarding_tab(view: StaffView) -> None:
    lang, today = view.lang, view.today
    st.caption(t("staff.onboard.intro", lang))
    offices = departments(view.actor)
    with st.form("onboard_form"):
        left, right = st.columns(2)
        staff_no = left.text_input(t("staff.col.staff_no", lang), key="onboard_no")
        name = right.text_input(t("staff.col.name", lang), key="onboard_name")
        with left:
            department = department_picker(view, "onboard_department", offices)
        title = right.text_input(t("staff.col.title", lang), key="onboard_title")
        phone = left.text_input(t("staff.col.phone", lang), key="onboard_phone")
        with_card = right.checkbox(
            t("staff.onboard.with_card", lang), value=True, key="onboard_with_card"
        )
        card_day = right.date_input(
            t("staff.onboard.card", lang), value=today, max_value=today, key="onboard_card_on"
        )
        username = password = None
        if view.role == Role.admin:
            username = left.text_input(t("staff.onboard.username", lang), key="onboard_username")
            password = right.text_input(
                t("staff.onboard.password", lang),
                type="password",
                key="onboard_password",
                max_chars=72,
            )
        else:
            st.caption(t("staff.onboard.login_by_admin", lang))
        submitted = st.form_submit_button(
            t("staff.onboard.submit", lang), key="onboard_submit", type="primary"
        )
    if not submitted:
        return
    names = dict(zip(offices["id"], offices["name"], strict=True))

    def done(joined) -> str:
        text = t(
            "staff.onboard.done",
            lang,
            name=plain(joined.staff.name),
            department=plain(names[department]),
        )
        if joined.login is not None:
            login = plain(joined.login.username)
            text += " " + t("staff.onboard.login_done", lang, username=login)
        return text

    save(
        lambda s: offboarding.onboard_staff(
            s,
            actor=view.actor,
            data=validated(
                StaffCreate,
                {
                    "staff_no": staff_no,
                    "name": name,
                    "department_id": department,
                    "title": title,
                    "phone": phone,
                },
                entity="staff",
            ),
            card_issued_on=card_day if with_card else None,
            username=(username or "").strip() or None,
            password=password,
        ),
        lang=lang,
        affects=STAFF_CHANGE + ("users",),
        done=done,
        forget=(
            "onboard_no",
            "onboard_name",
            "onboard_title",
            "onboard_phone",
            "onboard_username",
            "onboard_password",
        ),
    )
