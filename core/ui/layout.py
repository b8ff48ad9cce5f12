"""One page set-up for every page: config, login guard, role check, title."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.config import get_settings
from core.i18n import t
from core.ui.auth import CurrentUser, current_language, require_user
from core.ui.bootstrap import ensure_database
from core.ui.navigation import PAGE_BY_KEY

FAVICON = Path(__file__).resolve().parent / "assets" / "favicon.png"


def page_setup(title_key: str) -> CurrentUser:
    """Configure the page, require a signed-in user allowed on it, and draw its title.

    An anonymous visitor sees the login form and nothing else; a signed-in user whose role
    may not open the page sees a refusal and nothing else.
    """
    lang = current_language()
    st.set_page_config(
        page_title=f"{t(title_key, lang)} · TrustPool",
        layout="wide",
        # A file served by the app itself: a material icon or emoji favicon is fetched from
        # the internet, which a hospital intranet does not reach (issue 19, item 11).
        page_icon=str(FAVICON),
    )
    ensure_database(get_settings().database_url)
    entry = PAGE_BY_KEY[title_key]
    user = require_user(roles=entry.roles)
    st.title(t(title_key, user.lang))
    if not user.can_write:
        st.caption(t("app.read_only", user.lang))
    return user
