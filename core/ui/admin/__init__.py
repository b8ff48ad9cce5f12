"""The Admin page's tabs, one module each: tables (and the generic table editor the other
tabs use), settings, users, import, audit log and backup; `shared` holds what they share.

Everything reads and writes through services (`core.services.table_admin`, `audit_log`,
`settings`, `users`, `core.importing`, `core.backup`); nothing here builds SQL.
pages/8_Admin.py draws the tabs: `tabs(lang)`, then `DRAW[name](user)` for the open one.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from core.i18n import t
from core.ui.admin import audit, backup, imports, settings, tables, users
from core.ui.admin.settings import SETTINGS_SECTIONS
from core.ui.admin.tables import changes_from_editor
from core.ui.auth import CurrentUser
from core.ui.navigation import PAGE_BY_KEY
from core.ui.widgets import lazy_tabs

TAB_KEY = "admin_tab"
TABS = ("tables", "settings", "users", "import", "audit", "backup")
DRAW: dict[str, Callable[[CurrentUser], None]] = {
    "tables": tables.tab,
    "settings": settings.tab,
    "users": users.tab,
    "import": imports.tab,
    "audit": audit.tab,
    "backup": backup.tab,
}

__all__ = [
    "DRAW",
    "SETTINGS_SECTIONS",
    "TABS",
    "TAB_KEY",
    "changes_from_editor",
    "import_pointer",
    "t",
]


def tabs(lang: str) -> list:
    """The page's tabs in `lang`, only the open one running (`widgets.lazy_tabs`): after a
    language switch the open tab stays open under its new label."""
    return lazy_tabs([f"admin.tab_{name}" for name in TABS], key=TAB_KEY, lang=lang)


def import_pointer(lang: str, *, key: str) -> None:
    """Where files are imported: Admin → Import, the app's one import screen (it checks a
    file before writing it and shows every bad row). Another page that adds records points
    there: a line saying so and a button that opens the Admin page on its Import tab."""
    names = {"page": t("page.admin", lang), "tab": t("admin.tab_import", lang)}
    st.caption(t("layout.import_elsewhere", lang, **names))
    if st.button(t("layout.open_import", lang, **names), key=key):
        st.session_state[TAB_KEY] = t("admin.tab_import", lang)
        st.switch_page(PAGE_BY_KEY["page.admin"].path)
