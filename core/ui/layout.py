"""The first line of every page: who is signed in, and the page's title.

Home.py has already run the login guard on this run and picked the page with
`st.navigation` (a role never reaches a page it may not open), so `page_setup` only reads
the user the guard let through. Run any other way (Streamlit's pages-folder mode on a freshly
started server, or a test opening the file on its own), the page sends the run back through
Home.py, or runs the full guard itself: no page ever draws for an anonymous visitor.
"""

from __future__ import annotations

import streamlit as st

from core.config import get_settings
from core.i18n import t
from core.ui.auth import CurrentUser, current_user, require_user
from core.ui.bootstrap import ensure_database
from core.ui.navigation import PAGE_BY_KEY, route_through_home


def page_setup(title_key: str) -> CurrentUser:
    """The signed-in user allowed on this page, after drawing the page's title.

    A user whose role may not open the page sees a refusal and nothing else.
    """
    entry = PAGE_BY_KEY[title_key]
    user = current_user()
    if user is None:  # not run by Home.py: route it there, or guard here
        route_through_home()
        ensure_database(get_settings().database_url)
        user = require_user()
    if user.role not in entry.roles:
        st.error(t("app.not_allowed", user.lang))
        st.stop()
    st.set_page_config(page_title=f"{t(title_key, user.lang)} · TrustPool")
    st.title(t(title_key, user.lang))
    if not user.can_write:
        st.caption(t("app.read_only", user.lang))
    return user
