"""Admin → Users: the logins, a new login, and one login's role, password and access."""

from __future__ import annotations

from typing import Any

import streamlit as st
from pydantic import ValidationError

from core.db import read_session
from core.domain import Role
from core.i18n import t
from core.models import AppUserCreate
from core.permissions import PermissionDenied
from core.services import table_admin as ta
from core.services import users as users_service
from core.ui.admin.shared import cell_table, choose, refuse_cells
from core.ui.admin.tables import table_editor
from core.ui.auth import CurrentUser
from core.ui.saving import Refused, save
from core.ui.text import plain


def _user_error(error: Exception, lang: str) -> str | None:
    """A login's fields the model refused, each named, in `lang`; None: not such a refusal."""
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{e['loc'][0] if e.get('loc') else ''}: {ta.error_message(e, lang)}"
            for e in error.errors()
        )
    return None


def _set_disabled(session, actor, login, lang: str) -> None:
    try:
        users_service.set_disabled(
            session, actor=actor, user_id=login.id, disabled=not login.disabled
        )
    except PermissionDenied as error:
        if "your own login" in str(error):
            raise Refused(t("table_admin.err.self", lang)) from error
        raise


def tab(user: CurrentUser) -> None:
    """The logins: the list (the table editor), a new login, and one login's role,
    password and access."""
    lang = user.lang
    actor = user.actor
    with read_session() as session:
        staff_options = (
            ta.fk_choices(session, actor=actor, table="app_user", column="staff_id") or {}
        )
        department_options = (
            ta.fk_choices(session, actor=actor, table="app_user", column="department_id") or {}
        )
        logins = users_service.list_users(session, actor=actor)
    roles = [str(role) for role in Role]

    def role_label(role: str) -> str:
        return t(f"role.{role}", lang)

    st.subheader(t("users_admin.list", lang))
    table_editor(user, "app_user", key="users", toolbar=True)

    by_name = {login.username: login for login in logins}
    create, change = st.columns(2)
    with create:
        st.subheader(t("users_admin.create", lang))
        with st.form("users_create_form", clear_on_submit=False):
            username = st.text_input(t("login.username", lang), max_chars=64, key="users_new_name")
            display = st.text_input(t("users_admin.display_name", lang), key="users_new_display")
            role = choose(
                t("users_admin.role", lang),
                roles,
                format_func=role_label,
                key="users_new_role",
                lang=lang,
            )
            staff = choose(
                t("users_admin.staff", lang),
                staff_options,
                index=None,
                key="users_new_staff",
                lang=lang,
            )
            department = choose(
                t("users_admin.department", lang),
                department_options,
                index=None,
                key="users_new_department",
                lang=lang,
            )
            password = st.text_input(
                t("login.password", lang), type="password", max_chars=72, key="users_new_password"
            )
            again = st.text_input(
                t("users_admin.password_again", lang),
                type="password",
                max_chars=72,
                key="users_new_password_again",
            )
            submitted = st.form_submit_button(t("users_admin.create_button", lang), type="primary")
        if submitted:
            if password != again:
                st.error(t("users_admin.err.mismatch", lang))
            else:
                save(
                    lambda session: users_service.create_user(
                        session,
                        actor=actor,
                        user_create=AppUserCreate(
                            username=(username or "").strip().lower(),
                            role=role,
                            staff_id=staff_options.get(staff),
                            department_id=department_options.get(department),
                            display_name=display or None,
                            password=password or "",
                        ),
                    ),
                    lang=lang,
                    affects=("users",),
                    done=lambda created: t(
                        "users_admin.created", lang, username=plain(created.username)
                    ),
                    translate=lambda error: _user_error(error, lang),
                )

    with change:
        st.subheader(t("users_admin.change", lang))
        chosen = choose(
            t("users_admin.pick", lang), by_name, index=None, key="users_pick", lang=lang
        )
        if chosen is None:
            return
        login = by_name[chosen]
        department_by_id = {v: k for k, v in department_options.items()}
        with st.form("users_role_form"):
            new_role = choose(
                t("users_admin.role", lang),
                roles,
                index=roles.index(login.role),
                format_func=role_label,
                key=f"users_role_{login.id}",
                lang=lang,
            )
            departments = list(department_options)
            current = department_by_id.get(login.department_id)
            new_department = choose(
                t("users_admin.department", lang),
                departments,
                index=departments.index(current) if current in departments else None,
                key=f"users_department_{login.id}",
                lang=lang,
            )
            save_role = st.form_submit_button(t("users_admin.save_role", lang))
        if save_role:
            _apply_user_change(
                user,
                login.id,
                {"role": new_role, "department_id": department_options.get(new_department)},
            )
        with st.form("users_reset_form", clear_on_submit=True):
            new_password = st.text_input(
                t("users_admin.new_password", lang),
                type="password",
                max_chars=72,
                key="users_reset_pw",
            )
            new_again = st.text_input(
                t("users_admin.password_again", lang),
                type="password",
                max_chars=72,
                key="users_reset_pw_again",
            )
            reset = st.form_submit_button(t("users_admin.reset", lang))
        if reset:
            if new_password != new_again:
                st.error(t("users_admin.err.mismatch", lang))
            else:
                save(
                    lambda session: users_service.reset_password(
                        session, actor=actor, user_id=login.id, new_password=new_password or ""
                    ),
                    lang=lang,
                    affects=("users",),
                    done=t("users_admin.reset_done", lang, username=plain(login.username)),
                    translate=lambda error: _user_error(error, lang),
                )
        label = "users_admin.enable" if login.disabled else "users_admin.disable"
        if st.button(t(label, lang), key="users_toggle_disabled"):
            save(
                lambda session: _set_disabled(session, actor, login, lang),
                lang=lang,
                affects=("users",),
                done=t(f"{label}_done", lang, username=plain(login.username)),
                translate=lambda error: _user_error(error, lang),
            )


def _apply_user_change(user: CurrentUser, user_id: int, values: dict[str, Any]) -> None:
    lang = user.lang
    refused: list[ta.CellError] = []
    save(
        lambda session: refuse_cells(
            ta.apply_edits(
                session, actor=user.actor, table="app_user", changes={user_id: values}, lang=lang
            ),
            refused,
        ),
        lang=lang,
        affects=("users",),
        done=t("table_admin.saved", lang, n=1),
    )
    cell_table(refused, lang)
