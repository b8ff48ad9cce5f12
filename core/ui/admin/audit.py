"""Admin → Audit log: who did what and when, filtered, paged and exported."""

from __future__ import annotations

import streamlit as st

from core.db import read_session
from core.i18n import t
from core.services import audit_log
from core.services import settings as settings_service
from core.ui.admin.shared import choose_many, fingerprint, pager
from core.ui.auth import CurrentUser
from core.ui.widgets import download_buttons

ACTION_GROUPS = ("login.*", "user.*", "setting.*", "table.*", "stage.*", "points.*", "import*")


def tab(user: CurrentUser) -> None:
    """Who did what when, filtered and paged, and its export."""
    lang = user.lang
    with read_session() as session:
        choices = audit_log.trail_choices(session, actor=user.actor)
        today = settings_service.hospital_today(session)
    groups = [g for g in ACTION_GROUPS if g.endswith(".*")]
    action_options = [*groups, *choices["actions"]]
    top = st.columns([2, 3, 2, 2, 3])
    who = choose_many(
        t("audit_admin.who", lang),
        choices["usernames"],
        key="audit_who",
        lang=lang,
        container=top[0],
    )
    what = choose_many(
        t("audit_admin.what", lang),
        action_options,
        format_func=lambda a: t("audit_admin.group", lang, group=a[:-2]) if a.endswith(".*") else a,
        key="audit_what",
        lang=lang,
        container=top[1],
    )
    start = top[2].date_input(
        t("audit_admin.from", lang),
        value=None,
        max_value=today,
        key="audit_from",
        format="YYYY-MM-DD",
    )
    end = top[3].date_input(
        t("audit_admin.to", lang), value=None, max_value=today, key="audit_to", format="YYYY-MM-DD"
    )
    search = top[4].text_input(
        t("app.search", lang), key="audit_search", placeholder=t("audit_admin.search_hint", lang)
    )
    filters = {
        "usernames": who or None,
        "actions": what or None,
        "date_from": start,
        "date_to": end,
        "search": search or None,
    }
    signature = fingerprint(filters)
    if st.session_state.get("audit_sig") != signature:
        st.session_state["audit_sig"] = signature
        st.session_state["audit_page"] = 1
    page_size = 50
    with read_session() as session:
        page = int(st.session_state.get("audit_page", 1))
        frame, total = audit_log.audit_trail(
            session, actor=user.actor, page=page, page_size=page_size, **filters
        )
    pager(total, page, page_size, "audit_page", lang)
    shown = frame.rename(columns={c: t(f"audit_admin.col_{c}", lang) for c in frame.columns})
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        column_config={
            t("audit_admin.col_at", lang): st.column_config.DatetimeColumn(
                format="YYYY-MM-DD HH:mm:ss"
            ),
            t("audit_admin.col_detail", lang): st.column_config.TextColumn(width="large"),
        },
    )
    export_key = "audit_export"
    prepared = st.session_state.get(export_key)
    if prepared is not None and prepared[0] != signature:
        st.session_state.pop(export_key)
        prepared = None
    if prepared is None:
        if st.button(t("table_admin.prepare_export", lang), key="audit_prepare"):
            with read_session() as session:
                everything = audit_log.export_trail(session, actor=user.actor, **filters)
            st.session_state[export_key] = (signature, everything)
            st.rerun()
        return
    st.caption(t("table_admin.export_ready", lang, rows=f"{len(prepared[1]):,}"))
    download_buttons(
        prepared[1], name="trustpool-audit-log", key="audit_download", user=user, what="audit_log"
    )
