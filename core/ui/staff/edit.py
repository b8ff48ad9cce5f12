"""Adding a staff member and editing one: the same form (number, name, department, title,
phone), the number only when adding."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from core.domain import Role
from core.i18n import t
from core.inputs import validated
from core.models import StaffCreate, StaffUpdate
from core.services import staff as staff_service
from core.ui import admin as admin_ui
from core.ui.actions import save
from core.ui.staff.common import (
    STAFF_CHANGE,
    StaffView,
    department_picker,
    departments,
    people_labels,
    person_picker,
    roster,
)
from core.ui.text import plain


def _staff_form(
    view: StaffView,
    form: str,
    key: Callable[[str], str],
    departments: pd.DataFrame,
    current: dict | None = None,
) -> dict | None:
    """The staff form (`key(field)` names each widget); what was typed once submitted,
    else None. A new person (no `current`) is also asked their staff number."""
    lang = view.lang
    typed = {}
    with st.form(form, clear_on_submit=False):
        if current is None:
            typed["staff_no"] = st.text_input(t("staff.col.staff_no", lang), key=key("no"))
        current = current or {}
        typed["name"] = st.text_input(
            t("staff.col.name", lang), value=current.get("name", ""), key=key("name")
        )
        typed["department_id"] = department_picker(
            view, key("department"), departments, current.get("department_id")
        )
        typed["title"] = st.text_input(
            t("staff.col.title", lang), value=current.get("title") or "", key=key("title")
        )
        typed["phone"] = st.text_input(
            t("staff.col.phone", lang), value=current.get("phone") or "", key=key("phone")
        )
        submitted = st.form_submit_button(t("staff.edit.save", lang), key=key("submit"))
    return typed if submitted else None


def edit_tab(view: StaffView) -> None:
    lang, actor = view.lang, view.actor
    offices = departments(actor)
    add, edit = st.columns(2)
    with add:
        st.subheader(t("staff.edit.add", lang))
        added = _staff_form(view, "staff_add_form", lambda f: f"staff_add_{f}", offices)
        if added is not None:
            save(
                lambda s: staff_service.add_staff(
                    s, actor=actor, data=validated(StaffCreate, added, entity="staff")
                ),
                lang=lang,
                affects=STAFF_CHANGE,
                done=lambda person: t("staff.edit.added", lang, name=plain(person.name)),
                forget=("staff_add_no", "staff_add_name", "staff_add_title", "staff_add_phone"),
            )
        if view.role == Role.admin:  # importing staff files is the administrator's
            admin_ui.import_pointer(lang, key="staff_open_import")
    with edit:
        st.subheader(t("staff.edit.edit", lang))
        people = roster(actor, view.months[-1], include_left=True)
        labels = people_labels(people, "staff_id")
        picked = person_picker(view, st, "staff.edit.pick", labels, "staff_edit_pick")
        if picked is None:
            return
        row = people[people["staff_id"] == picked].iloc[0]
        current = {
            "name": row["name"],
            "department_id": int(row["department_id"]),
            "title": row["title"],
            "phone": row["phone"],
        }
        edited = _staff_form(
            view, f"staff_edit_form_{picked}", lambda f: f"edit_{f}_{picked}", offices, current
        )
        if edited is not None:
            save(
                lambda s: staff_service.update_staff(
                    s,
                    actor=actor,
                    staff_id=picked,
                    data=validated(StaffUpdate, edited, entity="staff"),
                ),
                lang=lang,
                affects=STAFF_CHANGE,
                done=lambda person: t("staff.edit.saved", lang, name=plain(person.name)),
            )
