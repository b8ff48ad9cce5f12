"""The first line of every page: who is signed in, and the page's title.

Home.py has already run the login guard on this run and picked the page with
`st.navigation` (a role never reaches a page it may not open), so `page_setup` only reads
the user the guard let through. A page file run on its own (Streamlit's pages-folder mode,
on the first run of a freshly started server) runs Home.py in its place: no page ever draws
for an anonymous visitor, and none draws without the menu.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.i18n import t
from core.ui.auth import CurrentUser, current_user
from core.ui.navigation import PAGE_BY_KEY, run_home_instead

# A file served by the app itself: a material icon or emoji favicon is fetched from the
# internet, which a hospital intranet does not reach (issue 19, item 11).
FAVICON = Path(__file__).resolve().parent / "assets" / "favicon.png"


def page_setup(title_key: str) -> CurrentUser:
    """The signed-in user allowed on this page, after drawing the page's title.

    A user whose role may not open the page sees a refusal and nothing else.
    """
    entry = PAGE_BY_KEY[title_key]
    user = current_user()
    if user is None:  # this page file was run on its own: Home.py runs in its place
        run_home_instead()
    if user.role not in entry.roles:
        st.error(t("app.not_allowed", user.lang))
        st.stop()
    title = t(entry.title_key_for(user.role), user.lang)
    st.set_page_config(page_title=f"{title} · TrustPool")
    st.title(title)
    if not user.can_write:
        st.caption(t("app.read_only", user.lang))
    return user
