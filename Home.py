"""TrustPool — the entry point: sign in once, then the role's own menu and the page it opened.

Every run starts here. The login guard runs once (an anonymous visitor sees the login form
and nothing else), `st.navigation` lists the role's pages (a page the role may not open is
refused, its file never runs), and the page runs inside `user_errors`, so a page never shows
a traceback. Pages only draw: `page_setup` reads the user this run's guard let through.
"""

import streamlit as st

from core.config import get_settings
from core.ui.auth import guarded_run, require_user
from core.ui.bootstrap import ensure_database
from core.ui.errors import user_errors
from core.ui.layout import FAVICON, app_style, phone_menu
from core.ui.navigation import address_navigation, end_pages_folder_mode, role_navigation

end_pages_folder_mode()
st.set_page_config(page_title="TrustPool", layout="wide", page_icon=str(FAVICON))
ensure_database(get_settings().database_url)
address_navigation()
app_style()
user = require_user()
page = role_navigation(user.role, user.lang)
phone_menu()
with guarded_run(user), user_errors(user.lang):
    page.run()
